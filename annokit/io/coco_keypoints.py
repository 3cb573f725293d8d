"""COCO keypoints: the flat ``keypoints`` lists of a COCO file as the ``(N, K, 3)`` column of
:class:`~annokit.core.instances.Instances`, and back.

COCO stores an object's keypoints as ``[x1, y1, v1, x2, y2, v2, ...]``: ``K`` triples, ``K`` the length of its
category's ``keypoints`` name list (``categories[].keypoints``). Reading checks that every list has ``3 K`` finite
numbers (``v`` in ``{0, 1, 2}`` for ground truth) and that one ``K`` holds for the whole file -- the column has one
``K`` -- and names the file and the annotation of the first list that breaks a rule. An annotation without a
``keypoints`` field (in a file where others have one) gets ``K`` unlabelled keypoints (``v = 0``) and the mark
``_annokit_no_keypoints`` in its extras, so that writing leaves the field out again. Ground truth's ``num_keypoints``
stays in the annotation extras (COCO's evaluation reads it there).

Results files (a list of detections) with ``keypoints`` are read by :func:`read_keypoint_results`, by
``COCO.loadRes``' rules.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import partial
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.gc import no_gc
from annokit.core.arrays import FloatArray
from annokit.errors import FormatError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.core.labels import LabelSet

__all__ = ["NO_KEYPOINTS", "keypoints_from_records", "keypoints_to_lists", "read_keypoint_results"]

NO_KEYPOINTS = "_annokit_no_keypoints"
"""The extras mark of an annotation that had no ``keypoints`` field (written back without one)."""

_NUMBER_TYPES = {int, float}


def _declared_k(labels: LabelSet | None) -> dict[int, tuple[int, str]]:
    """``{category id: (K, name)}`` of the categories that list their keypoint names (a non-empty list)."""
    out: dict[int, tuple[int, str]] = {}
    if labels is None or labels.extras is None:
        return out
    for cid, name, ex in zip(labels.ids.tolist(), labels.names, labels.extras):
        names = (ex or {}).get("keypoints")
        if isinstance(names, list) and names:  # an empty list names nothing (datumaro writes one): K from the data
            out[int(cid)] = (len(names), name)
    return out


def keypoints_from_records(records: Sequence[dict[str, Any]], labels: Sequence[int] | np.ndarray, *,
                           categories: LabelSet | None = None, path: str | os.PathLike[str] | None = None,
                           section: str = "annotations", ground_truth: bool = True, plain_json: bool = False
                           ) -> tuple[FloatArray | None, np.ndarray]:
    """The ``(N, K, 3)`` keypoints of ``records`` (their ``keypoints`` fields) and which records have the field.

    Parameters
    ----------
    records : sequence of dict
        Annotations (or detections) as in the file.
    labels : (N,) int
        Their category ids.
    categories : LabelSet, optional
        The file's categories: a ``keypoints`` name list in a category's extras fixes its ``K``.
    path, section : str
        For messages: ``<path>: <section>[i].keypoints: ...``.
    ground_truth : bool
        Check COCO's visibility flags (``v`` in ``{0, 1, 2}``); predictions may write any finite number there.
    plain_json : bool
        The records are what ``orjson`` parsed from a text without a ``true`` or ``false``: no value can be a bool
        or a numpy scalar, which makes the type check cheaper (the result is the same).

    Returns
    -------
    keypoints : (N, K, 3) float64 or None
        None when no record has a ``keypoints`` field; rows without one are ``(0, 0, 0)``.
    has : (N,) bool
        The records with a ``keypoints`` field.

    Examples
    --------
    >>> kp, has = keypoints_from_records([{"keypoints": [5, 6, 2, 0, 0, 0]}, {}], [1, 1])
    >>> kp.shape, has.tolist()
    ((2, 2, 3), [True, False])
    """
    has = np.array(["keypoints" in r for r in records], dtype=bool).reshape(len(records))
    if not has.any():
        return None, has
    rows = np.flatnonzero(has)
    lists = [r["keypoints"] for r in records] if len(rows) == len(records) else \
        [records[i]["keypoints"] for i in rows.tolist()]
    labs = np.asarray(labels, dtype=np.int64)[rows]
    declared = _declared_k(categories)
    k = _common_k(lists, labs, declared, rows, path, section)
    arr = _fast(lists, k, plain_json)
    if arr is None:
        _explain(lists, rows, k, path, section)
    assert arr is not None
    if ground_truth:
        _check_visibility(arr, rows, path, section)
    if len(rows) == len(records):
        return arr, has
    out = np.zeros((len(records), k, 3))
    out[rows] = arr
    return out, has


def _common_k(lists: list[Any], labs: np.ndarray, declared: dict[int, tuple[int, str]], rows: np.ndarray,
              path: str | os.PathLike[str] | None, section: str) -> int:
    """The one ``K`` of the file: the declared count of the categories used (they must agree), else the first
    list's length / 3."""
    used = [c for c in np.unique(labs).tolist() if c in declared]
    ks = {declared[c][0] for c in used}
    if len(ks) > 1:
        a, b = sorted(used, key=lambda c: declared[c][0])[0], sorted(used, key=lambda c: -declared[c][0])[0]
        raise FormatError(path, "categories", f"category {declared[a][1]!r} lists {declared[a][0]} keypoints and "
                                              f"{declared[b][1]!r} {declared[b][0]}: annokit keeps one K per file")
    if ks:
        return ks.pop()
    first = lists[0]
    if not isinstance(first, list) or len(first) % 3:
        _explain(lists[:1], rows[:1], None, path, section)
    return len(first) // 3


def _fast(lists: list[Any], k: int, plain_json: bool) -> FloatArray | None:
    """``(n, K, 3)`` from the lists in one numpy pass over their values; None when any is not ``3 K`` finite numbers.
    ``plain_json``: the values are what a JSON parser gives for a text without ``true`` or ``false`` -- numbers,
    strings, None, lists, dicts --, so ``sum`` (which refuses all but numbers) is the type check, not a look at the
    type of every value."""
    if not set(map(type, lists)) <= {list, tuple} or set(map(len, lists)) != {3 * k}:
        return None
    try:
        if plain_json:
            sum(map(sum, lists))
        elif not set(map(type, chain.from_iterable(lists))) <= _NUMBER_TYPES:
            return None
        arr = np.fromiter(chain.from_iterable(lists), dtype=np.float64, count=3 * k * len(lists))
    except (ValueError, TypeError, OverflowError):
        return None
    if not np.isfinite(arr).all():
        return None
    return arr.reshape(len(lists), k, 3)


def _explain(lists: list[Any], rows: np.ndarray, k: int | None, path: str | os.PathLike[str] | None,
             section: str) -> None:
    """Raise the error of the first list that is not ``3 K`` finite numbers."""
    for v, i in zip(lists, rows.tolist()):
        where = f"{section}[{i}].keypoints"
        if not isinstance(v, list):
            raise FormatError(path, where, f"expected a list [x1, y1, v1, ...], got {type(v).__name__}")
        if k is None and len(v) % 3:
            raise FormatError(path, where, f"{len(v)} values: not a list of (x, y, v) triples")
        if k is not None and len(v) != 3 * k:
            raise FormatError(path, where, f"{len(v)} values: expected {3 * k} ({k} keypoints of (x, y, v))")
        for j, x in enumerate(v):
            if type(x) not in _NUMBER_TYPES or not math.isfinite(x):
                raise FormatError(path, where, f"value {j} is not a finite number ({x!r})")
    raise FormatError(path, section, "cannot read keypoints")  # pragma: no cover - one of the above fails first


def _check_visibility(arr: FloatArray, rows: np.ndarray, path: str | os.PathLike[str] | None, section: str) -> None:
    v = arr[:, :, 2]
    bad = ~((v == 0) | (v == 1) | (v == 2))
    if bad.any():
        r, j = (int(x[0]) for x in np.nonzero(bad))
        raise FormatError(path, f"{section}[{int(rows[r])}].keypoints",
                          f"visibility of keypoint {j} must be 0, 1 or 2 (got {v[r, j]:g})")


def keypoints_to_lists(inst: Instances) -> list[list[int | float] | None] | None:
    """Per row, the flat ``[x1, y1, v1, ...]`` to write (integral values as integers; None for a row marked
    :data:`NO_KEYPOINTS`); None when there is no keypoints column."""
    kp = inst.keypoints
    if kp is None:
        return None
    flat = kp.reshape(len(kp), -1)
    integral = (flat == np.floor(flat)) & (np.abs(flat) < 2**53)
    vals = flat.tolist()
    out: list[list[int | float] | None] = []
    ex = inst.extras
    for i, (row, whole) in enumerate(zip(vals, integral.tolist())):
        if ex is not None and ex[i].get(NO_KEYPOINTS):
            out.append(None)
        else:
            out.append([int(x) if w else x for x, w in zip(row, whole)])
    return out


# ----------------------------------------------------------------------------------------------- results
@no_gc()  # a Python object per record: the cyclic GC would rescan them and find no cycles
def read_keypoint_results(path: str | os.PathLike[str] | list[Any], gt: Dataset) -> Instances:
    """Keypoint detections of a COCO results file (or list), by ``COCO.loadRes``' rules.

    Every detection needs ``keypoints`` (``3 K`` finite numbers, ``K`` as in ``gt``; the third value of each
    triple is not read by the evaluation). When the first detection has a non-empty ``bbox`` its boxes and areas
    (``w * h``) are the detections' as for box results; otherwise the box is the keypoints' extent
    ``[min x, min y, max x - min x, max y - min y]`` and the area its ``w * h`` -- every keypoint counted, labelled
    or not, as ``loadRes`` does.

    >>> from annokit.io.coco import read_instances                       # doctest: +SKIP
    >>> gt = read_instances("person_keypoints_val2017.json")              # doctest: +SKIP
    >>> dt = read_keypoint_results("keypoint_results.json", gt)           # doctest: +SKIP
    """
    from annokit.io._result_records import columns_instances, load_records, regular_columns, with_boxes

    cols = regular_columns(path, gt, "keypoints")
    if cols is not None and not isinstance(path, list):
        kp = _regular_keypoints(cols.labels, cols.values, gt)
        if kp is not None:
            dets = columns_instances(cols, Path(path), gt, partial(_extent, kp))
            if dets is not None:
                return dets.replace(keypoints=kp)
    p, items, plain = load_records(path)
    cats = gt.categories
    labels = [c if isinstance(c := r.get("category_id"), int) else -1 for r in items]
    kp, has = keypoints_from_records(items, labels, categories=cats, path=p, section="", ground_truth=False,
                                     plain_json=plain)
    if not has.all():
        i = int(np.flatnonzero(~has)[0])
        raise FormatError(p, f"[{i}]", "detection has no 'keypoints'")
    gt_k = gt.annotations.keypoints
    if gt_k is not None and kp is not None and kp.shape[1] != gt_k.shape[1]:
        raise FormatError(p, "[0].keypoints", f"{kp.shape[1]} keypoints per detection; the ground truth has "
                                              f"{gt_k.shape[1]}")
    if kp is None:
        kp = np.zeros((len(items), 0, 3))
    return with_boxes(items, p, gt, partial(_extent, kp)).replace(keypoints=kp)


def _extent(kp: FloatArray, rows: np.ndarray) -> np.ndarray:
    """``[min x, min y, max x - min x, max y - min y]`` of the keypoints of ``rows``, every keypoint counted."""
    x, y = kp[rows, :, 0], kp[rows, :, 1]
    x0, x1, y0, y1 = x.min(1), x.max(1), y.min(1), y.max(1)
    return np.column_stack([x0, y0, x1 - x0, y1 - y0])


def _regular_keypoints(labels: np.ndarray, values: np.ndarray, gt: Dataset) -> FloatArray | None:
    """``(n, K, 3)`` of the rows ``values`` (each ``3 K`` finite numbers) when they pass every rule of
    :func:`read_keypoint_results`, else None (the record reader names the problem): the categories used agree
    on ``K`` (that of their names list, or the rows' length / 3), and ``K`` is the ground truth's."""
    declared = _declared_k(gt.categories)
    ks = {declared[c][0] for c in np.unique(labels).tolist() if c in declared}
    m = values.shape[1]
    k = ks.pop() if len(ks) == 1 else m // 3 if not ks else -1
    gt_k = gt.annotations.keypoints
    if m == 0 or m != 3 * k or (gt_k is not None and gt_k.shape[1] != k):
        return None
    return np.ascontiguousarray(values).reshape(len(values), k, 3)
