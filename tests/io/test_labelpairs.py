"""Pixel pairs of two label-map PNGs counted from their compressed rows: equal to the histogram of the maps Pillow
decodes, for every filter type, width (whole and partial 64-bit words) and colour type taken; ``False`` and the
counts untouched for everything else."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from annokit.errors import FormatError
from annokit.io import labelpairs
from annokit.io.labelpairs import PAIR_BINS, count_label_pairs
from tests.io.test_pngfast import _chunk, _png


def _pillow(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def _want(g: bytes, p: bytes) -> np.ndarray:
    a, b = _pillow(g).astype(np.int64), _pillow(p).astype(np.int64)
    return np.bincount(((a << 8) | b).ravel(), minlength=PAIR_BINS)


def _count(tmp_path, g: bytes, p: bytes) -> tuple[bool, np.ndarray]:
    (tmp_path / "g.png").write_bytes(g)
    (tmp_path / "p.png").write_bytes(p)
    counts = np.zeros(PAIR_BINS, np.int64)
    return count_label_pairs(tmp_path / "g.png", tmp_path / "p.png", counts), counts


def _label_map(rng, h: int, w: int) -> np.ndarray:
    """Flat regions, a few specks, repeated rows and columns: what label maps look like."""
    px = np.repeat(np.repeat(rng.integers(0, 6, (h // 4 + 1, w // 4 + 1)), 4, 0), 4, 1)[:h, :w]
    px[rng.random((h, w)) < 0.05] = 255
    return px.astype(np.uint8)


@pytest.mark.parametrize("filters", [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0, 2, 2, 4], [2, 2, 2, 4, 3, 1, 0]])
@pytest.mark.parametrize("width", [1, 7, 8, 17, 64])
def test_every_filter_type_and_width_equals_the_decoded_maps(tmp_path, filters, width):
    rng = np.random.default_rng(width * 10 + len(filters))
    g = _label_map(rng, 23, width)
    p = g.copy()
    p[rng.random(g.shape) < 0.2] = rng.integers(0, 256)  # runs that break inside a word and across rows
    gd = _png(g, 0, filters, idat_parts=2)
    pd = _png(p, 3, filters[::-1])  # a palette prediction beside a gray ground truth: both are indices
    ok, counts = _count(tmp_path, gd, pd)
    assert ok and np.array_equal(counts, _want(gd, pd))
    rng_bytes = rng.integers(0, 256, (9, width)).astype(np.uint8)  # noise: a run change at nearly every pixel
    gd, pd = _png(rng_bytes, 0, filters), _png(rng_bytes[::-1].copy(), 0, [4, 2])
    ok, counts = _count(tmp_path, gd, pd)
    assert ok and np.array_equal(counts, _want(gd, pd))


@pytest.mark.parametrize("seed", range(3))
def test_files_pillow_writes_add_up(tmp_path, seed):
    """Pillow's own adaptive filters, several maps into one histogram (counts add)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(PAIR_BINS, np.int64)
    want = np.zeros(PAIR_BINS, np.int64)
    for i in range(3):
        h, w = int(rng.integers(1, 200)), int(rng.integers(1, 300))
        for name, a in (("g", _label_map(rng, h, w)), ("p", _label_map(rng, h, w))):
            Image.fromarray(a, mode="L").save(tmp_path / f"{name}{i}.png")
        assert count_label_pairs(tmp_path / f"g{i}.png", tmp_path / f"p{i}.png", counts)
        want += _want((tmp_path / f"g{i}.png").read_bytes(), (tmp_path / f"p{i}.png").read_bytes())
    assert np.array_equal(counts, want)


def test_without_libdeflate_zlib_inflates(tmp_path, monkeypatch):
    monkeypatch.setattr(labelpairs, "_DEFLATE", [None])
    rng = np.random.default_rng(3)
    gd, pd = _png(_label_map(rng, 30, 41), 0, [1, 2, 4]), _png(_label_map(rng, 30, 41), 0, [3, 0])
    ok, counts = _count(tmp_path, gd, pd)
    assert ok and np.array_equal(counts, _want(gd, pd))
    stream = zlib.compress(b"\x00" * (30 * 42))
    for bad in (stream[:-4] + b"\x00\x00\x00\x00", stream[:-9]):  # a wrong checksum, a truncated stream
        ok, counts = _count(tmp_path, gd[:33] + _chunk(b"IDAT", bad) + _chunk(b"IEND", b""), pd)
        assert not ok and not counts.any()
    ok, counts = _count(tmp_path, gd[:33] + _chunk(b"IDAT", stream) + _chunk(b"IEND", b""), pd)
    assert ok and counts.sum() == 30 * 41


def test_what_the_path_does_not_take_leaves_the_counts_alone(tmp_path):
    px = np.arange(60, dtype=np.uint8).reshape(6, 10)
    plain = _png(px, 0, [2])
    assert _count(tmp_path, plain, plain)[0]
    refused = {
        "interlaced": _png(px, 0, [2], interlace=1),
        "bad IDAT CRC": _png(px, 0, [2], idat_crc_ok=False),
        "truncated": plain[:-20],
        "RGB": _png(np.zeros((6, 10, 3), np.uint8), 2, [0]),
        "16-bit": b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 6, 16, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 126)) + _chunk(b"IEND", b""),
    }
    rows = b"".join(bytes([5 if r == 5 else 0]) + px[r].tobytes() for r in range(6))
    for why, stream in (("filter type 5 in the last row", rows), ("stream too long", rows[:-11] + bytes(22)),
                        ("stream too short", rows[:-1])):
        refused[why] = plain[:33] + _chunk(b"IDAT", zlib.compress(stream)) + _chunk(b"IEND", b"")
    for why, data in refused.items():
        for g, p in ((data, plain), (plain, data)):
            ok, counts = _count(tmp_path, g, p)
            assert not ok and not counts.any(), why
    counts = np.zeros(PAIR_BINS, np.int64)
    assert not count_label_pairs(tmp_path / "missing.png", tmp_path / "p.png", counts)
    (tmp_path / "g.png").write_bytes(plain)
    assert not count_label_pairs(tmp_path / "g.png", tmp_path / "p.png", counts, max_pixels=59)


def test_sizes_must_agree_and_counts_must_fit(tmp_path):
    a, b = _png(np.zeros((6, 10), np.uint8), 0, [0]), _png(np.zeros((10, 6), np.uint8), 0, [0])
    with pytest.raises(FormatError, match=r"p.png: size 6x10 differs from the ground truth's 10x6 \(g.png\)"):
        _count(tmp_path, a, b)
    for bad in (np.zeros(PAIR_BINS, np.int32), np.zeros((256, 256), np.int64), np.zeros(PAIR_BINS * 2)[::2]):
        with pytest.raises(ValueError, match="int64 array of 65536 bins"):
            count_label_pairs(tmp_path / "g.png", tmp_path / "p.png", bad)


def test_the_compiled_loop_is_used_from_its_break_even_a_worker(monkeypatch):
    monkeypatch.setattr(labelpairs, "compiled_loop_loaded", lambda: False)
    n = labelpairs.COMPILED_FROM_PAIRS
    idle = n * labelpairs.IDLE_FACTOR
    assert idle > n
    for loaded, at in ((True, n), (False, idle)):
        use = functools.partial(labelpairs.use_compiled_loop, loaded=loaded)
        assert use(at) and not use(at - 1)
        assert not use(2 * at - 1, 2) and use(2 * at, 2)
        assert use(at, 0)  # 0 workers: this process alone
    monkeypatch.setattr(labelpairs, "machine_loaded", lambda: True)  # the default asks the machine
    assert labelpairs.use_compiled_loop(n) and not labelpairs.use_compiled_loop(n - 1)
    monkeypatch.setattr(labelpairs, "machine_loaded", lambda: False)
    assert not labelpairs.use_compiled_loop(n) and labelpairs.use_compiled_loop(idle)
    # only between the two thresholds, where the answer depends on it
    monkeypatch.setattr(labelpairs, "machine_loaded", lambda: pytest.fail("asked where the answer is known"))
    assert not labelpairs.use_compiled_loop(n - 1) and not labelpairs.use_compiled_loop(3, 4)
    assert labelpairs.use_compiled_loop(idle) and labelpairs.use_compiled_loop(2 * idle, 2)
    monkeypatch.setattr(labelpairs, "compiled_loop_loaded", lambda: True)  # loaded: nothing more to pay
    assert labelpairs.use_compiled_loop(1, 4) and labelpairs.use_compiled_loop(1, 4, loaded=False)


def test_the_machine_is_loaded_when_other_work_takes_every_cpu(monkeypatch):
    import annokit._internal.threads as th

    monkeypatch.setattr(th, "cpus", lambda: 2)
    for other, want in ((None, False), (0.0, False), (1.0, False), (1.9, False), (2.0, True), (5.0, True)):
        monkeypatch.setattr(th, "other_work", lambda o=other: o)
        assert labelpairs.machine_loaded() is want, other
    # the real machine: an answer either way
    monkeypatch.undo()
    assert labelpairs.machine_loaded() in (True, False)
