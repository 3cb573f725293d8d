"""Semantic label maps: one class id per pixel, with an ignore index."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import field_validator

from annokit.core.arrays import BoolArray, frozen
from annokit.core.model import FrozenModel
from annokit.errors import ValidationError

__all__ = ["SemanticMap"]


class SemanticMap(FrozenModel):
    """``labels``: ``(H, W)`` integer class ids; pixels equal to ``ignore_index`` count for nothing.

    >>> m = SemanticMap(labels=np.array([[0, 1], [255, 1]], np.uint8))
    >>> m.image_hw, int(m.valid.sum())
    ((2, 2), 3)
    """

    labels: NDArray[np.integer[Any]]
    ignore_index: int | None = 255

    @field_validator("labels", mode="plain")
    @classmethod
    def _labels(cls, v: Any) -> NDArray[np.integer[Any]]:
        arr = np.asarray(v)
        if arr.ndim != 2:
            raise ValidationError(f"labels: expected shape (H, W), got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValidationError(f"labels: expected an integer dtype, got {arr.dtype}")
        return frozen(arr)

    @property
    def image_hw(self) -> tuple[int, int]:
        return (int(self.labels.shape[0]), int(self.labels.shape[1]))

    @property
    def valid(self) -> BoolArray:
        if self.ignore_index is None:
            return np.ones(self.labels.shape, dtype=bool)
        valid: BoolArray = self.labels != self.ignore_index
        return valid
