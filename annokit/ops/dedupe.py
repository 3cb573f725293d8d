"""``dedupe_dataset``: duplicate objects (same image, class and crowd flag, box IoU at or above a threshold) and
duplicate images (the same pixels), found and reported; the result without them is there to write."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.boxes import box_iou_matched
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder, LossReport
from annokit.ops._common import OpsError, count, subset

__all__ = ["DedupeResult", "dedupe_dataset"]


@dataclass(frozen=True)
class DedupeResult:
    """What :func:`dedupe_dataset` found: ``object_pairs`` (rows ``duplicate id, kept id``, annotation ids) with
    their ``object_ious``; ``image_groups`` (image ids with the same pixels, the kept one first; empty when pixels
    were not compared); ``dataset``: the source without the duplicates; ``report``: the counts."""

    dataset: Dataset
    object_pairs: IntArray
    object_ious: FloatArray
    image_groups: list[list[int]]
    report: LossReport

    def findings(self) -> dict[str, Any]:
        """JSON-ready: every duplicate object (with the one it duplicates and the IoU) and every group of images."""
        return {"objects": [{"duplicate": int(d), "of": int(k), "iou": float(v)}
                            for (d, k), v in zip(self.object_pairs.tolist(), self.object_ious.tolist())],
                "images": self.image_groups}


def dedupe_dataset(ds: Dataset, *, iou: float = 0.95, image_root: str | os.PathLike[str] | None = None,
                   recorder: LossRecorder | None = None, progress: Progress | None = None) -> DedupeResult:
    """Find duplicate objects and images of ``ds``.

    Parameters
    ----------
    ds : Dataset
        The source.
    iou : float
        Two objects of one image with the same class and crowd flag are duplicates when their boxes' IoU is at
        least ``iou`` (in (0, 1]; equal boxes, even empty ones, have IoU 1). Within an image, objects are visited
        in order (by score, highest first, for predictions): one is a duplicate when it overlaps so an object
        visited before it that is not itself a duplicate (so a chain a ~ b ~ c where a and c do not overlap so
        keeps a and c).
    image_root : path, optional
        The folder of the image files: images with the same pixels (decoded, compared as 8-bit RGBA with their
        size) are duplicates; the first in the dataset's order is kept, the others go with their objects. Without
        it images are not compared.
    recorder : LossRecorder, optional
        Receives the counts.
    progress : Progress, optional
        Called while pixels are hashed.

    Returns
    -------
    DedupeResult

    Examples
    --------
    >>> import annokit
    >>> from annokit.ops import dedupe_dataset, merge_datasets
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> twice = ds.with_annotations(annokit.Instances.concat([ds.annotations, ds.annotations[:3]]))
    >>> res = dedupe_dataset(twice)
    >>> len(res.object_pairs), res.dataset == ds
    (3, True)
    """
    if not (0.0 < iou <= 1.0):
        raise OpsError(f"iou: {iou} is not in (0, 1]")
    rec = recorder if recorder is not None else LossRecorder()
    pairs, ious = _duplicate_objects(ds, iou)
    a = ds.annotations
    dup_obj = np.zeros(len(a), dtype=bool)
    dup_obj[pairs[:, 0]] = True
    count(rec, f"duplicate objects (same image, class and crowd flag, IoU >= {iou:g})", dup_obj, a.ids)
    groups: list[list[int]] = []
    keep_img = np.ones(len(ds.images), dtype=bool)
    if image_root is not None:
        groups, keep_img = _duplicate_images(ds, image_root, progress)
        count(rec, "duplicate images (same pixels as an earlier image)", ~keep_img, ds.images.ids, "image id")
        on_dup = ~keep_img[ds.images.index_of(a.image_ids)] & ~dup_obj
        count(rec, "objects on duplicate images", on_dup, a.ids)
    else:
        rec.warn("images not compared (no image folder given)")
    out = subset(ds, keep_img, ~dup_obj)
    return DedupeResult(dataset=out, object_pairs=a.ids[pairs].reshape(-1, 2), object_ious=ious,
                        image_groups=groups, report=rec.report())


def _visit_order(ds: Dataset) -> IntArray:
    """Objects grouped by image, class and crowd flag; in a group, by score (highest first) then position."""
    a = ds.annotations
    visit = -a.scores if a.scores is not None else np.zeros(len(a))
    return np.lexsort((np.arange(len(a)), visit, a.iscrowd, a.labels, a.image_ids))


def _candidate_pairs(ds: Dataset, order: IntArray) -> tuple[IntArray, IntArray]:
    """Every pair (i, j) of objects of one image, class and crowd flag, ``i`` visited before ``j``."""
    a = ds.annotations
    n = len(a)
    key = np.stack([a.image_ids[order], a.labels[order], a.iscrowd[order].astype(np.int64)], axis=1)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (key[1:] != key[:-1]).any(axis=1)
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, n))
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for m in np.unique(sizes[sizes > 1]).tolist():  # groups of one size at a time: the same pair pattern
        p, q = np.triu_indices(m, 1)
        at = starts[sizes == m][:, None]
        firsts.append((at + p).ravel())
        seconds.append((at + q).ravel())
    return order[np.concatenate(firsts)], order[np.concatenate(seconds)]


def _duplicate_objects(ds: Dataset, thr: float) -> tuple[IntArray, FloatArray]:
    """Rows (duplicate, kept) of object positions and their IoUs, by the visiting rule of :func:`dedupe_dataset`."""
    order = _visit_order(ds)
    i, j = _candidate_pairs(ds, order)
    b = ds.annotations.boxes
    iou = box_iou_matched(b[i], b[j]) if len(i) else np.zeros(0)
    iou[(b[i] == b[j]).all(axis=1)] = 1.0  # equal boxes are the same box, even empty ones
    hit = iou >= thr
    i, j, iou = i[hit], j[hit], iou[hit]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    dup: dict[int, tuple[int, float]] = {}
    for t in np.lexsort((rank[i], rank[j])).tolist():  # an object's status is final before it is a first
        jj, ii = int(j[t]), int(i[t])
        if jj not in dup and ii not in dup:
            dup[jj] = (ii, float(iou[t]))
    rows = sorted(dup)
    pairs = np.array([[r, dup[r][0]] for r in rows], dtype=np.int64).reshape(-1, 2)
    return pairs, np.array([dup[r][1] for r in rows], dtype=np.float64)


def _duplicate_images(ds: Dataset, root: str | os.PathLike[str],
                      progress: Progress | None) -> tuple[list[list[int]], BoolArray]:
    from annokit.ops._images import pixel_hashes

    hashes = pixel_hashes(ds, root, progress=progress)
    first: dict[bytes, list[int]] = {}
    for k, h in enumerate(hashes):
        first.setdefault(h, []).append(k)
    keep = np.ones(len(ds.images), dtype=bool)
    groups = []
    for members in first.values():
        if len(members) > 1:
            keep[members[1:]] = False
            groups.append([int(ds.images.ids[m]) for m in members])
    return groups, keep
