"""Sliced COCO evaluation: the 12 COCO numbers of named subsets of the images, from one matching.

A *slice* is a set of images: the images whose ground-truth record has one value of a field (``--slice-by
weather``: one slice per value), or a list of image ids (``--slices FILE.json``). Its numbers are those of a COCO
evaluation of a ground truth that holds only its images (every category kept) with the detections on them --
:meth:`COCOAccumulator.compute_subset <annokit.metrics.coco.COCOAccumulator.compute_subset>` reads them off the
match records of the whole evaluation (no IoU is computed again): ``maxDets`` cuts per image and category and score
ties break by image order, so the subset's records in their order and the subset's ground-truth counts are exactly
what pycocotools accumulates on the subset alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit.errors import ValidationError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.metrics.coco import COCOAccumulator, COCOResult

__all__ = ["SliceResult", "slices_by_field", "evaluate_slices", "slice_table"]

_STANDARD_FIELDS = {"file_name": "file_names", "height": "heights", "width": "widths"}


def _field_values(gt: Dataset, field: str) -> list[Any]:
    """The value of ``field`` of every image record (None where an image has none)."""
    im = gt.images
    if field in _STANDARD_FIELDS:
        col = getattr(im, _STANDARD_FIELDS[field])
        values: list[Any] = [v.item() if isinstance(v, np.generic) else v for v in col]
        return values
    if field == "id":
        return [int(v) for v in im.ids]
    extras = im.extras or [{} for _ in range(len(im.ids))]
    return [e.get(field) for e in extras]


def _slice_name(value: Any) -> str:
    """The slice name of a field value: text as it is, a number or a flag as JSON writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    raise ValidationError(f"slice field value {value!r}: only text, numbers and true / false name a slice")


def slices_by_field(gt: Dataset, field: str) -> dict[str, np.ndarray]:
    """One slice per value of the image records' ``field``: ``{value: (n,) int64 positions in gt.images}``.

    ``field`` is any key of the COCO image records (``file_name``, ``height``, ``width``, ``id``, or an extra key
    such as ``weather`` kept in ``gt.images.extras``). Images without the field (or with ``null``) belong to no
    slice. Slices are sorted by name. A field no image has, or a value that is a list or an object, is a
    :class:`~annokit.errors.ValidationError`.

    Examples
    --------
    >>> import annokit
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> {k: len(v) for k, v in slices_by_field(gt, "height").items()}
    {'120': 48}
    """
    values = _field_values(gt, field)
    names = [None if v is None else _slice_name(v) for v in values]
    if all(n is None for n in names):
        raise ValidationError(f"no image record has the field {field!r}")
    out: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        if n is not None:
            out.setdefault(n, []).append(i)
    return {k: np.asarray(out[k], dtype=np.int64) for k in sorted(out)}


@dataclass(frozen=True)
class SliceResult:
    """The evaluation of one slice: its ``name``, its ``image_ids`` and the :class:`COCOResult` ``result``."""

    name: str
    image_ids: np.ndarray
    result: COCOResult

    def to_dict(self) -> dict[str, Any]:
        """``{"images": n, "metrics": {...}}`` (``metrics_dict``: fractions, None where undefined)."""
        return {"images": len(self.image_ids), "metrics": self.result.metrics_dict()}


def evaluate_slices(acc: COCOAccumulator, gt: Dataset, slices: Mapping[str, np.ndarray]) -> list[SliceResult]:
    """The COCO evaluation of every slice, from the match records of ``acc`` (updated with every detection).

    Parameters
    ----------
    acc : COCOAccumulator
        The accumulator of the whole evaluation, every detection added.
    gt : Dataset
        Its ground truth (the slices are positions in ``gt.images``).
    slices : mapping
        ``{name: (n,) positions in gt.images}`` (:func:`slices_by_field`,
        :func:`annokit.report.inputs.read_slices`).

    Returns
    -------
    list of SliceResult
        In the mapping's order; each equal to :func:`annokit.metrics.coco.evaluate` on the slice's images alone.

    Examples
    --------
    >>> import annokit
    >>> from annokit.io.coco import read_results
    >>> from annokit.metrics.coco import COCOAccumulator
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> acc = COCOAccumulator(gt).update(read_results("sample_data/scenes/pred.json", gt))
    >>> halves = {"first": np.arange(24), "second": np.arange(24, 48)}
    >>> [(s.name, round(float(s.result.stats[0]), 3)) for s in evaluate_slices(acc, gt, halves)]
    [('first', 0.522), ('second', 0.559)]
    """
    out = []
    for name, pos in slices.items():
        p = np.asarray(pos, dtype=np.int64).reshape(-1)
        if len(p) and (p.min() < 0 or p.max() >= len(gt.images)):
            raise ValidationError(f"slice {name!r}: image positions outside 0..{len(gt.images) - 1}")
        ids = gt.images.ids[np.unique(p)]
        out.append(SliceResult(str(name), ids, acc.compute_subset(ids, warn=False)))
    return out


def slice_table(results: list[SliceResult], keys: tuple[str, ...] = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                                                                       "AR100")) -> str:
    """A text table of the slices (one row each: name, image count and ``keys``; a dash where undefined)."""
    width = max([len("slice"), *(len(r.name) for r in results)])
    lines = [f"{'slice':<{width}}  images  " + "  ".join(f"{k:>6}" for k in keys)]
    for r in results:
        m = r.result.metrics_dict()
        cells = "  ".join(f"{m[k]:6.3f}" if m.get(k) is not None else f"{'-':>6}" for k in keys)
        lines.append(f"{r.name:<{width}}  {len(r.image_ids):>6}  {cells}")
    return "\n".join(lines)
