"""The ``annotations`` of a large COCO instances file read straight from its bytes into columns (private to
:func:`annokit.io.coco.read_instance_columns`).

The reader parses the whole file with orjson (a dict per annotation) and makes columns from the dicts: about 3 us
per box annotation, most of the ground truth's read at Objects365 scale. Here the ``annotations`` array is read by
the block reader of results files (:mod:`annokit._internal.jsoncols`: no Python object per record) and the rest of
the file by orjson, with the array replaced by a marker string.

Taken only when it gives exactly what the reader gives: the array's text is ``[`` after the first
``"annotations":`` and up to the first ``}`` ``]`` after it; the file with that text replaced by a string made for
this read parses, with that string as the top-level ``annotations`` (so the text stood where a value stood, outside
any string, and is the whole value: a JSON prefix parses the same whatever follows it) and the text parses as an
array on its own; every record has only box keys (``id``, ``image_id``, ``category_id``, ``bbox``, ``area``,
``iscrowd``, the first four always) with the values the reader accepts (integers, four finite numbers with
``w, h >= 0``, a finite ``area >= 0``, ``iscrowd`` 0 or 1); the images have integer ids; no annotation breaks a
rule across records. Anything else -- masks, keypoints, other fields, string ids, an error anywhere -- gives None
and the caller reads the file the usual way, which reports what is wrong as always.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from annokit._internal.arrays import index_of
from annokit._internal.jsoncols import Irregular, NotAList, ScalarField, read_blocks
from annokit.core.arrays import IntArray
from annokit.errors import FormatError
from annokit.io.coco import (
    ImageColumns,
    _AnnCols,
    _category_cols,
    _check_references,
    _Column,
    _image_cols,
    _Refs,
    _repeats,
    _top_lists,
    _xywh_ok,
)
from annokit.io.validation import Problems

__all__ = ["FAST_FROM", "fast_checked_parts"]

#: Files from this size on try the column reader (below, the dicts cost little).
FAST_FROM = 1 << 20
_START = re.compile(rb'"annotations"[ \t\n\r]*:[ \t\n\r]*\[')
_END = re.compile(rb"\}[ \t\n\r]*\]")
_WANT: dict[tuple[str, ...], str] = {("id",): "number", ("image_id",): "number", ("category_id",): "number",
                                     ("bbox",): "numbers", ("area",): "number", ("iscrowd",): "number"}
_KEYS = frozenset(_WANT)
_NEEDED = frozenset({("id",), ("image_id",), ("category_id",), ("bbox",)})


def fast_checked_parts(p: Path, raw: bytes) -> tuple[ImageColumns, tuple[IntArray, list[str]], _AnnCols] | None:
    """``(image columns, (category ids, names), annotation columns)`` of the file's bytes ``raw``, every rule
    checked, or None (see the module docstring)."""
    if len(raw) < FAST_FROM:
        return None
    m = _START.search(raw)
    if m is None:
        return None
    start = m.end() - 1
    e = _END.search(raw, start)
    if e is None:
        return None
    marker = f"annokit-annotations-{os.urandom(8).hex()}"
    try:
        data = orjson.loads(raw[:start] + b'"' + marker.encode() + b'"' + raw[e.end():])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("annotations") != marker:
        return None
    cols = _columns(raw[start: e.end()])
    if cols is None:
        return None
    data["annotations"] = []
    problems = Problems(collect=False)
    try:
        images, cats, _ = _top_lists(p, data, problems)
        ic = _image_cols(p, images)
        cat_ids, names = _category_cols(p, cats)
    except FormatError:
        return None
    if ic.id_map is not None:
        return None
    ids, img, labels, xywh, crowd, area, has_area = cols
    if (index_of(ic.ids, img) < 0).any() or (index_of(cat_ids, labels) < 0).any() or len(_repeats(ids)):
        return None  # the reader names the annotation
    rows = _Column.whole(ids)
    refs = _Refs(images, [], _Column.whole(ic.ids), np.stack([ic.heights, ic.widths], axis=1),
                 _Column.whole(cat_ids), rows, _Column(rows.rows, img), _Column(rows.rows, labels), [])
    try:
        _check_references(p, refs, problems, strings=False)  # the images' and categories' own rules
    except FormatError:
        return None
    ac = _AnnCols(ids, img, labels, xywh, crowd, area, has_area, None, None)
    return ic, (cat_ids, names), ac


_GT_BLOCK = 1 << 20
"""Bytes of the ``annotations`` array parsed at a time. 1 MB rather than the reader's default 4 MB: the parse's
transient arrays (a copy of the block, number spans and values) are a quarter as large, so the process touches
~21 MB fewer fresh pages (5,700 page faults fewer on the 5,000-image benchmark's ground truth: 0.11-0.16 s
against 0.16-0.20 s on one thread, as ``annokit eval`` reads it beside its forked results reader)."""


def _columns(text: bytes) -> tuple[np.ndarray, ...] | None:
    """``(ids, image ids, category ids, xywh, iscrowd, area, has_area)`` of the records of the array ``text``, or
    None."""
    parts: list[tuple[np.ndarray, ...]] = []
    try:
        for blk in read_blocks(text, block_bytes=_GT_BLOCK):
            paths = blk.paths()
            if not _NEEDED <= paths <= _KEYS:
                return None
            part = _part(blk.fields(dict(_WANT)))
            if part is None:
                return None
            parts.append(part)
    except (Irregular, NotAList, FormatError):
        return None
    if not parts:
        return None
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(7))


def _ints(f: Any) -> np.ndarray | None:
    if not isinstance(f, ScalarField) or f.values.shape[1] != 1 or not f.is_int.all():
        return None
    out: np.ndarray = f.ints[:, 0]
    return out


def _part(f: dict[tuple[str, ...], Any]) -> tuple[np.ndarray, ...] | None:
    """One block's columns, checked as the reader checks the dicts' (None for anything it would refuse)."""
    ids, img, labels = _ints(f[("id",)]), _ints(f[("image_id",)]), _ints(f[("category_id",)])
    box = f[("bbox",)]
    if ids is None or img is None or labels is None or not isinstance(box, ScalarField) or box.values.shape[1] != 4:
        return None
    xywh = np.ascontiguousarray(box.values)
    if not _xywh_ok(xywh):
        return None
    n = len(ids)
    crowd = np.zeros(n, np.int64)
    if f[("iscrowd",)] is not None:
        c = _ints(f[("iscrowd",)])
        if c is None or ((c != 0) & (c != 1)).any():
            return None
        crowd = c
    has_area = np.zeros(n, bool)
    area = xywh[:, 2] * xywh[:, 3]
    if f[("area",)] is not None:
        a = f[("area",)]
        if not isinstance(a, ScalarField) or a.values.shape[1] != 1:
            return None
        area = a.values[:, 0]
        if not (np.isfinite(area).all() and (area >= 0).all()):
            return None
        has_area[:] = True
    return ids, img, labels, xywh, crowd, np.ascontiguousarray(area), has_area
