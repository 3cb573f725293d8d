"""A faster exact decoder for the plain 8-bit PNGs that label maps and panoptic id maps are: libdeflate inflates,
libspng unfilters.

The PNG decoders Python wheels bring (Pillow, imagecodecs' libpng and libspng, pyspng, OpenCV) inflate with zlib,
which is most of their time on these highly compressible maps (a 640x480 RGB id map: ~2 ms of ~2.3 ms). So this
path inflates the IDAT stream with libdeflate (``imagecodecs.deflate_decode``, ~0.15 ms, the zlib checksum
verified), copies the filtered rows into *stored* deflate blocks of a rebuilt, minimal PNG (IHDR, IDAT, IEND) and
lets ``pyspng`` (libspng: SIMD unfiltering; its inflate of stored blocks is a copy) produce the pixels.

Only files the rebuilt stream represents exactly are taken: non-interlaced, bit depth 8, colour type gray (0), RGB
(2) or palette (3, decoded as its indices: the rebuilt header says gray), standard compression and filter method,
the critical chunks IHDR (first, once) / PLTE (before the image data, once; required for palette images) / IDAT /
IEND only, every chunk's CRC right, one run of IDAT chunks, a zlib stream
that inflates to exactly the rows the header announces, filter types 0-4. Anything else gives ``None`` and the
caller's other decoder (imagecodecs or Pillow) decides, and names what is wrong. The output equals Pillow's
(tested on real and synthetic files of every filter type).

Both ``imagecodecs`` and ``pyspng`` are optional (``pip install annokit[fast]``); without them
:func:`fast_png_available` is false and nothing here is used.
"""

from __future__ import annotations

import struct
import threading
import zlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from annokit._internal.limits import MAX_PIXELS

__all__ = ["Decoded", "decode_png8", "decode_png8_rows", "fast_png_available"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BLOCK = 65535  # the largest stored deflate block
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_CHANNELS = {0: 1, 2: 3, 3: 1}

_MODULES: list[tuple[ModuleType, ModuleType] | None] = []


def _modules() -> tuple[ModuleType, ModuleType] | None:
    """``(imagecodecs, pyspng)`` when both import (and imagecodecs has libdeflate), else ``None``; once, lazily."""
    if not _MODULES:
        try:
            import imagecodecs
            import pyspng
        except ImportError:
            _MODULES.append(None)
        else:
            ok = getattr(imagecodecs, "deflate_decode", None) is not None and hasattr(pyspng, "load")
            _MODULES.append((imagecodecs, pyspng) if ok else None)
            if ok:
                _warm_heap()
    return _MODULES[0]


def _warm_heap() -> None:
    """Allocate and free one 8 MiB block, once. glibc's malloc maps blocks over its threshold (128 KiB at start)
    straight from the kernel and unmaps them on free, raising the threshold to the size of a freed block; until it
    has risen above the ~1 MB buffers decoded per image (pyspng's copy of the PNG and its output), every image
    costs ~700 page faults (~3 ms on a 640x480 RGB map, more than the decoding). After this the heap serves them
    (it keeps up to twice the threshold free before trimming). Elsewhere it is one allocation and nothing more."""
    block = bytes(8 << 20)  # calloc: mapped, never touched, so no resident memory
    del block


def fast_png_available() -> bool:
    """Whether :func:`decode_png8` can run (``imagecodecs`` with libdeflate and ``pyspng`` installed)."""
    return _modules() is not None


@dataclass(frozen=True)
class _Png:
    """What the decoder needs of a parsed PNG: size, colour type and the IDAT payload (concatenated)."""

    width: int
    height: int
    color_type: int
    idat: bytes


def _parse(data: bytes, color_types: tuple[int, ...], max_pixels: int) -> _Png | None:
    """The chunks of ``data`` checked as the module docstring says; ``None`` at the first thing not taken."""
    n = len(data)
    if n < 45 or data[:8] != _SIGNATURE or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    w, h, depth, ctype, comp, filt, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if depth != 8 or ctype not in color_types or comp or filt or interlace or not 0 < w * h <= max_pixels:
        return None
    pos, idat, state, palette = 8, [], 0, False  # state: 0 before IDAT, 1 in the IDAT run, 2 after it
    while pos + 12 <= n:
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > n or zlib.crc32(data[pos + 4:end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            return None
        if kind == b"IDAT":
            if state == 2:
                return None
            state = 1
            idat.append(data[pos + 8:end - 4])
        elif kind == b"IEND":
            break
        else:
            if kind == b"PLTE":
                if state or palette:
                    return None
                palette = True
            elif not kind[0] & 0x20 and pos != 8:  # a second IHDR, or an unknown critical chunk
                return None
            state = 2 if state else 0
        pos = end
    else:
        return None
    if not idat or (ctype == 3 and not palette):
        return None
    return _Png(w, h, ctype, idat[0] if len(idat) == 1 else b"".join(idat))


def _stored_png(ihdr: bytes, raw: np.ndarray) -> bytes:
    """A PNG with header ``ihdr`` (25 bytes, CRC included) whose zlib stream holds the filtered rows ``raw`` in
    stored blocks, built with one copy. Its IDAT CRC and Adler-32 are left 0: pyspng does not read them (it sets
    libspng to ignore checksums), and the original file's were verified before."""
    size = raw.size
    view = memoryview(raw)  # type: ignore[arg-type]
    parts: list[bytes | memoryview] = []
    for s in range(0, size, _BLOCK):
        ln = min(_BLOCK, size - s)
        parts.append(struct.pack("<BHH", int(s + ln == size), ln, ln ^ 0xFFFF))
        parts.append(view[s:s + ln])
    idat_len = 2 + size + 5 * (len(parts) // 2) + 4
    head = _SIGNATURE + ihdr + struct.pack(">I", idat_len) + b"IDAT\x78\x01"
    return b"".join([head, *parts, b"\x00\x00\x00\x00" * 2, _IEND])


_LOCAL = threading.local()


def _inflate(codec: ModuleType, png: _Png, size: int) -> np.ndarray | None:
    """The filtered rows (``size`` bytes, into this thread's buffer), or ``None`` when the stream is not exactly
    that long, is corrupt or has a filter type over 4."""
    buf: np.ndarray | None = getattr(_LOCAL, "raw", None)
    if buf is None or buf.size < size:
        buf = _LOCAL.raw = np.empty(size, np.uint8)
    try:
        raw = codec.deflate_decode(png.idat, out=buf[:size])
    except Exception:  # corrupt or too long: the other decoder reports it
        return None
    if not isinstance(raw, np.ndarray) or raw.size != size:
        return None
    raw = raw.reshape(-1)
    stride = size // png.height
    if int(raw[::stride].max()) > 4:
        return None
    return raw


def _unfilter_sub_rows(codec: ModuleType, rows: np.ndarray) -> None:
    """The rows of one-byte pixels filtered with "Sub" (type 1: each byte the difference to the one on its left)
    unfiltered in place and marked "None" (type 0): ``imagecodecs.delta_decode``'s running sum modulo 256 takes
    ~0.6 us a 640-byte row where libspng's Sub loop for one-byte pixels takes ~2.2 us (label maps saved by Pillow
    or libpng filter a tenth to a sixth of their rows so). The rows below see the same pixels above them, so the
    image decodes the same. Nothing is done without ``delta_decode``."""
    sub = np.flatnonzero(rows[:, 0] == 1)
    decode = getattr(codec, "delta_decode", None)
    if not sub.size or decode is None:
        return
    block = rows[sub, 1:]
    decode(block, axis=-1, out=block)
    rows[sub, 1:] = block
    rows[sub, 0] = 0


@dataclass(frozen=True)
class Decoded:
    """A PNG decoded by distinct rows: ``pixels`` holds rows ``starts`` (increasing, the first 0) of an image of
    ``height`` rows; each stands for itself and the rows up to the next start, which the file marks as repeats of
    the row above (filter "Up" with every difference 0; equal rows written otherwise are kept)."""

    pixels: np.ndarray
    starts: np.ndarray
    height: int

    def full(self) -> np.ndarray:
        """The whole image."""
        if self.starts.size == self.height:
            return self.pixels
        return np.repeat(self.pixels, np.diff(self.starts, append=self.height), axis=0)


def decode_png8_rows(data: bytes, *, color_types: tuple[int, ...] = (0, 2, 3), max_pixels: int = MAX_PIXELS,
                     distinct: bool = True) -> Decoded | None:
    """:func:`decode_png8` by distinct rows: rows the file marks as repeats of the row above are left out of the
    stream libspng unfilters (the row above a kept row is then its previous kept row, equal to it pixel for pixel,
    so the kept rows decode exactly), which saves their decoding; ``distinct=False`` keeps every row."""
    mods = _modules()
    if mods is None:
        return None
    png = _parse(data, color_types, max_pixels)
    if png is None:
        return None
    codec, spng = mods
    chans = _CHANNELS[png.color_type]
    size = png.height * (1 + png.width * chans)
    raw = _inflate(codec, png, size)
    if raw is None:
        return None
    rows = raw.reshape(png.height, -1)
    if chans == 1:
        _unfilter_sub_rows(codec, rows)
    if distinct:
        keep = (rows[:, 0] != 2) | (rows[:, 1:].max(axis=1) != 0)
        keep[0] = True
        starts = np.flatnonzero(keep)
    else:
        starts = np.arange(png.height)
    m = starts.size
    head = struct.pack(">IIBBBBB", png.width, m, 8, 0 if chans == 1 else 2, 0, 0, 0)
    ihdr = struct.pack(">I", 13) + b"IHDR" + head + struct.pack(">I", zlib.crc32(b"IHDR" + head))
    try:
        kept = raw if m == png.height else rows[starts].reshape(-1)
        out = spng.load(_stored_png(ihdr, kept), "L" if chans == 1 else "RGB")
    except Exception:  # libspng refused it: the other decoder decides
        return None
    want = (m, png.width) if chans == 1 else (m, png.width, 3)
    if not (isinstance(out, np.ndarray) and out.shape == want and out.dtype == np.uint8):
        return None
    return Decoded(out, starts, png.height)


def decode_png8(data: bytes, *, color_types: tuple[int, ...] = (0, 2, 3), max_pixels: int = MAX_PIXELS
                ) -> np.ndarray | None:
    """Pixels of an 8-bit gray, RGB or palette PNG's bytes, or ``None`` when this path does not take the file.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    color_types : tuple of int
        The PNG colour types accepted (0 gray, 2 RGB, 3 palette); others give ``None``.
    max_pixels : int
        Larger images give ``None`` (the caller refuses them with its own message).

    Returns
    -------
    numpy.ndarray or None
        ``(H, W)`` uint8 gray values or palette indices, ``(H, W, 3)`` uint8 RGB; a new array.

    Examples
    --------
    >>> import io, PIL.Image
    >>> f = io.BytesIO(); PIL.Image.fromarray(np.array([[0, 3], [255, 1]], np.uint8)).save(f, format="PNG")
    >>> out = decode_png8(f.getvalue())
    >>> out is None or out.tolist() == [[0, 3], [255, 1]]
    True
    """
    got = decode_png8_rows(data, color_types=color_types, max_pixels=max_pixels, distinct=False)
    return None if got is None else got.pixels
