"""LVIS' fields on a COCO-style dataset: each category's ``frequency`` group and each image's
``neg_category_ids`` / ``not_exhaustive_category_ids`` (kept in the extras by the COCO reader)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from annokit.errors import FormatError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset

__all__ = ["FREQUENCY_GROUPS", "check_lvis_fields"]

FREQUENCY_GROUPS = ("r", "c", "f")
"""LVIS' frequency groups: rare (in fewer than 10 training images), common (10 to 99), frequent (100 or more)."""


def check_lvis_fields(gt: Dataset, *, path: Any = None) -> None:
    """Raise :class:`~annokit.errors.FormatError` naming the first category without a ``frequency`` in ``r`` /
    ``c`` / ``f`` or the first image without ``neg_category_ids`` / ``not_exhaustive_category_ids`` lists of
    integers (``path`` names the file in the message)."""
    cex = gt.categories.extras or [{}] * len(gt.categories)
    for i, e in enumerate(cex):
        f = (e or {}).get("frequency")
        if f not in FREQUENCY_GROUPS:
            what = "no 'frequency'" if f is None else f"frequency {f!r}"
            raise FormatError(path, f"categories[{i}] (id {int(gt.categories.ids[i])})",
                              f"{what}: LVIS needs 'r', 'c' or 'f' for every category")
    iex = gt.images.extras or [{}] * len(gt.images)
    for i, e in enumerate(iex):
        for key in ("neg_category_ids", "not_exhaustive_category_ids"):
            v = (e or {}).get(key)
            if not isinstance(v, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in v):
                what = f"no {key!r}" if v is None else f"{key} is not a list of category ids"
                raise FormatError(path, f"images[{i}] (id {int(gt.images.ids[i])})",
                                  f"{what}: LVIS needs both lists on every image")
