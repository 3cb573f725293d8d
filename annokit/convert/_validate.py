"""``validate`` and ``stats``: every problem of a dataset with its place, and its counts (private)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annokit.core.dataset import Dataset
from annokit.errors import AnnokitError, FormatError

__all__ = ["Problem", "validate", "stats"]


@dataclass(frozen=True)
class Problem:
    """One problem: ``level`` ("error" or "warning"), the file, the place in it, and what is wrong."""

    level: str
    path: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: " + ": ".join(x for x in (self.path, self.where, self.message) if x)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_coco(path: Path, out: list[Problem]) -> None:
    from annokit.io.coco import _check_segmentation, load_json

    data = load_json(path)
    P = str(path)
    if not isinstance(data, dict):
        out.append(Problem("error", P, "", "expected a JSON object at the top"))
        return
    images = data.get("images")
    cats = data.get("categories")
    anns = data.get("annotations", [])
    for key, val in (("images", images), ("categories", cats), ("annotations", anns)):
        if not isinstance(val, list):
            out.append(Problem("error", P, key, "missing or not a list"))
    if not isinstance(images, list) or not isinstance(cats, list) or not isinstance(anns, list):
        return
    sizes: dict[Any, tuple[int, int]] = {}
    names: dict[str, int] = {}
    for i, im in enumerate(images):
        w = f"images[{i}]"
        if not isinstance(im, dict):
            out.append(Problem("error", P, w, "not an object"))
            continue
        if im.get("id") in sizes:
            out.append(Problem("error", P, f"{w}.id", f"duplicate image id {im.get('id')!r}"))
        h, wd = im.get("height"), im.get("width")
        if not (isinstance(h, int) and isinstance(wd, int) and h >= 0 and wd >= 0):
            out.append(Problem("error", P, w, f"height/width must be non-negative integers ({h!r}, {wd!r})"))
            h = wd = None
        sizes[im.get("id")] = (h, wd)  # type: ignore[assignment]
        fn = im.get("file_name")
        if not isinstance(fn, str):
            out.append(Problem("error", P, f"{w}.file_name", "missing or not a string"))
        else:
            if fn in names:
                out.append(Problem("warning", P, f"{w}.file_name", f"same file as images[{names[fn]}]: {fn!r}"))
            names.setdefault(fn, i)
            try:
                from annokit._internal.paths import safe_name

                safe_name(fn)
            except FormatError as exc:
                out.append(Problem("warning", P, f"{w}.file_name", exc.message))
    cat_ids = set()
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or not isinstance(c.get("name"), str):
            out.append(Problem("error", P, f"categories[{i}]", "needs an integer id and a string name"))
            continue
        if c["id"] in cat_ids:
            out.append(Problem("error", P, f"categories[{i}].id", f"duplicate category id {c['id']}"))
        cat_ids.add(c["id"])
    ann_ids = set()
    for i, a in enumerate(anns):
        w = f"annotations[{i}]"
        if not isinstance(a, dict):
            out.append(Problem("error", P, w, "not an object"))
            continue
        if a.get("id") in ann_ids:
            out.append(Problem("error", P, f"{w}.id", f"duplicate annotation id {a.get('id')!r}"))
        ann_ids.add(a.get("id"))
        if a.get("image_id") not in sizes:
            out.append(Problem("error", P, f"{w}.image_id", f"unknown image id {a.get('image_id')!r}"))
        if a.get("category_id") not in cat_ids:
            out.append(Problem("error", P, f"{w}.category_id", f"unknown category id {a.get('category_id')!r}"))
        bb = a.get("bbox")
        if not (isinstance(bb, list) and len(bb) == 4 and all(_num(v) for v in bb)):
            out.append(Problem("error", P, f"{w}.bbox", f"expected 4 finite numbers [x, y, w, h], got {bb!r}"))
        else:
            if bb[2] < 0 or bb[3] < 0:
                out.append(Problem("error", P, f"{w}.bbox", f"negative width or height ({bb[2]}, {bb[3]})"))
            elif bb[2] == 0 or bb[3] == 0:
                out.append(Problem("warning", P, f"{w}.bbox", "zero width or height"))
            hw = sizes.get(a.get("image_id"))
            if hw and hw[0] is not None and (bb[0] < 0 or bb[1] < 0 or bb[0] + bb[2] > hw[1] + 1e-6
                                             or bb[1] + bb[3] > hw[0] + 1e-6):
                out.append(Problem("warning", P, f"{w}.bbox", f"box {bb} reaches outside the {hw[1]}x{hw[0]} image"))
        if a.get("iscrowd", 0) not in (0, 1):
            out.append(Problem("error", P, f"{w}.iscrowd", f"expected 0 or 1, got {a.get('iscrowd')!r}"))
        if "area" in a and not (_num(a["area"]) and a["area"] >= 0):
            out.append(Problem("error", P, f"{w}.area", f"expected a non-negative number, got {a['area']!r}"))
        seg = a.get("segmentation")
        if seg is not None:
            hw = sizes.get(a.get("image_id"))
            try:
                _check_segmentation(path, w, seg, hw if hw and hw[0] is not None else None)
            except FormatError as exc:
                out.append(Problem("error", P, exc.where or w, exc.message))


def _check_voc(root: Path, out: list[Problem]) -> None:
    from annokit._internal.paths import safe_name
    from annokit.io._safe import parse_xml
    from annokit.io.voc import _coord_from_text, _find_xmls

    base, rels = _find_xmls(root)
    if not rels:
        out.append(Problem("error", str(root), "", "no Annotations/*.xml"))
    zero = 0
    for rel in rels:
        f = base / rel
        P = str(f)
        try:
            el = parse_xml(f)
        except FormatError as exc:
            out.append(Problem("error", P, exc.where or "", exc.message))
            continue
        if el.tag != "annotation":
            out.append(Problem("error", P, "", f"root element is <{el.tag}>, not <annotation>"))
            continue
        fn = (el.findtext("filename") or "").strip()
        if not fn:
            out.append(Problem("warning", P, "filename", "missing <filename>"))
        else:
            try:
                safe_name(fn)
            except FormatError as exc:
                out.append(Problem("error", P, "filename", exc.message))
        W = H = None
        size = el.find("size")
        if size is None:
            out.append(Problem("warning", P, "size", "missing <size> (image size unknown)"))
        else:
            try:
                W, H = int(size.findtext("width") or ""), int(size.findtext("height") or "")
            except ValueError:
                out.append(Problem("error", P, "size", "width/height are not integers"))
        for j, ob in enumerate(el.iter("object")):
            w = f"object[{j}]"
            if not (ob.findtext("name") or "").strip():
                out.append(Problem("error", P, w, "object without <name>"))
            bb = ob.find("bndbox")
            if bb is None:
                out.append(Problem("error", P, w, "object without <bndbox>"))
                continue
            v = []
            for k in ("xmin", "ymin", "xmax", "ymax"):
                t = bb.findtext(k)
                if t is None:
                    out.append(Problem("error", P, f"{w}.bndbox", f"missing <{k}>"))
                    break
                try:
                    v.append(_coord_from_text(t, 0, f, f"{w}.bndbox.{k}"))
                except FormatError as exc:
                    out.append(Problem("error", P, exc.where or w, exc.message))
                    break
            if len(v) != 4:
                continue
            if v[2] < v[0] or v[3] < v[1]:
                out.append(Problem("error", P, f"{w}.bndbox", f"xmax < xmin or ymax < ymin {v}"))
            if v[0] == 0 or v[1] == 0:
                zero += 1
                out.append(Problem("warning", P, f"{w}.bndbox", "xmin or ymin is 0: not a 1-based devkit index "
                                                                 "(zero-based file?)"))
            if W is not None and H is not None and (v[0] < 0 or v[1] < 0 or v[2] > W or v[3] > H):
                out.append(Problem("warning", P, f"{w}.bndbox", f"box {v} reaches outside the {W}x{H} image"))
            d = ob.findtext("difficult")
            if d is not None and d.strip() not in ("0", "1"):
                out.append(Problem("warning", P, f"{w}.difficult", f"expected 0 or 1, got {d!r}"))


def _check_yolo(root: Path, out: list[Problem]) -> None:
    from annokit.io.yolo import _label_path_of, _load_yaml, _names, _split_dirs

    yml = root / "data.yaml"
    try:
        data = _load_yaml(yml)
        ncls = len(_names(yml, data))
    except (FormatError, OSError) as exc:
        out.append(Problem("error", str(yml), getattr(exc, "where", "") or "", getattr(exc, "message", str(exc))))
        return
    for split, d in _split_dirs(root, data):
        lab_dir = _label_path_of(d)
        if not lab_dir.is_dir():
            out.append(Problem("warning", str(lab_dir), "", f"no labels folder for split {split!r}"))
            continue
        for f in sorted(lab_dir.rglob("*.txt")):
            for j, line in enumerate(f.read_text(encoding="utf-8").splitlines()):
                r = line.split()
                if not r:
                    continue
                w = f"line {j + 1}"
                try:
                    c = int(r[0])
                    vals = [float(x) for x in r[1:]]
                except ValueError:
                    out.append(Problem("error", str(f), w, f"not a class index and numbers: {line.strip()!r}"))
                    continue
                if not 0 <= c < ncls:
                    out.append(Problem("error", str(f), w, f"class {c} not in 0..{ncls - 1}"))
                if not all(math.isfinite(v) for v in vals):
                    out.append(Problem("error", str(f), w, "coordinates must be finite"))
                    continue
                if len(vals) in (4, 5):
                    cx, cy, bw, bh = vals[:4]
                    if bw < 0 or bh < 0:
                        out.append(Problem("error", str(f), w, "negative width or height"))
                    elif cx - bw / 2 < -1e-6 or cy - bh / 2 < -1e-6 or cx + bw / 2 > 1 + 1e-6 or \
                            cy + bh / 2 > 1 + 1e-6:
                        out.append(Problem("warning", str(f), w, "box reaches outside the image (normalized 0..1)"))
                elif len(vals) >= 6 and len(vals) % 2 == 0:
                    if min(vals) < -1e-6 or max(vals) > 1 + 1e-6:
                        out.append(Problem("warning", str(f), w, "polygon reaches outside the image (0..1)"))
                else:
                    out.append(Problem("error", str(f), w, f"{len(vals)} numbers: expected 4 or an even count >= 6"))


def _check_png(root: Path, out: list[Problem]) -> None:
    from annokit.io.png import VOID, _stems, read_classes, read_label_png

    try:
        labels, colors, background = read_classes(root)
    except FormatError as exc:
        out.append(Problem("error", exc.path or str(root), exc.where or "", exc.message))
        return
    known = set(labels.ids.tolist()) if labels is not None else None
    if labels is None:
        out.append(Problem("warning", str(root), "", "no classes.txt / dataset_meta.json / labelmap.txt"))
    sem, ins = _stems(root / "masks"), _stems(root / "instances")
    if not sem and not ins:
        out.append(Problem("error", str(root), "", "no masks/*.png or instances/*.png"))
    shapes: dict[str, tuple[int, ...]] = {}
    for key, p in sorted(sem.items()):
        try:
            a = read_label_png(p, colors=colors)
        except FormatError as exc:
            out.append(Problem("error", str(p), exc.where or "", exc.message))
            continue
        shapes[key] = a.shape
        if known is not None:
            bad = sorted(set(np.unique(a).tolist()) - known - {background, VOID})
            if bad:
                out.append(Problem("error", str(p), "", f"values {bad[:10]} are not in the class list"))
    for key, p in sorted(ins.items()):
        try:
            a = read_label_png(p)
        except FormatError as exc:
            out.append(Problem("error", str(p), exc.where or "", exc.message))
            continue
        if key not in sem:
            out.append(Problem("error", str(p), "", "instance map without its masks/ semantic map"))
        elif shapes.get(key) is not None and shapes[key] != a.shape:
            out.append(Problem("error", str(p), "", f"size {a.shape[::-1]} differs from masks/{key}.png"))


def _check_cityscapes(root: Path, out: list[Problem]) -> None:
    from annokit.io.cityscapes import _entries, _load_polygons, _resolve

    ents = _entries(root)
    if not ents:
        out.append(Problem("error", str(root), "", "no *_gtFine_polygons.json or *_gtFine_instanceIds.png"))
    for _, _, p in ents:
        if p.suffix != ".json":
            continue
        try:
            d = _load_polygons(p)
        except FormatError as exc:
            out.append(Problem("error", str(p), exc.where or "", exc.message))
            continue
        for j, o in enumerate(d.get("objects", [])):
            lab, _ = _resolve(o["label"])
            if lab is None:
                out.append(Problem("error", str(p), f"objects[{j}].label", f"{o['label']!r} is not a Cityscapes label"))
            if len(o["polygon"]) < 3:
                out.append(Problem("warning", str(p), f"objects[{j}].polygon", "fewer than 3 points"))
            pts = np.asarray(o["polygon"], dtype=np.float64).reshape(-1, 2)
            if len(pts) and ((pts.min(axis=0) < -1).any() or pts[:, 0].max() > d["imgWidth"] + 1
                             or pts[:, 1].max() > d["imgHeight"] + 1):
                out.append(Problem("warning", str(p), f"objects[{j}].polygon", "reaches outside the image"))


def _check_dataset(ds: Dataset, where: str, out: list[Problem]) -> None:
    im, a = ds.images, ds.annotations
    nosize = np.flatnonzero((im.heights == 0) | (im.widths == 0))
    for i in nosize[:20].tolist():
        out.append(Problem("warning", where, f"image {im.file_names[i]!r}", "size unknown"))
    if len(a):
        pos = im.index_of(a.image_ids)
        W, H = im.widths[pos], im.heights[pos]
        b = a.boxes
        outside = ((b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 2] > W + 1e-6) | (b[:, 3] > H + 1e-6)) & (W > 0)
        for k in np.flatnonzero(outside)[:50].tolist():
            out.append(Problem("warning", where, f"image {im.file_names[pos[k]]!r}: object {k}",
                               f"box {b[k].tolist()} reaches outside the {W[k]}x{H[k]} image"))
        empty = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
        for k in np.flatnonzero(empty)[:50].tolist():
            out.append(Problem("warning", where, f"image {im.file_names[pos[k]]!r}: object {k}",
                               "box has no area"))


def validate(path: str | Path, fmt: str) -> list[Problem]:
    """Every problem of the dataset at ``path`` in format ``fmt``, each with its file and place."""
    from annokit.convert import read_dataset

    p = Path(path)
    out: list[Problem] = []
    if not p.exists():
        return [Problem("error", str(p), "", "does not exist")]
    checker = {"coco": _check_coco, "voc": _check_voc, "yolo": _check_yolo, "yolo-seg": _check_yolo,
               "png": _check_png, "cityscapes": _check_cityscapes}.get(fmt)
    if checker is not None:
        checker(p, out)
    if not any(x.level == "error" for x in out):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ds = read_dataset(p, fmt)
            except AnnokitError as exc:
                if isinstance(exc, FormatError):
                    out.append(Problem("error", exc.path or str(p), exc.where or "", exc.message))
                else:
                    out.append(Problem("error", str(p), "", str(exc)))
                return out
        for wmsg in caught:
            out.append(Problem("warning", str(p), "", str(wmsg.message)))
        if checker is None:
            _check_dataset(ds, str(p), out)
    return out


def stats(ds: Dataset) -> dict[str, Any]:
    """Counts per class (objects, images), box sizes (COCO small / medium / large and width / height
    percentiles), images without labels, crowd objects."""
    a, im, cats = ds.annotations, ds.images, ds.categories
    pos = cats.index_of(a.labels)
    per_class = {}
    for k in range(len(cats)):
        sel = pos == k
        per_class[cats.names[k]] = {"id": int(cats.ids[k]), "objects": int(sel.sum()),
                                    "images": int(len(np.unique(a.image_ids[sel]))),
                                    "crowd": int(a.iscrowd[sel].sum())}
    wh = a.widths_heights() if len(a) else np.zeros((0, 2))
    area = wh[:, 0] * wh[:, 1]
    q = [0, 5, 25, 50, 75, 95, 100]
    sizes = {"small (< 32^2)": int((area < 32**2).sum()),
             "medium": int(((area >= 32**2) & (area < 96**2)).sum()),
             "large (>= 96^2)": int((area >= 96**2).sum())}
    pct = {}
    if len(a):
        for name, col in (("width", wh[:, 0]), ("height", wh[:, 1]), ("sqrt_area", np.sqrt(area))):
            pct[name] = {f"p{p}": float(v) for p, v in zip(q, np.percentile(col, q))}
    with_labels = set(a.image_ids.tolist())
    empty = [im.file_names[i] for i in range(len(im)) if int(im.ids[i]) not in with_labels]
    return {"images": len(im), "objects": len(a), "categories": len(cats), "crowd": int(a.iscrowd.sum()),
            "images_without_labels": len(empty), "images_without_labels_first": empty[:10],
            "per_class": per_class, "box_sizes": sizes, "box_percentiles": pct}
