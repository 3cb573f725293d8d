"""Conversion by image shards on a dask.distributed cluster, with the files and the loss report of the in-process
run.

The client reads the source once (and remaps its categories), cuts its images into shards of consecutive images
and sends each shard -- its images, their objects, every category -- to a worker, which writes it with the target's
own writer into a folder inside the output's temporary folder and sends back its image keys and its loss records.
The client merges the records (:meth:`~annokit.core.losses.LossRecorder.merge_parts`: counts add, dataset-level
kinds once, largest values the largest, examples in image order), moves the shards' files into the output, writes
the whole-dataset files (YOLO's ``data.yaml``) and the sidecar, and renames the output into place. A shard that fails
is one line naming it; nothing is left in the destination. docs/scale-out.md says why the result is the in-process
one, and which targets are written this way (:func:`annokit.convert.part_refusal` says why another is not).

The output folder must be on a file system every worker sees under the same path (a local cluster always does).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from annokit._internal.limits import MAX_PIXELS
from annokit._internal.progress import Progress
from annokit.convert import FormatOptions, LossReport, LossState, PartTask, convert_by_parts
from annokit.distributed._cluster import Job, connect, worker_count

__all__ = ["convert_sharded"]

PathLike = str | os.PathLike[str]


def _run_job(job: PartTask) -> tuple[Any, LossState]:
    return job.run()


def convert_sharded(src: PathLike, dst: PathLike, *, src_format: str, dst_format: str, scheduler: Any,
                    shards: int | Sequence[tuple[int, int]] | None = None, strict: bool = False,
                    sidecar: bool = True, overwrite: bool = False, remap: Mapping[Any, Any] | None = None,
                    report_path: PathLike | None = None,
                    read_options: FormatOptions | Mapping[str, Any] | None = None,
                    write_options: FormatOptions | Mapping[str, Any] | None = None, max_pixels: int = MAX_PIXELS,
                    progress: Progress | None = None) -> LossReport:
    """:func:`annokit.convert.convert` with the target written by image shards on a dask cluster.

    Parameters
    ----------
    src, dst, src_format, dst_format, strict, sidecar, overwrite, remap, report_path, read_options, write_options,
    max_pixels
        As :func:`annokit.convert.convert`.
    scheduler : str or distributed.Client
        ``"local:N"``, ``"tcp://HOST:PORT"`` or a client (:func:`annokit.distributed.connect`).
    shards : int or list of (start, stop), optional
        How many shards of consecutive images (default: four per worker), or their image positions.
    progress : callable, optional
        ``progress("tasks", done, total)`` as shards finish.

    Returns
    -------
    LossReport
        The in-process conversion's report (a target that cannot be written by shards exactly is a
        :class:`~annokit.errors.FormatError` saying why, before anything is read).

    Examples
    --------
    >>> from annokit.distributed.convert import convert_sharded
    >>> rep = convert_sharded("gt.json", "yolo_out", src_format="coco", dst_format="yolo",
    ...                       scheduler="local:2")  # doctest: +SKIP
    """
    from annokit.convert import get_format, part_refusal
    from annokit.errors import FormatError

    why = part_refusal(get_format(dst_format))
    if why is not None:
        raise FormatError(None, None, why)
    with connect(scheduler) as client:
        n = shards if shards is not None else 4 * worker_count(client)

        def run_parts(jobs: Sequence[PartTask]) -> list[tuple[Any, LossState]]:
            job = Job(client, "convert")
            futures = [job.submit(_run_job, j, stage="shard", index=j.index) for j in jobs]
            job.run(progress)
            return [f.result() for f in futures]

        return convert_by_parts(src, dst, src_format=src_format, dst_format=dst_format, parts=n,
                                run_parts=run_parts, strict=strict, sidecar=sidecar, overwrite=overwrite,
                                remap=remap, report_path=report_path, read_options=read_options,
                                write_options=write_options, max_pixels=max_pixels)
