"""Array coercion and checks shared by the core models (private)."""

from __future__ import annotations

from typing import Any

import numpy as np

from annokit.errors import ValidationError


def as_array(value: Any, name: str, dtype: Any, ndim: int, *, width: int | None = None) -> np.ndarray:
    """Return ``value`` as a C-contiguous array of ``dtype`` with ``ndim`` dims (copy only when needed)."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}: cannot be read as {np.dtype(dtype).name}: {exc}") from None
    if arr.ndim != ndim:
        if ndim == 2 and arr.size == 0 and width is not None:
            arr = arr.reshape(0, width)
        else:
            raise ValidationError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    if width is not None and arr.shape[1] != width:
        raise ValidationError(f"{name}: expected shape (N, {width}), got {arr.shape}")
    return np.ascontiguousarray(arr)


def check_len(arr: Any, n: int, name: str) -> None:
    if len(arr) != n:
        raise ValidationError(f"{name}: expected length {n} (one per instance), got {len(arr)}")


def index_of(ids: np.ndarray, values: Any, *, missing: int = -1) -> np.ndarray:
    """Position of each of ``values`` in the unique ``ids`` (any order), ``missing`` where it is not there."""
    ids = np.asarray(ids)
    vals = np.asarray(values, dtype=ids.dtype if ids.size else np.int64)
    if ids.size == 0:
        return np.full(vals.shape, missing, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    pos = np.clip(np.searchsorted(sorted_ids, vals), 0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == vals, order[pos], missing).astype(np.int64)


def first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])
