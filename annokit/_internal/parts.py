"""The part of a dataset a writer is writing, when the dataset is written by parts (runs of consecutive images,
e.g. on the workers of a dask cluster): where the part starts in the whole dataset, and the whole-dataset facts the
format's writer needs to write its part as writing the whole would (private; set by
:mod:`annokit.convert._parts`, read by the writers in :mod:`annokit.io`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PartContext", "current_part", "writing_part"]


@dataclass(frozen=True)
class PartContext:
    """``image_offset`` / ``object_offset``: the positions of the part's first image and first object in the whole
    dataset (objects grouped by image); ``facts``: whole-dataset facts for the format's writer (empty when the
    dataset is written at once)."""

    image_offset: int = 0
    object_offset: int = 0
    facts: Mapping[str, Any] = field(default_factory=dict)


_WHOLE = PartContext()
_CURRENT: ContextVar[PartContext | None] = ContextVar("annokit_part", default=None)


def current_part() -> PartContext:
    """The part being written (offsets 0 and no facts: the whole dataset)."""
    return _CURRENT.get() or _WHOLE


@contextlib.contextmanager
def writing_part(ctx: PartContext) -> Iterator[None]:
    """Write inside ``ctx``."""
    token = _CURRENT.set(ctx)
    try:
        yield
    finally:
        _CURRENT.reset(token)
