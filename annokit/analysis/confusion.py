"""Confusion matrices of semantic segmentation maps (:func:`semantic_confusion`, built on the one label confusion
matrix :func:`annokit.metrics.classification.confusion_matrix`) and of detections with a background row and
column (:func:`detection_confusion`, dense, from its non-zero cells :func:`detection_confusion_cells`, which any
label set can afford).

All are int64 counts (rows: true, columns: predicted) that add across shards.
"""

from __future__ import annotations

import numpy as np

from annokit.analysis.tide import _CLS, ObjectTags
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError
from annokit.metrics.classification import confusion_matrix

__all__ = ["semantic_confusion", "detection_confusion", "detection_confusion_cells"]


def semantic_confusion(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, *, ignore_index: int | None = 255
) -> np.ndarray:
    """Pixel confusion of two class maps of one shape (e.g. ``(H, W)``; sum over images for a dataset).

    Parameters
    ----------
    gt, pred : int arrays of one shape
        Ground-truth and predicted class maps.
    num_classes : int
        ``C``: classes ``0 .. C-1``.
    ignore_index : int, optional
        Ground-truth value of pixels left out. Pixels whose ground truth or prediction lies outside ``0 .. C-1``
        are left out too.

    Returns
    -------
    (C, C) int64 array
        Rows: true class, columns: predicted class.

    Examples
    --------
    >>> semantic_confusion(np.array([[0, 1], [255, 1]]), np.array([[0, 0], [1, 1]]), num_classes=2).tolist()
    [[1, 0], [1, 1]]
    """
    g = np.asarray(gt)
    p = np.asarray(pred)
    if g.shape != p.shape:
        raise ValidationError(f"semantic_confusion: ground truth {g.shape} and prediction {p.shape} differ in size")
    if num_classes < 1:
        raise ValidationError(f"semantic_confusion: num_classes must be >= 1, got {num_classes}")
    keep = (g >= 0) & (g < num_classes) & (p >= 0) & (p < num_classes)
    if ignore_index is not None:
        keep &= g != ignore_index
    return confusion_matrix(g[keep].astype(np.int64), p[keep].astype(np.int64), num_classes)


def detection_confusion(
    gt: Dataset, dets: Instances, tags: ObjectTags, *, score_threshold: float = 0.0
) -> tuple[np.ndarray, list[str]]:
    """``(K + 1, K + 1)`` int64 counts (rows: true class, columns: predicted class; index ``K`` is background)
    and the ``K + 1`` labels (category names, then ``"background"``).

    Predictions with ``score >= score_threshold`` only. A true positive counts at (c, c); a ``Cls`` error at (class
    of the ground truth it overlaps, predicted class); any other false positive at (background, predicted class); a
    ground truth with no true positive at (its class, background). Crowd regions, ignored predictions and
    predictions of categories not in ``gt`` are left out.

    Parameters
    ----------
    gt : Dataset
        The ground truth ``tags`` were computed on.
    dets : Instances
        The predictions ``tags`` were computed on.
    tags : ObjectTags
        Per-object outcome (:attr:`annokit.analysis.TideResult.tags`).
    score_threshold : float
        Lowest score kept.

    Returns
    -------
    (matrix, labels)
        ``(K + 1, K + 1)`` int64 counts and the ``K + 1`` names.

    Examples
    --------
    >>> from annokit import Dataset, ImageTable, Instances, LabelSet
    >>> from annokit.analysis import tide
    >>> ds = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[100], widths=[100]),
    ...              categories=LabelSet.from_names(["cat", "dog"]),
    ...              annotations=Instances(image_ids=[1], boxes=[[10, 10, 50, 50]], labels=[1]))
    >>> det = Instances(image_ids=[1], boxes=[[10, 10, 50, 50]], labels=[2], scores=[0.9])
    >>> detection_confusion(ds, det, tide(ds, det).tags)[0].tolist()
    [[0, 1, 1], [0, 0, 0], [0, 0, 0]]
    """
    k = len(gt.categories)
    rows, cols, counts = detection_confusion_cells(gt, dets, tags, score_threshold=score_threshold)
    cm = np.zeros((k + 1, k + 1), dtype=np.int64)
    cm[rows, cols] = counts
    return cm, [*gt.categories.names, "background"]


def detection_confusion_cells(
    gt: Dataset, dets: Instances, tags: ObjectTags, *, score_threshold: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero cells of :func:`detection_confusion` as ``(rows, cols, counts)`` (int64 arrays, rows and
    columns are category positions, ``K`` is background; sorted by row, then column): what a label set of any size
    needs (a 20,000-class matrix would take 3.2 GB dense).

    Examples
    --------
    >>> from annokit import Dataset, ImageTable, Instances, LabelSet
    >>> from annokit.analysis import tide
    >>> ds = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[100], widths=[100]),
    ...              categories=LabelSet.from_names(["cat", "dog"]),
    ...              annotations=Instances(image_ids=[1], boxes=[[10, 10, 50, 50]], labels=[1]))
    >>> det = Instances(image_ids=[1], boxes=[[10, 10, 50, 50]], labels=[2], scores=[0.9])
    >>> [a.tolist() for a in detection_confusion_cells(ds, det, tide(ds, det).tags)]
    [[0, 0], [1, 2], [1, 1]]
    """
    tags.check(gt, dets)
    cats = gt.categories
    bg = len(cats)
    g = gt.annotations
    pcls = cats.index_of(dets.labels)
    keep = (tags.pred_status <= 1) & (pcls >= 0)  # predictions of unknown categories are left out
    if dets.scores is not None:
        keep &= dets.scores >= score_threshold
    tp = keep & (tags.pred_status == 0)
    fp = keep & (tags.pred_status == 1)
    is_cls = fp & (tags.pred_error == _CLS) & (tags.pred_match >= 0)
    other = fp & ~is_cls
    found = np.zeros(len(g), dtype=bool)  # a ground truth is found when a kept prediction matched it
    found[tags.pred_match[tp]] = True
    miss = ~g.iscrowd & ~found
    rows = np.concatenate([pcls[tp], cats.index_of(g.labels[tags.pred_match[is_cls]]),
                           np.full(int(other.sum()), bg), cats.index_of(g.labels[miss])]).astype(np.int64)
    cols = np.concatenate([pcls[tp], pcls[is_cls], pcls[other], np.full(int(miss.sum()), bg)]).astype(np.int64)
    ok = (rows >= 0) & (cols >= 0)
    cell, counts = np.unique(rows[ok] * (bg + 1) + cols[ok], return_counts=True)
    return cell // (bg + 1), cell % (bg + 1), counts.astype(np.int64)
