"""Sharded inputs: results files given by a glob pattern, and detection columns split and joined (private)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from annokit._internal.shards import expand_shards, is_pattern
from annokit.core.coco_results import ResultColumns
from annokit.core.dataset import image_subset

__all__ = ["concat_columns", "expand_shards", "image_subset", "is_pattern", "take_columns"]

PathLike = str | os.PathLike[str]


def take_columns(c: ResultColumns, rows: np.ndarray) -> ResultColumns:
    """The detections ``rows`` of ``c``, in that order (no unknown-category count: it was reported)."""
    segs = None if c.segmentations is None else [c.segmentations[i] for i in rows.tolist()]
    return ResultColumns(image_ids=c.image_ids[rows], labels=c.labels[rows], scores=c.scores[rows], xywh=c.xywh[rows],
                         area=c.area[rows], segmentations=segs, unknown=0, first_unknown=None)


def concat_columns(parts: Sequence[ResultColumns]) -> ResultColumns:
    """The detections of ``parts`` one after the other, as one results file holding them in that order would give
    (a part without segmentations contributes ``None`` where another has them). Unknown categories are counted per
    part, where they are reported: not here."""
    segs = None
    if any(p.segmentations is not None for p in parts):
        segs = [s for p in parts for s in (p.segmentations if p.segmentations is not None else [None] * len(p))]
    if not parts:
        z = np.zeros(0)
        return ResultColumns(np.zeros(0, np.int64), np.zeros(0, np.int64), z, np.zeros((0, 4)), z, None, 0, None)
    return ResultColumns(image_ids=np.concatenate([p.image_ids for p in parts]),
                         labels=np.concatenate([p.labels for p in parts]),
                         scores=np.concatenate([p.scores for p in parts]),
                         xywh=np.concatenate([p.xywh for p in parts]), area=np.concatenate([p.area for p in parts]),
                         segmentations=segs, unknown=0, first_unknown=None)
