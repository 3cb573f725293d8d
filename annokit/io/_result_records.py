"""COCO results whose detections carry a geometry the box/mask reader does not read (keypoints, rotated boxes):
the records as Python objects, and their columns by ``COCO.loadRes``' rules with boxes made from that geometry
where the file gives none (private to :mod:`annokit.io`).

The block reader of :mod:`annokit.core.coco_results` stays the path of box and mask results; these files go through
``orjson`` and the general checks of :func:`~annokit.core.coco_results.result_columns`, which name the record.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit.errors import FormatError, ValidationError

if TYPE_CHECKING:
    from annokit.core.coco_results import ResultColumns
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["RecordColumns", "columns_instances", "load_records", "regular_columns", "with_boxes"]


def load_records(path: str | os.PathLike[str] | list[Any]) -> tuple[Path, list[dict[str, Any]], bool]:
    """The detections of a results file (or the list given), each checked to be a JSON object, and whether they
    are plain JSON values (read from a file without ``true`` or ``false``: no bool, no numpy scalar among them)."""
    if isinstance(path, list):
        p, items, plain = Path("<results>"), path, False
    else:
        from annokit.io.coco import parse_json, read_json_bytes

        p = Path(path)
        raw = read_json_bytes(p)
        items, plain = parse_json(p, raw), b"true" not in raw and b"false" not in raw
    if not isinstance(items, list):
        raise FormatError(p, None, f"a results file must be a JSON list of detections, got {type(items).__name__}")
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise FormatError(p, f"[{i}]", f"expected an object, got {type(it).__name__}")
    return p, items, plain


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
    return _instances(result_columns(items, ResultsTarget.of(gt), where=path), path)


def _instances(cols: ResultColumns, path: Path) -> Instances:
    """The columns as instances, the warning about unknown categories given at the reader's caller."""
    cols.warn_unknown(path, stacklevel=4)
    try:
        return cols.instances()
    except ValidationError as exc:
        raise FormatError(path, None, str(exc)) from None


# ------------------------------------------------------------------------------------------------ columnar path
_GEOMETRY_WANT: dict[tuple[str, ...], str] = {("image_id",): "number", ("category_id",): "number",
                                              ("score",): "number", ("bbox",): "numbers", ("segmentation",): "numbers"}


@dataclass(frozen=True)
class RecordColumns:
    """The detections of a results file as columns, read from its bytes: integer image and category ids, finite
    scores, the file's ``bbox`` (``(n, 4)``, finite, ``w, h >= 0``; None when no detection has one) and the numbers
    of the geometry field (``(n, m)``, finite)."""

    image_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    xywh: np.ndarray | None
    values: np.ndarray


def regular_columns(path: str | os.PathLike[str] | list[Any], gt: Dataset, key: str) -> RecordColumns | None:
    """The detections of the results file ``path`` as :class:`RecordColumns` (``values`` its ``key`` field), read
    in blocks by :mod:`annokit._internal.jsoncols` without a Python object per record -- or None when the file is
    anything else than the plain case, so that the caller reads it record by record (:func:`load_records`), which
    says what is wrong: a list given, string image ids, a block that is not regular (the token pattern of its
    records differs, a value that is not a number), broken JSON, an image id the ground truth lacks, a record
    without ``key``, ``image_id``, ``category_id`` or ``score``, a segmentation, a non-finite number, a ``bbox``
    that is not 4 numbers with ``w, h >= 0`` in some detections only, or one ``m`` not shared by every block."""
    from annokit._internal.jsoncols import Irregular, NotAList, read_blocks
    from annokit.core.coco_results import ResultsTarget

    if isinstance(path, list):
        return None
    target = ResultsTarget.of(gt)
    if target.str_ids is not None:
        return None
    want: dict[tuple[str, ...], str] = {**_GEOMETRY_WANT, (key,): "numbers"}
    parts: list[RecordColumns] = []
    try:
        for blk in read_blocks(Path(path)):
            part = _block_columns(blk.fields(want), target, key)
            if part is None:
                return None
            parts.append(part)
    except (Irregular, NotAList, FormatError, OSError):
        return None
    return _concat(parts)


def _block_columns(f: dict[tuple[str, ...], Any], target: Any, key: str) -> RecordColumns | None:
    """One block's columns, None unless each is what :class:`RecordColumns` promises."""
    from annokit._internal.jsoncols import ScalarField

    img, cat, score, bbox, vals = (f[(k,)] for k in ("image_id", "category_id", "score", "bbox", key))
    ints = [x for x in (img, cat) if isinstance(x, ScalarField) and x.values.shape[1] == 1 and x.is_int.all()]
    if len(ints) != 2 or f[("segmentation",)] is not None or not isinstance(score, ScalarField) \
            or score.values.shape[1] != 1 or not isinstance(vals, ScalarField):
        return None
    if (target.image_pos(img.ints[:, 0]) < 0).any():
        return None
    xywh = None
    if bbox is not None:
        if not isinstance(bbox, ScalarField) or bbox.values.shape[1] not in (0, 4):
            return None
        xywh = bbox.values if bbox.values.shape[1] else None
    if not (np.isfinite(score.values).all() and np.isfinite(vals.values).all()):
        return None
    if xywh is not None and not (np.isfinite(xywh).all() and (xywh[:, 2:] >= 0).all()):
        return None
    return RecordColumns(image_ids=img.ints[:, 0], labels=cat.ints[:, 0], scores=score.values[:, 0], xywh=xywh,
                         values=vals.values)


def _concat(parts: list[RecordColumns]) -> RecordColumns | None:
    """The blocks' columns as one (None when there are none, or the blocks disagree on ``bbox`` or ``m``)."""
    if not parts or len({p.values.shape[1] for p in parts}) != 1 or len({p.xywh is None for p in parts}) != 1:
        return None
    boxes = None if parts[0].xywh is None else np.concatenate([p.xywh for p in parts if p.xywh is not None])
    return RecordColumns(image_ids=np.concatenate([p.image_ids for p in parts]),
                         labels=np.concatenate([p.labels for p in parts]),
                         scores=np.concatenate([p.scores for p in parts]), xywh=boxes,
                         values=np.concatenate([p.values for p in parts]))


def columns_instances(cols: RecordColumns, path: Path, gt: Dataset,
                      boxes: Callable[[np.ndarray], np.ndarray]) -> Instances | None:
    """:class:`RecordColumns` as :class:`~annokit.core.instances.Instances` by the rules of :func:`with_boxes`: the
    file's boxes, else ``boxes(rows)`` (``[x, y, w, h]``); the area ``w * h``; detections of categories ``gt`` lacks
    kept and warned about. None when a box made by ``boxes`` is not finite with ``w, h >= 0`` (the record reader
    names it)."""
    from annokit._internal.arrays import index_of
    from annokit.core.coco_results import ResultColumns

    xywh = cols.xywh
    if xywh is None:
        xywh = np.asarray(boxes(np.arange(len(cols.scores))), dtype=np.float64)
        if not (np.isfinite(xywh).all() and (xywh[:, 2:] >= 0).all()):
            return None
    unknown = np.flatnonzero(index_of(np.asarray(gt.categories.ids), cols.labels) < 0)
    first = (int(unknown[0]), int(cols.labels[unknown[0]])) if len(unknown) else None
    rc = ResultColumns(image_ids=cols.image_ids, labels=cols.labels, scores=cols.scores, xywh=xywh,
                       area=xywh[:, 2] * xywh[:, 3], segmentations=None, unknown=len(unknown), first_unknown=first)
    return _instances(rc, path)
