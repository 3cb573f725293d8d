"""Array lookups shared by the core models and the metrics (private)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["equal_key_pairs", "index_of", "sorted_unique"]


def index_of(ids: ArrayLike, values: ArrayLike, *, missing: int = -1) -> NDArray[np.int64]:
    """Position of each of ``values`` in the unique ``ids`` (any order), ``missing`` where it is not there.

    >>> index_of([30, 10, 20], [20, 5, 30]).tolist()
    [2, -1, 0]
    """
    ids_a = np.asarray(ids)
    vals = np.asarray(values, dtype=ids_a.dtype if ids_a.size else np.int64)
    if ids_a.size == 0:
        return np.full(vals.shape, missing, dtype=np.int64)
    if ids_a.dtype.kind in "iu" and ids_a.ndim == 1 and vals.size > 64:
        lo, hi = int(ids_a.min()), int(ids_a.max())
        # ids no larger than a few times the ids or values (the usual case): a table, no sort
        if lo >= 0 and hi < 8 * max(len(ids_a), vals.size) + (1 << 16):
            table = np.full(hi + 2, missing, dtype=np.int64)  # the last entry: every value outside 0..hi
            table[ids_a[::-1]] = np.arange(len(ids_a) - 1, -1, -1)  # the first of repeated ids, as below
            wide = vals.astype(np.int64, copy=False) if vals.dtype.kind == "i" else vals.astype(np.uint64, copy=False)
            at = np.minimum(wide.view(np.uint64) if wide.dtype.kind == "i" else wide, np.uint64(hi + 1))
            out: NDArray[np.int64] = table[at]
            return out
    order = np.argsort(ids_a, kind="stable")
    sorted_ids = ids_a[order]
    pos = np.clip(np.searchsorted(sorted_ids, vals), 0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == vals, order[pos], missing).astype(np.int64)


def equal_key_pairs(left: ArrayLike, right: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every ``(i, j)`` with ``left[i] == right[j]``, grouped by ``i`` in order and, within a group, ``j`` in order
    (the join of detections with the ground truth of their image and class).

    >>> [a.tolist() for a in equal_key_pairs([5, 7, 5], [7, 5, 5])]
    [[0, 0, 1, 2, 2], [1, 2, 0, 1, 2]]
    """
    lk, rk = np.asarray(left), np.asarray(right)
    order = np.argsort(rk, kind="stable")
    lo = np.searchsorted(rk[order], lk, "left")
    count = np.searchsorted(rk[order], lk, "right") - lo
    i = np.repeat(np.arange(len(lk)), count)
    j = order[np.repeat(lo, count) + np.arange(len(i)) - np.repeat(np.cumsum(count) - count, count)]
    return i.astype(np.int64), j.astype(np.int64)


def sorted_unique(values: ArrayLike) -> NDArray[np.generic]:
    """The distinct values of a 1-d array, sorted (``np.unique`` without its first-call import of ``numpy.ma``,
    13-27 ms of a command's start-up).

    >>> sorted_unique([3, 1, 3, 2]).tolist()
    [1, 2, 3]
    """
    a = np.sort(np.asarray(values).ravel())
    if len(a) < 2:
        return a
    return a[np.r_[True, a[1:] != a[:-1]]]
