"""Array types and coercion shared by the typed models: ``FloatArray`` / ``IntArray`` / ``BoolArray`` and
read-only columns."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from annokit.errors import ValidationError

__all__ = ["BoolArray", "FloatArray", "IntArray", "as_array", "check_len", "first_bad", "frozen"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

A = TypeVar("A", bound=np.ndarray)


def frozen(arr: A) -> A:
    """A read-only view of ``arr`` (no copy; the caller's own array stays writeable)."""
    if not arr.flags.writeable:
        return arr
    view = arr.view()
    view.flags.writeable = False
    return view


def as_array(value: Any, name: str, dtype: Any, ndim: int, *, width: int | None = None) -> NDArray[Any]:
    """``value`` as a read-only C-contiguous array of ``dtype`` with ``ndim`` dims (copied only when needed)."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{name}: cannot be read as {np.dtype(dtype).name}: {exc}") from None
    if arr.ndim != ndim:
        if ndim == 2 and arr.size == 0 and width is not None:
            arr = arr.reshape(0, width)
        else:
            raise ValidationError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    if width is not None and arr.shape[1] != width:
        raise ValidationError(f"{name}: expected shape (N, {width}), got {arr.shape}")
    return frozen(np.ascontiguousarray(arr))


def check_len(arr: Any, n: int, name: str) -> None:
    if len(arr) != n:
        raise ValidationError(f"{name}: expected length {n} (one per instance), got {len(arr)}")


def first_bad(mask: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])
