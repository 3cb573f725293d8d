"""Prediction over image shards on a dask.distributed cluster, with the output of the in-process run byte for byte.

The stages:

1. *model* (one task): a worker builds the predictor from its :class:`PredictorSpec` and reports its task, labels
   and batch size (the client never loads the model);
2. *shard* (one task per shard of consecutive images): a worker runs
   :func:`~annokit.predict.run.run_predictor` over its images -- the model is built once per worker process and
   kept for the next shards -- and writes the shard's output with
   :func:`~annokit.predict.run.write_predictions` into a staging folder beside ``out``;
3. the client merges the shard files into ``out`` in shard order, atomically (or, ``keep_shards``, moves them
   into the folder ``out`` as they are), and removes the staging folder -- also when the run fails.

Why the output is the in-process one: shards are runs of consecutive images whose length is a multiple of the batch
size, so every batch holds the images it holds in one process; a COCO results file is the JSON list of its records
(orjson, no spaces), a scores CSV a header and one row per image, a semantic output one PNG per image -- the
shards' records, rows and files in shard order are those of the whole run.

The staging folder, and ``out``, must be on a file system every worker sees under the same path (a local cluster
always does; on a cluster of machines, a shared volume).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annokit._internal.files import atomic_dir, atomic_path
from annokit._internal.progress import Progress
from annokit.distributed._cluster import Job, connect, worker_count
from annokit.errors import FormatError
from annokit.predict import ImageItem, ImageRange, RunFailed, RunResult, Task, load_predictor, run_predictor
from annokit.predict import write_predictions as write_run

__all__ = ["PredictorSpec", "ShardedRun", "predict_sharded"]

PathLike = str | os.PathLike[str]
_SUFFIX = {"detection": ".json", "instance": ".json", "classification": ".csv", "semantic": ""}


@dataclass(frozen=True)
class PredictorSpec:
    """How a worker builds the predictor: ``load_predictor(backend, **options)`` (picklable, small)."""

    backend: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, backend: str, options: dict[str, Any] | None = None) -> PredictorSpec:
        return cls(backend, tuple(sorted((options or {}).items())))

    def build(self) -> Any:
        return load_predictor(self.backend, **dict(self.options))


@dataclass(frozen=True)
class _RunOptions:
    batch_size: int | None
    skip_failures: bool
    score_threshold: float | None
    image_range: ImageRange


@dataclass(frozen=True)
class _ModelInfo:
    task: str
    label_names: list[str]
    batch_size: int


@dataclass(frozen=True)
class _ShardDone:
    """What a shard task reports: the images predicted and failed, the detections, the file or folder written."""

    path: str
    n_items: int
    n_detections: int
    failures: list[tuple[ImageItem, str]]


@dataclass
class ShardedRun:
    """The summary of a sharded run (the predictions themselves are in the files written)."""

    task: str
    n_items: int = 0
    n_detections: int = 0
    total: int = 0
    failures: list[tuple[ImageItem, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ worker side
_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
LOADS: list[str] = []
"""The specs (as ``repr``) this process built a predictor for, in order: one entry per model load (tests count
them)."""


def _predictor(spec: PredictorSpec) -> Any:
    """The predictor of ``spec``, built once per process and kept (dask runs a worker's tasks in its threads).
    Keyed by ``repr``: option values may be lists (``--option mean=[...]``), which do not hash."""
    key = repr(spec)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = spec.build()
            LOADS.append(key)
        return _MODELS[key]


def _model_stage(spec: PredictorSpec) -> _ModelInfo:
    p = _predictor(spec)
    return _ModelInfo(task=str(getattr(p.task, "value", p.task)), label_names=list(p.labels.names),
                      batch_size=int(getattr(p, "batch_size", None) or 8))


def _shard_stage(spec: PredictorSpec, items: list[ImageItem], dest: str, opts: _RunOptions) -> _ShardDone:
    """Predict one shard and write its output to ``dest`` (atomically; a retried task writes it again)."""
    predictor = _predictor(spec)
    try:
        result = run_predictor(predictor, items, batch_size=opts.batch_size, skip_failures=opts.skip_failures,
                               score_threshold=opts.score_threshold, image_range=opts.image_range, close=False)
    except RunFailed as exc:  # every image of this shard failed: other shards may have some
        result = RunResult(task=Task(predictor.task), labels=predictor.labels, failures=exc.failures)
    write_run(result, dest, overwrite=True)
    n_dets = len(result.instances()) if result.task.value in ("detection", "instance") else 0
    return _ShardDone(path=dest, n_items=len(result.items), n_detections=n_dets, failures=result.failures)


# ------------------------------------------------------------------------------------------ client side
def predict_sharded(spec: PredictorSpec, items: Sequence[ImageItem], out: PathLike, *, scheduler: str | Any,
                    task: str | None = None, batch_size: int | None = None, skip_failures: bool = False,
                    score_threshold: float | None = None, image_range: ImageRange = "auto",
                    shard_size: int | None = None, keep_shards: bool = False, overwrite: bool = False,
                    progress: Progress | None = None) -> ShardedRun:
    """Predict ``items`` on a dask cluster and write what :func:`annokit.predict.write_predictions` writes.

    Parameters
    ----------
    spec : PredictorSpec
        The backend and its options; every worker builds the predictor once, the client never.
    items : sequence of ImageItem
        The images, in output order.
    out : path
        As :func:`~annokit.predict.write_predictions`; with ``keep_shards``, a folder of the shard files
        ``part-00000.json`` (``.csv``; semantic: the PNGs, as without it), which ``annokit eval --pred
        'out/part-*.json'`` reads as the merged file.
    scheduler : str or distributed.Client
        ``"local:N"``, ``"tcp://HOST:PORT"`` or a Client.
    task : str, optional
        The task the predictor must have (an :class:`~annokit.errors.FormatError` otherwise).
    batch_size, skip_failures, score_threshold, image_range
        As :func:`~annokit.predict.run_predictor`.
    shard_size : int, optional
        Images per shard, rounded up to a multiple of the batch size (default: about four shards per worker).
    keep_shards, overwrite : bool
        See ``out``; an existing ``out`` is refused unless ``overwrite``.
    progress : callable, optional
        ``progress("tasks", done, total)``: one count for the whole job.

    Returns
    -------
    ShardedRun
        Images predicted and failed, detections, files written.

    Raises
    ------
    PredictionError, RunFailed
        As :func:`~annokit.predict.run_predictor` (nothing is written to ``out``).

    Examples
    --------
    >>> from annokit.predict import images_from_dataset
    >>> items, _ = images_from_dataset("sample_data/scenes/gt.json")  # doctest: +SKIP
    >>> spec = PredictorSpec.of("onnx", {"model": "sample_data/model/scenes_cnn.onnx", "task": "detection"})
    >>> predict_sharded(spec, items, "pred.json", scheduler="local:2").n_items  # doctest: +SKIP
    48
    """
    out = Path(out)
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise FormatError(out, None, "destination exists (pass overwrite=True / --overwrite to replace it)")
    opts = _RunOptions(batch_size, skip_failures, score_threshold, image_range)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.shards-", dir=out.parent))
    try:
        with connect(scheduler) as client:
            info = Job(client, "predict-model")
            model = info.submit(_model_stage, spec, stage="model")
            info.run()
            m: _ModelInfo = model.result()
            if task is not None and m.task != task:
                raise FormatError(None, None, f"backend {spec.backend!r} predicts {m.task}, not {task}")
            done = _run_shards(client, spec, list(items), staging, opts, m, shard_size, progress)
        run = _summary(m.task, done, len(items))
        run.written = _merge(m, [Path(d.path) for d in done], out, keep_shards=keep_shards, overwrite=overwrite)
        return run
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run_shards(client: Any, spec: PredictorSpec, items: list[ImageItem], staging: Path, opts: _RunOptions,
                m: _ModelInfo, shard_size: int | None, progress: Progress | None) -> list[_ShardDone]:
    """One task per shard (consecutive images, a multiple of the batch size); their reports, in shard order."""
    bs = opts.batch_size or m.batch_size
    size = shard_size or -(-len(items) // (4 * worker_count(client)))
    size = max(bs, -(-max(size, 1) // bs) * bs)
    job = Job(client, "predict")
    futures = [job.submit(_shard_stage, spec, items[a:a + size], str(staging / f"part-{k:05d}{_SUFFIX[m.task]}"),
                          opts, stage="shard", index=k) for k, a in enumerate(range(0, len(items), size))]
    job.run(progress)
    return list(client.gather(futures))


def _summary(task: str, done: list[_ShardDone], total: int) -> ShardedRun:
    run = ShardedRun(task=task, total=total)
    for d in done:
        run.n_items += d.n_items
        run.n_detections += d.n_detections
        run.failures.extend(d.failures)
    if total and not run.n_items:
        raise RunFailed(run.failures)
    return run


def _merge(m: _ModelInfo, parts: list[Path], out: Path, *, keep_shards: bool, overwrite: bool) -> list[Path]:
    """The shard outputs into ``out``: merged (one JSON list, one CSV, one folder of PNGs) or, ``keep_shards``,
    moved into the folder ``out`` as they are. ``out`` appears whole or not at all."""
    if m.task == "semantic" or keep_shards:
        with atomic_dir(out, overwrite=overwrite) as tmp:
            for part in parts:
                _move_into(part, tmp, flatten=m.task == "semantic")
        return sorted(p for p in out.rglob("*") if p.is_file())
    if out.is_dir():
        raise FormatError(out, None, "is a folder; the merged output is one file")
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        if m.task == "classification":
            for k, part in enumerate(parts):
                lines = part.read_bytes().splitlines(keepends=True)
                f.writelines(lines if k == 0 else lines[1:])  # the header once
        else:
            f.write(b"[")
            first = True
            for part in parts:
                body = part.read_bytes()[1:-1]
                if body:
                    f.write(body if first else b"," + body)
                    first = False
            f.write(b"]")
    return [out]


def _move_into(part: Path, dest: Path, *, flatten: bool) -> None:
    """``part`` (a file) into ``dest``, or, ``flatten``, the files of the folder ``part`` at their relative paths
    (two shards writing the same file is an error: an image name twice)."""
    if not flatten:
        os.replace(part, dest / part.name)
        return
    for src in sorted(p for p in part.rglob("*") if p.is_file()):
        target = dest / src.relative_to(part)
        if target.exists():
            raise FormatError(target, None, "two images write this label map (the same file name twice)")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, target)
