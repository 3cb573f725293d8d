"""Progress reporting by callback (private).

The library never draws anything: long work calls ``progress(stage, done, total)`` -- ``stage`` a short name of
what is running, ``done`` how many of its ``total`` steps are finished (``total`` may be ``None`` when unknown).
The CLI passes a callback that draws one bar on a terminal (:class:`annokit.cli._common.ProgressBar`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

__all__ = ["Progress", "tracked"]

T = TypeVar("T")


class Progress(Protocol):
    """``progress(stage, done, total)``: ``done`` of ``total`` steps of ``stage`` are finished."""

    def __call__(self, stage: str, done: int, total: int | None, /) -> None: ...


def tracked(items: Iterable[T], progress: Progress | None, stage: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, calling ``progress(stage, i, total)`` after the ``i``-th (nothing when ``progress`` is None).

    >>> seen = []
    >>> list(tracked("ab", lambda s, d, t: seen.append((s, d, t)), "letters", 2)), seen
    (['a', 'b'], [('letters', 1, 2), ('letters', 2, 2)])
    """
    if progress is None:
        yield from items
        return
    for i, item in enumerate(items, 1):
        yield item
        progress(stage, i, total)
