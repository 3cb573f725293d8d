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

from annokit.analysis._geometry import pair_ious
from annokit.analysis._geometry import visit_order as _visit_order
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
        Smallest IoU kept, above zero (``0.1``, TIDE's background threshold, keeps every pair its error types
        depend on).

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
    if not 0.0 < min_iou <= 1.0:
        raise ValidationError(f"overlap_pairs: min_iou must be in (0, 1], got {min_iou!r}")
    order = _visit_order(gt, dets, max_dets)
    pairs = pair_ious(gt, dets, order, iou_type)
    keep = pairs.iou >= min_iou
    counts = np.bincount(pairs.p[keep], minlength=len(order.p_rows))
    return OverlapPairs(order.p_rows, order.p_start, order.g_rows, order.g_start, np.r_[0, np.cumsum(counts)],
                        pairs.g[keep], pairs.iou[keep], float(min_iou))
