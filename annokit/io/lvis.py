"""LVIS annotation files: COCO instances files with LVIS' fields (``frequency`` per category,
``neg_category_ids`` and ``not_exhaustive_category_ids`` per image), read and checked."""

from __future__ import annotations

import os
from pathlib import Path

from annokit.core.dataset import Dataset
from annokit.core.lvis import check_lvis_fields
from annokit.io.coco import read_instances

__all__ = ["read_lvis"]


def read_lvis(path: str | os.PathLike[str]) -> Dataset:
    """Read an LVIS ground-truth file (:func:`annokit.io.coco.read_instances`) and check LVIS' fields: a category
    without ``frequency`` (``r`` / ``c`` / ``f``) or an image without ``neg_category_ids`` /
    ``not_exhaustive_category_ids`` is a :class:`~annokit.errors.FormatError` naming the file and the place.

    >>> gt = read_lvis("lvis_v1_val.json")  # doctest: +SKIP
    """
    p = Path(path)
    ds = read_instances(p)
    check_lvis_fields(ds, path=p)
    return ds
