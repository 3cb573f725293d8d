"""Detection confusion matrix (with a background row and column) from the per-object tags of :func:`tide`."""

from __future__ import annotations

import numpy as np

from annokit.analysis.tide import ObjectTags, _CLS
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances

__all__ = ["detection_confusion"]


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
    keep = (tags.pred_status <= 1) & (dets.scores >= score_thresh if dets.scores is not None else True)
    pcls = cats.index_of(dets.labels)
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
