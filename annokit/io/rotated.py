"""Oriented boxes in COCO-style JSON: the per-object field ``"rbox": [cx, cy, w, h, angle]`` (angle in radians,
as defined in :mod:`annokit.core.rotated`).

Four-corner objects (DOTA, YOLO-OBB) go to COCO as the field ``"corners": [x1, y1, x2, y2, x3, y3, x4, y4]`` (the
corners in their source order, pixels): :func:`corners_to_fields` writes it, :func:`corners_from_records` reads it.

The COCO reader keeps unknown annotation fields in :attr:`Instances.extras`; :func:`rboxes_from_records` turns the
``rbox`` fields of those (or of any list of JSON objects, e.g. a results file's entries) into an ``(N, 5)`` column,
and every bad value is one error naming the file and the object.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.gc import no_gc
from annokit.core.arrays import FloatArray
from annokit.errors import FormatError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["corners_from_records", "corners_to_fields", "rboxes_from_records", "read_rotated_results", "with_rboxes"]

_FIELDS = ("cx", "cy", "w", "h", "angle")


def rboxes_from_records(records: Sequence[dict[str, Any] | None], *, path: str | os.PathLike[str] | None = None,
                        section: str = "annotations", key: str = "rbox") -> FloatArray:
    """``(N, 5)`` rboxes from the ``key`` field of each record.

    Errors name ``<section>[i].rbox``: a missing field, not five numbers, a non-finite value (a NaN angle, written
    as ``null`` or a string in JSON) or a negative size.

    >>> rboxes_from_records([{"rbox": [5, 5, 4, 2, 0.5]}]).tolist()
    [[5.0, 5.0, 4.0, 2.0, 0.5]]
    """
    out = np.empty((len(records), 5))
    for i, rec in enumerate(records):
        where = f"{section}[{i}].{key}"
        v = (rec or {}).get(key)
        if v is None:
            raise FormatError(path, where, "missing (every object needs [cx, cy, w, h, angle])")
        if not isinstance(v, list) or len(v) != 5:
            raise FormatError(path, where, f"expected [cx, cy, w, h, angle], got {v!r}")
        for j, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                raise FormatError(path, where, f"{_FIELDS[j]} is not a finite number ({x!r})")
        if v[2] < 0 or v[3] < 0:
            raise FormatError(path, where, f"negative width or height ({v!r})")
        out[i] = v
    return out


def with_rboxes(ds: Dataset, *, path: str | os.PathLike[str] | None = None) -> Dataset:
    """``ds`` with the ``rboxes`` column made from its annotations' ``rbox`` fields (kept in their extras, which
    the COCO writer writes back); errors name ``annotations[i].rbox`` in ``path``.

    >>> from annokit.core.dataset import Dataset                          # doctest: +SKIP
    >>> with_rboxes(read_instances("rotated_gt.json")).annotations.rboxes  # doctest: +SKIP
    """
    a = ds.annotations
    if a.rboxes is not None:
        return ds
    recs = a.extras if a.extras is not None else [{} for _ in range(len(a))]
    return ds.with_annotations(a.replace(rboxes=rboxes_from_records(recs, path=path)))


@no_gc()  # a Python object per record: the cyclic GC would rescan them and find no cycles
def read_rotated_results(path: str | os.PathLike[str] | list[Any], gt: Dataset) -> Instances:
    """Rotated detections of a COCO-style results file (or list): each needs ``"rbox": [cx, cy, w, h, angle]``,
    ``image_id``, ``category_id`` and ``score``; a ``bbox`` is optional (when the first detection has none, each
    gets its rbox's axis-aligned hull). Read by ``COCO.loadRes``' rules otherwise; the ``rboxes`` column holds the
    rboxes.

    >>> dt = read_rotated_results("rotated_pred.json", gt)  # doctest: +SKIP
    """
    from annokit.io._result_records import columns_instances, load_records, regular_columns, with_boxes

    cols = regular_columns(path, gt, "rbox")
    if cols is not None and not isinstance(path, list) and cols.values.shape[1] == 5 \
            and (cols.values[:, 2:4] >= 0).all():
        rb = np.ascontiguousarray(cols.values)
        dets = columns_instances(cols, Path(path), gt, partial(_hull, rb))
        if dets is not None:
            return dets.replace(rboxes=rb)
    p, items, _ = load_records(path)
    rb = rboxes_from_records(items, path=p, section="")
    return with_boxes(items, p, gt, partial(_hull, rb)).replace(rboxes=rb)


def _hull(rb: FloatArray, rows: np.ndarray) -> np.ndarray:
    """``[x, y, w, h]`` of the axis-aligned hull of the rboxes of ``rows``."""
    from annokit.core.rotated import corners_to_ltrb, rbox_to_corners

    b = corners_to_ltrb(rbox_to_corners(rb[rows]))
    return np.column_stack([b[:, :2], b[:, 2:] - b[:, :2]])


def corners_to_fields(corners: FloatArray) -> list[list[float]]:
    """``(N, 4, 2)`` corners as the COCO field values ``[x1, y1, ..., x4, y4]`` (integral values as ints).

    >>> corners_to_fields(np.array([[[0, 0], [2.5, 0], [2.5, 1], [0, 1]]], float))
    [[0, 0, 2.5, 0, 2.5, 1, 0, 1]]
    """
    flat = np.asarray(corners, dtype=np.float64).reshape(-1, 8)
    return [[int(v) if v.is_integer() and abs(v) < 2**53 else v for v in row] for row in flat.tolist()]


def corners_from_records(records: Sequence[dict[str, Any] | None], *, path: str | os.PathLike[str] | None = None,
                         section: str = "annotations", key: str = "corners") -> FloatArray:
    """``(N, 4, 2)`` corners from the ``key`` field of each record (``[x1, y1, ..., x4, y4]``); errors name
    ``<section>[i].corners``.

    >>> corners_from_records([{"corners": [0, 0, 2, 0, 2, 1, 0, 1]}]).tolist()
    [[[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]]]
    """
    out = np.empty((len(records), 8))
    for i, rec in enumerate(records):
        where = f"{section}[{i}].{key}"
        v = (rec or {}).get(key)
        if not isinstance(v, list) or len(v) != 8:
            raise FormatError(path, where, f"expected eight numbers [x1, y1, ..., x4, y4], got {v!r}")
        for j, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                raise FormatError(path, where, f"coordinate {j + 1} is not a finite number ({x!r})")
        out[i] = v
    return out.reshape(-1, 4, 2)
