"""YOLO-OBB (Ultralytics oriented boxes): the YOLO layout (``data.yaml``, ``images/<split>``, ``labels/<split>``) with
one line ``class x1 y1 x2 y2 x3 y3 x4 y4`` per object, the four corners normalised by the image size.

Corners are kept exactly as written, in their order, in :attr:`Instances.corners` (pixels: ``x W``, ``y H``); the
box is their axis-aligned hull. (Ultralytics itself turns the corners into ``[cx, cy, w, h, angle]`` with OpenCV's
``minAreaRect`` when it loads them: a fit, not the corners; annokit keeps the corners.) Every label line must have
nine fields: a box line or a polygon of another size in an OBB dataset is an error naming the file and the line.
Writing nudges each normalised value by a few ulps until ``u * W`` gives the pixel value back exactly (what still
differs is counted).

The plain ``yolo`` reader refuses a dataset whose lines are all four corners (``read_yolo_keyed(task="detect")``):
read as polygons and reduced to boxes they would lose the orientation without a word.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.core.losses import LossRecorder, beyond_rounding
from annokit.core.rotated import corners_to_ltrb, ltrb_to_corners, quad_area
from annokit.errors import FormatError
from annokit.io.validation import Problem, Problems, read_text
from annokit.io.yolo import (
    _class_indices,
    _dataset_losses,
    _image_sizes,
    _norm_coords,
    _rows_text,
    _Sink,
    _write_data_yaml,
    _write_labels,
    read_yolo_keyed,
    validate_yolo,
)

__all__ = ["read_yolo_obb", "read_yolo_obb_keyed", "validate_yolo_obb", "write_yolo_obb_into"]

PathLike = str | os.PathLike[str]


def _line_of(root: Path, ds: Dataset, keys: list[str], k: int) -> tuple[Path, str]:
    """The label file and line of object ``k`` (its rank among its image's objects, blank lines skipped)."""
    a = ds.annotations
    i = int(ds.images.index_of(a.image_ids[k:k + 1])[0])
    rank = int((a.image_ids[:k] == a.image_ids[k]).sum())
    lab = root / keys[i]
    seen = -1
    for j, line in enumerate(read_text(lab).splitlines(), 1):
        seen += bool(line.split())
        if seen == rank:
            return lab, f"line {j}"
    return lab, f"object {rank + 1}"  # pragma: no cover - the reader read that many lines


def _quads(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Which objects are one polygon of four points, and those polygons as ``(N, 4, 2)`` (zeros elsewhere)."""
    a = ds.annotations
    segs = a.segmentations or [None] * len(a)
    is_quad = np.array([isinstance(s, list) and len(s) == 1 and len(s[0]) == 8 for s in segs], dtype=bool)
    corners = np.zeros((len(a), 4, 2))
    for k in np.flatnonzero(is_quad).tolist():
        corners[k] = np.asarray(segs[k][0], dtype=np.float64).reshape(4, 2)  # type: ignore[index]
    return is_quad, corners


def read_yolo_obb_keyed(root: PathLike, *, recorder: LossRecorder | None = None,
                        sizes: dict[str, tuple[int, int]] | None = None, exif: bool = True,
                        skip_missing_splits: bool = False) -> tuple[Dataset, list[str]]:
    """Read a YOLO-OBB folder; also return each image's key (its label file, relative to ``root``).
    ``skip_missing_splits``: a split ``data.yaml`` names that is not there is a counted loss, not an error."""
    path = Path(root)
    ds, keys = read_yolo_keyed(path, recorder=recorder, sizes=sizes, exif=exif,
                               skip_missing_splits=skip_missing_splits)
    a = ds.annotations
    is_quad, corners = _quads(ds)
    if not is_quad.all():
        k = int(np.flatnonzero(~is_quad)[0])
        lab, where = _line_of(path, ds, keys, k)
        raise FormatError(lab, where, "a YOLO-OBB line is 'class x1 y1 x2 y2 x3 y3 x4 y4' (9 fields)")
    if a.scores is not None:  # pragma: no cover - the YOLO reader gives scores to box lines only
        raise FormatError(path, None, "YOLO-OBB labels have no confidence column")
    inst = Instances(image_ids=a.image_ids, boxes=corners_to_ltrb(corners) if len(a) else np.zeros((0, 4)),
                     labels=a.labels, corners=corners)
    return ds.with_annotations(inst), keys


def read_yolo_obb(root: PathLike, *, exif: bool = True, skip_missing_splits: bool = False) -> Dataset:
    """Read a YOLO-OBB (Ultralytics) dataset: ``Instances.corners`` in pixels, boxes their hull.

    Examples
    --------
    >>> ds = read_yolo_obb("dota8")  # doctest: +SKIP
    """
    return read_yolo_obb_keyed(root, exif=exif, skip_missing_splits=skip_missing_splits)[0]


def validate_yolo_obb(root: PathLike) -> list[Problem]:
    """The problems of the YOLO layout (:func:`annokit.io.yolo.validate_yolo`), then every label line that does not
    have nine fields."""
    out = validate_yolo(root)
    problems = Problems(collect=True)
    labels = Path(root) / "labels"
    for lab in sorted(labels.rglob("*.txt")) if labels.is_dir() else []:
        with problems.guard(lab):
            for j, line in enumerate(read_text(lab).splitlines(), 1):
                n = len(line.split())
                if n not in (0, 9):
                    problems.error(lab, f"line {j}", f"a YOLO-OBB line is 'class x1 y1 ... x4 y4' (9 fields), "
                                                     f"got {n}")
    return out + problems.items


# ------------------------------------------------------------------------------------------- writing
def _obb_lines(ds: Dataset, hw: np.ndarray, cls: list[int], precision: int | None, sink: _Sink) -> list[str]:
    """``class x1 y1 ... x4 y4`` of each object, the values nudged to read back exactly where a float can."""
    a = ds.annotations
    if a.corners is None:
        corners = ltrb_to_corners(a.boxes)
        if len(a):
            sink.rec.warn(f"{len(a)} axis-aligned boxes written as their four corners (read back as oriented boxes)")
    else:
        corners = np.asarray(a.corners)
    if a.segmentations is not None:
        has = [k for k, s in enumerate(a.segmentations) if s is not None and s != []]
        sink.add_many("segmentation dropped: YOLO-OBB lines hold four corners", len(has))
    hull_area = quad_area(corners) if a.corners is not None else (a.boxes[:, 2] - a.boxes[:, 0]) * (
        a.boxes[:, 3] - a.boxes[:, 1])
    box_area = (a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1])
    sink.add_many("area dropped: YOLO-OBB has no area", int(((a.area != box_area) & (a.area != hull_area)).sum()))
    if a.scores is not None:
        sink.add_many("scores dropped: YOLO-OBB label lines have no confidence", len(a))
    flat = corners.reshape(-1, 8)
    size = np.empty_like(flat)
    size[:, 0::2], size[:, 1::2] = hw[:, 1:2], hw[:, 0:1]
    if precision is None:
        u, ok = _norm_coords(flat.reshape(-1), size.reshape(-1))
    else:
        u = np.round(flat.reshape(-1) / size.reshape(-1), precision)
        ok = np.asarray(u * size.reshape(-1) == flat.reshape(-1))
    u, ok = u.reshape(-1, 8), np.asarray(ok.reshape(-1, 8).all(axis=1))
    bad = np.flatnonzero(~ok)  # but a corner within float rounding at the image's scale is not a loss
    bad = bad[beyond_rounding(u[bad] * size[bad] - flat[bad], np.maximum(size[bad], np.abs(flat[bad]))).any(axis=1)]
    sink.add_many("corner not exactly representable in normalised text", len(bad),
                  [f"annotation id {int(a.ids[k])}" for k in bad[:5]])
    return [f"{k} {r}" for k, r in zip(cls, _rows_text(u, precision))]


def write_yolo_obb_into(ds: Dataset, root: Path, *, split: str = "train", recorder: LossRecorder | None = None,
                        kept_in: str | None = None, precision: int | None = None, images: Path | None = None
                        ) -> list[str]:
    """Write ``ds`` as a YOLO-OBB folder into the existing ``root``; return each image's key (its label path).
    Objects without corners are written as their boxes' corners (noted in the report)."""
    sink = _Sink(recorder if recorder is not None else LossRecorder(), kept_in)
    cat_order, cls_of = _class_indices(ds, sink)
    _dataset_losses(ds, "detect", sink)
    hw = _image_sizes(ds)
    cls = cls_of[ds.categories.index_of(ds.annotations.labels)].tolist()
    lines = _obb_lines(ds, hw, cls, precision, sink)
    keys, splits_used = _write_labels(ds, root, lines, split, images)
    _write_data_yaml(root, ds.categories.names, cat_order, splits_used, split)
    return keys
