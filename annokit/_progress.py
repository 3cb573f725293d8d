"""A small progress bar on stderr: shown only when enabled and stderr is a terminal (private)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress_iter(items: Iterable[T], *, enabled: bool = True, desc: str = "", total: int | None = None,
                  min_seconds: float = 0.5) -> Iterator[T]:
    """Yield ``items``; draw ``desc [#####.....] i/n`` on stderr when ``enabled`` and stderr is a tty.

    Nothing is drawn for work that ends within ``min_seconds``.
    """
    show = enabled and sys.stderr.isatty()
    if not show:
        yield from items
        return
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    start = time.monotonic()
    last = 0.0
    drawn = False
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - start >= min_seconds and now - last >= 0.1:
            last = now
            drawn = True
            if total:
                filled = int(30 * i / total)
                sys.stderr.write(f"\r{desc} [{'#' * filled}{'.' * (30 - filled)}] {i}/{total}")
            else:
                sys.stderr.write(f"\r{desc} {i}")
            sys.stderr.flush()
    if drawn:
        sys.stderr.write(f"\r{desc} done ({i} in {time.monotonic() - start:.1f} s)\033[K\n")
        sys.stderr.flush()
