"""Images of every bit depth reach the model scaled by the documented rule -- never clipped silently -- or are
refused with one line that says how to give their range."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.predict import PredictionError, images_from_dir, load_image, parse_image_range, run_predictor
from annokit.predict.images import ImageItem

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
SCENE = SAMPLE / "scenes" / "images" / "scene_004.png"  # the model calls it "circle 0.99"


def _png(path: Path, arr: np.ndarray, color_type: int) -> Path:
    """A PNG of 16 bits per sample written by hand (Pillow cannot write 16-bit colour): ``arr`` (H, W) grey
    (colour type 0) or (H, W, 3) RGB (colour type 2), big-endian uint16."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def _grey8(path: Path = SCENE) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_16_bit_grey_is_scaled_by_its_bit_depth(tmp_path: Path) -> None:
    g = _grey8()
    f16 = _png(tmp_path / "g16.png", g.astype(np.uint16) * 257, 0)
    assert Image.open(f16).mode.startswith("I;16")  # what Pillow makes of it
    got = load_image(f16)
    assert got.dtype == np.uint8 and got.shape == (*g.shape, 3)
    np.testing.assert_array_equal(got, np.repeat(g[..., None], 3, axis=2))  # 257 * v -> exactly v
    # values between: round(v * 255 / 65535)
    ramp = np.arange(0, 65536, 1, dtype=np.uint16).reshape(256, 256)
    got = load_image(_png(tmp_path / "ramp.png", ramp, 0))[..., 0]
    np.testing.assert_array_equal(got, np.floor(ramp.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8))


def test_16_bit_colour_is_read_as_its_8_bit_version(tmp_path: Path) -> None:
    rgb = np.asarray(Image.open(SCENE).convert("RGB"))
    got = load_image(_png(tmp_path / "rgb16.png", rgb.astype(np.uint16) * 257, 2))
    np.testing.assert_array_equal(got, rgb)


def test_a_16_bit_scene_is_predicted_like_its_8_bit_version(tmp_path: Path) -> None:
    """The case of the issue: clipped to white, this scene was 'background 0.80'; scaled, it is 'circle 0.99'."""
    pytest.importorskip("onnxruntime", reason="the shipped model runs on onnxruntime")
    from annokit.predict import load_predictor

    d = tmp_path / "imgs"
    d.mkdir()
    g = _grey8()
    Image.fromarray(g).save(d / "a_8bit.png")
    _png(d / "b_16bit.png", g.astype(np.uint16) * 257, 0)
    p = load_predictor("onnx", model=SAMPLE / "model" / "scenes_cnn.onnx", task="classification")
    res = run_predictor(p, images_from_dir(d))
    s8, s16 = (pr.class_scores for pr in res.predictions)
    assert p.labels.names[int(s16.argmax())] == "circle" and s16.max() > 0.95
    np.testing.assert_array_equal(s8, s16)


def test_float_images_in_0_1_and_outside(tmp_path: Path) -> None:
    g = _grey8()
    Image.fromarray((g / 255).astype(np.float32)).save(tmp_path / "unit.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "unit.tif")[..., 0], g)
    Image.fromarray(g.astype(np.float32)).save(tmp_path / "f255.tif")
    with pytest.raises(PredictionError, match=r"f255\.tif: a floating-point image with values \d+\.\.\d+, outside "
                                              r"0\.\.1: say how to scale it \(image_range=\(LO, HI\)"):
        load_image(tmp_path / "f255.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "f255.tif", image_range=(0, 255))[..., 0], g)
    bad = (g / 255).astype(np.float32)
    bad[3, 4] = np.nan
    Image.fromarray(bad).save(tmp_path / "nan.tif")
    with pytest.raises(PredictionError, match="NaN or infinite pixels"):
        load_image(tmp_path / "nan.tif")


def test_depth_maps_minmax_and_windows(tmp_path: Path) -> None:
    depth = np.linspace(500, 3000, 40 * 30).reshape(30, 40).astype(np.uint16)  # millimetres
    Image.fromarray(depth).save(tmp_path / "depth.png")
    dark = load_image(tmp_path / "depth.png")[..., 0]  # by bit depth: 500..3000 of 65535 -> 2..12
    assert dark.min() == 2 and dark.max() == 12
    mm = load_image(tmp_path / "depth.png", image_range="minmax")[..., 0]
    assert mm.min() == 0 and mm.max() == 255
    win = load_image(tmp_path / "depth.png", image_range=(1000, 2000))[..., 0]
    assert (win[depth <= 1000] == 0).all() and (win[depth >= 2000] == 255).all()  # clipped: a window
    np.testing.assert_array_equal(win, np.floor(np.clip((depth - 1000.0) * 255 / 1000 + 0.5, 0, 255.5)))
    i32 = (depth.astype(np.int32) * 1000)
    Image.fromarray(i32).save(tmp_path / "i32.tif")
    with pytest.raises(PredictionError, match="32-bit integer image .* cannot tell its range; give it"):
        load_image(tmp_path / "i32.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "i32.tif", image_range="minmax")[..., 0], mm)


def test_one_bit_and_palette_images(tmp_path: Path) -> None:
    bits = np.zeros((5, 7), bool)
    bits[1:3, 2:5] = True
    Image.fromarray(bits).save(tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").mode == "1"
    got = load_image(tmp_path / "b.png")
    np.testing.assert_array_equal(got[..., 1], np.where(bits, 255, 0))
    rgb = np.asarray(Image.open(SCENE).convert("RGB"))
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == rgb.shape


def test_image_range_values() -> None:
    assert parse_image_range("auto") == "auto" and parse_image_range("0:4095") == (0.0, 4095.0)
    assert parse_image_range((-1000, 400)) == (-1000.0, 400.0)
    for bad in ("5:1", "a:b", "1:2:3", "nan:1", "dark"):
        with pytest.raises(Exception, match="option 'image_range'"):
            parse_image_range(bad)


def test_an_image_not_of_the_size_its_dataset_records_fails_by_name(tmp_path: Path) -> None:
    """A dataset that counts an image as 100 x 60 while its file is 60 x 100 (an EXIF rotation, say): predictions
    would be in another frame than the ground truth, so that image fails, saying why."""
    from annokit.core.labels import LabelSet
    from annokit.predict import Prediction, Task

    class Mean:
        task = Task.CLASSIFICATION
        labels = LabelSet(ids=[0, 1, 2], names=["r", "g", "b"])

        def predict(self, images):
            return [Prediction(task=self.task, image_hw=im.shape[:2], class_scores=im.reshape(-1, 3).mean(0))
                    for im in images]

    Image.fromarray(np.zeros((60, 100, 3), np.uint8)).save(tmp_path / "a.png")
    items = [ImageItem(1, "a.png", tmp_path / "a.png", (60, 100)), ImageItem(2, "a.png", tmp_path / "a.png", (100, 60))]
    res = run_predictor(Mean(), items, skip_failures=True)
    assert len(res.items) == 1 and res.failures[0][0].image_id == 2
    assert "the image is 100x60 pixels but the dataset says 60x100" in res.failures[0][1]
