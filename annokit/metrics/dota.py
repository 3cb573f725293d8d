"""DOTA Task 1 (oriented objects) average precision, as the DOTA devkit's ``dota_evaluation_task1.py`` computes it.

Per class, detections are taken in decreasing confidence, ordered by ``np.argsort(-scores)`` on the class's
detections in file order -- the devkit's own call, so that tied scores come out in the same (platform-dependent,
unstable) order. Each detection is compared with every ground-truth object of its image and class whose
axis-aligned hull overlaps its own by the devkit's integer-pixel rule (``min(r) - max(l) + 1 > 0`` on both axes);
for those the overlap is the polygon IoU of the quadrilaterals as given (:mod:`annokit.core.rotated`). The detection
takes the object of highest IoU (the first on ties). IoU ``> iou_threshold`` (strictly): a *difficult* object makes
it neither true nor false positive, an object not yet detected makes it a true positive, otherwise (duplicate) a
false positive; anything else is a false positive. Recall is over non-difficult objects.

AP: ``method="11point"`` (VOC07, the devkit's ``main()``) or ``"allpoint"`` (VOC12), by
:func:`annokit.metrics.voc.voc_ap`. ``mAP`` is the plain mean over the evaluated classes, in order.

Two zero-area quadrilaterals whose hulls touch have IoU ``0/0 = NaN`` in the devkit, and its ``np.max`` then makes
the detection a false positive; a zero-area detection has IoU 0 with everything else, so this changes no count
(``fixed`` uses 0). Defects of the reference reproduced by default and fixed with ``fixed=True``:

* Tied scores are ordered by an unstable sort. Fixed: stable (ties keep file order).
* A class with no non-difficult object gets AP 0 under 11-point and NaN under all-point, both counted in ``mAP``.
  Fixed: its AP is NaN (``null``) and it is left out of ``mAP``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from annokit._internal.arrays import equal_key_pairs
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.core.rotated import corners_to_ltrb, ltrb_to_corners, quad_iou_matched
from annokit.errors import ValidationError
from annokit.metrics.voc import VOCClassResult, voc_ap

__all__ = ["DOTAResult", "evaluate_dota"]


@dataclass(frozen=True)
class DOTAResult:
    """Per-class results (``per_class[category_id]``: AP, precision / recall per detection in confidence order --
    the devkit's arrays, difficult hits included as rows that add neither --, ``n_gt`` non-difficult objects)."""

    per_class: dict[int, VOCClassResult]
    names: dict[int, str]
    method: str
    iou_threshold: float
    fixed: bool

    @property
    def mAP(self) -> float:
        """The devkit's mean: the sum of the classes' AP in order over their count (NaN propagates); with
        ``fixed``, the mean over classes with at least one non-difficult object (NaN if none)."""
        if self.fixed:
            aps = [r.ap for r in self.per_class.values() if r.n_gt > 0]
            return float(np.mean(aps)) if aps else float("nan")
        total = 0.0
        for r in self.per_class.values():
            total = total + r.ap
        return total / len(self.per_class) if self.per_class else float("nan")

    def metrics_dict(self) -> dict[str, float | None]:
        """``{"mAP": ...}`` (``None`` where undefined)."""
        return {"mAP": _num(self.mAP)}

    def per_class_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: {"AP": ..., "n_gt": ..., "n_det": ...}}`` in class order."""
        return {self.names[c]: {"AP": _num(r.ap), "n_gt": r.n_gt, "n_det": len(r.scores)}
                for c, r in self.per_class.items()}


def _num(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


@dataclass(frozen=True)
class _Objects:
    """Columns the matching needs: quadrilaterals, their hulls, labels, images."""

    quads: FloatArray
    hulls: FloatArray
    labels: IntArray
    images: IntArray

    @classmethod
    def of(cls, inst: Instances) -> _Objects:
        quads = np.asarray(inst.corners) if inst.corners is not None else ltrb_to_corners(inst.boxes)
        return cls(quads, corners_to_ltrb(quads), np.asarray(inst.labels), np.asarray(inst.image_ids))


def _difficult(gt: Instances) -> BoolArray:
    if gt.extras is None:
        return np.zeros(len(gt), dtype=bool)
    return np.array([bool((e or {}).get("difficult", False)) for e in gt.extras], dtype=bool)


def _candidates(g: _Objects, d: _Objects) -> tuple[IntArray, IntArray]:
    """``(det, gt)`` pairs of the same image and class whose hulls overlap by the devkit's ``+ 1`` rule."""
    _, lab = np.unique(np.concatenate([g.labels, d.labels]), return_inverse=True)
    imgs, img = np.unique(np.concatenate([g.images, d.images]), return_inverse=True)
    key = lab.reshape(-1) * len(imgs) + img.reshape(-1)
    det, gt = equal_key_pairs(key[len(g.labels):], key[:len(g.labels)])
    a, b = d.hulls[det], g.hulls[gt]
    iw = np.maximum(np.minimum(b[:, 2], a[:, 2]) - np.maximum(b[:, 0], a[:, 0]) + 1.0, 0.0)
    ih = np.maximum(np.minimum(b[:, 3], a[:, 3]) - np.maximum(b[:, 1], a[:, 1]) + 1.0, 0.0)
    keep = (iw * ih) > 0
    return det[keep], gt[keep]


def _best_match(n_det: int, det: IntArray, gt: IntArray, iou: FloatArray) -> tuple[FloatArray, IntArray]:
    """Per detection: the highest IoU (``-inf`` without candidates, NaN when a candidate's IoU is NaN, as
    ``np.max``) and the candidate reaching it first (in ground-truth order)."""
    has_nan = np.bincount(det, weights=np.isnan(iou), minlength=n_det) > 0
    order = np.lexsort((gt, -np.nan_to_num(iou, nan=-np.inf), det))
    first = order[np.r_[True, det[order][1:] != det[order][:-1]]] if len(order) else order
    ovmax = np.full(n_det, -np.inf)
    jmax = np.full(n_det, -1, dtype=np.int64)
    ovmax[det[first]] = iou[first]
    jmax[det[first]] = gt[first]
    ovmax[has_nan] = np.nan
    return ovmax, jmax


def _class_result(cid: int, rows: IntArray, scores: FloatArray, ovmax: FloatArray, jmax: IntArray,
                  difficult: BoolArray, n_gt: int, *, thr: float, method: str, fixed: bool) -> VOCClassResult:
    """TP / FP flags in confidence order and AP for one class (the devkit's loop, vectorised: each detection's best
    object does not depend on what was matched before, only the "already detected" flag does)."""
    conf = scores[rows]
    order = np.argsort(-conf, kind="stable") if fixed else np.argsort(-conf)
    rows = rows[order]
    hit = ovmax[rows] > thr
    j = jmax[rows]
    dif = hit & difficult[np.maximum(j, 0)]
    tp = np.zeros(len(rows))
    good = np.flatnonzero(hit & ~dif)
    _, first = np.unique(j[good], return_index=True)
    tp[good[first]] = 1.0
    fp = np.where(hit, 0.0, 1.0)
    fp[good] = 1.0 - tp[good]
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = ctp / float(n_gt)
        prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    ap = float("nan") if fixed and n_gt == 0 else float(voc_ap(rec, prec, method=method))  # type: ignore[arg-type]
    return VOCClassResult(category_id=cid, ap=ap, precision=prec, recall=rec, scores=conf[order], tp=tp, fp=fp,
                          n_gt=n_gt)


def evaluate_dota(gt: Dataset, dt: Dataset | Instances, *, method: Literal["11point", "allpoint"] = "11point",
                  iou_threshold: float = 0.5, fixed: bool = False, classes: Sequence[str] | None = None) -> DOTAResult:
    """DOTA Task 1 AP per class of oriented detections ``dt`` against ``gt`` (see the module's definition).

    Parameters
    ----------
    gt : Dataset
        Ground truth with ``corners`` (else its boxes' corners) and ``extras[i]["difficult"]``
        (:func:`annokit.io.dota.read_dota_labels`).
    dt : Dataset or Instances
        Detections with scores (:func:`annokit.io.dota.read_dota_task1`), category ids as in ``gt``.
    method : {"11point", "allpoint"}
        VOC07 11-point (the devkit's default) or VOC12 all-point AP.
    iou_threshold : float
        A match needs IoU strictly above it.
    fixed : bool
        Fix the devkit's defects listed in the module docstring.
    classes : sequence of str, optional
        Class names to evaluate, in order (default: every category of ``dt`` when it is a Dataset, else of
        ``gt``); the devkit evaluates a fixed list (DOTA-v1.0's 15 classes).

    Returns
    -------
    DOTAResult

    Examples
    --------
    >>> from annokit.core.labels import LabelSet
    >>> from annokit.core.dataset import ImageTable
    >>> sq = np.array([[[0, 0], [10, 0], [10, 10], [0, 10]]], float)
    >>> gt = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[0], widths=[0]),
    ...              categories=LabelSet.from_names(["plane"]),
    ...              annotations=Instances(image_ids=[1], boxes=[[0, 0, 10, 10]], labels=[1], corners=sq))
    >>> dt = Instances(image_ids=[1], boxes=[[0, 0, 10, 10]], labels=[1], scores=[0.9], corners=sq)
    >>> evaluate_dota(gt, dt).mAP
    1.0
    """
    det = dt.annotations if isinstance(dt, Dataset) else dt
    if det.scores is None:
        raise ValidationError("evaluate_dota: the detections have no scores")
    cats = dt.categories if isinstance(dt, Dataset) else gt.categories
    names = {int(i): n for i, n in zip(cats.ids, cats.names)}
    if classes is not None:
        unknown = [c for c in classes if c not in names.values()]
        if unknown:
            raise ValidationError(f"evaluate_dota: unknown class {unknown[0]!r}")
        order = [cats.id_of(c) for c in classes]
    else:
        order = [int(i) for i in cats.ids]
    difficult = _difficult(gt.annotations)
    g = _Objects.of(gt.annotations)
    d = _Objects.of(det)
    pd, pg = _candidates(g, d)
    iou = quad_iou_matched(d.quads[pd], g.quads[pg], zero_area=0.0 if fixed else np.nan, min_iou=iou_threshold)
    ovmax, jmax = _best_match(len(det), pd, pg, iou)
    scores = np.asarray(det.scores)
    per_class = {}
    for cid in order:
        n_gt = int(((g.labels == cid) & ~difficult).sum())
        per_class[cid] = _class_result(cid, np.flatnonzero(d.labels == cid), scores, ovmax, jmax, difficult,
                                       n_gt, thr=iou_threshold, method=method, fixed=fixed)
    return DOTAResult(per_class=per_class, names=names, method=method, iou_threshold=iou_threshold, fixed=fixed)
