"""Confusion matrices: classification / any labels (:func:`confusion_matrix`), semantic segmentation maps
(:func:`semantic_confusion`) and detection with a background row and column (:func:`detection_confusion`).

All are int64 counts (rows: true, columns: predicted) that add across shards.
"""

from __future__ import annotations

import numpy as np

from annokit.analysis.tide import _CLS, ObjectTags
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances

__all__ = ["confusion_matrix", "semantic_confusion", "detection_confusion"]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n, n)`` int64 counts, rows = true class index, columns = predicted (indices ``0..n-1``; pairs with a value
    outside that range are dropped). Sums add across shards (``cm(a) + cm(b) == cm(a + b)``).

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2).tolist()
    [[1, 0], [1, 1]]
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        from annokit.errors import ValidationError

        raise ValidationError(f"confusion_matrix: {t.size} true labels but {p.size} predicted")
    ok = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    return np.bincount(t[ok] * n_classes + p[ok], minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def semantic_confusion(
    gt: np.ndarray, pred: np.ndarray, n_classes: int, *, ignore_index: int | None = 255
) -> np.ndarray:
    """Pixel confusion ``(n, n)`` int64 of two ``(H, W)`` class maps; pixels whose ground truth is
    ``ignore_index`` are left out (as are predicted values outside ``0..n-1``). Sum over images for a dataset.

    >>> semantic_confusion(np.array([[0, 1], [255, 1]]), np.array([[0, 0], [1, 1]]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    g = np.asarray(gt)
    p = np.asarray(pred)
    if g.shape != p.shape:
        from annokit.errors import ValidationError

        raise ValidationError(f"semantic_confusion: ground truth {g.shape} and prediction {p.shape} differ in size")
    keep = np.ones(g.shape, dtype=bool) if ignore_index is None else g != ignore_index
    return confusion_matrix(g[keep], p[keep], n_classes)


def detection_confusion(
    gt: Dataset, dets: Instances, tags: ObjectTags, *, score_thresh: float = 0.0
) -> tuple[np.ndarray, list[str]]:
    """``(K + 1, K + 1)`` int64 counts (rows: true class, columns: predicted class; index ``K`` is background)
    and the ``K + 1`` labels (category names, then ``"background"``).

    Predictions with ``score >= score_thresh`` only. A true positive counts at (c, c); a ``Cls`` error at (class of
    the ground truth it overlaps, predicted class); any other false positive at (background, predicted class); a
    ground truth with no true positive at (its class, background). Crowd regions and ignored predictions are left
    out.
    """
    cats = gt.categories
    k = len(cats)
    bg = k
    g = gt.annotations
    pcls = cats.index_of(dets.labels)
    keep = (tags.pred_status <= 1) & (pcls >= 0)  # predictions of unknown categories are left out
    if dets.scores is not None:
        keep &= dets.scores >= score_thresh
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    tp = keep & (tags.pred_status == 0)
    rows.append(pcls[tp])
    cols.append(pcls[tp])
    fp = keep & (tags.pred_status == 1)
    is_cls = fp & (tags.pred_error == _CLS) & (tags.pred_match >= 0)
    rows.append(cats.index_of(g.labels[tags.pred_match[is_cls]]))
    cols.append(pcls[is_cls])
    other = fp & ~is_cls
    rows.append(np.full(int(other.sum()), bg))
    cols.append(pcls[other])
    # a gt is found if a kept prediction matched it
    found = np.zeros(len(g), dtype=bool)
    found[tags.pred_match[tp]] = True
    miss = ~g.iscrowd & ~found
    rows.append(cats.index_of(g.labels[miss]))
    cols.append(np.full(int(miss.sum()), bg))
    r = np.concatenate(rows).astype(np.int64)
    c = np.concatenate(cols).astype(np.int64)
    cm = np.bincount(r * (k + 1) + c, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    return cm, [*cats.names, "background"]
