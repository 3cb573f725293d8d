"""COCO instances and results files.

Conventions (all shifts live here): COCO boxes are ``[x, y, w, h]`` in pixel-edge coordinates and become ltrb
``[x, y, x + w, y + h]``; writing back recovers ``w`` as the shortest float that gives the same right edge, so a
file read and written again keeps its numbers. Segmentations are kept in the form the file has them (polygons,
compressed or uncompressed RLE). Every other field (top level, per image, per category, per annotation) is kept
and written back.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from annokit._internal.files import write_bytes_atomic
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.errors import FormatError, ValidationError

__all__ = ["load_json", "ltrb_to_coco_bbox", "read_instances", "read_results", "results_to_list", "write_instances",
           "write_results"]

PathLike = str | os.PathLike[str]

_IMAGE_KEYS = {"id", "file_name", "height", "width"}
_CAT_KEYS = {"id", "name", "supercategory"}
_ANN_KEYS = {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation", "ignore"}
_RES_KEYS = {"image_id", "category_id", "bbox", "score", "segmentation"}
MAX_JSON_BYTES = 8 << 30


def load_json(path: PathLike) -> Any:
    """Parse a JSON file with orjson; a syntax error names the file and the line/column."""
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_JSON_BYTES:
        raise FormatError(p, None, f"file is {size} bytes, over the {MAX_JSON_BYTES}-byte limit")
    data = p.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(p, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None


# ----------------------------------------------------------------------------------------------- helpers
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool))


def _check_polygons(path: Path, where: str, seg: Any) -> None:
    if len(seg) == 0:
        return
    for j, poly in enumerate(seg):
        if not isinstance(poly, list):
            raise FormatError(path, f"{where}.segmentation[{j}]", "polygon is not a list of numbers")
        if len(poly) % 2:
            raise FormatError(path, f"{where}.segmentation[{j}]", f"odd number of coordinates ({len(poly)})")
        if len(poly) < 6:
            raise FormatError(path, f"{where}.segmentation[{j}]",
                              f"polygon has fewer than 3 points ({len(poly) // 2})")
        for v in poly:
            if not _is_num(v) or not math.isfinite(v):
                raise FormatError(path, f"{where}.segmentation[{j}]", f"coordinate is not a finite number: {v!r}")


def _check_rle(path: Path, where: str, seg: dict[str, Any], hw: tuple[int, int] | None) -> None:
    from annokit.core.coco_results import check_rle  # the one RLE check, shared with the results reader

    check_rle(path, where, seg, hw)


def _check_segmentation(path: Path, where: str, seg: Any, hw: tuple[int, int] | None) -> None:
    if isinstance(seg, list):
        _check_polygons(path, where, seg)
    elif isinstance(seg, dict):
        _check_rle(path, where, seg, hw)
    else:
        raise FormatError(path, f"{where}.segmentation", f"expected polygons or an RLE dict, got {type(seg).__name__}")


def _bbox_array(path: Path, items: list[dict], key: str, label: str, required: bool = True) -> np.ndarray:
    """``(N, 4)`` xywh from ``items[i][key]``, with a precise error on the first bad one."""
    try:
        arr = np.array([it[key] for it in items])
        if len(items) and (arr.shape != (len(items), 4) or arr.dtype.kind not in "fiu"):
            raise ValueError
        arr = arr.astype(np.float64, copy=False)
    except (KeyError, ValueError, TypeError):
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                raise FormatError(path, f"{label}[{i}]", f"expected an object, got {type(it).__name__}") from None
            if key not in it:
                raise FormatError(path, f"{label}[{i}]", f"missing key {key!r}") from None
            bb = it[key]
            if not (isinstance(bb, list) and len(bb) == 4 and all(_is_num(v) for v in bb)):
                raise FormatError(path, f"{label}[{i}].{key}", f"expected 4 numbers [x, y, w, h], got {bb!r}") from None
        raise FormatError(path, label, f"cannot read {key}") from None
    if len(items) == 0:
        return np.zeros((0, 4))
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(path, f"{label}[{i}].{key}", f"not finite: {items[i][key]!r}")
    bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        which = "width" if arr[i, 2] < 0 else "height"
        val = arr[i, 2] if which == "width" else arr[i, 3]
        raise FormatError(path, f"{label}[{i}].{key}", f"{which} is negative ({val})")
    return arr


def _int_column(path: Path, items: list[dict], key: str, label: str, default: int | None = None) -> np.ndarray:
    """``(N,)`` int64 of ``items[i][key]``: one vectorised pass, and a slow pass only to name the culprit."""
    try:
        if default is None:
            vals = [it[key] for it in items]
        else:
            vals = [it.get(key, default) for it in items]
        arr = np.array(vals, dtype=np.int64)
        if arr.ndim != 1:
            raise ValueError
        # bools, floats with fractions and strings must not pass silently
        if vals and not set(map(type, vals)) <= {int}:
            raise ValueError
        return arr
    except (KeyError, ValueError, TypeError, OverflowError, AttributeError):
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                raise FormatError(path, f"{label}[{i}]", f"expected an object, got {type(it).__name__}") from None
            if key not in it and default is None:
                raise FormatError(path, f"{label}[{i}]", f"missing key {key!r}") from None
            v = it.get(key, default)
            if not _is_int(v):
                raise FormatError(path, f"{label}[{i}].{key}", f"expected an integer, got {v!r}") from None
        raise FormatError(path, label, f"cannot read {key}") from None


def _float_column(path: Path, items: list[dict], key: str, label: str) -> np.ndarray:
    try:
        vals = [it[key] for it in items]
        arr = np.array(vals, dtype=np.float64)
        if arr.ndim != 1 or (vals and not set(map(type, vals)) <= {int, float}):
            raise ValueError
        arr = arr.astype(np.float64, copy=False)
    except (KeyError, ValueError, TypeError):
        for i, it in enumerate(items):
            if key not in it:
                raise FormatError(path, f"{label}[{i}]", f"missing key {key!r}") from None
            if not _is_num(it[key]):
                raise FormatError(path, f"{label}[{i}].{key}", f"expected a number, got {it[key]!r}") from None
        raise FormatError(path, label, f"cannot read {key}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(path, f"{label}[{i}].{key}", f"not finite: {vals[i]!r}")
    return arr


def _image_id_column(path: Path, items: list[dict], id_map: dict[Any, int] | None, label: str) -> np.ndarray:
    """``(N,)`` int64 image ids of ``items``; with ``id_map`` (string ids), their integer codes."""
    if id_map is None:
        return _int_column(path, items, "image_id", label)
    out = np.empty(len(items), np.int64)
    for i, it in enumerate(items):
        if it.get("image_id") not in id_map:
            raise FormatError(path, f"{label}[{i}].image_id", f"unknown image id {it.get('image_id')!r}")
        out[i] = id_map[it["image_id"]]
    return out


def _list_of_objects(path: Path, data: dict, key: str, required: bool = True) -> list[dict]:
    if key not in data:
        if required:
            raise FormatError(path, None, f"missing top-level key {key!r}")
        return []
    items = data[key]
    if not isinstance(items, list):
        raise FormatError(path, key, f"expected a list, got {type(items).__name__}")
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise FormatError(path, f"{key}[{i}]", f"expected an object, got {type(it).__name__}")
    return items


def _extras(items: list[dict], known: set[str]) -> list[dict] | None:
    out = [{k: v for k, v in it.items() if k not in known} for it in items]
    return out if any(out) else None


def _string_id_map(path: Path, images: list[dict]) -> dict[Any, int] | None:
    """String image ids -> integer codes in the strings' sorted order (pycocotools sorts image ids the same way).

    The strings are kept in ``ImageTable.extras["id"]`` and written back.
    """
    if not any(isinstance(im.get("id"), str) for im in images):
        return None
    keys = [im.get("id") for im in images]
    if not all(isinstance(k, str) for k in keys):
        i = next(i for i, k in enumerate(keys) if not isinstance(k, str))
        raise FormatError(path, f"images[{i}].id", "image ids mix strings and integers")
    return {k: i for i, k in enumerate(sorted(set(keys)))}


# ----------------------------------------------------------------------------------------------- instances
def read_instances(path: PathLike, *, fixed: bool = False) -> Dataset:
    """Read a COCO instances file into a :class:`~annokit.core.dataset.Dataset`.

    String image ids are accepted (as pycocotools does): they are mapped to integers in their sorted order, kept,
    and written back. Every malformed item raises :class:`~annokit.errors.FormatError` naming the file and the place.

    >>> ds = read_instances("sample_data/scenes/gt.json")  # doctest: +SKIP
    """
    p = Path(path)
    data = load_json(p)
    if not isinstance(data, dict):
        raise FormatError(p, None, f"expected a JSON object at the top, got {type(data).__name__}")
    return dataset_from_coco_dict(data, path=p, fixed=fixed)


def dataset_from_coco_dict(data: dict, *, path: PathLike | None = None, fixed: bool = False) -> Dataset:
    p = Path(path) if path is not None else Path("<memory>")
    images = _list_of_objects(p, data, "images")
    cats = _list_of_objects(p, data, "categories")
    anns = _list_of_objects(p, data, "annotations", required=False)

    id_map = _string_id_map(p, images)
    if id_map is None:
        img_ids = _int_column(p, images, "id", "images")
    else:
        img_ids = np.array([id_map[im["id"]] for im in images], dtype=np.int64)
    heights = _int_column(p, images, "height", "images")
    widths = _int_column(p, images, "width", "images")
    for name, col in (("height", heights), ("width", widths)):
        if (col < 0).any():
            i = int(np.flatnonzero(col < 0)[0])
            raise FormatError(p, f"images[{i}].{name}", f"negative ({int(col[i])})")
    file_names = []
    for i, im in enumerate(images):
        fn = im.get("file_name", "")
        if not isinstance(fn, str):
            raise FormatError(p, f"images[{i}].file_name", f"expected a string, got {fn!r}")
        file_names.append(fn)
    uniq, counts = np.unique(img_ids, return_counts=True)
    if (counts > 1).any():
        i = int(np.flatnonzero(img_ids == uniq[counts > 1][0])[1])
        raise FormatError(p, f"images[{i}].id", f"duplicate image id {images[i]['id']!r}")
    img_extras = _extras(images, _IMAGE_KEYS if id_map is None else _IMAGE_KEYS - {"id"})
    if id_map is not None:
        img_extras = [dict(e or {}, id=im["id"]) for e, im in zip(img_extras or [{}] * len(images), images)]

    cat_ids = _int_column(p, cats, "id", "categories")
    names = []
    supers: list[str | None] = []
    for i, c in enumerate(cats):
        name = c.get("name")
        if not isinstance(name, str):
            raise FormatError(p, f"categories[{i}].name", f"expected a string, got {name!r}")
        names.append(name)
        supers.append(c.get("supercategory"))
    uniq, counts = np.unique(cat_ids, return_counts=True)
    if (counts > 1).any():
        i = int(np.flatnonzero(cat_ids == uniq[counts > 1][0])[1])
        raise FormatError(p, f"categories[{i}].id", f"duplicate category id {int(cat_ids[i])}")
    has_super = any("supercategory" in c for c in cats)

    n = len(anns)
    ann_ids = _int_column(p, anns, "id", "annotations")
    a_img = _image_id_column(p, anns, id_map, "annotations")
    a_cat = _int_column(p, anns, "category_id", "annotations")
    xywh = _bbox_array(p, anns, "bbox", "annotations")
    iscrowd = _int_column(p, anns, "iscrowd", "annotations", default=0)
    if ((iscrowd != 0) & (iscrowd != 1)).any():
        i = int(np.flatnonzero((iscrowd != 0) & (iscrowd != 1))[0])
        raise FormatError(p, f"annotations[{i}].iscrowd", f"expected 0 or 1, got {int(iscrowd[i])}")

    # ids that must exist / be unique
    tbl = ImageTable(ids=img_ids, file_names=file_names, heights=heights, widths=widths, extras=img_extras)
    pos = tbl.index_of(a_img)
    if (pos < 0).any():
        i = int(np.flatnonzero(pos < 0)[0])
        raise FormatError(p, f"annotations[{i}].image_id", f"unknown image id {anns[i]['image_id']!r}")
    labels = LabelSet(ids=cat_ids, names=names, supercategories=supers if has_super else None,
                      extras=_extras(cats, _CAT_KEYS))
    cpos = labels.index_of(a_cat)
    if (cpos < 0).any():
        i = int(np.flatnonzero(cpos < 0)[0])
        raise FormatError(p, f"annotations[{i}].category_id", f"unknown category id {int(a_cat[i])}")
    uniq, counts = np.unique(ann_ids, return_counts=True)
    if (counts > 1).any():
        i = int(np.flatnonzero(ann_ids == uniq[counts > 1][0])[1])
        raise FormatError(p, f"annotations[{i}].id", f"duplicate annotation id {int(ann_ids[i])}")

    segs: list[Any] | None = None
    if any("segmentation" in a for a in anns):
        segs = []
        hs, ws = heights[pos], widths[pos]
        for i, a in enumerate(anns):
            seg = a.get("segmentation")
            if seg is not None:
                _check_segmentation(p, f"annotations[{i}]", seg, (int(hs[i]), int(ws[i])))
            segs.append(seg)
    has_area = [("area" in a) for a in anns]
    if all(has_area):
        area = _float_column(p, anns, "area", "annotations")
    else:
        area = xywh[:, 2] * xywh[:, 3]
        if any(has_area):
            idx = [i for i, h in enumerate(has_area) if h]
            area[idx] = _float_column(p, [anns[i] for i in idx], "area", "annotations")
    if (area < 0).any():
        i = int(np.flatnonzero(area < 0)[0])
        raise FormatError(p, f"annotations[{i}].area", f"negative ({area[i]})")
    ignore = None
    if any("ignore" in a for a in anns):
        ignore = np.array([bool(a.get("ignore", 0)) for a in anns], dtype=bool)
    boxes = xywh.copy()
    boxes[:, 2] += xywh[:, 0]
    boxes[:, 3] += xywh[:, 1]
    ann_extras = _extras(anns, _ANN_KEYS)
    if not all(has_area):
        ann_extras = [dict(e or {}) for e in (ann_extras or [{}] * n)]
        for i, h in enumerate(has_area):
            if not h:
                ann_extras[i]["_annokit_no_area"] = True
    try:
        inst = Instances(image_ids=a_img, boxes=boxes, labels=a_cat, iscrowd=iscrowd.astype(bool), area=area,
                         ids=ann_ids, segmentations=segs, ignore=ignore, extras=ann_extras, source_wh=xywh[:, 2:])
    except ValidationError as exc:  # pragma: no cover - the checks above come first
        raise FormatError(p, "annotations", str(exc)) from None
    top_extras = {k: v for k, v in data.items() if k not in {"images", "categories", "annotations", "info", "licenses"}}
    return Dataset.model_construct(images=tbl, categories=labels, annotations=inst, info=data.get("info"),
                                   licenses=data.get("licenses"), extras=top_extras)


def _shortest_width(l: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per row, the shortest decimal ``w`` with ``l + w == r`` (so a width 0.2 stays 0.2, not 0.20000000000000004)."""
    w0 = r - l
    out = w0.copy()
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


def dataset_to_coco_dict(ds: Dataset) -> dict:
    im = ds.images
    images = []
    for i in range(len(im)):
        rec: dict[str, Any] = {"id": int(im.ids[i]), "file_name": im.file_names[i], "height": int(im.heights[i]),
                               "width": int(im.widths[i])}
        if im.extras is not None:
            rec.update(im.extras[i])
        images.append(rec)
    str_ids = None
    if im.extras is not None and any("id" in e for e in im.extras):
        str_ids = {int(im.ids[i]): im.extras[i].get("id", int(im.ids[i])) for i in range(len(im))}
    categories = categories_to_coco(ds.categories)
    a = ds.annotations
    bb = ltrb_to_coco_bbox(a.boxes, a.source_wh)
    bboxes = bb.tolist()
    # integers stay integers in JSON: only rows holding an integral value need the per-value pass
    int_rows = ((bb == np.floor(bb)) & (np.abs(bb) < 2**53)).any(axis=1).tolist()
    anns = []
    ids, img_ids, labels = a.ids.tolist(), a.image_ids.tolist(), a.labels.tolist()
    areas, crowd = a.area.tolist(), a.iscrowd.tolist()
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
        if a.extras is not None:
            extra = a.extras[i]
            if extra.get("_annokit_no_area"):
                del rec["area"]
                extra = {k: v for k, v in extra.items() if k != "_annokit_no_area"}
            rec.update(extra)
        anns.append(rec)
    return coco_top_level(ds, images, anns, categories)


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


def coco_top_level(ds: Dataset, images: list, annotations: list, categories: list) -> dict[str, Any]:
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


def write_results(dets: Instances, path: PathLike, *, include_masks: bool = True) -> None:
    """Write detections as a COCO results list (``image_id, category_id, bbox, score[, segmentation]``)."""
    write_bytes_atomic(path, orjson.dumps(results_to_list(dets, include_masks=include_masks)))


def results_to_list(dets: Instances, *, include_masks: bool = True) -> list[dict[str, Any]]:
    """Detections as COCO result records (``image_id, category_id, bbox, score[, segmentation]``), boxes in the
    exact-width xywh of :func:`ltrb_to_coco_bbox`, compressed RLE counts as text."""
    if dets.scores is None:
        raise ValidationError("write_results: these instances have no scores (ground truth?)")
    bboxes = ltrb_to_coco_bbox(dets.boxes, dets.source_wh).tolist()
    out = []
    img, lab, sc = dets.image_ids.tolist(), dets.labels.tolist(), dets.scores.tolist()
    for i in range(len(dets)):
        rec: dict[str, Any] = {"image_id": img[i], "category_id": lab[i], "bbox": _nums(bboxes[i]), "score": sc[i]}
        if include_masks and dets.segmentations is not None and dets.segmentations[i] is not None:
            seg = dets.segmentations[i]
            if isinstance(seg, dict) and isinstance(seg.get("counts"), bytes):
                seg = {"size": seg["size"], "counts": seg["counts"].decode("ascii")}
            rec["segmentation"] = seg
        out.append(rec)
    return out
