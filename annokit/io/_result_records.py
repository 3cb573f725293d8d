"""COCO results whose detections carry a geometry the box/mask reader does not read (keypoints, rotated boxes):
the records as Python objects, and their columns by ``COCO.loadRes``' rules with boxes made from that geometry
where the file gives none (private to :mod:`annokit.io`).

The block reader of :mod:`annokit.core.coco_results` stays the path of box and mask results; these files go through
``orjson`` and the general checks of :func:`~annokit.core.coco_results.result_columns`, which name the record.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit.errors import FormatError, ValidationError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["load_records", "with_boxes"]


def load_records(path: str | os.PathLike[str] | list[Any]) -> tuple[Path, list[dict[str, Any]]]:
    """The detections of a results file (or the list given), each checked to be a JSON object."""
    if isinstance(path, list):
        p, items = Path("<results>"), path
    else:
        from annokit.io.coco import load_json

        p = Path(path)
        try:
            items = load_json(p)
        except OSError as exc:
            raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(items, list):
        raise FormatError(p, None, f"a results file must be a JSON list of detections, got {type(items).__name__}")
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise FormatError(p, f"[{i}]", f"expected an object, got {type(it).__name__}")
    return p, items


def with_boxes(items: list[dict[str, Any]], path: Path, gt: Dataset,
               boxes: Callable[[np.ndarray], np.ndarray]) -> Instances:
    """The detections as :class:`~annokit.core.instances.Instances` by ``loadRes``' rules: when the first has a
    non-empty ``bbox``, as box results (every detection needs one; area ``w * h``); otherwise each gets the box
    ``boxes(rows)`` ``[x, y, w, h]`` (its area ``w * h``), as ``loadRes`` does for keypoints -- unless the first
    has a ``segmentation``: then they are mask results (area and box from the mask)."""
    from annokit.core.coco_results import ResultsTarget, result_columns

    first = items[0] if items else {}
    if not ("bbox" in first and first["bbox"] != []) and "segmentation" not in first:
        xywh = boxes(np.arange(len(items))).tolist() if items else []
        items = [{**it, "bbox": bb} for it, bb in zip(items, xywh)]
    cols = result_columns(items, ResultsTarget.of(gt), where=path)
    cols.warn_unknown(path, stacklevel=3)
    try:
        return cols.instances()
    except ValidationError as exc:
        raise FormatError(path, None, str(exc)) from None
