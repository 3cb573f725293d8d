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

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

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


def _records(kind: str, inst: Instances, scores: np.ndarray | None, status: np.ndarray, status_names: Any,
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

    def to_records(self, gt: Dataset, dets: Instances) -> list[dict[str, Any]]:
        """One JSON-ready dict per object: kind, row, id, image_id, category_id, score, status, matched row and id,
        IoU and error type."""
        g = gt.annotations
        return _records("gt", g, None, self.gt_status, GT_STATUS, self.gt_match, dets.ids, self.gt_iou,
                        self.gt_error) + \
            _records("pred", dets, dets.scores if dets.scores is not None else np.zeros(len(dets)),
                     self.pred_status, PRED_STATUS, self.pred_match, g.ids, self.pred_iou, self.pred_error)

    def per_image_counts(self, gt: Dataset, dets: Instances) -> dict[str, np.ndarray]:
        """``{"image_ids", "tp", "fp", "fn"}``: (K,) arrays over ``gt.images.ids`` (ignored predictions not counted)."""
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
    mode: str
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
            "mode": self.mode,
            "options": dict(self.options),
        }

    def summary_text(self) -> str:
        lines = [f"{self.mode} AP @ {int(round(self.pos_thresh * 100))}: {self.ap:.2f}", ""]
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


def _xywh(inst: Instances) -> np.ndarray:
    wh = inst.widths_heights()
    return np.column_stack([inst.boxes[:, 0], inst.boxes[:, 1], wh[:, 0], wh[:, 1]])


def _bbox_iou_coco(d: np.ndarray, g: np.ndarray, crowd: bool = False) -> np.ndarray:
    """``(D, G)`` IoU of xywh boxes with pycocotools' arithmetic (``maskApi.c: bbIou``), so thresholds agree
    bit for bit; ``crowd``: the union is the detection's area."""
    if len(d) == 0 or len(g) == 0:
        return np.zeros((len(d), len(g)))
    dx, dy, dw, dh = (d[:, k : k + 1] for k in range(4))
    gx, gy, gw, gh = (g[None, :, k] for k in range(4))
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    ok = (w > 0) & (h > 0)
    inter = w * h
    da = dw * dh
    union = np.broadcast_to(da, inter.shape) if crowd else da + gw * gh - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, inter / union, 0.0)


# ---------------------------------------------------------------------------------------------------- AP
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
    classes = np.asarray(classes, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    is_tp = np.asarray(is_tp, dtype=bool)
    srt = np.lexsort((np.asarray(order), -scores, classes))
    c_s, tp_s = classes[srt], is_tp[srt]
    uniq, start = np.unique(c_s, return_index=True)
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
    mode: Literal["bbox", "mask"] = "bbox",
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
    mode : "bbox" or "mask"
        IoU of boxes, or of masks (``segmentations`` required on both sides).
    pos_thresh, bg_thresh : float
        Foreground and background IoU thresholds (TIDE: 0.5 and 0.1).
    max_dets : int
        Predictions kept per image (highest scores).
    exclude_classes_without_gt, count_ignored_predictions : bool
        Corrections of tidecv behaviours (module docstring); defaults reproduce tidecv.

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
    if dets.scores is None:
        raise ValidationError("tide: predictions need scores")
    if mode not in ("bbox", "mask"):
        raise ValidationError(f"tide: mode must be 'bbox' or 'mask', got {mode!r}")
    g = gt.annotations
    n_img = len(gt.images)
    npred, ngt = len(dets), len(g)

    # ---- order: images in gt order; predictions by score (stable); gt in input order
    p_img = gt.images.index_of(dets.image_ids)
    p_rows = np.flatnonzero(p_img >= 0)
    srt = np.lexsort((p_rows, -dets.scores[p_rows], p_img[p_rows]))
    p_rows = p_rows[srt]
    p_img_s = p_img[p_rows]
    p_start = np.searchsorted(p_img_s, np.arange(n_img + 1))
    rank = np.arange(len(p_rows)) - p_start[p_img_s]
    p_rows = p_rows[rank < max_dets]
    p_img_s = p_img[p_rows]
    p_start = np.searchsorted(p_img_s, np.arange(n_img + 1))

    g_img = gt.images.index_of(g.image_ids)
    g_rows = np.lexsort((np.arange(ngt), g_img))
    g_img_s = g_img[g_rows]
    g_start = np.searchsorted(g_img_s, np.arange(n_img + 1))

    crowd = g.iscrowd
    plab, glab, pscore = dets.labels, g.labels, dets.scores

    if mode == "bbox":
        p_geo: Any = _xywh(dets)
        g_geo: Any = _xywh(g)

        def iou_fn(pi: np.ndarray, gi: np.ndarray, is_crowd: bool = False) -> np.ndarray:
            return _bbox_iou_coco(p_geo[pi], g_geo[gi], is_crowd)

    else:
        from annokit.core.masks import mask_iou, segmentation_to_rle

        if dets.segmentations is None or g.segmentations is None:
            raise ValidationError("tide: mode='mask' needs segmentations on ground truth and predictions")
        hw = np.stack([gt.images.heights, gt.images.widths], axis=1)
        p_rle: dict[int, Any] = {}
        g_rle: dict[int, Any] = {}

        def _rle(cache: dict[int, Any], inst: Instances, pos: np.ndarray, i: int) -> Any:
            if i not in cache:
                seg = inst.segmentations[i]  # type: ignore[index]
                if seg is None:
                    raise ValidationError(f"tide: object {i} has no segmentation (mode='mask')")
                h, w = hw[pos[i]]
                cache[i] = segmentation_to_rle(seg, int(h), int(w))
            return cache[i]

        def iou_fn(pi: np.ndarray, gi: np.ndarray, is_crowd: bool = False) -> np.ndarray:
            a = [_rle(p_rle, dets, p_img, int(i)) for i in pi]
            b = [_rle(g_rle, g, g_img, int(i)) for i in gi]
            return mask_iou(a, b, [is_crowd] * len(b))

    # ---- outputs
    pred_status = np.full(npred, 3, dtype=np.int8)
    pred_match = np.full(npred, -1, dtype=np.int64)
    pred_iou = np.zeros(npred)
    pred_error = np.zeros(npred, dtype=np.int8)
    gt_status = np.where(crowd, 2, 1).astype(np.int8)
    gt_match = np.full(ngt, -1, dtype=np.int64)
    gt_iou = np.zeros(ngt)
    gt_error = np.zeros(ngt, dtype=np.int8)
    gt_usable = np.zeros(ngt, dtype=bool)

    for k in range(n_img):
        P = p_rows[p_start[k] : p_start[k + 1]]
        Gall = g_rows[g_start[k] : g_start[k + 1]]
        if len(P) == 0:
            continue
        G = Gall[~crowd[Gall]]
        C = Gall[crowd[Gall]]
        matched = np.full(len(P), -1, dtype=np.int64)
        pl = plab[P]
        if len(G):
            iou = iou_fn(P, G)
            same = pl[:, None] == glab[G][None, :]
            cls_iou = iou * same
            pred_iou[P] = cls_iou.max(axis=1)
            used = np.zeros(len(G), dtype=bool)
            for i in np.flatnonzero((cls_iou >= pos_thresh).any(axis=1)):
                row = np.where(used, 0.0, cls_iou[i])
                j = int(row.argmax())
                if row[j] >= pos_thresh:
                    matched[i] = j
                    used[j] = True
                    gt_iou[G[j]] = row[j]
        ok = matched >= 0
        ignored = np.zeros(len(P), dtype=bool)
        if len(C):
            ciou = iou_fn(P, C, True)
            hit = (ciou > pos_thresh) & (pl[:, None] == glab[C][None, :])
            ignored = ~ok & hit.any(axis=1)
        pred_status[P] = np.where(ok, 0, np.where(ignored, 2, 1))
        if ok.any():
            pred_match[P[ok]] = G[matched[ok]]
            gt_match[G[matched[ok]]] = P[ok]
            gt_status[G[matched[ok]]] = 0
        # ---- error types of unmatched predictions (ignored ones too, as tidecv)
        bad = np.flatnonzero(~ok)
        if len(bad) == 0:
            continue
        if len(G) == 0:
            pred_error[P[bad]] = _BKG
            continue
        iou_b, same_b, cls_b = iou[bad], same[bad], cls_iou[bad]
        r = np.arange(len(bad))
        a = cls_b.argmax(axis=1)
        va = cls_b[r, a]
        is_loc = (bg_thresh <= va) & (va <= pos_thresh)
        noncls = iou_b * ~same_b
        b = noncls.argmax(axis=1)
        is_cls = noncls[r, b] >= pos_thresh
        used_cls = iou_b * used[None, :] * same_b
        c = used_cls.argmax(axis=1)
        is_dupe = used_cls[r, c] >= pos_thresh
        is_bkg = iou_b.max(axis=1) <= bg_thresh
        code = np.select([is_loc, is_cls, is_dupe, is_bkg], [_LOC, _CLS, _DUPE, _BKG], _BOTH)
        target = np.select([is_loc, is_cls, is_dupe], [G[a], G[b], G[c]], -1)
        pred_error[P[bad]] = code
        pred_match[P[bad]] = target

    # ---- which predictions enter the decomposition
    in_eval = pred_status < 3
    is_err = in_eval & (pred_status != 0)
    if not count_ignored_predictions:
        is_err &= pred_status != 2
        pred_error = np.where(pred_status == 2, 0, pred_error).astype(np.int8)
        pred_match = np.where(pred_status == 2, -1, pred_match)

    # processing sequence (tidecv's insertion order): position in p_rows
    seq = np.full(npred, -1, dtype=np.int64)
    seq[p_rows] = np.arange(len(p_rows))

    # ---- BestGTMatch: among Cls / Loc errors pointing at an unmatched gt, the highest score (first on ties) wins
    fixable = is_err & ((pred_error == _CLS) | (pred_error == _LOC))
    fixable &= pred_match >= 0
    fixable[fixable] &= gt_status[pred_match[fixable]] == 1
    best = np.zeros(npred, dtype=bool)
    fr = np.flatnonzero(fixable)
    if len(fr):
        tg = pred_match[fr]
        o = np.lexsort((seq[fr], -pscore[fr], tg))
        first = np.r_[True, tg[o][1:] != tg[o][:-1]]
        best[fr[o][first]] = True
        gt_usable[tg] = True
        gt_error[tg[o][first]] = pred_error[fr[o][first]]
    fn = gt_status == 1
    miss = fn & ~gt_usable
    gt_error[miss] = _MISS

    # ---- AP of every scenario
    num_gt = _label_counts(glab[~crowd])
    include = set(num_gt) if exclude_classes_without_gt else None

    tp = pred_status == 0
    fp = pred_status == 1
    big = len(p_rows) + 1

    def run(
        sel_err_fix: np.ndarray | None, ngt_: dict[int, int], *, fp_zero: bool = False, errors_first: bool = True
    ) -> tuple[float, dict]:
        # insertion order decides ties of score. The plain AP pushes in sequence order; tidecv's fix_errors pushes
        # every error first (in sequence order), then the true positives: order key = seq (+ big for TPs).
        cls_l = [plab[tp]]
        sc_l = [pscore[tp] if not fp_zero else np.ones(int(tp.sum()))]
        tp_l = [np.ones(int(tp.sum()), bool)]
        od_l = [seq[tp] + (big if errors_first else 0)]
        keep_fp = fp if sel_err_fix is None else fp & ~sel_err_fix
        cls_l.append(plab[keep_fp])
        sc_l.append(pscore[keep_fp] if not fp_zero else np.zeros(int(keep_fp.sum())))
        tp_l.append(np.zeros(int(keep_fp.sum()), bool))
        od_l.append(seq[keep_fp])
        if sel_err_fix is not None:
            fixed_tp = sel_err_fix & best
            tgt = pred_match[fixed_tp]
            c_fix = np.where(pred_error[fixed_tp] == _CLS, glab[tgt], plab[fixed_tp])
            cls_l.append(c_fix)
            sc_l.append(pscore[fixed_tp])
            tp_l.append(np.ones(int(fixed_tp.sum()), bool))
            od_l.append(seq[fixed_tp])
        return tide_ap(
            np.concatenate(cls_l),
            np.concatenate(sc_l),
            np.concatenate(tp_l),
            np.concatenate(od_l),
            ngt_,
            include=include,
        )

    base_ap, base_per = run(None, num_gt, errors_first=False)
    main: dict[str, float] = {}
    per_type_per_class: dict[str, dict[int, float]] = {}
    for code_, name in enumerate(ERROR_TYPES, start=1):
        if code_ == _MISS:
            ap_, per_ = run(np.zeros(npred, dtype=bool), _without(num_gt, glab[miss]))
        else:
            ap_, per_ = run(is_err & (pred_error == code_), num_gt)
        main[name] = max(ap_ - base_ap, 0.0)
        per_type_per_class[name] = per_
    fp_ap, _ = run(None, num_gt, fp_zero=True)
    fn_ap, _ = run(None, _without(num_gt, glab[fn]))
    special = {"FalsePos": fp_ap - base_ap, "FalseNeg": fn_ap - base_ap}

    counts = {name: int((is_err & (pred_error == code_)).sum()) for code_, name in enumerate(ERROR_TYPES[:-1], 1)}
    counts["Miss"] = int(miss.sum())
    per_class_dap = {
        k: {name: per_type_per_class[name].get(k, 0.0) - v for name in ERROR_TYPES} for k, v in base_per.items()
    }
    tags = ObjectTags(
        pred_status=pred_status,
        pred_match=pred_match,
        pred_iou=pred_iou,
        pred_error=pred_error,
        gt_status=gt_status,
        gt_match=gt_match,
        gt_iou=gt_iou,
        gt_error=gt_error,
    )
    return TideResult(
        ap=base_ap,
        main_dap=main,
        special_dap=special,
        counts=counts,
        per_class_ap=base_per,
        per_class_dap=per_class_dap,
        tags=tags,
        pos_thresh=pos_thresh,
        bg_thresh=bg_thresh,
        mode=mode,
        options={
            "max_dets": max_dets,
            "exclude_classes_without_gt": exclude_classes_without_gt,
            "count_ignored_predictions": count_ignored_predictions,
        },
    )
