"""LabelMe JSON (wkentaro/labelme): one ``<image>.json`` per image, beside it or in a folder of its own.

Conventions (every shift lives here), following labelme's ``labelme2coco`` example where it defines one:

- Objects: shapes of one ``label`` with one ``group_id`` are one object (its parts), a shape without a group_id is
  an object of its own, in order of first appearance (as ``labelme2coco`` groups them).
- Segmentation, as ``labelme2coco`` writes it: a ``polygon`` / ``oriented_rectangle`` is its points; a
  ``rectangle`` the 4-corner polygon ``[x1, y1, x2, y1, x2, y2, x1, y2]`` (corners sorted); a ``circle``
  (centre, a point on it) the polygon of ``n = max(12, int(pi / acos(1 - 1 / r)))`` points ``(cx + r cos a,
  cy + r sin a)`` (12 when ``r <= 1``); a ``mask`` (a PNG over the box of its 2 points, at integer ``x1, y1``)
  the COCO RLE of the whole image (an object mixing a mask with polygons: the RLE of their union).
- Boxes are the exact extent of the geometry (continuous edges: a rectangle's corners, a circle's ``cx +- r``, a
  mask's pixels), and areas the pixels of the segmentation as pycocotools rasterizes it; ``labelme2coco`` takes
  both from a PIL drawing of the shape (integer pixel boxes, a slightly different pixel count): that is the one
  difference from its output, on purpose.
- What a shape type other than ``polygon`` was, its ``flags``, ``description`` and other fields are kept in the
  object extras (``labelme_parts``), the group in ``group_id``, the first shape's other fields as object extras;
  all are written back, so LabelMe -> COCO -> LabelMe gives the same shapes.
- ``point``, ``points``, ``line`` and ``linestrip`` shapes are no regions: they are kept whole in the image's
  ``labelme_shapes`` (warned; ``labelme2coco`` would paint them 10 px wide) and written back.
- The image's ``flags`` and other top-level fields are kept in the image extras; ``imageData`` (the embedded
  image) is not carried: each file that has one is counted. ``file_name`` is ``imagePath`` seen from the folder
  read (``..`` resolved).
- Categories: ``labels.txt`` (``labelme2coco --labels``: with ``__ignore__`` first, line ``k`` is id ``k - 1``, so
  ``_background_`` is 0; otherwise line ``k`` is id ``k + 1``), labels it lacks appended (warned; ``labelme2coco``
  drops their shapes); without it, the labels sorted, from 1.
"""

from __future__ import annotations

import base64
import io
import math
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._annotool import (
    Number,
    ToolWriter,
    count_wh_spelling,
    extent,
    image_size_or_none,
    image_table,
    polygon_area,
    write_folder,
)
from annokit.io._safe import MAX_PIXELS
from annokit.io.validation import Problem, Problems, read_text

__all__ = ["LABELME_VERSION", "LabelmeFile", "LabelmeShape", "circle_polygon", "read_labelme", "read_labelme_keyed",
           "validate_labelme", "write_labelme", "write_labelme_into"]

PathLike = str | os.PathLike[str]
LABELME_VERSION = "5.5.0"
RegionType = Literal["polygon", "rectangle", "circle", "oriented_rectangle", "mask"]
REGIONS = ("polygon", "rectangle", "circle", "oriented_rectangle", "mask")
OTHERS = ("point", "points", "line", "linestrip")
IGNORE = "__ignore__"
_POINT_COUNT = {"point": 1, "rectangle": 2, "line": 2, "circle": 2, "mask": 2, "oriented_rectangle": 4}
_SHAPE_KEYS = {"label", "points", "group_id", "shape_type", "flags", "description", "mask"}
_TOP_KEYS = {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}


class LabelmeShape(BaseModel):
    """One shape: ``label``, ``points`` ``[[x, y], ...]`` (finite), ``shape_type`` (default polygon, as
    labelme2coco reads a file without it), ``group_id``, ``flags``, ``description``, ``mask`` (base64 PNG, for
    ``mask`` shapes); other fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label: Annotated[str, Strict()]
    points: Annotated[list[tuple[Number, Number]], Field(min_length=1)]
    shape_type: Literal["polygon", "rectangle", "circle", "oriented_rectangle", "mask", "point", "points", "line",
                        "linestrip"] | None = None
    group_id: Annotated[int, Strict()] | None = None
    flags: dict[str, Any] | None = None
    description: Annotated[str, Strict()] | None = None
    mask: Annotated[str, Strict()] | None = None

    @model_validator(mode="after")
    def _counts(self) -> LabelmeShape:
        t = self.shape_type or "polygon"
        want = _POINT_COUNT.get(t)
        if want is not None and len(self.points) != want:
            raise ValueError(f"a {t} has exactly {want} point{'s' * (want > 1)}, got {len(self.points)}")
        if t == "mask" and not self.mask:
            raise ValueError("a mask shape needs its 'mask' (a base64 PNG)")
        return self


class LabelmeFile(BaseModel):
    """One LabelMe JSON: its ``shapes``, ``imagePath``, ``imageHeight`` / ``imageWidth`` (positive; taken from
    the image when absent), ``imageData``, ``flags``, ``version``; other fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    shapes: list[LabelmeShape]
    imagePath: Annotated[str, Strict(), Field(min_length=1)]
    imageData: Annotated[str, Strict()] | None = None
    imageHeight: Annotated[int, Strict(), Field(gt=0, lt=2**31)] | None = None
    imageWidth: Annotated[int, Strict(), Field(gt=0, lt=2**31)] | None = None
    flags: dict[str, Any] | None = None
    version: Annotated[str, Strict()] | None = None


def circle_polygon(cx: float, cy: float, ex: float, ey: float) -> list[float]:
    """The polygon ``labelme2coco`` writes for a circle (centre ``cx, cy``, a point ``ex, ey`` on it)."""
    r = math.hypot(ex - cx, ey - cy)
    n = 12 if r <= 1.0 else max(12, int(math.pi / math.acos(1.0 - 1.0 / r)))
    ang = (2.0 * math.pi / n) * np.arange(n)
    xy = np.empty((n, 2), dtype=float)
    xy[:, 0] = cx + r * np.cos(ang)
    xy[:, 1] = cy + r * np.sin(ang)
    out: list[float] = xy.flatten().tolist()
    return out


# ----------------------------------------------------------------------------------------------- reading
@dataclass
class _Parsed:
    """What the check of the files found: one entry per image and per object."""

    keys: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    hw: list[tuple[int, int]] = field(default_factory=list)
    img_extras: list[dict[str, Any]] = field(default_factory=list)
    obj_img: list[int] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    segs: list[Any] = field(default_factory=list)
    obj_extras: list[dict[str, Any]] = field(default_factory=list)
    others: int = 0
    ignored: list[str] = field(default_factory=list)
    raster: bool = False
    areas: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Part:
    """One region shape of an object: its polygon (or mask bitmap), its extent, and what to keep of it."""

    poly: list[float] | None
    bitmap: np.ndarray | None
    box: tuple[float, float, float, float]
    record: dict[str, Any]


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = sorted(p for p in root.rglob("*.json") if p.name != "annokit.json")
    if not found:
        raise FormatError(root, None, "no LabelMe *.json file in this folder")
    return found


def _decode_png(b64: str, f: Path, where: str) -> np.ndarray:
    from PIL import Image

    from annokit.io._safe import warnings_off

    try:
        with warnings_off():
            im = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise FormatError(f, where, f"mask is {im.size[0]}x{im.size[1]}, over the pixel limit")
            arr = np.asarray(im)
    except (ValueError, OSError, SyntaxError) as exc:
        raise FormatError(f, where, f"not a base64 PNG: {exc}") from None
    out: np.ndarray = arr.astype(bool) if arr.ndim == 2 else np.asarray(arr.any(axis=-1))
    return out


def _decode_png_size(b64: str, f: Path) -> tuple[int, int]:
    """(height, width) of the embedded image, from its header."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(base64.b64decode(b64)))
    except (ValueError, OSError, SyntaxError) as exc:
        raise FormatError(f, "imageData", f"not a base64 image: {exc}") from None
    return int(im.size[1]), int(im.size[0])


def _mask_part(s: LabelmeShape, hw: tuple[int, int], f: Path, where: str) -> _Part:
    """A mask shape placed on the image as labelme's ``shapes_to_label`` places it."""
    patch = _decode_png(s.mask or "", f, f"{where}.mask")
    pts = np.asarray(s.points, dtype=np.float64)
    (x1, y1), (x2, y2) = np.round(pts).astype(int).tolist()
    ph, pw = (y2 - y1 + 1, x2 - x1 + 1) if np.array_equal(pts, np.trunc(pts)) else patch.shape
    ph, pw = min(ph, patch.shape[0]), min(pw, patch.shape[1])
    H, W = hw
    full = np.zeros((H, W), dtype=bool)
    ys, ye, xs, xe = max(y1, 0), min(y1 + ph, H), max(x1, 0), min(x1 + pw, W)
    if ys < ye and xs < xe:
        full[ys:ye, xs:xe] = patch[ys - y1:ye - y1, xs - x1:xe - x1]
    rows, cols = np.nonzero(full.any(axis=1))[0], np.nonzero(full.any(axis=0))[0]
    box = (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)) if len(rows) else \
        (float(xs), float(ys), float(xs), float(ys))
    return _Part(None, full, box, {"shape_type": "mask", "points": [list(p) for p in s.points]})


def _part(s: LabelmeShape, hw: tuple[int, int], f: Path, where: str) -> _Part:
    """One region shape as a polygon (``labelme2coco``'s) with its exact extent."""
    t = s.shape_type or "polygon"
    pts = [list(p) for p in s.points]
    if t == "mask":
        return _mask_part(s, hw, f, where)
    if t == "rectangle":
        (xa, ya), (xb, yb) = pts
        x1, x2 = sorted([xa, xb])
        y1, y2 = sorted([ya, yb])
        return _Part([x1, y1, x2, y1, x2, y2, x1, y2], None, (x1, y1, x2, y2), {"shape_type": t, "points": pts})
    if t == "circle":
        (cx, cy), (ex, ey) = pts
        r = math.hypot(ex - cx, ey - cy)
        return _Part(circle_polygon(cx, cy, ex, ey), None, (cx - r, cy - r, cx + r, cy + r),
                     {"shape_type": t, "points": pts})
    flat = [v for p in pts for v in p]
    rec: dict[str, Any] = {"shape_type": t} if t != "polygon" else {}
    return _Part(flat, None, extent([flat]), rec)


def _shape_extras(s: LabelmeShape) -> dict[str, Any]:
    """A shape's fields that are not geometry: non-default flags and description, and its other fields."""
    ex: dict[str, Any] = {}
    if s.flags:
        ex["flags"] = s.flags
    if s.description:
        ex["description"] = s.description
    ex.update(s.model_extra or {})
    return ex


def _drawn(parts: list[_Part], shapes: list[LabelmeShape], hw: tuple[int, int]) -> tuple[Any, float]:
    """The box and area ``labelme2coco`` gives an object: the extent and pixel count of its shapes drawn with PIL
    (outline and fill, as labelme's ``shape_to_mask`` draws them)."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (hw[1], hw[0]), 0)
    draw = ImageDraw.Draw(canvas)
    m = np.zeros(hw, dtype=bool)
    for p, s in zip(parts, shapes):
        t, xy = s.shape_type or "polygon", [tuple(v) for v in s.points]
        if p.bitmap is not None:
            m |= p.bitmap
        elif t == "rectangle":
            (xa, ya), (xb, yb) = xy
            draw.rectangle(((min(xa, xb), min(ya, yb)), (max(xa, xb), max(ya, yb))), outline=1, fill=1)
        elif t == "circle":
            (cx, cy), (ex, ey) = xy
            d = math.sqrt((cx - ex) ** 2 + (cy - ey) ** 2)
            draw.ellipse(((cx - d, cy - d), (cx + d, cy + d)), outline=1, fill=1)
        else:
            draw.polygon(xy, outline=1, fill=1)
    m |= np.asarray(canvas, dtype=bool)
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    if not len(rows):
        return (0.0, 0.0, 0.0, 0.0), 0.0
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)), float(m.sum())


def _object(parts: list[_Part], shapes: list[LabelmeShape], hw: tuple[int, int]) -> tuple[Any, Any, dict[str, Any]]:
    """An object's box, segmentation and extras from its parts (in file order)."""
    from annokit.core.masks import bitmap_to_rle, polygons_to_rle, rle_to_bitmap

    box = (min(p.box[0] for p in parts), min(p.box[1] for p in parts), max(p.box[2] for p in parts),
           max(p.box[3] for p in parts))
    seg: Any
    if any(p.bitmap is not None for p in parts):
        m = np.zeros(hw, dtype=bool)
        for p in parts:
            m |= p.bitmap if p.bitmap is not None else rle_to_bitmap(polygons_to_rle([p.poly or []], *hw))
        rle = bitmap_to_rle(m)
        c = rle["counts"]
        seg = {"size": [hw[0], hw[1]], "counts": c.decode() if isinstance(c, bytes) else c}
    else:
        seg = [p.poly for p in parts]
    ex = dict(shapes[0].model_extra or {})
    if shapes[0].group_id is not None:
        ex["group_id"] = shapes[0].group_id
    recs = [dict(p.record, **{k: v for k, v in _shape_extras(s).items() if k in ("flags", "description") or i})
            for i, (p, s) in enumerate(zip(parts, shapes))]
    if any(recs):
        ex["labelme_parts"] = recs
    return box, seg, ex


def _image_size(doc: LabelmeFile, f: Path, problems: Problems) -> tuple[int, int] | None:
    if doc.imageHeight is not None and doc.imageWidth is not None:
        if doc.imageHeight * doc.imageWidth > MAX_PIXELS:
            problems.error(f, "imageHeight", f"{doc.imageWidth}x{doc.imageHeight} is over the pixel limit")
            return None
        return doc.imageHeight, doc.imageWidth
    hw: tuple[int, int] | None = None
    if doc.imageData:
        hw = _decode_png_size(doc.imageData, f)
    else:
        try:
            hw = image_size_or_none(f.parent, doc.imagePath.replace("\\", "/"), source=f, where="imagePath")
        except FormatError:  # a name outside the folder: not looked at
            hw = None
    if hw is None:
        problems.error(f, "imageHeight", "no imageHeight / imageWidth and the image is not beside the JSON")
    return hw


def _add_shapes(doc: LabelmeFile, raw: list[dict[str, Any]], f: Path, hw: tuple[int, int], img: int, out: _Parsed,
                ignore: bool) -> list[dict[str, Any]]:
    """The file's region shapes grouped into objects (appended to ``out``); returns the other shapes."""
    groups: dict[Any, tuple[list[_Part], list[LabelmeShape]]] = {}
    others: list[dict[str, Any]] = []
    for k, s in enumerate(doc.shapes):
        if s.label == IGNORE and ignore:
            out.ignored.append(f"{f.name}: shapes[{k}]")
            continue
        if (s.shape_type or "polygon") in OTHERS:
            others.append(raw[k])  # kept as the file has it
            continue
        key = (s.label, s.group_id) if s.group_id is not None else ("", k, None)
        parts, shapes = groups.setdefault(key, ([], []))
        parts.append(_part(s, hw, f, f"shapes[{k}]"))
        shapes.append(s)
    for parts, shapes in groups.values():
        box, seg, ex = _object(parts, shapes, hw)
        if out.raster:
            box, area = _drawn(parts, shapes, hw)
            out.areas.append(area)
        out.obj_img.append(img)
        out.boxes.append(box)
        out.labels.append(shapes[0].label)
        out.segs.append(seg)
        out.obj_extras.append(ex)
    return others


def _add_file(f: Path, root: Path, problems: Problems, recorder: LossRecorder | None, out: _Parsed, ignore: bool
              ) -> None:
    from annokit.io.coco import load_json

    data = load_json(f)
    if not (isinstance(data, dict) and ("shapes" in data or "imagePath" in data)):
        problems.warning(f, None, "not a LabelMe file (no 'shapes' nor 'imagePath'); not read")
        if recorder is not None:
            recorder.add("JSON files that are not LabelMe files (no 'shapes' nor 'imagePath') not read", f.name)
        return
    try:
        doc = LabelmeFile.model_validate(data)
    except pydantic.ValidationError as exc:
        problems.schema_errors(exc, f)
        return
    hw = _image_size(doc, f, problems)
    if hw is None:
        return
    key = posixpath.relpath(f.as_posix(), root.as_posix()) if root.is_dir() else f.name
    rel_dir = posixpath.dirname(key)
    name = posixpath.normpath(posixpath.join(rel_dir, doc.imagePath.replace("\\", "/")))
    if doc.imageData and recorder is not None:
        recorder.add("embedded image (imageData) not carried: annokit converts annotations, not pixels", key)
    img = len(out.keys)
    others = _add_shapes(doc, data["shapes"], f, hw, img, out, ignore)
    iex: dict[str, Any] = dict(doc.model_extra or {})
    if doc.flags:
        iex["flags"] = doc.flags
    if others:
        iex["labelme_shapes"] = others
        out.others += len(others)
    out.keys.append(key)
    out.names.append(name)
    out.hw.append(hw)
    out.img_extras.append(iex)


def _check_labelme(path: PathLike, *, problems: Problems, recorder: LossRecorder | None, ignore: bool,
                   raster: bool = False) -> _Parsed:
    """The rules of the format, shared by :func:`read_labelme_keyed` and :func:`validate_labelme`; ``ignore``:
    shapes labelled ``__ignore__`` are left out (labels.txt starts with it); ``raster``: boxes and areas as
    ``labelme2coco`` draws them."""
    root = Path(path)
    out = _Parsed(raster=raster)
    for f in _files(root):
        with problems.guard(f):
            _add_file(f, root, problems, recorder, out, ignore)
    if out.ignored and recorder is not None:
        recorder.add_many("shapes labelled __ignore__ not read (labels.txt ignores them, as labelme2coco does)",
                          len(out.ignored), out.ignored[:5])
    return out


def _label_lines(labels: Path | None, root: Path) -> list[str] | None:
    p = labels if labels is not None else (root / "labels.txt" if root.is_dir() else root.parent / "labels.txt")
    if not p.is_file():
        if labels is not None:
            raise FormatError(p, None, "labels file not found")
        return None
    return [ln.strip() for ln in read_text(p).splitlines() if ln.strip()]


def _categories(parsed: _Parsed, lines: list[str] | None, recorder: LossRecorder | None) -> LabelSet:
    if lines is None:
        return LabelSet.from_names(sorted(set(parsed.labels)))
    start = -1 if lines and lines[0] == "__ignore__" else 1
    pairs = [(start + k, n) for k, n in enumerate(lines) if not (start == -1 and k == 0)]
    names = [n for _, n in pairs]
    extra = sorted(set(parsed.labels) - set(names))
    if extra and recorder is not None:
        recorder.warn(f"labels not in labels.txt, added after it: {', '.join(map(repr, extra))} (labelme2coco drops "
                      "their shapes)")
    nxt = max([i for i, _ in pairs], default=0) + 1
    pairs += [(nxt + k, n) for k, n in enumerate(extra)]
    return LabelSet(ids=np.asarray([i for i, _ in pairs], dtype=np.int64), names=[n for _, n in pairs])


def read_labelme_keyed(path: PathLike, *, labels: PathLike | None = None, raster_boxes: bool = False,
                       recorder: LossRecorder | None = None) -> tuple[Dataset, list[str]]:
    """:func:`read_labelme` and each image's key (its JSON's path from the folder), for the sidecar."""
    root = Path(path)
    lines = _label_lines(Path(labels) if labels is not None else None, root)
    ignore = lines is not None and lines[:1] == [IGNORE]
    parsed = _check_labelme(root, problems=Problems(collect=False), recorder=recorder, ignore=ignore,
                            raster=raster_boxes)
    cats = _categories(parsed, lines, recorder)
    lab = dict(zip(cats.names, cats.ids.tolist()))
    images = image_table(parsed.names, parsed.hw, parsed.img_extras)
    boxes = np.asarray(parsed.boxes, dtype=np.float64).reshape(-1, 4)
    area = np.asarray(parsed.areas, dtype=np.float64) if raster_boxes else \
        polygon_area(parsed.segs, [parsed.hw[i] for i in parsed.obj_img], boxes)
    ann = Instances(image_ids=np.asarray(parsed.obj_img, dtype=np.int64) + 1, boxes=boxes,
                    labels=np.asarray([lab[v] for v in parsed.labels], dtype=np.int64), area=area,
                    segmentations=list(parsed.segs) if parsed.segs else None,
                    extras=parsed.obj_extras if any(parsed.obj_extras) else None)
    if parsed.others and recorder is not None:
        recorder.warn(f"{path}: {parsed.others} point / points / line / linestrip shapes are no regions: kept whole "
                      "in each image's labelme_shapes field (written back to LabelMe; other formats keep it only "
                      "where they keep image fields)")
    return Dataset(images=images, categories=cats, annotations=ann), list(parsed.keys)


def read_labelme(path: PathLike, *, labels: PathLike | None = None, raster_boxes: bool = False,
                 recorder: LossRecorder | None = None) -> Dataset:
    """Read LabelMe JSON: one file, or every ``*.json`` under a folder.

    Parameters
    ----------
    path : str or PathLike
    labels : str or PathLike, optional
        ``labels.txt`` giving category ids by line (default: ``labels.txt`` in the folder, when there).
    raster_boxes : bool
        Boxes and areas as ``labelme2coco`` computes them (extent and pixel count of the shapes drawn with PIL)
        instead of the exact extent of the geometry and pycocotools' pixel count of the segmentation.
    recorder : LossRecorder, optional
        Where embedded images (not carried) are counted.

    Returns
    -------
    Dataset
        Images numbered from 1 in file order; see the module notes for objects and categories.

    Examples
    --------
    >>> ds = read_labelme("data_annotated/")  # doctest: +SKIP
    """
    return read_labelme_keyed(path, labels=labels, raster_boxes=raster_boxes, recorder=recorder)[0]


def validate_labelme(path: PathLike) -> list[Problem]:
    """Every problem of a LabelMe file or folder, with its file and place (see :func:`read_labelme`)."""
    problems = Problems(collect=True)
    with problems.guard(path):
        lines = _label_lines(None, Path(path))
        _check_labelme(path, problems=problems, recorder=None, ignore=lines is not None and lines[:1] == [IGNORE])
    return problems.items


# ----------------------------------------------------------------------------------------------- writing
_Writer = ToolWriter


def _png_b64(m: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(m, dtype=bool)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y for x, y in zip(a, b))


def _polygon_shape(poly: list[float], rec: dict[str, Any]) -> dict[str, Any]:
    """The shape of one polygon part: the recorded rectangle / circle / oriented rectangle when it still gives this
    polygon, else a polygon."""
    t, pts = rec.get("shape_type"), rec.get("points")
    if t in ("rectangle", "circle") and isinstance(pts, list) and len(pts) == 2:
        try:
            part = _part(LabelmeShape(label="", points=pts, shape_type=t), (0, 0), Path(), "")
        except pydantic.ValidationError:  # the record was edited into something else: the polygon is the truth
            part = None
        if part is not None and part.poly is not None and _same(part.poly, poly):
            return {"points": pts, "shape_type": t}
    points = [[poly[i], poly[i + 1]] for i in range(0, len(poly) - 1, 2)]
    if t == "oriented_rectangle" and len(points) == 4:
        return {"points": points, "shape_type": t}
    return {"points": points, "shape_type": "polygon"}


def _mask_shape(w: _Writer, r: int, hw: tuple[int, int]) -> dict[str, Any] | None:
    from annokit.core.masks import rle_to_bitmap, segmentation_to_rle

    a = w.ds.annotations
    m = rle_to_bitmap(segmentation_to_rle(a.segmentations[r] if a.segmentations is not None else None, *hw))
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    if not len(rows):
        return None
    y1, y2, x1, x2 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    if not np.array_equal(a.boxes[r], [x1, y1, x2 + 1, y2 + 1]):
        w.lost("box: a LabelMe mask's box is its pixels' extent", f"annotation id {int(a.ids[r])}")
    return {"points": [[float(x1), float(y1)], [float(x2), float(y2)]], "shape_type": "mask",
            "mask": _png_b64(m[y1:y2 + 1, x1:x2 + 1])}


def _geometry(w: _Writer, r: int, hw: tuple[int, int], parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shapes (geometry only) of object row ``r``."""
    a = w.ds.annotations
    seg = a.segmentations[r] if a.segmentations is not None else None
    where = f"annotation id {int(a.ids[r])}"
    if seg is None:
        b = a.boxes[r].tolist()
        return [{"points": [[b[0], b[1]], [b[2], b[3]]], "shape_type": "rectangle"}]
    if isinstance(seg, list):
        recs = parts if len(parts) == len(seg) else [{}] * len(seg)
        shapes = [_polygon_shape(list(p), rec) for p, rec in zip(seg, recs)]
        box = [_part(LabelmeShape(label="", points=s["points"], shape_type=s["shape_type"]), hw, Path(), "").box
               for s in shapes]
        ext = [min(b[0] for b in box), min(b[1] for b in box), max(b[2] for b in box), max(b[3] for b in box)]
        if not np.array_equal(a.boxes[r], ext):
            w.lost("box: a LabelMe shape's box is its extent", where)
        return shapes
    if a.iscrowd[r]:
        w.lost("crowd flag: LabelMe has none", where)
    shape = _mask_shape(w, r, hw)
    if shape is None:
        w.lost("empty mask: written as its box (a rectangle)", where)
        b = a.boxes[r].tolist()
        return [{"points": [[b[0], b[1]], [b[2], b[3]]], "shape_type": "rectangle"}]
    return [shape]


def _object_shapes(w: _Writer, r: int, hw: tuple[int, int], next_group: list[int]) -> list[dict[str, Any]]:
    a = w.ds.annotations
    ex = dict(a.extras[r]) if a.extras is not None else {}
    parts = ex.pop("labelme_parts", None)
    parts = parts if isinstance(parts, list) and all(isinstance(p, dict) for p in parts) else []
    geo = _geometry(w, r, hw, parts)
    gid = ex.pop("group_id", None)
    if not (isinstance(gid, int) and not isinstance(gid, bool)):
        gid = None
    if gid is None and len(geo) > 1:
        gid = next_group[0]
        next_group[0] += 1
    out = []
    for k, g in enumerate(geo):
        rec = parts[k] if len(parts) == len(geo) else {}
        shape: dict[str, Any] = {"label": w.names[int(a.labels[r])], "points": g["points"], "group_id": gid,
                                 "description": rec.get("description", ""), "shape_type": g["shape_type"],
                                 "flags": rec.get("flags", {})}
        if "mask" in g:
            shape["mask"] = g["mask"]
        more = ex if k == 0 else {x: v for x, v in rec.items() if x not in ("shape_type", "points", "flags",
                                                                              "description")}
        shape.update({x: v for x, v in more.items() if x not in _SHAPE_KEYS})
        out.append(shape)
    return out


def _json_path(w: _Writer, i: int, used: set[str]) -> tuple[str, str]:
    """The JSON's path in the output and the ``imagePath`` written in it."""
    fn = w.ds.images.file_names[i]
    try:
        rel = safe_name(fn)
        folder, image_path = posixpath.dirname(rel), posixpath.basename(rel)
    except FormatError:  # a name outside the dataset: the JSON at the top, imagePath as it is
        folder, image_path = "", fn
    stem = posixpath.splitext(posixpath.basename(image_path))[0] or f"image_{int(w.ds.images.ids[i])}"
    stem = safe_name(stem.replace("/", "_")) if stem not in (".", "..") else f"image_{int(w.ds.images.ids[i])}"
    key = posixpath.join(folder, stem + ".json")
    k = 2
    while key in used or key == "annokit.json" or key == "labels.txt":
        key = posixpath.join(folder, f"{stem}_{k}.json")
        k += 1
    used.add(key)
    return key, image_path


def _image_doc(w: _Writer, i: int, rows: np.ndarray, image_path: str) -> dict[str, Any]:
    im = w.ds.images
    h, wd = int(im.heights[i]), int(im.widths[i])
    iex = dict(im.extras[i]) if im.extras is not None else {}
    flags = iex.pop("flags", {})
    others = iex.pop("labelme_shapes", [])
    ex = w.ds.annotations.extras
    used = {e.get("group_id") for e in (ex[r] for r in rows.tolist())} if ex is not None else set()
    next_group = [max([g for g in used if isinstance(g, int) and not isinstance(g, bool)], default=-1) + 1]
    shapes = [s for r in rows.tolist() for s in _object_shapes(w, r, (h, wd), next_group)]
    shapes += [s for s in others if isinstance(s, dict)] if isinstance(others, list) else []
    doc: dict[str, Any] = {"version": LABELME_VERSION, "flags": flags if isinstance(flags, dict) else {},
                           "shapes": shapes, "imagePath": image_path, "imageData": None, "imageHeight": h,
                           "imageWidth": wd}
    doc.update({k: v for k, v in iex.items() if k not in _TOP_KEYS})
    return doc


def _label_file(w: _Writer) -> str | None:
    """``labels.txt``: the names in id order, with ``__ignore__`` first when the ids are 0..n-1 (None when a name
    cannot be a line: reading back then sorts the labels)."""
    cats = w.ds.categories
    order = np.argsort(cats.ids, kind="stable")
    ids = cats.ids[order]
    names = [cats.names[k] for k in order.tolist()]
    if any(not n.strip() or n != n.strip() or "\n" in n or "\r" in n for n in names) or len(set(names)) < len(names):
        w.rec.add_many("category ids: no labels.txt (a name is empty, padded, multi-line or repeated)", len(cats),
                       kept_in=w.kept_in)
        return None
    if np.array_equal(ids, np.arange(len(ids))):
        names = ["__ignore__", *names]
    elif not np.array_equal(ids, np.arange(1, len(ids) + 1)):
        w.rec.add_many("category ids: labels.txt numbers labels by line", len(cats), kept_in=w.kept_in)
    return "\n".join(names) + "\n"


def _dataset_losses(w: _Writer) -> None:
    ds, a = w.ds, w.ds.annotations
    count_wh_spelling(a, w.rec, w.kept_in, "LabelMe")
    w.rec.add_many("annotation ids: LabelMe has none (objects numbered in order on reading)", len(a),
                   kept_in=w.kept_in)
    w.rec.add_many("image ids: LabelMe has none (images numbered in order on reading)", len(ds.images),
                   kept_in=w.kept_in)
    w.rec.add_many("object areas: LabelMe has none (measured from the geometry on reading)", len(a),
                   kept_in=w.kept_in)
    if a.scores is not None:
        w.rec.add_many("scores: LabelMe has none", len(a), kept_in=w.kept_in)
    cats = ds.categories
    if (cats.supercategories is not None and any(cats.supercategories)) or cats.extras is not None:
        w.rec.add_many("category supercategories and fields: LabelMe has none", len(cats), kept_in=w.kept_in)
    if ds.info or ds.licenses or ds.extras:
        w.rec.add("dataset info, licenses and other top-level fields: LabelMe has none", kept_in=w.kept_in)


def write_labelme_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None,
                       kept_in: str | None = None) -> list[str]:
    """Write one LabelMe JSON per image (and ``labels.txt``) into an existing folder; returns each image's key."""
    w = _Writer(ds, recorder if recorder is not None else LossRecorder(), kept_in)
    pos = ds.images.index_of(ds.annotations.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(ds.images) + 1))
    used: set[str] = set()
    keys = []
    text = _label_file(w)
    if text is not None:
        (root / "labels.txt").write_text(text, encoding="utf-8")
    for i in range(len(ds.images)):
        key, image_path = _json_path(w, i, used)
        doc = _image_doc(w, i, order[starts[i]:starts[i + 1]], image_path)
        out = root / key
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        keys.append(key)
    _dataset_losses(w)
    return keys


def write_labelme(ds: Dataset, root: PathLike, *, overwrite: bool = False) -> LossRecorder:
    """Write ``ds`` as LabelMe JSON: one ``<stem>.json`` per image under ``root`` (by its ``file_name``'s
    folders) and ``labels.txt``; the folder appears whole or not at all.

    Parameters
    ----------
    ds : Dataset
    root : str or PathLike
        The folder to create.
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    LossRecorder
        What LabelMe could not hold.

    Examples
    --------
    >>> write_labelme(ds, "labelme_out")  # doctest: +SKIP
    """
    return write_folder("labelme", lambda tmp, rec: write_labelme_into(ds, tmp, recorder=rec), root,
                        overwrite=overwrite)
