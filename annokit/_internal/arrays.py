"""Array lookups shared by the core models and the metrics (private)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["index_of"]


def index_of(ids: ArrayLike, values: ArrayLike, *, missing: int = -1) -> NDArray[np.int64]:
    """Position of each of ``values`` in the unique ``ids`` (any order), ``missing`` where it is not there.

    >>> index_of([30, 10, 20], [20, 5, 30]).tolist()
    [2, -1, 0]
    """
    ids_a = np.asarray(ids)
    vals = np.asarray(values, dtype=ids_a.dtype if ids_a.size else np.int64)
    if ids_a.size == 0:
        return np.full(vals.shape, missing, dtype=np.int64)
    order = np.argsort(ids_a, kind="stable")
    sorted_ids = ids_a[order]
    pos = np.clip(np.searchsorted(sorted_ids, vals), 0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == vals, order[pos], missing).astype(np.int64)
