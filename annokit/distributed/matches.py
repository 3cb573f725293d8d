"""COCO evaluation of detections held in memory by image buckets on a dask cluster, with the per-detection match
records brought back: the result of :func:`annokit.metrics.coco.evaluate` to the last bit, ``dt_matches`` and
``gt_matches`` included (what ``annokit report``'s error analysis needs).

Each bucket (the images at positions ``p`` with ``p mod B == b``, every annotation of theirs, and their detections in
row order) is matched on a worker by an image part of the evaluation (:meth:`COCOAccumulator.image_part`,
:meth:`~COCOAccumulator.update_with_matches`); the worker sends back the part (its match records) and its matches as
two small integer arrays in the bucket's row numbering. The client merges the parts, accumulates, and maps the
matches back to the rows of the whole dataset and of the detections given.
"""

from __future__ import annotations

import functools
import pickle
from typing import Any

import numpy as np

from annokit.core.dataset import Dataset, image_subset
from annokit.core.instances import Instances
from annokit.distributed._cluster import Job, worker_count
from annokit.metrics.coco import COCOAccumulator, COCOParams, COCOResult

__all__ = ["evaluate_matched"]


def _match_bucket(whole: COCOAccumulator, gt: Dataset, dets: Instances
                  ) -> tuple[COCOAccumulator, np.ndarray, np.ndarray]:
    part = whole.image_part(gt)
    dtm, gtm = part.update_with_matches(dets)
    return pickle.loads(pickle.dumps(part)), dtm, gtm  # the part without its ground truth


def evaluate_matched(gt: Dataset, dets: Instances, *, params: COCOParams, client: Any,
                     buckets: int | None = None) -> COCOResult:
    """:func:`annokit.metrics.coco.evaluate` of ``dets`` on ``gt`` by image buckets on the cluster of ``client``
    (module docstring); equal to it array for array, ``dt_matches`` / ``gt_matches`` included.

    >>> res = evaluate_matched(gt, dets, params=COCOParams(), client=client)  # doctest: +SKIP
    """
    whole = COCOAccumulator(gt, params=params)
    n = buckets or 2 * worker_count(client)
    img_bucket = np.arange(len(gt.images)) % n
    ann_bucket = img_bucket[gt.images.index_of(gt.annotations.image_ids)]
    det_bucket = img_bucket[gt.images.index_of(dets.image_ids)] if len(dets) else np.zeros(0, dtype=np.int64)
    sent = pickle.loads(pickle.dumps(whole))  # without the ground truth: each bucket carries its own
    job = Job(client, "matches")
    rows = []
    futures = []
    for b in range(n):
        g_rows, d_rows = np.flatnonzero(ann_bucket == b), np.flatnonzero(det_bucket == b)
        rows.append((g_rows, d_rows))
        futures.append(job.submit(_match_bucket, sent, image_subset(gt, np.flatnonzero(img_bucket == b)),
                                  dets[d_rows], stage="match", index=b))
    job.run()
    results = [f.result() for f in futures]
    acc: COCOAccumulator = functools.reduce(COCOAccumulator.merge, [whole, *(r[0] for r in results)])
    res = acc.compute(stacklevel=3)
    T = len(params.iou_thrs)
    dtm = np.full((T, len(dets)), -1, dtype=np.int64)
    gtm = np.full((T, len(gt.annotations)), -1, dtype=np.int64)
    for (g_rows, d_rows), (_, d_loc, g_loc) in zip(rows, results):
        dtm[:, d_rows] = np.where(d_loc >= 0, g_rows[d_loc.clip(0)] if len(g_rows) else -1, -1)
        gtm[:, g_rows] = np.where(g_loc >= 0, d_rows[g_loc.clip(0)] if len(d_rows) else -1, -1)
    res.row_matches = lambda: (dtm, gtm)
    return res
