"""COCO-style precision-recall breakdown (the C75 / C50 / Loc / Sim / Oth / BG / FN curves of the COCO detection
analysis, per class and area range), computed with :func:`annokit.metrics.coco.evaluate`.

Definitions (recall thresholds and area ranges as the COCO evaluation; the last ``max_dets``):

``C75``, ``C50``
    PR at IoU 0.75 and 0.50.
``Loc``
    PR at IoU 0.10 (localisation errors forgiven, duplicates still count).
``Sim``
    As ``Loc``, after removing every false positive (at IoU 0.10) that overlaps with IoU >= 0.10 a ground truth of
    *another class of the same supercategory* in its image (supercategory confusions forgiven). The comparison is
    between the prediction's class and the ground truth's class; a class alone in its supercategory (or classes
    with no supercategory) forgive nothing.
``Oth``
    As ``Sim`` with any other class (all class confusions forgiven).
``BG``
    All remaining false positives removed: precision 1 up to the recall ``Oth`` reaches.
``FN``
    Precision 1 at every recall (all errors removed).

Unlike ports that relabel confused ground truth as ignored (one detection absorbed per ground truth), every
confused detection is forgiven here; ``Sim`` is computed from the supercategories of the dataset's categories.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from annokit.core.boxes import box_iou_matched
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError

if TYPE_CHECKING:
    from annokit.metrics.coco import COCOParams, COCOResult

__all__ = ["BREAKDOWN_KEYS", "BreakdownKey", "Evaluator", "PRBreakdown", "pr_breakdown"]

BreakdownKey = Literal["C75", "C50", "Loc", "Sim", "Oth", "BG", "FN"]
BREAKDOWN_KEYS: tuple[BreakdownKey, ...] = ("C75", "C50", "Loc", "Sim", "Oth", "BG", "FN")


@dataclass(frozen=True)
class PRBreakdown:
    """``precision[key]``: (R, K, A) float64 precision at ``rec_thrs`` per class and area range (-1 where the class
    has no ground truth in that range, as COCO)."""

    rec_thrs: np.ndarray
    cat_ids: np.ndarray
    cat_names: list[str]
    area_labels: tuple[str, ...]
    precision: dict[str, np.ndarray]

    def _slice(self, key: BreakdownKey, cat_id: int | None, area: str) -> np.ndarray:
        """(R, K) or, with ``cat_id``, (R, 1) precision of ``key`` in ``area``; unknown names are a
        :class:`ValidationError`."""
        if key not in self.precision:
            raise ValidationError(f"PR breakdown: {key!r} is not one of {', '.join(BREAKDOWN_KEYS)}")
        if area not in self.area_labels:
            raise ValidationError(f"PR breakdown: area {area!r} is not one of {', '.join(self.area_labels)}")
        p = self.precision[key][:, :, self.area_labels.index(area)]
        if cat_id is None:
            return p
        k = np.flatnonzero(self.cat_ids == cat_id)
        if len(k) == 0:
            raise ValidationError(f"PR breakdown: no category id {cat_id!r}")
        return p[:, k[:1]]

    def ap(self, key: BreakdownKey, *, cat_id: int | None = None, area: str = "all") -> float | None:
        """Area under the curve (mean precision over recall thresholds, valid entries only); over all classes
        when ``cat_id`` is None. ``None`` when nothing is defined."""
        p = self._slice(key, cat_id, area)
        v = p[p > -1]
        return float(v.mean()) if v.size else None

    def curve(self, key: BreakdownKey, *, cat_id: int | None = None, area: str = "all") -> np.ndarray:
        """(R,) precision; the mean over classes with ground truth in ``area`` when ``cat_id`` is None."""
        p = self._slice(key, cat_id, area)
        if cat_id is not None:
            return p[:, 0].copy()
        valid = p > -1
        n = valid.sum(axis=1)
        s = np.where(valid, p, 0).sum(axis=1)
        return np.where(n > 0, s / np.maximum(n, 1), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": list(BREAKDOWN_KEYS),
            "rec_thrs": self.rec_thrs.tolist(),
            "area_labels": list(self.area_labels),
            "overall": {
                area: {k: {"ap": self.ap(k, area=area), "precision": self.curve(k, area=area).tolist()}
                       for k in BREAKDOWN_KEYS}
                for area in self.area_labels
            },
            "per_class": self._per_class_aps(),
        }

    def _per_class_aps(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """``{class name: {area: {key: AP or None}}}``, the per-class :meth:`ap` of every key at once."""
        aps = {}
        for key in BREAKDOWN_KEYS:
            p = self.precision[key]
            valid = p > -1
            n = valid.sum(axis=0)
            mean = np.where(valid, p, 0.0).sum(axis=0) / np.maximum(n, 1)
            aps[key] = np.where(n > 0, mean, np.nan).tolist()  # (K, A)
        return {name: {area: {k: (None if np.isnan(aps[k][i][a]) else aps[k][i][a]) for k in BREAKDOWN_KEYS}
                       for a, area in enumerate(self.area_labels)}
                for i, name in enumerate(self.cat_names)}


def _confused(gt: Dataset, dets: Instances, cand: np.ndarray, group: np.ndarray,
              iou_type: Literal["bbox", "segm"]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool twice: rows in ``cand`` overlapping (IoU >= 0.1) a non-crowd ground truth of another class in its
    image, of the same ``group`` ((K,) group number per category position; a prediction of a category not in
    ``gt`` is in no group) and of any group. The pairs and their IoU are computed once for both."""
    sim, oth = np.zeros(len(dets), dtype=bool), np.zeros(len(dets), dtype=bool)
    pd, pg = _candidate_pairs(gt, dets, cand)
    if len(pd):
        hit = _pair_iou(gt, dets, pd, pg, iou_type) >= 0.1
        cd, cg = gt.categories.index_of(dets.labels[pd]), gt.categories.index_of(gt.annotations.labels[pg])
        same = (cd >= 0) & (cg >= 0) & (group[np.maximum(cd, 0)] == group[np.maximum(cg, 0)])
        oth[pd[hit]] = True
        sim[pd[hit & same]] = True
    return sim, oth


def _candidate_pairs(gt: Dataset, dets: Instances, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (prediction row in ``cand``, non-crowd ground-truth row) pair on one image whose classes differ."""
    g = gt.annotations
    rows = np.flatnonzero(cand)
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if len(rows) == 0 or len(g) == 0:
        return none
    gsel = np.flatnonzero(~g.iscrowd)
    g_img = g.image_ids[gsel]
    o = np.argsort(g_img, kind="stable")
    gsel, g_img = gsel[o], g_img[o]
    d_img = dets.image_ids[rows]
    lo = np.searchsorted(g_img, d_img, side="left")
    cnt = np.searchsorted(g_img, d_img, side="right") - lo
    if cnt.sum() == 0:
        return none
    pd = np.repeat(rows, cnt)
    pg = gsel[np.arange(int(cnt.sum())) + np.repeat(lo - np.r_[0, np.cumsum(cnt)[:-1]], cnt)]
    ok = dets.labels[pd] != g.labels[pg]
    return pd[ok], pg[ok]


def _pair_iou(gt: Dataset, dets: Instances, pd: np.ndarray, pg: np.ndarray,
              iou_type: Literal["bbox", "segm"]) -> np.ndarray:
    """IoU of each (prediction ``pd[i]``, ground truth ``pg[i]``) pair: masks for ``segm`` (when both sides have
    them), else boxes."""
    g = gt.annotations
    if iou_type == "segm" and dets.segmentations is not None and g.segmentations is not None:
        from annokit.core.masks import mask_iou, segmentation_to_rle

        hw = {int(i): (int(h), int(w)) for i, h, w in zip(gt.images.ids, gt.images.heights, gt.images.widths)}
        iou = np.empty(len(pd))
        for n, (d, j) in enumerate(zip(pd, pg)):
            h, w = hw[int(g.image_ids[j])]
            a = segmentation_to_rle(dets.segmentations[d], h, w)
            b = segmentation_to_rle(g.segmentations[j], h, w)
            iou[n] = mask_iou([a], [b])[0, 0]
        return iou
    return box_iou_matched(dets.boxes[pd], g.boxes[pg])


Evaluator = Callable[[Dataset, Instances, "COCOParams"], "COCOResult"]
"""``evaluator(gt, dets, params)``: a COCO evaluation equal to :func:`annokit.metrics.coco.evaluate`'s, per-row
matches included (e.g. one run on a dask cluster: :func:`annokit.distributed.matches.evaluate_matched`)."""


def _plain(gt: Dataset, dets: Instances, params: COCOParams) -> COCOResult:
    from annokit.metrics.coco import evaluate

    return evaluate(gt, dets, params=params)


def _at_iou10(gt: Dataset, dets: Instances, params: Any, evaluator: Evaluator) -> COCOResult:
    """The COCO evaluation of ``dets`` with ``params`` (one IoU threshold, one ``maxDets``: the summary, which
    would warn that it needs three, is not used)."""
    import warnings

    from annokit.errors import PycocotoolsQuirkWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PycocotoolsQuirkWarning)
        return evaluator(gt, dets, params)


def pr_breakdown(gt: Dataset, dets: Instances, *, coco: COCOResult | None = None,
                 iou_type: Literal["bbox", "segm"] = "bbox", evaluator: Evaluator | None = None) -> PRBreakdown:
    """The breakdown of ``dets`` against ``gt`` (module docstring).

    Parameters
    ----------
    gt : Dataset
        Ground truth.
    dets : Instances
        Predictions with scores.
    coco : COCOResult, optional
        An existing :func:`annokit.metrics.coco.evaluate` result of ``dets`` on ``gt`` (its parameters, IoU type
        included, are used); computed with the default parameters when absent.
    iou_type : {"bbox", "segm"}
        Box or mask IoU, when ``coco`` is absent.
    evaluator : callable, optional
        ``evaluator(gt, dets, params)`` for every COCO evaluation the breakdown runs (:data:`Evaluator`; default
        :func:`annokit.metrics.coco.evaluate`).

    Returns
    -------
    PRBreakdown

    Examples
    --------
    >>> import annokit
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> bd = pr_breakdown(gt, annokit.load("sample_data/scenes/pred.json").annotations)  # doctest: +SKIP
    >>> round(bd.ap("C50"), 3)  # doctest: +SKIP
    """
    from annokit.metrics.coco import COCOParams

    ev = evaluator or _plain
    if coco is None:
        coco = ev(gt, dets, COCOParams(iou_type=iou_type))
    p = coco.params
    if p.iou_type not in ("bbox", "segm"):
        raise ValidationError(f"pr_breakdown: boxes or masks only, not {p.iou_type}")
    thrs = np.asarray(p.iou_thrs)
    prec: dict[str, np.ndarray] = {}
    for key, t in (("C75", 0.75), ("C50", 0.5)):  # from ``coco`` when it has that threshold
        idx = np.flatnonzero(np.isclose(thrs, t))
        res, i = (coco, int(idx[0])) if len(idx) else (ev(gt, dets, replace(p, iou_thrs=(t,))), 0)
        prec[key] = res.precision[i, :, :, :, -1]
    p10 = replace(p, iou_thrs=(0.1,), max_dets=(p.max_dets[-1],))  # the same matching, one maxDets slice
    loc = _at_iou10(gt, dets, p10, ev)
    prec["Loc"] = loc.precision[0, :, :, :, -1]
    unmatched = loc.dt_matches[0] < 0

    cats = gt.categories
    k = len(cats)
    sup = cats.supercategories or [None] * k
    sup_arr = np.array([s if s is not None else f"\0{i}" for i, s in enumerate(sup)], dtype=object)
    group = np.unique(sup_arr, return_inverse=True)[1].reshape(-1)  # a class without supercategory: its own group
    sim_rm, oth_rm = _confused(gt, dets, unmatched, group, p.iou_type)
    prec["Sim"] = _at_iou10(gt, dets[~sim_rm], p10, ev).precision[0, :, :, :, -1] if sim_rm.any() else prec["Loc"]
    prec["Oth"] = _at_iou10(gt, dets[~oth_rm], p10, ev).precision[0, :, :, :, -1] if oth_rm.any() else prec["Loc"]
    oth = prec["Oth"]
    prec["BG"] = np.where(oth > -1, (oth > 0).astype(np.float64), -1.0)
    prec["FN"] = np.where(oth > -1, 1.0, -1.0)
    cat_pos = cats.index_of(np.asarray(coco.cat_ids))
    names = [cats.names[i] if i >= 0 else str(c) for i, c in zip(cat_pos, coco.cat_ids)]
    return PRBreakdown(
        rec_thrs=np.asarray(p.rec_thrs, dtype=np.float64),
        cat_ids=np.asarray(coco.cat_ids, dtype=np.int64),
        cat_names=names,
        area_labels=tuple(p.area_labels),
        precision=prec,
    )
