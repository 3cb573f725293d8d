"""COCO evaluation of sharded results on a dask.distributed cluster, equal to the in-process evaluation bit for bit.

The stages, each a task on a worker (the client only plans the graph and assembles small arrays):

1. *ground truth*: a COCO instances file is read in pieces (:mod:`annokit.io.coco_parts`): one task scans its
   layout (no parsing), one reads its *head* (images, categories, top-level fields) and builds the evaluation of
   those images and categories (a :class:`~annokit.metrics.coco.COCOAccumulator` whose pickle holds only the image
   and category ids), one task per piece of about ``gt_piece_bytes`` of the ``annotations`` list reads its records
   and routes their objects to ``B`` image buckets (the image at position ``p`` of the ground truth goes to bucket
   ``p mod B``), a task checks annotation ids across pieces, and one task per bucket joins the bucket's objects from
   every piece in file order. Another format, or a Dataset given, is read (or sent) whole by one task and cut into
   the same buckets;
2. *read* (one task per results file): a worker reads its file by ``COCO.loadRes``' rules (an error names the file
   and the record) and routes its detections to the buckets of their images, keeping their order;
3. *match* (one task per bucket): the bucket's detections from every file, in file order, are matched against the
   bucket's ground truth in one update, the match records are split into ``G`` category groups, and the bucket's
   ground-truth counts are taken (:meth:`~annokit.metrics.coco.COCOAccumulator.ground_truth_counts`); one task
   sums the buckets' counts (the whole ground truth's);
4. *accumulate* (one task per category group): the records of a group from every bucket are merged and
   accumulated, against the whole ground truth's counts, into that group's precision, recall and scores;
5. the client puts the groups' arrays together and summarizes them.

Why the numbers are those of the in-process run of the files concatenated (in sorted name order), for any split
of the detections into files and any ``B`` and ``G``: the detections of an image all reach one bucket, in the order
the concatenated file has them (so score ties break as pycocotools breaks them), and they are matched there against
every annotation of that image; the accumulator's records do not depend on how images are grouped into updates, and
accumulation of one category reads only that category's records; the ground-truth counts of buckets of disjoint
images add up to the whole's; the pieces of the ground truth, joined, are the whole file's objects record for record
(a bad file: a worker reads it whole once to raise the error the whole-file reader meets first). A file need not
hold whole images: an image's detections may be spread over several files, as they are joined by image before
matching.

Memory: no process holds all detections nor all the ground truth -- each worker holds the files and the ground-truth
pieces it reads (as columns), the head, and the buckets it matches; a result is released once no task needs it; the
client holds the layout of the ground truth (the byte ranges of its pieces) and the category groups' arrays (about
``3 * T * R * K * A * M`` floats).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from annokit._internal.gc import no_gc
from annokit._internal.progress import Progress
from annokit.core.coco_results import ResultColumns, ResultsTarget, read_result_columns
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.distributed._cluster import Job, connect, worker_count
from annokit.distributed._shards import concat_columns, expand_shards, image_subset, take_columns
from annokit.errors import AnnokitWarning, FormatError, ValidationError
from annokit.io.coco_parts import InstancesLayout, check_annotation_ids, concat_annotations, read_head, read_piece
from annokit.io.detect import instance_format
from annokit.metrics.coco import COCOAccumulator, COCOCurves, COCOParams, COCOResult, GroundTruthCounts

__all__ = ["evaluate_coco", "read_ground_truth", "read_result_shards"]

PathLike = str | os.PathLike[str]
BUCKET_BYTES = 64 << 20
"""Results-file bytes per image bucket (default ``B``: at least two buckets per worker)."""
GROUP_BYTES = 256 << 20
"""Results-file bytes per category group (default ``G``: at least one group per worker)."""
GT_PIECE_BYTES = 16 << 20
"""Bytes of a COCO ground truth's ``annotations`` list read by one task (about 10x that in Python objects while it
is parsed)."""


def read_ground_truth(path: PathLike, fmt: str | None = None, *, fixed: bool = False) -> Dataset:
    """The ground truth of a COCO evaluation: a COCO instances file (pycocotools' reading rules, ``fixed``) or a
    dataset in another format (``fmt``, else recognised from the path; unrecognised: COCO)."""
    if instance_format(path, fmt) == "coco":
        from annokit.io.coco import read_instances

        return read_instances(path, fixed=fixed)
    from annokit.api import load

    return load(path, fmt)


def read_result_shards(paths: Sequence[PathLike], gt: Dataset, *, fixed: bool = False) -> Instances:
    """The detections of several COCO results files, as one file holding them in this order would give
    (:func:`annokit.io.coco.read_results` of one file)."""
    from annokit.io.coco import read_results

    if len(paths) == 1:
        return read_results(paths[0], gt, fixed=fixed)
    target = ResultsTarget.of(gt)
    cols = concat_columns([_read_columns(p, target) for p in paths])
    if not len(cols) and not fixed:
        warnings.warn(f"{paths[0]} ...: the {len(paths)} results files hold no detection (pycocotools' loadRes "
                      "crashes on an empty list); scoring no detections", AnnokitWarning, stacklevel=2)
    return _instances(cols, paths[0])


def _read_columns(path: PathLike, target: ResultsTarget) -> ResultColumns:
    """One results file's detections (unknown categories reported with the file's name)."""
    p = Path(path)
    try:
        cols = read_result_columns(p, target, fixed=True)
    except OSError as exc:
        raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None
    cols.warn_unknown(p, stacklevel=3)
    return cols


def _instances(cols: ResultColumns, path: PathLike) -> Instances:
    try:
        return cols.instances()
    except ValidationError as exc:
        raise FormatError(path, None, str(exc)) from None


def evaluate_coco(gt: Dataset | PathLike, pred: PathLike | Sequence[PathLike], *, gt_format: str | None = None,
                  iou_type: Literal["bbox", "segm"] = "bbox", params: COCOParams | None = None, fixed: bool = False,
                  scheduler: str | Any | None = None, progress: Progress | None = None, buckets: int | None = None,
                  category_groups: int | None = None, gt_piece_bytes: int | None = None) -> COCOResult:
    """COCO evaluation of one or many results files, in this process or on a dask.distributed cluster.

    Parameters
    ----------
    gt : Dataset or path
        The ground truth (a path is read by :func:`read_ground_truth`; on a cluster, a COCO file in pieces by
        several tasks, another format by one worker).
    pred : path, glob pattern or list of paths
        COCO results files (``"preds/part-*.json"``: the matches in sorted name order). They are evaluated as the
        one file that holds their detections in that order would be; an image's detections may be in several.
    gt_format : str, optional
        The ground truth's format (default: recognised; COCO when not).
    iou_type, params, fixed
        As :func:`annokit.evaluate`.
    scheduler : str or distributed.Client, optional
        ``"local:N"`` (N worker processes started and stopped here), ``"tcp://HOST:PORT"`` (a running dask
        scheduler) or a Client. None: in this process, without importing dask.
    progress : callable, optional
        ``progress(stage, done, total)``; on a cluster, one stage ``"tasks"`` for the whole job.
    buckets, category_groups : int, optional
        On a cluster: image buckets matched apart, category groups accumulated apart (default: from the size of
        the results files and the number of workers). The result does not depend on them.
    gt_piece_bytes : int, optional
        On a cluster, a COCO ground-truth file's ``annotations`` list is read by tasks of about this many bytes
        each (default :data:`GT_PIECE_BYTES`); the result does not depend on it.

    Returns
    -------
    COCOResult
        Equal, array for array, to the in-process evaluation (without the per-row ``dt_matches``).

    Examples
    --------
    >>> res = evaluate_coco("sample_data/scenes/gt.json", "sample_data/scenes/pred.json")
    >>> round(res.metrics_dict()["AP"], 3)
    0.531
    >>> res = evaluate_coco("gt.json", "preds/part-*.json", scheduler="local:2")  # doctest: +SKIP
    """
    paths = expand_shards(pred)
    p = params if params is not None else COCOParams(iou_type=iou_type)
    if scheduler is None:
        from annokit.metrics.coco import evaluate

        with no_gc():
            ds = gt if isinstance(gt, Dataset) else read_ground_truth(gt, gt_format, fixed=fixed)
            dt = read_result_shards(paths, ds, fixed=fixed)
        return evaluate(ds, dt, params=p, fixed=fixed, progress=progress)
    if p.iou_type not in ("bbox", "segm"):
        raise ValidationError(f"evaluate_coco on a cluster: iou_type {p.iou_type!r} (bbox and segm only)")
    with connect(scheduler) as client:
        n = worker_count(client)
        size = sum(path.stat().st_size for path in paths)
        b = buckets or min(1024, max(2 * n, -(-size // BUCKET_BYTES)))
        g = category_groups or min(64, max(n, -(-size // GROUP_BYTES)))
        layout = None
        if not isinstance(gt, Dataset):
            layout = client.submit(_layout_stage, str(gt), gt_format, gt_piece_bytes or GT_PIECE_BYTES,
                                   key=f"annokit-eval-layout-{uuid.uuid4().hex[:8]}").result()
        gt_arg = client.scatter(gt) if isinstance(gt, Dataset) else str(gt)
        job = Job(client, "eval")
        final = _submit_eval(job, _GroundTruth(gt_arg, gt_format, layout, p, fixed), paths, b, g)
        try:
            job.run(progress)
        except _PieceError as exc:  # the whole-file reader names the error it meets first
            client.submit(read_ground_truth, str(gt), gt_format, fixed=fixed).result()
            raise FormatError(exc.path, exc.where, exc.message) from None
        whole, notes, curves = client.gather([final.whole, final.notes, final.curves])
    for messages, _ in notes:
        for message, category in messages:
            warnings.warn(message, category, stacklevel=2)
    if all(empty for _, empty in notes) and not fixed:
        warnings.warn(f"{paths[0]}{' ...' if len(paths) > 1 else ''}: no detections (pycocotools' loadRes crashes "
                      "on an empty list); scoring no detections", AnnokitWarning, stacklevel=2)
    return whole.compute_from(curves, stacklevel=3)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Final:
    """The futures the client gathers: the evaluation, each file's warnings, each category group's curves."""

    whole: Any
    notes: list[Any]
    curves: list[Any]


@dataclass(frozen=True)
class _GroundTruth:
    """How the ground truth reaches the workers: a Dataset (a future) or a path, and the layout of a COCO file read
    in pieces (None: read whole by one task)."""

    source: Any
    fmt: str | None
    layout: InstancesLayout | None
    params: COCOParams
    fixed: bool


class _PieceError(FormatError):
    """A ground-truth piece's error: the client reads the file whole to name the error the reader meets first."""


@contextlib.contextmanager
def _as_piece_error() -> Iterator[None]:
    """A :class:`FormatError` raised inside, as a :class:`_PieceError`."""
    try:
        yield
    except FormatError as exc:
        raise _PieceError(exc.path, exc.where, exc.message) from None


def _submit_eval(job: Job, gt: _GroundTruth, paths: list[Path], n_buckets: int, n_groups: int) -> _Final:
    """The task graph of the module docstring (the futures of intermediate results are left to the job)."""
    empty, target, parts = (_submit_pieces if gt.layout is not None else _submit_whole)(job, gt, n_buckets)
    shards = [job.submit(_read_stage, str(p), target, n_buckets, stage="read", index=i) for i, p in enumerate(paths)]
    notes = [job.submit(_shard_notes, s, stage="notes", index=i) for i, s in enumerate(shards)]
    buckets, counts = [], []
    for b in range(n_buckets):
        pieces = [job.submit(_shard_piece, s, b, stage="route", index=f"{i}-{b}") for i, s in enumerate(shards)]
        matched = job.submit(_match_stage, empty, parts[b], n_groups, *pieces, stage="match", index=b)
        buckets.append(matched)
        counts.append(job.submit(_matched_counts, matched, stage="counts", index=b))
    total = job.submit(_total_counts, *counts, stage="total-counts")
    whole = job.submit(_with_counts, empty, total, stage="evaluation")
    curves = []
    for g in range(n_groups):
        group = [job.submit(_group_part, k, g, stage="split", index=f"{b}-{g}") for b, k in enumerate(buckets)]
        curves.append(job.submit(_accumulate_stage, total, *group, stage="accumulate", index=g))
    return _Final(whole=whole, notes=notes, curves=curves)


def _submit_whole(job: Job, gt: _GroundTruth, n: int) -> tuple[Any, Any, list[Any]]:
    """The ground truth read whole by one task (a Dataset given, a format other than COCO): the evaluation, the
    image table and the buckets' ground truth."""
    plan = job.submit(_ground_truth_stage, gt.source, gt.fmt, gt.params, gt.fixed, n, stage="ground-truth")
    whole = job.submit(_plan_whole, plan, stage="evaluation-images")
    target = job.submit(_plan_target, plan, stage="image-table")
    return whole, target, [job.submit(_plan_part, plan, b, stage="ground-truth-bucket", index=b) for b in range(n)]


def _submit_pieces(job: Job, gt: _GroundTruth, n: int) -> tuple[Any, Any, list[Any]]:
    """A COCO ground truth read in pieces: the head (images, categories) by one task, the ``annotations`` list by
    one task per piece, routed to the buckets; each bucket's ground truth joined from the pieces."""
    lay = gt.layout
    assert lay is not None
    head = job.submit(_head_stage, lay, gt.params, gt.fixed, stage="ground-truth-head")
    empty = job.submit(_head_whole, head, stage="evaluation-images")
    target = job.submit(_head_target, head, stage="image-table")
    pieces = [job.submit(_piece_stage, lay, k, head, n, stage="ground-truth-piece", index=k)
              for k in range(len(lay.pieces))]
    ids = [job.submit(_piece_ids, pc, stage="ground-truth-ids", index=k) for k, pc in enumerate(pieces)]
    job.submit(_ids_stage, lay.path, lay.first, *ids, stage="ground-truth-id-check")
    parts = []
    for b in range(n):
        routed = [job.submit(_piece_bucket, pc, b, stage="ground-truth-route", index=f"{k}-{b}")
                  for k, pc in enumerate(pieces)]
        parts.append(job.submit(_bucket_stage, head, b, n, *routed, stage="ground-truth-bucket", index=b))
    return empty, target, parts


# ------------------------------------------------------------------------------------- stages (run on workers)
@dataclass(frozen=True)
class _Plan:
    """The ground-truth stage's output: the evaluation (without its ground truth), the image table results are read
    against, and the ground truth by image bucket."""

    whole: COCOAccumulator
    target: ResultsTarget
    parts: list[Dataset]


@dataclass(frozen=True)
class _Head:
    """A COCO ground truth's head: the evaluation of its images and categories (no annotation counted yet), the
    image table results are read against, and the images, categories and top-level fields (no annotations)."""

    empty: COCOAccumulator
    target: ResultsTarget
    ds: Dataset


@dataclass(frozen=True)
class _Shard:
    """A results file's detections by image bucket, the warnings its reading gave, and whether it was empty."""

    pieces: list[ResultColumns]
    notes: list[tuple[str, type[Warning]]]
    empty: bool


def _ground_truth_stage(gt: Dataset | str, fmt: str | None, params: COCOParams, fixed: bool, n: int) -> _Plan:
    with no_gc():
        ds = gt if isinstance(gt, Dataset) else read_ground_truth(gt, fmt, fixed=fixed)
    whole = pickle.loads(pickle.dumps(COCOAccumulator(ds, params=params, fixed=fixed)))  # drops the ground truth
    return _Plan(whole=whole, target=ResultsTarget.of(ds), parts=image_buckets(ds, n))


def image_buckets(gt: Dataset, n: int) -> list[Dataset]:
    """``gt`` in ``n`` parts by image: the image at position ``p`` (and its annotations) in part ``p mod n``."""
    return [image_subset(gt, _bucket_positions(len(gt.images), n, b)) for b in range(n)]


def _bucket_positions(n_images: int, n: int, b: int) -> np.ndarray:
    """The image positions of bucket ``b`` of ``n``: ``p mod n == b``, in order."""
    return np.arange(b, n_images, n)


def _layout_stage(path: str, fmt: str | None, piece_bytes: int) -> InstancesLayout | None:
    """The layout of a COCO ground-truth file (None for another format, or a file to read whole)."""
    from annokit.io.coco_parts import scan_instances

    return scan_instances(path, piece_bytes=piece_bytes) if instance_format(path, fmt) == "coco" else None


def _head_stage(lay: InstancesLayout, params: COCOParams, fixed: bool) -> _Head:
    with _as_piece_error():
        head = read_head(lay)
    empty = pickle.loads(pickle.dumps(COCOAccumulator(head, params=params, fixed=fixed)))
    return _Head(empty=empty, target=ResultsTarget.of(head), ds=head)


def _head_whole(head: _Head) -> COCOAccumulator:
    return head.empty


def _head_target(head: _Head) -> ResultsTarget:
    return head.target


def _piece_stage(lay: InstancesLayout, k: int, head: _Head, n: int) -> tuple[list[Instances], np.ndarray]:
    """Read piece ``k`` of the ``annotations`` list and route its objects to the image buckets (order kept); its
    annotation ids are kept apart for the check across pieces."""
    with _as_piece_error(), no_gc():
        objs = read_piece(lay, k, head.ds)
    bucket = head.target.image_pos(objs.image_ids) % n
    return [objs[bucket == b] for b in range(n)], np.asarray(objs.ids)


def _piece_ids(piece: tuple[list[Instances], np.ndarray]) -> np.ndarray:
    return piece[1]


def _piece_bucket(piece: tuple[list[Instances], np.ndarray], b: int) -> Instances:
    return piece[0][b]


def _ids_stage(path: str, first: list[int], *ids: np.ndarray) -> None:
    with _as_piece_error():
        check_annotation_ids(path, ids, first)


def _bucket_stage(head: _Head, b: int, n: int, *pieces: Instances) -> Dataset:
    """Bucket ``b``'s ground truth: its images (positions ``p mod n == b``) and their objects from every piece, in
    file order -- :func:`image_buckets` of the whole file's dataset."""
    ds = image_subset(head.ds, _bucket_positions(len(head.ds.images), n, b))
    return Dataset(images=ds.images, categories=ds.categories, annotations=concat_annotations(head.ds, pieces),
                   info=ds.info, licenses=ds.licenses, extras=ds.extras)


def _plan_whole(plan: _Plan) -> COCOAccumulator:
    return plan.whole


def _plan_target(plan: _Plan) -> ResultsTarget:
    return plan.target


def _plan_part(plan: _Plan, b: int) -> Dataset:
    return plan.parts[b]


def _read_stage(path: str, target: ResultsTarget, n: int) -> _Shard:
    """Read one results file and route its detections to the image buckets (file order kept in each)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with no_gc():
            cols = _read_columns(path, target)
    _instances(cols, path)  # the checks of one results file, with its name
    bucket = target.image_pos(cols.image_ids) % n
    order = np.argsort(bucket, kind="stable")
    cuts = np.searchsorted(bucket[order], np.arange(n + 1))
    pieces = [take_columns(cols, order[cuts[b]:cuts[b + 1]]) for b in range(n)]
    return _Shard(pieces=pieces, notes=[(str(w.message), w.category) for w in caught], empty=not len(cols))


def _shard_piece(shard: _Shard, b: int) -> ResultColumns:
    return shard.pieces[b]


def _shard_notes(shard: _Shard) -> tuple[list[tuple[str, type[Warning]]], bool]:
    return shard.notes, shard.empty


def _match_stage(empty: COCOAccumulator, gt: Dataset, n_groups: int, *pieces: ResultColumns
                 ) -> tuple[list[COCOAccumulator], GroundTruthCounts]:
    """Match one image bucket's detections (the files' pieces in file order), split the records by category, and
    count the bucket's ground truth."""
    acc = empty.image_part(gt)
    cols = concat_columns(pieces)
    if len(cols):
        acc.update(cols.instances())
    return acc.category_parts(n_groups), acc.ground_truth_counts()


def _matched_counts(matched: tuple[list[COCOAccumulator], GroundTruthCounts]) -> GroundTruthCounts:
    return matched[1]


def _total_counts(*counts: GroundTruthCounts) -> GroundTruthCounts:
    return GroundTruthCounts.total(counts)


def _with_counts(empty: COCOAccumulator, total: GroundTruthCounts) -> COCOAccumulator:
    """The evaluation of the images and categories, counting the whole ground truth."""
    return empty.with_ground_truth_counts(total)


def _group_part(matched: tuple[list[COCOAccumulator], GroundTruthCounts], g: int) -> COCOAccumulator:
    return matched[0][g]


def _accumulate_stage(total: GroundTruthCounts, *parts: COCOAccumulator) -> COCOCurves:
    """One category group: its records from every bucket, merged and accumulated against the whole ground truth's
    counts."""
    return functools.reduce(COCOAccumulator.merge, parts).with_ground_truth_counts(total).curves()
