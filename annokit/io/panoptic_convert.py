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

import os
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as _cmask

from annokit._internal.files import write_json_atomic
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.masks import rle_area, rle_to_bitmap, segmentation_to_rle
from annokit.errors import FormatError
from annokit.io.coco import _num, categories_to_coco, coco_top_level, ltrb_to_coco_bbox
from annokit.io.coco_panoptic import default_png_dir, read_id_png, read_panoptic_json, write_id_png

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


def read_panoptic_dataset(path: PathLike, png_dir: PathLike | None = None) -> Dataset:
    """Read a COCO panoptic JSON and its id PNGs into a :class:`Dataset` of per-segment RLE masks.

    >>> ds = read_panoptic_dataset("panoptic_val2017.json")  # doctest: +SKIP
    """
    jp = find_panoptic_json(path)
    pf = read_panoptic_json(jp)
    raw = pf.raw
    pdir = Path(png_dir) if png_dir is not None else default_png_dir(jp)
    images = raw.get("images")
    if not isinstance(images, list):
        raise FormatError(jp, "images", "missing or not a list (image sizes are needed)")
    by_id: dict[Any, int] = {}
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im:
            raise FormatError(jp, f"images[{i}]", "expected an object with an 'id'")
        by_id[im["id"]] = i
    str_ids = any(isinstance(k, str) for k in by_id)
    codes = {k: i for i, k in enumerate(sorted(by_id))} if str_ids else {k: k for k in by_id}
    heights, widths = [], []
    for i, im in enumerate(images):
        h, w = im.get("height"), im.get("width")
        if not (isinstance(h, int) and isinstance(w, int) and h >= 0 and w >= 0):
            raise FormatError(jp, f"images[{i}]", f"expected integer height and width, got {h!r}, {w!r}")
        heights.append(h)
        widths.append(w)
    img_extras: list[dict[str, Any]] = [{k: v for k, v in im.items() if k not in _IMG_KEYS} for im in images]
    if str_ids:
        for e, im in zip(img_extras, images):
            e["id"] = im["id"]
    cols: dict[str, list[Any]] = {k: [] for k in ("img", "ids", "cat", "crowd", "area", "xywh", "seg", "extra")}
    for pim, ann in zip(pf.images, raw["annotations"]):
        if pim.image_id not in by_id:
            raise FormatError(jp, f"{pim.where}.image_id", f"unknown image id {pim.image_id!r}")
        ii = by_id[pim.image_id]
        h, w = heights[ii], widths[ii]
        img_extras[ii]["panoptic_file_name"] = pim.file_name
        ann_extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS}
        if ann_extra:
            img_extras[ii]["panoptic_extras"] = ann_extra
        png = pdir / pim.file_name
        ids = read_id_png(png)
        if ids.shape != (h, w):
            raise FormatError(png, None, f"PNG is {ids.shape[1]}x{ids.shape[0]}, the image entry says {w}x{h}")
        present = np.unique(ids)
        unknown = np.setdiff1d(present[present != 0], pim.segment_ids)
        if unknown.size:
            raise FormatError(png, None, f"segment id {int(unknown[0])} is in the PNG but not in "
                                         f"{pim.where}.segments_info")
        n = len(pim.segment_ids)
        if n:
            stack = np.asfortranarray((ids[:, :, None] == pim.segment_ids[None, None, :].astype(np.uint32))
                                      .astype(np.uint8))
            rles = _cmask.encode(stack)
            m_area = rle_area(rles)
            m_box = np.asarray(_cmask.toBbox(rles), dtype=np.float64).reshape(-1, 4)
        for j, seg in enumerate(ann.get("segments_info", [])):
            cols["img"].append(codes[pim.image_id])
            cols["ids"].append(int(pim.segment_ids[j]))
            cols["cat"].append(int(pim.category_ids[j]))
            cols["crowd"].append(bool(pim.iscrowd[j]))
            cols["area"].append(float(seg["area"]) if "area" in seg else float(m_area[j]))
            bb = seg.get("bbox")
            if bb is not None:
                if not (isinstance(bb, list) and len(bb) == 4 and all(isinstance(v, (int, float)) for v in bb)):
                    raise FormatError(jp, f"{pim.where}.segments_info[{j}].bbox", f"expected [x, y, w, h], got {bb!r}")
                cols["xywh"].append([float(v) for v in bb])
            else:
                cols["xywh"].append(m_box[j].tolist())
            rle = rles[j]
            cols["seg"].append({"size": [h, w], "counts": rle["counts"]})
            extra = {k: v for k, v in seg.items() if k not in _SEG_KEYS}
            if "area" not in seg:
                extra["_annokit_no_area"] = True
            if bb is None:
                extra["_annokit_no_bbox"] = True
            cols["extra"].append(extra)
    unknown_cat = set(cols["cat"]) - set(pf.category_ids.tolist())
    if unknown_cat:
        raise FormatError(jp, "annotations", f"segments of unknown category id {sorted(unknown_cat)[0]}")
    cats = raw.get("categories", [])
    labels = LabelSet(ids=pf.category_ids, names=pf.category_names,
                      supercategories=[c.get("supercategory") for c in cats] if any("supercategory" in c for c in cats)
                      else None,
                      extras=[{k: v for k, v in c.items() if k not in _CAT_KEYS} for c in cats])
    seg_ids = np.asarray(cols["ids"], np.int64)
    if len(np.unique(seg_ids)) != len(seg_ids):
        # segment ids are unique per image only: annotation ids become 1..N, each segment id stays in extras
        for e, sid in zip(cols["extra"], cols["ids"]):
            e["segment_id"] = sid
        seg_ids = np.arange(1, len(seg_ids) + 1, dtype=np.int64)
    xywh = np.asarray(cols["xywh"], dtype=np.float64).reshape(-1, 4)
    boxes = xywh.copy()
    boxes[:, 2:] += xywh[:, :2]
    inst = Instances(image_ids=np.asarray(cols["img"], np.int64), boxes=boxes, labels=np.asarray(cols["cat"], np.int64),
                     iscrowd=np.asarray(cols["crowd"], bool), area=np.asarray(cols["area"], np.float64),
                     ids=seg_ids, segmentations=cols["seg"],
                     extras=cols["extra"] if any(cols["extra"]) else None, source_wh=xywh[:, 2:])
    table = ImageTable(ids=[codes[im["id"]] for im in images],
                       file_names=[str(im.get("file_name", "")) for im in images], heights=heights, widths=widths,
                       extras=img_extras)
    top = {k: v for k, v in raw.items() if k not in {"images", "annotations", "categories", "info", "licenses"}}
    return Dataset(images=table, categories=labels, annotations=inst, info=raw.get("info"),
                   licenses=raw.get("licenses"), extras=top)


def _segment_ids(a: Instances) -> np.ndarray:
    """Each row's panoptic segment id: ``extras["segment_id"]`` where set, else its annotation id."""
    if a.extras is None:
        return a.ids.copy()
    return np.array([int(e.get("segment_id", i)) for e, i in zip(a.extras, a.ids.tolist())], dtype=np.int64)


def _png_name(ds: Dataset, i: int) -> str:
    e = ds.images.extras[i] if ds.images.extras is not None else {}
    name = e.get("panoptic_file_name") or (Path(ds.images.file_names[i] or f"{int(ds.images.ids[i])}").stem + ".png")
    return safe_name(name, where=f"images[{i}]")


def write_panoptic_dataset(ds: Dataset, json_path: PathLike, png_dir: PathLike | None = None, *,
                           recorder: Any = None) -> None:
    """Paint ``ds``'s masks into id PNGs and write the panoptic JSON; losses go to ``recorder`` (a
    :class:`~annokit.core.losses.LossRecorder`) when given.

    The caller makes the whole output atomic (``annokit convert`` writes into a temporary folder and renames it);
    each file is itself written atomically.
    """
    jp = Path(json_path)
    pdir = Path(png_dir) if png_dir is not None else default_png_dir(jp)
    pdir.mkdir(parents=True, exist_ok=True)

    def lose(kind: str, where: str, n: int = 1) -> None:
        if recorder is not None:
            recorder.add_many(kind, n, [where])

    a = ds.annotations
    if a.scores is not None and len(a) and recorder is not None:
        recorder.add_many("scores dropped: COCO panoptic has no score", len(a), ["annotations[0].score"])
    img_pos = ds.images.index_of(a.image_ids)
    order = np.argsort(img_pos, kind="stable")
    bounds = np.searchsorted(img_pos[order], np.arange(len(ds.images) + 1))
    xywh = ltrb_to_coco_bbox(a.boxes, a.source_wh)
    seg_ids = _segment_ids(a)
    anns_out = []
    str_ids = ds.images.extras is not None and any("id" in (e or {}) for e in ds.images.extras)
    for i in range(len(ds.images)):
        h, w = int(ds.images.heights[i]), int(ds.images.widths[i])
        rows = order[bounds[i]:bounds[i + 1]]
        canvas = np.zeros((h, w), dtype=np.uint32)
        used: set[int] = set()
        infos = []
        next_id = 1
        for r in rows:
            where = f"annotations[{int(r)}] (id {int(a.ids[r])})"
            seg = a.segmentations[r] if a.segmentations is not None else None
            if seg is None:
                lose("objects without a mask dropped: COCO panoptic stores pixels", where)
                continue
            mask = rle_to_bitmap(segmentation_to_rle(seg, h, w))
            extra = dict(a.extras[r]) if a.extras is not None else {}
            extra.pop("segment_id", None)
            sid = int(seg_ids[r])
            if not 0 < sid < (1 << 24) or sid in used:
                while next_id in used or next_id in set(seg_ids[rows].tolist()):  # free in this image
                    next_id += 1
                lose("segment ids renumbered (outside 1..16777215 or repeated in an image)", where)
                sid = next_id
            used.add(sid)
            over = mask & (canvas != 0)
            if over.any():
                lose("pixels claimed by two objects: the later one keeps them (panoptic segments cannot overlap)",
                     where)
            canvas[mask] = sid
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
            infos.append(info)
        # an object painted over entirely has no pixel left: say so
        present = set(np.unique(canvas).tolist())
        for info, r in zip(infos, [r for r in rows if a.segmentations is not None and a.segmentations[r] is not None]):
            if info["id"] not in present and int(a.area[r]) > 0:
                lose("objects entirely covered by later objects (no pixel left in the PNG)",
                     f"annotations[{int(r)}] (id {int(a.ids[r])})")
        name = _png_name(ds, i)
        write_id_png(pdir / name, canvas)
        e = ds.images.extras[i] if ds.images.extras is not None else {}
        img_id = e.get("id", int(ds.images.ids[i])) if str_ids else int(ds.images.ids[i])
        entry = {"segments_info": infos, "file_name": name, "image_id": img_id}
        entry.update(e.get("panoptic_extras", {}))
        anns_out.append(entry)
    images_out = []
    for i in range(len(ds.images)):
        rec: dict[str, Any] = {"id": int(ds.images.ids[i]), "file_name": ds.images.file_names[i],
                               "height": int(ds.images.heights[i]), "width": int(ds.images.widths[i])}
        if ds.images.extras is not None:
            rec.update({k: v for k, v in ds.images.extras[i].items()
                        if k not in ("panoptic_file_name", "panoptic_extras")})
        images_out.append(rec)
    cats = categories_to_coco(ds.categories)
    for k, c in enumerate(cats):
        if "isthing" not in c:
            lose("categories without 'isthing': written as things (isthing = 1)", f"categories[{k}]")
            c["isthing"] = 1
    out = coco_top_level(ds, images_out, anns_out, cats)
    write_json_atomic(jp, out, indent=False)


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
    for r in range(len(stuff)):
        iid = int(stuff.image_ids[r])
        m = maps[iid]
        mask = rle_to_bitmap(segmentation_to_rle(stuff.segmentations[r], *m.shape))
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
        parts.append(Instances(image_ids=np.full(len(classes), iid), boxes=boxes, labels=classes,
                               area=rle_area(rles), ids=ids,
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
