"""Small shared helpers for metric results (private)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from annokit.errors import ValidationError

__all__ = ["fnone", "div", "nan_div", "as_int_array"]


def fnone(x: Any) -> float | None:
    """``float(x)``, or ``None`` for ``None`` / NaN (JSON's null for undefined)."""
    if x is None:
        return None
    f = float(x)
    return None if math.isnan(f) else f


def div(a: float, b: float) -> float:
    """``a / b`` or NaN when ``b == 0``."""
    return float(a) / float(b) if b != 0 else math.nan


def nan_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise ``a / b`` as float64 with NaN where ``b == 0``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def as_int_array(x: Any, name: str, ndim: int = 1) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != ndim:
        raise ValidationError(f"{name}: expected a {ndim}-d array, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        elif a.dtype == bool:
            a = a.astype(np.int64)
        else:
            raise ValidationError(f"{name}: expected integer labels, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)
