"""Named output decoders: raw network outputs -> :class:`~annokit.predict.base.Prediction` per image.

Each decoder takes the batch's outputs by *role* (``{"logits": array}``, ``{"heatmap": ..., "wh": ...}``), the
per-image :class:`~annokit.predict.preprocess.Transform`, the network input size, the label set and its options
(a typed :class:`~annokit.predict.options.Options` model per decoder: an unknown or misspelt option is an error).

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

The building blocks the decoders are made of are public (and gathered in :mod:`annokit.predict.blocks`):
:func:`nms`, :func:`yolo_detections`, :func:`centernet_detections` (raw arrays -> boxes in network-input pixels,
scores, class indices) and :func:`detections_to_original`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from annokit.core.boxes import box_iou
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.masks import RLE, rles_from_runs
from annokit.errors import ValidationError
from annokit.predict.base import Prediction, Task
from annokit.predict.options import OptionError, Options, parse_options
from annokit.predict.preprocess import Transform, upsampled_argmax

__all__ = ["DECODERS", "DecoderSpec", "Detections", "SoftmaxOptions", "SegmentationOptions", "CenterNetOptions",
           "YoloOptions", "nms", "yolo_detections", "centernet_detections", "detections_to_original", "decode",
           "decoder_options"]

# ------------------------------------------------------------------------------------------- decoder options
class SoftmaxOptions(Options):
    """``softmax`` (classification): ``activation`` turns logits into scores (``none``: the outputs as they are)."""

    activation: Literal["softmax", "sigmoid", "none"] = "softmax"


class SegmentationOptions(Options):
    """``segmentation`` (semantic): ``channels_last`` when the scores are ``(N, h, w, C)``."""

    channels_last: bool = False


class CenterNetOptions(Options):
    """``centernet`` (detection, instance): peaks above ``score_threshold``, at most ``max_detections`` per image;
    ``heatmap_activation`` ``sigmoid`` when the heat maps are logits; ``mask_labels``: the label id of each
    ``masks_from`` channel (default: the channel index)."""

    score_threshold: Annotated[float, Field(allow_inf_nan=False)] = 0.05
    max_detections: Annotated[int, Field(ge=1)] = 100
    heatmap_activation: Literal["none", "sigmoid"] = "none"
    mask_labels: list[int] | None = None


class YoloOptions(Options):
    """``yolo`` (detection): boxes scored above ``score_threshold``, greedy NMS at ``iou_threshold`` (per class, or
    across classes with ``class_agnostic``), at most ``max_detections`` per image; ``objectness`` for YOLOv5-style
    ``5 + C`` rows (class scores multiplied by it); ``box_format`` of the first four values."""

    score_threshold: Annotated[float, Field(allow_inf_nan=False)] = 0.25
    iou_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.45
    max_detections: Annotated[int, Field(ge=1)] = 300
    objectness: bool = False
    box_format: Literal["cxcywh", "ltrb"] = "cxcywh"
    class_agnostic: bool = False


DecoderFn = Callable[..., list[Prediction]]


@dataclass(frozen=True)
class DecoderSpec:
    """A named decoder: its function, the tasks it makes, its options model and the output roles it reads
    (``roles`` in the default order: a model without role metadata has its outputs taken in this order)."""

    name: str
    fn: DecoderFn
    tasks: tuple[Task, ...]
    options: type[Options]
    roles: tuple[str, ...]
    class_role: str  #: the output whose class axis gives the number of classes


DECODERS: dict[str, DecoderSpec] = {}


def _register(name: str, tasks: tuple[Task, ...], options: type[Options], roles: tuple[str, ...],
              class_role: str) -> Callable[[DecoderFn], DecoderFn]:
    def deco(fn: DecoderFn) -> DecoderFn:
        DECODERS[name] = DecoderSpec(name, fn, tasks, options, roles, class_role)
        return fn

    return deco


def decoder_options(name: str, values: Mapping[str, Any] | Options | None = None) -> Options:
    """The options of decoder ``name`` from ``values`` (names checked, values validated; one-line errors)."""
    spec = _spec(name)
    if isinstance(values, spec.options):
        return values
    given = values.model_dump(exclude_unset=True) if isinstance(values, Options) else dict(values or {})
    return parse_options(spec.options, given, where=f"decoder {name!r}")


def _spec(name: str) -> DecoderSpec:
    if name not in DECODERS:
        raise OptionError(f"unknown decoder {name!r}; known: {', '.join(sorted(DECODERS))}")
    return DECODERS[name]


def _need(outputs: Mapping[str, np.ndarray], role: str, ndim: int, decoder: str) -> np.ndarray:
    if role not in outputs:
        raise ValidationError(f"decoder {decoder!r} needs an output for {role!r}")
    a = np.asarray(outputs[role])
    if a.ndim != ndim:
        raise ValidationError(f"decoder {decoder!r}: output {role!r} should have {ndim} dimensions, got {a.shape}")
    return a


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    out: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return out


# ------------------------------------------------------------------------------------------- building blocks
@dataclass(frozen=True)
class Detections:
    """Detections of a batch in network-input pixels: ``boxes`` ``(K, 4)`` ltrb float64, ``scores`` ``(K,)``,
    ``classes`` ``(K,)`` class *indices* (positions in the label set), ``image`` ``(K,)`` the image of each,
    grouped by image (ascending) and by descending score within an image."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    image: np.ndarray

    def bounds(self, n_images: int) -> np.ndarray:
        """``b`` with image ``i``'s detections at ``b[i]:b[i + 1]``."""
        out: np.ndarray = np.searchsorted(self.image, np.arange(n_images + 1))
        return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, classes: np.ndarray | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: the indices kept, by descending score.

    Parameters
    ----------
    boxes : (N, 4) ltrb
    scores : (N,)
    iou_threshold : a box is suppressed when its IoU with a kept box is over this
    classes : (N,) or None
        Class-aware NMS: boxes of different classes never suppress each other. ``None``: class-agnostic.

    Returns
    -------
    (K,) int64 indices into ``boxes``, highest score first (ties keep the earlier box).

    Examples
    --------
    >>> b, s = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], float), np.array([0.9, 0.8, 0.7])
    >>> nms(b, s, 0.5).tolist(), nms(b, s, 0.5, classes=np.array([0, 0, 1])).tolist()
    ([0], [0, 2])
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    b = np.asarray(boxes, np.float64).reshape(-1, 4)[order]
    if classes is not None and len(b):
        off = (np.asarray(classes)[order].astype(np.float64) * (np.abs(b).max() + 1))[:, None]
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


def yolo_detections(raw: np.ndarray, num_classes: int, options: YoloOptions | None = None) -> Detections:
    """YOLO-style rows -> detections after score threshold and NMS, in network-input pixels.

    Parameters
    ----------
    raw : (N, A, 4 + C) or (N, 4 + C, A)
        Per anchor: a box (``options.box_format``: ``cxcywh`` or ``ltrb``), an objectness when
        ``options.objectness``, then ``C`` class scores. The ``(N, 4 + C, A)`` layout is what ultralytics exports.
    num_classes : C
    options : :class:`YoloOptions` (thresholds, class-aware or agnostic NMS, ``max_detections``)

    Returns
    -------
    :class:`Detections` (a box's class is its best-scoring class; its score that class's score). Boxes are
    as the network gives them (not clipped to the input: NMS sees them whole, as ultralytics' does);
    :func:`detections_to_original` clips them to the image.

    Examples
    --------
    >>> raw = np.array([[[5, 5, 4, 4, 0.9, 0.1], [5, 5, 4, 4, 0.8, 0.2], [20, 20, 4, 4, 0.1, 0.7]]])
    >>> d = yolo_detections(raw, 2)
    >>> d.boxes.tolist(), d.classes.tolist()
    ([[3.0, 3.0, 7.0, 7.0], [18.0, 18.0, 22.0, 22.0]], [0, 1])
    """
    o = options or YoloOptions()
    raw = np.asarray(raw, np.float32)
    k = 4 + int(o.objectness) + num_classes
    if raw.ndim != 3:
        raise ValidationError(f"decoder 'yolo': expected (N, anchors, {k}) or (N, {k}, anchors), got {raw.shape}")
    if raw.shape[2] != k and raw.shape[1] == k:
        raw = raw.transpose(0, 2, 1)
    if raw.shape[2] != k:
        raise ValidationError(f"decoder 'yolo': expected {k} values per anchor (4 box"
                              f"{', 1 objectness' if o.objectness else ''}, {num_classes} classes), got {raw.shape}")
    parts = [_yolo_image(raw[i], o) for i in range(raw.shape[0])]
    return Detections(
        boxes=np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 4)),
        scores=np.concatenate([p[1] for p in parts]) if parts else np.zeros(0),
        classes=np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int64),
        image=np.repeat(np.arange(len(parts)), [len(p[1]) for p in parts]))


def _yolo_image(r: np.ndarray, o: YoloOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's ``(A, 4 [+ 1] + C)`` rows -> boxes, scores and class indices kept by the threshold and NMS."""
    cls_scores = r[:, 4 + int(o.objectness):]
    if o.objectness:
        cls_scores = cls_scores * r[:, 4:5]
    keep = np.flatnonzero(cls_scores.max(1) > o.score_threshold)  # few rows pass: the rest is done on them
    kept = cls_scores[keep]
    cls = kept.argmax(1)
    score = kept[np.arange(len(keep)), cls]
    b = r[keep, :4].astype(np.float64)
    if o.box_format == "cxcywh":
        half = b[:, 2:] / 2
        b = np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)
    b = b.reshape(-1, 4)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])  # a negative size is an empty box
    s, c = score.astype(np.float64), cls.astype(np.int64)
    if not (np.isfinite(b).all() and np.isfinite(s).all()):
        raise ValidationError("decoder 'yolo': the network produced non-finite boxes or scores")
    sel = nms(b, s, o.iou_threshold, None if o.class_agnostic else c)[:o.max_detections]
    return b[sel], s[sel], c[sel]


def centernet_detections(heatmap: np.ndarray, wh: np.ndarray, offset: np.ndarray | None, input_hw: tuple[int, int],
                         options: CenterNetOptions | None = None) -> Detections:
    """CenterNet-style maps -> detections in network-input pixels (no NMS: a peak is a detection).

    Parameters
    ----------
    heatmap : (N, C, h, w)
        Centre scores per class (after a sigmoid, unless ``options.heatmap_activation="sigmoid"``).
    wh : (N, 2, h, w)
        Box width and height at each cell, in network-input pixels.
    offset : (N, 2, h, w) or None
        Sub-cell position of the centre (x, y) in cells; ``None``: the cell's centre (0.5).
    input_hw : the network input size (the stride is ``input_hw / (h, w)``)
    options : :class:`CenterNetOptions`

    Returns
    -------
    :class:`Detections`: the cells above ``score_threshold`` that are the maximum of their 3x3 neighbourhood
    (ties count; a NaN neighbour disqualifies), at most ``max_detections`` per image, best first.

    Examples
    --------
    >>> heat = np.zeros((1, 1, 4, 4)); heat[0, 0, 1, 2] = 0.8
    >>> d = centernet_detections(heat, np.full((1, 2, 4, 4), 8.0), None, (16, 16))
    >>> d.boxes.tolist(), d.scores.tolist()
    ([[6.0, 2.0, 14.0, 10.0]], [0.8])
    """
    o = options or CenterNetOptions()
    heat = np.asarray(heatmap)
    if o.heatmap_activation == "sigmoid":
        heat = 1 / (1 + np.exp(-heat))
    n, c, h, w = heat.shape
    peaks = _peaks_above(heat, o.score_threshold)
    img, cand = np.divmod(peaks, c * h * w)
    score = heat.reshape(-1)[peaks]
    order = np.lexsort((-score, img))  # by image, then descending score (ties: index order)
    img, cand, score = img[order], cand[order], score[order]
    rank = np.arange(len(img)) - np.searchsorted(img, np.arange(n + 1))[img]
    top = rank < o.max_detections
    img, cand, score = img[top], cand[top], score[top]
    cls, rem = np.divmod(cand, h * w)
    y, x = np.divmod(rem, w)
    ox = offset[img, 0, y, x] if offset is not None else np.full(len(cand), 0.5)
    oy = offset[img, 1, y, x] if offset is not None else np.full(len(cand), 0.5)
    cx, cy = (x + ox) * (input_hw[1] / w), (y + oy) * (input_hw[0] / h)
    bw, bh = wh[img, 0, y, x], wh[img, 1, y, x]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float64)
    if not (np.isfinite(boxes).all() and np.isfinite(score).all()):
        raise ValidationError("decoder 'centernet': the network produced non-finite boxes or scores")
    return Detections(boxes.reshape(-1, 4), score.astype(np.float64), cls.astype(np.int64), img.astype(np.int64))


def detections_to_original(dets: Detections, tfs: Sequence[Transform]) -> np.ndarray:
    """The boxes of ``dets`` in their images' original pixels (every image's :class:`Transform` at once), clipped
    to the image -- :func:`~annokit.predict.preprocess.boxes_to_original` for a whole batch."""
    if len(dets.image) == 0:
        return np.zeros((0, 4))
    geo = np.array([[*tf.scale_xy, *tf.pad_xy, tf.image_hw[1], tf.image_hw[0]] for tf in tfs], np.float64)
    g = geo[dets.image]
    sxy, pxy, wh_img = g[:, 0:2], g[:, 2:4], g[:, 4:6]
    out: np.ndarray = np.clip((dets.boxes - np.tile(pxy, 2)) / np.tile(sxy, 2), 0, np.tile(wh_img, 2))
    return out


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # arrays made here and owned by the result: no read-only view needed
    return a


def _instances(boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray,
               segs: list[RLE | None] | None = None) -> Instances:
    """Detections of one image. Decoders check a whole batch at once, so the per-image model is assembled without
    re-validating each column (every column given, the arrays fresh and read-only)."""
    n = len(scores)
    b = np.array(boxes, dtype=np.float64).reshape(n, 4)
    inst: Instances = Instances.model_construct(
        image_ids=_readonly(np.zeros(n, np.int64)), boxes=_readonly(b),
        labels=_readonly(np.array(labels, np.int64)), scores=_readonly(np.array(scores, np.float64)),
        iscrowd=_readonly(np.zeros(n, bool)), area=_readonly((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])),
        ids=_readonly(np.arange(1, n + 1, dtype=np.int64)), segmentations=segs, ignore=None, extras=None,
        source_wh=None)
    return inst


def _detection_predictions(task: Task, tfs: Sequence[Transform], dets: Detections, boxes: np.ndarray,
                           labels: LabelSet, masks: list[RLE] | None) -> list[Prediction]:
    """One prediction per image from a batch's detections (boxes already in original pixels)."""
    ids = np.asarray(labels.ids)
    bounds = dets.bounds(len(tfs))
    out = []
    for i, tf in enumerate(tfs):
        a, b = bounds[i], bounds[i + 1]
        segs: list[RLE | None] | None = list(masks[a:b]) if masks is not None else None
        inst = _instances(boxes[a:b], ids[dets.classes[a:b]], dets.scores[a:b], segs)
        out.append(Prediction.model_construct(task=task, image_hw=tf.image_hw, instances=inst, label_map=None,
                                              class_scores=None))
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


def _masks_in_boxes(lab: np.ndarray, img: np.ndarray, boxes: np.ndarray, labels: np.ndarray) -> list[RLE]:
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



# ------------------------------------------------------------------------------------------------ decoders
@_register("softmax", (Task.CLASSIFICATION,), SoftmaxOptions, ("logits",), "logits")
def decode_softmax(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                   labels: LabelSet, options: SoftmaxOptions, task: Task) -> list[Prediction]:
    """``logits`` ``(N, C)`` -> class scores per image."""
    logits = _need(outputs, "logits", 2, "softmax").astype(np.float64)
    if logits.shape[1] != len(labels):
        raise ValidationError(f"decoder 'softmax': {logits.shape[1]} scores per image but {len(labels)} labels")
    if options.activation == "softmax":
        p = _softmax(logits, 1)
    elif options.activation == "sigmoid":
        p = 1 / (1 + np.exp(-logits))
    else:
        p = logits
    return [Prediction.model_construct(task=Task.CLASSIFICATION, image_hw=tf.image_hw, class_scores=p[i],
                                       instances=None, label_map=None) for i, tf in enumerate(tfs)]


def _label_dtype(ids: np.ndarray) -> type:
    return np.uint8 if ids.min(initial=0) >= 0 and ids.max(initial=0) < 256 else np.int32


@_register("segmentation", (Task.SEMANTIC,), SegmentationOptions, ("scores",), "scores")
def decode_segmentation(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                        labels: LabelSet, options: SegmentationOptions, task: Task) -> list[Prediction]:
    """``scores`` ``(N, C, h, w)`` -> a label map per image, at the image's own size."""
    scores = _need(outputs, "scores", 4, "segmentation")
    if options.channels_last:
        scores = scores.transpose(0, 3, 1, 2)
    if scores.shape[1] != len(labels):
        raise ValidationError(f"decoder 'segmentation': {scores.shape[1]} score channels but {len(labels)} labels")
    if not np.isfinite(scores).all():
        raise ValidationError("decoder 'segmentation': the network produced non-finite scores")
    ids = np.asarray(labels.ids)
    ids = ids.astype(_label_dtype(ids))
    identity = bool((ids == np.arange(len(ids))).all()) and len(ids) <= 256
    idx_all: Sequence[np.ndarray]
    if len(tfs) > 1 and all(tf == tfs[0] for tf in tfs):
        idx_all = list(upsampled_argmax(scores, tfs[0], input_hw))  # one pass for a batch of equal geometry
    else:
        idx_all = [upsampled_argmax(scores[i], tf, input_hw) for i, tf in enumerate(tfs)]
    out = []
    for idx, tf in zip(idx_all, tfs):
        lab = idx.astype(ids.dtype, copy=False) if identity else np.take(ids, idx)
        out.append(Prediction.model_construct(task=Task.SEMANTIC, image_hw=tf.image_hw, label_map=lab,
                                              instances=None, class_scores=None))
    return out


def _centernet_masks(seg: np.ndarray, tfs: Sequence[Transform], input_hw: tuple[int, int], dets: Detections,
                     boxes: np.ndarray, labs: np.ndarray, mask_labels: list[int] | None) -> list[RLE]:
    """Instance masks: each detection's box cut of the label map of ``masks_from`` (see :func:`_masks_in_boxes`)."""
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
        return _masks_in_boxes(idx if same_kinds else np.take(channel_kind, idx), dets.image, boxes, det_kind)
    masks: list[RLE] = []
    bounds = dets.bounds(len(tfs))
    for i, tf in enumerate(tfs):
        a, b = bounds[i], bounds[i + 1]
        idx = upsampled_argmax(seg[i], tf, input_hw)[None]
        masks += _masks_in_boxes(idx if same_kinds else np.take(channel_kind, idx), np.zeros(b - a, np.int64),
                                 boxes[a:b], det_kind[a:b])
    return masks


@_register("centernet", (Task.DETECTION, Task.INSTANCE), CenterNetOptions, ("heatmap", "wh", "offset"), "heatmap")
def decode_centernet(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                     labels: LabelSet, options: CenterNetOptions, task: Task) -> list[Prediction]:
    """Centre heat maps, sizes and offsets -> detections (and, for ``instance``, masks from ``masks_from``)."""
    heat = _need(outputs, "heatmap", 4, "centernet")
    wh = _need(outputs, "wh", 4, "centernet")
    if heat.shape[1] != len(labels):
        raise ValidationError(f"decoder 'centernet': {heat.shape[1]} heat-map channels but {len(labels)} labels")
    seg = outputs.get("masks_from") if task == Task.INSTANCE else None
    if task == Task.INSTANCE and seg is None:
        raise ValidationError("decoder 'centernet': instance masks need an output for 'masks_from'")
    dets = centernet_detections(heat, wh, outputs.get("offset"), input_hw, options)
    boxes = detections_to_original(dets, tfs)
    labs = np.asarray(labels.ids)[dets.classes]
    masks = None if seg is None else _centernet_masks(np.asarray(seg), tfs, input_hw, dets, boxes, labs,
                                                      options.mask_labels)
    return _detection_predictions(task, tfs, dets, boxes, labels, masks)


@_register("yolo", (Task.DETECTION,), YoloOptions, ("boxes",), "boxes")
def decode_yolo(outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
                labels: LabelSet, options: YoloOptions, task: Task) -> list[Prediction]:
    """YOLO rows -> detections after the score threshold and greedy NMS (per class unless ``class_agnostic``)."""
    dets = yolo_detections(_need(outputs, "boxes", 3, "yolo"), len(labels), options)
    return _detection_predictions(Task.DETECTION, tfs, dets, detections_to_original(dets, tfs), labels, None)


def decode(name: str, outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform], input_hw: tuple[int, int],
           labels: LabelSet, options: Mapping[str, Any] | Options | None = None, *,
           task: Task | str | None = None) -> list[Prediction]:
    """Run the decoder ``name`` (see the table above) on a batch's outputs.

    Parameters
    ----------
    name : a key of :data:`DECODERS`
    outputs : the batch's network outputs by role
    tfs : one :class:`Transform` per image (how it became the network input)
    input_hw : the network input size
    labels : the predictor's labels (ids and names, one per class index)
    options : the decoder's options (a mapping checked against its options model, or the model itself)
    task : for decoders of several tasks (``centernet``: detection or instance); default: the decoder's first

    Returns
    -------
    One :class:`Prediction` per image, in original pixels.
    """
    spec = _spec(name)
    t = Task(task) if task is not None else spec.tasks[0]
    if t not in spec.tasks:
        raise ValidationError(f"decoder {name!r} does not make {t.value} predictions")
    return spec.fn(outputs, tfs, input_hw, labels, decoder_options(name, options), t)
