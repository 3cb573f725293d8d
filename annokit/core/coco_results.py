"""COCO results -- a list of detections as a results file holds them -- as columns, by pycocotools' ``loadRes`` rules.

Shared by :func:`annokit.io.coco.read_results` (files) and :meth:`annokit.metrics.coco.COCOAccumulator.update`
(lists of dicts). The rules: when the *first* detection has a non-empty ``bbox``, every detection needs one and its
area is ``w * h`` (even for mask evaluation), a segmentation being optional; otherwise every detection needs an RLE
segmentation, its area and (unless given) box come from the mask. Detections of an image the ground truth does not
have are an error; those of a category it does not have are kept and counted (the evaluation does not score them).

Files are read in blocks of whole records (:mod:`annokit._internal.jsoncols`): a block whose records share one
layout -- what every program writing results produces -- is parsed from its bytes into columns, without a Python
object per record, so a results file of any size needs memory for its columns only. Other blocks go through
``orjson`` and the checks below, which name the record and the field of the first problem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import math
import operator
import os
import pickle
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import numpy as np
import orjson

from annokit._internal.gc import no_gc
from annokit._internal.jsoncols import Block, Irregular, NotAList, ScalarField, SpanReader, StringField, read_blocks
from annokit._internal.threads import Prefetch, thread_count
from annokit.core.packed_rles import PackedRLEs
from annokit.errors import AnnokitWarning, FormatError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["ResultColumns", "ResultsTarget", "SplitRead", "check_rle", "read_result_columns", "result_columns"]

_MISSING = object()
_WANT = {("image_id",): "number_or_string", ("category_id",): "number", ("score",): "number", ("bbox",): "numbers",
         ("segmentation", "size"): "numbers", ("segmentation", "counts"): "string"}


@dataclass(frozen=True)
class ResultsTarget:
    """What reading results needs of the ground truth: image ids (the integer codes of string ids, with
    ``str_ids`` mapping the strings), image sizes, category ids."""

    image_ids: np.ndarray
    heights: np.ndarray
    widths: np.ndarray
    cat_ids: np.ndarray
    str_ids: dict[Any, int] | None

    @classmethod
    def of(cls, ds: Dataset) -> ResultsTarget:
        im = ds.images
        str_ids = None
        if im.extras is not None and any("id" in e for e in im.extras):
            str_ids = {e.get("id"): int(im.ids[i]) for i, e in enumerate(im.extras)}
        return cls(image_ids=np.asarray(im.ids), heights=np.asarray(im.heights), widths=np.asarray(im.widths),
                   cat_ids=np.asarray(ds.categories.ids), str_ids=str_ids)

    def image_pos(self, ids: np.ndarray) -> np.ndarray:
        from annokit._internal.arrays import index_of

        return index_of(self.image_ids, ids)


@dataclass(frozen=True)
class ResultColumns:
    """Detections as columns: ``xywh`` as in the file, ``area`` as ``loadRes`` sets it, ``segmentations`` as in the
    file (None when no detection has one); ``unknown`` detections of categories the ground truth lacks."""

    image_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    xywh: np.ndarray
    area: np.ndarray
    segmentations: Sequence[Any] | None
    unknown: int
    first_unknown: tuple[int, int] | None
    mask_boxes: np.ndarray | None = None
    """Rows whose box is their mask's, not computed yet (their ``xywh`` is NaN until :meth:`with_mask_boxes`); None
    when every box is in ``xywh`` (only ``read_result_columns(..., lazy_boxes=True)`` leaves any out)."""

    def __len__(self) -> int:
        return len(self.scores)

    def mask_xywh(self) -> np.ndarray:
        """``xywh`` with the rows of :attr:`mask_boxes` filled in from their masks (pycocotools' ``toBbox``, as
        ``loadRes`` sets them)."""
        if self.mask_boxes is None:
            return self.xywh
        assert self.segmentations is not None
        xywh = self.xywh.copy()
        xywh[self.mask_boxes] = _mask_boxes([self.segmentations[i] for i in self.mask_boxes.tolist()])
        return xywh

    def with_mask_boxes(self) -> ResultColumns:
        """These columns with every box in ``xywh``."""
        if self.mask_boxes is None:
            return self
        return dataclasses.replace(self, xywh=self.mask_xywh(), mask_boxes=None)

    def instances(self) -> Instances:
        """As :class:`~annokit.core.instances.Instances` (ltrb boxes ``[x, y, x + w, y + h]``, ids 1..N)."""
        from annokit.core.instances import Instances

        if self.mask_boxes is not None:
            return self.with_mask_boxes().instances()

        boxes = self.xywh.copy()
        with np.errstate(over="ignore", invalid="ignore"):  # x + w beyond float64: refused below, by name
            boxes[:, 2] += self.xywh[:, 0]
            boxes[:, 3] += self.xywh[:, 1]
        cols: dict[str, Any] = {"image_ids": self.image_ids, "boxes": boxes, "labels": self.labels,
                                "scores": self.scores, "area": self.area,
                                "ids": np.arange(1, len(self) + 1, dtype=np.int64),
                                "segmentations": (list(self.segmentations) if self.segmentations is not None
                                                  and not isinstance(self.segmentations, list) else
                                                  self.segmentations),
                                "source_wh": np.ascontiguousarray(self.xywh[:, 2:])}
        checked = (np.isfinite(boxes).all() and (boxes[:, 2:] >= boxes[:, :2]).all()
                   and np.isfinite(self.scores).all() and (np.isfinite(self.area) & (self.area >= 0)).all())
        if not checked:  # the model's own checks say what is wrong
            return Instances(**cols)
        # the columns are checked: skip re-validating them (and every segmentation dict) one by one
        inst: Instances = Instances.model_construct(**cols, iscrowd=np.zeros(len(self), bool), ignore=None,
                                                    extras=None)
        return inst

    def warn_unknown(self, where: str | Path, *, stacklevel: int = 2) -> None:
        """The warning for detections of categories the ground truth lacks (pycocotools drops them silently)."""
        if self.first_unknown is not None:
            i, c = self.first_unknown
            warnings.warn(f"{where}: {self.unknown} detections have a category id not in the ground truth (first: "
                          f"[{i}].category_id = {c}); they are not scored", AnnokitWarning, stacklevel=stacklevel + 1)


@dataclass
class _Part:
    """The columns of one block of records."""

    img: np.ndarray
    cat: np.ndarray
    score: np.ndarray
    xywh: np.ndarray
    area: np.ndarray
    segs: Sequence[Any] | None
    mask_box: np.ndarray | None = None
    """``(n,)`` bool: the rows whose box is their mask's (NaN in ``xywh`` until :func:`_finish`); None: none."""


def read_result_columns(path: Path, target: ResultsTarget, *, fixed: bool = False,
                        block_bytes: int = 4 << 20, split: SplitRead | None = None, lazy_boxes: bool = False
                        ) -> ResultColumns:
    """The detections of the COCO results file ``path``, read in blocks of whole records: a helper thread reads and
    parses the next block while this one makes the columns of the last (in turn with ``ANNOKIT_THREADS=1``;
    :class:`~annokit._internal.threads.Prefetch`). With ``split`` (:class:`SplitRead`, started on the same file),
    the head is read here and the tail's columns come from the forked child -- the same columns, or, whenever the
    split cannot vouch for that, the file is read here from the start. A file of RLE masks without boxes is read
    with ``orjson`` block by block instead (:func:`_mask_file_parts`: a Python dict per mask is made for pycocotools
    anyway).

    ``lazy_boxes``: the boxes that come from masks are left out (:attr:`ResultColumns.mask_boxes`; mask evaluation
    never reads them).

    Raises :class:`~annokit.errors.FormatError` naming the file and the place of the first problem.
    """
    if split is not None:
        cols = split.columns(target, fixed)
        if cols is not None:
            return cols
    if _mask_file(path):
        with no_gc():
            done = _mask_file_parts(path, target, block_bytes)
        if done is not None:
            return _finish(done, target, path, fixed, lazy_boxes)
    try:
        parts, _ = _read_parts(lambda: read_blocks(path, block_bytes=block_bytes), target, path)
    except NotAList:
        _not_a_list(path)
    return _finish(parts, target, path, fixed, lazy_boxes)


def _read_parts(blocks: Callable[[], Iterator[Block]], target: ResultsTarget, path: Path
                ) -> tuple[list[_Part], bool | None]:
    """The parts of the blocks ``blocks()`` yields, and the box mode they set."""
    parts: list[_Part] = []
    box_mode: bool | None = None
    with no_gc(), Prefetch(blocks, depth=1) as it:
        # no_gc: mask results build a dict per detection; collections would find no cycles there
        for blk in it:
            part, box_mode = _block_part(blk, target, box_mode, path)
            parts.append(part)
    return parts, box_mode


# ------------------------------------------------------------------------------------------------ two processes
#: A byte of ground truth JSON costs about this many bytes of a box results file to read (box annotations straight
#: into columns, :mod:`annokit.io.coco_fast_gt`: more numbers a byte, and orjson for the images; measured on
#: benchmarks/make_coco_data.py's sets, 1.2-2.2): the child takes that much more of the file while this process
#: reads the ground truth. 1.4 since the ground truth is parsed in 1 MB blocks (``coco_fast_gt._GT_BLOCK``; was 2.0):
#: this process then waited 0.03-0.12 s for the child, now ~0.02 s (the transfer itself; 4 single runs each).
_GT_WEIGHT = 1.4
_BOUNDARY = re.compile(rb"\}[ \t\n\r]*,[ \t\n\r]*\{")  # JSON's blanks only
_END = b"annokit-columns-end"
#: Block size on both sides of a split: a smaller working set than the one-pass reader's 4 MB blocks while the two
#: processes' memory adds up (the same CPU time on the bbox benchmark; the child's peak RSS 86 -> 59 MB).
_SPLIT_BLOCK = 1 << 20


class SplitRead:
    """A large box results file read by this process and a forked child at once (:meth:`start`).

    The file is cut between two records near the point that evens out the work (the child's tail is larger when
    this process has the ground truth to read first). From the moment it is made, the child parses the tail --
    ``b"[" + tail``, an array of its own -- into columns, on one thread (:func:`~annokit._internal.threads.one_thread`;
    so should this process be until :meth:`columns` returns), and sends them through a pipe. :meth:`columns`
    reads the head (``head + b"]"``) here with the usual reader and adds the child's columns.

    The result is exactly what one pass gives, because the split is used only when everything vouches for it: the
    head reads as a complete array (so the cut falls between two top-level records: a JSON prefix parses the same
    whatever follows it), the child read every block of the tail on the fast path as box detections without masks
    (integer image ids; the same checks as a block read here) and sent all of it, the head's first record set box
    mode, the ground truth has integer image ids and holds every image of the tail. Otherwise -- malformed text, an
    unknown image, masks, a child that failed or died -- :meth:`columns` returns None and the caller reads the
    whole file itself, which gives its errors and warnings exactly as without the split.
    """

    def __init__(self, path: Path, cut: int, tail: int) -> None:
        from annokit._internal.forked import Background

        self.path, self.cut = path, cut
        #: Called once the head is read, before the child's columns are waited for: work of the caller's that
        #: needs no results (the evaluation's imports, for ``annokit eval``).
        self.meanwhile: Callable[[], object] | None = None
        self._child = Background(lambda out: _send_tail(path, tail, out))

    @classmethod
    def start(cls, path: str | Path, *, ground_truth_bytes: int = 0) -> SplitRead | None:
        """A split read of ``path`` started (its child forked), or None where it is not worth it: a file under
        :data:`annokit._internal.limits.SPLIT_FROM`, one thread (:func:`~annokit._internal.threads.thread_count`,
        which follows the load and ``ANNOKIT_THREADS``), no fork, or no record boundary found near the cut."""
        from annokit._internal import limits
        from annokit._internal.forked import fork_available
        from annokit._internal.threads import thread_count

        p = Path(path)
        try:
            size = p.stat().st_size
            if size < limits.SPLIT_FROM or thread_count() < 2 or not fork_available():
                return None
            share = min(0.9, 0.5 + 0.5 * _GT_WEIGHT * ground_truth_bytes / size)  # the child's part
            cut = _split_point(p, int(size * (1.0 - share)))
        except OSError:
            return None
        if cut is None:
            return None
        split = cls(p, *cut)
        if not split._child.started:
            split.close()
            return None
        return split

    def columns(self, target: ResultsTarget, fixed: bool) -> ResultColumns | None:
        """The head's columns read here and the tail's from the child, one :class:`ResultColumns`; None when the
        split cannot vouch for them (see the class)."""
        from annokit._internal.jsoncols import read_span_blocks

        try:
            if target.str_ids is not None:
                return None
            try:
                head, box_mode = _read_parts(
                    lambda: read_span_blocks(self.path, 0, self.cut, suffix=b"]", block_bytes=_SPLIT_BLOCK),
                    target, self.path)
            except (FormatError, NotAList):
                return None
            if box_mode and self.meanwhile is not None:
                self.meanwhile()  # while the child finishes its part
            tail = self._receive() if box_mode else None
            if tail is None or any((target.image_pos(p.img) < 0).any() for p in tail):
                return None
            return _finish(head + tail, target, self.path, fixed)
        finally:
            self.close()

    def _receive(self) -> list[_Part] | None:
        """The child's parts, or None when it sent less than all of them."""
        try:
            f = self._child.stream()
            size = int.from_bytes(_read_exact(f, 8), "little")
            counts = pickle.loads(_read_exact(f, size))
            parts = []
            for n in counts:
                cols = [np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n), np.empty((n, 4)), np.empty(n)]
                for a in cols:
                    _fill(f, a)
                parts.append(_Part(img=cols[0], cat=cols[1], score=cols[2], xywh=cols[3], area=cols[4], segs=None))
            return parts if _read_exact(f, len(_END)) == _END else None
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            return None

    def close(self) -> None:
        """Stop the child if it still runs (and reap it)."""
        self._child.close()

    def __enter__(self) -> SplitRead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _send_tail(path: Path, start: int, out: BinaryIO) -> None:  # pragma: no cover - runs in the forked child
    """The child's work: the records from ``start`` as box detections, their columns written to ``out`` (a length,
    the pickled record counts of the blocks, each block's five columns as raw bytes, the end marker). Raises (the
    child then ends without the marker) on anything :class:`SplitRead` does not take."""
    from annokit._internal.jsoncols import read_span_blocks
    from annokit._internal.threads import one_thread

    parts = []
    with one_thread():
        for blk in read_span_blocks(path, start, None, prefix=b"[", block_bytes=_SPLIT_BLOCK):
            f = blk.fields(dict(_WANT))
            img = f[("image_id",)]
            if not _all_ints(img) or f[("segmentation", "size")] is not None \
                    or f[("segmentation", "counts")] is not None:
                raise Irregular
            assert isinstance(img, ScalarField)
            cat, score, bbox = _fast_columns(f)
            if bbox is None:
                raise Irregular
            xywh = bbox.values
            parts.append((img.ints[:, 0], cat, score, xywh, xywh[:, 2] * xywh[:, 3]))
    head = pickle.dumps([len(p[0]) for p in parts], protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(head).to_bytes(8, "little"))
    out.write(head)
    while parts:  # each part let go once written (the pipe waits for this process's reader)
        for a in parts.pop(0):
            out.write(np.ascontiguousarray(a).data.cast("B"))
    out.write(_END)


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _fill(f: io.BufferedReader, a: np.ndarray) -> None:
    """``a``'s bytes from ``f`` (EOFError when the stream ends first)."""
    view = a.data.cast("B")
    at = 0
    while at < len(view):
        got = f.readinto(view[at:])
        if not got:
            raise EOFError
        at += got


def result_columns(items: Sequence[Any], target: ResultsTarget, *, where: str | Path = "<results>",
                   fixed: bool = False) -> ResultColumns:
    """The detections of a list of COCO result dicts (as in a results file; numpy scalars accepted)."""
    path = Path(where)
    if not isinstance(items, (list, tuple)):
        raise FormatError(path, None, f"a results file must be a JSON list of detections, got {type(items).__name__}")
    parts = [_general(list(items), 0, target, _box_mode(items), path)] if len(items) else []
    return _finish(parts, target, path, fixed)


def _not_a_list(path: Path) -> None:
    """The error for a file whose top level is not a list (orjson says what it is, or where it is broken)."""
    data = path.read_bytes()
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(path, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    raise FormatError(path, None, f"a results file must be a JSON list of detections, got {type(value).__name__}")


def _box_mode(items: Sequence[Any]) -> bool:
    first = items[0] if len(items) else None
    return isinstance(first, dict) and "bbox" in first and first["bbox"] != []


def _block_part(blk: Block, target: ResultsTarget, box_mode: bool | None, path: Path) -> tuple[_Part, bool]:
    """One block: from its bytes when it is regular, else through orjson and the per-record checks."""
    try:
        return _fast(blk, target, box_mode, path)
    except Irregular:
        pass
    try:
        items = orjson.loads(blk.records_json())
    except orjson.JSONDecodeError as exc:
        raise blk.error_at(path, exc.pos, exc.msg) from None
    mode = _box_mode(items) if box_mode is None else box_mode
    return _general(items, blk.first, target, mode, path), mode


def _finish(parts: list[_Part], target: ResultsTarget, path: Path, fixed: bool, lazy_boxes: bool = False
            ) -> ResultColumns:
    if not parts or sum(len(p.score) for p in parts) == 0:
        if not fixed:
            warnings.warn(f"{path}: empty results list (pycocotools' loadRes crashes on it); scoring no detections",
                          AnnokitWarning, stacklevel=4)
        z = np.zeros(0)
        return ResultColumns(np.zeros(0, np.int64), np.zeros(0, np.int64), z, np.zeros((0, 4)), z, None, 0, None)
    segs: Sequence[Any] | None = None
    if all(isinstance(p.segs, PackedRLEs) for p in parts):
        segs = PackedRLEs.concat([cast(PackedRLEs, p.segs) for p in parts])
    elif any(p.segs is not None for p in parts):
        segs = [s for p in parts for s in (p.segs if p.segs is not None else [None] * len(p.score))]
    mask_boxes = None
    if any(p.mask_box is not None for p in parts):
        mask_boxes = np.flatnonzero(np.concatenate([p.mask_box if p.mask_box is not None
                                                    else np.zeros(len(p.score), bool) for p in parts]))
    cols = {name: _joined(parts, name) for name in ("cat", "img", "score", "area", "xywh")}
    from annokit._internal.arrays import index_of

    cat = cols["cat"]
    unknown = np.flatnonzero(index_of(target.cat_ids, cat) < 0)
    first = (int(unknown[0]), int(cat[unknown[0]])) if len(unknown) else None
    out = ResultColumns(image_ids=cols["img"], labels=cat, scores=cols["score"], xywh=cols["xywh"],
                        area=cols["area"], segmentations=segs, unknown=len(unknown), first_unknown=first,
                        mask_boxes=mask_boxes)
    return out if lazy_boxes else out.with_mask_boxes()


def _joined(parts: list[_Part], name: str) -> np.ndarray:
    """The column ``name`` of every part, one array; each part lets go of its piece once copied (at most one column
    is held twice: the peak memory of reading a large file)."""
    out = np.concatenate([getattr(p, name) for p in parts])
    for p in parts:
        setattr(p, name, out[:0])
    return out


# ------------------------------------------------------------------------------------------------ mask files
_SNIFF = 64 << 10


def _mask_file(path: Path) -> bool:
    """Whether the file's first record has an RLE ``counts`` and no ``bbox``: a mask results file (read by
    :func:`_mask_file_parts`). Only chooses the reader; both give the same columns and errors."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError:
        return False
    m = _BOUNDARY.search(head)
    first = head[: m.start()] if m else head
    return head.lstrip(_WS)[:1] == b"[" and b'"counts"' in first and b'"bbox"' not in first


_WS = b" \t\n\r"


_SPLIT_AT = 0.6
"""Where the second half, the child's, starts (a fraction of the file's bytes). The child also pickles its half
(about 0.16 s per 100,000 masks against 0.09 s to unpickle them here), so it takes the smaller part: at 0.45 (until
2026-12-02) this process waited ~0.2 s for it on the 1,000-image segm benchmark; at 0.6 the child's pickling
overlaps this process's last blocks (read 0.58-0.61 s against 0.63-0.74, in process; the command 1.83 s against
1.88 and, at 0.55, 1.72 against 1.78, 7 rounds each with --baseline)."""


def _mask_file_parts(path: Path, target: ResultsTarget, size: int) -> list[_Part] | None:
    """The columns of a mask results file, block by block through ``orjson`` and :func:`_general` (whose mask check
    takes a column of plain compressed RLE dicts at once); in two halves at once from
    :data:`annokit._internal.limits.MASK_SPLIT_FROM` bytes on.
    None -- the caller then reads the file the usual way, which reports any problem at its place -- when a block
    does not parse, the file's first record has a box, or a record is refused.
    """
    from annokit._internal import limits
    from annokit._internal.forked import fork_available

    if os.path.getsize(path) >= limits.MASK_SPLIT_FROM and fork_available() and thread_count() > 1:
        split = _split_point(path, int(os.path.getsize(path) * _SPLIT_AT))
        if split is not None:
            return _two_halves(path, target, size, split)
    return _mask_range(path, target, size, 0, None)


def _mask_range(path: Path, target: ResultsTarget, size: int, start: int, stop: int | None) -> list[_Part] | None:
    """:func:`_mask_file_parts` of the records from byte ``start`` (0: the file's start, its ``[`` first; else where
    a record begins) to byte ``stop`` (where a record ends; None: the end of the file, its ``]`` last).

    A block ends at the last ``}`` followed by ``,`` and ``{`` (whitespace between allowed) of what was read. Inside
    a string that text is no boundary, but then the block cannot parse as a JSON list (JSON's tokens are read left
    to right, so the block would end inside a string), and the file goes the usual way. So a block that parses ends
    where a record of the file ends, and the next one starts where the next record starts.
    """
    parts: list[_Part] = []
    base = 0
    with open(path, "rb") as f:
        f.seek(start)
        span = SpanReader(f, None if stop is None else stop - start)
        carry = span.read(size)
        if start == 0:
            carry = carry.lstrip(_WS)
            if carry[:1] != b"[":
                return None
            carry = carry[1:]
        while True:
            data = span.read(size)
            text = carry + data if data else carry
            if data:
                cut = _last_boundary(text)
                if cut is None:  # a record longer than the block: read on
                    carry = text
                    continue
                block, carry = b"[" + text[: cut[0]] + b"]", text[cut[1]:]
            else:  # the last records (and the closing bracket at the file's end)
                block = b"[" + text + (b"]" if stop is not None else b"")
            try:
                items = orjson.loads(block)
            except orjson.JSONDecodeError:
                return None
            boxes = b'"bbox"' in block or b"\\u" in block  # a key may be written with escapes
            del block
            if items:
                if start == 0 and not parts and _box_mode(items):
                    return None
                try:
                    parts.append(_general(items, base, target, False, path, boxes=boxes))
                except FormatError:
                    return None
                base += len(items)
            if not data:
                return parts


def _split_point(path: Path, middle: int) -> tuple[int, int] | None:
    """``(end of a record, start of the next)``: the first record boundary from byte ``middle`` on (text that looks
    like one: :func:`_two_halves` finds out whether it is)."""
    with open(path, "rb") as f:
        f.seek(middle)
        window = f.read(1 << 20)
    m = _BOUNDARY.search(window)
    return None if m is None else (middle + m.start() + 1, middle + m.end() - 1)


def _two_halves(path: Path, target: ResultsTarget, size: int, split: tuple[int, int]) -> list[_Part] | None:
    """:func:`_mask_range` of the records before ``split`` here and of those after it in a forked child
    (:func:`annokit._internal.forked.fork_split`; pycocotools' mask areas and the Python objects hold the
    interpreter lock, so threads would not help), which sends its columns and masks back.

    The first half parses only if ``split`` is where a record of the file ends (see :func:`_mask_range`), and then
    the second half starts at a record: the two halves are the file's records. Anything else: None.
    """
    from annokit._internal.forked import fork_split
    from annokit.core.masks import rle_area  # noqa: F401 - imported before the fork, for the child

    def run(share: list[int]) -> tuple[tuple[int, list[_Part] | None], int]:
        k = share[0]  # 0: the second half (the child's), 1: the first
        try:
            got = _mask_range(path, target, size, split[1], None) if k == 0 else \
                _mask_range(path, target, size, 0, split[0])
        except Exception:  # the usual reader says what is wrong
            got = None
        return (k, got), 1

    res = fork_split([0, 1], run, workers=2, block=1)
    halves = dict(res.results)
    for k in res.leftover:  # the child died: its half here
        halves[k] = run([k])[0][1]
    first, second = halves.get(1), halves.get(0)
    if first is None or second is None:
        return None
    return first + second


def _last_boundary(text: bytes) -> tuple[int, int] | None:
    """``(end of a record, start of the next)`` at the last record boundary of ``text``; None if there is none."""
    end = len(text)
    while True:
        j = text.rfind(b"}", 0, end)
        if j < 0:
            return None
        m = _BOUNDARY.match(text, j)
        if m is not None:
            return j + 1, m.end() - 1
        end = j


# ------------------------------------------------------------------------------------------------ regular blocks
def _fast(blk: Block, target: ResultsTarget, box_mode: bool | None, path: Path) -> tuple[_Part, bool]:
    """A regular block from its bytes; Irregular for anything the per-record checks should look at."""
    f = blk.fields(dict(_WANT))
    img = _fast_images(f[("image_id",)], target)
    pos = target.image_pos(img)
    if (pos < 0).any():
        raise Irregular
    cat, score, bbox = _fast_columns(f)
    if box_mode is None:
        box_mode = bbox is not None and bbox.values.shape[1] > 0
    got = _fast_rles(f, target.heights[pos], target.widths[pos])
    rles = None if got is None else got[0]
    if box_mode:
        if bbox is None:
            raise Irregular
        xywh = bbox.values
        area = xywh[:, 2] * xywh[:, 3]
        lazy = None
    else:
        if got is None:
            raise Irregular
        area, xywh, lazy = _rle_area_box(got[0], bbox.values if bbox is not None else None, area=got[1])
    return _Part(img=img, cat=cat, score=score, xywh=xywh, area=area, segs=rles, mask_box=lazy), box_mode


def _fast_columns(f: dict[tuple[str, ...], ScalarField | StringField | None]
                  ) -> tuple[np.ndarray, np.ndarray, ScalarField | None]:
    """Category ids, scores and the box field (when there is one: 4 finite numbers, no negative size) of a regular
    block's fields; Irregular for anything else."""
    cat, score, bbox = f[("category_id",)], f[("score",)], f[("bbox",)]
    if not _all_ints(cat) or not isinstance(score, ScalarField) or not np.isfinite(score.values).all():
        raise Irregular
    if bbox is not None and (not isinstance(bbox, ScalarField) or bbox.values.shape[1] != 4
                             or not np.isfinite(bbox.values).all() or (bbox.values[:, 2:] < 0).any()):
        raise Irregular
    assert isinstance(cat, ScalarField)
    return cat.ints[:, 0], score.values[:, 0], bbox


def _all_ints(f: ScalarField | StringField | None) -> bool:
    return isinstance(f, ScalarField) and f.values.shape[1] == 1 and bool(f.is_int.all())


def _fast_images(f: ScalarField | StringField | None, target: ResultsTarget) -> np.ndarray:
    if target.str_ids is None:
        if not _all_ints(f):
            raise Irregular
        assert isinstance(f, ScalarField)
        return f.ints[:, 0]
    if not isinstance(f, StringField) or f.escaped:
        raise Irregular
    try:
        return np.array([target.str_ids[r.decode("ascii")] for r in f.raw], dtype=np.int64)
    except (KeyError, UnicodeDecodeError):
        raise Irregular from None


def _fast_rles(f: dict[tuple[str, ...], ScalarField | StringField | None], h: np.ndarray, w: np.ndarray
               ) -> tuple[PackedRLEs, np.ndarray] | None:
    """Compressed RLE segmentations ``{"size": [h, w], "counts": str}`` (their size checked against the image, each
    string checked to be an RLE of it), packed, and their areas."""
    size, counts = f[("segmentation", "size")], f[("segmentation", "counts")]
    if size is None and counts is None:
        return None
    if not (_all_ints_k(size, 2) and isinstance(counts, StringField)):
        raise Irregular
    assert isinstance(size, ScalarField)
    if ((size.ints[:, 0] != h) | (size.ints[:, 1] != w)).any():
        raise Irregular
    try:
        text = _unescape(counts.raw) if counts.escaped else [c.decode("ascii") for c in counts.raw]
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        raise Irregular from None
    from annokit.core.rle_check import counts_areas

    ok, area = counts_areas(text, size.ints[:, 0] * size.ints[:, 1])
    if not ok.all():
        raise Irregular  # the per-record reader names the string that is not an RLE of its image
    return PackedRLEs.of(text, size.ints[:, 0], size.ints[:, 1]), area.astype(np.float64)


def _unescape(raw: list[bytes]) -> list[str]:
    """JSON string contents: RLE counts escape only backslashes (``\\\\``), undone for all strings at once; any
    other escape through orjson."""
    joined = b"\0".join(raw)
    plain = joined.replace(b"\\\\", b"\\")
    if joined.count(b"\\") == 2 * plain.count(b"\\"):
        return plain.decode("ascii").split("\0")
    out = orjson.loads(b"[" + b",".join(b'"' + r + b'"' for r in raw) + b"]")
    assert all(isinstance(t, str) for t in out)
    return [str(t) for t in out]


def _all_ints_k(f: ScalarField | StringField | None, k: int) -> bool:
    return isinstance(f, ScalarField) and f.values.shape[1] == k and bool(f.is_int.all())


def _rle_area_box(rles: Sequence[Any], boxes: np.ndarray | None, *, area: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mask areas (``area`` when the check gave them, else pycocotools'), and the boxes the detections give
    (segmentation mode); without them, NaN boxes and every row marked as having its mask's box (computed by
    :func:`_finish` when asked for)."""
    from annokit.core.masks import rle_area

    area = rle_area(rles) if area is None else area
    if boxes is not None:
        return area, boxes, None
    return area, np.full((len(rles), 4), np.nan), np.ones(len(rles), bool)


def _mask_boxes(rles: list[Any]) -> np.ndarray:
    """``(n, 4)`` xywh boxes of RLE masks (pycocotools' ``toBbox``, as ``loadRes`` sets a mask's box); an
    uncompressed one (``counts`` a list of run lengths, checked by the reader) is compressed first."""
    from pycocotools import mask as cmask

    if not rles:
        return np.zeros((0, 4))
    if not all(r["counts"].__class__ in _STRINGS for r in rles):
        from annokit.core.masks import segmentation_to_rle

        rles = [r if r["counts"].__class__ in _STRINGS else segmentation_to_rle(r, *r["size"]) for r in rles]
    return np.asarray(cmask.toBbox(rles), dtype=np.float64).reshape(-1, 4)


# ------------------------------------------------------------------------------------------------ per record
def _general(items: list[Any], base: int, target: ResultsTarget, box_mode: bool, path: Path, *,
             boxes: bool = True) -> _Part:
    """Records as Python objects (a list given, or a block that is not regular), checked one by one. ``boxes``:
    False when no record has a ``bbox`` key (the text has no ``"bbox"``)."""
    if set(map(type, items)) != {dict}:
        for i, d in enumerate(items):
            if not isinstance(d, dict):
                raise FormatError(path, f"[{base + i}]", f"expected an object, got {type(d).__name__}")
    img = _image_column(items, base, target, path)
    cat = _int_column(items, "category_id", base, path)
    score = _float_column(items, "score", base, path)
    pos = target.image_pos(img)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise FormatError(path, f"[{base + i}].image_id",
                          f"image id {items[i]['image_id']!r} is not in the ground truth")
    segs: list[Any] = [d.get("segmentation") for d in items]
    hs, ws = target.heights[pos].tolist(), target.widths[pos].tolist()
    if box_mode:
        xywh = _box_column(items, base, path)
        _check_strings_at_once(segs, hs, ws, base, path)
        for i, s in enumerate(segs):
            if s is not None:
                _check_segmentation(path, f"[{base + i}]", s, (hs[i], ws[i]), strings_checked=True)
        area = xywh[:, 2] * xywh[:, 3]
        lazy = None
        kept: Sequence[Any] | None = segs if any(s is not None for s in segs) else None
    else:
        area, xywh, lazy, kept = _mask_columns(items, segs, base, (target.heights[pos], target.widths[pos]), path,
                                               boxes)
    return _Part(img=img, cat=cat, score=score, xywh=xywh, area=area, segs=kept, mask_box=lazy)


def _mask_columns(items: list[Any], segs: list[Any], base: int, hw: tuple[np.ndarray, np.ndarray], path: Path,
                  boxes: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Sequence[Any]]:
    """Areas, boxes (NaN where the mask gives it), the rows whose box is their mask's, and the masks: packed
    (:class:`~annokit.core.packed_rles.PackedRLEs`) when every one is a compressed RLE string of its image's size,
    else as read. Every compressed string is checked to be an RLE of its image's pixels
    (:func:`annokit.core.rle_check.counts_areas`: on one that is not, pycocotools' decoder leaves pixels unset or
    writes past the mask, and its ``iou`` can loop without end)."""
    from annokit.core.masks import segmentation_kind, segmentation_to_rle

    hs, ws = hw[0].tolist(), hw[1].tolist()
    have = [i for i, d in enumerate(items) if "bbox" in d] if boxes else []
    kept: Sequence[Any] = segs
    if _plain_rles(segs, hs, ws):
        area = _checked_strings(segs, hw, base, path)
        xywh = np.full((len(segs), 4), np.nan)
        lazy: np.ndarray | None = np.ones(len(segs), bool)
        with contextlib.suppress(TypeError):  # a bytes counts: the list is kept as it is
            kept = PackedRLEs.of([d["counts"] for d in segs], hw[0], hw[1])
    else:
        rles = []
        _check_strings_at_once(segs, hs, ws, base, path)
        for i, s in enumerate(segs):
            if s is None:
                raise FormatError(path, f"[{base + i}]", "detection has neither 'bbox' nor 'segmentation'")
            _check_segmentation(path, f"[{base + i}]", s, (hs[i], ws[i]), strings_checked=True)
            if segmentation_kind(s) == "polygon":
                raise FormatError(path, f"[{base + i}].segmentation", "results take RLE masks, not polygons")
            rles.append(segmentation_to_rle(s, hs[i], ws[i]))
        area, xywh, lazy = _rle_area_box(rles, None)
    if have:
        xywh[have] = _box_column([items[i] for i in have], base, path, rows=have)
        assert lazy is not None
        lazy[have] = False
    return area, xywh, lazy, kept


_BAD_RLE = "compressed counts are not a valid RLE string of height*width pixels"


def _check_strings_at_once(segs: list[Any], hs: list[int], ws: list[int], base: int, path: Path) -> None:
    """The compressed RLE strings among ``segs`` (dicts whose ``size`` is their image's) checked in one pass
    (:func:`annokit.core.masks.first_bad_rle_string`), before the per-record checks, which then skip them: the
    first bad one raises FormatError. Anything else malformed (a size that differs, first) is left to the
    per-record checks, which name it."""
    from annokit.core.masks import first_bad_rle_string

    rows = [i for i, g in enumerate(segs) if g.__class__ is dict and g.get("counts").__class__ in _STRINGS
            and _sized(g.get("size")) and g["size"][0] == hs[i] and g["size"][1] == ws[i]]
    bad = first_bad_rle_string([segs[i] for i in rows]) if rows else None
    if bad is not None:
        raise FormatError(path, f"[{base + rows[bad]}].segmentation.counts", _BAD_RLE)


def _sized(size: Any) -> bool:
    return size.__class__ is list and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)


def _checked_strings(segs: list[Any], hw: tuple[np.ndarray, np.ndarray], base: int, path: Path) -> np.ndarray:
    """The mask areas of compressed RLE dicts of their images' sizes, each string checked
    (:func:`annokit.core.rle_check.counts_areas`); the first that is not an RLE of ``h * w`` pixels: FormatError."""
    from annokit.core.rle_check import counts_areas

    ok, area = counts_areas([d["counts"] for d in segs], hw[0] * hw[1])
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise FormatError(path, f"[{base + i}].segmentation.counts", _BAD_RLE)
    return area.astype(np.float64)


def _plain_rles(segs: list[Any], hs: list[int], ws: list[int]) -> bool:
    """Whether every segmentation is a compressed RLE dict (``counts`` a string) of its image's size, ``[h, w]``
    two ints (what a JSON parser gives for a regular file): :func:`_check_segmentation` would pass them all and
    :func:`~annokit.core.masks.segmentation_to_rle` return them as they are."""
    if not segs:
        return False
    try:
        for s, h, w in zip(segs, hs, ws):
            size = s["size"]
            if (s.__class__ is not dict or size.__class__ is not list or len(size) != 2 or size[0] != h
                    or size[1] != w or size[0].__class__ is not int or size[1].__class__ is not int
                    or s["counts"].__class__ not in _STRINGS):
                return False
    except (KeyError, TypeError, IndexError):
        return False
    return True


_STRINGS = (str, bytes)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _values(items: list[Any], key: str, base: int, path: Path) -> list[Any]:
    with contextlib.suppress(KeyError):
        return list(map(operator.itemgetter(key), items))
    vals = [d.get(key, _MISSING) for d in items]
    if any(v is _MISSING for v in vals):
        i = next(i for i, v in enumerate(vals) if v is _MISSING)
        raise FormatError(path, f"[{base + i}]", f"missing key {key!r}")
    return vals


# Fast paths: a column whose values are all plain Python numbers (what a JSON parser gives) is converted by numpy in
# one pass; anything else -- numpy scalars, bools, strings, non-finite values -- goes through the checks one value at
# a time, which name the first bad record.
_INT_TYPES = {int}
_NUM_TYPES = {int, float}


def _int_column(items: list[Any], key: str, base: int, path: Path) -> np.ndarray:
    vals = _values(items, key, base, path)
    if set(map(type, vals)) <= _INT_TYPES:
        with contextlib.suppress(OverflowError):
            return np.array(vals, dtype=np.int64)
    for i, v in enumerate(vals):
        if not _is_int(v) or not -(2**63) <= int(v) < 2**63:
            raise FormatError(path, f"[{base + i}].{key}", f"expected an integer, got {v!r}")
    return np.array(vals, dtype=np.int64)


def _float_column(items: list[Any], key: str, base: int, path: Path) -> np.ndarray:
    vals = _values(items, key, base, path)
    if set(map(type, vals)) <= _NUM_TYPES:
        with contextlib.suppress(OverflowError):
            arr = np.array(vals, dtype=np.float64)
            if np.isfinite(arr).all():
                return arr
    for i, v in enumerate(vals):
        if not _is_num(v):
            raise FormatError(path, f"[{base + i}].{key}", f"expected a number, got {v!r}")
        if not math.isfinite(v):
            raise FormatError(path, f"[{base + i}].{key}", f"not finite: {v!r}")
    return np.array(vals, dtype=np.float64)


def _image_column(items: list[Any], base: int, target: ResultsTarget, path: Path) -> np.ndarray:
    if target.str_ids is None:
        return _int_column(items, "image_id", base, path)
    vals = _values(items, "image_id", base, path)
    for i, v in enumerate(vals):
        if not isinstance(v, str) or v not in target.str_ids:
            raise FormatError(path, f"[{base + i}].image_id", f"unknown image id {v!r}")
    return np.array([target.str_ids[v] for v in vals], dtype=np.int64)


def _box_column(items: list[Any], base: int, path: Path, *, rows: list[int] | None = None) -> np.ndarray:
    """``(N, 4)`` xywh: 4 finite numbers each, width and height not negative."""
    vals = _values(items, "bbox", base, path)
    if set(map(type, vals)) <= {list} and set(map(len, vals)) <= {4} and \
            set(map(type, itertools.chain.from_iterable(vals))) <= _NUM_TYPES:
        with contextlib.suppress(OverflowError):
            arr = np.array(vals, dtype=np.float64).reshape(-1, 4)
            if np.isfinite(arr).all() and (arr[:, 2:] >= 0).all():
                return arr
    at = rows if rows is not None else list(range(len(items)))
    for i, bb in zip(at, vals):
        if not (isinstance(bb, (list, tuple)) and len(bb) == 4 and all(_is_num(v) for v in bb)):
            raise FormatError(path, f"[{base + i}].bbox", f"expected 4 numbers [x, y, w, h], got {bb!r}")
        if not all(math.isfinite(v) for v in bb):
            raise FormatError(path, f"[{base + i}].bbox", f"not finite: {bb!r}")
        if bb[2] < 0 or bb[3] < 0:
            which, val = ("width", bb[2]) if bb[2] < 0 else ("height", bb[3])
            raise FormatError(path, f"[{base + i}].bbox", f"{which} is negative ({float(val)})")
    return np.array(vals, dtype=np.float64).reshape(-1, 4)


def _check_segmentation(path: Path, where: str, seg: Any, hw: tuple[int, int], *,
                        strings_checked: bool = False) -> None:
    """A segmentation of a detection: polygons (each at least 3 points of finite numbers) or an RLE dict of the
    image's size."""
    if isinstance(seg, list):
        for j, poly in enumerate(seg):
            here = f"{where}.segmentation[{j}]"
            if not isinstance(poly, list):
                raise FormatError(path, here, "polygon is not a list of numbers")
            if len(poly) % 2:
                raise FormatError(path, here, f"odd number of coordinates ({len(poly)})")
            if len(poly) < 6:
                raise FormatError(path, here, f"polygon has fewer than 3 points ({len(poly) // 2})")
            bad = next((v for v in poly if not (_is_num(v) and math.isfinite(v))), None)
            if bad is not None or any(not _is_num(v) for v in poly):
                raise FormatError(path, here, f"coordinate is not a finite number: {bad!r}")
        return
    if not isinstance(seg, dict):
        raise FormatError(path, f"{where}.segmentation", f"expected polygons or an RLE dict, got {type(seg).__name__}")
    check_rle(path, where, seg, hw, string_checked=strings_checked)


def check_rle(path: Path, where: str, seg: dict[str, Any], hw: tuple[int, int] | None, *,
              string_checked: bool = False) -> None:
    """An RLE segmentation dict: ``size`` ``[height, width]`` (the image's, when ``hw`` is given), ``counts`` a
    string or run lengths adding up to ``height * width``; else a :class:`FormatError` at ``where``.
    ``string_checked``: a string ``counts`` was checked already (:func:`_check_strings_at_once`)."""
    size, counts = seg.get("size"), seg.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(s) and s >= 0 for s in size)):
        raise FormatError(path, f"{where}.segmentation.size", f"expected [height, width], got {size!r}")
    if hw is not None and tuple(size) != hw:
        raise FormatError(path, f"{where}.segmentation.size",
                          f"RLE size {size} differs from the image size [{hw[0]}, {hw[1]}]")
    if isinstance(counts, list):
        if not all(_is_int(c) and c >= 0 for c in counts):
            raise FormatError(path, f"{where}.segmentation.counts", "uncompressed counts must be non-negative integers")
        if sum(counts) != size[0] * size[1]:
            raise FormatError(path, f"{where}.segmentation.counts",
                              f"uncompressed counts sum to {sum(counts)}, not height*width = {size[0] * size[1]}")
    elif isinstance(counts, (str, bytes)):
        if string_checked:
            return
        from annokit.core.rle_check import counts_areas

        if not counts_areas([counts], [size[0] * size[1]])[0][0]:
            raise FormatError(path, f"{where}.segmentation.counts", _BAD_RLE)
    else:
        raise FormatError(path, f"{where}.segmentation.counts", "expected a string or a list of run lengths")
