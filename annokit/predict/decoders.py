"""Named output decoders: raw network outputs -> :class:`~annokit.predict.base.Prediction` per image.

Each decoder takes the batch's outputs by *role* (``{"logits": array}``, ``{"heatmap": ..., "wh": ...}``), the
per-image :class:`~annokit.predict.preprocess.Transform`, the network input size, the label set and its options.

==================  ==============  =========================================================================
name                task            outputs (roles)
==================  ==============  =========================================================================
``softmax``         classification  ``logits`` ``(N, C)``; option ``activation``: softmax | sigmoid | none
``segmentation``    semantic        ``scores`` ``(N, C, h, w)`` per-pixel class scores at any stride
``centernet``       detection       ``heatmap`` ``(N, C, h, w)`` (after sigmoid), ``wh`` ``(N, 2, h, w)``
                    (instance)      (input pixels), optional ``offset`` ``(N, 2, h, w)``; for instance masks
                                    ``masks_from``: per-pixel class scores ``(N, K, h', w')``
``yolo``            detection       ``boxes`` ``(N, A, 4 + C)`` or ``(N, 4 + C, A)`` (cx, cy, w, h in input
                                    pixels, then class scores); option ``objectness`` for ``(N, A, 5 + C)``
==================  ==============  =========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from annokit.core.boxes import box_iou
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.masks import rles_from_runs
from annokit.errors import ValidationError
from annokit.predict.base import Prediction, Task
from annokit.predict.preprocess import Transform, boxes_to_original, upsampled_argmax

__all__ = ["DECODERS", "DECODER_TASKS", "nms", "decode"]

Decoder = Callable[..., list[Prediction]]
DECODERS: dict[str, Decoder] = {}
DECODER_TASKS: dict[str, tuple[Task, ...]] = {}


def _register(name: str, *tasks: Task) -> Callable[[Decoder], Decoder]:
    def deco(fn: Decoder) -> Decoder:
        DECODERS[name] = fn
        DECODER_TASKS[name] = tasks
        return fn

    return deco


def _need(outputs: Mapping[str, np.ndarray], role: str, ndim: int, decoder: str) -> np.ndarray:
    if role not in outputs:
        raise ValidationError(f"decoder {decoder!r} needs an output for {role!r}")
    a = np.asarray(outputs[role])
    if a.ndim != ndim:
        raise ValidationError(f"decoder {decoder!r}: output {role!r} should have {ndim} dimensions, got {a.shape}")
    return a


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, classes: np.ndarray | None = None) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, by descending score (ties keep the earlier box).

    ``boxes``: ``(N, 4)`` ltrb; ``classes``: ``(N,)`` -- when given, boxes of different classes never suppress
    each other.
    """
    order = np.argsort(-scores, kind="stable")
    b = boxes[order]
    if classes is not None and len(b):
        off = (classes[order].astype(np.float64) * (np.abs(b).max() + 1))[:, None]
        b = b + off
    keep: list[int] = []
    alive = np.ones(len(order), bool)
    iou = box_iou(b, b) if len(b) <= 4096 else None
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(int(order[i]))
        row = iou[i, i + 1:] if iou is not None else box_iou(b[i:i + 1], b[i + 1:])[0]
        alive[i + 1:] &= row <= iou_threshold
    return np.asarray(keep, dtype=np.int64)


def _instances(boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray, segs: list | None = None) -> Instances:
    """Detections of one image. Decoders check a whole batch at once (:func:`_check_boxes`), so the per-image
    model is assembled without re-validating each column (every default column is filled here)."""
    n = len(scores)
    b = np.ascontiguousarray(boxes, dtype=np.float64).reshape(n, 4)
    return Instances.model_construct(
        image_ids=np.zeros(n, np.int64), boxes=b, labels=np.asarray(labels, np.int64),
        scores=np.asarray(scores, np.float64), iscrowd=np.zeros(n, bool),
        area=(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), ids=np.arange(1, n + 1, dtype=np.int64),
        segmentations=segs)


def _check_boxes(boxes: np.ndarray, scores: np.ndarray, decoder: str) -> None:
    """The network's numbers must be finite (a NaN box would poison every metric downstream)."""
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValidationError(f"decoder {decoder!r}: the network produced non-finite boxes or scores")


# ------------------------------------------------------------------------------------------------ decoders
@_register("softmax", Task.CLASSIFICATION)
def decode_softmax(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                   labels: LabelSet, *, activation: str = "softmax", **_: Any) -> list[Prediction]:
    logits = _need(outputs, "logits", 2, "softmax").astype(np.float64)
    if logits.shape[1] != len(labels):
        raise ValidationError(f"decoder 'softmax': {logits.shape[1]} scores per image but {len(labels)} labels")
    if activation == "softmax":
        p = _softmax(logits, 1)
    elif activation == "sigmoid":
        p = 1 / (1 + np.exp(-logits))
    elif activation == "none":
        p = logits
    else:
        raise ValidationError(f"decoder 'softmax': activation must be softmax, sigmoid or none, not {activation!r}")
    return [Prediction.model_construct(task=Task.CLASSIFICATION, image_hw=tf.image_hw, class_scores=p[i],
                                       instances=None, label_map=None) for i, tf in enumerate(tfs)]


def _label_dtype(ids: np.ndarray) -> type:
    return np.uint8 if ids.min(initial=0) >= 0 and ids.max(initial=0) < 256 else np.int32


@_register("segmentation", Task.SEMANTIC)
def decode_segmentation(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                        labels: LabelSet, *, channels_last: bool = False, **_: Any) -> list[Prediction]:
    scores = _need(outputs, "scores", 4, "segmentation")
    if channels_last:
        scores = scores.transpose(0, 3, 1, 2)
    if scores.shape[1] != len(labels):
        raise ValidationError(f"decoder 'segmentation': {scores.shape[1]} score channels but {len(labels)} labels")
    if not np.isfinite(scores).all():
        raise ValidationError("decoder 'segmentation': the network produced non-finite scores")
    ids = np.asarray(labels.ids)
    ids = ids.astype(_label_dtype(ids))
    identity = bool((ids == np.arange(len(ids))).all()) and len(ids) <= 256
    if len(tfs) > 1 and all(tf == tfs[0] for tf in tfs):
        idx_all = upsampled_argmax(scores, tfs[0], input_hw)  # one pass for a batch of equal geometry
    else:
        idx_all = [upsampled_argmax(scores[i], tf, input_hw) for i, tf in enumerate(tfs)]
    out = []
    for idx, tf in zip(idx_all, tfs):
        lab = idx.astype(ids.dtype, copy=False) if identity else np.take(ids, idx)
        out.append(Prediction.model_construct(task=Task.SEMANTIC, image_hw=tf.image_hw, label_map=lab,
                                              instances=None, class_scores=None))
    return out


_DY = np.array([-1, -1, -1, 0, 0, 1, 1, 1])
_DX = np.array([-1, 0, 1, -1, 1, -1, 0, 1])


def _peaks_above(heat: np.ndarray, threshold: float) -> np.ndarray:
    """Flat indices into ``heat`` ``(..., h, w)``, ascending, of the values above ``threshold`` that are the maximum
    of their 3x3 neighbourhood (ties count as maxima; a NaN neighbour disqualifies).

    The threshold is applied first: few cells pass it, and only their eight neighbours are looked at.
    """
    h, w = heat.shape[-2:]
    flat = heat.reshape(-1)
    idx = np.flatnonzero(flat > threshold)
    y = (idx // w) % h
    x = idx % w
    # the eight neighbours of every candidate at once; one outside the map is the candidate itself
    ny = y[None, :] + _DY[:, None]
    nx = x[None, :] + _DX[:, None]
    inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    nb = np.where(inside, idx[None, :] + (_DY * w + _DX)[:, None], idx[None, :])
    ok = (flat[nb] <= flat[idx]).all(0)
    return idx[ok]


def _masks_in_boxes(lab: np.ndarray, img: np.ndarray, boxes: np.ndarray, labels: np.ndarray) -> list[dict]:
    """Per detection ``j``: the pixels of label map ``lab[img[j]]`` inside its box (those whose centres are) that
    carry label ``labels[j]``, as compressed RLE -- the same bytes as ``pycocotools.mask.encode`` of those bitmaps.

    ``lab``: ``(N, H, W)`` small non-negative integers (``labels`` in the same numbering; values absent from the
    map give empty masks). No bitmap is made: the maps' column runs (COCO RLE is column-major) are cut to each
    box's rows and columns, for all detections together.
    """
    n, h, w = lab.shape
    k = len(boxes)
    if k == 0:
        return []
    v = int(lab.max()) + 1
    edges = np.floor(np.asarray(boxes, np.float64) + 0.5).astype(np.int64)
    x0, y0, x1, y1 = edges.T
    x1 = np.maximum(x1, x0)
    # the runs of equal values down every column of every map: column g = image * W + x, rows [top, bottom)
    cols = np.ascontiguousarray(lab.transpose(0, 2, 1)).reshape(n * w * h)
    change = np.empty(cols.shape, bool)
    change[0] = True
    np.not_equal(cols[1:], cols[:-1], out=change[1:])
    change[::h] = True  # every column starts a run
    at = np.flatnonzero(change)  # ordered by column, then row
    g = at // h
    top = at - g * h
    bottom = np.empty_like(top)
    bottom[:-1] = top[1:]
    bottom[:-1][top[1:] == 0] = h  # a run followed by a column's first run ends at the column's end
    bottom[-1] = h
    # group the runs by (image, value); within a group they stay ordered by column, so each detection's runs
    # (its image, its label, its columns) are one slice
    group = (g // w) * v + cols[at]
    order = np.argsort(group.astype(np.uint16) if n * v < 65536 else group, kind="stable")
    key = group[order] * w + g[order] % w
    top, bottom, x = top[order], bottom[order], g[order] % w
    lab_j = np.asarray(labels, np.int64)
    base = (np.asarray(img, np.int64) * v + np.clip(lab_j, 0, v - 1)) * w
    lo = np.searchsorted(key, base + x0)
    hi = np.where((lab_j >= 0) & (lab_j < v), np.searchsorted(key, base + x1), lo)
    cnt = hi - lo
    owner = np.repeat(np.arange(k), cnt)
    run = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(lo, cnt)
    a = np.maximum(top[run], y0[owner])
    b = np.minimum(bottom[run], y1[owner])
    keep = a < b
    owner, run, a, b = owner[keep], run[keep], a[keep], b[keep]
    xr = x[run] * h
    return rles_from_runs(owner, xr + a, xr + b, k, h, w)


@_register("centernet", Task.DETECTION, Task.INSTANCE)
def decode_centernet(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                     labels: LabelSet, *, task: Task = Task.DETECTION, score_threshold: float = 0.05,
                     max_detections: int = 100, heatmap_activation: str = "none",
                     mask_labels: Sequence[int] | None = None, **_: Any) -> list[Prediction]:
    heat = _need(outputs, "heatmap", 4, "centernet")
    wh = _need(outputs, "wh", 4, "centernet")
    off = outputs.get("offset")
    if heat.shape[1] != len(labels):
        raise ValidationError(f"decoder 'centernet': {heat.shape[1]} heat-map channels but {len(labels)} labels")
    if heatmap_activation == "sigmoid":
        heat = 1 / (1 + np.exp(-heat))
    n, c, h, w = heat.shape
    stride_x, stride_y = input_hw[1] / w, input_hw[0] / h
    ids = np.asarray(labels.ids)
    seg = outputs.get("masks_from") if task == Task.INSTANCE else None
    if task == Task.INSTANCE and seg is None:
        raise ValidationError("decoder 'centernet': instance masks need an output for 'masks_from'")
    peaks = _peaks_above(heat, score_threshold)
    img, cand = np.divmod(peaks, c * h * w)
    score = heat.reshape(-1)[peaks]
    order = np.lexsort((-score, img))  # by image, then descending score (ties: index order)
    img, cand, score = img[order], cand[order], score[order]
    bounds = np.searchsorted(img, np.arange(n + 1))
    rank = np.arange(len(img)) - bounds[img]
    top = rank < max_detections
    img, cand, score = img[top], cand[top], score[top]
    bounds = np.searchsorted(img, np.arange(n + 1))
    cls, rem = np.divmod(cand, h * w)
    y, x = np.divmod(rem, w)
    ox = off[img, 0, y, x] if off is not None else np.full(len(cand), 0.5)
    oy = off[img, 1, y, x] if off is not None else np.full(len(cand), 0.5)
    cx, cy = (x + ox) * stride_x, (y + oy) * stride_y
    bw, bh = wh[img, 0, y, x], wh[img, 1, y, x]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float64)
    _check_boxes(boxes, score, "centernet")
    # back to original pixels, every image's transform at once
    sxy = np.array([[tf.scale_xy[0], tf.scale_xy[1]] for tf in tfs], np.float64)[img]
    pxy = np.array([[tf.pad_xy[0], tf.pad_xy[1]] for tf in tfs], np.float64)[img]
    hw_img = np.array([[tf.image_hw[1], tf.image_hw[0]] for tf in tfs], np.float64)[img]
    boxes = (boxes - np.tile(pxy, 2)) / np.tile(sxy, 2)
    boxes = np.clip(boxes, 0, np.tile(hw_img, 2))
    labs = ids[cls]
    masks = None
    if seg is not None:
        if not np.isfinite(seg).all():
            raise ValidationError("decoder 'centernet': the network produced non-finite mask scores")
        # the label map in channel positions; a detection's label becomes the channel(s) that carry it
        ml = np.arange(seg.shape[1]) if mask_labels is None else np.asarray(mask_labels)
        if len(ml) != seg.shape[1]:
            raise ValidationError(f"decoder 'centernet': {len(ml)} mask labels for {seg.shape[1]} score channels")
        kinds, channel_kind = np.unique(ml, return_inverse=True)
        channel_kind = channel_kind.reshape(-1).astype(np.uint8 if len(kinds) <= 256 else np.int64)
        pos = np.minimum(np.searchsorted(kinds, labs), len(kinds) - 1)
        det_kind = np.where(kinds[pos] == labs, pos, -1)  # -1: no channel carries the label (empty masks)
        same_kinds = len(kinds) == len(ml) and bool((kinds == ml).all())
        if all(tf == tfs[0] for tf in tfs):  # one pass for a batch of equal geometry
            idx = upsampled_argmax(seg, tfs[0], input_hw)
            masks = _masks_in_boxes(idx if same_kinds else np.take(channel_kind, idx), img, boxes, det_kind)
        else:
            masks = []
            for i, tf in enumerate(tfs):
                a, b = bounds[i], bounds[i + 1]
                idx = upsampled_argmax(seg[i], tf, input_hw)[None]
                masks += _masks_in_boxes(idx if same_kinds else np.take(channel_kind, idx),
                                         np.zeros(b - a, np.int64), boxes[a:b], det_kind[a:b])
    out = []
    for i, tf in enumerate(tfs):
        a, b = bounds[i], bounds[i + 1]
        segs = masks[a:b] if masks is not None else None
        inst = _instances(boxes[a:b], labs[a:b], score[a:b].astype(np.float64), segs)
        out.append(Prediction.model_construct(task=task, image_hw=tf.image_hw, instances=inst, label_map=None,
                                              class_scores=None))
    return out


@_register("yolo", Task.DETECTION)
def decode_yolo(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                labels: LabelSet, *, score_threshold: float = 0.25, iou_threshold: float = 0.45,
                max_detections: int = 300, objectness: bool = False, box_format: str = "cxcywh",
                class_agnostic: bool = False, **_: Any) -> list[Prediction]:
    raw = _need(outputs, "boxes", 3, "yolo").astype(np.float32)
    k = 4 + int(objectness) + len(labels)
    if raw.shape[2] != k and raw.shape[1] == k:
        raw = raw.transpose(0, 2, 1)  # ultralytics exports (N, 4 + C, anchors)
    if raw.shape[2] != k:
        raise ValidationError(f"decoder 'yolo': expected {k} values per anchor (4 box"
                              f"{', 1 objectness' if objectness else ''}, {len(labels)} classes), got {raw.shape}")
    ids = np.asarray(labels.ids)
    out = []
    for i, tf in enumerate(tfs):
        r = raw[i]
        cls_scores = r[:, 4 + int(objectness):]
        if objectness:
            cls_scores = cls_scores * r[:, 4:5]
        cls = cls_scores.argmax(1)
        score = cls_scores[np.arange(len(r)), cls]
        keep = np.flatnonzero(score > score_threshold)
        b = r[keep, :4].astype(np.float64)
        if box_format == "cxcywh":
            b = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2,
                          b[:, 1] + b[:, 3] / 2], axis=1)
        elif box_format != "ltrb":
            raise ValidationError(f"decoder 'yolo': box_format must be cxcywh or ltrb, not {box_format!r}")
        b = np.maximum(b.reshape(-1, 4), 0)
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
        sel = nms(b, score[keep], iou_threshold, None if class_agnostic else cls[keep])[:max_detections]
        boxes = boxes_to_original(b[sel], tf)
        _check_boxes(boxes, score[keep][sel], "yolo")
        inst = _instances(boxes, ids[cls[keep][sel]], score[keep][sel].astype(np.float64))
        out.append(Prediction.model_construct(task=Task.DETECTION, image_hw=tf.image_hw, instances=inst,
                                              label_map=None, class_scores=None))
    return out


def decode(name: str, outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
           labels: LabelSet, **options: Any) -> list[Prediction]:
    """Run the decoder ``name`` (see the table above)."""
    if name not in DECODERS:
        raise ValidationError(f"unknown decoder {name!r}; known: {', '.join(sorted(DECODERS))}")
    return DECODERS[name](outputs, tfs, input_hw, labels, **options)
