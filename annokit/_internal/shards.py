"""Results files given by a glob pattern (``annokit eval --pred 'preds/part-*.json'``): recognised and expanded
without importing the distributed evaluation (the CLI checks ``--pred`` at start-up)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from annokit.errors import FormatError

__all__ = ["expand_shards", "is_pattern"]

PathLike = str | os.PathLike[str]


def is_pattern(path: PathLike) -> bool:
    """Whether ``path`` is a glob pattern (``*``, ``?`` or ``[``) rather than one file."""
    return any(c in str(path) for c in "*?[") and not Path(path).exists()


def expand_shards(pred: PathLike | Sequence[PathLike]) -> list[Path]:
    """The results files of ``pred``: one file, the files a glob pattern matches (sorted by name, ``**`` for any
    depth), or a list of files in the order given.

    >>> [p.name for p in expand_shards("sample_data/scenes/pred*.json")][:1]
    ['pred.json']
    """
    if isinstance(pred, (list, tuple)):
        paths = [Path(p) for p in pred]
    elif isinstance(pred, (str, os.PathLike)) and is_pattern(pred):
        paths = [Path(p) for p in sorted(glob.glob(str(pred), recursive=True)) if Path(p).is_file()]
        if not paths:
            raise FormatError(pred, None, "no results file matches this pattern")
    else:
        paths = [Path(pred)]  # type: ignore[arg-type]
    for p in paths:
        if not p.is_file():
            raise FormatError(p, None, "no such file")
    if not paths:
        raise FormatError(None, None, "no results files given")
    return paths
