"""The worked plug-in example of docs/predict.md (a YOLOv8 ONNX export with NMS), run as written on the page, on a
YOLOv8-shaped network built here with the onnx helper API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime", reason="the example runs on onnxruntime (pip install 'annokit[onnx]')")
pytest.importorskip("onnx", reason="building the test network needs the onnx package")

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.predict import images_from_dir, load_predictor, run_predictor
from tests.predict._onnx_models import tiny_yolov8

DOC = Path(__file__).resolve().parents[2] / "docs" / "predict.md"
RED, GREEN = (255, 0, 0), (0, 200, 0)  # green scores lower than red: no ties between the classes


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's code block, as the page has it, saved as a module ``yolov8_plugin``."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Worked example: a YOLOv8 ONNX export"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None and "class YoloV8Onnx" in code.group(1)
    d = tmp_path_factory.mktemp("plugin")
    (d / "yolov8_plugin.py").write_text(code.group(1), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 64x64 input, an anchor per 8x8 cell, each proposing a 32x32 box: a square over 2x2 cells gives 4 candidates
    return tiny_yolov8(tmp_path_factory.mktemp("model") / "yolov8_tiny.onnx", size=64, cell=8, box=32.0)


def _scene(hw: tuple[int, int], squares: list[tuple[int, int, int, tuple[int, int, int]]]) -> np.ndarray:
    im = np.zeros((*hw, 3), np.uint8)
    for y, x, side, colour in squares:
        im[y:y + side, x:x + side] = colour
    return im


def _centres(inst) -> np.ndarray:
    b = inst.boxes
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def test_the_example_finds_each_square_once_where_it_is(plugin: Path, model: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(plugin))
    p = load_predictor("yolov8_plugin:YoloV8Onnx", model=model, labels=["red", "green"], iou_threshold=0.3)
    # a square image (no padding) and a wide one (letterboxed: scale 0.32, 16 rows of padding on each side)
    square = _scene((128, 128), [(16, 16, 32, RED), (80, 80, 32, GREEN)])
    wide = _scene((100, 200), [(25, 25, 50, RED), (25, 125, 50, GREEN)])
    for im, sq in ((square, [(16, 16, 32), (80, 80, 32)]), (wide, [(25, 25, 50), (25, 125, 50)])):
        (pred,) = p.predict([im])
        inst = pred.instances
        assert pred.image_hw == im.shape[:2] and sorted(inst.labels.tolist()) == [0, 1]  # one box per square
        for (y, x, side), label in zip(sq, (0, 1)):
            (cx, cy), = _centres(inst)[inst.labels == label]
            assert x - 8 <= cx <= x + side + 8 and y - 8 <= cy <= y + side + 8  # on its square, in image pixels
        assert (inst.scores > 0.25).all() and inst.image_ids.tolist() == [0, 0]


def test_class_aware_and_agnostic_nms(plugin: Path, model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two touching squares of different classes: class-aware NMS keeps both, agnostic NMS only the first (every
    green candidate overlaps the kept red box by IoU 0.1 or more)."""
    monkeypatch.syspath_prepend(str(plugin))
    im = _scene((128, 128), [(16, 16, 32, RED), (16, 48, 32, GREEN)])
    aware = load_predictor("yolov8_plugin:YoloV8Onnx", model=model, labels=["red", "green"], iou_threshold=0.05)
    agnostic = load_predictor("yolov8_plugin:YoloV8Onnx", model=model, labels=["red", "green"], iou_threshold=0.05,
                              agnostic=True)
    assert sorted(aware.predict([im])[0].instances.labels.tolist()) == [0, 1]
    assert agnostic.predict([im])[0].instances.labels.tolist() == [0]


def test_the_example_agrees_with_the_onnx_backend(plugin: Path, model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Squares of one cell each (one candidate, no near-ties for float rounding to reorder: the example divides by
    255 where annokit multiplies by 1/255), on a square image and a letterboxed tall one."""
    monkeypatch.syspath_prepend(str(plugin))
    ims = [_scene((128, 128), [(16, 16, 16, RED), (80, 96, 16, GREEN)]),  # scale 1/2
           _scene((256, 128), [(32, 32, 32, GREEN), (160, 64, 32, RED)])]  # scale 1/4, 16 columns of padding
    mine = load_predictor("yolov8_plugin:YoloV8Onnx", model=model, labels=["red", "green"])
    builtin = load_predictor("onnx", model=model, labels=["red", "green"], iou_threshold=0.7)
    assert builtin.decoder == "yolo" and builtin.preprocess.resize == "letterbox"  # from the export's metadata
    assert builtin.static_batch == 1 and builtin.batch_size == 1  # exported for one image: run one at a time
    for a, b in zip(mine.predict(ims), builtin.predict(ims)):
        assert len(a.instances) == 2
        np.testing.assert_allclose(a.instances.boxes, b.instances.boxes, atol=1e-4)
        assert a.instances.labels.tolist() == b.instances.labels.tolist()
        np.testing.assert_allclose(a.instances.scores, b.instances.scores, rtol=1e-5)


def test_the_example_runs_from_the_command_line(plugin: Path, model: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(plugin))
    d = tmp_path / "photos"
    d.mkdir()
    Image.fromarray(_scene((128, 128), [(16, 16, 32, RED)])).save(d / "a.png")
    Image.fromarray(_scene((100, 200), [(25, 125, 50, GREEN)])).save(d / "b.png")
    names = tmp_path / "coco.names"
    names.write_text("red\ngreen\n")
    out = tmp_path / "dets.json"
    assert run_cli(cli, ["predict", "--backend", "yolov8_plugin:YoloV8Onnx", "--model", str(model),
                         "--option", f"labels={names}", "--option", "iou_threshold=0.3", "--images", str(d),
                         "--out", str(out), "-q"]) == 0
    dets = json.loads(out.read_text())
    assert [(d["image_id"], d["category_id"]) for d in dets] == [(1, 0), (2, 1)]
    p = load_predictor("yolov8_plugin:YoloV8Onnx", model=model, labels=str(names))
    run_predictor(p, images_from_dir(d))
    assert p.session is None  # the runner closed it
