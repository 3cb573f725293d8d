"""Pausing Python's cyclic garbage collector around work that allocates many small objects, and, in the
``annokit`` command's own process, keeping what it imported out of the collector's reach."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["command_process", "freeze_imports", "importing", "no_gc"]

_COMMAND_PROCESS = False


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


def command_process() -> None:
    """Mark this process as the ``annokit`` command's own (called by :func:`annokit.cli.main` only, never on import),
    so that :func:`freeze_imports` acts."""
    global _COMMAND_PROCESS
    _COMMAND_PROCESS = True


def freeze_imports() -> None:
    """In the ``annokit`` command's process (:func:`command_process`), move every object the collector tracks now --
    the modules just imported, their functions and classes, which live until the process ends -- out of the
    collections that follow (:func:`gc.freeze`), so that no collection goes over them again; objects freed by their
    reference count are still freed. In any other process (a library caller's) it does nothing. Called inside a
    :func:`no_gc` block, before the collector resumes (else its first pass goes over them all once)."""
    if _COMMAND_PROCESS:
        gc.freeze()


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """:func:`no_gc` around imports, then :func:`freeze_imports` before the collector resumes: the collector would
    find nothing to free among the new modules' objects."""
    with no_gc():
        yield
        freeze_imports()
