"""The compiled loop of :mod:`annokit.io.labelpairs` (private; numba, compiled once and cached, runs without the GIL).

:func:`unfilter_and_count` takes the inflated PNG streams of two 8-bit one-channel images of one size (the
filtered rows: one filter-type byte, then ``width`` bytes, per row), undoes the PNG filters of both row by row into
two small row buffers each, and adds every pixel's ``(first << 8) | second`` byte pair to a 65536-bin histogram,
counting runs of equal pairs along the raster: eight pixels at a time while both rows stay on the run's values
(one comparison of two 64-bit words), one histogram update per run. Nothing of the image's size is allocated.

The filters are the five of the PNG specification (ISO/IEC 15948, section 9) for one byte per pixel, modulo 256:
None ``x = f``, Sub ``x = f + a``, Up ``x = f + b``, Average ``x = f + (a + b) // 2`` and Paeth
``x = f + paeth(a, b, c)``, with ``a`` the pixel on the left, ``b`` the one above, ``c`` the one above-left (0
outside the image).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["unfilter_and_count"]

_SPREAD = np.uint64(0x0101010101010101)


@njit(cache=True, nogil=True, boundscheck=False)
def _unfilter_row(src: np.ndarray, kind: int, up: np.ndarray, out: np.ndarray,
                  width: int) -> None:  # pragma: no cover - compiled
    """A row's bytes ``src`` (filter type ``kind``) unfiltered into ``out``, ``up`` the row above (zeros above
    the first row); a filter type over 4 leaves ``out`` as it was (the caller checks them first). Indices run
    from 0 so that the compiler knows them non-negative: no wraparound test in the loops, which then vectorise
    where they can (a copy or the Up filter ~5x faster than with offsets into the whole stream)."""
    if kind == 0:
        for i in range(width):
            out[i] = src[i]
    elif kind == 1:
        left = np.uint8(0)
        for i in range(width):
            left = np.uint8(src[i] + left)
            out[i] = left
    elif kind == 2:
        for i in range(width):
            out[i] = np.uint8(src[i] + up[i])
    elif kind == 3:
        left_ = np.int32(0)
        for i in range(width):
            left_ = np.int32(np.uint8(np.int32(src[i]) + ((left_ + np.int32(up[i])) >> 1)))
            out[i] = np.uint8(left_)
    elif kind == 4:
        a = np.int32(0)
        c = np.int32(0)
        for i in range(width):
            b = np.int32(up[i])
            pa = abs(b - c)
            pb = abs(a - c)
            pc = abs(a + b - 2 * c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            a = np.int32(np.uint8(np.int32(src[i]) + pred))
            out[i] = np.uint8(a)
            c = b


@njit(cache=True, nogil=True, boundscheck=False)
def unfilter_and_count(first: np.ndarray, second: np.ndarray, height: int, width: int, hist: np.ndarray,
                       rows: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Unfilter the two ``height * (width + 1)``-byte streams and add their pixel pairs to ``hist`` (int64, 65536
    bins); ``rows`` is a ``(4, >= ceil(width / 8) * 8)`` uint8 scratch buffer (C order: the two rows of each
    image). False, ``hist`` untouched, when a row's filter type is over 4."""
    stride = width + 1
    for r in range(height):
        if first[r * stride] > 4 or second[r * stride] > 4:
            return False
    rows[:] = 0
    words = -(-width // 8)
    last_g = np.uint64(first[1])
    last_p = np.uint64(second[1])
    run = np.int64(0)
    for r in range(height):
        cur = r & 1
        g = rows[cur]
        p = rows[2 + cur]
        s = r * stride
        _unfilter_row(first[s + 1:s + stride], first[s], rows[cur ^ 1], g, width)
        _unfilter_row(second[s + 1:s + stride], second[s], rows[2 + (cur ^ 1)], p, width)
        g64 = g.view(np.uint64)
        p64 = p.view(np.uint64)
        for j in range(words):
            hi = min(8 * j + 8, width)  # the last word may be partial: its padding is not counted
            if hi - 8 * j == 8 and g64[j] == last_g * _SPREAD and p64[j] == last_p * _SPREAD:
                run += 8
                continue
            for i in range(8 * j, hi):
                if g[i] == last_g and p[i] == last_p:
                    run += 1
                else:
                    hist[(last_g << 8) | last_p] += run
                    last_g = np.uint64(g[i])
                    last_p = np.uint64(p[i])
                    run = np.int64(1)
    hist[(last_g << 8) | last_p] += run
    return True
