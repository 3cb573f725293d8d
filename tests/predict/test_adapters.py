"""Adapters from torchvision / ultralytics outputs, on outputs of the documented shapes.

torchvision and ultralytics are not needed: torchvision's outputs are plain dicts of tensors (built here with
numpy, and with torch when it is installed); an ultralytics ``Results`` is read through the attributes its
documentation names (``orig_shape``, ``names``, ``boxes.xyxy/conf/cls``, ``masks.xy``, ``probs.data``), which a
stand-in object provides here because ultralytics itself is not installed.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from annokit.core.masks import polygons_to_rle, rle_area, rle_to_bitmap
from annokit.errors import ValidationError
from annokit.predict import Task
from annokit.predict.adapters import (
    from_torchvision_classification,
    from_torchvision_detection,
    from_torchvision_segmentation,
    from_ultralytics,
    labels_from_ultralytics,
    to_numpy,
)


def _tv_detection(xp=np):
    rng = np.random.default_rng(0)
    masks = rng.random((3, 1, 20, 30)).astype(np.float32)
    out = {"boxes": np.array([[1, 2, 10, 12], [5, 5, 40, 8], [0, 0, 3, 3]], np.float32),
           "labels": np.array([1, 18, 3]), "scores": np.array([0.9, 0.5, 0.01], np.float32), "masks": masks}
    if xp is not np:
        out = {k: xp.from_numpy(v) for k, v in out.items()}
    return out, masks


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_torchvision_detection_and_masks(backend: str) -> None:
    xp = np if backend == "numpy" else pytest.importorskip("torch", reason="torch tensors need torch")
    out, masks = _tv_detection(xp)
    p = from_torchvision_detection(out, (20, 30), score_threshold=0.05)
    assert p.task == Task.INSTANCE
    inst = p.instances
    assert inst.labels.tolist() == [1, 18] and inst.scores.dtype == np.float64
    np.testing.assert_allclose(inst.boxes, [[1, 2, 10, 12], [5, 5, 30, 8]])  # clipped to the 30-px width
    for k in range(2):
        np.testing.assert_array_equal(rle_to_bitmap(inst.segmentations[k]), masks[k, 0] >= 0.5)
    d = from_torchvision_detection(out, (20, 30), task="detection")
    assert d.task == Task.DETECTION and d.instances.segmentations is None and len(d.instances) == 3


def test_torchvision_detection_errors() -> None:
    with pytest.raises(ValidationError, match="missing 'scores'"):
        from_torchvision_detection({"boxes": [], "labels": []}, (4, 4))
    out, _ = _tv_detection()
    with pytest.raises(ValidationError, match="masks are"):
        from_torchvision_detection(out, (21, 30))


def test_torchvision_classification_and_segmentation() -> None:
    p = from_torchvision_classification(np.array([[0.0, np.log(3.0)]]), (5, 5))
    np.testing.assert_allclose(p.class_scores, [0.25, 0.75])
    s = np.zeros((1, 3, 4, 6), np.float32)
    s[0, 2, :, 3:] = 1
    s[0, 1, :, :3] = 1
    m = from_torchvision_segmentation({"out": s, "aux": s}, (4, 6), label_ids=[0, 7, 9])
    assert m.label_map.tolist() == [[7, 7, 7, 9, 9, 9]] * 4
    big = from_torchvision_segmentation(s[0], (8, 12))  # scores at half resolution are resampled
    assert big.label_map.shape == (8, 12) and (big.label_map[:, :5] == 1).all() and (big.label_map[:, 7:] == 2).all()


def _ultra_result(task: str):
    xy = [np.array([[2.0, 2], [20, 2], [20, 10], [2, 10]]), np.array([[30.0, 30], [35, 30], [33, 38]])]
    boxes = SimpleNamespace(xyxy=np.array([[2, 2, 20, 10], [30, 30, 35, 38]], np.float32),
                            conf=np.array([0.8, 0.3], np.float32), cls=np.array([0.0, 2.0], np.float32))
    names = {0: "person", 1: "bicycle", 2: "car"}
    if task == "classify":
        return SimpleNamespace(orig_shape=(40, 50), names=names, boxes=None, masks=None,
                               probs=SimpleNamespace(data=np.array([0.1, 0.7, 0.2], np.float32)))
    masks = SimpleNamespace(xy=xy) if task == "segment" else None
    return SimpleNamespace(orig_shape=(40, 50), names=names, boxes=boxes, masks=masks, probs=None)


def test_ultralytics_results() -> None:
    r = _ultra_result("segment")
    ls = labels_from_ultralytics(r.names)
    assert ls.ids.tolist() == [0, 1, 2] and ls.names[2] == "car"
    p = from_ultralytics(r)
    assert p.task == Task.INSTANCE and p.image_hw == (40, 50)
    assert p.instances.labels.tolist() == [0, 2]
    want = polygons_to_rle([r.masks.xy[0].reshape(-1).tolist()], 40, 50)
    assert rle_area([p.instances.segmentations[0]])[0] == rle_area([want])[0] > 0
    d = from_ultralytics(_ultra_result("detect"), score_threshold=0.5)
    assert d.task == Task.DETECTION and len(d.instances) == 1
    c = from_ultralytics(_ultra_result("classify"))
    assert c.task == Task.CLASSIFICATION and c.class_scores.argmax() == 1


def test_adapters_import_no_framework() -> None:
    assert "ultralytics" not in sys.modules
    assert to_numpy([[1, 2]]).shape == (1, 2)
