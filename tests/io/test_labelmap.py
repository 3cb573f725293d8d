"""Label-map PNGs: gray and palette values exactly as Pillow reads them, fast path or not, into a reused buffer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annokit.errors import FormatError
from annokit.io import labelmap
from annokit.io.labelmap import read_label_map


def _maps(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.repeat(np.repeat(rng.integers(0, 20, (6, 9)), 5, 0), 4, 1).astype(np.uint8)
    a[rng.random(a.shape) < 0.05] = 255
    return a


@pytest.mark.parametrize("mode", ["L", "P"])
@pytest.mark.parametrize("seed", range(2))
def test_equals_pillow_fast_or_not(tmp_path, monkeypatch, mode, seed):
    a = _maps(seed)
    im = Image.fromarray(a, mode="L")
    if mode == "P":
        im = im.convert("P")
        im.putpalette(np.random.default_rng(seed).integers(0, 256, 768).tolist())
    im.save(tmp_path / "m.png")
    want = np.asarray(Image.open(tmp_path / "m.png"))
    got = read_label_map(tmp_path / "m.png")
    buf = np.zeros(a.shape, np.uint8)
    assert np.array_equal(got, want) and np.array_equal(got, a)
    reused = read_label_map(tmp_path / "m.png", out=buf)
    from annokit.io.pngfast import fast_png_available

    # libspng's output is returned as it is (never copied into ``out``); imagecodecs' libpng decodes into ``out``
    into_buf = mode == "L" and not fast_png_available() and labelmap.fast_png_codec() is not None
    assert np.array_equal(reused, a) and (reused is buf) == into_buf
    monkeypatch.setattr(labelmap, "_CODEC", [None])
    assert np.array_equal(read_label_map(tmp_path / "m.png", out=buf), a)


def test_sixteen_bit_and_refusals(tmp_path):
    Image.fromarray(np.array([[0, 300], [65535, 7]], np.uint16)).save(tmp_path / "w.png")
    got = read_label_map(tmp_path / "w.png", out=np.zeros((2, 2), np.uint8))
    assert got.dtype == np.int32 and got.tolist() == [[0, 300], [65535, 7]]
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(FormatError, match="colours are not class ids"):
        read_label_map(tmp_path / "rgb.png")
    with pytest.raises(FormatError, match="over the 3-pixel limit"):
        read_label_map(tmp_path / "w.png", max_pixels=3)
    (tmp_path / "bad.png").write_bytes((tmp_path / "w.png").read_bytes()[:40])
    with pytest.raises(FormatError, match="bad.png"):
        read_label_map(tmp_path / "bad.png")


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "RGB"])
def test_read_label_map_file_is_read_label_map(tmp_path, mode):
    """The path-string reader gives read_label_map's maps and errors (16-bit and RGB go its way)."""
    from annokit.io.labelmap import read_label_map_file

    a = _maps(3)
    im = Image.fromarray(a, mode="L")
    im = im.convert(mode) if mode != "P" else im.convert("P")
    im.save(tmp_path / "m.png")
    f = str(tmp_path / "m.png")
    if mode == "RGB":
        with pytest.raises(FormatError, match=r"m\.png: .*colours are not class ids"):
            read_label_map_file(f)
    else:
        got = read_label_map_file(f, out=np.zeros(a.shape, np.uint8))
        assert np.array_equal(got, read_label_map(f)) and np.array_equal(got, a)
    with pytest.raises(FormatError, match="missing.png: file not found"):
        read_label_map_file(str(tmp_path / "missing.png"))


def test_read_file_bytes_reads_to_the_end_whatever_fstat_says(tmp_path, monkeypatch):
    import os

    from annokit.io.labelmap import read_file_bytes

    body = bytes(range(256)) * 9000  # over one 1 MiB read
    (tmp_path / "f").write_bytes(body)
    (tmp_path / "e").write_bytes(b"")
    assert read_file_bytes(tmp_path / "f") == body and read_file_bytes(str(tmp_path / "e")) == b""
    real = os.fstat
    for wrong in (10, len(body) + 5):  # a file that grew, or shrank, since
        monkeypatch.setattr(os, "fstat", lambda fd, w=wrong: os.stat_result((*real(fd)[:6], w, *real(fd)[7:])))
        assert read_file_bytes(tmp_path / "f") == body
    monkeypatch.setattr(os, "fstat", real)
    with pytest.raises(OSError):
        read_file_bytes(tmp_path / "missing")
