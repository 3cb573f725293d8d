"""PNG masks: semantic label maps with a class list, and instance-id maps.

Layout of a ``png`` dataset folder::

    classes.txt              one "id name" a line (also read: datumaro's dataset_meta.json, VOC's labelmap.txt)
    masks/<stem>.png         semantic label map: pixel = category id; 0 = no object, 255 = void
                             (8-bit palette with the VOC colours when every id is below 255, else 16-bit gray)
    instances/<stem>.png     optional instance map (16-bit): 0 = no object, k = the image's k-th object

Reading accepts palette (indices), grayscale (8 or 16 bit) and RGB colour masks (colours mapped through
``dataset_meta.json``'s ``segmentation_colors`` or the VOC colour map). With ``instances/`` every instance id is an
object whose class is the semantic value under it; without it every class present in an image is one object.
Masks become COCO RLE (exactly the pixels of the PNG); boxes are their tight extent and areas their pixel counts.

Writing rasterizes polygons exactly as pycocotools does (:func:`annokit.core.masks.segmentation_to_rle`); objects
are painted in order, so a later object covers an earlier one where they overlap (counted as a loss). Every PNG is
size-checked before it is decoded (no decompression bombs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import open_image_checked

__all__ = ["read_png_masks", "write_png_masks", "read_label_png", "write_label_png", "read_classes"]

PathLike = str | os.PathLike[str]
VOID = 255


# ------------------------------------------------------------------------------------------- single PNGs
def read_label_png(path: PathLike, *, colors: np.ndarray | None = None) -> np.ndarray:
    """``(H, W)`` integer labels of a PNG: palette indices, gray values, or RGB colours mapped to their index in
    ``colors`` (``(K, 3)``; default the VOC colour map). An RGB colour not in the table is an error."""
    im = open_image_checked(path)
    try:
        mode = im.mode
        if mode == "P":
            arr = np.asarray(im)  # indices
        elif mode in ("L", "I;16", "I;16B", "I", "1"):
            arr = np.asarray(im)
            if mode == "I":
                arr = arr.astype(np.int64)
        elif mode in ("RGB", "RGBA"):
            rgb = np.asarray(im.convert("RGB")).astype(np.int64)
            if colors is None:
                from annokit.io.voc import voc_colormap

                colors = voc_colormap(256)
            table = np.asarray(colors, dtype=np.int64).reshape(-1, 3)
            code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            tcode = (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2]
            order = np.argsort(tcode, kind="stable")
            pos = np.clip(np.searchsorted(tcode[order], code), 0, len(order) - 1)
            hit = tcode[order][pos] == code
            if not hit.all():
                y, x = np.argwhere(~hit)[0]
                raise FormatError(path, f"pixel ({int(x)}, {int(y)})",
                                  f"colour {tuple(int(v) for v in rgb[y, x])} is not in the class colour table")
            arr = order[pos]
        else:
            raise FormatError(path, None, f"PNG mode {mode!r} is not a label map (palette, gray or RGB)")
    finally:
        im.close()
    return np.ascontiguousarray(arr)


def write_label_png(path: PathLike, labels: np.ndarray, *, palette: bool = True) -> None:
    """Write ``(H, W)`` labels: 8-bit palette (VOC colours) when all are < 256 and ``palette``, else 16-bit gray."""
    from PIL import Image

    a = np.asarray(labels)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise FormatError(path, None, "label values must be in 0..65535 to fit a PNG")
    if palette and (a.size == 0 or a.max() < 256):
        from annokit.io.voc import voc_colormap

        im = Image.fromarray(a.astype(np.uint8), mode="P")
        im.putpalette(voc_colormap(256).reshape(-1).tolist())
    else:
        im = Image.fromarray(a.astype(np.uint16))
    im.save(path, format="PNG")


# ------------------------------------------------------------------------------------------- class lists
def read_classes(root: Path) -> tuple[LabelSet | None, np.ndarray | None, int]:
    """Class list of a mask folder, its colour table (or None) and the background value."""
    from annokit.io.coco import load_json

    ct = root / "classes.txt"
    if ct.is_file():
        ids, names = [], []
        for i, line in enumerate(ct.read_text(encoding="utf-8").splitlines()):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split(None, 1)
            if len(parts) != 2 or not parts[0].lstrip("-").isdigit():
                raise FormatError(ct, f"line {i + 1}", "expected 'id name'")
            ids.append(int(parts[0]))
            names.append(parts[1])
        return LabelSet(ids=ids, names=names), None, 0
    meta = root / "dataset_meta.json"
    if meta.is_file():
        d = load_json(meta)
        lm = d.get("label_map") if isinstance(d, dict) else None
        if not isinstance(lm, dict):
            raise FormatError(meta, "label_map", "expected {id: name}")
        items = sorted((int(k), str(v)) for k, v in lm.items())
        colors = d.get("segmentation_colors")
        table = None
        if isinstance(colors, list):
            table = np.zeros((max(k for k, _ in items) + 1, 3), dtype=np.int64) - 1
            for (k, _), c in zip(items, colors):
                table[k] = c
        bg = int(d.get("background_label", 0))
        return LabelSet(ids=[k for k, _ in items], names=[n for _, n in items]), table, bg
    lm = root / "labelmap.txt"
    if lm.is_file():
        from annokit.io.voc import _label_set, read_labelmap

        ls = _label_set([], read_labelmap(lm))
        return ls, None, 0
    return None, None, 0


# ------------------------------------------------------------------------------------------- reading
def _stems(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in sorted(folder.rglob("*.png"))}


def read_png_masks_keyed(root: PathLike, *, recorder: LossRecorder | None = None, masks: str = "masks",
                         instances: str = "instances", ignore_index: int = VOID) -> tuple[Dataset, list[str]]:
    """Read a PNG mask folder; also return each image's key (its stem)."""
    from annokit.core.masks import bitmap_to_rle, rle_area, rle_to_ltrb

    root = Path(root)
    rec = recorder if recorder is not None else LossRecorder()
    labels, colors, background = read_classes(root)
    sem = _stems(root / masks)
    ins = _stems(root / instances)
    if not sem and not ins:
        raise FormatError(root, None, f"no {masks}/*.png or {instances}/*.png")
    keys = sorted(set(sem) | set(ins))
    img_dir = root / "images"
    file_names, hs, ws = [], [], []
    rows_img: list[int] = []
    rows_lab: list[int] = []
    rles: list[dict] = []
    rows_slot: list[int] = []
    seen_vals: set[int] = set()
    for i, key in enumerate(keys):
        s = read_label_png(sem[key], colors=colors) if key in sem else None
        n = read_label_png(ins[key]) if key in ins else None
        if s is not None and n is not None and s.shape != n.shape:
            raise FormatError(ins[key], None, f"size {n.shape[::-1]} differs from {sem[key]}'s {s.shape[::-1]}")
        ref = s if s is not None else n
        h, w = ref.shape
        hs.append(h)
        ws.append(w)
        img = None
        for ext in (".jpg", ".png", ".jpeg"):
            if (img_dir / (key + ext)).is_file():
                img = f"images/{key}{ext}"
                break
        file_names.append(img or key + ".jpg")
        if n is not None:
            ids = np.unique(n)
            for k in ids[ids != 0].tolist():
                m = n == k
                if s is None:
                    raise FormatError(ins[key], None, "instance map without its semantic map (the class of each "
                                                      "instance comes from masks/)")
                vals, counts = np.unique(s[m], return_counts=True)
                cls = int(vals[np.argmax(counts)])
                if len(vals) > 1:
                    rec.add("instance covers several classes (the majority class kept)", f"{key}: instance {k}")
                if cls == background or cls == ignore_index:
                    rec.add("instance on background or void pixels dropped", f"{key}: instance {k}")
                    continue
                seen_vals.add(cls)
                rows_img.append(i)
                rows_lab.append(cls)
                rows_slot.append(k - 1)
                rles.append(bitmap_to_rle(m))
            if s is not None:
                stray = (n == 0) & (s != background) & (s != ignore_index)
                if stray.any():
                    rec.add("class pixels outside every instance dropped", key)
        else:
            vals = np.unique(s)
            for v in vals.tolist():
                if v == background or v == ignore_index:
                    continue
                seen_vals.add(int(v))
                rows_img.append(i)
                rows_lab.append(int(v))
                rows_slot.append(-1)
                rles.append(bitmap_to_rle(s == v))
        if s is not None and ignore_index is not None and (s == ignore_index).any():
            rec.add("void pixels (255) dropped: COCO instances have no void", key)
    if labels is None:
        vals = sorted(seen_vals)
        labels = LabelSet(ids=vals, names=[str(v) for v in vals])
        rec.warn(f"{root}: no classes.txt / dataset_meta.json / labelmap.txt: categories are named by their value")
    unknown = sorted(seen_vals - set(labels.ids.tolist()))
    if unknown:
        raise FormatError(root, None, f"mask values {unknown} are not in the class list")
    ids = np.arange(1, len(keys) + 1)
    tbl = ImageTable(ids=ids, file_names=file_names, heights=hs, widths=ws)
    if rles:
        boxes = rle_to_ltrb(rles)
        inst = Instances(image_ids=ids[np.asarray(rows_img)], boxes=boxes, labels=rows_lab, area=rle_area(rles),
                         segmentations=[{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in rles],
                         extras=[{"_annokit_slot": k} for k in rows_slot] if min(rows_slot) >= 0 else None)
    else:
        inst = Instances.empty()
    return Dataset(images=tbl, categories=labels, annotations=inst), keys


def read_png_masks(root: PathLike, **kw: Any) -> Dataset:
    """Read a PNG mask folder (see the module text). ``masks`` / ``instances`` name the two sub-folders.

    >>> ds = read_png_masks("masks_dataset")  # doctest: +SKIP
    """
    return read_png_masks_keyed(root, **kw)[0]


# ------------------------------------------------------------------------------------------- writing
def write_png_masks_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None,
                         kept_in: str | None = None, instances: bool = True) -> list[str]:
    """Write ``ds`` as PNG masks into the existing folder ``root``; return each image's key (its stem)."""
    from annokit.core.masks import rle_area, rle_to_bitmap, rle_to_ltrb, segmentation_to_rle

    rec = recorder if recorder is not None else LossRecorder()
    cats = ds.categories
    if (cats.ids == 0).any() or (cats.ids == VOID).any() or (cats.ids < 0).any() or (cats.ids > 65534).any():
        bad = int(cats.ids[(cats.ids <= 0) | (cats.ids == VOID) | (cats.ids > 65534)][0])
        raise FormatError(None, "categories", f"category id {bad} collides with the PNG's background (0) or void "
                                              "(255) value, or does not fit 16 bits: remap the ids first")
    palette = bool(cats.ids.max() < 255) if len(cats) else True
    im, a = ds.images, ds.annotations
    lines = [f"{int(i)} {n}" for i, n in sorted(zip(cats.ids.tolist(), cats.names))]
    for n in cats.names:
        if "\n" in n or n != n.strip() or not n:
            raise FormatError(None, "categories", f"category name {n!r} cannot be written to classes.txt")
    (root / "classes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "masks").mkdir()
    if instances:
        (root / "instances").mkdir()
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(im) + 1))
    segs = a.segmentations
    n_poly = n_nomask = n_overlap = n_box = n_area = n_gone = n_empty = 0
    ex_gone: list[str] = []
    ex_nomask: list[str] = []
    ex_overlap: list[str] = []
    keys = []
    seen: set[str] = set()
    for i in range(len(im)):
        h, w = int(im.heights[i]), int(im.widths[i])
        name = safe_name(im.file_names[i], where=f"images[{i}].file_name")
        base = name.rsplit("/", 1)[-1]
        dot = base.rfind(".")
        stem = name[: len(name) - len(base) + dot] if dot > 0 else name
        if stem.lower() in seen:
            raise FormatError(None, f"images[{i}].file_name", f"two images would write masks/{stem}.png")
        seen.add(stem.lower())
        if h <= 0 or w <= 0:
            raise FormatError(None, f"images[{i}]", f"image {im.file_names[i]!r} has no size; a mask needs one")
        semantic = np.zeros((h, w), dtype=np.uint16)
        inst = np.zeros((h, w), dtype=np.uint32)
        rows = order[starts[i]:starts[i + 1]].tolist()
        painted: list[tuple[int, int, Any]] = []
        k = 0
        for r in rows:
            seg = segs[r] if segs is not None else None
            k += 1  # the object's slot: instance id k is the image's k-th object, drawn or not
            if seg is None or seg == []:
                n_nomask += 1
                if len(ex_nomask) < 5:
                    ex_nomask.append(f"annotation id {int(a.ids[r])}")
                continue
            if isinstance(seg, list):
                n_poly += 1
            rle = segmentation_to_rle(seg, h, w)
            m = rle_to_bitmap(rle)
            semantic[m] = a.labels[r]
            inst[m] = k
            painted.append((r, k, rle))
        if k > 65535:
            raise FormatError(None, f"images[{i}]", f"{k} objects do not fit a 16-bit instance map")
        if painted:
            counts = np.bincount(inst.reshape(-1), minlength=k + 1)
            for r, kk, rle in painted:
                full = float(rle_area([rle])[0])
                if counts[kk] == 0 and full > 0:
                    n_gone += 1
                    if len(ex_gone) < 5:
                        ex_gone.append(f"annotation id {int(a.ids[r])}")
                elif counts[kk] != full:
                    n_overlap += 1
                    if len(ex_overlap) < 5:
                        ex_overlap.append(f"annotation id {int(a.ids[r])} ({int(full - counts[kk])} px)")
                elif full > 0:
                    tb = rle_to_ltrb([rle])[0]
                    if not np.array_equal(tb, a.boxes[r]):
                        n_box += 1
                    if full != a.area[r]:
                        n_area += 1
                if full == 0:
                    n_empty += 1
        dest = root / "masks" / f"{stem}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_label_png(dest, semantic, palette=palette)
        if instances:
            d2 = root / "instances" / f"{stem}.png"
            d2.parent.mkdir(parents=True, exist_ok=True)
            write_label_png(d2, inst, palette=False)
        keys.append(stem)
    rec.add_many("object without a mask dropped from the PNGs", n_nomask, ex_nomask, kept_in=kept_in)
    rec.add_many("pixels covered by a later overlapping object", n_overlap, ex_overlap, kept_in=kept_in)
    rec.add_many("object wholly covered by later objects: not in the PNGs", n_gone, ex_gone, kept_in=kept_in)
    rec.add_many("object with an empty mask: not in the PNGs", n_empty, kept_in=kept_in)
    rec.add_many("polygon stored as pixels (mask exact, vertex list lost)", n_poly, kept_in=kept_in)
    rec.add_many("box replaced by the mask's extent", n_box, kept_in=kept_in)
    rec.add_many("area replaced by the mask's pixel count", n_area, kept_in=kept_in)
    if not instances:
        rec.add_many("instances merged: a semantic map keeps classes only", len(a), kept_in=kept_in)
    crowd = int(a.iscrowd.sum())
    rec.add_many("crowd flag dropped: PNG masks have no iscrowd", crowd, kept_in=kept_in)
    rec.add_many("annotation ids dropped: instance ids are 1..k per image", len(a) - n_nomask, kept_in=kept_in)
    rec.add_many("image ids dropped: PNG masks are named by file", len(im), kept_in=kept_in)
    if a.scores is not None:
        rec.add_many("scores dropped: PNG masks have none", len(a), kept_in=kept_in)
    if a.extras is not None:
        rec.add_many("annotation fields dropped: PNG masks hold class and pixels only",
                     sum(1 for e in a.extras if e), kept_in=kept_in)
    if im.extras is not None:
        rec.add_many("image fields dropped: PNG masks hold pixels only", sum(1 for e in im.extras if e),
                     kept_in=kept_in)
    if cats.supercategories is not None and any(cats.supercategories):
        rec.add_many("supercategory dropped: classes.txt has id and name", len(cats), kept_in=kept_in)
    if ds.info is not None or ds.licenses is not None or ds.extras:
        rec.add_many("dataset info / licenses / top-level fields dropped", 1, kept_in=kept_in)
    return keys


def write_png_masks(ds: Dataset, root: PathLike, *, instances: bool = True, overwrite: bool = False,
                    recorder: LossRecorder | None = None) -> None:
    """Write ``ds`` as a PNG mask folder, atomically (see the module text)."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_png_masks_into(ds, tmp, recorder=recorder, instances=instances)
