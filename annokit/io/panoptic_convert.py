"""COCO panoptic <-> annokit datasets (instance masks), and panoptic <-> things instances + semantic maps.

Reading a panoptic dataset gives one object per segment: its id (``ids``), category, ``iscrowd``, ``area`` and box as
the JSON states them (the mask's when it states none), and its mask as compressed RLE, cut from the id PNG. Segments
never overlap, so writing those masks back paints the same PNG. Fields the core has no column for are kept in
``extras`` (per segment, per image entry: ``panoptic_file_name``; per category: ``isthing``, ``color``, ...).

Writing a dataset as panoptic paints its masks into id PNGs in annotation order and records, item by item, what the
format cannot hold: objects without a mask, pixels claimed by two objects (the later one keeps them), ids outside
1..2**24-1 or repeated in an image (renumbered), scores, non-integer areas.

:func:`split_things_stuff` / :func:`merge_things_stuff` convert between panoptic and the other common pair: thing
instances (COCO instances with RLE masks) plus semantic label maps of the stuff classes. A semantic map has no
segment ids, so merging numbers stuff segments afresh (``category_id``-derived, unique in the image) and the loss
report counts every stuff id that changes.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pycocotools import mask as _cmask

from annokit._internal.files import write_json_atomic
from annokit._internal.paths import safe_name
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances, Segmentation
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.core.masks import rle_area, rle_to_bitmap, segmentation_to_rle
from annokit.errors import AnnokitWarning, FormatError
from annokit.io.coco import _num, categories_to_coco, coco_top_level, ltrb_to_coco_bbox
from annokit.io.coco_panoptic import (
    PanopticFile,
    PanopticImage,
    _is_int,
    default_png_dir,
    read_id_png,
    read_panoptic_json,
    write_id_png,
)

__all__ = [
    "read_panoptic_dataset",
    "write_panoptic_dataset",
    "split_things_stuff",
    "merge_things_stuff",
    "find_panoptic_json",
]

PathLike = str | os.PathLike[str]
_SEG_KEYS = {"id", "category_id", "iscrowd", "area", "bbox"}
_ANN_KEYS = {"image_id", "file_name", "segments_info"}
_IMG_KEYS = {"id", "file_name", "height", "width"}
_CAT_KEYS = {"id", "name", "supercategory"}


def find_panoptic_json(path: PathLike) -> Path:
    """``X.json`` itself, or the one ``*.json`` in a folder that has a PNG folder named as its stem beside it."""
    p = Path(path)
    if p.is_file():
        return p
    cands = [j for j in sorted(p.glob("*.json")) if default_png_dir(j).is_dir()]
    if len(cands) != 1:
        raise FormatError(p, None, "expected one panoptic JSON with a PNG folder of the same name beside it, "
                                   f"found {len(cands)}")
    return cands[0]


@dataclass(frozen=True)
class _ImageEntries:
    """The ``images`` of a panoptic JSON: each entry's row by id, the integer id of each (codes of string ids),
    sizes and kept fields."""

    row_of: dict[Any, int]
    codes: dict[Any, int]
    heights: list[int]
    widths: list[int]
    extras: list[dict[str, Any]]


def _image_entries(jp: Path, images: Any) -> _ImageEntries:
    """Check the ``images`` list (ids all integers or all strings, integer sizes) and index it."""
    if not isinstance(images, list):
        raise FormatError(jp, "images", "missing or not a list (image sizes are needed)")
    row_of: dict[Any, int] = {}
    heights, widths = [], []
    for i, im in enumerate(images):
        if not isinstance(im, dict) or not (_is_int(im.get("id")) or isinstance(im.get("id"), str)):
            raise FormatError(jp, f"images[{i}]", "expected an object with an integer or string 'id'")
        h, w = im.get("height"), im.get("width")
        if not (isinstance(h, int) and isinstance(w, int) and _is_int(h) and _is_int(w) and 0 <= h < 2**31
                and 0 <= w < 2**31):
            raise FormatError(jp, f"images[{i}]", f"expected integer height and width, got {h!r}, {w!r}")
        if not isinstance(im.get("file_name", ""), str):
            raise FormatError(jp, f"images[{i}].file_name", f"expected a string, got {im['file_name']!r}")
        row_of[im["id"]] = i
        heights.append(h)
        widths.append(w)
    kinds = {isinstance(k, str) for k in row_of}
    if len(kinds) > 1:
        i = next(i for i, im in enumerate(images) if not isinstance(im["id"], str))
        raise FormatError(jp, f"images[{i}].id", "image ids mix strings and integers")
    str_ids = kinds == {True}
    codes = {k: i for i, k in enumerate(sorted(row_of))} if str_ids else {k: k for k in row_of}
    extras: list[dict[str, Any]] = [{k: v for k, v in im.items() if k not in _IMG_KEYS} for im in images]
    if str_ids:
        for e, im in zip(extras, images):
            e["id"] = im["id"]
    return _ImageEntries(row_of, codes, heights, widths, extras)


@dataclass
class _Segments:
    """The segments read so far, as columns."""

    img: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    cat: list[int] = field(default_factory=list)
    crowd: list[bool] = field(default_factory=list)
    area: list[float] = field(default_factory=list)
    xywh: list[list[float]] = field(default_factory=list)
    seg: list[Segmentation | None] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)


def _fit_to_image(png: Path, ids: NDArray[np.uint32], hw: tuple[int, int], rec: LossRecorder | None
                  ) -> NDArray[np.uint32]:
    """An id PNG of another size than its image record, laid on the image from the top-left corner (as datumaro
    reads such a PNG, without a check): pixels beyond the image are dropped, the rest of the image is void; counted
    in ``rec`` per image, with the PNG, both sizes and the dropped segment pixels."""
    h, w = hw
    out = np.zeros(hw, dtype=ids.dtype)
    hh, ww = min(h, ids.shape[0]), min(w, ids.shape[1])
    out[:hh, :ww] = ids[:hh, :ww]
    dropped = int(np.count_nonzero(ids)) - int(np.count_nonzero(out))
    msg = (f"{png.name}: PNG {ids.shape[1]}x{ids.shape[0]}, image {w}x{h}"
           + (f", {dropped} segment pixels beyond the image dropped" if dropped else ""))
    if rec is not None:
        rec.add("panoptic PNG of another size than its image record: laid on the image from the top-left corner",
                msg)
    return out


def _segment_masks(png: Path, pim: PanopticImage, hw: tuple[int, int], rec: LossRecorder | None
                   ) -> tuple[list[dict[str, Any]], FloatArray, FloatArray]:
    """The RLE mask of each segment of an image, cut from its id PNG, with the masks' areas and boxes (a PNG of
    another size than the image record: see :func:`_fit_to_image`)."""
    ids = read_id_png(png)
    if ids.shape != hw:
        ids = _fit_to_image(png, ids, hw, rec)
    present = np.unique(ids)
    unknown = np.setdiff1d(present[present != 0], pim.segment_ids)
    if unknown.size:
        raise FormatError(png, None, f"segment id {int(unknown[0])} is in the PNG but not in "
                                     f"{pim.where}.segments_info")
    if not len(pim.segment_ids):
        return [], np.zeros(0), np.zeros((0, 4))
    stack = np.asfortranarray((ids[:, :, None] == pim.segment_ids[None, None, :].astype(np.uint32)).astype(np.uint8))
    rles = _cmask.encode(stack)
    return rles, rle_area(rles), np.asarray(_cmask.toBbox(rles), dtype=np.float64).reshape(-1, 4)


def _add_segments(jp: Path, pdir: Path, pim: PanopticImage, ann: dict[str, Any], entries: _ImageEntries,
                  out: _Segments, rec: LossRecorder | None) -> None:
    """One annotation entry's segments: ids, categories, crowd flags, areas and boxes as the JSON states them (the
    mask's where it states none), masks from the PNG, other fields kept."""
    ii = entries.row_of[pim.image_id]
    h, w = entries.heights[ii], entries.widths[ii]
    entries.extras[ii]["panoptic_file_name"] = pim.file_name
    ann_extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS}
    if ann_extra:
        entries.extras[ii]["panoptic_extras"] = ann_extra
    rles, m_area, m_box = _segment_masks(pdir / pim.file_name, pim, (h, w), rec)
    for j, seg in enumerate(ann.get("segments_info", [])):
        bb = seg.get("bbox")
        if bb is not None and not (isinstance(bb, list) and len(bb) == 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bb)
                and bb[2] >= 0 and bb[3] >= 0 and math.isfinite(bb[0] + bb[2]) and math.isfinite(bb[1] + bb[3])):
            raise FormatError(jp, f"{pim.where}.segments_info[{j}].bbox",
                              f"expected [x, y, w, h] of finite numbers, w, h >= 0, got {bb!r}")
        out.img.append(entries.codes[pim.image_id])
        out.ids.append(int(pim.segment_ids[j]))
        out.cat.append(int(pim.category_ids[j]))
        out.crowd.append(bool(pim.iscrowd[j]))
        out.area.append(float(pim.area[j]) if pim.area[j] >= 0 else float(m_area[j]))
        out.xywh.append([float(v) for v in bb] if bb is not None else m_box[j].tolist())
        out.seg.append({"size": [h, w], "counts": rles[j]["counts"]})
        extra = {k: v for k, v in seg.items() if k not in _SEG_KEYS}
        if "area" not in seg:
            extra["_annokit_no_area"] = True
        if bb is None:
            extra["_annokit_no_bbox"] = True
        out.extra.append(extra)


def _panoptic_labels(jp: Path, pf: PanopticFile, used: list[int]) -> LabelSet:
    """The categories (``isthing``, ``color`` and other fields kept); a segment of another category is an error."""
    unknown_cat = set(used) - set(pf.category_ids.tolist())
    if unknown_cat:
        raise FormatError(jp, "annotations", f"segments of unknown category id {sorted(unknown_cat)[0]}")
    cats = pf.raw.get("categories", [])
    supers = [c.get("supercategory") for c in cats] if any("supercategory" in c for c in cats) else None
    if supers is not None and not all(s is None or isinstance(s, str) for s in supers):
        raise FormatError(jp, "categories", "a supercategory is not a string")
    return LabelSet(ids=pf.category_ids, names=pf.category_names, supercategories=supers,
                    extras=[{k: v for k, v in c.items() if k not in _CAT_KEYS} for c in cats])


def read_panoptic_dataset(path: PathLike, png_dir: PathLike | None = None, *, recorder: LossRecorder | None = None
                          ) -> Dataset:
    """Read a COCO panoptic JSON and its id PNGs into a :class:`Dataset` of per-segment RLE masks.

    An id PNG of another size than its image record is laid on the image from the top-left corner (pixels beyond
    the image dropped, the rest void), as datumaro reads it, and counted in ``recorder`` (with a warning when
    there is none).

    >>> ds = read_panoptic_dataset("panoptic_val2017.json")  # doctest: +SKIP
    """
    jp = find_panoptic_json(path)
    pf = read_panoptic_json(jp)
    raw = pf.raw
    pdir = Path(png_dir) if png_dir is not None else default_png_dir(jp)
    entries = _image_entries(jp, raw.get("images"))
    segs = _Segments()
    rec = recorder if recorder is not None else LossRecorder()
    for pim, ann in zip(pf.images, raw["annotations"]):
        if pim.image_id not in entries.row_of:
            raise FormatError(jp, f"{pim.where}.image_id", f"unknown image id {pim.image_id!r}")
        _add_segments(jp, pdir, pim, ann, entries, segs, rec)
    if recorder is None:
        for entry in rec.report().entries:
            warnings.warn(f"{entry.kind}: {'; '.join(entry.examples)}", AnnokitWarning, stacklevel=2)
    labels = _panoptic_labels(jp, pf, segs.cat)
    seg_ids = np.asarray(segs.ids, np.int64)
    if len(np.unique(seg_ids)) != len(seg_ids):
        # segment ids are unique per image only: annotation ids become 1..N, each segment id stays in extras
        for e, sid in zip(segs.extra, segs.ids):
            e["segment_id"] = sid
        seg_ids = np.arange(1, len(seg_ids) + 1, dtype=np.int64)
    xywh = np.asarray(segs.xywh, dtype=np.float64).reshape(-1, 4)
    boxes = xywh.copy()
    boxes[:, 2:] += xywh[:, :2]
    inst = Instances(image_ids=np.asarray(segs.img, np.int64), boxes=boxes, labels=np.asarray(segs.cat, np.int64),
                     iscrowd=np.asarray(segs.crowd, bool), area=np.asarray(segs.area, np.float64), ids=seg_ids,
                     segmentations=segs.seg, extras=segs.extra if any(segs.extra) else None, source_wh=xywh[:, 2:])
    images = raw["images"]
    table = ImageTable(ids=np.asarray([entries.codes[im["id"]] for im in images], dtype=np.int64),
                       file_names=[str(im.get("file_name", "")) for im in images],
                       heights=np.asarray(entries.heights, dtype=np.int64),
                       widths=np.asarray(entries.widths, dtype=np.int64), extras=entries.extras)
    top = {k: v for k, v in raw.items() if k not in {"images", "annotations", "categories", "info", "licenses"}}
    return Dataset(images=table, categories=labels, annotations=inst, info=raw.get("info"),
                   licenses=raw.get("licenses"), extras=top)


def _segment_ids(a: Instances) -> IntArray:
    """Each row's panoptic segment id: ``extras["segment_id"]`` where set, else its annotation id."""
    if a.extras is None:
        return a.ids.copy()
    return np.array([int(e.get("segment_id", i)) for e, i in zip(a.extras, a.ids.tolist())], dtype=np.int64)


def _png_name(ds: Dataset, i: int) -> str:
    e = ds.images.extras[i] if ds.images.extras is not None else {}
    name = e.get("panoptic_file_name") or (Path(ds.images.file_names[i] or f"{int(ds.images.ids[i])}").stem + ".png")
    return safe_name(name, where=f"images[{i}]")


Lose = Callable[[str, str], None]


def _segment_info(a: Instances, r: int, sid: int, mask: BoolArray, xywh: FloatArray, lose: Lose, where: str
                  ) -> dict[str, Any]:
    """The ``segments_info`` entry of object row ``r`` painted as segment ``sid``."""
    extra = dict(a.extras[r]) if a.extras is not None else {}
    extra.pop("segment_id", None)
    info: dict[str, Any] = {"id": sid, "category_id": int(a.labels[r]), "iscrowd": int(a.iscrowd[r])}
    area = float(a.area[r])
    if not extra.pop("_annokit_no_area", False):
        if not area.is_integer():
            lose("non-integer areas replaced by the pixel count", where)
            area = float(mask.sum())
        info["area"] = int(area)
    if not extra.pop("_annokit_no_bbox", False):
        info["bbox"] = [_num(v) for v in xywh[r].tolist()]
    info.update(extra)
    return info


def _paint_image(ds: Dataset, i: int, rows: IntArray, seg_ids: IntArray, xywh: FloatArray, lose: Lose
                 ) -> tuple[NDArray[np.uint32], list[dict[str, Any]]]:
    """Image ``i``'s id map (objects painted in order, the later one keeping shared pixels) and its
    ``segments_info``; what does not fit is passed to ``lose``."""
    a = ds.annotations
    h, w = int(ds.images.heights[i]), int(ds.images.widths[i])
    canvas = np.zeros((h, w), dtype=np.uint32)
    taken = set(seg_ids[rows].tolist())
    used: set[int] = set()
    infos, painted = [], []
    next_id = 1
    for r in rows.tolist():
        where = f"annotations[{r}] (id {int(a.ids[r])})"
        seg = a.segmentations[r] if a.segmentations is not None else None
        if seg is None:
            lose("objects without a mask dropped: COCO panoptic stores pixels", where)
            continue
        mask = rle_to_bitmap(segmentation_to_rle(seg, h, w)).astype(bool)
        sid = int(seg_ids[r])
        if not 0 < sid < (1 << 24) or sid in used:
            while next_id in used or next_id in taken:  # free in this image
                next_id += 1
            lose("segment ids renumbered (outside 1..16777215 or repeated in an image)", where)
            sid = next_id
        used.add(sid)
        if (mask & (canvas != 0)).any():
            lose("pixels claimed by two objects: the later one keeps them (panoptic segments cannot overlap)", where)
        canvas[mask] = sid
        infos.append(_segment_info(a, r, sid, mask, xywh, lose, where))
        painted.append(r)
    present = set(np.unique(canvas).tolist())
    for info, r in zip(infos, painted):  # an object painted over entirely has no pixel left: say so
        if info["id"] not in present and int(a.area[r]) > 0:
            lose("objects entirely covered by later objects (no pixel left in the PNG)",
                 f"annotations[{r}] (id {int(a.ids[r])})")
    return canvas, infos


def _images_out(ds: Dataset) -> list[dict[str, Any]]:
    """The ``images`` list (the panoptic entry's own fields left out: they go to ``annotations``)."""
    out = []
    im = ds.images
    for i in range(len(im)):
        rec: dict[str, Any] = {"id": int(im.ids[i]), "file_name": im.file_names[i], "height": int(im.heights[i]),
                               "width": int(im.widths[i])}
        if im.extras is not None:
            rec.update({k: v for k, v in im.extras[i].items() if k not in ("panoptic_file_name", "panoptic_extras")})
        out.append(rec)
    return out


def write_panoptic_dataset(ds: Dataset, json_path: PathLike, png_dir: PathLike | None = None, *,
                           recorder: LossRecorder | None = None) -> None:
    """Paint ``ds``'s masks into id PNGs and write the panoptic JSON; losses go to ``recorder`` when given.

    The caller makes the whole output atomic (``annokit convert`` writes into a temporary folder and renames it);
    each file is itself written atomically.
    """
    jp = Path(json_path)
    pdir = Path(png_dir) if png_dir is not None else default_png_dir(jp)
    pdir.mkdir(parents=True, exist_ok=True)

    def lose(kind: str, where: str) -> None:
        if recorder is not None:
            recorder.add_many(kind, 1, [where])

    a, im = ds.annotations, ds.images
    if a.scores is not None and len(a) and recorder is not None:
        recorder.add_many("scores dropped: COCO panoptic has no score", len(a), ["annotations[0].score"])
    img_pos = im.index_of(a.image_ids)
    order = np.argsort(img_pos, kind="stable")
    bounds = np.searchsorted(img_pos[order], np.arange(len(im) + 1))
    xywh = ltrb_to_coco_bbox(a.boxes, a.source_wh)
    seg_ids = _segment_ids(a)
    str_ids = im.extras is not None and any("id" in (e or {}) for e in im.extras)
    anns_out = []
    for i in range(len(im)):
        canvas, infos = _paint_image(ds, i, order[bounds[i]:bounds[i + 1]], seg_ids, xywh, lose)
        name = _png_name(ds, i)
        write_id_png(pdir / name, canvas)
        e = im.extras[i] if im.extras is not None else {}
        entry = {"segments_info": infos, "file_name": name,
                 "image_id": e.get("id", int(im.ids[i])) if str_ids else int(im.ids[i])}
        entry.update(e.get("panoptic_extras", {}))
        anns_out.append(entry)
    cats = categories_to_coco(ds.categories)
    for k, c in enumerate(cats):
        if "isthing" not in c:
            lose("categories without 'isthing': written as things (isthing = 1)", f"categories[{k}]")
            c["isthing"] = 1
    write_json_atomic(jp, coco_top_level(ds, _images_out(ds), anns_out, cats), indent=False)


def split_things_stuff(ds: Dataset, *, void: int = 0) -> tuple[Dataset, dict[int, np.ndarray]]:
    """Panoptic dataset -> (thing instances, semantic maps of the stuff classes).

    The maps are ``(H, W)`` int32 category ids per image id, ``void`` where no stuff segment is (things' pixels
    included: they are in the instances). Thing-ness comes from the categories' ``isthing`` extra.
    """
    isthing = _isthing(ds)
    thing = isthing[ds.categories.index_of(ds.annotations.labels)] if len(ds.annotations) else np.zeros(0, bool)
    things = ds.with_annotations(ds.annotations[thing])
    stuff = ds.annotations[~thing]
    maps: dict[int, np.ndarray] = {}
    for i in range(len(ds.images)):
        h, w = int(ds.images.heights[i]), int(ds.images.widths[i])
        maps[int(ds.images.ids[i])] = np.full((h, w), void, dtype=np.int32)
    segs = stuff.segmentations or [None] * len(stuff)
    for r in range(len(stuff)):
        iid = int(stuff.image_ids[r])
        m = maps[iid]
        seg = segs[r]
        if seg is None:
            continue  # a panoptic segment always has its mask; an object without one paints nothing
        mask = rle_to_bitmap(segmentation_to_rle(seg, *m.shape))
        m[mask] = int(stuff.labels[r])
    return things, maps


def merge_things_stuff(things: Dataset, semantic: dict[int, np.ndarray], *, void: int = 0,
                       recorder: Any = None, original_ids: dict[tuple[int, int], int] | None = None) -> Dataset:
    """Thing instances + stuff semantic maps -> one panoptic-ready dataset (stuff first, then things).

    Each stuff class present in an image becomes one segment, numbered ``original_ids[(image_id, category_id)]``
    when given, else ``category_id * 1000 + k`` (the smallest free number of that form); every id that differs from
    ``original_ids`` is counted in ``recorder``.
    """
    t = things.annotations
    parts = []
    for i in range(len(things.images)):
        iid = int(things.images.ids[i])
        m = semantic.get(iid)
        if m is None:
            continue
        taken = set(_segment_ids(t)[t.image_ids == iid].tolist())
        classes = [int(c) for c in np.unique(m) if int(c) != void]
        if not classes:
            continue
        stack = np.asfortranarray(np.stack([(m == c) for c in classes], axis=2).astype(np.uint8))
        rles = _cmask.encode(stack)
        ids = []
        for c in classes:
            want = (original_ids or {}).get((iid, c))
            sid = want if want is not None and want not in taken else None
            if sid is None:
                k = 0
                while c * 1000 + k in taken:
                    k += 1
                sid = c * 1000 + k
                if recorder is not None:
                    recorder.add_many("stuff segment ids not kept: a semantic map has no ids (renumbered)", 1,
                                      [f"image {iid}, category {c}"])
            taken.add(sid)
            ids.append(sid)
        xywh = np.asarray(_cmask.toBbox(rles), dtype=np.float64).reshape(-1, 4)
        boxes = xywh.copy()
        boxes[:, 2:] += xywh[:, :2]
        parts.append(Instances(image_ids=np.full(len(classes), iid), boxes=boxes,
                               labels=np.asarray(classes, dtype=np.int64), area=rle_area(rles),
                               ids=np.asarray(ids, dtype=np.int64),
                               segmentations=[{"size": r["size"], "counts": r["counts"]} for r in rles],
                               extras=[{"segment_id": sid} for sid in ids], source_wh=xywh[:, 2:]))
    base = t.replace(extras=t.extras if t.extras is not None else [{} for _ in range(len(t))],
                     segmentations=t.segmentations if t.segmentations is not None else [None] * len(t),
                     source_wh=t.source_wh if t.source_wh is not None else t.widths_heights())
    merged = Instances.concat([*parts, base])
    return things.with_annotations(merged)


def _isthing(ds: Dataset) -> np.ndarray:
    ex = ds.categories.extras
    if ex is None:
        return np.ones(len(ds.categories), dtype=bool)
    return np.array([bool(e.get("isthing", 1)) for e in ex], dtype=bool)
