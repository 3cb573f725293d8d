"""The onnx backend's plumbing, on tiny graphs built here: metadata, preprocessing, decoders, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx backend needs onnxruntime (pip install 'annokit[onnx]')")
pytest.importorskip("onnx", reason="building test graphs needs the onnx package")

from annokit.errors import AnnokitError
from annokit.predict import Preprocess, Task, load_predictor
from annokit.predict.onnx_backend import OnnxPredictor
from annokit.predict.preprocess import preprocess_batch
from tests.predict._onnx_models import constant_yolo, identity_model, mean_color_classifier


def _raw(pred: OnnxPredictor, images: list[np.ndarray]) -> np.ndarray:
    outs, _, _ = pred.raw(images)
    return next(iter(outs.values()))


@pytest.mark.parametrize("channels", ["RGB", "BGR"])
def test_preprocessing_reaches_the_network_exactly(tmp_path: Path, channels: str) -> None:
    meta = {"tasks": {"semantic": {"decoder": "segmentation", "outputs": {"scores": "x"},
                                   "labels": {"ids": [0, 1, 2], "names": ["a", "b", "c"]}}},
            "preprocess": {"mean": [0.5, 0.25, 0.1], "std": [0.2, 0.3, 0.4], "channels": channels}}
    model = identity_model(tmp_path / "id.onnx", metadata=meta)
    p = load_predictor("onnx", model=model)
    assert p.task == Task.SEMANTIC and p.labels.names == ["a", "b", "c"]
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = _raw(p, [img])
    src = img[..., ::-1] if channels == "BGR" else img
    want = ((src / 255.0 - np.array(meta["preprocess"]["mean"])) / np.array(meta["preprocess"]["std"]))
    np.testing.assert_allclose(x[0].transpose(1, 2, 0), want, rtol=1e-6, atol=1e-6)
    # the identity "scores" decode to the arg-max channel per pixel, at the image's size
    (pred,) = p.predict([img])
    np.testing.assert_array_equal(pred.label_map, x[0].argmax(0))


def test_letterbox_and_static_input_size(tmp_path: Path) -> None:
    meta = {"tasks": {"semantic": {"decoder": "segmentation", "outputs": {"scores": "x"},
                                   "labels": {"names": ["a", "b", "c"]}}},
            "preprocess": {"resize": "letterbox", "pad_value": 0, "scale": 1.0}}
    model = identity_model(tmp_path / "id.onnx", hw=(8, 8), metadata=meta)
    p = OnnxPredictor(model)
    assert p.preprocess.size == (8, 8)  # from the input's static shape
    img = np.full((4, 8, 3), 200, np.uint8)
    x = _raw(p, [img])[0]
    assert (x[:, :2] == 0).all() and (x[:, 6:] == 0).all() and (x[:, 2:6] == 200).all()
    _, (tf,) = preprocess_batch([img], p.preprocess)
    assert tf.pad_xy == (0, 2) and tf.content_hw == (4, 8)
    (pred,) = p.predict([img])
    assert pred.label_map.shape == (4, 8)


def test_classifier_with_ultralytics_style_metadata(tmp_path: Path) -> None:
    model = mean_color_classifier(tmp_path / "cls.onnx",
                                  {"names": "{0: 'red', 1: 'green', 2: 'blue'}", "task": "classify",
                                   "imgsz": "[16, 16]"})
    p = load_predictor("onnx", model=model)
    assert p.task == Task.CLASSIFICATION and p.labels.names == ["red", "green", "blue"]
    assert p.preprocess.size == (16, 16) and p.preprocess.resize == "letterbox"
    red = np.zeros((30, 20, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((16, 16, 3), np.uint8)
    blue[..., 2] = 255
    a, b = p.predict([red, blue])
    assert a.class_scores.argmax() == 0 and b.class_scores.argmax() == 2
    assert abs(a.class_scores.sum() - 1) < 1e-12 and a.image_hw == (30, 20)


def _xywh_raw(boxes_cxcywh: np.ndarray, cls_scores: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes_cxcywh, cls_scores], axis=1).T[None]  # (1, 4 + C, A): ultralytics layout


def test_yolo_decoder_nms_and_mapping_back(tmp_path: Path) -> None:
    # anchors in a 64x64 letterboxed input; the image is 32x64 (so scale 1, pad 16 rows)
    boxes = np.array([[20, 30, 10, 10], [21, 30, 10, 10], [40, 40, 8, 8], [50, 20, 4, 4]], np.float32)
    scores = np.array([[0.9, 0.1], [0.8, 0.1], [0.05, 0.7], [0.1, 0.2]], np.float32)
    model = constant_yolo(tmp_path / "y.onnx", _xywh_raw(boxes, scores), (64, 64),
                          {"names": "{0: 'a', 1: 'b'}", "task": "detect", "imgsz": "[64, 64]"})
    p = load_predictor("onnx", model=model, score_threshold=0.25)
    (pred,) = p.predict([np.zeros((32, 64, 3), np.uint8)])
    inst = pred.instances
    # anchor 1 is suppressed by anchor 0 (IoU 0.82), anchor 3 is under the threshold
    np.testing.assert_allclose(inst.scores, [0.9, 0.7], rtol=1e-6)
    assert inst.labels.tolist() == [0, 1]
    np.testing.assert_allclose(inst.boxes, [[15, 9, 25, 19], [36, 20, 44, 28]], atol=1e-5)


def test_bad_options_say_what_is_wrong(tmp_path: Path) -> None:
    model = identity_model(tmp_path / "id.onnx")
    with pytest.raises(AnnokitError, match="task"):
        OnnxPredictor(model)
    with pytest.raises(AnnokitError, match="no output named"):
        OnnxPredictor(model, task="semantic", labels=["a"], outputs={"scores": "nope"})
    with pytest.raises(AnnokitError, match="does not make"):
        OnnxPredictor(model, task="semantic", labels=["a"], decoder="yolo")
    with pytest.raises(AnnokitError, match="no such model"):
        OnnxPredictor(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(AnnokitError, match="cannot load"):
        OnnxPredictor(tmp_path / "junk.onnx")
    p = OnnxPredictor(model, task="semantic", labels=["a", "b", "c"], preprocess=Preprocess(scale=1.0))
    assert p.preprocess.scale == 1.0
    with pytest.raises(AnnokitError, match=r"images\[0\]"):
        p.predict([np.zeros((4, 4), np.uint8)])
    assert json.loads(json.dumps(p.labels.names)) == ["a", "b", "c"]
