"""The libdeflate + libspng PNG path: Pillow's pixels on real files and on hand-made files of every filter type,
colour type and chunk layout it takes; ``None`` (the caller's other decoder decides) for everything else."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from annokit.io import pngfast
from annokit.io.pngfast import decode_png8

pytestmark = pytest.mark.skipif(not pngfast.fast_png_available(),
                                reason="imagecodecs and pyspng are not installed: the path is not taken")


def _filtered(x: np.ndarray, prev: np.ndarray, kind: int, bpp: int) -> np.ndarray:
    """Row ``x`` (uint8) filtered with PNG filter ``kind`` against the previous row ``prev``."""
    xi, b = x.astype(np.int64), prev.astype(np.int64)
    a = np.concatenate([np.zeros(bpp, np.int64), xi[:-bpp]])
    c = np.concatenate([np.zeros(bpp, np.int64), b[:-bpp]])
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    pred = [np.zeros_like(xi), a, b, (a + b) // 2, paeth][kind]
    return ((xi - pred) % 256).astype(np.uint8)


def _chunk(kind: bytes, body: bytes, *, crc_ok: bool = True) -> bytes:
    crc = zlib.crc32(kind + body) ^ (0 if crc_ok else 1)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png(pixels: np.ndarray, ctype: int, filters: list[int], *, idat_parts: int = 1, extra: bytes = b"",
         interlace: int = 0, idat_crc_ok: bool = True, tail: bytes = b"") -> bytes:
    """A PNG written by hand: 8-bit ``pixels`` (H, W) or (H, W, 3), row r filtered with ``filters[r % len]``."""
    h, w = pixels.shape[:2]
    bpp = 3 if ctype == 2 else 1
    rows = pixels.reshape(h, w * bpp)
    prev = np.zeros(w * bpp, np.uint8)
    raw = bytearray()
    for r in range(h):
        kind = filters[r % len(filters)]
        raw += bytes([kind]) + _filtered(rows[r], prev, kind, bpp).tobytes()
        prev = rows[r]
    stream = zlib.compress(bytes(raw), 9) + tail
    cuts = np.linspace(0, len(stream), idat_parts + 1).astype(int)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, interlace))
    if ctype == 3:
        out += _chunk(b"PLTE", bytes(range(256)) * 3)
    out += extra
    for a, b in zip(cuts[:-1], cuts[1:]):
        out += _chunk(b"IDAT", stream[a:b], crc_ok=idat_crc_ok)
    return out + _chunk(b"tEXt", b"k\x00v") + _chunk(b"IEND", b"")


def _pillow(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


@pytest.mark.parametrize("ctype", [0, 2, 3])
@pytest.mark.parametrize("filters", [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0, 2, 2, 4]])
def test_every_filter_type_equals_pillow(ctype, filters):
    rng = np.random.default_rng(len(filters) * 10 + ctype)
    shape = (23, 17, 3) if ctype == 2 else (23, 17)
    px = rng.integers(0, 256, shape).astype(np.uint8)
    px[5:9] = px[4]  # repeated rows and flat runs, as in label maps
    px[:, 3:8] = px[:, 2:3]
    data = _png(px, ctype, filters, idat_parts=3, extra=_chunk(b"gAMA", b"\x00\x00\xb1\x8f"))
    got = decode_png8(data)
    assert got is not None and np.array_equal(got, px) and np.array_equal(got, _pillow(data))


@pytest.mark.parametrize("seed", range(6))
def test_random_filter_mixtures_equal_pillow(seed):
    """Label-map-like images (flat regions, a few changes a row) with a random filter type per row: Average and
    Paeth on row 0, runs of consecutive Average / Paeth rows, runs of Up rows longer than 256, widths of whole
    64-bit words and not, gray and palette."""
    rng = np.random.default_rng(100 + seed)
    h = int(rng.choice([1, 2, 40, 300, 530]))
    w = int(rng.choice([1, 7, 8, 16, 64, 640, 203]))
    px = np.empty((h, w), np.uint8)
    row = rng.integers(0, 20, w).repeat(4)[:w].astype(np.uint8)
    for r in range(h):
        if rng.random() < 0.3:
            cut = int(rng.integers(0, w))
            row = row.copy()
            row[cut:cut + int(rng.integers(1, 9))] = rng.integers(0, 256)
        px[r] = row
    kind = rng.integers(0, 5, h).tolist()
    kind[0] = int(rng.choice([3, 4, 2, 0]))
    if h > 260:  # a long run of Up rows, then consecutive Paeth and Average rows
        kind[5:275] = [2] * 270
        kind[280:286] = [4, 4, 3, 3, 4, 3]
    for ctype in (0, 3):
        data = _png(px, ctype, kind)
        got = decode_png8(data)
        assert got is not None and np.array_equal(got, px) and np.array_equal(got, _pillow(data)), (h, w, ctype)


@pytest.mark.parametrize("seed", range(3))
def test_files_pillow_writes_equal_pillow(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))  # over 65535 filtered bytes: several blocks
    for mode, shape in (("L", (h, w)), ("RGB", (h, w, 3))):
        px = rng.integers(0, 6, shape).astype(np.uint8) * 40
        px[rng.random(shape[:2]) < 0.9] = 0
        buf = io.BytesIO()
        Image.fromarray(px, mode=mode).save(buf, format="PNG")
        got = decode_png8(buf.getvalue())
        assert got is not None and np.array_equal(got, px), (mode, h, w)


def test_real_coco_panoptic_pngs_equal_pillow(refdata):
    files = sorted(refdata.path("panoptic").rglob("*.png"))
    assert files
    for f in files:
        data = f.read_bytes()
        want = _pillow(data)
        got = decode_png8(data)
        if want.ndim == 3 and want.shape[2] == 3 or want.ndim == 2:
            assert got is not None and np.array_equal(got, want), f


def test_what_the_path_does_not_take_gives_none():
    px = np.arange(60, dtype=np.uint8).reshape(6, 10)
    plain = _png(px, 0, [2])
    assert decode_png8(plain) is not None
    bad_adler = zlib.compress(b"\x00" * 66)[:-1] + b"\x00"
    refused = {
        "interlaced": _png(px, 0, [2], interlace=1),
        "bad IDAT CRC": _png(px, 0, [2], idat_crc_ok=False),
        "truncated": plain[:-20],
        "no IEND": plain[:-12],
        "unknown critical chunk": plain[:33] + _chunk(b"ABCD", b"x") + plain[33:],
        "not a PNG": b"GIF89a" + plain[6:],
        "RGBA": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 6, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 18)) + _chunk(b"IEND", b""),
        "16-bit": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 16, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + _chunk(b"IEND", b""),
        "bad zlib checksum": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 11, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", bad_adler) + _chunk(b"IEND", b""),
        "rows too short": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 7, 11, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 66)) + _chunk(b"IEND", b""),
        "filter type 5": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x05\x00\x00\x00\x00\x00")) + _chunk(b"IEND", b""),
    }
    palette = _png(px, 3, [2])
    plte = _chunk(b"PLTE", bytes(range(256)) * 3)
    refused["palette without PLTE"] = palette.replace(plte, b"")
    refused["two PLTE"] = palette.replace(plte, plte + plte)
    refused["second IHDR"] = plain[:33] + plain[8:33] + plain[33:]
    long_ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBBB", 6, 10, 8, 0, 0, 0, 0, 0))
    refused["IHDR of another length"] = b"\x89PNG\r\n\x1a\n" + long_ihdr + plain[33:]
    assert decode_png8(palette) is not None
    for why, data in refused.items():
        assert decode_png8(data) is None, why
    assert decode_png8(plain, max_pixels=59) is None
    assert decode_png8(_png(np.zeros((2, 2, 3), np.uint8), 2, [0]), color_types=(0, 3)) is None


def test_idat_chunks_must_be_one_run():
    px = np.arange(60, dtype=np.uint8).reshape(6, 10)
    data = _png(px, 0, [2], idat_parts=2)
    first = data.index(b"IDAT") - 4
    n = struct.unpack(">I", data[first:first + 4])[0]
    cut = first + 12 + n
    split = data[:cut] + _chunk(b"tEXt", b"a\x00b") + data[cut:]
    assert decode_png8(data) is not None and decode_png8(split) is None


def test_without_the_modules_nothing_is_decoded(monkeypatch):
    monkeypatch.setattr(pngfast, "_MODULES", [None])
    assert not pngfast.fast_png_available()
    assert decode_png8(_png(np.zeros((2, 2), np.uint8), 0, [0])) is None


def test_repeated_rows_are_left_out_exactly():
    rng = np.random.default_rng(5)
    px = np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3], [0, 2, 3], [0, 2, 3], [1, 2, 3]], np.uint8)
    got = pngfast.decode_png8_rows(_png(px, 0, [2]))
    assert got is not None and got.height == 6 and got.starts.tolist() == [0, 3, 5]
    assert np.array_equal(got.pixels, px[[0, 3, 5]]) and np.array_equal(got.full(), px)
    other = pngfast.decode_png8_rows(_png(px, 0, [1]))  # equal rows not written as "Up" are kept
    assert other is not None and other.starts.tolist() == list(range(6)) and np.array_equal(other.full(), px)
    zero_first = pngfast.decode_png8_rows(_png(np.zeros((2, 3), np.uint8), 0, [2]))
    assert zero_first is not None and zero_first.starts.tolist() == [0]
    for ctype, filters in ((2, [2, 4, 2, 3, 2, 1]), (0, [2, 2, 4]), (3, [3, 2])):  # kept rows of every filter
        shape = (40, 9, 3) if ctype == 2 else (40, 9)
        img = rng.integers(0, 256, shape).astype(np.uint8)
        for r in range(1, 40):
            if rng.random() < 0.6:
                img[r] = img[r - 1]
        data = _png(img, ctype, filters)
        got = pngfast.decode_png8_rows(data)
        assert got is not None and got.starts.size < 40 and np.array_equal(got.full(), _pillow(data))


@pytest.mark.parametrize("width", [1, 2, 17, 700])
def test_sub_rows_unfiltered_before_libspng_decode_the_same(width, monkeypatch):
    """One-byte-pixel rows filtered "Sub" are unfiltered by imagecodecs' delta_decode and handed on as "None";
    the rows below them (Up, Average, Paeth, Sub again) decode the same, with or without delta_decode."""
    rng = np.random.default_rng(width)
    px = rng.integers(0, 256, (13, width)).astype(np.uint8)
    px[:, width // 2:] = px[:, :1]  # flat runs, as in label maps
    for ctype in (0, 3):
        data = _png(px, ctype, [1, 2, 4, 1, 3, 1, 1, 0])
        got = decode_png8(data)
        assert got is not None and np.array_equal(got, px) and np.array_equal(got, _pillow(data))
    codec, spng = pngfast._modules() or (None, None)

    class NoDelta:  # imagecodecs without delta_decode: libspng unfilters the Sub rows itself
        deflate_decode = staticmethod(codec.deflate_decode)

    monkeypatch.setattr(pngfast, "_MODULES", [(NoDelta, spng)])
    got = decode_png8(_png(px, 0, [1, 2, 4, 1]))
    assert got is not None and np.array_equal(got, px)
