"""A COCO instances file read in parts: its images and categories in one piece, its ``annotations`` list in byte
ranges of whole records, each read apart -- so that no process parses the whole file (the Python objects of a
parsed 170 MB file take about 1.7 GB, the peak of one whole read at 100,000 images in docs/scale-out.md; its
columns about a tenth of that).

:func:`scan_instances` finds the layout without parsing: one pass over the bytes in blocks (numpy), tracking
strings (and their escapes) and nesting depth, keeps the top-level members and the separators of the
``annotations`` list, and cuts that list at separators into pieces of about ``piece_bytes``. :func:`read_head`
reads the file with an empty ``annotations`` list (every rule on images and categories is checked there);
:func:`read_piece` reads one piece's records with the reader's own column and cross-record rules against the head
(unknown images and categories, RLE sizes, ids repeated inside the piece); :func:`check_annotation_ids` checks the
ids across pieces. The objects of the pieces, joined in order (:func:`concat_annotations`), are those of
:func:`annokit.io.coco.read_instances`, record for record. A file this scan cannot lay out (no ``annotations``
list, a top-level key met twice, not a JSON object) gives ``None``: read it whole.

Errors name the file and the place; a piece's record is named by its index in the whole list. The first error of a
file with several may differ from the one the whole-file reader reports first (pieces are checked apart); reading
the file whole gives that one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from annokit._internal.jsonfile import parse_json
from annokit.core.arrays import IntArray
from annokit.errors import FormatError
from annokit.io.coco import (
    _ann_cols,
    _annotation_instances,
    _build,
    _check_references,
    _checked,
    _Column,
    _other_kind,
    _Refs,
    _repeats,
)
from annokit.io.validation import Problems

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["InstancesLayout", "check_annotation_ids", "concat_annotations", "read_head", "read_piece",
           "scan_instances"]

PathLike = str | os.PathLike[str]
BLOCK = 8 << 20
"""Bytes scanned at a time."""

_STRUCT = np.zeros(256, dtype=bool)
_STRUCT[list(b"{}[],:")] = True
_DELTA = np.zeros(256, dtype=np.int64)
_DELTA[list(b"{[")] = 1
_DELTA[list(b"}]")] = -1
_WHERE = re.compile(r"annotations\[(\d+)\]")


@dataclass(frozen=True)
class InstancesLayout:
    """Where the parts of a COCO instances file are: ``head_end`` the byte after the ``annotations`` list's ``[``,
    ``tail_start`` the place of its ``]``; ``pieces`` the byte ranges of runs of whole records (the separators
    between pieces excluded) and ``first`` the index of each piece's first record in the list."""

    path: str
    size: int
    head_end: int
    tail_start: int
    pieces: list[tuple[int, int]]
    first: list[int]


@dataclass
class _Scan:
    """The state carried from block to block, and what is kept: the members of the top-level object (structural
    characters at depth 0 and 1, and the closing of depth-2 values) and the separators of top-level lists."""

    depth: int = 0
    in_string: bool = False
    backslashes: int = 0  # the run of backslashes that ends the previous block
    top: list[tuple[int, int, int]] | None = None  # (position, character, depth before it)
    commas: list[IntArray] | None = None


def _real_quotes(a: np.ndarray, s: _Scan) -> IntArray:
    """The positions of ``a``'s quotes that open or close a string (those after an odd run of backslashes are
    escaped)."""
    q = np.flatnonzero(a == 34)
    keep = np.ones(len(q), dtype=bool)
    for i in np.flatnonzero((q == 0) | (a[q - 1] == 92)).tolist():  # rare: a quote after a backslash
        j = int(q[i]) - 1
        while j >= 0 and a[j] == 92:
            j -= 1
        run = int(q[i]) - 1 - j + (s.backslashes if j < 0 else 0)
        keep[i] = run % 2 == 0
    return q[keep]


def _scan_block(a: np.ndarray, offset: int, s: _Scan) -> None:
    """One block: structural characters outside strings, their depth, and what :class:`_Scan` keeps of them."""
    assert s.top is not None and s.commas is not None
    toggle = np.zeros(len(a), dtype=np.uint8)
    quotes = _real_quotes(a, s)
    toggle[quotes] = 1
    inside = np.bitwise_xor.accumulate(toggle)
    if s.in_string:
        inside ^= 1
    pos = np.flatnonzero(_STRUCT[a] & (inside == 0))
    del toggle, inside
    delta = _DELTA[a[pos]]
    before = s.depth + np.cumsum(delta) - delta
    if len(pos):
        s.depth = int(before[-1] + delta[-1])
    s.in_string ^= bool(len(quotes) % 2)
    j = len(a) - 1
    while j >= 0 and a[j] == 92:
        j -= 1
    s.backslashes = len(a) - 1 - j + (s.backslashes if j < 0 else 0)
    chars = a[pos]
    top = (before <= 1) | ((before == 2) & (delta < 0))
    s.top.extend(zip((pos[top] + offset).tolist(), chars[top].tolist(), before[top].tolist()))
    s.commas.append(pos[(before == 2) & (chars == 44)] + offset)


def _members(top: list[tuple[int, int, int]]) -> list[tuple[int, int, int]] | None:
    """The top-level object's members as ``(key start, colon, end)`` byte positions; None when the file is not one
    object with nothing after it."""
    if not top or top[0][1:] != (ord("{"), 0) or top[-1][1:] != (ord("}"), 1):
        return None
    out, start, colon = [], top[0][0] + 1, -1
    for p, c, d in top[1:]:
        if d == 1 and c == ord(":") and colon < 0:
            colon = p
        elif d == 1 and c in (ord(","), ord("}")):
            if colon >= 0:
                out.append((start, colon, p))
            start, colon = p + 1, -1
    return out


def _read(path: Path, start: int, stop: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(stop - start)


def scan_instances(path: PathLike, *, piece_bytes: int = 16 << 20) -> InstancesLayout | None:
    """The layout of a COCO instances file, its ``annotations`` cut into pieces of about ``piece_bytes`` (module
    docstring); None when it cannot be laid out this way (read it whole).

    >>> lay = scan_instances("sample_data/scenes/gt.json", piece_bytes=4096)
    >>> len(lay.pieces) > 1, lay.first[0]
    (True, 0)
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        s = _Scan(top=[], commas=[])
        with open(p, "rb") as f:
            for offset in range(0, size, BLOCK):
                _scan_block(np.frombuffer(f.read(BLOCK), dtype=np.uint8), offset, s)
    except OSError as exc:
        raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None
    assert s.top is not None and s.commas is not None
    members = _members(s.top) if s.depth == 0 and not s.in_string else None
    if members is None:
        return None
    found = []
    for start, colon, end in members:
        try:
            key = orjson.loads(_read(p, start, colon))
        except orjson.JSONDecodeError:
            return None
        found.append((key, colon, end))
    keys = [k for k, _, _ in found]
    if len(set(map(repr, keys))) != len(keys) or "annotations" not in keys:
        return None
    _, colon, end = found[keys.index("annotations")]
    return _layout(p, size, s, colon, end, piece_bytes)


def _layout(p: Path, size: int, s: _Scan, colon: int, end: int, piece_bytes: int) -> InstancesLayout | None:
    """The pieces of the ``annotations`` value between ``colon`` and ``end`` (None when it is not a list)."""
    assert s.top is not None and s.commas is not None
    opens = [q for q, c, d in s.top if colon < q < end and d == 1]
    closes = [q for q, c, d in s.top if colon < q < end and d == 2]
    if len(opens) != 1 or len(closes) != 1 or _read(p, opens[0], opens[0] + 1) != b"[" or \
            _read(p, colon + 1, opens[0]).strip() or _read(p, closes[0] + 1, end).strip():
        return None
    lo, hi = opens[0], closes[0]
    commas = np.concatenate(s.commas)
    commas = commas[(commas > lo) & (commas < hi)]
    cuts = np.unique(np.searchsorted(commas, lo + piece_bytes * np.arange(1, (hi - lo) // max(1, piece_bytes) + 1)))
    cuts = cuts[cuts < len(commas)]
    starts = [lo + 1, *(commas[cuts] + 1).tolist()]
    stops = [*commas[cuts].tolist(), hi]
    if not len(commas) and not _read(p, lo + 1, hi).strip():
        starts, stops = [], []  # an empty list
    return InstancesLayout(path=str(p), size=size, head_end=lo + 1, tail_start=hi,
                           pieces=list(zip(starts, stops)), first=[0, *(cuts + 1).tolist()][:len(starts)])


def read_head(layout: InstancesLayout) -> Dataset:
    """The file with an empty ``annotations`` list: its images, categories and top-level fields, every rule on
    them checked as :func:`~annokit.io.coco.read_instances` checks them."""
    p = Path(layout.path)
    raw = _read(p, 0, layout.head_end) + _read(p, layout.tail_start, layout.size)
    return _build(_checked(parse_json(p, raw), p, exact_types=b"true" in raw or b"false" in raw))


def read_piece(layout: InstancesLayout, k: int, head: Dataset) -> Instances:
    """The objects of piece ``k``'s records (:func:`read_head`'s dataset gives the images and categories they
    refer to), checked by the reader's rules; an error names the record by its index in the whole list."""
    p = Path(layout.path)
    start, stop = layout.pieces[k]
    raw = _read(p, start, stop)
    try:
        return _piece(p, raw, k == 0, head)
    except FormatError as exc:
        where = exc.where and _WHERE.sub(lambda m: f"annotations[{int(m.group(1)) + layout.first[k]}]", exc.where)
        raise FormatError(p, where, exc.message) from None


def _piece(p: Path, raw: bytes, first: bool, head: Dataset) -> Instances:
    anns = parse_json(p, b"[" + raw + b"]")
    if not all(type(a) is dict for a in anns):
        bad = next(i for i, a in enumerate(anns) if type(a) is not dict)
        raise FormatError(p, f"annotations[{bad}]", f"expected an object, got {type(anns[bad]).__name__}")
    kind = _other_kind(anns) if first else None
    if kind is not None:
        raise FormatError(p, "annotations[0]", kind)
    im = head.images
    id_map = None
    if im.extras is not None and any("id" in e for e in im.extras):
        id_map = {e["id"]: int(im.ids[i]) for i, e in enumerate(im.extras) if "id" in e}
    exact = b"true" in raw or b"false" in raw
    ac = _ann_cols(p, anns, id_map, exact)
    rles = [(i, s) for i, s in enumerate(ac.segmentations) if isinstance(s, dict)] if ac.segmentations else []
    refs = _Refs([], anns, _Column.whole(np.asarray(im.ids)), np.stack([im.heights, im.widths], axis=1),
                 _Column.whole(np.asarray(head.categories.ids)), _Column.whole(ac.ids), _Column.whole(ac.image_ids),
                 _Column.whole(ac.labels), rles)
    _check_references(p, refs, Problems(collect=False), strings=id_map is not None)
    return _annotation_instances(p, anns, ac, head.categories, exact_types=exact)


def check_annotation_ids(path: PathLike, ids: Sequence[IntArray], first: Sequence[int]) -> None:
    """Refuse an annotation id met twice across pieces (``ids``: each piece's, ``first``: its first record's index
    in the whole list), naming the later record as the whole-file reader does."""
    if not ids:
        return
    rep = _repeats(np.concatenate(ids))
    if len(rep):
        row = int(rep[0])
        lengths = np.cumsum([0, *map(len, ids)])
        k = int(np.searchsorted(lengths, row, side="right")) - 1
        raise FormatError(Path(path), f"annotations[{first[k] + row - int(lengths[k])}].id",
                          f"duplicate annotation id {int(np.concatenate(ids)[row])}")


def concat_annotations(head: Dataset, parts: Sequence[Instances]) -> Instances:
    """The objects of pieces of one ``annotations`` list, in order, as the whole list gives them: a column some
    pieces lack is filled as the reader fills it for records without the field (``ignore`` false, no
    ``segmentation``, no extra field); keypoints are kept only when every piece has them. No pieces: the head's
    (empty) objects."""
    from annokit.core.instances import Instances

    if not parts:
        return head.annotations
    fills: dict[str, Any] = {"ignore": lambda n: np.zeros(n, dtype=bool), "segmentations": lambda n: [None] * n,
                             "extras": lambda n: [{} for _ in range(n)]}
    filled = []
    for part in parts:
        changes = {k: fill(len(part)) for k, fill in fills.items()
                   if getattr(part, k) is None and any(getattr(o, k) is not None for o in parts)}
        filled.append(part.replace(**changes) if changes else part)
    return Instances.concat(filled)
