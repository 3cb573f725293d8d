"""Pausing Python's cyclic garbage collector around work that allocates many small objects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["no_gc"]


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a reader, writer, evaluator or decoder allocates its many small
    objects (XML elements, dicts, per-image results): the collections it would run find no cycles there and cost
    more than the work itself. Restores the collector's previous state."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
