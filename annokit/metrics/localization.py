"""Localization metrics: box IoU, mean best IoU per object, CorLoc and accuracy at IoU.

Boxes are ``(N, 4)`` float64 ltrb (see :mod:`annokit.core.boxes`). Per image, with ground-truth boxes and labels
and scored predicted boxes and labels:

- ``mean_iou``: over ground-truth objects, the best IoU of any prediction of the same class (0 when none).
- ``corloc`` (Deselaers et al. 2010, as weakly supervised detection reports it): for each (image, class) with
  ground truth of that class, the top-scoring prediction of that class (first in input order on ties) is a hit
  when its IoU with some ground-truth box of that class is ``>= iou`` (0.5); per class ``hits / pairs``;
  ``corloc`` is the mean over classes with pairs and ``corloc_images`` the pooled fraction.
- ``acc@t`` (single-object localization, "GT-known" accuracy): over images with ground truth, the top-scoring
  prediction (any class) has IoU ``>= t`` with some ground-truth box; ``top1_loc@t`` also needs its class to be
  that box's class. Images without predictions count as misses.

The state is integer counts plus exact sums of IoUs, so shard merges are exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit.core.boxes import box_iou, box_iou_matched
from annokit.errors import ValidationError
from annokit.metrics._exact import ExactSum
from annokit.metrics._util import fnone

__all__ = ["box_iou", "box_iou_matched", "LocalizationResult", "LocalizationAccumulator", "localization_metrics"]


@dataclass(frozen=True)
class LocalizationResult:
    """Summaries and per-class counts (class ids as keys)."""

    mean_iou: float
    corloc: float
    corloc_images: float
    acc: dict[float, float]
    top1_loc: dict[float, float]
    n_images: int
    n_objects: int
    class_hits: dict[int, int]
    class_pairs: dict[int, int]
    class_iou_sum: dict[int, float]
    class_objects: dict[int, int]

    def metrics_dict(self) -> dict[str, Any]:
        """Keys mean_iou, corloc, corloc_images, acc@<t>, top1_loc@<t>, n_images, n_objects."""
        out: dict[str, Any] = {"mean_iou": fnone(self.mean_iou), "corloc": fnone(self.corloc),
                               "corloc_images": fnone(self.corloc_images)}
        for t, v in sorted(self.acc.items()):
            out[f"acc@{t:g}"] = fnone(v)
        for t, v in sorted(self.top1_loc.items()):
            out[f"top1_loc@{t:g}"] = fnone(v)
        out["n_images"] = self.n_images
        out["n_objects"] = self.n_objects
        return out

    def per_class_dict(self, names: Mapping[int, str] | None = None) -> dict[str, dict[str, Any]]:
        out = {}
        for c in sorted(set(self.class_pairs) | set(self.class_objects)):
            pairs = self.class_pairs.get(c, 0)
            objs = self.class_objects.get(c, 0)
            out[(names or {}).get(c, str(c))] = {
                "corloc": self.class_hits.get(c, 0) / pairs if pairs else None,
                "mean_iou": self.class_iou_sum.get(c, 0.0) / objs if objs else None,
                "pairs": pairs, "objects": objs}
        return out


def _array(x: Any, dtype: type[np.generic], width: int | None, name: str) -> np.ndarray:
    """``x`` as a (N,) or (N, width) array of ``dtype``, else :class:`ValidationError` naming ``name``."""
    try:
        a = np.asarray(x, dtype)
        return a.reshape(-1) if width is None else a.reshape(-1, width)
    except (TypeError, ValueError) as exc:
        shape = "(N,)" if width is None else f"(N, {width})"
        raise ValidationError(f"{name}: expected a {shape} array of numbers ({exc})") from None


class LocalizationAccumulator:
    """Mergeable localization state; ``update`` once per image."""

    def __init__(self, *, iou: float = 0.5, thresholds: Sequence[float] = (0.3, 0.5, 0.7)) -> None:
        self.iou = float(iou)
        self.thresholds = tuple(sorted({float(t) for t in thresholds}))
        self.best_iou = ExactSum()
        self.n_objects = 0
        self.n_images = 0
        self.acc_hits = dict.fromkeys(self.thresholds, 0)
        self.top1_hits = dict.fromkeys(self.thresholds, 0)
        self.class_hits: dict[int, int] = {}
        self.class_pairs: dict[int, int] = {}
        self.class_iou: dict[int, ExactSum] = {}
        self.class_objects: dict[int, int] = {}

    def update(self, gt_boxes: Any, gt_labels: Any, pred_boxes: Any, pred_labels: Any, pred_scores: Any
               ) -> LocalizationAccumulator:
        """One image: ``gt_boxes`` (G, 4), ``gt_labels`` (G,), ``pred_boxes`` (P, 4), ``pred_labels`` (P,),
        ``pred_scores`` (P,)."""
        gb = _array(gt_boxes, np.float64, 4, "gt_boxes")
        gl = _array(gt_labels, np.int64, None, "gt_labels")
        pb = _array(pred_boxes, np.float64, 4, "pred_boxes")
        pl = _array(pred_labels, np.int64, None, "pred_labels")
        ps = _array(pred_scores, np.float64, None, "pred_scores")
        if gl.size != gb.shape[0] or pl.size != pb.shape[0] or ps.size != pb.shape[0]:
            raise ValidationError("box, label and score arrays must have matching lengths")
        if gb.shape[0] == 0:
            return self
        self.n_images += 1
        ious = box_iou(gb, pb)  # (G, P)
        same = gl[:, None] == pl[None, :]
        best = np.where(same, ious, 0.0).max(axis=1) if pb.shape[0] else np.zeros(gb.shape[0])
        self.best_iou.add(best)
        self.n_objects += gb.shape[0]
        for c in np.unique(gl).tolist():
            sel = gl == c
            self.class_objects[c] = self.class_objects.get(c, 0) + int(sel.sum())
            self.class_iou.setdefault(c, ExactSum()).add(best[sel])
            self.class_pairs[c] = self.class_pairs.get(c, 0) + 1
            cand = np.flatnonzero(pl == c)
            hit = 0
            if cand.size:
                top = cand[np.argmax(ps[cand])]
                hit = int(ious[sel, top].max() >= self.iou)
            self.class_hits[c] = self.class_hits.get(c, 0) + hit
        if pb.shape[0]:
            top = int(np.argmax(ps))
            col = ious[:, top]
            col_same = np.where(gl == pl[top], col, 0.0)
            for t in self.thresholds:
                self.acc_hits[t] += int(col.max() >= t)
                self.top1_hits[t] += int(col_same.max() >= t)
        return self

    def merge(self, other: LocalizationAccumulator) -> LocalizationAccumulator:
        if (self.iou, self.thresholds) != (other.iou, other.thresholds):
            raise ValidationError("cannot merge accumulators with different settings")
        out = LocalizationAccumulator(iou=self.iou, thresholds=self.thresholds)
        out.best_iou = self.best_iou.merge(other.best_iou)
        out.n_objects = self.n_objects + other.n_objects
        out.n_images = self.n_images + other.n_images
        out.acc_hits = {t: self.acc_hits[t] + other.acc_hits[t] for t in self.thresholds}
        out.top1_hits = {t: self.top1_hits[t] + other.top1_hits[t] for t in self.thresholds}
        for name in ("class_hits", "class_pairs", "class_objects"):
            a, b = getattr(self, name), getattr(other, name)
            setattr(out, name, {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)})
        out.class_iou = {k: self.class_iou.get(k, ExactSum()).merge(other.class_iou.get(k, ExactSum()))
                         for k in set(self.class_iou) | set(other.class_iou)}
        return out

    def compute(self) -> LocalizationResult:
        n_img = self.n_images
        per_class = [self.class_hits[c] / self.class_pairs[c] for c in sorted(self.class_pairs)]
        pairs = sum(self.class_pairs.values())
        return LocalizationResult(
            mean_iou=self.best_iou.value() / self.n_objects if self.n_objects else math.nan,
            corloc=float(np.mean(per_class)) if per_class else math.nan,
            corloc_images=sum(self.class_hits.values()) / pairs if pairs else math.nan,
            acc={t: self.acc_hits[t] / n_img if n_img else math.nan for t in self.thresholds},
            top1_loc={t: self.top1_hits[t] / n_img if n_img else math.nan for t in self.thresholds},
            n_images=n_img, n_objects=self.n_objects, class_hits=dict(self.class_hits),
            class_pairs=dict(self.class_pairs), class_iou_sum={k: v.value() for k, v in self.class_iou.items()},
            class_objects=dict(self.class_objects))


def localization_metrics(images: Sequence[tuple[Any, Any, Any, Any, Any]], *, iou: float = 0.5,
                         thresholds: Sequence[float] = (0.3, 0.5, 0.7)) -> LocalizationResult:
    """Metrics over per-image tuples ``(gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores)``.

    Parameters
    ----------
    images : sequence of 5-tuples
        Per image: ground-truth boxes (G, 4) and labels (G,), predicted boxes (P, 4), labels (P,) and scores (P,).
    iou : float
        The IoU a CorLoc hit needs.
    thresholds : sequence of float
        The IoUs of ``acc@t`` and ``top1_loc@t``.

    Returns
    -------
    LocalizationResult

    Examples
    --------
    >>> r = localization_metrics([([[0, 0, 10, 10]], [1], [[0, 0, 10, 5], [0, 0, 9, 10]], [1, 1], [0.9, 0.5])])
    >>> r.mean_iou, r.corloc, r.acc[0.5]
    (0.9, 1.0, 1.0)
    """
    acc = LocalizationAccumulator(iou=iou, thresholds=thresholds)
    for i, item in enumerate(images):
        if len(item) != 5:
            raise ValidationError(f"images[{i}]: expected (gt_boxes, gt_labels, pred_boxes, pred_labels, "
                                  f"pred_scores), got {len(item)} items")
        acc.update(*item)
    return acc.compute()
