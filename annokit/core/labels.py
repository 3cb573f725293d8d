"""Label sets: category ids <-> names, sparse ids kept as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, field_validator, model_validator

from annokit._internal.arrays import index_of
from annokit.core.arrays import IntArray, as_array
from annokit.core.model import FrozenModel
from annokit.errors import ValidationError

__all__ = ["LabelSet"]


class LabelSet(FrozenModel):
    """Categories of a dataset.

    ``ids`` are kept exactly as the source has them (COCO's sparse 1..90 stay 1..90); nothing is renumbered and no
    ``background`` class is invented.

    >>> ls = LabelSet(ids=[1, 3], names=["person", "car"])
    >>> ls.name_of(3), ls.id_of("person"), len(ls)
    ('car', 1, 2)
    """

    ids: IntArray
    names: list[str]
    supercategories: list[str | None] | None = None
    extras: list[dict[str, Any]] | None = Field(default=None, description="other per-category fields, kept")

    @field_validator("ids", mode="plain")
    @classmethod
    def _ids(cls, v: Any) -> IntArray:
        return as_array(v, "ids", np.int64, 1)

    @model_validator(mode="after")
    def _check(self) -> LabelSet:
        n = len(self.ids)
        if len(self.names) != n:
            raise ValidationError(f"{n} ids but {len(self.names)} names")
        for name, col in (("supercategories", self.supercategories), ("extras", self.extras)):
            if col is not None and len(col) != n:
                raise ValidationError(f"{n} ids but {len(col)} {name}")
        uniq, counts = np.unique(self.ids, return_counts=True)
        if (counts > 1).any():
            raise ValidationError(f"category id {int(uniq[counts > 1][0])} appears more than once")
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        shown = ", ".join(f"{int(i)}: {n!r}" for i, n in zip(self.ids[:6], self.names[:6]))
        more = f", ... ({len(self)} in all)" if len(self) > 6 else ""
        return f"LabelSet({{{shown}{more}}})"

    __str__ = __repr__

    def name_of(self, cat_id: int) -> str:
        idx = np.flatnonzero(self.ids == cat_id)
        if idx.size == 0:
            raise KeyError(f"unknown category id {cat_id}")
        return self.names[int(idx[0])]

    def id_of(self, name: str) -> int:
        try:
            return int(self.ids[self.names.index(name)])
        except ValueError:
            raise KeyError(f"unknown category name {name!r}") from None

    def index_of(self, cat_ids: ArrayLike) -> IntArray:
        """Positions of ``cat_ids`` in ``ids`` (-1 where unknown)."""
        return index_of(self.ids, cat_ids)

    @classmethod
    def from_names(cls, names: list[str], start: int = 1) -> LabelSet:
        return cls(ids=np.arange(start, start + len(names)), names=list(names))
