"""Optional checks that need things CI does not install: torchvision, a real ImageNet classifier, or a package
from PyPI that ships real pretrained weights.

Each skips with the reason when what it needs is absent; none is required.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from annokit.predict import Task, load_image, load_predictor

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_imagenet_onnx_classifier_calls_chelsea_a_cat() -> None:
    """Set ANNOKIT_IMAGENET_ONNX to an ImageNet-1k classifier exported to ONNX (1000 logits, 224x224 NCHW,
    ImageNet mean/std), e.g. torchvision's mobilenet_v3_small with its released weights."""
    pytest.importorskip("onnxruntime")
    path = os.environ.get("ANNOKIT_IMAGENET_ONNX")
    if not path or not Path(path).is_file():
        pytest.skip("no ImageNet classifier: set ANNOKIT_IMAGENET_ONNX to a .onnx file to run this check")
    p = load_predictor("onnx", model=path, task="classification", labels=[str(i) for i in range(1000)],
                       preprocess={"size": [224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
    (pred,) = p.predict([load_image(SAMPLE / "cat" / "chelsea.png")])
    assert int(pred.class_scores.argmax()) in IMAGENET_CATS


def test_real_pretrained_cnn_shipped_on_pypi_reads_text_direction() -> None:
    """PaddleOCR's text-direction classifier (a pretrained MobileNetV3, 0.6 MB of ONNX) ships inside the
    ``rapidocr_onnxruntime`` wheel (``pip install rapidocr_onnxruntime``; only its model file is used here). Run
    through the onnx backend with its published preprocessing (48x192, ``(x / 255 - 0.5) / 0.5``, BGR, labels
    ``0`` / ``180``), it must tell rendered text lines from the same lines turned upside down."""
    pytest.importorskip("onnxruntime")
    from PIL import Image, ImageDraw, ImageFont

    spec = importlib.util.find_spec("rapidocr_onnxruntime")  # located, not imported (it would import OpenCV)
    model = Path(spec.origin).parent / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx" if spec and spec.origin \
        else None
    if model is None or not model.is_file():
        pytest.skip("no real pretrained CNN from PyPI: pip install rapidocr_onnxruntime to run this check")
    try:
        font = ImageFont.load_default(size=30)
    except (TypeError, OSError):
        pytest.skip("this Pillow has no scalable default font to render the text with")
    p = load_predictor("onnx", model=model, task="classification", decoder="softmax", labels=["0", "180"],
                       preprocess={"size": [48, 192], "mean": [0.5] * 3, "std": [0.5] * 3, "channels": "BGR"},
                       activation="none")  # the exported graph ends in a softmax
    images = []
    for text in ("Hello world", "annokit 2026", "Pascal VOC", "scores"):
        im = Image.new("RGB", (192, 48), "white")
        ImageDraw.Draw(im).text((6, 6), text, fill="black", font=font)
        a = np.asarray(im)
        images += [a, np.ascontiguousarray(a[::-1, ::-1])]
    got = [int(pred.class_scores.argmax()) for pred in p.predict(images)]
    assert got == [0, 1] * 4


@pytest.fixture
def torchvision():
    return pytest.importorskip("torchvision", reason="the torchvision backend needs torchvision (optional extra)")


def test_torchvision_classifier_from_a_local_state_dict(torchvision, tmp_path: Path) -> None:
    import torch

    net = torchvision.models.get_model("resnet18", weights=None, num_classes=5)
    torch.save(net.state_dict(), tmp_path / "r18.pth")
    p = load_predictor("torchvision", model="resnet18", weights=tmp_path / "r18.pth", num_classes=5,
                       labels=list("abcde"))
    assert p.task == Task.CLASSIFICATION
    (pred,) = p.predict([load_image(SAMPLE / "cat" / "chelsea.png")])
    assert pred.class_scores.shape == (5,) and abs(pred.class_scores.sum() - 1) < 1e-6


def test_torchvision_detector_from_a_local_state_dict(torchvision, tmp_path: Path) -> None:
    import torch

    net = torchvision.models.get_model("fasterrcnn_mobilenet_v3_large_320_fpn", weights=None,
                                       weights_backbone=None, num_classes=4)
    torch.save(net.state_dict(), tmp_path / "det.pth")
    p = load_predictor("torchvision", model="fasterrcnn_mobilenet_v3_large_320_fpn", weights=tmp_path / "det.pth",
                       num_classes=4, labels=["bg", "circle", "square", "triangle"], score_threshold=0.0)
    img = load_image(SAMPLE / "scenes" / "images" / "scene_001.png")
    (pred,) = p.predict([img])
    assert pred.task == Task.DETECTION and pred.image_hw == img.shape[:2]
    b = pred.instances.boxes
    assert (b[:, 2] <= img.shape[1]).all() and (b[:, 3] <= img.shape[0]).all() and np.isfinite(b).all()
