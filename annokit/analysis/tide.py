"""TIDE-style detection error decomposition (Bolya et al., "TIDE: A General Toolbox for Identifying Object
Detection Errors", ECCV 2020), equal to the ``tidecv`` package by default.

Every false positive is classified, in this order of precedence, as

``Loc``
    same class, IoU with the best same-class ground truth in ``[bg_thresh, pos_thresh]`` (both inclusive);
``Cls``
    IoU ``>= pos_thresh`` with a ground truth of another class;
``Dupe``
    IoU ``>= pos_thresh`` with a same-class ground truth that another (higher scoring) prediction matched;
``Bkg``
    IoU ``<= bg_thresh`` with every ground truth (or the image has no ground truth);
``Both``
    anything else (wrong class and poorly localised).

A ground truth that no prediction matched is a ``Miss`` unless some ``Cls`` or ``Loc`` error points at it (then
fixing that error recovers it). The *oracle* dAP of an error type is the AP gained when every error of that type is
fixed (Cls / Loc: the highest-scoring error pointing at an unmatched ground truth becomes a true positive, the
others are removed; Both / Dupe / Bkg: the false positive is removed; Miss: the ground truth is removed). The two
special dAPs are ``FalsePos`` (every false positive scored below every true positive) and ``FalseNeg`` (every
unmatched ground truth removed). AP is tidecv's: per class, 101-point interpolated, in points (0-100), averaged
over the classes that have ground truth *or* predictions.

Matching (tidecv's): per image, predictions sorted by score (stable, input order on ties), the top ``max_dets``
kept; each takes the unmatched same-class ground truth of highest IoU when that IoU is ``>= pos_thresh``. Crowd
ground truth are *ignore regions*: an unmatched prediction whose crowd-IoU (intersection over the prediction's
area) with a same-class crowd region is ``> pos_thresh`` is left out of AP.

Questionable tidecv behaviours, reproduced by default and switchable:

* A class with predictions but no ground truth counts as AP 0 in the mean (COCO leaves it out):
  ``exclude_classes_without_gt=True`` leaves it out.
* Predictions ignored because of a crowd region still get an error type and fixing a ``Cls`` / ``Loc`` error of
  one adds a true positive that was never a false positive: ``count_ignored_predictions=False`` leaves ignored
  predictions out of the decomposition.

References
----------
D. Bolya, S. Foley, J. Hays, J. Hoffman. TIDE: A General Toolbox for Identifying Object Detection Errors.
ECCV 2020. https://github.com/dbolya/tide
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np

from annokit.analysis._geometry import IouFunction as IouFunction
from annokit.analysis._geometry import Order as _Order
from annokit.analysis._geometry import iou_function as _iou_function
from annokit.analysis._geometry import pair_ious
from annokit.analysis._geometry import visit_order as _visit_order
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError

__all__ = [
    "ERROR_TYPES",
    "SPECIAL_ERROR_TYPES",
    "TideResult",
    "ObjectTags",
    "tide",
    "tide_ap",
]

ERROR_TYPES: tuple[str, ...] = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
"""Main error types, in tidecv's order."""
SPECIAL_ERROR_TYPES: tuple[str, ...] = ("FalsePos", "FalseNeg")

# integer codes of the error column (0 = no error)
_NONE, _CLS, _LOC, _BOTH, _DUPE, _BKG, _MISS = range(7)
_CODE_NAME = ("",) + ERROR_TYPES

# prediction / ground-truth status codes
PRED_STATUS: tuple[str, ...] = ("TP", "FP", "ignored", "unevaluated")
GT_STATUS: tuple[str, ...] = ("TP", "FN", "crowd")


def _records(kind: str, inst: Instances, scores: np.ndarray | None, status: np.ndarray, status_names: Sequence[str],
             match: np.ndarray, other_ids: np.ndarray, iou: np.ndarray, error: np.ndarray) -> list[dict[str, Any]]:
    """The per-object records of one side (ground truth or predictions) for :meth:`TideResult.to_records`."""
    out: list[dict[str, Any]] = []
    for i in range(len(inst)):
        m = int(match[i])
        out.append(
            {
                "kind": kind,
                "row": i,
                "id": int(inst.ids[i]),
                "image_id": int(inst.image_ids[i]),
                "category_id": int(inst.labels[i]),
                "score": None if scores is None else float(scores[i]),
                "status": status_names[status[i]],
                "matched_row": m if m >= 0 else None,
                "matched_id": int(other_ids[m]) if m >= 0 else None,
                "iou": float(iou[i]),
                "error": _CODE_NAME[error[i]] or None,
            }
        )
    return out


@dataclass(frozen=True)
class ObjectTags:
    """Per-object outcome of a matching, as columns (row ``i`` describes row ``i`` of the input).

    Predictions (``pred_*``, length = number of predictions):
        ``pred_status`` (N,) int8 index into ``("TP", "FP", "ignored", "unevaluated")`` (``unevaluated``: beyond
        ``max_dets`` in its image, or on an image absent from the ground truth);
        ``pred_match`` (N,) int64 row of the matched ground truth (TP) or of the ground truth the error points at
        (Cls / Loc / Dupe), else -1; ``pred_iou`` (N,) float64 highest IoU with a same-class ground truth (as
        tidecv's ``pred['iou']``); ``pred_error`` (N,) int8 index into ``("",) + ERROR_TYPES``.
    Ground truth (``gt_*``, length = number of ground-truth objects):
        ``gt_status`` (M,) int8 index into ``("TP", "FN", "crowd")``; ``gt_match`` (M,) int64 row of the matched
        prediction or -1; ``gt_iou`` (M,) float64 IoU of the match (0 if none); ``gt_error`` (M,) int8:
        ``Miss`` for a missed object, or the type of the best error pointing at an unmatched object
        (``Cls`` / ``Loc``), else 0.
    """

    pred_status: np.ndarray
    pred_match: np.ndarray
    pred_iou: np.ndarray
    pred_error: np.ndarray
    gt_status: np.ndarray
    gt_match: np.ndarray
    gt_iou: np.ndarray
    gt_error: np.ndarray

    def check(self, gt: Dataset, dets: Instances) -> None:
        """:class:`ValidationError` unless these tags describe ``gt`` and ``dets`` (one row per object)."""
        if len(self.pred_status) != len(dets) or len(self.gt_status) != len(gt.annotations):
            raise ValidationError(f"the tags describe {len(self.pred_status)} predictions and {len(self.gt_status)} "
                                  f"ground-truth objects, not {len(dets)} and {len(gt.annotations)}")

    def to_records(self, gt: Dataset, dets: Instances) -> list[dict[str, Any]]:
        """One JSON-ready dict per object: kind, row, id, image_id, category_id, score, status, matched row and id,
        IoU and error type."""
        self.check(gt, dets)
        g = gt.annotations
        return _records("gt", g, None, self.gt_status, GT_STATUS, self.gt_match, dets.ids, self.gt_iou,
                        self.gt_error) + \
            _records("pred", dets, dets.scores if dets.scores is not None else np.zeros(len(dets)),
                     self.pred_status, PRED_STATUS, self.pred_match, g.ids, self.pred_iou, self.pred_error)

    def per_image_counts(self, gt: Dataset, dets: Instances) -> dict[str, np.ndarray]:
        """``{"image_ids", "tp", "fp", "fn"}``: (K,) arrays over ``gt.images.ids`` (ignored predictions not counted)."""
        self.check(gt, dets)
        ids = gt.images.ids
        k = len(ids)
        pi = gt.images.index_of(dets.image_ids)
        gi = gt.images.index_of(gt.annotations.image_ids)

        def count(pos: np.ndarray, sel: np.ndarray) -> np.ndarray:
            p = pos[sel & (pos >= 0)]
            return np.bincount(p, minlength=k).astype(np.int64)

        return {
            "image_ids": ids.copy(),
            "tp": count(pi, self.pred_status == 0),
            "fp": count(pi, self.pred_status == 1),
            "fn": count(gi, self.gt_status == 1),
        }


@dataclass(frozen=True)
class TideResult:
    """Result of :func:`tide`. All AP values are in points (0-100), as tidecv prints them.

    ``ap``: mAP at ``pos_thresh``; ``main_dap``: ``{type: dAP}`` for :data:`ERROR_TYPES` (clamped at 0, as
    tidecv); ``special_dap``: ``{"FalsePos", "FalseNeg"}`` (not clamped); ``counts``: ``{type: number of errors}``;
    ``per_class_ap``: ``{category_id: AP}`` over the classes in the mean; ``per_class_dap``:
    ``{category_id: {type: AP with that type fixed - AP}}``; ``tags``: :class:`ObjectTags`.
    """

    ap: float
    main_dap: dict[str, float]
    special_dap: dict[str, float]
    counts: dict[str, int]
    per_class_ap: dict[int, float]
    per_class_dap: dict[int, dict[str, float]]
    tags: ObjectTags
    pos_thresh: float
    bg_thresh: float
    iou_type: Literal["bbox", "segm"]
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ap": self.ap,
            "main_dap": dict(self.main_dap),
            "special_dap": dict(self.special_dap),
            "counts": dict(self.counts),
            "per_class_ap": {str(k): v for k, v in self.per_class_ap.items()},
            "per_class_dap": {str(k): dict(v) for k, v in self.per_class_dap.items()},
            "pos_thresh": self.pos_thresh,
            "bg_thresh": self.bg_thresh,
            "iou_type": self.iou_type,
            "options": dict(self.options),
        }

    def summary_text(self) -> str:
        lines = [f"{self.iou_type} AP @ {int(round(self.pos_thresh * 100))}: {self.ap:.2f}", ""]
        lines.append("Main errors  " + " ".join(f"{t:>6s}" for t in ERROR_TYPES))
        lines.append("        dAP  " + " ".join(f"{self.main_dap[t]:6.2f}" for t in ERROR_TYPES))
        lines.append("      count  " + " ".join(f"{self.counts[t]:6d}" for t in ERROR_TYPES))
        lines.append("")
        lines.append("Special      " + " ".join(f"{t:>9s}" for t in SPECIAL_ERROR_TYPES))
        lines.append("        dAP  " + " ".join(f"{self.special_dap[t]:9.2f}" for t in SPECIAL_ERROR_TYPES))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- IoU
def _label_counts(labels: np.ndarray) -> dict[int, int]:
    """``{label: how many times it occurs}``."""
    return {int(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True))}


def _without(num_gt: dict[int, int], labels: np.ndarray) -> dict[int, int]:
    """``num_gt`` less one per occurrence of each label in ``labels`` (ground truth taken out of a scenario)."""
    out = dict(num_gt)
    for c, n in _label_counts(labels).items():
        out[c] -= n
    return out


# ---------------------------------------------------------------------------------------------------- AP
def _dense_rank(v: np.ndarray) -> np.ndarray:
    """(N,) int64 rank of each value among the distinct values of ``v`` (equal values, equal rank)."""
    return np.unique(v, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _class_score_order(classes: np.ndarray, scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The permutation sorting by class, then score descending, then ``order``: ``np.lexsort((order, -scores,
    classes))``, computed as one sort of a single int64 key made of the three dense ranks (three times faster
    on 500k points)."""
    if len(classes) == 0:
        return np.zeros(0, dtype=np.int64)
    c, s, o = _dense_rank(classes), _dense_rank(-scores), _dense_rank(order)
    ns, no = int(s.max()) + 1, int(o.max()) + 1
    if (int(c.max()) + 1) * ns * no >= 2**62:  # too many distinct values for one key
        return np.lexsort((order, -scores, classes))
    return np.argsort((c * ns + s) * no + o, kind="stable")


def tide_ap(
    classes: np.ndarray,
    scores: np.ndarray,
    is_tp: np.ndarray,
    order: np.ndarray,
    num_gt: dict[int, int],
    *,
    include: set[int] | None = None,
) -> tuple[float, dict[int, float]]:
    """tidecv's AP (points, 0-100) from data points.

    Parameters
    ----------
    classes, scores, is_tp, order : (N,) arrays
        Class id, score, true-positive flag and insertion order of each data point (ties of score keep insertion
        order, as tidecv's stable sort).
    num_gt : dict
        Ground-truth count per class.
    include : set, optional
        If given, only these classes enter the mean.

    Returns
    -------
    (mAP, {class: AP}); mAP is ``nan`` when no class is left.
    """
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    is_tp = np.asarray(is_tp, dtype=bool).reshape(-1)
    if not len(classes) == len(scores) == len(is_tp) == len(np.asarray(order).reshape(-1)):
        raise ValidationError("tide_ap: classes, scores, is_tp and order must have one length")
    srt = _class_score_order(classes, scores, np.asarray(order).reshape(-1))
    return _sorted_ap(classes[srt], is_tp[srt], num_gt, include)


def _sorted_ap(c_s: np.ndarray, tp_s: np.ndarray, num_gt: dict[int, int],
               include: set[int] | None) -> tuple[float, dict[int, float]]:
    """:func:`tide_ap` of data points already sorted by class, then score descending, then insertion order
    (``c_s`` their classes, ``tp_s`` their true-positive flags)."""
    start = np.flatnonzero(np.r_[True, c_s[1:] != c_s[:-1]]) if len(c_s) else np.zeros(0, dtype=np.int64)
    uniq = c_s[start]
    bounds = dict(zip(uniq.tolist(), zip(start.tolist(), np.r_[start[1:], len(c_s)].tolist())))
    x_range = np.arange(101) / 100
    per: dict[int, float] = {}
    for k in sorted(set(bounds) | {c for c, v in num_gt.items() if v != 0}):
        if include is not None and k not in include:
            continue
        n = num_gt.get(k, 0)
        if n == 0:
            per[k] = 0.0
            continue
        a, b = bounds.get(k, (0, 0))
        tp = tp_s[a:b]
        if len(tp) == 0:
            per[k] = 0.0
            continue
        ntp = np.cumsum(tp)
        prec = ntp / np.arange(1, len(tp) + 1)
        rec = ntp / n
        prec = np.maximum.accumulate(prec[::-1])[::-1]
        idx = np.searchsorted(rec, x_range, side="left")
        y = np.where(idx < len(prec), prec[np.minimum(idx, len(prec) - 1)], 0.0)
        per[k] = float(sum(y.tolist()) / 101 * 100)
    if not per:
        return float("nan"), per
    return float(sum(per.values()) / len(per)), per


# ---------------------------------------------------------------------------------------------------- main
def tide(
    gt: Dataset,
    dets: Instances,
    *,
    iou_type: Literal["bbox", "segm"] = "bbox",
    pos_thresh: float = 0.5,
    bg_thresh: float = 0.1,
    max_dets: int = 100,
    exclude_classes_without_gt: bool = False,
    count_ignored_predictions: bool = True,
) -> TideResult:
    """Decompose the errors of ``dets`` against ``gt`` (see the module docstring for the exact definitions).

    Parameters
    ----------
    gt : Dataset
        Ground truth; crowd objects (``iscrowd``) are ignore regions. Images are visited in ``gt.images`` order.
    dets : Instances
        Predictions with ``scores``; rows on images absent from ``gt`` are not evaluated.
    iou_type : "bbox" or "segm"
        IoU of boxes, or of masks (``segmentations`` required on both sides; tidecv's ``mode=TIDE.MASK``).
    pos_thresh, bg_thresh : float
        Foreground and background IoU thresholds (TIDE: 0.5 and 0.1), in ``[0, 1]``.
    max_dets : int
        Predictions kept per image (highest scores).
    exclude_classes_without_gt, count_ignored_predictions : bool
        Corrections of tidecv behaviours (module docstring); defaults reproduce tidecv.

    Returns
    -------
    TideResult

    Examples
    --------
    >>> from annokit import Dataset, ImageTable, Instances, LabelSet
    >>> ds = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[100], widths=[100]),
    ...              categories=LabelSet.from_names(["cat", "dog"]),
    ...              annotations=Instances(image_ids=[1], boxes=[[10, 10, 50, 50]], labels=[1]))
    >>> det = Instances(image_ids=[1, 1], boxes=[[10, 10, 50, 50], [12, 10, 52, 50]], labels=[1, 2],
    ...                 scores=[0.9, 0.8])
    >>> r = tide(ds, det)
    >>> r.ap, r.counts["Cls"], r.main_dap["Cls"]
    (50.0, 1, 50.0)
    """
    _check_options(dets, iou_type, pos_thresh, bg_thresh, max_dets)
    order = _visit_order(gt, dets, max_dets)
    if pos_thresh > 0 and bg_thresh > 0:  # all images at once
        tags = _match_pairs(gt, dets, order, iou_type, pos_thresh, bg_thresh)
    else:  # a threshold of zero makes pairs without overlap count: image by image, on every pair
        tags = _match(gt, dets, order, _iou_function(gt, dets, order, iou_type), pos_thresh, bg_thresh)
    if not count_ignored_predictions:
        ignored = tags.pred_status == 2
        tags = replace(tags, pred_error=np.where(ignored, 0, tags.pred_error).astype(np.int8),
                       pred_match=np.where(ignored, -1, tags.pred_match))
    errors = _errors(tags, dets, order, count_ignored_predictions)
    num_gt = _label_counts(gt.annotations.labels[~gt.annotations.iscrowd])
    scenario = _Scenario.make(dets, gt.annotations.labels, tags, errors, order.seq, len(order.p_rows),
                         set(num_gt) if exclude_classes_without_gt else None)
    return _decompose(scenario, num_gt, tags, errors, iou_type=iou_type, pos_thresh=pos_thresh,
                      bg_thresh=bg_thresh, options={"max_dets": max_dets,
                                                    "exclude_classes_without_gt": exclude_classes_without_gt,
                                                    "count_ignored_predictions": count_ignored_predictions})


def _check_options(dets: Instances, iou_type: str, pos_thresh: float, bg_thresh: float, max_dets: int) -> None:
    """Refuse what :func:`tide` cannot decompose, with a :class:`ValidationError`."""
    if dets.scores is None:
        raise ValidationError("tide: predictions need scores")
    if iou_type not in ("bbox", "segm"):
        raise ValidationError(f"tide: iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    for name, v in (("pos_thresh", pos_thresh), ("bg_thresh", bg_thresh)):
        if not 0.0 <= v <= 1.0:
            raise ValidationError(f"tide: {name} must be in [0, 1], got {v!r}")
    if max_dets < 0:
        raise ValidationError(f"tide: max_dets must be >= 0, got {max_dets!r}")


# ---------------------------------------------------------------------------------------------------- matching
def _new_tags(npred: int, g: Instances) -> ObjectTags:
    """Tags before matching: every prediction unevaluated, every ground truth missed (crowd regions: crowd)."""
    ngt = len(g)
    return ObjectTags(
        pred_status=np.full(npred, 3, dtype=np.int8), pred_match=np.full(npred, -1, dtype=np.int64),
        pred_iou=np.zeros(npred), pred_error=np.zeros(npred, dtype=np.int8),
        gt_status=np.where(g.iscrowd, 2, 1).astype(np.int8), gt_match=np.full(ngt, -1, dtype=np.int64),
        gt_iou=np.zeros(ngt), gt_error=np.zeros(ngt, dtype=np.int8))


def _match(gt: Dataset, dets: Instances, order: _Order, iou_fn: IouFunction, pos_thresh: float,
           bg_thresh: float) -> ObjectTags:
    """Match every image (tidecv's greedy rule) and type the error of every unmatched prediction."""
    g = gt.annotations
    tags = _new_tags(len(dets), g)
    for k in range(len(gt.images)):
        p_rows, g_rows = order.image(k)
        if len(p_rows):
            _match_image(p_rows, g_rows, dets.labels, g, iou_fn, tags, pos_thresh, bg_thresh)
    return tags


@dataclass(frozen=True)
class _ImageMatch:
    """One image's matching: ``iou`` (P, G) with the non-crowd ground truth ``G``, ``same`` (P, G) same class,
    ``matched`` (P,) column of the matched ground truth or -1, ``used`` (G,) matched ground truth."""

    iou: np.ndarray
    same: np.ndarray
    matched: np.ndarray
    used: np.ndarray

    @property
    def cls_iou(self) -> np.ndarray:
        """IoU with same-class ground truth, 0 elsewhere."""
        out: np.ndarray = self.iou * self.same
        return out


def _greedy(P: np.ndarray, G: np.ndarray, plab: np.ndarray, glab: np.ndarray, iou_fn: IouFunction,
            pos_thresh: float) -> _ImageMatch:
    """Each prediction in turn (``P`` is in score order) takes the unmatched same-class ground truth of highest IoU
    when that IoU is ``>= pos_thresh``."""
    iou = iou_fn(P, G, False) if len(G) else np.zeros((len(P), 0))
    same = plab[P][:, None] == glab[G][None, :]
    cls_iou = iou * same
    matched = np.full(len(P), -1, dtype=np.int64)
    used = np.zeros(len(G), dtype=bool)
    for i in np.flatnonzero((cls_iou >= pos_thresh).any(axis=1)):
        row = np.where(used, 0.0, cls_iou[i])
        j = int(row.argmax())
        if row[j] >= pos_thresh:
            matched[i] = j
            used[j] = True
    return _ImageMatch(iou, same, matched, used)


def _match_image(P: np.ndarray, Gall: np.ndarray, plab: np.ndarray, g: Instances, iou_fn: IouFunction,
                 tags: ObjectTags, pos_thresh: float, bg_thresh: float) -> None:
    """Match the predictions ``P`` of one image to its ground truth ``Gall`` and write the outcome into ``tags``
    (arrays this module just made)."""
    crowd = g.iscrowd
    G, C = Gall[~crowd[Gall]], Gall[crowd[Gall]]
    m = _greedy(P, G, plab, g.labels, iou_fn, pos_thresh)
    if len(G):
        cls_iou = m.cls_iou
        tags.pred_iou[P] = cls_iou.max(axis=1)
        hit = m.matched >= 0
        tags.gt_iou[G[m.matched[hit]]] = cls_iou[np.flatnonzero(hit), m.matched[hit]]
    ok = m.matched >= 0
    ignored = np.zeros(len(P), dtype=bool)
    if len(C):
        hit_crowd = (iou_fn(P, C, True) > pos_thresh) & (plab[P][:, None] == g.labels[C][None, :])
        ignored = ~ok & hit_crowd.any(axis=1)
    tags.pred_status[P] = np.where(ok, 0, np.where(ignored, 2, 1))
    if ok.any():
        tags.pred_match[P[ok]] = G[m.matched[ok]]
        tags.gt_match[G[m.matched[ok]]] = P[ok]
        tags.gt_status[G[m.matched[ok]]] = 0
    bad = np.flatnonzero(~ok)  # error types of unmatched predictions (ignored ones too, as tidecv)
    if len(bad) and len(G) == 0:
        tags.pred_error[P[bad]] = _BKG
    elif len(bad):
        code, target = _error_types(m, bad, G, pos_thresh, bg_thresh)
        tags.pred_error[P[bad]] = code
        tags.pred_match[P[bad]] = target


def _error_types(m: _ImageMatch, bad: np.ndarray, G: np.ndarray, pos_thresh: float,
                 bg_thresh: float) -> tuple[np.ndarray, np.ndarray]:
    """Error code and the ground-truth row it points at (-1: none) of the unmatched predictions ``bad`` (positions
    in the image), by the precedence Loc, Cls, Dupe, Bkg, Both."""
    iou_b, same_b = m.iou[bad], m.same[bad]
    cls_b = iou_b * same_b
    r = np.arange(len(bad))
    a = cls_b.argmax(axis=1)
    va = cls_b[r, a]
    is_loc = (bg_thresh <= va) & (va <= pos_thresh)
    noncls = iou_b * ~same_b
    b = noncls.argmax(axis=1)
    is_cls = noncls[r, b] >= pos_thresh
    used_cls = iou_b * m.used[None, :] * same_b
    c = used_cls.argmax(axis=1)
    is_dupe = used_cls[r, c] >= pos_thresh
    is_bkg = iou_b.max(axis=1) <= bg_thresh
    code = np.select([is_loc, is_cls, is_dupe, is_bkg], [_LOC, _CLS, _DUPE, _BKG], _BOTH)
    target = np.select([is_loc, is_cls, is_dupe], [G[a], G[b], G[c]], -1)
    return code, target


# ------------------------------------------------------------------------------------------ matching, vectorised
def _first_best(key: np.ndarray, sorted_pairs: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Of the pairs ``sel`` (a (P,) mask), the one of highest IoU per ``key`` (ties: the lowest ground-truth row,
    as ``argmax`` over the image's ground truth in input order); ``sorted_pairs`` holds (at least) the pairs of
    ``sel``, sorted by key, IoU descending, ground-truth row, so that filtering it keeps that order."""
    o = sorted_pairs[sel[sorted_pairs]]
    first: np.ndarray = o[np.r_[True, key[o][1:] != key[o][:-1]]] if len(o) else o
    return first


def _greedy_pairs(pr: np.ndarray, g_row: np.ndarray, iou: np.ndarray, cand: np.ndarray, rank: np.ndarray,
                  n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """tidecv's greedy matching of every image at once: step ``r`` takes the ``r``-th prediction of each image
    (images are independent), which takes its unmatched candidate of highest IoU. Returns the matched pairs
    (indices) and the (M,) used flags."""
    used = np.zeros(n_gt, dtype=bool)
    c = np.flatnonzero(cand)
    c = c[np.lexsort((g_row[c], -iou[c], pr[c], rank[c]))]
    bounds = np.searchsorted(rank[c], np.arange(int(rank[c].max()) + 2)) if len(c) else np.zeros(1, np.int64)
    picks = []
    for r in range(len(bounds) - 1):
        seg = c[bounds[r] : bounds[r + 1]]
        seg = seg[~used[g_row[seg]]]
        if len(seg):
            pick = seg[np.r_[True, pr[seg][1:] != pr[seg][:-1]]]
            used[g_row[pick]] = True
            picks.append(pick)
    return (np.concatenate(picks) if picks else np.zeros(0, np.int64)), used


def _match_pairs(gt: Dataset, dets: Instances, order: _Order, iou_type: str, pos_thresh: float,
                 bg_thresh: float) -> ObjectTags:
    """:func:`_match` for thresholds above zero, from the overlapping pairs of all images at once (the same
    tags: pairs of IoU zero never decide a match nor an error type when both thresholds are positive)."""
    g = gt.annotations
    pairs = pair_ious(gt, dets, order, iou_type)
    pr, g_row, iou = order.p_rows[pairs.p], order.g_rows[pairs.g], pairs.iou
    crowd, same = g.iscrowd[g_row], dets.labels[pr] == g.labels[g_row]
    rank = pairs.p - order.p_start[order.p_img[pr]]
    tags = _new_tags(len(dets), g)
    tags.pred_status[order.p_rows] = 1
    plain = same & ~crowd
    np.maximum.at(tags.pred_iou, pr[plain], iou[plain])
    hit, used = _greedy_pairs(pr, g_row, iou, plain & (iou >= pos_thresh), rank, len(g))
    tags.pred_status[pr[hit]] = 0
    tags.pred_match[pr[hit]], tags.gt_match[g_row[hit]] = g_row[hit], pr[hit]
    tags.gt_status[g_row[hit]], tags.gt_iou[g_row[hit]] = 0, iou[hit]
    unmatched = tags.pred_status[pr] == 1
    tags.pred_status[pr[crowd & same & unmatched & (iou > pos_thresh)]] = 2
    _error_types_pairs(tags, order, pr, g_row, iou, unmatched & ~crowd, same, used, pos_thresh, bg_thresh)
    return tags


def _error_types_pairs(tags: ObjectTags, order: _Order, pr: np.ndarray, g_row: np.ndarray, iou: np.ndarray,
                       nc: np.ndarray, same: np.ndarray, used: np.ndarray, pos_thresh: float,
                       bg_thresh: float) -> None:
    """:func:`_error_types` of every unmatched visited prediction at once, from its pairs ``nc`` with non-crowd
    ground truth; written into ``tags`` (arrays :func:`_match_pairs` made)."""
    n = len(tags.pred_status)
    best = {}
    cand = np.flatnonzero(nc)
    sorted_pairs = cand[np.lexsort((g_row[cand], -iou[cand], pr[cand]))]  # one sort for the three choices
    for name, sel in (("same", nc & same), ("other", nc & ~same), ("used", nc & same & used[g_row])):
        b = _first_best(pr, sorted_pairs, sel)
        v, t = np.zeros(n), np.full(n, -1, dtype=np.int64)
        v[pr[b]], t[pr[b]] = iou[b], g_row[b]
        best[name] = (v, t)
    vmax = np.zeros(n)
    np.maximum.at(vmax, pr[nc], iou[nc])
    bad = order.p_rows[tags.pred_status[order.p_rows] >= 1]
    (va, a), (vb, b), (vc, c) = (best[k] for k in ("same", "other", "used"))
    is_loc = (bg_thresh <= va[bad]) & (va[bad] <= pos_thresh)
    is_cls, is_dupe, is_bkg = vb[bad] >= pos_thresh, vc[bad] >= pos_thresh, vmax[bad] <= bg_thresh
    tags.pred_error[bad] = np.select([is_loc, is_cls, is_dupe, is_bkg], [_LOC, _CLS, _DUPE, _BKG], _BOTH)
    tags.pred_match[bad] = np.select([is_loc, is_cls, is_dupe], [a[bad], b[bad], c[bad]], -1)


# ---------------------------------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class _Errors:
    """Which predictions are errors in the decomposition (``is_err`` (N,)), which of the Cls / Loc errors is the
    one fixed for its ground truth (``best`` (N,)), the misses (``miss`` (M,)) and the unmatched ground truth
    (``fn`` (M,))."""

    is_err: np.ndarray
    best: np.ndarray
    miss: np.ndarray
    fn: np.ndarray


def _errors(tags: ObjectTags, dets: Instances, order: _Order, count_ignored: bool) -> _Errors:
    """tidecv's BestGTMatch: among the Cls / Loc errors pointing at an unmatched ground truth, the highest score
    (first in visiting order on ties) is the one fixed; a ground truth no such error points at is a Miss.
    Writes the ground truth's error type into ``tags.gt_error`` (an array this module made)."""
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    is_err = (tags.pred_status < 3) & (tags.pred_status != 0)
    if not count_ignored:
        is_err &= tags.pred_status != 2
    fixable = is_err & ((tags.pred_error == _CLS) | (tags.pred_error == _LOC)) & (tags.pred_match >= 0)
    fixable[fixable] &= tags.gt_status[tags.pred_match[fixable]] == 1
    best = np.zeros(len(dets), dtype=bool)
    usable = np.zeros(len(tags.gt_status), dtype=bool)
    fr = np.flatnonzero(fixable)
    if len(fr):
        tg = tags.pred_match[fr]
        o = np.lexsort((order.seq[fr], -scores[fr], tg))
        first = np.r_[True, tg[o][1:] != tg[o][:-1]]
        best[fr[o][first]] = True
        usable[tg] = True
        tags.gt_error[tg[o][first]] = tags.pred_error[fr[o][first]]
    fn = tags.gt_status == 1
    miss = fn & ~usable
    tags.gt_error[miss] = _MISS
    return _Errors(is_err, best, miss, fn)


# ---------------------------------------------------------------------------------------------------- AP
@dataclass(frozen=True)
class _Scenario:
    """What the AP of a scenario (some errors fixed) is computed from: the predictions, the ground-truth labels,
    the matching and its errors, tidecv's insertion order ``seq`` and the classes in the mean (None: all).

    ``score_rank`` (N,) is the dense rank of ``-scores`` over all predictions and ``classes`` the sorted distinct
    labels of both sides: ranked once, so that each scenario sorts its points with one key (by class, score
    descending, insertion order) instead of ranking them again."""

    dets: Instances
    glab: np.ndarray
    tags: ObjectTags
    errors: _Errors
    seq: np.ndarray
    n_visited: int
    include: set[int] | None
    score_rank: np.ndarray
    classes: np.ndarray

    @classmethod
    def make(cls, dets: Instances, glab: np.ndarray, tags: ObjectTags, errors: _Errors, seq: np.ndarray,
             n_visited: int, include: set[int] | None) -> _Scenario:
        """The scenario, with the ranks computed once."""
        scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
        return cls(dets, glab, tags, errors, seq, n_visited, include, _dense_rank(-scores),
                   np.unique(np.concatenate([dets.labels, glab]).astype(np.int64)))

    def _keys(self, c: np.ndarray, r: np.ndarray, o: np.ndarray) -> np.ndarray | None:
        """One int64 sort key per point from its class, score rank and order key (None: too many distinct values
        for one key)."""
        ns, no = int(self.score_rank.max(initial=0)) + 1, 2 * (self.n_visited + 1)
        if len(self.classes) * ns * no >= 2**62:
            return None
        key: np.ndarray = (np.searchsorted(self.classes, c) * ns + r) * no + o
        return key

    def _sorted(self, cls_l: list[np.ndarray], rank_l: list[np.ndarray], tp_l: list[np.ndarray],
                od_l: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The classes and true-positive flags of the points, sorted as :func:`tide_ap` sorts them (the order
        keys ``od_l`` are distinct and below ``2 * (n_visited + 1)``)."""
        c, r, o = (np.concatenate(x).astype(np.int64) for x in (cls_l, rank_l, od_l))
        tp = np.concatenate(tp_l)
        key = self._keys(c, r, o)
        srt = np.lexsort((o, r, c)) if key is None else np.argsort(key, kind="stable")
        return c[srt], tp[srt]

    @cached_property
    def _fix_order(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The predictions that a scenario with errors fixed can hold under their own class (true positives,
        false positives, fixed errors), sorted as :meth:`ap` sorts them, and their sort keys; computed once and
        filtered per scenario (None: no single key)."""
        t = self.tags
        tp = t.pred_status == 0
        rows = np.flatnonzero(tp | (t.pred_status == 1) | self.errors.best)
        c = self.dets.labels[rows].astype(np.int64)
        key = self._keys(c, self.score_rank[rows], self.seq[rows] + np.where(tp[rows], self.n_visited + 1, 0))
        if key is None:
            return None
        srt = np.argsort(key, kind="stable")
        return rows[srt], key[srt]

    def _fixed_sorted(self, fix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`ap`'s sorted classes and true-positive flags with the errors ``fix`` fixed, from
        :attr:`_fix_order`: the points that keep their class are filtered in order, those whose class a fixed
        ``Cls`` error changes are merged in (None: no single key)."""
        if self._fix_order is None:
            return None
        rows, key = self._fix_order
        t, d = self.tags, self.dets
        fixed_tp = fix & self.errors.best
        new_cls = d.labels.astype(np.int64)
        new_cls[fixed_tp] = np.where(t.pred_error[fixed_tp] == _CLS, self.glab[t.pred_match[fixed_tp]],
                                     d.labels[fixed_tp])
        moved = fixed_tp & (new_cls != d.labels)
        tp_flag = (t.pred_status == 0) | fixed_tp
        keep = ((t.pred_status == 1) & ~fix) | tp_flag & ~moved
        sel = rows[keep[rows]]
        c_s, tp_s, k_s = d.labels[sel].astype(np.int64), tp_flag[sel], key[keep[rows]]
        extra = np.flatnonzero(moved)
        if len(extra):
            ek = self._keys(new_cls[extra], self.score_rank[extra], self.seq[extra])
            if ek is None:
                return None
            o = np.argsort(ek, kind="stable")
            at = np.searchsorted(k_s, ek[o], side="right")
            c_s, tp_s = np.insert(c_s, at, new_cls[extra][o]), np.insert(tp_s, at, True)
        return c_s, tp_s

    def ap(self, fix: np.ndarray | None, num_gt: dict[int, int], *, fp_zero: bool = False,
           errors_first: bool = True) -> tuple[float, dict[int, float]]:
        """``(mAP, {class: AP})`` with the errors ``fix`` fixed (None: none), ``num_gt`` ground truth per class;
        ``fp_zero``: every false positive scored 0 and every true positive 1.

        Insertion order decides ties of score: the plain AP pushes in visiting order; tidecv's ``fix_errors``
        pushes every error first (in visiting order), then the true positives (order key ``seq + big``)."""
        if errors_first and not fp_zero:  # the common case: from the order sorted once
            fast = self._fixed_sorted(np.zeros(len(self.dets), dtype=bool) if fix is None else fix)
            if fast is not None:
                return _sorted_ap(*fast, num_gt, self.include)
        t, d = self.tags, self.dets
        tp, fp = t.pred_status == 0, t.pred_status == 1
        keep_fp = fp if fix is None else fp & ~fix
        big = self.n_visited + 1
        cls_l = [d.labels[tp], d.labels[keep_fp]]
        rank_l = [np.zeros(int(tp.sum()), np.int64) if fp_zero else self.score_rank[tp],
                  np.ones(int(keep_fp.sum()), np.int64) if fp_zero else self.score_rank[keep_fp]]
        tp_l = [np.ones(int(tp.sum()), bool), np.zeros(int(keep_fp.sum()), bool)]
        od_l = [self.seq[tp] + (big if errors_first else 0), self.seq[keep_fp]]
        if fix is not None:
            fixed_tp = fix & self.errors.best
            tgt = t.pred_match[fixed_tp]
            cls_l.append(np.where(t.pred_error[fixed_tp] == _CLS, self.glab[tgt], d.labels[fixed_tp]))
            rank_l.append(self.score_rank[fixed_tp])
            tp_l.append(np.ones(int(fixed_tp.sum()), bool))
            od_l.append(self.seq[fixed_tp])
        c_s, tp_s = self._sorted(cls_l, rank_l, tp_l, od_l)
        return _sorted_ap(c_s, tp_s, num_gt, self.include)


def _decompose(sc: _Scenario, num_gt: dict[int, int], tags: ObjectTags, errors: _Errors, *,
               iou_type: Literal["bbox", "segm"],
               pos_thresh: float, bg_thresh: float, options: dict[str, Any]) -> TideResult:
    """The AP of every scenario (each error type fixed, FalsePos, FalseNeg) and the :class:`TideResult`."""
    npred = len(tags.pred_status)
    base_ap, base_per = sc.ap(None, num_gt, errors_first=False)
    main: dict[str, float] = {}
    per_type_per_class: dict[str, dict[int, float]] = {}
    for code, name in enumerate(ERROR_TYPES, start=1):
        if code == _MISS:
            ap, per = sc.ap(np.zeros(npred, dtype=bool), _without(num_gt, sc.glab[errors.miss]))
        else:
            ap, per = sc.ap(errors.is_err & (tags.pred_error == code), num_gt)
        main[name] = max(ap - base_ap, 0.0)
        per_type_per_class[name] = per
    fp_ap, _ = sc.ap(None, num_gt, fp_zero=True)
    fn_ap, _ = sc.ap(None, _without(num_gt, sc.glab[errors.fn]))
    counts = {name: int((errors.is_err & (tags.pred_error == code)).sum())
              for code, name in enumerate(ERROR_TYPES[:-1], 1)}
    counts["Miss"] = int(errors.miss.sum())
    return TideResult(
        ap=base_ap, main_dap=main, special_dap={"FalsePos": fp_ap - base_ap, "FalseNeg": fn_ap - base_ap},
        counts=counts, per_class_ap=base_per,
        per_class_dap={k: {name: per_type_per_class[name].get(k, 0.0) - v for name in ERROR_TYPES}
                       for k, v in base_per.items()},
        tags=tags, pos_thresh=pos_thresh, bg_thresh=bg_thresh, iou_type=iou_type, options=options)
