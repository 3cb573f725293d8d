"""Pieces shared by the readers of annotation-tool formats (LabelMe, CVAT, CreateML; private to :mod:`annokit.io`).

- :data:`Number`: a finite JSON number (``true`` is not a number, ``1e999`` is refused), for pydantic schemas.
- :func:`image_size_or_none`: an image's (height, width) from its header, or None when the file is not there.
- :func:`extent`: the ltrb extent of flat ``[x0, y0, x1, y1, ...]`` polygons.
- :func:`polygon_area`: each object's area as COCO measures it (pixels of the rasterized segmentation).
- :func:`number_text`: a coordinate as short exact text (``10``, ``10.5``, ``0.30000000000000004``).
"""

from __future__ import annotations

import math
import os
import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import PlainValidator

from annokit._internal.files import atomic_dir
from annokit._internal.paths import safe_join
from annokit.core.arrays import FloatArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.losses import LossRecorder
from annokit.io._safe import image_hw

__all__ = ["Number", "ToolWriter", "count_wh_spelling", "extent", "image_size_or_none", "image_table", "number_text",
           "polygon_area", "write_folder"]


def _number(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            f = float(v)
        except OverflowError:
            raise ValueError(f"number too large, got {reprlib.repr(v)}") from None
        if math.isfinite(f):
            return f
    raise ValueError(f"expected a finite number, got {reprlib.repr(v)}")


Number = Annotated[float, PlainValidator(_number)]
"""A finite number (int or float in the file; booleans, NaN and overflowing values refused)."""


def image_size_or_none(root: Path, name: str, *, source: Any = None, where: str | None = None
                       ) -> tuple[int, int] | None:
    """(height, width) of the image ``name`` under ``root`` from its header; None when it is not a file there.

    A name that leaves ``root`` (``..``, an absolute path) is a :class:`~annokit.errors.FormatError`."""
    p = safe_join(root, name, source=source, where=where)
    if not p.is_file():
        return None
    return image_hw(p)


def image_table(names: list[str], hw: Sequence[tuple[int, int]], extras: list[dict[str, Any]], *,
                ids: Any = None) -> ImageTable:
    """The images read: ids from 1 in order (unless given), their names, sizes and extras (None when all empty)."""
    n = len(names)
    return ImageTable(ids=np.arange(1, n + 1) if ids is None else ids, file_names=names,
                      heights=np.asarray([x[0] for x in hw], dtype=np.int64).reshape(n),
                      widths=np.asarray([x[1] for x in hw], dtype=np.int64).reshape(n),
                      extras=extras if any(extras) else None)


def extent(polygons: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """The ltrb extent of flat polygons ``[[x0, y0, x1, y1, ...], ...]`` (none empty)."""
    xs = [v for p in polygons for v in p[0::2]]
    ys = [v for p in polygons for v in p[1::2]]
    return min(xs), min(ys), max(xs), max(ys)


def polygon_area(segs: Sequence[Any], hws: Sequence[tuple[int, int]], boxes: FloatArray) -> FloatArray:
    """Each object's area: the pixel count of its rasterized segmentation (as pycocotools counts it) where it has
    one and its image has a size, else its box area."""
    from annokit.core.masks import rle_area, segmentation_to_rle

    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = np.array(area, dtype=np.float64)
    for i, (seg, (h, w)) in enumerate(zip(segs, hws)):
        if seg is not None and h > 0 and w > 0:
            out[i] = float(rle_area([segmentation_to_rle(seg, h, w)])[0])
    return out


def number_text(v: float) -> str:
    """``v`` as the shortest text that reads back as exactly ``v`` (integers without a decimal point)."""
    f = float(v)
    if f.is_integer() and abs(f) < 2**53:
        return str(int(f))
    return repr(f)


def count_wh_spelling(a: Instances, rec: LossRecorder, kept_in: str | None, fmt: str) -> None:
    """Count the boxes whose COCO width / height (as the source spelt them) an ltrb format cannot give back: the
    same edges, but ``r - l`` is another float than the source's ``w``."""
    if a.source_wh is None or not len(a):
        return
    from annokit.io.coco import ltrb_to_coco_bbox

    back = ltrb_to_coco_bbox(a.boxes)[:, 2:]
    bad = np.flatnonzero((back != a.source_wh).any(axis=1))
    rec.add_many(f"COCO width/height spelling: {fmt} keeps box edges (same box, w = r - l another float)", len(bad),
                 [f"annotation id {int(a.ids[k])}" for k in bad[:5]], kept_in=kept_in)


def write_folder(fmt: str, write_into: Callable[[Path, LossRecorder], Any], root: str | os.PathLike[str], *,
                 overwrite: bool) -> LossRecorder:
    """Run ``write_into(folder, recorder)`` in a temporary folder renamed onto ``root`` when it succeeds; the
    recorder of what format ``fmt`` could not hold."""
    rec = LossRecorder("memory", fmt)
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_into(tmp, rec)
    return rec


@dataclass
class ToolWriter:
    """A dataset being written: where its losses go (``kept_in``: the sidecar that keeps them, or None) and its
    category names by id."""

    ds: Dataset
    rec: LossRecorder
    kept_in: str | None
    names: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = dict(zip(self.ds.categories.ids.tolist(), self.ds.categories.names))

    def lost(self, kind: str, where: str | None = None) -> None:
        """One object (or image) whose ``kind`` of information the format cannot hold."""
        self.rec.add(kind, where, kept_in=self.kept_in)
