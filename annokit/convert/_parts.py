"""Writing a folder format by parts: runs of consecutive images written apart (by workers of a cluster), their
files and loss records merged into what writing the whole dataset at once gives (private; used by
:mod:`annokit.distributed.convert`).

A target can be written by parts when its writer's files are per image (the parts' files are disjoint) apart from a
few whole-dataset files the finishing step writes from the whole dataset, and its loss accounting merges exactly
(:class:`~annokit.core.losses.LossRecorder`: counts add, dataset-level kinds once, largest values the largest,
examples in part order).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from annokit._internal.files import atomic_dir, atomic_path
from annokit._internal.gc import no_gc
from annokit._internal.limits import MAX_PIXELS
from annokit._internal.parts import PartContext, writing_part
from annokit._internal.paths import audit_tree
from annokit.convert._api import PathLike, get_format, prepare_write, read_source, refuse_existing, report_to
from annokit.convert._registry import FormatSpec, coco_fragments, write_coco_fragments
from annokit.convert._sidecar import SIDECAR, write_sidecar
from annokit.convert.options import FormatOptions, parse_options
from annokit.core.dataset import Dataset, image_subset
from annokit.core.losses import LossError, LossRecorder, LossReport, LossState
from annokit.errors import FormatError

__all__ = ["FILE_PARTS", "PART_RULES", "FilePartJob", "PartJob", "PartRule", "PartRunner", "PartTask", "by_image",
           "convert_by_parts", "finish_parts", "move_parts", "part_bounds", "part_refusal", "run_here", "shard_error",
           "write_part"]


@dataclass(frozen=True)
class PartRule:
    """How a folder format is written by parts: the files every part writes for the whole dataset
    (``whole_files``, dropped from the parts) and the step that writes them from the whole dataset (``finish``:
    ``finish(dataset, folder, write_options)``); the files every part writes the same (``same_files``: categories
    only; one kept, checked equal)."""

    whole_files: tuple[str, ...] = ()
    finish: Callable[[Dataset, Path, Any], None] | None = None
    same_files: tuple[str, ...] = ()
    joined: tuple[str, ...] = ()
    """Folders whose files are lists of images: a file several parts write is their texts one after the other."""
    facts: Callable[[Dataset, Any, Sequence[tuple[int, int]]], list[dict[str, Any]]] | None = None
    """``facts(dataset, write_options, bounds)``: the whole-dataset facts each part's writer needs
    (:class:`annokit._internal.parts.PartContext`), computed from the whole dataset before the parts are sent."""
    case_blind: bool = True
    """The writer refuses two images whose files differ in case only (so must the merge, across parts)."""


def _yolo_finish(ds: Dataset, folder: Path, opts: Any) -> None:
    from annokit.io.yolo import write_yolo_data_yaml

    write_yolo_data_yaml(ds, folder, split=opts.split or "train")


def _voc_facts(ds: Dataset, opts: Any, bounds: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    from annokit.io.voc import voc_part_facts

    return voc_part_facts(ds, bounds)


PART_RULES: dict[str, PartRule] = {
    "voc": PartRule(same_files=("labelmap.txt",), joined=("ImageSets",), facts=_voc_facts),
    "yolo": PartRule(("data.yaml",), _yolo_finish),
    "yolo-seg": PartRule(("data.yaml",), _yolo_finish),
    "class-folders": PartRule(case_blind=False),
    "png": PartRule(same_files=("classes.txt",)),
    "cityscapes": PartRule(),
}
"""The targets written by parts exactly (tests/distributed/test_distributed_convert.py)."""

FILE_PARTS = frozenset({"coco"})
"""The single-file targets written by parts exactly: each run of images and each run of objects serialized apart,
the file their bytes joined in order (tests/convert/test_parts.py)."""

_WHY_NOT: dict[str, str] = {
    "coco-panoptic": "its writer numbers segments and colours over the whole dataset",
}


def part_refusal(spec: FormatSpec[Any, Any]) -> str | None:
    """Why ``spec`` cannot be written by parts exactly (None: it can)."""
    if spec.name in PART_RULES or spec.name in FILE_PARTS:
        return None
    if spec.writer is None:
        return f"format {spec.name!r} is read-only"
    if not spec.folder:
        return (f"{spec.name} is one file, written in one piece (its writer's loss report is not split by images; "
                "coco and the folder formats are written by parts)")
    why = _WHY_NOT.get(spec.name, "its writer's files and loss report are not split by images")
    return f"{spec.name} cannot be written by image shards with the same result: {why}"


def by_image(ds: Dataset) -> Dataset:
    """``ds`` with its annotations grouped by image in image order (an image's objects in their order): a run of
    consecutive images is then a run of consecutive objects, so that the objects a writer meets first in the whole
    dataset are those its first part meets first. The per-image files do not change."""
    a = ds.annotations
    if not len(a):
        return ds
    pos = ds.images.index_of(a.image_ids)
    if bool((np.diff(pos) >= 0).all()):
        return ds
    return ds.with_annotations(a[np.argsort(pos, kind="stable")])


def write_part(part: Dataset, folder: Path, spec: FormatSpec[Any, Any], options: Any, *, offset: int,
               sidecar: bool, object_offset: int = 0, facts: Mapping[str, Any] | None = None
               ) -> tuple[list[str] | None, LossState]:
    """Write the images ``part`` (a run of the whole dataset's images starting at position ``offset``, with their
    objects, every category and the dataset's fields) into the empty ``folder``; return each image's key and the
    state of what was lost, to merge with the other parts' (:meth:`LossRecorder.merge_parts`). No sidecar: the
    finishing step writes the whole dataset's."""
    if spec.writer is None:
        raise FormatError(folder, None, f"format {spec.name!r} is read-only")
    rec = LossRecorder()
    kept_in = SIDECAR if (sidecar and spec.sidecar) else None
    ctx = PartContext(offset, object_offset, facts or {})
    with writing_part(ctx):
        keys = spec.writer(part, folder, rec, options, kept_in)
    return keys, rec.state()


def move_parts(folder: Path, parts: Sequence[Path], spec: FormatSpec[Any, Any]) -> None:
    """Move every file of the part folders ``parts`` (in order) into ``folder``, leaving out the format's whole
    files; a file two parts wrote is an error (two images of the dataset would write it)."""
    rule = PART_RULES[spec.name]
    skip, same = set(rule.whole_files), set(rule.same_files)
    joined = tuple(f"{d}/" for d in rule.joined)
    taken: set[str] = set()  # the files of the parts before this one (lower-cased where the writer is case-blind)
    for part in parts:
        mine: set[str] = set()
        for dirpath, _dirs, filenames in os.walk(part):
            rel = os.path.relpath(dirpath, part)
            out = folder if rel == "." else folder / rel
            out.mkdir(parents=True, exist_ok=True)
            for name in filenames:
                r = name if rel == "." else f"{rel}/{name}"
                if r in skip:
                    continue
                dest = out / name
                if r in same and dest.exists():
                    if dest.read_bytes() != Path(dirpath, name).read_bytes():
                        raise FormatError(None, r, "the parts wrote different versions of this file")
                    continue
                if dest.exists() and r.startswith(joined):
                    with open(dest, "ab") as fh:
                        fh.write(Path(dirpath, name).read_bytes())
                    continue
                key = r.lower() if rule.case_blind else r
                if dest.exists() or key in taken:
                    raise FormatError(None, r, "two images of the dataset would write this file")
                mine.add(key)
                os.replace(os.path.join(dirpath, name), dest)
        taken |= mine


def finish_parts(folder: Path, ds: Dataset, keys: list[str] | None, spec: FormatSpec[Any, Any], options: Any,
                 rec: LossRecorder, *, sidecar: bool, strict: bool) -> None:
    """The whole dataset's files (the format's :class:`PartRule`), its sidecar when the parts kept anything in it,
    the output's audit, and ``strict``'s refusal -- as writing ``ds`` at once ends."""
    rule = PART_RULES[spec.name]
    if rule.finish is not None:
        rule.finish(ds, folder, options)
    report = rec.report()
    if sidecar and spec.sidecar and keys is not None and any(e.kept_in for e in report.entries):
        write_sidecar(folder, ds, keys, spec.name)
    audit_tree(folder)
    if strict and not report.lossless:
        raise LossError(report)


@dataclass(frozen=True)
class PartJob:
    """One part to write: the images at positions ``offset`` .. ``offset + len(part.images) - 1`` of the whole
    dataset, in format ``fmt`` into ``folder``. :meth:`run` does it (in this process or on a worker)."""

    index: int
    part: Dataset
    folder: Path
    fmt: str
    options: Any
    offset: int
    sidecar: bool
    object_offset: int = 0
    facts: Mapping[str, Any] | None = None

    def run(self) -> tuple[list[str] | None, LossState]:
        """:func:`write_part`; an error names the shard, its images and the first image's file."""
        from annokit.errors import AnnokitError

        shutil.rmtree(self.folder, ignore_errors=True)  # a rerun (its first worker died) starts from nothing
        self.folder.mkdir(parents=True)
        try:
            return write_part(self.part, self.folder, get_format(self.fmt), self.options, offset=self.offset,
                              sidecar=self.sidecar, object_offset=self.object_offset, facts=self.facts)
        except AnnokitError as exc:
            raise shard_error(exc, self.index, self.part, self.offset) from None


def shard_error(exc: Exception, index: int, part: Dataset, offset: int) -> FormatError:
    """``exc``, met writing the images ``part`` (from position ``offset`` of the whole dataset) as shard ``index``:
    one line naming the shard, its images and the first image's file (an image's place given in the whole)."""
    n = len(part.images)
    first = part.images.file_names[0] if n else ""
    where = f"shard {index} (images {offset}..{offset + n - 1}, first {first!r})"
    if isinstance(exc, FormatError):
        inner = re.sub(r"^images\[(\d+)\]", lambda m: f"images[{offset + int(m.group(1))}]", exc.where or "")
        return FormatError(exc.path, ": ".join(x for x in (where, inner) if x), exc.message)
    return FormatError(None, where, str(exc))


@dataclass(frozen=True)
class FilePartJob:
    """One part of a single-file target (:data:`FILE_PARTS`): the images at positions ``offset`` .. of the whole
    dataset (``images``: no objects) and its objects at positions ``object_offset`` .. in the whole dataset's
    order (``objects``: with their images). :meth:`run` serializes both (in this process or on a worker)."""

    index: int
    images: Dataset
    objects: Dataset
    fmt: str
    offset: int
    object_offset: int

    def run(self) -> tuple[tuple[bytes, bytes], LossState]:
        """:func:`~annokit.convert._registry.coco_fragments`; an error names the shard."""
        from annokit.errors import AnnokitError

        rec = LossRecorder()
        try:
            with no_gc():  # as the in-process writer: many small dicts, no cycles
                return coco_fragments(self.images, self.objects, rec), rec.state()
        except AnnokitError as exc:
            raise shard_error(exc, self.index, self.images, self.offset) from None


class PartTask(Protocol):
    """A part to write (:class:`PartJob`, :class:`FilePartJob`): its index, and ``run()`` giving its result and its
    loss records."""

    @property
    def index(self) -> int: ...

    def run(self) -> tuple[Any, LossState]: ...


PartRunner = Callable[[Sequence[PartTask]], "list[tuple[Any, LossState]]"]
"""Runs the jobs (anywhere) and returns their results in job order."""


def run_here(jobs: Sequence[PartTask]) -> list[tuple[Any, LossState]]:
    """The :data:`PartRunner` of this process: one job after the other."""
    return [job.run() for job in jobs]


def part_bounds(n_images: int, n_parts: int) -> list[tuple[int, int]]:
    """``n_parts`` runs of consecutive image positions (as equal as can be; none empty unless there are no images).

    >>> part_bounds(5, 2)
    [(0, 2), (2, 5)]
    """
    n = max(1, min(n_parts, n_images))
    edges = np.linspace(0, n_images, n + 1).round().astype(int).tolist()
    return [(edges[k], edges[k + 1]) for k in range(n)]


def _jobs(ds: Dataset, bounds: Sequence[tuple[int, int]], staging: Path, spec: FormatSpec[Any, Any], options: Any,
          sidecar: bool) -> list[PartJob]:
    """One job per run of images: the run with its objects (grouped by image: a run of objects too), where both
    start, and the format's whole-dataset facts for it."""
    rule = PART_RULES[spec.name]
    facts = rule.facts(ds, options, bounds) if rule.facts is not None else [{} for _ in bounds]
    n_obj = np.bincount(ds.images.index_of(ds.annotations.image_ids), minlength=len(ds.images))
    first_obj = np.concatenate([[0], np.cumsum(n_obj)]).tolist()
    return [PartJob(k, image_subset(ds, np.arange(lo, hi)), staging / f"part-{k:05d}", spec.name, options, lo,
                    sidecar, int(first_obj[lo]), facts[k]) for k, (lo, hi) in enumerate(bounds)]


def convert_by_parts(src: PathLike, dst: PathLike, *, src_format: str, dst_format: str,
                     parts: int | Sequence[tuple[int, int]] = 1, run_parts: PartRunner = run_here,
                     object_parts: Sequence[tuple[int, int]] | None = None,
                     strict: bool = False, sidecar: bool = True, overwrite: bool = False,
                     remap: Mapping[Any, Any] | None = None, report_path: PathLike | None = None,
                     read_options: FormatOptions | Mapping[str, Any] | None = None,
                     write_options: FormatOptions | Mapping[str, Any] | None = None,
                     max_pixels: int = MAX_PIXELS) -> LossReport:
    """:func:`~annokit.convert.convert` with the target written by parts: ``src`` is read here, cut into runs of
    consecutive images (``parts``: how many, or the ``(start, stop)`` positions of each), each run written by
    ``run_parts`` (e.g. on the workers of a dask cluster) into a folder inside the output's temporary folder, and
    the files and loss records merged. The files and the report are those of :func:`convert` (tested for every
    target in :data:`PART_RULES` and :data:`FILE_PARTS`; another target is a :class:`FormatError` saying why). The
    output appears whole or not at all.

    A single-file target (:data:`FILE_PARTS`) is cut into runs of images and runs of objects in the source's order
    (``object_parts``: their positions, one run per run of images; default as equal as can be); each part
    serializes its images' and its objects' entries, and the file is their bytes joined in order.
    """
    dst_spec = get_format(dst_format)
    why = part_refusal(dst_spec)
    if why is not None:
        raise FormatError(None, None, why)
    wopts = parse_options(dst_spec, "write", write_options)
    with no_gc():
        ds, rec = read_source(src, src_format=src_format, dst_format=dst_format, sidecar=sidecar, remap=remap,
                              read_options=read_options)
        grouped = prepare_write(ds, dst_spec, rec, max_pixels)
    bounds = part_bounds(len(grouped.images), parts) if isinstance(parts, int) else list(parts)
    try:
        if not dst_spec.folder:
            _file_by_parts(grouped, Path(dst), bounds, object_parts, run_parts, rec, dst_spec.name,
                           overwrite=overwrite, strict=strict)
            return report_to(rec.report(), report_path)
        with atomic_dir(Path(dst), overwrite=overwrite) as tmp:
            staging = tmp / ".annokit-parts"
            jobs = _jobs(grouped, bounds, staging, dst_spec, wopts, sidecar)
            results = run_parts(jobs)
            rec.merge_parts([state for _, state in results])
            move_parts(tmp, [job.folder for job in jobs], dst_spec)
            shutil.rmtree(staging, ignore_errors=True)
            keys = None if any(k is None for k, _ in results) else [x for k, _ in results for x in k or []]
            finish_parts(tmp, ds, keys, dst_spec, wopts, rec, sidecar=sidecar, strict=strict)
    except LossError as exc:
        report_to(exc.report, report_path)
        raise
    return report_to(rec.report(), report_path)


def _file_jobs(ds: Dataset, bounds: Sequence[tuple[int, int]], object_bounds: Sequence[tuple[int, int]] | None,
               fmt: str) -> list[FilePartJob]:
    """One job per run of images, with its run of objects (in the dataset's order, with their images)."""
    a = ds.annotations
    obj = list(object_bounds) if object_bounds is not None else part_bounds(len(a), len(bounds))
    obj += [(len(a), len(a))] * (len(bounds) - len(obj))  # fewer objects than runs: the last runs have none
    if len(obj) != len(bounds) or [lo for lo, _ in obj[1:]] != [hi for _, hi in obj[:-1]] or \
            (obj and (obj[0][0] != 0 or obj[-1][1] != len(a))):
        raise FormatError(None, None, f"the runs of objects {obj} do not cut the {len(a)} objects in "
                                      f"{len(bounds)} consecutive runs")
    bare = ds.with_annotations(a[np.zeros(0, dtype=np.int64)])
    jobs = []
    for k, ((lo, hi), (olo, ohi)) in enumerate(zip(bounds, obj)):
        run = a[np.arange(olo, ohi)]
        objects = image_subset(bare.with_annotations(run), np.unique(ds.images.index_of(run.image_ids)))
        jobs.append(FilePartJob(k, image_subset(bare, np.arange(lo, hi)), objects, fmt, lo, olo))
    return jobs


def _file_by_parts(ds: Dataset, dst: Path, bounds: Sequence[tuple[int, int]],
                   object_bounds: Sequence[tuple[int, int]] | None, run_parts: PartRunner, rec: LossRecorder,
                   fmt: str, *, overwrite: bool, strict: bool) -> None:
    """Write the single-file target ``dst`` by parts: the parts' bytes joined in order, their records merged."""
    refuse_existing(dst, overwrite)
    results = run_parts(_file_jobs(ds, bounds, object_bounds, fmt))
    rec.merge_parts([state for _, state in results])
    with atomic_path(dst) as tmp:
        write_coco_fragments(ds, [frags for frags, _ in results], tmp)
        if strict and not rec.report().lossless:
            raise LossError(rec.report())
