"""Checking compressed COCO RLE strings without decoding masks, for many strings at once.

pycocotools' compressed ``counts`` is a string of characters ``'0'``..``'o'`` holding the run lengths, 5 bits a
character (``0x20`` continues a number, ``0x10`` on its last character makes it negative), each run from the
fourth on stored as the difference from the run two before. A string that is not such a text, or whose runs are
negative or do not add up to ``height * width``, is not a mask: pycocotools' decoder then leaves pixels unset
(runs short of the mask) or writes past it (runs beyond), and its ``iou`` can loop without end.
:func:`counts_areas` / :func:`rle_areas` find such strings among many, in numpy passes over the characters (uint8)
and the numbers (int64), a bounded number of characters at a time.

>>> rle_strings_ok([b"0`h9", b"0`h9", b"#"], [100 * 100, 7, 1]).tolist()
[True, False, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from annokit.core.arrays import BoolArray

__all__ = ["counts_areas", "rle_areas", "rle_strings_ok", "rle_text_ok"]

_MAX_CHARS = 7
"""Characters of one number at most (35 bits): every run or difference of an image of up to 2**34 pixels fits, and
a chunk's running sums of runs stay far from int64's limit (pycocotools' encoder writes the fewest characters)."""
_CHUNK = 1 << 16
"""Characters checked at a time (whole strings; a longer string alone): the numbers' int64 arrays stay small
enough to be served from the heap and the cache (1 << 20 took ~2.5x as long: fresh pages each time)."""


def rle_strings_ok(counts: Sequence[bytes], totals: Sequence[int] | np.ndarray) -> BoolArray:
    """Per string: a well-formed compressed RLE whose runs are non-negative and add up to ``totals[i]``
    (``height * width``)."""
    lens = np.fromiter(map(len, counts), np.int64, len(counts))
    return rle_text_ok(b"".join(counts), lens, totals)


def counts_areas(counts: Sequence[str | bytes], totals: Sequence[int] | np.ndarray) -> tuple[BoolArray, np.ndarray]:
    """:func:`rle_areas` of RLE ``counts`` as JSON gives them (``str``) or as pycocotools makes them (``bytes``); a
    string with a character outside ASCII is not an RLE."""
    try:
        text = "".join(cast(Sequence[str], counts)).encode("ascii")  # the usual case: str counts, ASCII
        lens = np.fromiter(map(len, counts), np.int64, len(counts))
        return rle_areas(text, lens, totals)
    except (TypeError, UnicodeEncodeError):  # bytes among them, or a string outside ASCII
        raw = [c.encode("ascii", "replace") if isinstance(c, str) else c for c in counts]
        ok, area = rle_areas(b"".join(raw), np.fromiter(map(len, raw), np.int64, len(raw)), totals)
        ok &= np.array([not isinstance(c, str) or c.isascii() for c in counts], dtype=bool)
        return ok, area


def rle_text_ok(text: bytes, lens: np.ndarray, totals: Sequence[int] | np.ndarray) -> BoolArray:
    """:func:`rle_strings_ok` of the strings ``text`` holds one after the other, ``lens[i]`` bytes each."""
    return rle_areas(text, lens, totals)[0]


def rle_areas(text: bytes, lens: np.ndarray, totals: Sequence[int] | np.ndarray) -> tuple[BoolArray, np.ndarray]:
    """:func:`rle_text_ok`, and each string's mask area (its odd runs' sum, as pycocotools' ``area``; meaningful
    where the string is well formed)."""
    lens = np.asarray(lens, dtype=np.int64)
    expect = np.asarray(totals, dtype=np.int64)
    n = len(lens)
    ok = np.zeros(n, dtype=bool)
    area = np.zeros(n, dtype=np.int64)
    ends = np.cumsum(lens)
    i = 0
    while i < n:
        start = int(ends[i - 1]) if i else 0
        j = max(i + 1, int(np.searchsorted(ends, start + _CHUNK, side="right")))  # whole strings, at least one
        stop = int(ends[j - 1])
        ok[i:j], area[i:j] = _chunk(np.frombuffer(text, np.uint8, stop - start, start), lens[i:j], expect[i:j])
        i = j
    return ok, area


def _chunk(b: np.ndarray, lens: np.ndarray, expect: np.ndarray) -> tuple[BoolArray, np.ndarray]:
    """(ok, area) of the strings of one chunk: ``b`` their characters, ``lens`` their lengths."""
    n = len(lens)
    zero = np.zeros(n, dtype=np.int64)
    if not len(b):
        return expect == 0, zero
    c = b - np.uint8(48)  # wraps below '0': > 63 then
    last_char = np.cumsum(lens)[lens > 0] - 1
    bad = np.zeros(n, dtype=bool)
    if (c > 63).any():
        bad[np.repeat(np.arange(n), lens)[c > 63]] = True
    bad[np.flatnonzero(lens)[(c[last_char] & 0x20) != 0]] = True  # the last number of the string runs on
    number_end = (c & 0x20) == 0
    number_end[last_char] = True  # a string's numbers stop at its end (one cut short is refused above)
    e = np.flatnonzero(number_end)  # each number's last character
    v = c[e]
    x = (((v & 0x1F) ^ 0x10) - np.uint8(16)).view(np.int8).astype(np.int64)  # one character: 5 bits, the 5th a sign
    multi = np.flatnonzero(e[1:] - e[:-1] > 1) + 1  # numbers of several characters (and the first, if so)
    if e[0] > 0:
        multi = np.r_[0, multi]
    if multi.size:
        _wide(c, e, multi, x, bad, lens)
    # runs: the m-th number of its string is run m, for m >= 3 plus run m - 2: two interleaved running sums
    count = np.diff(np.searchsorted(e, np.r_[-1, np.cumsum(lens) - 1], side="right"))  # numbers a string
    first = np.cumsum(count) - count  # index of each string's first number
    f = np.repeat(first, count)
    odd = (np.arange(len(x)) - f) & 1
    y = x.copy()
    y[first[count > 0]] = 0  # run 0 stands alone
    cs = np.empty(len(y) + 1, dtype=np.int64)
    cs[0] = 0
    cs[1::2] = np.cumsum(y[0::2])  # running sums over every other number: cs[g + 1] through number g
    cs[2::2] = np.cumsum(y[1::2])
    runs = cs[1:] - cs[f + 1 - odd]  # back to the chain's start: number f - 1 (odd m) or f (even m >= 2)
    runs[first[count > 0]] = x[first[count > 0]]
    if (runs < 0).any():
        bad[np.repeat(np.arange(n), count)[runs < 0]] = True
    total = _per_string(runs, first, count)
    area = _per_string(runs * odd, first, count)
    ok: BoolArray = ~bad & (total == expect)
    return ok, area


def _wide(c: np.ndarray, e: np.ndarray, multi: np.ndarray, x: np.ndarray, bad: BoolArray, lens: np.ndarray) -> None:
    """The numbers ``multi`` (indices into ``e``) of several characters, in place; strings with a number of more
    than :data:`_MAX_CHARS` characters marked ``bad``."""
    end = e[multi]
    start = np.where(multi > 0, e[np.maximum(multi - 1, 0)] + 1, 0)
    width = end - start + 1
    if (width > _MAX_CHARS).any():
        owner = np.searchsorted(np.cumsum(lens), end[width > _MAX_CHARS], side="right")
        bad[owner] = True
        width = np.minimum(width, _MAX_CHARS)
        start = end - width + 1
    val = (c[start] & 0x1F).astype(np.int64)
    for k in range(1, int(width.max())):
        more = np.flatnonzero(width > k)
        val[more] |= (c[start[more] + k] & 0x1F).astype(np.int64) << (5 * k)
    negative = (c[end] & 0x10) != 0
    val[negative] -= np.int64(1) << (5 * width[negative])
    x[multi] = val


def _per_string(values: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The sum of each string's ``values`` (its ``count`` numbers from ``first``; 0 for none)."""
    cs = np.empty(len(values) + 1, dtype=np.int64)
    cs[0] = 0
    np.cumsum(values, out=cs[1:])
    out: np.ndarray = cs[first + count] - cs[first]
    return out
