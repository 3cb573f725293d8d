"""Semantic segmentation metrics accumulated over the whole dataset (not averaged per image).

State (:class:`SemanticAccumulator`): a ``(C + 1, C + 1)`` int64 confusion matrix. Rows are ground-truth classes
``0 .. C-1`` plus a last row for ground-truth values that are neither a class nor the ignore index ("out of
range"); columns are predicted classes plus a last column for predictions outside ``0 .. C-1``. Ground-truth
pixels equal to ``ignore_index`` are dropped. For Cityscapes' iIoU, per class an exact sum of the
instance-weighted true / false negatives. Merging shards in any order gives the single-pass result exactly.

Per class ``c`` (as mmsegmentation's ``IoUMetric`` / ``total_area_to_metrics``):
``I = cm[c, c]``, ``L = cm[c, :].sum()`` (ground truth), ``P = cm[:, c].sum()`` (prediction), ``U = L + P - I``;
``IoU = I / U``, ``Acc = Recall = I / L``, ``Dice = 2 I / (L + P)``, ``Precision = I / P``,
``Fscore = 2 Precision Recall / (Precision + Recall)``; each NaN (``null``) where its denominator is 0. So a class
absent from both ground truth and prediction is NaN everywhere and is reported in ``excluded``; a
false-positive-only class has IoU 0, Dice 0, Precision 0 and NaN Acc / Recall / Fscore (excluded from those means
only, as mmseg's ``nanmean``). ``aAcc = sum I / sum L``; ``mX`` = mean of the non-NaN ``X``;
``fwIoU = sum_c (L_c / sum L) IoU_c`` over classes with a defined IoU.

A prediction outside ``0 .. C-1`` counts in ``L`` only (a false negative of the ground-truth class); a
ground-truth value outside ``0 .. C-1`` that is not ``ignore_index`` counts in ``P`` only (a false positive of the
predicted class), as mmseg's histograms do; the result counts both kinds of pixels.

Preprocessing of the ground truth, in mmseg 1.x's order: ``reduce_zero_label`` (0 -> ignore, others minus 1,
255 stays 255), then ``label_map`` (``{old: new}``, other values unchanged). ``pred_label_map`` maps predictions.

Presets: ``mmseg`` is the default above. ``cityscapes`` reads Cityscapes *labelIds* for ground truth and
prediction, maps them to the 19 train ids with the official table (other labels -> ignore for the ground truth
and -> "other" for predictions, a false negative, as ``evalPixelLevelSemanticLabeling``), and adds iIoU: per
instance (instance id ``> 1000``, class ``id // 1000``) of an instance class, true positives and false negatives
weighted by ``avg_size[class] / instance_pixels``, ``iIoU = tpW / (tpW + fnW + FP)`` with unweighted ``FP``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from annokit.metrics._exact import ExactSum
from annokit.metrics._util import fnone, nan_div

__all__ = [
    "CITYSCAPES_ID_TO_TRAIN_ID",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_AVG_INSTANCE_SIZE",
    "SemanticResult",
    "SemanticAccumulator",
    "semantic_metrics",
    "preprocess_gt",
    "SemanticPreset",
]

#: The presets of :meth:`SemanticAccumulator.preset`.
SemanticPreset = Literal["mmseg", "cityscapes"]

#: Cityscapes label id -> train id (255 = not evaluated), from the official label table.
CITYSCAPES_ID_TO_TRAIN_ID: dict[int, int] = {
    0: 255, 1: 255, 2: 255, 3: 255, 4: 255, 5: 255, 6: 255, 7: 0, 8: 1, 9: 255, 10: 255, 11: 2, 12: 3, 13: 4,
    14: 255, 15: 255, 16: 255, 17: 5, 18: 255, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13,
    27: 14, 28: 15, 29: 255, 30: 255, 31: 16, 32: 17, 33: 18,
}
#: The 19 evaluated Cityscapes classes in train-id order.
CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
#: Average instance size per instance class (train id), the weights of Cityscapes' iIoU.
CITYSCAPES_AVG_INSTANCE_SIZE: dict[int, float] = {
    11: 3462.4756337644, 12: 3930.4788056518, 13: 12794.0202738185, 14: 27855.1264367816,
    15: 35732.1511111111, 16: 67583.7075812274, 17: 6298.7200839748, 18: 4672.3249222261,
}


def _apply_map(a: np.ndarray, mapping: Mapping[int, int] | None) -> np.ndarray:
    """``mapping`` applied to every value of ``a`` (other values unchanged); int64 result, by lookup table."""
    if not mapping:
        return a
    a = np.asarray(a)
    if a.size == 0:
        return a.astype(np.int64)
    lo, hi = int(a.min()), int(a.max())
    if lo >= 0 and hi < (1 << 20):
        lut = np.arange(hi + 1, dtype=np.int64)
        for old, new in mapping.items():
            if 0 <= old <= hi:
                lut[old] = new
        mapped: np.ndarray = lut[a]
        return mapped
    out = a.astype(np.int64, copy=True)
    for old, new in mapping.items():
        out[a == old] = new
    return out


def preprocess_gt(gt: np.ndarray, *, ignore_index: int = 255, reduce_zero_label: bool = False,
                  label_map: Mapping[int, int] | None = None) -> np.ndarray:
    """mmseg 1.x ground-truth preprocessing: ``reduce_zero_label`` then ``label_map``; returns int64 (H, W)."""
    g = np.asarray(gt).astype(np.int64)
    if reduce_zero_label:
        g = g.copy()
        g[g == 0] = 255
        g = g - 1
        g[g == 254] = 255
        if ignore_index != 255:
            g[g == 255] = ignore_index
    return _apply_map(g, label_map)


@dataclass(frozen=True)
class SemanticResult:
    """Per-class ``(C,)`` float64 arrays (NaN = undefined) and dataset-level summaries (see module docstring)."""

    num_classes: int
    class_names: tuple[str, ...]
    confusion: np.ndarray  # (C+1, C+1) int64
    iou: np.ndarray
    acc: np.ndarray
    dice: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fscore: np.ndarray
    iiou: np.ndarray | None
    aAcc: float
    mIoU: float
    mAcc: float
    mDice: float
    mFscore: float
    mPrecision: float
    mRecall: float
    fwIoU: float
    iIoU: float | None
    excluded: tuple[int, ...]
    out_of_range_gt_pixels: int
    out_of_range_pred_pixels: int

    def metrics_dict(self) -> dict[str, Any]:
        """Keys aAcc, mIoU, mAcc, mDice, mFscore, mPrecision, mRecall, fwIoU (+ iIoU with instance weights)."""
        out: dict[str, Any] = {k: fnone(getattr(self, k)) for k in (
            "aAcc", "mIoU", "mAcc", "mDice", "mFscore", "mPrecision", "mRecall", "fwIoU")}
        if self.iiou is not None:
            out["iIoU"] = fnone(self.iIoU)
        out["excluded"] = [self.class_names[i] for i in self.excluded]
        return out

    def per_class_dict(self) -> dict[str, dict[str, Any]]:
        """Per class name: IoU, Acc, Dice, Precision, Recall, Fscore (+ iIoU), gt / pred pixels, excluded."""
        ex = set(self.excluded)
        out: dict[str, dict[str, Any]] = {}
        for c in range(self.num_classes):
            d: dict[str, Any] = {"IoU": fnone(self.iou[c]), "Acc": fnone(self.acc[c]), "Dice": fnone(self.dice[c]),
                                 "Precision": fnone(self.precision[c]), "Recall": fnone(self.recall[c]),
                                 "Fscore": fnone(self.fscore[c])}
            if self.iiou is not None:
                d["iIoU"] = fnone(self.iiou[c])
            d["gt_pixels"] = int(self.confusion[c, :].sum())
            d["pred_pixels"] = int(self.confusion[:, c].sum())
            d["excluded"] = c in ex
            out[self.class_names[c]] = d
        return out


_FLUSH_RUNS = 1 << 16
"""Byte-pair runs :meth:`SemanticAccumulator.update` keeps before counting them into the 256 x 256 table (about 5
pairs of 640x480 maps, ~0.4 MB). 1 << 18 was tried (2026-12-02): ``python benchmarks/bench_semantic_parts.py
--images 300 --repeat 7 --baseline DIR`` showed no steady gain (update + count 0.392 / 0.436 ms a pair against
0.374 / 0.454 in two runs) for 5 MB more peak memory, so the batch stays small."""


def _byte_pair_runs(g: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of equal (gt, pred) byte pairs along the raster of two uint8 maps: each run's pair as
    ``gt * 256 + pred`` and its length.

    The run starts are flagged in a bool array padded to whole 64-bit words, and found in two steps: the words
    holding a flag, then the flags in those words. ``flatnonzero`` costs about the same per element, hits or
    not, so on 640x480 maps with ~12,000 runs (a quarter of the words hit) it looks at ~110,000 elements instead
    of 307,200: the whole function ~15-25 % less CPU (``benchmarks/bench_semantic_parts.py``)."""
    gf = np.ascontiguousarray(g).reshape(-1)
    pf = np.ascontiguousarray(p).reshape(-1)
    n = gf.size
    if n == 0:
        return np.zeros(0, np.uint16), np.zeros(0, np.int32)
    change = np.empty(-(-n // 8) * 8, bool)
    change[0] = True
    np.not_equal(gf[1:], gf[:-1], out=change[1:n])
    change[1:n] |= pf[1:] != pf[:-1]
    change[n:] = False
    flags = change.view(np.uint64)
    hit = np.flatnonzero(flags != 0)
    within = np.flatnonzero(flags[hit].view(bool))  # each hit word's 8 flags, in order
    starts = np.left_shift(hit, 3)[within >> 3]
    starts |= within & 7
    keys = np.left_shift(gf[starts], 8, dtype=np.uint16)
    keys |= pf[starts]
    lengths = np.empty(starts.size, np.int32 if n < (1 << 31) else np.int64)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1], casting="unsafe")  # np.diff's append= costs a concat
    lengths[-1] = n - starts[-1]
    return keys, lengths


def _nanmean(x: np.ndarray) -> float:
    v = x[~np.isnan(x)]
    return float(np.mean(v)) if v.size else math.nan


class SemanticAccumulator:
    """Mergeable semantic-segmentation state; ``update(gt, pred)`` with ``(H, W)`` integer maps.

    >>> acc = SemanticAccumulator(3)
    >>> r = acc.update(np.array([[0, 1], [2, 255]]), np.array([[0, 1], [1, 2]])).compute()
    >>> r.mIoU, r.excluded
    (0.5, ())
    """

    def __init__(self, num_classes: int, *, ignore_index: int = 255, reduce_zero_label: bool = False,
                 label_map: Mapping[int, int] | None = None, pred_label_map: Mapping[int, int] | None = None,
                 instance_weights: Mapping[int, float] | None = None,
                 class_names: Sequence[str] | None = None) -> None:
        if num_classes < 1:
            raise ValueError("num_classes must be >= 1")
        if 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index {ignore_index} is a class index (0..{num_classes - 1})")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.reduce_zero_label = bool(reduce_zero_label)
        self.label_map = dict(label_map) if label_map else None
        self.pred_label_map = dict(pred_label_map) if pred_label_map else None
        self.instance_weights = dict(instance_weights) if instance_weights else None
        names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(num_classes))
        if len(names) != num_classes:
            raise ValueError(f"class_names: expected {num_classes}, got {len(names)}")
        self.class_names = names
        self._confusion = np.zeros((num_classes + 1, num_classes + 1), np.int64)
        # 8-bit maps: a histogram of the raw (gt, pred) byte pairs, mapped to the confusion matrix when read; the
        # runs of recent images wait in _runs8 and are counted together (one 65536-bin count per batch, not image)
        self._raw8: np.ndarray | None = None
        self._runs8: list[tuple[np.ndarray, np.ndarray]] = []
        self._n_runs8 = 0
        self.tp_w = [ExactSum() for _ in range(num_classes)]
        self.fn_w = [ExactSum() for _ in range(num_classes)]

    @classmethod
    def preset(cls, name: SemanticPreset, *, num_classes: int | None = None, ignore_index: int = 255,
               reduce_zero_label: bool = False, class_names: Sequence[str] | None = None) -> SemanticAccumulator:
        """An accumulator with a reference's settings.

        Parameters
        ----------
        name : {"mmseg", "cityscapes"}
            ``"mmseg"``: mmsegmentation's ``IoUMetric`` (``num_classes`` required). ``"cityscapes"``: Cityscapes
            *labelIds* in, the 19 train ids evaluated, iIoU weights (``ignore_index`` 255, no
            ``reduce_zero_label``).
        num_classes : int, optional
            The number of classes (19 or omitted for Cityscapes).
        ignore_index, reduce_zero_label, class_names
            As :class:`SemanticAccumulator` (mmseg only, except ``class_names``).

        Returns
        -------
        SemanticAccumulator

        Examples
        --------
        >>> SemanticAccumulator.preset("cityscapes").class_names[:2]
        ('road', 'sidewalk')
        """
        if name == "mmseg":
            if num_classes is None:
                raise ValueError("the mmseg preset needs num_classes")
            return cls(num_classes, ignore_index=ignore_index, reduce_zero_label=reduce_zero_label,
                       class_names=class_names)
        if name == "cityscapes":
            if num_classes not in (None, 19):
                raise ValueError("the cityscapes preset has 19 classes")
            if ignore_index != 255 or reduce_zero_label:
                raise ValueError("the cityscapes preset ignores 255 and has no reduce_zero_label")
            return cls(19, ignore_index=255, label_map=CITYSCAPES_ID_TO_TRAIN_ID,
                       pred_label_map=CITYSCAPES_ID_TO_TRAIN_ID, instance_weights=CITYSCAPES_AVG_INSTANCE_SIZE,
                       class_names=class_names if class_names is not None else CITYSCAPES_CLASSES)
        raise ValueError(f"unknown preset {name!r} (mmseg, cityscapes)")

    def _settings(self) -> tuple[Any, ...]:
        return (self.num_classes, self.ignore_index, self.reduce_zero_label, self.label_map, self.pred_label_map,
                self.instance_weights, self.class_names)

    def _flush8(self) -> None:
        """Count the waiting byte-pair runs into the 256 x 256 table."""
        if not self._runs8:
            return
        keys = np.concatenate([k for k, _ in self._runs8])
        lengths = np.concatenate([n for _, n in self._runs8])
        self._runs8, self._n_runs8 = [], 0
        counts = np.bincount(keys, weights=lengths, minlength=1 << 16).astype(np.int64).reshape(256, 256)
        self._raw8 = counts if self._raw8 is None else self._raw8 + counts  # exact: pixel counts < 2**53

    @property
    def confusion(self) -> np.ndarray:
        """The ``(C + 1, C + 1)`` int64 confusion matrix (rows ground truth, columns prediction; see the module)."""
        self._flush8()
        cm = self._confusion.copy()
        if self._raw8 is not None:
            cm += self._fold_raw8(self._raw8)
        return cm

    def _fold_raw8(self, raw: np.ndarray) -> np.ndarray:
        """A 256 x 256 histogram of raw byte pairs as a confusion matrix, through this accumulator's mappings."""
        c = self.num_classes
        values = np.arange(256, dtype=np.int64)
        g = preprocess_gt(values, ignore_index=self.ignore_index, reduce_zero_label=self.reduce_zero_label,
                          label_map=self.label_map)
        pr = _apply_map(values, self.pred_label_map)
        rows = np.where((g >= 0) & (g < c), g, c)
        cols = np.where((pr >= 0) & (pr < c), pr, c)
        keep = g != self.ignore_index
        keys = (rows[keep, None] * (c + 1) + cols[None, :]).reshape(-1)
        folded = np.bincount(keys, weights=raw[keep].reshape(-1), minlength=(c + 1) ** 2)
        return folded.astype(np.int64).reshape(c + 1, c + 1)  # exact: pixel counts < 2**53

    def update(self, gt: Any, pred: Any, *, gt_instances: Any = None) -> SemanticAccumulator:
        """Add one image: ``gt`` / ``pred`` ``(H, W)`` integer maps in the input label space; ``gt_instances``
        ``(H, W)`` Cityscapes instance ids (``class_id * 1000 + k``) for iIoU.

        Two uint8 maps (what 8-bit label PNGs decode to) are counted as raw byte pairs; the mappings are applied
        to the 256 x 256 table when the result is read."""
        g = np.asarray(gt)
        p = np.asarray(pred)
        if g.shape != p.shape or g.ndim != 2:
            raise ValueError(f"gt and pred must be (H, W) maps of one shape, got {g.shape} and {p.shape}")
        for name, a in (("gt", g), ("pred", p)):
            if a.size and not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
                raise ValueError(f"{name}: expected integer labels, got dtype {a.dtype}")
        if g.dtype == np.uint8 and p.dtype == np.uint8 and gt_instances is None:
            keys, lengths = _byte_pair_runs(g, p)
            self._runs8.append((keys, lengths))
            self._n_runs8 += keys.size
            if self._n_runs8 >= _FLUSH_RUNS:  # a bounded batch of runs
                self._flush8()
            return self
        c = self.num_classes
        gg = preprocess_gt(g, ignore_index=self.ignore_index, reduce_zero_label=self.reduce_zero_label,
                           label_map=self.label_map)
        pp = _apply_map(p.astype(np.int64), self.pred_label_map)
        keep = gg != self.ignore_index
        gk = gg[keep]
        pk = pp[keep]
        gi = np.where((gk >= 0) & (gk < c), gk, c)
        pi = np.where((pk >= 0) & (pk < c), pk, c)
        self._confusion += np.bincount(gi * (c + 1) + pi, minlength=(c + 1) ** 2).reshape(c + 1, c + 1)
        if gt_instances is not None and self.instance_weights:
            self._update_instances(np.asarray(gt_instances), pp)
        return self

    def add_pair_counts(self, counts: Any) -> SemanticAccumulator:
        """Add a histogram of raw 8-bit ``(gt, pred)`` pixel pairs, as :meth:`update` counts two uint8 maps.

        Parameters
        ----------
        counts : array_like
            Non-negative integer counts, ``(256, 256)`` (row: the ground-truth byte, column: the prediction byte)
            or flat ``(65536,)`` indexed by ``gt << 8 | pred`` (what :func:`annokit.io.labelpairs.
            count_label_pairs` fills); values in the input label space, mapped when the result is read.

        Returns
        -------
        SemanticAccumulator
            This accumulator.

        Examples
        --------
        >>> c = np.zeros((256, 256), np.int64); c[1, 1] = 3; c[255, 0] = 2; c[0, 1] = 1
        >>> SemanticAccumulator(2).add_pair_counts(c).compute().iou.tolist()
        [0.0, 0.75]
        """
        a = np.asarray(counts)
        if a.shape not in ((256, 256), (1 << 16,)) or not (np.issubdtype(a.dtype, np.integer) and a.size):
            raise ValueError(f"pair counts: expected integers of shape (256, 256) or (65536,), got {a.dtype} "
                             f"{a.shape}")
        if int(a.min()) < 0:
            raise ValueError("pair counts must not be negative")
        a = a.astype(np.int64).reshape(256, 256)
        self._raw8 = a if self._raw8 is None else self._raw8 + a
        return self

    def _update_instances(self, inst: np.ndarray, pp: np.ndarray) -> None:
        if inst.shape != pp.shape:
            raise ValueError(f"gt_instances: expected shape {pp.shape}, got {inst.shape}")
        ids = inst.astype(np.int64)
        sel = ids > 1000
        if not sel.any():
            return
        uniq, inv = np.unique(ids[sel], return_inverse=True)
        sizes = np.bincount(inv, minlength=uniq.size)
        labels = _apply_map(uniq // 1000, self.label_map)
        pred_at = pp[sel]
        hit = pred_at == labels[inv]
        tps = np.bincount(inv[hit], minlength=uniq.size)
        for j in range(uniq.size):
            cls_ = int(labels[j])
            w = self.instance_weights.get(cls_) if self.instance_weights else None
            if w is None or not 0 <= cls_ < self.num_classes:
                continue
            weight = float(w) / float(sizes[j])
            self.tp_w[cls_].add(float(tps[j]) * weight)
            self.fn_w[cls_].add(float(sizes[j] - tps[j]) * weight)

    def empty_like(self) -> SemanticAccumulator:
        """A new accumulator with this one's settings and nothing counted.

        >>> SemanticAccumulator(3, ignore_index=7).update([[0]], [[1]]).empty_like().confusion.sum()
        np.int64(0)
        """
        return SemanticAccumulator(self.num_classes, ignore_index=self.ignore_index,
                                   reduce_zero_label=self.reduce_zero_label, label_map=self.label_map,
                                   pred_label_map=self.pred_label_map, instance_weights=self.instance_weights,
                                   class_names=self.class_names)

    def merge(self, other: SemanticAccumulator) -> SemanticAccumulator:
        if self._settings() != other._settings():
            raise ValueError("cannot merge accumulators with different settings")
        out = self.empty_like()
        self._flush8()
        other._flush8()
        out._confusion = self._confusion + other._confusion
        # the raw 8-bit tables add up as they are (integers), folded once when the result is read
        raws = [r for r in (self._raw8, other._raw8) if r is not None]
        out._raw8 = raws[0] + raws[1] if len(raws) == 2 else (raws[0].copy() if raws else None)
        out.tp_w = [a.merge(b) for a, b in zip(self.tp_w, other.tp_w)]
        out.fn_w = [a.merge(b) for a, b in zip(self.fn_w, other.fn_w)]
        return out

    def compute(self) -> SemanticResult:
        c = self.num_classes
        cm = self.confusion
        inter = np.diag(cm)[:c].astype(np.float64)
        label = cm[:c, :].sum(axis=1).astype(np.float64)
        pred = cm[:, :c].sum(axis=0).astype(np.float64)
        union = label + pred - inter
        iou = nan_div(inter, union)
        acc = nan_div(inter, label)
        dice = nan_div(2 * inter, label + pred)
        precision = nan_div(inter, pred)
        recall = acc.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            fscore = 2 * precision * recall / (precision + recall)
        excluded = tuple(int(i) for i in np.flatnonzero((label == 0) & (pred == 0)))
        total_label = label.sum()
        a_acc = float(inter.sum() / total_label) if total_label else math.nan
        valid = ~np.isnan(iou)
        fw = float(np.sum(label[valid] / total_label * iou[valid])) if total_label and valid.any() else math.nan
        iiou_arr = None
        m_iiou = None
        if self.instance_weights:
            iiou_arr = np.full(c, np.nan)
            fp = pred - inter - cm[c, :c]  # false positives on non-ignored, in-range ground truth
            for k in self.instance_weights:
                if not 0 <= k < c:
                    continue
                tpw = self.tp_w[k].value()
                fnw = self.fn_w[k].value()
                den = tpw + fp[k] + fnw
                iiou_arr[k] = tpw / den if den != 0 else math.nan
            m_iiou = _nanmean(iiou_arr)
        return SemanticResult(
            num_classes=c, class_names=self.class_names, confusion=cm.copy(), iou=iou, acc=acc, dice=dice,
            precision=precision, recall=recall, fscore=fscore, iiou=iiou_arr, aAcc=a_acc, mIoU=_nanmean(iou),
            mAcc=_nanmean(acc), mDice=_nanmean(dice), mFscore=_nanmean(fscore), mPrecision=_nanmean(precision),
            mRecall=_nanmean(recall), fwIoU=fw, iIoU=m_iiou, excluded=excluded,
            out_of_range_gt_pixels=int(cm[c, :].sum()), out_of_range_pred_pixels=int(cm[:, c].sum()))


def semantic_metrics(gts: np.ndarray | Iterable[np.ndarray], preds: np.ndarray | Iterable[np.ndarray],
                     num_classes: int, *, ignore_index: int = 255, reduce_zero_label: bool = False,
                     label_map: Mapping[int, int] | None = None, pred_label_map: Mapping[int, int] | None = None,
                     class_names: Sequence[str] | None = None) -> SemanticResult:
    """Dataset-level metrics of paired ``(H, W)`` maps (one pair, or sequences of pairs).

    Parameters
    ----------
    gts, preds : numpy.ndarray or iterable of numpy.ndarray
        Ground-truth and predicted label maps, paired in order.
    num_classes : int
        Classes ``0 .. num_classes - 1``.
    ignore_index, reduce_zero_label, label_map, pred_label_map, class_names
        As :class:`SemanticAccumulator`.

    Returns
    -------
    SemanticResult

    Examples
    --------
    >>> r = semantic_metrics(np.array([[0, 1], [1, 255]]), np.array([[0, 1], [0, 0]]), 2)
    >>> round(r.mIoU, 4), r.aAcc
    (0.5, 0.6666666666666666)
    """
    acc = SemanticAccumulator(num_classes, ignore_index=ignore_index, reduce_zero_label=reduce_zero_label,
                              label_map=label_map, pred_label_map=pred_label_map, class_names=class_names)
    if isinstance(gts, np.ndarray) and gts.ndim == 2:
        gts, preds = [gts], [np.asarray(preds)]
    for g, p in zip(gts, preds, strict=True):
        acc.update(g, p)
    return acc.compute()
