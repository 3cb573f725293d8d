"""Semantic label maps: one class id per pixel, with an ignore index."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from annokit.errors import ValidationError

__all__ = ["SemanticMap"]


class SemanticMap(BaseModel):
    """``labels``: ``(H, W)`` integer class ids; pixels equal to ``ignore_index`` count for nothing.

    >>> m = SemanticMap(labels=np.array([[0, 1], [255, 1]], np.uint8))
    >>> m.image_hw, int(m.valid.sum())
    ((2, 2), 3)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    labels: np.ndarray
    ignore_index: int | None = 255

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, v: Any) -> np.ndarray:
        arr = np.asarray(v)
        if arr.ndim != 2:
            raise ValidationError(f"labels: expected shape (H, W), got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValidationError(f"labels: expected an integer dtype, got {arr.dtype}")
        return arr

    @property
    def image_hw(self) -> tuple[int, int]:
        return (int(self.labels.shape[0]), int(self.labels.shape[1]))

    @property
    def valid(self) -> np.ndarray:
        if self.ignore_index is None:
            return np.ones(self.labels.shape, dtype=bool)
        return self.labels != self.ignore_index
