"""Exact, order-independent float sums (private).

A float64 is ``m * 2**(e - 53)`` with an integer mantissa ``m``; :class:`ExactSum` keeps, per exponent ``e``, the
integer sum of the mantissas as a Python int. Adding values in any order or merging partial sums therefore gives
the same state, and :meth:`ExactSum.value` rounds the exact rational total once (correctly rounded), so shard
merges reproduce a single pass bit for bit.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from annokit.errors import ValidationError

__all__ = ["ExactSum", "exact_sum"]

_CHUNK = 512  # 512 mantissas below 2**53 sum below 2**62: no int64 overflow


class ExactSum:
    """Exact running sum of float64 values; ``add`` / ``merge`` / ``value``."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: dict[int, int] = {}

    def add(self, values: np.ndarray | float) -> ExactSum:
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size == 0:
            return self
        if not np.all(np.isfinite(v)):
            raise ValidationError("ExactSum: values must be finite")
        m, e = np.frexp(v)
        mi = np.ldexp(m, 53).astype(np.int64)  # exact: |m| < 1 has 53 bits
        order = np.argsort(e, kind="stable")
        e_sorted = e[order]
        mi_sorted = mi[order]
        starts = np.flatnonzero(np.r_[True, e_sorted[1:] != e_sorted[:-1]])
        ends = np.r_[starts[1:], e_sorted.size]
        parts = self._parts
        for s, t in zip(starts.tolist(), ends.tolist()):
            ex = int(e_sorted[s])
            seg = mi_sorted[s:t]
            total = 0
            for k in range(0, seg.size, _CHUNK):
                total += int(seg[k:k + _CHUNK].sum())
            parts[ex] = parts.get(ex, 0) + total
        return self

    def merge(self, other: ExactSum) -> ExactSum:
        out = ExactSum()
        out._parts = dict(self._parts)
        for ex, s in other._parts.items():
            out._parts[ex] = out._parts.get(ex, 0) + s
        return out

    def copy(self) -> ExactSum:
        out = ExactSum()
        out._parts = dict(self._parts)
        return out

    def fraction(self) -> Fraction:
        total = Fraction(0)
        for ex, s in self._parts.items():
            if s:
                total += Fraction(s) * (Fraction(2) ** (ex - 53))
        return total

    def value(self) -> float:
        """The exact total, rounded once to float64."""
        return float(self.fraction())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactSum) and self.fraction() == other.fraction()

    def __repr__(self) -> str:
        return f"ExactSum({self.value()!r})"


def exact_sum(values: np.ndarray) -> float:
    """Correctly rounded sum of ``values`` (any order gives the same float)."""
    return ExactSum().add(values).value()
