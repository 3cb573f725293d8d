"""Overlapping (prediction, ground truth) pairs per image, with the IoU TIDE's matching uses: what a page needs to
redo that matching for any IoU threshold and score threshold (:mod:`annokit.report.explore`), and what the
label-error ranking reads (:mod:`annokit.analysis.label_errors`).

The predictions are TIDE's visited ones, in its visiting order (images in ground-truth order; per image by score,
ties in input order; the top ``max_dets`` kept); the ground truth per image in input order. A pair is kept when its
IoU is at least ``min_iou``; IoU has pycocotools' arithmetic for boxes (``iou_type="bbox"``) or is mask IoU
(``"segm"``), and for a crowd ground truth it is the crowd IoU (intersection over the prediction's area), exactly
the values :func:`annokit.analysis.tide` compares with its thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from annokit.analysis.tide import IouFunction, _iou_function, _visit_order
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError

__all__ = ["OverlapPairs", "overlap_pairs"]


@dataclass(frozen=True)
class OverlapPairs:
    """The visited predictions and the ground truth, grouped by image, and their overlapping pairs.

    ``pred_rows`` (P,): prediction rows in visiting order, image ``k``'s at ``pred_start[k]:pred_start[k + 1]``;
    ``gt_rows`` (G,): ground-truth rows, image ``k``'s at ``gt_start[k]:gt_start[k + 1]``; the pairs of visited
    prediction ``i`` (a position in ``pred_rows``) are ``pair_start[i]:pair_start[i + 1]``, each with
    ``pair_gt`` (a position in ``gt_rows``, ascending) and ``pair_iou`` (float64, crowd IoU for a crowd region).
    """

    pred_rows: np.ndarray
    pred_start: np.ndarray
    gt_rows: np.ndarray
    gt_start: np.ndarray
    pair_start: np.ndarray
    pair_gt: np.ndarray
    pair_iou: np.ndarray
    min_iou: float

    @property
    def pair_pred(self) -> np.ndarray:
        """(pairs,) position in ``pred_rows`` of each pair's prediction."""
        out: np.ndarray = np.repeat(np.arange(len(self.pred_rows)), np.diff(self.pair_start))
        return out


def overlap_pairs(gt: Dataset, dets: Instances, *, iou_type: Literal["bbox", "segm"] = "bbox",
                  max_dets: int = 100, min_iou: float = 0.1) -> OverlapPairs:
    """Every (visited prediction, ground truth) pair of one image whose IoU is at least ``min_iou``.

    Parameters
    ----------
    gt : Dataset
        Ground truth.
    dets : Instances
        Predictions with scores.
    iou_type : {"bbox", "segm"}
        Box IoU (pycocotools' arithmetic) or mask IoU.
    max_dets : int
        Predictions kept per image (highest scores), as :func:`annokit.analysis.tide`.
    min_iou : float
        Smallest IoU kept (``0.1``, TIDE's background threshold, keeps every pair its error types depend on).

    Returns
    -------
    OverlapPairs

    Examples
    --------
    >>> from annokit import Dataset, ImageTable, Instances, LabelSet
    >>> ds = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[100], widths=[100]),
    ...              categories=LabelSet.from_names(["cat"]),
    ...              annotations=Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [50, 50, 60, 60]], labels=[1, 1]))
    >>> det = Instances(image_ids=[1], boxes=[[0, 0, 10, 20]], labels=[1], scores=[0.9])
    >>> p = overlap_pairs(ds, det)
    >>> p.pair_gt.tolist(), p.pair_iou.tolist()
    ([0], [0.5])
    """
    if dets.scores is None:
        raise ValidationError("overlap_pairs: predictions need scores")
    order = _visit_order(gt, dets, max_dets)
    iou_fn = _iou_function(gt, dets, order, iou_type)
    crowd = gt.annotations.iscrowd[order.g_rows]
    gpos, ious, counts = [], [], np.zeros(len(order.p_rows), dtype=np.int64)
    for k in range(len(gt.images)):
        p0, p1, g0, g1 = order.p_start[k], order.p_start[k + 1], order.g_start[k], order.g_start[k + 1]
        if p1 == p0 or g1 == g0:
            continue
        m = _image_iou(iou_fn, order.p_rows[p0:p1], order.g_rows[g0:g1], crowd[g0:g1])
        pi, gi = np.nonzero(m >= min_iou)  # row-major: by prediction, then ground truth ascending
        gpos.append(gi + g0)
        ious.append(m[pi, gi])
        counts[p0:p1] = np.bincount(pi, minlength=p1 - p0)
    return OverlapPairs(order.p_rows, order.p_start, order.g_rows, order.g_start, np.r_[0, np.cumsum(counts)],
                        np.concatenate(gpos) if gpos else np.zeros(0, np.int64),
                        np.concatenate(ious) if ious else np.zeros(0), float(min_iou))


def _image_iou(iou_fn: IouFunction, P: np.ndarray, G: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(P, G) IoU of one image: plain IoU with ordinary ground truth, crowd IoU with crowd regions (each computed
    only where needed)."""
    m = np.zeros((len(P), len(G)))
    if (~crowd).any():
        m[:, ~crowd] = iou_fn(P, G[~crowd], False)
    if crowd.any():
        m[:, crowd] = iou_fn(P, G[crowd], True)
    return m
