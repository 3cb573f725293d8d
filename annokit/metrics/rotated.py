"""COCO-style mAP over rotated boxes: the COCO engine with polygon IoU of oriented boxes as the pair overlap.

``COCOParams(iou_type="rotated")`` runs pycocotools' evaluation -- thresholds .50:.05:.95, 101 recall points,
maxDets 1 / 10 / 100, greedy matching, crowd regions and id-0 quirks, the 12-number summary -- with one change, the
overlap: the IoU of two rboxes ``[cx, cy, w, h, angle]`` (:mod:`annokit.core.rotated`) is the area of the
intersection of their rectangles over the area of their union, computed exactly up to floating-point rounding
(equal to shapely's polygon intersection within ~1e-12). For a crowd ground truth the union is the detection's
area alone, as COCO does for boxes.

Area ranges (small / medium / large) read the ground truth's ``area`` field where the file has one, else the
rotated box's ``w * h``; a detection's area is always its ``w * h``.

The ground truth's rboxes come from the COCO-style field ``"rbox": [cx, cy, w, h, angle]`` (angle in radians;
:func:`annokit.io.rotated.with_rboxes`), the detections' from the same field in a results file
(:func:`annokit.io.rotated.read_rotated_results`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from annokit.core.rotated import quad_iou_matched, rbox_to_corners

if TYPE_CHECKING:
    from annokit._internal.progress import Progress
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.metrics.coco import COCOResult
    from annokit.metrics.coco_engine import PairIoU

__all__ = ["evaluate_rotated", "rbox_pair_iou"]


def rbox_pair_iou(d_rboxes: np.ndarray, g_rboxes: np.ndarray, g_crowd: np.ndarray) -> PairIoU:
    """The pair function of :mod:`annokit.metrics.coco_engine` for rotated boxes (see the module's definition).

    >>> f = rbox_pair_iou(np.array([[5.0, 5.0, 4.0, 2.0, 0.3]]), np.array([[5.0, 5.0, 4.0, 2.0, 0.3]]),
    ...                   np.array([False]))
    >>> [round(v, 12) for v in f(np.array([0]), np.array([0])).tolist()]
    [1.0]
    """
    dq, gq = rbox_to_corners(d_rboxes), rbox_to_corners(g_rboxes)
    crowd = np.asarray(g_crowd, dtype=bool)

    def iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        return quad_iou_matched(dq[d], gq[g], crowd=crowd[g])

    return iou


def evaluate_rotated(gt: Dataset, dt: Instances, *, fixed: bool = False,
                     progress: Progress | None = None) -> COCOResult:
    """COCO-style AP of rotated detections ``dt`` against ``gt`` (both with ``rboxes``).

    Parameters
    ----------
    gt : Dataset
        Ground truth with an ``rboxes`` column (:func:`annokit.io.rotated.with_rboxes`).
    dt : Instances
        Detections with scores and ``rboxes`` (:func:`annokit.io.rotated.read_rotated_results`).
    fixed : bool
        Fix pycocotools' defects (:mod:`annokit.metrics.coco`).
    progress : callable, optional

    Returns
    -------
    COCOResult
        The 12 COCO numbers (``metrics_dict()``: ``AP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs ARm ARl``).

    Examples
    --------
    >>> from annokit.io.coco import read_instances                           # doctest: +SKIP
    >>> from annokit.io.rotated import read_rotated_results, with_rboxes     # doctest: +SKIP
    >>> gt = with_rboxes(read_instances("gt.json"))                           # doctest: +SKIP
    >>> evaluate_rotated(gt, read_rotated_results("pred.json", gt)).metrics_dict()["AP"]  # doctest: +SKIP
    """
    from annokit.metrics.coco import COCOParams, evaluate

    return evaluate(gt, dt, params=COCOParams(iou_type="rotated"), fixed=fixed, progress=progress)
