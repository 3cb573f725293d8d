"""Image records and datasets."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from annokit.core._arrays import as_array, index_of
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.errors import ValidationError

__all__ = ["ImageTable", "Dataset"]


class ImageTable(BaseModel):
    """Images as columns: ``ids`` (int64), ``file_names``, ``heights`` and ``widths`` (sizes are (height, width)).

    >>> t = ImageTable(ids=[7], file_names=["a.jpg"], heights=[480], widths=[640])
    >>> t.hw_of(7)
    (480, 640)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    ids: np.ndarray
    file_names: list[str]
    heights: np.ndarray
    widths: np.ndarray
    extras: list[dict[str, Any]] | None = None

    @field_validator("ids", "heights", "widths", mode="before")
    @classmethod
    def _col(cls, v: Any, info: Any) -> np.ndarray:
        return as_array(v, info.field_name, np.int64, 1)

    @model_validator(mode="after")
    def _check(self) -> "ImageTable":
        n = len(self.ids)
        for name in ("file_names", "heights", "widths", "extras"):
            col = getattr(self, name)
            if col is not None and len(col) != n:
                raise ValidationError(f"ImageTable: {n} ids but {len(col)} {name}")
        uniq, counts = np.unique(self.ids, return_counts=True)
        if (counts > 1).any():
            raise ValidationError(f"ImageTable: image id {int(uniq[counts > 1][0])} appears more than once")
        if (self.heights < 0).any() or (self.widths < 0).any():
            raise ValidationError("ImageTable: negative image size")
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, image_ids: np.ndarray) -> np.ndarray:
        """Positions of ``image_ids`` in ``ids`` (-1 where unknown)."""
        return index_of(self.ids, image_ids)

    def hw_of(self, image_id: int) -> tuple[int, int]:
        i = int(self.index_of(np.array([image_id]))[0])
        if i < 0:
            raise KeyError(f"unknown image id {image_id}")
        return int(self.heights[i]), int(self.widths[i])


class Dataset(BaseModel):
    """Images, categories and their objects (ground truth, or predictions when ``annotations.scores`` is set)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    images: ImageTable
    categories: LabelSet
    annotations: Instances
    info: dict[str, Any] | None = None
    licenses: list[Any] | None = None
    extras: dict[str, Any] = Field(default_factory=dict, description="other top-level fields, kept")

    @model_validator(mode="after")
    def _check(self) -> "Dataset":
        ann = self.annotations
        if len(ann):
            unknown = self.images.index_of(ann.image_ids) < 0
            if unknown.any():
                i = int(np.flatnonzero(unknown)[0])
                raise ValidationError(f"annotations[{i}]: unknown image id {int(ann.image_ids[i])}")
            unknown = self.categories.index_of(ann.labels) < 0
            if unknown.any():
                i = int(np.flatnonzero(unknown)[0])
                raise ValidationError(f"annotations[{i}]: unknown category id {int(ann.labels[i])}")
        return self

    def with_annotations(self, annotations: Instances) -> "Dataset":
        return Dataset(
            images=self.images,
            categories=self.categories,
            annotations=annotations,
            info=self.info,
            licenses=self.licenses,
            extras=self.extras,
        )
