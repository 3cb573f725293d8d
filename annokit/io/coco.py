"""COCO instances and results files.

Conventions (all shifts live here): COCO boxes are ``[x, y, w, h]`` in pixel-edge coordinates and become ltrb
``[x, y, x + w, y + h]``; writing back recovers ``w`` as the shortest float that gives the same right edge, so a
file read and written again keeps its numbers. Segmentations are kept in the form the file has them (polygons,
compressed or uncompressed RLE). Every other field (top level, per image, per category, per annotation) is kept
and written back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import reprlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import numpy as np
import orjson

from annokit._internal.arrays import index_of
from annokit._internal.files import write_bytes_atomic
from annokit._internal.jsonfile import load_json, parse_json, read_json_bytes
from annokit._internal.paths import safe_name
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.rle_check import rle_strings_ok
from annokit.errors import FormatError, ValidationError
from annokit.io.coco_keypoints import NO_KEYPOINTS, keypoints_from_records, keypoints_to_lists
from annokit.io.validation import FieldError, Problem, Problems

if TYPE_CHECKING:
    from annokit.core.coco_results import SplitRead
    from annokit.core.dataset import Dataset, ImageTable
    from annokit.core.instances import Instances
    from annokit.core.labels import LabelSet
    from annokit.io.coco_schema import (
        ANNOTATION,
        CATEGORY,
        IMAGE,
        CocoAnnotation,
        CocoCategory,
        CocoImage,
        CocoInstancesFile,
    )

__all__ = ["ANNOTATION", "CATEGORY", "IMAGE", "CategoryColumns", "CocoAnnotation", "CocoCategory", "CocoImage",
           "CocoInstancesFile", "ImageColumns", "InstanceColumns", "ObjectColumns", "categories_to_coco",
           "coco_annotation_records", "coco_image_records", "coco_top_level", "dataset_from_coco_dict",
           "dataset_to_coco_dict", "load_json", "ltrb_to_coco_bbox", "parse_json", "read_instance_columns",
           "read_instances", "read_json_bytes", "read_result_objects", "read_results",
           "results_to_list", "validate_coco", "write_instances", "write_results"]

_SCHEMA = {"ANNOTATION", "CATEGORY", "IMAGE", "TOP", "CocoAnnotation", "CocoCategory", "CocoImage", "CocoInstancesFile"}


def __getattr__(name: str) -> Any:
    """The record schema (:mod:`annokit.io.coco_schema`, pydantic) is imported on first use."""
    if name in _SCHEMA:
        from annokit.io import coco_schema

        return getattr(coco_schema, name)
    raise AttributeError(f"module 'annokit.io.coco' has no attribute {name!r}")

PathLike = str | os.PathLike[str]

_IMAGE_KEYS = {"id", "file_name", "height", "width"}
_CAT_KEYS = {"id", "name", "supercategory"}
_ANN_KEYS = {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation", "ignore"}
# ----------------------------------------------------------------------------------------------- helpers
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool))


_NUMBER_TYPES = {int, float}


def _short(v: Any) -> str:
    """A bounded repr of a value from a file, for messages."""
    return reprlib.repr(v)


# ----------------------------------------------------------------------------------------------- the schema
# The rules of a COCO instances file, one field at a time: the TypedDicts below, checked by pydantic
# (``IMAGE``, ``CATEGORY``, ``ANNOTATION``). :func:`dataset_from_coco_dict` reads whole columns with numpy and asks
# the schema only to name the record a column could not take; :func:`validate_coco` checks every record with it.
INT64_MAX = 2**63 - 1


def _int64(v: Any) -> int:
    if not _is_int(v):
        raise FieldError(f"expected an integer, got {_short(v)}")
    if not -INT64_MAX - 1 <= v <= INT64_MAX:
        raise FieldError(f"integer out of the 64-bit range: {v}")
    return int(v)


def _image_id(v: Any) -> int | str:
    if isinstance(v, str):
        return v
    try:
        return _int64(v)
    except FieldError:
        raise FieldError(f"expected an integer or a string, got {_short(v)}") from None


def _size(v: Any) -> int:
    if not _is_int(v) or v < 0:
        raise FieldError(f"expected a non-negative integer, got {_short(v)}")
    return _int64(v)


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise FieldError(f"expected a string, got {_short(v)}")
    return v


def _bbox(v: Any) -> list[float]:
    if not (isinstance(v, list) and len(v) == 4 and all(map(_is_num, v))):
        raise FieldError(f"expected 4 numbers [x, y, w, h], got {_short(v)}")
    x, y, w, h = v
    if not all(map(math.isfinite, v)) or not (math.isfinite(x + w) and math.isfinite(y + h)
                                              and math.isfinite(w * h)):
        raise FieldError(f"not finite (or its right edge, bottom edge or area is not): {_short(v)}")
    if w < 0 or h < 0:
        raise FieldError(f"{'width' if w < 0 else 'height'} is negative ({float(w if w < 0 else h)})")
    return v


def _area(v: Any) -> float:
    if not _is_num(v):
        raise FieldError(f"expected a number, got {_short(v)}")
    if not math.isfinite(v):
        raise FieldError(f"not finite: {_short(v)}")
    if v < 0:
        raise FieldError(f"negative ({v})")
    return float(v)


def _crowd(v: Any) -> int:
    if not _is_int(v) or v not in (0, 1):
        raise FieldError(f"expected 0 or 1, got {_short(v)}")
    return int(v)


def _flag(v: Any) -> bool:
    if not isinstance(v, (int, bool)) or v not in (0, 1):
        raise FieldError(f"expected 0, 1, true or false, got {_short(v)}")
    return bool(v)


def _polygons(seg: list[Any]) -> None:
    for j, poly in enumerate(seg):
        if not isinstance(poly, list):
            raise FieldError("polygon is not a list of numbers", f"[{j}]")
        if len(poly) % 2:
            raise FieldError(f"odd number of coordinates ({len(poly)})", f"[{j}]")
        if len(poly) < 6:
            raise FieldError(f"polygon has fewer than 3 points ({len(poly) // 2})", f"[{j}]")
        if not set(map(type, poly)) <= _NUMBER_TYPES or not all(map(math.isfinite, poly)):
            bad = next(v for v in poly if not _is_num(v) or not math.isfinite(v))
            raise FieldError(f"coordinate is not a finite number: {_short(bad)}", f"[{j}]")


def _rle(seg: dict[str, Any]) -> None:
    size = seg.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(s) and 0 <= s < 2**31 for s in size)):
        raise FieldError(f"expected [height, width], got {_short(size)}", ".size")
    counts = seg.get("counts")
    total = size[0] * size[1]
    if isinstance(counts, list):
        if not all(_is_int(c) and 0 <= c <= total for c in counts) or sum(counts) != total:
            if not all(_is_int(c) and c >= 0 for c in counts):
                raise FieldError("uncompressed counts must be non-negative integers", ".counts")
            raise FieldError(f"uncompressed counts sum to {sum(counts)}, not height*width = {total}", ".counts")
    elif isinstance(counts, str):
        if not counts.isascii() or not rle_strings_ok([counts.encode("ascii")], [total])[0]:
            raise FieldError("compressed counts are not a valid RLE string of height*width pixels", ".counts")
    else:
        raise FieldError("expected a string or a list of run lengths", ".counts")


def _segmentation(v: Any) -> Any:
    if isinstance(v, list):
        _polygons(v)
    elif isinstance(v, dict):
        _rle(v)
    elif v is not None:
        raise FieldError(f"expected polygons or an RLE dict, got {type(v).__name__}")
    return v


# ----------------------------------------------------------------------------------------------- instances
def _explain(p: Path, items: list[Any], schema: str, label: str, what: str) -> NoReturn:
    """A column could not be read: raise the schema's error (``schema``: the name of its adapter in
    :mod:`annokit.io.coco_schema`) for the first record that breaks it."""
    from annokit.io import coco_schema

    adapter = getattr(coco_schema, schema)
    problems = Problems(collect=False)
    for i, it in enumerate(items):
        problems.check(adapter, it, p, f"{label}[{i}]")
    raise FormatError(p, label, f"cannot read {what}")  # the schema accepts what the fast path refused


def _int_col(items: list[Any], key: str, default: int | None = None) -> IntArray | None:
    """``(N,)`` int64 of ``items[i][key]`` in one numpy pass; None when any value is not a 64-bit integer."""
    try:
        vals = [it[key] for it in items] if default is None else [it.get(key, default) for it in items]
        if not set(map(type, vals)) <= {int}:  # bools, floats, strings do not pass
            return None
        arr = np.fromiter(vals, dtype=np.int64, count=len(vals))
    except (KeyError, ValueError, TypeError, OverflowError, AttributeError):
        return None
    return arr


def _bbox_col(items: list[Any], exact_types: bool) -> FloatArray | None:
    """``(N, 4)`` xywh of the ``bbox`` of ``items``; None when any is not 4 finite numbers with ``w, h >= 0`` and
    finite right and bottom edges. ``exact_types``: also refuse bools (which numpy would read as 0 / 1)."""
    try:
        bbs = [it["bbox"] for it in items]
    except (KeyError, TypeError):
        return None
    if not len(items):
        return np.zeros((0, 4))
    if set(map(type, bbs)) == {list} and set(map(len, bbs)) == {4} \
            and set(map(type, chain.from_iterable(bbs))) <= _NUMBER_TYPES:  # what a JSON parser gives: no list of
        try:  # lists for numpy to walk (4x faster)
            arr = np.fromiter(chain.from_iterable(bbs), dtype=np.float64, count=4 * len(bbs)).reshape(-1, 4)
        except OverflowError:  # an integer beyond float64
            return None
    else:
        try:
            arr = np.array(bbs)
        except (ValueError, TypeError):
            return None
        if arr.shape != (len(items), 4) or arr.dtype.kind not in "fiu":
            return None
        if exact_types and not set(map(type, chain.from_iterable(bbs))) <= _NUMBER_TYPES:
            return None
        arr = arr.astype(np.float64, copy=False)
    return arr if _xywh_ok(arr) else None


def _xywh_ok(arr: FloatArray) -> bool:
    """Every box 4 finite numbers, ``w, h >= 0``, with finite right and bottom edges and area."""
    with np.errstate(over="ignore", invalid="ignore"):
        edges = arr[:, :2] + arr[:, 2:]
        area = arr[:, 2] * arr[:, 3]
    return bool(np.isfinite(arr).all() and np.isfinite(edges).all() and np.isfinite(area).all()
                and (arr[:, 2:] >= 0).all())


def _area_col(items: list[Any]) -> FloatArray | None:
    """``(N,)`` ``area`` of ``items``; None when any is not a finite number >= 0."""
    try:
        vals = [it["area"] for it in items]
        if not set(map(type, vals)) <= _NUMBER_TYPES:  # numpy would read "4" as 4.0
            return None
        arr = np.fromiter(vals, dtype=np.float64, count=len(vals))
    except (KeyError, TypeError, OverflowError):
        return None
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        return None
    return arr


@dataclass(frozen=True, eq=False)
class ImageColumns:
    """The images of a COCO file as columns: ids (the integer codes of string ids: ``id_map`` maps the strings),
    sizes and file names. Has the attributes of :class:`~annokit.core.dataset.ImageTable` that the evaluation
    reads."""

    ids: IntArray
    heights: IntArray
    widths: IntArray
    file_names: list[str]
    id_map: dict[Any, int] | None

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, image_ids: Any) -> IntArray:
        """Positions of ``image_ids`` in ``ids`` (-1 where unknown)."""
        return index_of(self.ids, image_ids)


class _AnnCols(NamedTuple):
    """The ``annotations`` list as columns (``area``: the box area where the file gives none, ``has_area`` says
    where it does)."""

    ids: IntArray
    image_ids: IntArray
    labels: IntArray
    xywh: FloatArray
    iscrowd: IntArray
    area: FloatArray
    has_area: BoolArray
    segmentations: list[Any] | None
    ignore: BoolArray | None


def _string_ids(p: Path, images: list[dict[str, Any]]) -> tuple[IntArray, dict[Any, int]] | None:
    """String image ids -> integer codes in the strings' sorted order (pycocotools sorts image ids the same way;
    the strings are kept in ``ImageTable.extras["id"]`` and written back); None when the ids are not all
    strings (an integer among strings is an error)."""
    keys = [im.get("id") for im in images]
    if not keys or not any(isinstance(k, str) for k in keys):
        return None
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            if _is_int(k):
                raise FormatError(p, f"images[{i}].id", "image ids mix strings and integers")
            return None
    strings = [str(k) for k in keys]
    id_map: dict[Any, int] = {k: i for i, k in enumerate(sorted(set(strings)))}
    return np.array([id_map[k] for k in strings], dtype=np.int64), id_map


def _image_cols(p: Path, images: list[dict[str, Any]]) -> ImageColumns:
    """The columns of ``images`` (refusing bad records by the schema)."""
    ids, id_map = _int_col(images, "id"), None
    if ids is None:
        ids, id_map = _string_ids(p, images) or (None, None)
    heights, widths = _int_col(images, "height"), _int_col(images, "width")
    file_names = [im.get("file_name", "") for im in images]
    if ids is None or heights is None or widths is None or (heights < 0).any() or (widths < 0).any() or \
            not all(isinstance(f, str) for f in file_names):
        _explain(p, images, "IMAGE", "images", "the images")
    return ImageColumns(ids=ids, heights=heights, widths=widths, file_names=file_names, id_map=id_map)


def _ann_images(p: Path, anns: list[dict[str, Any]], id_map: dict[Any, int] | None) -> IntArray:
    """The image of each annotation: its id, or the code of its string id (-1 for a string no image has)."""
    img = _int_col(anns, "image_id") if id_map is None else \
        np.array([id_map.get(v, -1) if isinstance(v := a.get("image_id"), str) else -2 for a in anns], dtype=np.int64)
    if img is not None and (id_map is None or (img >= -1).all()):
        return img
    for i, a in enumerate(anns):
        v = a.get("image_id")
        if isinstance(v, str) if id_map is None else _is_int(v):
            raise FormatError(p, f"annotations[{i}].image_id", f"unknown image id {v!r} (the images have "
                                                              f"{'integer' if id_map is None else 'string'} ids)")
    _explain(p, anns, "ANNOTATION", "annotations", "the image ids")


def _category_cols(p: Path, cats: list[dict[str, Any]]) -> tuple[IntArray, list[str]]:
    """The ids and names of ``categories`` (refusing bad records by the schema)."""
    ids = _int_col(cats, "id")
    names = [c.get("name") for c in cats]
    if ids is None or not all(isinstance(n, str) for n in names):
        _explain(p, cats, "CATEGORY", "categories", "the categories")
    return ids, names  # type: ignore[return-value]  # every name checked a string just above


def _ann_cols(p: Path, anns: list[dict[str, Any]], id_map: dict[Any, int] | None, exact_types: bool) -> _AnnCols:
    """The columns of ``annotations`` (refusing bad records by the schema)."""
    ids, labels = _int_col(anns, "id"), _int_col(anns, "category_id")
    img = _ann_images(p, anns, id_map)
    xywh = _bbox_col(anns, exact_types)
    crowd = _int_col(anns, "iscrowd", default=0)
    has_area = np.array([("area" in a) for a in anns], dtype=bool)
    area = _area_col([anns[i] for i in np.flatnonzero(has_area)] if not has_area.all() else anns)
    if ids is None or labels is None or xywh is None or crowd is None or \
            ((crowd != 0) & (crowd != 1)).any() or area is None:
        _explain(p, anns, "ANNOTATION", "annotations", "the annotations")
    full = xywh[:, 2] * xywh[:, 3]
    full[has_area] = area
    segs = _segmentations(p, anns)
    ignore = None
    if any("ignore" in a for a in anns):
        vals = [a.get("ignore", 0) for a in anns]
        if not all(isinstance(v, (int, bool)) and v in (0, 1) for v in vals):
            _explain(p, anns, "ANNOTATION", "annotations", "ignore")
        ignore = np.array(vals, dtype=bool)
    return _AnnCols(ids, img, labels, xywh, crowd, full, has_area, segs, ignore)


def _segmentations(p: Path, anns: list[dict[str, Any]]) -> list[Any] | None:
    """Each annotation's segmentation (None where it has none), checked by the schema; compressed RLE strings are
    checked all at once (:func:`annokit.core.rle_check.rle_strings_ok`, the schema's rule for one string)."""
    if not any("segmentation" in a for a in anns):
        return None
    segs = [a.get("segmentation") for a in anns]
    strings: list[tuple[int, bytes, int]] = []
    for i, seg in enumerate(segs):
        if isinstance(seg, dict) and isinstance(seg.get("counts"), str) and seg["counts"].isascii():
            size = seg.get("size")
            if isinstance(size, list) and len(size) == 2 and all(_is_int(s) and 0 <= s < 2**31 for s in size):
                strings.append((i, seg["counts"].encode("ascii"), size[0] * size[1]))
                continue
        if seg is not None:
            try:
                _segmentation(seg)
            except FieldError:
                _segmentation_error(p, i, seg)
    ok = rle_strings_ok([s for _, s, _ in strings], [t for _, _, t in strings])
    for (i, _, _), good in zip(strings, ok.tolist()):
        if not good:
            _segmentation_error(p, i, segs[i])
    return segs


def _segmentation_error(p: Path, i: int, seg: Any) -> NoReturn:
    """Raise the schema's error for annotation ``i``'s segmentation."""
    try:
        _segmentation(seg)
    except FieldError as exc:
        raise FormatError(p, f"annotations[{i}].segmentation{exc.where}", exc.message) from None
    raise FormatError(p, f"annotations[{i}].segmentation", "cannot read it")  # pragma: no cover - schema agrees


def _repeats(ids: IntArray) -> IntArray:
    """Positions of the values seen before (every occurrence but the first), in file order."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    return np.sort(order[1:][s[1:] == s[:-1]])


class _Column(NamedTuple):
    """One field of one list, for the rules across records: the file position of each row, and its value."""

    rows: IntArray
    values: IntArray

    @classmethod
    def whole(cls, values: IntArray) -> _Column:
        return cls(np.arange(len(values)), values)


class _Refs(NamedTuple):
    """What the rules across records look at. A reader gives every record; a validator the records whose field
    is usable (the others were reported by the schema)."""

    images: list[dict[str, Any]]
    anns: list[dict[str, Any]]
    image_ids: _Column  # image ids (codes of string ids)
    hw: IntArray  # (height, width) of each of those images, -1 where unusable
    category_ids: _Column
    ann_ids: _Column
    ann_images: _Column  # each object's image (id or code; -1: a string id no image has)
    ann_labels: _Column
    rles: list[tuple[int, dict[str, Any]]]  # (row, RLE) of the objects with an RLE mask


def _unknown_image(v: Any, strings: bool) -> str:
    kind = "" if isinstance(v, str) == strings else f" (the images have {'string' if strings else 'integer'} ids)"
    return f"unknown image id {v!r}{kind}"


def _check_references(p: Path, r: _Refs, problems: Problems, *, strings: bool) -> None:
    """The rules across records: unique image, category and object ids; objects of known images and categories;
    RLE masks of their image's size."""
    for k in _repeats(r.image_ids.values).tolist():
        i = int(r.image_ids.rows[k])
        problems.error(p, f"images[{i}].id", f"duplicate image id {r.images[i]['id']!r}")
    for k in _repeats(r.category_ids.values).tolist():
        problems.error(p, f"categories[{int(r.category_ids.rows[k])}].id",
                       f"duplicate category id {int(r.category_ids.values[k])}")
    pos = index_of(r.image_ids.values, r.ann_images.values)
    for k in np.flatnonzero(pos < 0).tolist():
        i = int(r.ann_images.rows[k])
        problems.error(p, f"annotations[{i}].image_id", _unknown_image(r.anns[i].get("image_id"), strings))
    for k in np.flatnonzero(index_of(r.category_ids.values, r.ann_labels.values) < 0).tolist():
        problems.error(p, f"annotations[{int(r.ann_labels.rows[k])}].category_id",
                       f"unknown category id {int(r.ann_labels.values[k])}")
    for k in _repeats(r.ann_ids.values).tolist():
        problems.error(p, f"annotations[{int(r.ann_ids.rows[k])}].id",
                       f"duplicate annotation id {int(r.ann_ids.values[k])}")
    if r.rles:
        at = np.searchsorted(r.ann_images.rows, [i for i, _ in r.rles])
        for (i, seg), j in zip(r.rles, at.tolist()):
            if j < len(pos) and r.ann_images.rows[j] == i and pos[j] >= 0:
                hw = r.hw[pos[j]].tolist()
                if hw[0] >= 0 and list(seg["size"]) != hw:
                    problems.error(p, f"annotations[{i}].segmentation.size",
                                   f"RLE size {seg['size']} differs from the image size [{hw[0]}, {hw[1]}]")


def _top_lists(p: Path, data: Any, problems: Problems) -> tuple[list[Any], list[Any], list[Any]]:
    """``images``, ``categories`` and ``annotations`` (empty when absent), lists of objects."""
    if not isinstance(data, dict):
        problems.error(p, None, f"expected a JSON object at the top, got {type(data).__name__}")
        return [], [], []
    lists = [data.get("images"), data.get("categories"), data.get("annotations", [])]
    if not all(isinstance(x, list) and set(map(type, x)) <= {dict} for x in lists):
        from annokit.io.coco_schema import TOP

        problems.check(TOP, data, p, "")
    images, cats, anns = (x if isinstance(x, list) else [] for x in lists)
    kind = _other_kind(anns)
    if kind is not None:
        problems.error(p, "annotations[0]", kind)
        return images, cats, []
    return images, cats, anns


def _other_kind(anns: Any) -> str | None:
    """What a COCO-layout file whose annotations are not objects holds (judged by its first annotation), said so
    that a user knows what annokit does not read: panoptic segments, captions, image-level labels."""
    first = anns[0] if isinstance(anns, list) and anns and isinstance(anns[0], dict) else {}
    if not first or "bbox" in first or "segmentation" in first:
        return None
    if "segments_info" in first:
        return "a COCO panoptic file (segments_info, no bbox): read it as coco-panoptic"
    if "caption" in first:
        return ("a COCO captions file (caption, no bbox): annokit reads object annotations; the captions are not "
                "read")
    if "category_id" in first:
        return ("image-level labels (category_id without bbox or segmentation, as datumaro's coco_labels): annokit "
                "reads object annotations; write image labels as class-csv or class-folders")
    return None


def _extras(items: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]] | None:
    if all(map(known.issuperset, items)):  # the common case, checked without a Python call per record
        return None
    out = [{k: v for k, v in it.items() if k not in known} for it in items]
    return out if any(out) else None


def _build(c: _Checked) -> Dataset:
    """The dataset of checked columns; every field without a column kept in ``extras`` (``c.path`` names the file
    in the keypoints' errors)."""
    from annokit.core.dataset import Dataset, ImageTable
    from annokit.core.labels import LabelSet

    images, cats, anns, ic, ac = c.images, c.cats, c.anns, c.ic, c.ac
    img_extras = _extras(images, _IMAGE_KEYS if ic.id_map is None else _IMAGE_KEYS - {"id"})
    if ic.id_map is not None:
        img_extras = [dict(e or {}, id=im["id"]) for e, im in zip(img_extras or [{}] * len(images), images)]
    tbl = ImageTable(ids=ic.ids, file_names=ic.file_names, heights=ic.heights, widths=ic.widths, extras=img_extras)
    has_super = any("supercategory" in c for c in cats)
    labels = LabelSet(ids=c.cat_ids, names=c.names, supercategories=[c.get("supercategory") for c in cats]
                      if has_super else None, extras=_extras(cats, _CAT_KEYS))
    inst = _annotation_instances(c.path, anns, ac, labels, exact_types=c.exact_types)
    data = c.data
    top_extras = {k: v for k, v in data.items() if k not in {"images", "categories", "annotations", "info", "licenses"}}
    ds: Dataset = Dataset.model_construct(images=tbl, categories=labels, annotations=inst, info=data.get("info"),
                                          licenses=data.get("licenses"), extras=top_extras)
    return ds


def _annotation_instances(path: Path, anns: list[dict[str, Any]], ac: _AnnCols, labels: LabelSet, *,
                         exact_types: bool) -> Instances:
    """The objects of checked ``annotations`` records (``ac``: their columns); every field without a column kept in
    ``extras``. Per record: the objects of a part of the list are that part of the whole list's objects."""
    from annokit.core.instances import Instances

    keypoints, has_kp = keypoints_from_records(anns, ac.labels, categories=labels, path=path,
                                               plain_json=not exact_types)
    ann_extras = _extras(anns, _ANN_KEYS if keypoints is None else _ANN_KEYS | {"keypoints"})
    no_kp = np.flatnonzero(~has_kp).tolist() if keypoints is not None else []
    if not ac.has_area.all() or no_kp:
        ann_extras = [dict(e or {}) for e in (ann_extras or [{}] * len(anns))]
        for i in np.flatnonzero(~ac.has_area).tolist():
            ann_extras[i]["_annokit_no_area"] = True
        for i in no_kp:
            ann_extras[i][NO_KEYPOINTS] = True
    return Instances(image_ids=ac.image_ids, boxes=_ltrb(ac.xywh), labels=ac.labels,
                     iscrowd=ac.iscrowd.astype(bool), area=ac.area, ids=ac.ids, segmentations=ac.segmentations,
                     ignore=ac.ignore, extras=ann_extras, source_wh=ac.xywh[:, 2:], keypoints=keypoints)


def _ltrb(xywh: FloatArray) -> FloatArray:
    """COCO ``[x, y, w, h]`` rows as ltrb ``[x, y, x + w, y + h]``."""
    boxes = xywh.copy()
    boxes[:, 2:] += xywh[:, :2]
    return boxes


class _Checked(NamedTuple):
    """A COCO instances file whose columns and rules across records passed: what the dataset is built from."""

    path: Path
    data: dict[str, Any]
    images: list[dict[str, Any]]
    cats: list[dict[str, Any]]
    anns: list[dict[str, Any]]
    ic: ImageColumns
    cat_ids: IntArray
    names: list[str]
    ac: _AnnCols
    exact_types: bool = True  # the values may hold bools (and numpy scalars): not only what JSON text gives


def dataset_from_coco_dict(data: dict[str, Any], *, path: PathLike | None = None, fixed: bool = False) -> Dataset:
    """A :class:`~annokit.core.dataset.Dataset` of a parsed COCO instances dict (see :func:`read_instances`);
    ``path`` names the file in errors."""
    return _build(_checked(data, Path(path) if path is not None else Path("<memory>"), exact_types=True))


def _checked(data: Any, p: Path, *, exact_types: bool) -> _Checked:
    """The reader: columns, then the rules across records. ``exact_types``: look for bools among the box numbers
    (a file without any JSON ``true`` / ``false`` cannot hold one)."""
    problems = Problems(collect=False)
    images, cats, anns = _top_lists(p, data, problems)
    ic = _image_cols(p, images)
    cat_ids, names = _category_cols(p, cats)
    ac = _ann_cols(p, anns, ic.id_map, exact_types)
    rles = [(i, s) for i, s in enumerate(ac.segmentations) if isinstance(s, dict)] if ac.segmentations else []
    refs = _Refs(images, anns, _Column.whole(ic.ids), np.stack([ic.heights, ic.widths], axis=1),
                 _Column.whole(cat_ids), _Column.whole(ac.ids), _Column.whole(ac.image_ids), _Column.whole(ac.labels),
                 rles)
    _check_references(p, refs, problems, strings=ic.id_map is not None)
    return _Checked(p, data, images, cats, anns, ic, cat_ids, names, ac, exact_types)


def _read_checked(path: PathLike) -> _Checked:
    p = Path(path)
    return _checked_bytes(p, read_json_bytes(p))


def _checked_bytes(p: Path, raw: bytes) -> _Checked:
    """:func:`_checked` of the file ``p``'s bytes ``raw``."""
    return _checked(parse_json(p, raw), p, exact_types=b"true" in raw or b"false" in raw)


def read_instances(path: PathLike, *, fixed: bool = False) -> Dataset:
    """Read a COCO instances file into a :class:`~annokit.core.dataset.Dataset`.

    String image ids are accepted (as pycocotools does): they are mapped to integers in their sorted order, kept,
    and written back (``fixed`` is accepted for symmetry with the results reader; it changes nothing here).
    Every malformed item raises :class:`~annokit.errors.FormatError` naming the file and the place (the rules are
    the schema :class:`CocoImage`, :class:`CocoCategory`, :class:`CocoAnnotation`); :func:`validate_coco` lists
    every problem instead.

    >>> ds = read_instances("sample_data/scenes/gt.json")  # doctest: +SKIP
    """
    return _build(_read_checked(path))


# ----------------------------------------------------------------------------------------------- columns only
@dataclass(frozen=True, eq=False)
class CategoryColumns:
    """The categories of a COCO file: ids and names (the attributes of :class:`~annokit.core.labels.LabelSet` that
    the evaluation reads)."""

    ids: IntArray
    names: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, cat_ids: Any) -> IntArray:
        """Positions of ``cat_ids`` in ``ids`` (-1 where unknown)."""
        return index_of(self.ids, cat_ids)


@dataclass(frozen=True, eq=False)
class ObjectColumns:
    """Objects (ground truth or detections) as the columns of :class:`~annokit.core.instances.Instances` that the
    COCO evaluation reads: ltrb ``boxes``, the file's ``source_wh``, ``area``, crowd and ignore flags, masks as in
    the file, ``scores`` for detections. No geometry beyond boxes and masks (``rboxes``, ``keypoints``, ``extras``
    are None)."""

    ids: IntArray
    image_ids: IntArray
    labels: IntArray
    xywh: FloatArray | Callable[[], FloatArray]
    """The file's ``[x, y, w, h]``, or what gives them when first asked for (detections' boxes that come from their
    masks: mask evaluation never reads them)."""
    area: FloatArray
    iscrowd: BoolArray
    ignore: BoolArray | None = None
    segmentations: Sequence[Any] | None = None
    scores: FloatArray | None = None
    rboxes: None = None
    keypoints: None = None
    extras: None = None
    xywh_checked: bool = False
    """Every row of ``xywh`` passed :func:`read_result_objects`' box checks (see :attr:`checked_xywh`)."""

    def __len__(self) -> int:
        return len(self.image_ids)

    @functools.cached_property
    def _xywh(self) -> FloatArray:
        return self.xywh() if callable(self.xywh) else self.xywh

    @functools.cached_property
    def boxes(self) -> FloatArray:
        """ltrb ``[x, y, x + w, y + h]``."""
        return _ltrb(self._xywh)

    @functools.cached_property
    def source_wh(self) -> FloatArray:
        """The file's ``[w, h]``."""
        return np.ascontiguousarray(self._xywh[:, 2:])

    @property
    def checked_xywh(self) -> FloatArray | None:
        """The file's ``[x, y, w, h]`` when every row is finite with ``w, h >= 0`` and ``x + w``, ``y + h``
        finite (what :func:`read_result_objects` checked; box evaluation then works from them without the ltrb
        copy, :func:`annokit.metrics.coco_engine.box_pair_iou_xywh`); None otherwise."""
        return self.xywh if self.xywh_checked and isinstance(self.xywh, np.ndarray) else None


@dataclass(frozen=True, eq=False)
class InstanceColumns:
    """A COCO instances file read and checked as :func:`read_instances` reads it (every rule, every error message),
    held as columns without building the pydantic models: ``images``, ``categories`` and ``annotations`` have the
    attributes of a :class:`~annokit.core.dataset.Dataset`'s that the COCO box and mask evaluation reads.
    :meth:`dataset` builds the :class:`~annokit.core.dataset.Dataset` (the same one :func:`read_instances` gives).

    ``has_keypoints``: an annotation has a ``keypoints`` field (their rules are checked by :meth:`dataset`).
    """

    images: ImageColumns
    categories: CategoryColumns
    annotations: ObjectColumns
    has_keypoints: bool
    _checked: _Checked | None
    _source: Path | None = None  # the file, when its annotations were read straight into columns (no records)

    def dataset(self) -> Dataset:
        """The :class:`~annokit.core.dataset.Dataset` of the file (keypoints checked and read)."""
        if self._checked is None:
            if self._source is not None:
                return read_instances(self._source)
            raise ValidationError("these columns were kept without the file's records: read the file again")
        return _build(self._checked)

    def columns_only(self, *, masks: bool = True) -> InstanceColumns:
        """These columns without the parsed records of the file (a Python dict per annotation: most of the
        memory), and without the annotations' segmentations unless ``masks``; :meth:`dataset` is then refused.
        What box evaluation keeps while it runs."""
        objects = self.annotations if masks else dataclasses.replace(self.annotations, segmentations=None)
        return InstanceColumns(self.images, self.categories, objects, self.has_keypoints, None)


def read_instance_columns(path: PathLike) -> InstanceColumns:
    """Read a COCO instances file as :func:`read_instances` does (the same checks and errors) into
    :class:`InstanceColumns`, without pydantic: the ground truth of ``annokit eval`` on COCO files.

    >>> gt = read_instance_columns("sample_data/scenes/gt.json")
    >>> len(gt.images), len(gt.annotations) > 0, gt.dataset() == read_instances("sample_data/scenes/gt.json")
    (48, True, True)
    """
    p = Path(path)
    raw = read_json_bytes(p)
    from annokit.io.coco_fast_gt import fast_checked_parts

    fast = fast_checked_parts(p, raw)  # box annotations of a large file: straight into columns
    if fast is not None:
        ic, (cat_ids, names), ac = fast
        return InstanceColumns(ic, CategoryColumns(cat_ids, names), _objects(ac), False, None, p)
    c = _checked_bytes(p, raw)
    return InstanceColumns(c.ic, CategoryColumns(c.cat_ids, c.names), _objects(c.ac),
                           any("keypoints" in a for a in c.anns), c)


def _objects(ac: _AnnCols) -> ObjectColumns:
    return ObjectColumns(ids=ac.ids, image_ids=ac.image_ids, labels=ac.labels, xywh=ac.xywh, area=ac.area,
                         iscrowd=ac.iscrowd.astype(bool), ignore=ac.ignore, segmentations=ac.segmentations)


# ----------------------------------------------------------------------------------------------- validation
def _usable(items: list[Any], key: str, check: Any) -> tuple[list[int], list[Any]]:
    """The records whose field ``key`` passes the schema's ``check``, and the field's values."""
    rows, vals = [], []
    for i, it in enumerate(items):
        if isinstance(it, dict) and key in it:
            try:
                vals.append(check(it[key]))
            except FieldError:
                continue
            rows.append(i)
    return rows, vals


def _column(rows: list[int], vals: list[Any], codes: dict[Any, int] | None = None) -> _Column:
    v = [codes.get(x, -1) for x in vals] if codes is not None else vals
    return _Column(np.asarray(rows, dtype=np.int64), np.asarray(v, dtype=np.int64).reshape(-1))


def _validator_refs(p: Path, images: list[Any], cats: list[Any], anns: list[Any], problems: Problems
                    ) -> tuple[_Refs, bool]:
    """The columns of the rules across records, over the records whose field is usable; image ids of the kind
    (integer or string) other than the first usable one's are reported. Returns whether the ids are strings."""
    rows, ids = _usable(images, "id", _image_id)
    strings = any(isinstance(v, str) for v in ids)
    for i, v in zip(rows, ids):
        if isinstance(v, str) != strings:
            problems.error(p, f"images[{i}].id", "image ids mix strings and integers")
    keep = [k for k, v in enumerate(ids) if isinstance(v, str) == strings]
    rows, ids = [rows[k] for k in keep], [ids[k] for k in keep]
    codes = {s: k for k, s in enumerate(sorted(set(ids)))} if strings else None
    hw = np.full((len(rows), 2), -1, dtype=np.int64)
    for k, i in enumerate(rows):
        with contextlib.suppress(FieldError, KeyError):
            hw[k] = (_size(images[i]["height"]), _size(images[i]["width"]))
    ann_rows, refs = _usable(anns, "image_id", _image_id)
    lookup = codes or {}
    ref_codes = [(lookup.get(v, -1) if isinstance(v, str) else -1) if strings else
                 (v if isinstance(v, int) else None) for v in refs]
    wrong = [k for k, c in enumerate(ref_codes) if c is None]
    for k in wrong:
        problems.error(p, f"annotations[{ann_rows[k]}].image_id", _unknown_image(refs[k], strings))
    good = [k for k, c in enumerate(ref_codes) if c is not None]
    rles = [(i, a["segmentation"]) for i, a in enumerate(anns) if isinstance(a, dict) and
            isinstance(a.get("segmentation"), dict) and _passes(_segmentation, a["segmentation"])]
    return _Refs(images, anns, _column(rows, ids, codes), hw, _column(*_usable(cats, "id", _int64)),
                 _column(*_usable(anns, "id", _int64)),
                 _column([ann_rows[k] for k in good], [ref_codes[k] for k in good]),
                 _column(*_usable(anns, "category_id", _int64)), rles), strings


def _passes(check: Any, value: Any) -> bool:
    try:
        check(value)
    except FieldError:
        return False
    return True


def _coco_warnings(p: Path, images: list[Any], anns: list[Any], refs: _Refs, problems: Problems) -> None:
    """What a reader accepts but a user may want to know: images without a file name, of one file, or of an unsafe
    name; boxes without area or reaching outside their image."""
    names: dict[str, int] = {}
    for i in refs.image_ids.rows.tolist():
        fn = images[i].get("file_name")
        if not isinstance(fn, str):
            problems.warning(p, f"images[{i}].file_name", "missing or not a string")
            continue
        if fn in names:
            problems.warning(p, f"images[{i}].file_name", f"same file as images[{names[fn]}]: {fn!r}")
        names.setdefault(fn, i)
        try:
            safe_name(fn)
        except FormatError as exc:
            problems.warning(p, f"images[{i}].file_name", exc.message)
    pos = index_of(refs.image_ids.values, refs.ann_images.values)
    for k, i in enumerate(refs.ann_images.rows.tolist()):
        bb = anns[i].get("bbox")
        if not _passes(_bbox, bb):
            continue
        x, y, w, h = bb
        if w == 0 or h == 0:
            problems.warning(p, f"annotations[{i}].bbox", "zero width or height")
        H, W = refs.hw[pos[k]].tolist() if pos[k] >= 0 else (-1, -1)
        if H >= 0 and (x < 0 or y < 0 or x + w > W + 1e-6 or y + h > H + 1e-6):
            problems.warning(p, f"annotations[{i}].bbox", f"box {bb} reaches outside the {W}x{H} image")


def validate_coco(path: PathLike) -> list[Problem]:
    """Every problem of a COCO instances file with its place: what :func:`read_instances` refuses (errors: the
    schema of each record, then the rules across records) and what it reads but a user may want to know
    (warnings).

    >>> for p in validate_coco("instances_val2017.json"):  # doctest: +SKIP
    ...     print(p)
    """
    p = Path(path)
    problems = Problems(collect=True)
    with problems.guard(p):
        data = load_json(p)
        n_problems = len(problems.items)
        images, cats, anns = _top_lists(p, data, problems)
        if len(problems.items) > n_problems and isinstance(data, dict) and _other_kind(data.get("annotations")):
            return problems.items  # not object annotations: one line says what the file holds
        if not (isinstance(data, dict) and isinstance(data.get("images"), list) and
                isinstance(data.get("categories"), list) and isinstance(data.get("annotations", []), list)):
            return problems.items  # no lists to check record by record
        from annokit.io.coco_schema import ANNOTATION, CATEGORY, IMAGE

        for items, adapter, label in ((images, IMAGE, "images"), (cats, CATEGORY, "categories"),
                                      (anns, ANNOTATION, "annotations")):
            for i, it in enumerate(items):
                if isinstance(it, dict):
                    problems.check(adapter, it, p, f"{label}[{i}]")
        refs, strings = _validator_refs(p, images, cats, anns, problems)
        _check_references(p, refs, problems, strings=strings)
        _coco_warnings(p, images, anns, refs, problems)
    return problems.items


def _shortest_width(l: FloatArray, r: FloatArray) -> FloatArray:
    """Per row, the shortest decimal ``w`` with ``l + w == r`` (so a width 0.2 stays 0.2, not 0.20000000000000004)."""
    w0 = r - l
    out: FloatArray = w0.copy()
    todo = np.ones(len(w0), dtype=bool)
    for k in range(16):
        if not todo.any():
            break
        c = np.round(w0[todo], k)
        ok = (l[todo] + c) == r[todo]
        idx = np.flatnonzero(todo)[ok]
        out[idx] = c[ok]
        todo[idx] = False
    # r - l need not give l + w == r back (rounding): try the floats a few ulps around it; where none does, the
    # box has no exact COCO [x, y, w, h] and the nearest width is kept
    for step in (1, -1, 2, -2, 3, -3, 4, -4):
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        c = w0[idx]
        for _ in range(abs(step)):
            c = np.nextafter(c, np.inf if step > 0 else -np.inf)
        ok = (l[idx] + c) == r[idx]
        out[idx[ok]] = c[ok]
        todo[idx[ok]] = False
    return out


def ltrb_to_coco_bbox(boxes: np.ndarray, source_wh: np.ndarray | None = None) -> np.ndarray:
    """``(N, 4)`` ltrb -> COCO ``[x, y, w, h]``.

    Widths come from ``source_wh`` where ``l + w == r`` still holds (the file's own numbers), else the shortest
    decimal that gives the same right edge.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = b.copy()
    out[:, 2] = _shortest_width(b[:, 0], b[:, 2])
    out[:, 3] = _shortest_width(b[:, 1], b[:, 3])
    if source_wh is not None:
        s = np.asarray(source_wh, dtype=np.float64)
        for col in (0, 1):
            ok = (b[:, col] + s[:, col]) == b[:, col + 2]
            out[ok, col + 2] = s[ok, col]
    return out


def _num(v: float) -> int | float:
    """Integers stay integers in JSON (``10`` not ``10.0``)."""
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v)


def _nums(row: Iterable[float]) -> list[int | float]:
    return [_num(v) for v in row]


def dataset_to_coco_dict(ds: Dataset) -> dict[str, Any]:
    """The COCO instances dict of ``ds`` (every kept field written back; string image ids restored)."""
    return coco_top_level(ds, coco_image_records(ds.images), coco_annotation_records(ds),
                          categories_to_coco(ds.categories))


def coco_image_records(im: ImageTable) -> list[dict[str, Any]]:
    """The ``images`` entries of a COCO file (id, file name, size, then every kept field)."""
    images = []
    for i in range(len(im)):
        rec: dict[str, Any] = {"id": int(im.ids[i]), "file_name": im.file_names[i], "height": int(im.heights[i]),
                               "width": int(im.widths[i])}
        if im.extras is not None:
            rec.update(im.extras[i])
        images.append(rec)
    return images


def coco_annotation_records(ds: Dataset) -> list[dict[str, Any]]:
    """The ``annotations`` entries of a COCO file, in ``ds``'s order (an object's image id as its image's own:
    string ids restored from ``ds.images``)."""
    im = ds.images
    str_ids = None
    if im.extras is not None and any("id" in e for e in im.extras):
        str_ids = {int(im.ids[i]): im.extras[i].get("id", int(im.ids[i])) for i in range(len(im))}
    a = ds.annotations
    bb = ltrb_to_coco_bbox(a.boxes, a.source_wh)
    bboxes = bb.tolist()
    # integers stay integers in JSON: only rows holding an integral value need the per-value pass
    int_rows = ((bb == np.floor(bb)) & (np.abs(bb) < 2**53)).any(axis=1).tolist()
    anns = []
    ids, img_ids, labels = a.ids.tolist(), a.image_ids.tolist(), a.labels.tolist()
    areas, crowd = a.area.tolist(), a.iscrowd.tolist()
    kps = keypoints_to_lists(a)
    for i in range(len(a)):
        rec = {"id": ids[i], "image_id": img_ids[i] if str_ids is None else str_ids[img_ids[i]],
               "category_id": labels[i], "bbox": _nums(bboxes[i]) if int_rows[i] else bboxes[i],
               "area": _num(areas[i]), "iscrowd": int(crowd[i])}
        if a.segmentations is not None and a.segmentations[i] is not None:
            seg = a.segmentations[i]
            if isinstance(seg, dict) and isinstance(seg.get("counts"), bytes):
                seg = {"size": seg["size"], "counts": seg["counts"].decode("ascii")}
            rec["segmentation"] = seg
        if a.ignore is not None:
            rec["ignore"] = int(a.ignore[i])
        if kps is not None and kps[i] is not None:
            rec["keypoints"] = kps[i]
        if a.extras is not None:
            extra = a.extras[i]
            if extra.get("_annokit_no_area"):
                del rec["area"]
            if extra.get("_annokit_no_area") or extra.get(NO_KEYPOINTS):
                extra = {k: v for k, v in extra.items() if k not in ("_annokit_no_area", NO_KEYPOINTS)}
            rec.update(extra)
        anns.append(rec)
    return anns


def categories_to_coco(cs: LabelSet) -> list[dict[str, Any]]:
    """The ``categories`` list of a COCO file (id, name, supercategory, then every kept field)."""
    out = []
    for i in range(len(cs)):
        rec: dict[str, Any] = {"id": int(cs.ids[i]), "name": cs.names[i]}
        if cs.supercategories is not None:
            rec["supercategory"] = cs.supercategories[i]
        if cs.extras is not None:
            rec.update(cs.extras[i])
        out.append(rec)
    return out


def coco_top_level(ds: Dataset, images: list[dict[str, Any]], annotations: list[dict[str, Any]],
                   categories: list[dict[str, Any]]) -> dict[str, Any]:
    """A COCO-style top-level dict: ``info`` and ``licenses`` when the dataset has them, the three lists, then every
    other top-level field it kept."""
    out: dict[str, Any] = {}
    if ds.info is not None:
        out["info"] = ds.info
    if ds.licenses is not None:
        out["licenses"] = ds.licenses
    out.update({"images": images, "annotations": annotations, "categories": categories})
    out.update(ds.extras)
    return out


def write_instances(ds: Dataset, path: PathLike) -> None:
    """Write a COCO instances file atomically (a temp file beside ``path``, then a rename)."""
    write_bytes_atomic(path, orjson.dumps(dataset_to_coco_dict(ds)))


# ----------------------------------------------------------------------------------------------- results
def read_results(path: PathLike | list[Any], gt: Dataset, *, fixed: bool = False) -> Instances:
    """Read a COCO results file (a list of detections) against the ground truth ``gt``.

    Follows ``COCO.loadRes``: detection ids are 1..N in file order; when the first detection has a non-empty
    ``bbox``, every area is ``w * h`` (even for mask evaluation) and a missing segmentation is the box; otherwise
    area and box come from the RLE. Detections whose image is not in ``gt`` are an error; those whose category is
    not in ``gt`` are dropped with a warning (pycocotools drops them silently). An empty list gives no detections
    (pycocotools crashes; annokit warns in the default mode). A file is read in blocks straight into columns
    (:mod:`annokit.core.coco_results`): its size costs memory for the columns only.
    """
    from annokit.core.coco_results import ResultsTarget, read_result_columns, result_columns

    target = ResultsTarget.of(gt)
    p = Path(path) if not isinstance(path, list) else Path("<results>")
    if isinstance(path, list):
        cols = result_columns(path, target, fixed=fixed)
    else:
        try:
            cols = read_result_columns(p, target, fixed=fixed)
        except OSError as exc:
            raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None
    cols.warn_unknown(p)
    try:
        return cols.instances()
    except ValidationError as exc:
        raise FormatError(p, None, str(exc)) from None


def read_result_objects(path: PathLike, gt: InstanceColumns, *, fixed: bool = False,
                        split: SplitRead | None = None) -> ObjectColumns:
    """:func:`read_results` against ground truth read by :func:`read_instance_columns`: the same rules, warnings
    and errors, the detections as :class:`ObjectColumns` (ids 1..N in file order) without the pydantic models.
    ``split``: a :class:`~annokit.core.coco_results.SplitRead` of ``path`` started before the ground truth was read
    (the tail's columns come from its child; the same result).

    >>> gt = read_instance_columns("sample_data/scenes/gt.json")
    >>> dets = read_result_objects("sample_data/scenes/pred.json", gt)
    >>> bool((dets.scores == read_results("sample_data/scenes/pred.json", gt.dataset()).scores).all())
    True
    """
    from annokit.core.coco_results import ResultsTarget, read_result_columns

    im = gt.images
    target = ResultsTarget(image_ids=im.ids, heights=im.heights, widths=im.widths, cat_ids=gt.categories.ids,
                           str_ids=im.id_map)
    p = Path(path)
    try:
        cols = read_result_columns(p, target, fixed=fixed, split=split, lazy_boxes=True)  # boxes of masks: when asked
    except OSError as exc:
        raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None
    cols.warn_unknown(p)
    given = cols.xywh if cols.mask_boxes is None else np.delete(cols.xywh, cols.mask_boxes, axis=0)
    checked = _plainly_valid(given, cols.scores, cols.area)
    if not checked:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing box is refused just below
            boxes = _ltrb(given)  # a mask's box (pycocotools' toBbox) is always valid
        checked = bool(np.isfinite(boxes).all() and (boxes[:, 2:] >= boxes[:, :2]).all()
                       and np.isfinite(cols.scores).all() and (np.isfinite(cols.area) & (cols.area >= 0)).all())
    if not checked:  # the model's own checks say what is wrong, as read_results does
        try:
            cols.instances()
        except ValidationError as exc:
            raise FormatError(p, None, str(exc)) from None
    return ObjectColumns(ids=np.arange(1, len(cols) + 1, dtype=np.int64), image_ids=cols.image_ids,
                         labels=cols.labels, xywh=cols.xywh if cols.mask_boxes is None else cols.mask_xywh,
                         area=cols.area, iscrowd=np.zeros(len(cols), dtype=bool),
                         segmentations=cols.segmentations, scores=cols.scores,
                         xywh_checked=checked and cols.mask_boxes is None)


def _plainly_valid(xywh: np.ndarray, scores: np.ndarray, area: np.ndarray) -> bool:
    """A quick sufficient condition for :func:`read_result_objects`' full check (reductions over the columns, no
    ltrb copy): the smallest and largest of the boxes' numbers, the scores and the areas finite (NaN would spread to
    them), widths, heights and areas not negative, and twice the largest box number finite, so that no ``x + w``
    or ``y + h`` overflows. Then every ltrb box is finite with ``right >= left`` (adding a non-negative number
    never lowers a float). False says nothing: the full check decides."""
    if not (len(xywh) and len(scores) and len(area)):
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = float(xywh.min()), float(xywh.max())
        return bool(math.isfinite(lo) and math.isfinite(2.0 * hi) and xywh[:, 2:].min() >= 0
                    and math.isfinite(float(scores.min())) and math.isfinite(float(scores.max()))
                    and float(area.min()) >= 0 and math.isfinite(float(area.max())))


def write_results(dets: Instances, path: PathLike, *, include_masks: bool = True) -> None:
    """Write detections as a COCO results list (``image_id, category_id, bbox, score[, segmentation]``)."""
    write_bytes_atomic(path, orjson.dumps(results_to_list(dets, include_masks=include_masks)))


def results_to_list(dets: Instances, *, include_masks: bool = True) -> list[dict[str, Any]]:
    """Detections as COCO result records (``image_id, category_id, bbox, score[, segmentation][, keypoints]``),
    boxes in the exact-width xywh of :func:`ltrb_to_coco_bbox`, compressed RLE counts as text."""
    if dets.scores is None:
        raise ValidationError("write_results: these instances have no scores (ground truth?)")
    bboxes = ltrb_to_coco_bbox(dets.boxes, dets.source_wh).tolist()
    out = []
    img, lab, sc = dets.image_ids.tolist(), dets.labels.tolist(), dets.scores.tolist()
    kps = keypoints_to_lists(dets)
    for i in range(len(dets)):
        rec: dict[str, Any] = {"image_id": img[i], "category_id": lab[i], "bbox": _nums(bboxes[i]), "score": sc[i]}
        if include_masks and dets.segmentations is not None and dets.segmentations[i] is not None:
            seg = dets.segmentations[i]
            if isinstance(seg, dict) and isinstance(seg.get("counts"), bytes):
                seg = {"size": seg["size"], "counts": seg["counts"].decode("ascii")}
            rec["segmentation"] = seg
        if kps is not None and kps[i] is not None:
            rec["keypoints"] = kps[i]
        out.append(rec)
    return out
