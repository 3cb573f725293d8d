"""COCO panoptic id PNGs: the fast decoder (imagecodecs) gives Pillow's ids on real and synthetic files, into a
reused buffer; unusual files go to Pillow's path; bad files are one clear error."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.errors import FormatError
from annokit.io import labelmap
from annokit.io.coco_panoptic import read_id_png, rgb2id, write_id_png


@pytest.fixture
def pillow_only(monkeypatch):
    """Decode with Pillow alone, as without imagecodecs installed."""
    monkeypatch.setattr(labelmap, "_CODEC", [None])


def _pillow_ids(path: Path) -> np.ndarray:
    return rgb2id(np.asarray(Image.open(path).convert("RGB")))


def _codec():
    if labelmap.fast_png_codec() is None:
        pytest.skip("imagecodecs is not installed: the fast path is not taken")


def test_fast_path_equals_pillow_on_the_coco_sample(refdata):
    _codec()
    files = sorted(refdata.path("panoptic").rglob("*.png"))
    assert files
    buf = None
    for f in files:
        want = _pillow_ids(f)
        buf = read_id_png(f, out=buf)
        assert buf.dtype == np.uint32 and np.array_equal(buf, want), f


@pytest.mark.parametrize("seed", range(3))
def test_fast_path_equals_pillow_on_random_ids(tmp_path, seed):
    _codec()
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 50))
    ids = rng.integers(0, 1 << 24, (h, w))
    ids[: h // 2] = ids[0, 0]  # flat rows too: Pillow's encoder then picks other filters
    write_id_png(tmp_path / "a.png", ids)
    got = read_id_png(tmp_path / "a.png")
    assert np.array_equal(got, ids) and np.array_equal(got, _pillow_ids(tmp_path / "a.png"))
    out = np.zeros((h, w), np.uint32)
    assert read_id_png(tmp_path / "a.png", out=out) is out and np.array_equal(out, ids)


def test_reused_buffer_of_another_size_is_not_used(tmp_path):
    write_id_png(tmp_path / "a.png", np.array([[1, 2, 3]]))
    small = np.zeros((1, 2), np.uint32)
    got = read_id_png(tmp_path / "a.png", out=small)
    assert got is not small and got.tolist() == [[1, 2, 3]] and small.tolist() == [[0, 0]]


def test_palette_and_pillow_only_paths_give_the_same_ids(tmp_path, monkeypatch):
    rgb = np.array([[[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [7, 7, 7]]], np.uint8)
    Image.fromarray(rgb, mode="RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    want = [[1, 256], [65536, 7 + 7 * 256 + 7 * 65536]]
    assert read_id_png(tmp_path / "p.png").tolist() == want
    write_id_png(tmp_path / "a.png", np.array(want))
    fast = read_id_png(tmp_path / "a.png")
    monkeypatch.setattr(labelmap, "_CODEC", [None])
    assert np.array_equal(read_id_png(tmp_path / "a.png"), fast)


@pytest.mark.parametrize("fast", [True, False])
def test_bad_files_are_one_clear_error(tmp_path, monkeypatch, fast):
    if not fast:
        monkeypatch.setattr(labelmap, "_CODEC", [None])
    write_id_png(tmp_path / "a.png", np.arange(64).reshape(8, 8))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) - 30])
    with pytest.raises(FormatError, match="cut.png"):
        read_id_png(tmp_path / "cut.png")
    with pytest.raises(FormatError, match="over the 10-pixel limit"):
        read_id_png(tmp_path / "a.png", max_pixels=10)
    Image.fromarray(np.zeros((2, 2), np.uint8), mode="L").save(tmp_path / "gray.png")
    with pytest.raises(FormatError, match="expected an RGB id PNG, got mode L"):
        read_id_png(tmp_path / "gray.png")
    with pytest.raises(FormatError, match="file not found"):
        read_id_png(tmp_path / "missing.png")


def test_sixteen_bit_rgb_goes_to_pillow(tmp_path):
    # a 16-bit RGB PNG, written by hand (Pillow cannot write one): the fast path leaves it to Pillow
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"\x00" + bytes([0, 5, 0, 0, 0, 0])  # one pixel, R = 5 (16 bit), filter None
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    (tmp_path / "x.png").write_bytes(png)
    want = _pillow_ids(tmp_path / "x.png")
    assert read_id_png(tmp_path / "x.png").tolist() == want.tolist()


def test_png_header_reads_ihdr_and_refuses_other_bytes():
    buf = io.BytesIO()
    Image.fromarray(np.zeros((3, 5, 3), np.uint8)).save(buf, format="PNG")
    assert labelmap.png_header(buf.getvalue()) == labelmap.PngHeader(5, 3, 8, 2)
    assert labelmap.png_header(b"GIF89a" + bytes(30)) is None
