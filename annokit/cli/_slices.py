"""``--slice-by FIELD`` / ``--slices FILE.json``: named subsets of the images, shared by eval, report, compare and
explore (private)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import numpy as np

    from annokit.core.dataset import Dataset

F = TypeVar("F", bound=Callable[..., Any])

SLICES_HELP = ('--slice-by FIELD: one slice per value of a field of the ground truth\'s image records (e.g. '
               'weather); --slices FILE.json: {"name": [image ids], ...}.')


def slice_options(f: F) -> F:
    """``--slice-by FIELD`` and ``--slices FILE.json`` (one or the other)."""
    f = click.option("--slices", "slices_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help='JSON file {"name": [image ids]}: named subsets of the images.')(f)
    return click.option("--slice-by", "slice_by", default=None, metavar="FIELD",
                        help="One slice per value of this field of the ground truth's image records.")(f)


def read_slice_options(ds: Dataset, slice_by: str | None, slices_file: Path | None) -> dict[str, np.ndarray] | None:
    """The slices the options name (``{name: image positions}``), or None without either option."""
    if slice_by is not None and slices_file is not None:
        raise click.UsageError("--slice-by and --slices: give one or the other")
    if slices_file is not None:
        from annokit.report.inputs import read_slices

        return read_slices(slices_file, ds)
    if slice_by is not None:
        from annokit.analysis.slices import slices_by_field

        return slices_by_field(ds, slice_by)
    return None
