"""Pascal VOC average precision, as the VOC devkit defines it (VOC2007 11-point and VOC2010+ all-point).

Per class, detections are taken in decreasing confidence (ties keep their order). Each one is compared with every
ground-truth object of its image and class (matched or not) and takes the one of highest overlap (the first on
ties). If that overlap is ``>= iou_threshold``: a *difficult* object makes the detection neither true nor false
positive; an object not yet detected makes it a true positive (and the object detected); otherwise it is a false
positive (duplicate). Below the threshold it is a false positive. Recall is over non-difficult objects.

``iou_mode="devkit"`` (default) measures overlap as the devkit does on integer pixel boxes, counting both end pixels
(``width = r - l + 1``); ``iou_mode="continuous"`` uses ``width = r - l``. Boxes read with :mod:`annokit.io.voc`
are already converted to pixel-edge coordinates (``l = xmin - 1``), so on them ``"continuous"`` reproduces the
devkit's numbers on the original XML; ``"devkit"`` is for boxes given in the devkit's own inclusive convention (as
most VOC-style tools and published examples do).

* ``method="allpoint"`` (VOC2010 and later): area under the precision envelope at every recall change.
* ``method="11point"`` (VOC2007): mean of the envelope's maximum precision at recall >= 0, 0.1, ..., 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from annokit.core.instances import Instances
from annokit.errors import ValidationError

__all__ = ["voc_ap", "evaluate_voc", "VOCResult", "VOCClassResult"]


def voc_ap(recall: np.ndarray, precision: np.ndarray, *, method: Literal["allpoint", "11point"] = "allpoint") -> float:
    """AP from a PR curve (``recall`` non-decreasing), as the devkit computes it.

    >>> voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5]))
    0.75
    """
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.asarray(precision, dtype=np.float64)
    if method == "11point":
        ap = 0.0
        # thresholds as the devkit ports compute them (np.arange: 0.30000000000000004, 0.6000000000000001, ...);
        # the published VOC examples depend on it
        for t in np.arange(0.0, 1.1, 0.1):
            sel = prec[rec >= t]
            ap += (sel.max() if sel.size else 0.0) / 11.0
        return float(ap)
    if method != "allpoint":
        raise ValidationError(f"method must be 'allpoint' or '11point', got {method!r}")
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


@dataclass(frozen=True)
class VOCClassResult:
    """One class: ``ap``; ``precision`` / ``recall`` per detection in confidence order (difficult hits removed);
    ``tp`` / ``fp`` flags; ``n_gt`` non-difficult objects. ``ap`` is NaN when the class has no such object."""

    category_id: int
    ap: float
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_gt: int


@dataclass(frozen=True)
class VOCResult:
    per_class: dict[int, VOCClassResult]
    iou_threshold: float
    method: str
    iou_mode: str

    @property
    def mAP(self) -> float:
        """Mean AP over classes with at least one non-difficult object (NaN if none)."""
        aps = [r.ap for r in self.per_class.values() if r.n_gt > 0]
        return float(np.mean(aps)) if aps else float("nan")


def _iou_one_to_many(box: np.ndarray, gts: np.ndarray, plus: float) -> np.ndarray:
    iw = np.minimum(box[2], gts[:, 2]) - np.maximum(box[0], gts[:, 0]) + plus
    ih = np.minimum(box[3], gts[:, 3]) - np.maximum(box[1], gts[:, 1]) + plus
    inter = iw * ih
    ua = (box[2] - box[0] + plus) * (box[3] - box[1] + plus) + (gts[:, 2] - gts[:, 0] + plus) * (
        gts[:, 3] - gts[:, 1] + plus
    ) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((iw > 0) & (ih > 0), inter / ua, 0.0)


def evaluate_voc(
    gt: Instances,
    dt: Instances,
    *,
    iou_threshold: float = 0.5,
    method: Literal["allpoint", "11point"] = "allpoint",
    iou_mode: Literal["devkit", "continuous"] = "devkit",
    difficult: np.ndarray | None = None,
) -> VOCResult:
    """VOC AP per class of detections ``dt`` (with scores) against ``gt``.

    ``difficult``: ``(G,)`` bool; default: the ``difficult`` field of ``gt.extras`` where present, else none.

    >>> gt = Instances(image_ids=[1], boxes=[[0, 0, 9, 9]], labels=[1])
    >>> dt = Instances(image_ids=[1, 1], boxes=[[0, 0, 9, 9], [50, 50, 60, 60]], labels=[1, 1], scores=[.9, .8])
    >>> evaluate_voc(gt, dt).per_class[1].ap
    1.0
    """
    if dt.scores is None:
        raise ValidationError("evaluate_voc: the detections have no scores")
    if iou_mode not in ("devkit", "continuous"):
        raise ValidationError(f"iou_mode must be 'devkit' or 'continuous', got {iou_mode!r}")
    plus = 1.0 if iou_mode == "devkit" else 0.0
    if difficult is None:
        if gt.extras is not None:
            difficult = np.array([bool(e.get("difficult", False)) for e in gt.extras], dtype=bool)
        else:
            difficult = np.zeros(len(gt), dtype=bool)
    difficult = np.asarray(difficult, dtype=bool)
    if len(difficult) != len(gt):
        raise ValidationError(f"difficult: expected {len(gt)} flags, got {len(difficult)}")
    out: dict[int, VOCClassResult] = {}
    for c in np.unique(np.concatenate([gt.labels, dt.labels])):
        g_sel = np.flatnonzero(gt.labels == c)
        d_sel = np.flatnonzero(dt.labels == c)
        d_sel = d_sel[np.argsort(-dt.scores[d_sel], kind="stable")]
        n_gt = int((~difficult[g_sel]).sum())
        by_img: dict[int, np.ndarray] = {}
        for img in np.unique(gt.image_ids[g_sel]):
            by_img[int(img)] = g_sel[gt.image_ids[g_sel] == img]
        detected = np.zeros(len(gt), dtype=bool)
        tp = np.zeros(len(d_sel))
        fp = np.zeros(len(d_sel))
        counted = np.ones(len(d_sel), dtype=bool)
        for i, d in enumerate(d_sel):
            cand = by_img.get(int(dt.image_ids[d]))
            if cand is None or len(cand) == 0:
                fp[i] = 1
                continue
            ov = _iou_one_to_many(dt.boxes[d], gt.boxes[cand], plus)
            j = int(np.argmax(ov))  # first maximum, as the devkit's strict '>' scan
            if ov[j] >= iou_threshold:
                g = cand[j]
                if difficult[g]:
                    counted[i] = False
                elif not detected[g]:
                    tp[i] = 1
                    detected[g] = True
                else:
                    fp[i] = 1
            else:
                fp[i] = 1
        tp, fp = tp[counted], fp[counted]
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        with np.errstate(divide="ignore", invalid="ignore"):
            rec = ctp / n_gt if n_gt else np.zeros_like(ctp)
            prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
        ap = voc_ap(rec, prec, method=method) if n_gt else float("nan")
        out[int(c)] = VOCClassResult(category_id=int(c), ap=ap, precision=prec, recall=rec,
                                     scores=dt.scores[d_sel][counted], tp=tp, fp=fp, n_gt=n_gt)
    return VOCResult(per_class=out, iou_threshold=iou_threshold, method=method, iou_mode=iou_mode)
