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
