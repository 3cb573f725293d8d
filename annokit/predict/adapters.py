"""Turn other frameworks' outputs into :class:`~annokit.predict.base.Prediction` without importing them.

Tensors are read through ``.detach().cpu().numpy()`` when they have it, so torch tensors, numpy arrays and lists
all work, and neither torch, torchvision nor ultralytics is imported here.

* torchvision detection models (Faster R-CNN, RetinaNet, FCOS, SSD, Mask R-CNN) return, per image, a dict with
  ``boxes`` ``(N, 4)`` x1 y1 x2 y2 in the input image's pixels, ``labels`` ``(N,)`` int64, ``scores`` ``(N,)`` and,
  for Mask R-CNN, ``masks`` ``(N, 1, H, W)`` probabilities;
* torchvision segmentation models return ``{"out": (N, C, h, w), "aux": ...}``; classifiers ``(N, C)`` logits;
* an ultralytics ``Results`` has ``orig_shape`` (h, w), ``names`` ``{index: name}``, ``boxes`` (``xyxy``,
  ``conf``, ``cls``), ``masks`` (``xy``: polygons in original pixels) and ``probs`` (``data``).

>>> out = {"boxes": [[10, 20, 50, 60]], "labels": [3], "scores": [0.9]}
>>> from_torchvision_detection(out, (100, 120)).instances.boxes.tolist()
[[10.0, 20.0, 50.0, 60.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.errors import ValidationError
from annokit.predict.base import Prediction, Task
from annokit.predict.preprocess import Transform, resize_scores

__all__ = [
    "to_numpy",
    "from_torchvision_detection",
    "from_torchvision_classification",
    "from_torchvision_segmentation",
    "from_ultralytics",
    "labels_from_ultralytics",
]


def to_numpy(x: Any) -> np.ndarray:
    """A torch tensor (any device), a numpy array or a nested list -> numpy array."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def _clip(boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    b = boxes.astype(np.float64).reshape(-1, 4)
    b[:, 0::2] = np.clip(b[:, 0::2], 0, image_hw[1])
    b[:, 1::2] = np.clip(b[:, 1::2], 0, image_hw[0])
    b[:, 2] = np.maximum(b[:, 2], b[:, 0])
    b[:, 3] = np.maximum(b[:, 3], b[:, 1])
    return b


def from_torchvision_detection(output: Mapping[str, Any], image_hw: tuple[int, int], *,
                               score_threshold: float = 0.0, mask_threshold: float = 0.5,
                               task: Task | str | None = None) -> Prediction:
    """One image's torchvision detection dict -> a detection (or, with ``masks``, instance) prediction.

    ``image_hw`` is the size of the image given to the model (torchvision maps boxes back to it). Masks are
    thresholded at ``mask_threshold`` (torchvision's convention, 0.5) and stored as compressed RLE.
    """
    for key in ("boxes", "labels", "scores"):
        if key not in output:
            raise ValidationError(f"torchvision output: missing {key!r} (keys: {sorted(output)})")
    boxes = to_numpy(output["boxes"]).astype(np.float64).reshape(-1, 4)
    labels = to_numpy(output["labels"]).astype(np.int64).reshape(-1)
    scores = to_numpy(output["scores"]).astype(np.float64).reshape(-1)
    if not len(boxes) == len(labels) == len(scores):
        raise ValidationError(f"torchvision output: {len(boxes)} boxes, {len(labels)} labels, {len(scores)} scores")
    keep = scores >= score_threshold
    task = Task(task) if task is not None else (Task.INSTANCE if "masks" in output else Task.DETECTION)
    segs: list[Any] | None = None
    if task == Task.INSTANCE:
        if "masks" not in output:
            raise ValidationError("torchvision output: instance predictions need 'masks'")
        from annokit.core.masks import bitmap_to_rle

        masks = to_numpy(output["masks"])
        if masks.ndim == 4:
            masks = masks[:, 0]
        if masks.shape[1:] != tuple(image_hw):
            raise ValidationError(f"torchvision output: masks are {masks.shape[1:]}, the image is {tuple(image_hw)}")
        segs = [bitmap_to_rle(masks[i] >= mask_threshold) for i in np.flatnonzero(keep)]
    inst = Instances.for_one_image(_clip(boxes[keep], image_hw), labels[keep], scores[keep], segmentations=segs)
    return Prediction(task=task, image_hw=image_hw, instances=inst)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    out: np.ndarray = e / e.sum()
    return out


def from_torchvision_classification(logits: Any, image_hw: tuple[int, int], *, softmax: bool = True) -> Prediction:
    """One image's ``(C,)`` (or ``(1, C)``) logits -> class scores (softmax unless ``softmax=False``)."""
    x = to_numpy(logits).astype(np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise ValidationError(f"classifier output: expected (C,) logits, got {x.shape}")
    return Prediction(task=Task.CLASSIFICATION, image_hw=image_hw, class_scores=_softmax(x) if softmax else x)


def from_torchvision_segmentation(output: Any, image_hw: tuple[int, int], *,
                                  label_ids: Sequence[int] | np.ndarray | None = None) -> Prediction:
    """One image's scores (``{"out": (C, h, w)}``, or the array) -> a label map of ``image_hw``.

    Scores at another resolution than the image are resampled bilinearly first (half-pixel centres).
    ``label_ids``: the label id of each channel (default ``0..C-1``).
    """
    s = output["out"] if isinstance(output, Mapping) else output
    s = to_numpy(s).astype(np.float32)
    if s.ndim == 4 and s.shape[0] == 1:
        s = s[0]
    if s.ndim != 3:
        raise ValidationError(f"segmentation output: expected (C, h, w) scores, got {s.shape}")
    if s.shape[1:] != tuple(image_hw):
        hw = (int(image_hw[0]), int(image_hw[1]))
        sh = (int(s.shape[1]), int(s.shape[2]))
        tf = Transform(hw, (sh[1] / hw[1], sh[0] / hw[0]), (0, 0), sh)
        s = resize_scores(s, tf, sh)
    ids = np.arange(s.shape[0]) if label_ids is None else np.asarray(label_ids)
    if len(ids) != s.shape[0]:
        raise ValidationError(f"segmentation output: {s.shape[0]} channels but {len(ids)} label ids")
    lab = ids[s.argmax(0)]
    lab = lab.astype(np.uint8 if ids.min() >= 0 and ids.max() < 256 else np.int32)
    return Prediction(task=Task.SEMANTIC, image_hw=image_hw, label_map=lab)


def labels_from_ultralytics(names: Mapping[int, str] | Sequence[str]) -> LabelSet:
    """ultralytics' ``names`` (``{0: 'person', ...}``) -> a :class:`LabelSet` with the same ids."""
    items = sorted((int(k), str(v)) for k, v in names.items()) if isinstance(names, Mapping) else list(
        enumerate(names))
    return LabelSet(ids=np.asarray([k for k, _ in items], np.int64), names=[v for _, v in items])


def from_ultralytics(result: Any, *, score_threshold: float = 0.0, task: Task | str | None = None) -> Prediction:
    """One ultralytics ``Results`` -> a prediction; the label ids are ultralytics' class indices.

    Classification reads ``probs.data``; detection ``boxes.xyxy/conf/cls`` (original pixels); instance
    segmentation also ``masks.xy`` (polygons in original pixels, rasterized as pycocotools does).
    """
    h, w = (int(v) for v in result.orig_shape)
    probs = getattr(result, "probs", None)
    boxes = getattr(result, "boxes", None)
    masks = getattr(result, "masks", None)
    if task is None:
        task = Task.CLASSIFICATION if probs is not None and boxes is None else (
            Task.INSTANCE if masks is not None else Task.DETECTION)
    task = Task(task)
    if task == Task.CLASSIFICATION:
        if probs is None:
            raise ValidationError("ultralytics result: no 'probs' for a classification prediction")
        return Prediction(task=task, image_hw=(h, w), class_scores=to_numpy(getattr(probs, "data", probs)))
    if boxes is None:
        raise ValidationError("ultralytics result: no 'boxes' for a detection prediction")
    xyxy = to_numpy(boxes.xyxy).astype(np.float64).reshape(-1, 4)
    conf = to_numpy(boxes.conf).astype(np.float64).reshape(-1)
    cls = to_numpy(boxes.cls).reshape(-1)
    if not np.all(cls == np.round(cls)):
        raise ValidationError("ultralytics result: class indices are not integers")
    keep = conf >= score_threshold
    segs: list[Any] | None = None
    if task == Task.INSTANCE:
        if masks is None:
            raise ValidationError("ultralytics result: no 'masks' for an instance prediction")
        from annokit.core.masks import polygons_to_rle

        polys = list(masks.xy)
        if len(polys) != len(xyxy):
            raise ValidationError(f"ultralytics result: {len(polys)} masks for {len(xyxy)} boxes")
        segs = []
        for i in np.flatnonzero(keep):
            p = to_numpy(polys[i]).astype(np.float64).reshape(-1, 2)
            segs.append(polygons_to_rle([p.reshape(-1).tolist()] if len(p) >= 3 else [], h, w))
    inst = Instances.for_one_image(_clip(xyxy[keep], (h, w)), cls[keep].astype(np.int64), conf[keep],
                                   segmentations=segs)
    return Prediction(task=task, image_hw=(h, w), instances=inst)
