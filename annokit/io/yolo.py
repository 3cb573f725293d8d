"""YOLO (Ultralytics layout): ``data.yaml``, ``images/<split>/*``, ``labels/<split>/*.txt``.

One label line per object, coordinates normalized by the image size:

- detection: ``class cx cy w h`` (a sixth column is read as a confidence, as Ultralytics' ``save_conf`` writes);
- segmentation: ``class x1 y1 x2 y2 ... xn yn`` (one polygon per line, n >= 3).

Class indices are 0..n-1, named by ``data.yaml``'s ``names`` (a list or ``{index: name}``); reading keeps them as
category ids. Pixel boxes are ``l = W (cx - w/2)``, ``r = W (cx + w/2)`` (Ultralytics' ``xywhn2xyxy``). Image sizes
come from the image headers (no image is decoded), with EXIF orientations 5-8 swapping height and width as
Ultralytics does. Writing uses the shortest decimal that reads back to the same float and nudges each value by a
few ulps until the reader's formula gives back exactly the box (or polygon vertex) that was written; what still
differs is counted in the loss report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir
from annokit._internal.paths import safe_join, safe_relpath
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import IMAGE_EXTS, image_hw

__all__ = ["read_yolo", "write_yolo", "ltrb_to_yolo", "yolo_to_ltrb"]

PathLike = str | os.PathLike[str]
_SPLITS = ("train", "val", "test")


# ------------------------------------------------------------------------------------------- coordinates
def yolo_to_ltrb(cxcywh: np.ndarray, hw: np.ndarray) -> np.ndarray:
    """``(N, 4)`` normalized ``cx, cy, w, h`` and ``(N, 2)`` image ``(height, width)`` -> ltrb pixels."""
    c = np.asarray(cxcywh, dtype=np.float64).reshape(-1, 4)
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    W, H = hw[:, 1], hw[:, 0]
    return np.stack([W * (c[:, 0] - c[:, 2] / 2), H * (c[:, 1] - c[:, 3] / 2),
                     W * (c[:, 0] + c[:, 2] / 2), H * (c[:, 1] + c[:, 3] / 2)], axis=1)


def _nudge_axis(lo: np.ndarray, hi: np.ndarray, size: np.ndarray, steps: int = 4) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Normalized centre and extent whose read-back ``size * (c -/+ e/2)`` equals ``lo``/``hi`` exactly, if any
    float within ``steps`` ulps does; returns (c, e, exact)."""
    c = (lo + hi) / (2 * size)
    e = (hi - lo) / size
    ok = (size * (c - e / 2) == lo) & (size * (c + e / 2) == hi)
    bad = np.flatnonzero(~ok)
    if len(bad):
        c0, e0 = c[bad], e[bad]
        lo_b, hi_b, s_b = lo[bad], hi[bad], size[bad]
        found = np.zeros(len(bad), dtype=bool)
        offs = sorted(range(-steps, steps + 1), key=abs)
        for i in offs:
            ci = _ulps(c0, i)
            for j in offs:
                ej = _ulps(e0, j)
                hit = ~found & (s_b * (ci - ej / 2) == lo_b) & (s_b * (ci + ej / 2) == hi_b)
                if hit.any():
                    c0 = np.where(hit, ci, c0)
                    e0 = np.where(hit, ej, e0)
                    found |= hit
            if found.all():
                break
        c[bad], e[bad] = c0, e0
        ok[bad] = found
    return c, e, ok


def _ulps(x: np.ndarray, k: int) -> np.ndarray:
    out = x
    direction = np.inf if k > 0 else -np.inf
    for _ in range(abs(k)):
        out = np.nextafter(out, direction)
    return out


def ltrb_to_yolo(boxes: np.ndarray, hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` ltrb pixels -> ``(N, 4)`` normalized ``cx, cy, w, h`` chosen so that :func:`yolo_to_ltrb` gives the
    boxes back exactly, and ``(N,)`` bool: where it does."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    cx, w, okx = _nudge_axis(b[:, 0], b[:, 2], hw[:, 1])
    cy, h, oky = _nudge_axis(b[:, 1], b[:, 3], hw[:, 0])
    return np.stack([cx, cy, w, h], axis=1), okx & oky


def _norm_coords(v: np.ndarray, size: np.ndarray, steps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``v / size`` nudged so that ``u * size == v`` exactly where possible."""
    u = v / size
    ok = u * size == v
    bad = np.flatnonzero(~ok)
    if len(bad):
        u0 = u[bad]
        found = np.zeros(len(bad), dtype=bool)
        for k in sorted(range(-steps, steps + 1), key=abs):
            uk = _ulps(u0, k)
            hit = ~found & (uk * size[bad] == v[bad])
            u0 = np.where(hit, uk, u0)
            found |= hit
        u[bad] = u0
        ok[bad] = found
    return u, ok


# ------------------------------------------------------------------------------------------- data.yaml
def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FormatError(path, None, f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FormatError(path, None, "expected a mapping at the top")
    return data


def _names(path: Path, data: dict[str, Any]) -> list[str]:
    names = data.get("names")
    if isinstance(names, list):
        out = [str(n) for n in names]
    elif isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise FormatError(path, "names", "keys must be class indices 0..n-1") from None
        if keys != list(range(len(keys))):
            raise FormatError(path, "names", f"class indices must be 0..{len(keys) - 1}, got {keys}")
        out = [str(names[k] if k in names else names[str(k)]) for k in keys]
    else:
        raise FormatError(path, "names", "missing or not a list / mapping of class names")
    nc = data.get("nc")
    if nc is not None and nc != len(out):
        raise FormatError(path, "nc", f"nc is {nc} but names has {len(out)} entries")
    return out


def _inside(root: Path, p: Path) -> bool:
    try:
        p.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _split_dirs(root: Path, data: dict[str, Any]) -> list[tuple[str, Path]]:
    """(split, images folder) pairs, resolved inside ``root`` (Roboflow's ``../train/images`` included)."""
    base = root
    pth = data.get("path")
    if isinstance(pth, str) and pth not in ("", "."):
        cand = root / pth
        if cand.is_dir() and _inside(root, cand):
            base = cand
    out: list[tuple[str, Path]] = []
    for split in (*_SPLITS, "valid"):
        val = data.get(split)
        if val is None:
            continue
        vals = val if isinstance(val, list) else [val]
        for v in vals:
            if not isinstance(v, str):
                continue
            tried = [base / v, root / v, root / v.lstrip("./").replace("../", "", 1)]
            if v.startswith("../"):
                tried.append(root / v[3:])
            for c in tried:
                if c.exists() and _inside(root, c):
                    out.append((split, c))
                    break
    if not out:
        img = root / "images"
        if img.is_dir():
            subs = [d for d in sorted(img.iterdir()) if d.is_dir()]
            out = [(d.name, d) for d in subs] or [("train", img)]
        lab = root / "labels"
        if lab.is_dir():
            for d in sorted(lab.iterdir()):
                if d.is_dir() and not any(s == d.name for s, _ in out):
                    out.append((d.name, root / "images" / d.name))
    seen = set()
    uniq = []
    for s, d in out:
        if d not in seen:
            seen.add(d)
            uniq.append((s, d))
    return uniq


def _label_path_of(img_dir: Path) -> Path:
    """``.../images/train`` -> ``.../labels/train`` (the last ``images`` component), as Ultralytics does."""
    parts = list(img_dir.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return img_dir


# ------------------------------------------------------------------------------------------- reading
def read_yolo_keyed(root: PathLike, *, recorder: LossRecorder | None = None,
                    sizes: dict[str, tuple[int, int]] | None = None, exif: bool = True
                    ) -> tuple[Dataset, list[str]]:
    """Read a YOLO dataset; also return each image's key (its label file, relative to ``root``).

    ``sizes`` gives ``(height, width)`` by key for images that are not on disk.
    """
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (a YOLO dataset is a folder with data.yaml)")
    yml = root / "data.yaml"
    if not yml.is_file():
        cands = sorted(root.glob("*.yaml"))
        if not cands:
            raise FormatError(root, None, "no data.yaml")
        yml = cands[0]
    data = _load_yaml(yml)
    names = _names(yml, data)
    if "kpt_shape" in data:
        raise FormatError(yml, "kpt_shape", "a YOLO pose (keypoint) dataset: keypoints are not read by annokit, and "
                                            "reading their lines as polygons would be wrong")
    ncls = len(names)
    rec = recorder
    splits = _split_dirs(root, data)
    if not splits:
        raise FormatError(yml, None, "no split folder found (train / val / test, or images/<split>)")
    file_names: list[str] = []
    keys: list[str] = []
    hs: list[int] = []
    ws: list[int] = []
    img_extras: list[dict[str, Any]] = []
    rows_img: list[np.ndarray] = []
    rows_cls: list[np.ndarray] = []
    rows_box: list[np.ndarray] = []
    rows_score: list[np.ndarray] = []
    segs: list[Any] = []
    any_poly = any_box = any_score = False
    n_img = 0
    for split, img_dir in splits:
        entries: dict[str, Path | None] = {}
        if img_dir.is_file() and img_dir.suffix == ".txt":
            for line in img_dir.read_text(encoding="utf-8").splitlines():
                s = line.strip()
                if s:
                    p = (root / s.lstrip("./")) if not (img_dir.parent / s).exists() else img_dir.parent / s
                    if _inside(root, p):
                        lab = _label_path_of(p.parent) / (p.stem + ".txt")
                        entries[lab.relative_to(root).as_posix() if _inside(root, lab) else p.stem] = p
            lab_dir = None
        else:
            lab_dir = _label_path_of(img_dir)
            if img_dir.is_dir():
                for p in sorted(img_dir.rglob("*")):
                    if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                        lab = lab_dir / p.relative_to(img_dir).with_suffix(".txt")
                        k = lab.relative_to(root).as_posix()
                        if k in entries:
                            raise FormatError(p, None, f"{entries[k].name} and {p.name} share the label file {k}; "
                                                       "which image it describes is ambiguous")
                        entries[k] = p
            if lab_dir.is_dir():
                for lab in sorted(lab_dir.rglob("*.txt")):
                    k = lab.relative_to(root).as_posix()
                    if k not in entries:
                        entries[k] = None
        for key in sorted(entries):
            img = entries[key]
            lab = root / key
            if img is not None:
                h, w = image_hw(img, exif=exif)
                fn = img.relative_to(root).as_posix() if _inside(root, img) else img.name
            else:
                h, w = (sizes or {}).get(key, (0, 0))
                fn = (img_dir.relative_to(root) / Path(key).relative_to(lab_dir.relative_to(root))
                      ).with_suffix(".jpg").as_posix() if lab_dir is not None else Path(key).stem + ".jpg"
            lines = lab.read_text(encoding="utf-8").splitlines() if lab.is_file() else []
            rows = [ln.split() for ln in lines if ln.strip()]
            if rows and (h <= 0 or w <= 0):
                raise FormatError(lab, None, "the image of these labels is not found, so their normalized "
                                             "coordinates cannot be scaled (put the image in the images folder)")
            if not rows and (h <= 0 or w <= 0) and rec is not None:
                rec.add("image size unknown: no image file (height and width 0)", key)
            i = n_img
            n_img += 1
            file_names.append(fn)
            keys.append(key)
            hs.append(int(h))
            ws.append(int(w))
            img_extras.append({"split": split})
            for j, r in enumerate(rows):
                where = f"line {j + 1}"
                try:
                    c = int(r[0])
                    vals = np.array([float(x) for x in r[1:]], dtype=np.float64)
                except ValueError:
                    raise FormatError(lab, where, f"expected a class index and numbers, got {' '.join(r)!r}"
                                      ) from None
                if not (0 <= c < ncls):
                    raise FormatError(lab, where, f"class {c} is not in data.yaml's names (0..{ncls - 1})")
                if not np.isfinite(vals).all():
                    raise FormatError(lab, where, "coordinates must be finite numbers")
                if len(vals) in (4, 5):
                    if vals[2] < 0 or vals[3] < 0:
                        raise FormatError(lab, where, "negative width or height")
                    box = yolo_to_ltrb(vals[:4], np.array([h, w]))[0]
                    seg = None
                    any_box = True
                    score = vals[4] if len(vals) == 5 else np.nan
                    any_score |= len(vals) == 5
                elif len(vals) >= 6 and len(vals) % 2 == 0:
                    xs = vals[0::2] * w
                    ys = vals[1::2] * h
                    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()])
                    poly = np.empty(len(vals))
                    poly[0::2], poly[1::2] = xs, ys
                    seg = [poly.tolist()]
                    any_poly = True
                    score = np.nan
                else:
                    raise FormatError(lab, where, f"{len(vals)} numbers after the class: expected 4 (a box) or an "
                                                  "even count >= 6 (a polygon)")
                rows_img.append(np.array([i]))
                rows_cls.append(np.array([c]))
                rows_box.append(box[None, :])
                rows_score.append(np.array([score]))
                segs.append(seg)
    labels = LabelSet(ids=np.arange(ncls), names=names)
    tbl = ImageTable(ids=np.arange(1, n_img + 1), file_names=file_names, heights=hs, widths=ws, extras=img_extras)
    n = len(rows_img)
    if n:
        img_idx = np.concatenate(rows_img)
        scores = np.concatenate(rows_score)
        if any_score and np.isnan(scores).any():
            raise FormatError(root, None, "some label lines have a confidence column and others not")
        inst = Instances(image_ids=img_idx + 1, boxes=np.concatenate(rows_box), labels=np.concatenate(rows_cls),
                         scores=scores if any_score else None, segmentations=segs if any_poly else None)
        if any_poly and any_box:
            pass  # mixed files: boxes have no mask (None)
    else:
        inst = Instances.empty()
    return Dataset(images=tbl, categories=labels, annotations=inst), keys


def read_yolo(root: PathLike, *, exif: bool = True) -> Dataset:
    """Read a YOLO (Ultralytics) dataset folder: detection or polygon segmentation labels.

    >>> ds = read_yolo("coco8")  # doctest: +SKIP
    """
    return read_yolo_keyed(root, exif=exif)[0]


# ------------------------------------------------------------------------------------------- writing
def _fmt(v: float, precision: int | None) -> str:
    if precision is None:
        r = repr(float(v))
        return r[:-2] if r.endswith(".0") else r
    return f"{v:.{precision}f}"


def write_yolo_into(ds: Dataset, root: Path, *, task: str = "detect", split: str = "train",
                    recorder: LossRecorder | None = None, kept_in: str | None = None,
                    precision: int | None = None, images: Path | None = None) -> list[str]:
    """Write ``ds`` as a YOLO folder into the existing ``root``; return each image's key (its label path).

    ``task``: ``"detect"`` (boxes) or ``"segment"`` (one polygon a line). ``precision``: decimals (default: the
    shortest exact text). ``images``: folder holding the images by ``file_name``, copied into ``images/<split>``.
    """
    from annokit.core.masks import segmentation_kind

    if task not in ("detect", "segment"):
        raise FormatError(None, None, f"YOLO task must be 'detect' or 'segment', not {task!r}")
    rec = recorder if recorder is not None else LossRecorder()
    cats = ds.categories
    cat_order = np.argsort(cats.ids, kind="stable")
    cls_of = np.empty(len(cats), dtype=np.int64)
    cls_of[cat_order] = np.arange(len(cats))
    if not np.array_equal(cats.ids[cat_order], np.arange(len(cats))):
        rec.add_many("category ids renumbered: YOLO classes are 0..n-1", len(cats), kept_in=kept_in)
    if cats.supercategories is not None and any(cats.supercategories):
        rec.add_many("supercategory dropped: data.yaml has names only", sum(1 for s in cats.supercategories if s),
                     kept_in=kept_in)
    if cats.extras is not None and any(cats.extras):
        rec.add_many("category fields dropped: data.yaml has names only", sum(1 for e in cats.extras if e),
                     kept_in=kept_in)
    im, a = ds.images, ds.annotations
    n_img = len(im)
    if ds.info is not None or ds.licenses is not None or ds.extras:
        rec.add_many("dataset info / licenses / top-level fields dropped: YOLO has none", 1, kept_in=kept_in)
    rec.add_many("image ids dropped: YOLO images have no id", n_img, kept_in=kept_in)
    ex_img = [k for k in range(n_img) if im.extras is not None and
              any(x != "split" for x in (im.extras[k] or {}))]
    rec.add_many("image fields dropped: YOLO keeps the file only", len(ex_img),
                 [im.file_names[k] for k in ex_img[:5]], kept_in=kept_in)
    rec.add_many("annotation ids dropped: YOLO objects have no id", len(a), kept_in=kept_in)
    crowd = np.flatnonzero(a.iscrowd)
    rec.add_many("crowd flag dropped: YOLO has no iscrowd (written as ordinary objects)", len(crowd),
                 [f"annotation id {int(a.ids[k])}" for k in crowd[:5]], kept_in=kept_in)
    if a.ignore is not None and a.ignore.any():
        rec.add_many("ignore flag dropped: YOLO has none", int(a.ignore.sum()), kept_in=kept_in)
    if a.extras is not None:
        ex = [k for k, e in enumerate(a.extras) if e]
        rec.add_many("annotation fields dropped: YOLO lines hold class and geometry only", len(ex),
                     [f"annotation id {int(a.ids[k])}" for k in ex[:5]], kept_in=kept_in)
    if a.scores is not None and task == "segment":
        rec.add_many("scores dropped: YOLO segmentation lines have no confidence", len(a), kept_in=kept_in)
    pos = im.index_of(a.image_ids)
    hw = np.stack([im.heights[pos], im.widths[pos]], axis=1).astype(np.float64) if len(a) else np.zeros((0, 2))
    if len(a) and (hw <= 0).any():
        k = int(np.flatnonzero((hw <= 0).any(axis=1))[0])
        raise FormatError(None, f"images[{int(pos[k])}]", f"image {im.file_names[pos[k]]!r} has no size; YOLO "
                                                         "coordinates are normalized by it")
    box_area = (a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1])
    wh = a.widths_heights()
    lines: list[str] = [""] * len(a)
    segs = a.segmentations
    if task == "detect":
        if segs is not None:
            has = [k for k, s in enumerate(segs) if s is not None and s != []]
            rec.add_many("segmentation dropped: YOLO detection layout has no masks", len(has),
                         [f"annotation id {int(a.ids[k])}" for k in has[:5]], kept_in=kept_in)
        diff_area = np.flatnonzero((a.area != box_area) & (a.area != wh[:, 0] * wh[:, 1]))
        rec.add_many("area dropped: YOLO has no area (read back as the box area)", len(diff_area),
                     [f"annotation id {int(a.ids[k])}" for k in diff_area[:5]], kept_in=kept_in)
        if precision is None:
            c, exact = ltrb_to_yolo(a.boxes, hw)
        else:
            c, _ = ltrb_to_yolo(a.boxes, hw)
            c = np.round(c, precision)
            exact = (yolo_to_ltrb(c, hw) == a.boxes).all(axis=1)
        bad = np.flatnonzero(~exact)
        if len(bad):
            err = float(np.abs(yolo_to_ltrb(c[bad], hw[bad]) - a.boxes[bad]).max())
            kind = (f"box not exactly representable in normalized text (max error {err:.3g} px)")
            small = err <= 1e-6
            rec.add_many(kind, len(bad), [f"annotation id {int(a.ids[k])}" for k in bad[:5]],
                         kept_in=kept_in if small else None)
        cl = cls_of[cats.index_of(a.labels)].tolist()
        cs = c.tolist()
        sc = a.scores.tolist() if a.scores is not None else None
        for k in range(len(a)):
            x = cs[k]
            s = (f"{cl[k]} {_fmt(x[0], precision)} {_fmt(x[1], precision)} {_fmt(x[2], precision)} "
                 f"{_fmt(x[3], precision)}")
            if sc is not None:
                s += f" {_fmt(sc[k], None)}"
            lines[k] = s
    else:
        cl = cls_of[cats.index_of(a.labels)].tolist()
        n_multi = n_rle = n_none = n_inexact = 0
        ex_multi: list[str] = []
        ex_rle: list[str] = []
        ex_none: list[str] = []
        for k in range(len(a)):
            seg = segs[k] if segs is not None else None
            kind = segmentation_kind(seg) if seg is not None and seg != [] else "none"
            H, W = hw[k]
            if kind == "polygon":
                if len(seg) > 1:
                    n_multi += 1
                    if len(ex_multi) < 5:
                        ex_multi.append(f"annotation id {int(a.ids[k])}")
                poly = np.asarray(seg[0], dtype=np.float64)
            else:
                if kind == "none":
                    n_none += 1
                    if len(ex_none) < 5:
                        ex_none.append(f"annotation id {int(a.ids[k])}")
                else:
                    n_rle += 1
                    if len(ex_rle) < 5:
                        ex_rle.append(f"annotation id {int(a.ids[k])}")
                l, t, r, b = a.boxes[k]
                poly = np.array([l, t, r, t, r, b, l, b])
            size = np.empty(len(poly))
            size[0::2], size[1::2] = W, H
            if precision is None:
                u, ok = _norm_coords(poly, size)
            else:
                u = np.round(poly / size, precision)
                ok = u * size == poly
            if not ok.all():
                n_inexact += 1
            lines[k] = f"{cl[k]} " + " ".join(_fmt(v, precision) for v in u.tolist())
        rec.add_many("polygon parts dropped: a YOLO line holds one polygon (first kept)", n_multi, ex_multi,
                     kept_in=kept_in)
        rec.add_many("RLE mask has no polygon form: box written as a 4-point polygon", n_rle, ex_rle,
                     kept_in=kept_in)
        rec.add_many("no mask: box written as a 4-point polygon", n_none, ex_none, kept_in=kept_in)
        rec.add_many("polygon vertex not exactly representable in normalized text", n_inexact, kept_in=kept_in)
        rec.add_many("box replaced by the polygon's extent on reading", len(a), kept_in=kept_in)
        rec.add_many("area dropped: YOLO has no area", len(a), kept_in=kept_in)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(n_img + 1))
    keys = []
    seen: dict[str, int] = {}
    splits_used: list[str] = []
    for i in range(n_img):
        sp = split
        if im.extras is not None and isinstance(im.extras[i].get("split"), str):
            sp = im.extras[i]["split"]
        safe_relpath(sp, where=f"images[{i}].split")
        rel = safe_relpath(im.file_names[i], where=f"images[{i}].file_name")
        stem = rel.with_suffix("") if rel.suffix else rel
        if rel.parts[0] == "images" and len(rel.parts) > 2:  # written by this module: images/<split>/...
            stem = Path(*rel.parts[2:]).with_suffix("")
        key = f"labels/{sp}/{stem.as_posix()}.txt"
        if key.lower() in seen:
            raise FormatError(None, f"images[{i}].file_name", f"{im.file_names[i]!r} and "
                                                              f"{im.file_names[seen[key.lower()]]!r} would write the "
                                                              f"same {key}")
        seen[key.lower()] = i
        if sp not in splits_used:
            splits_used.append(sp)
        dest = safe_join(root, key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        rows = order[starts[i]:starts[i + 1]]
        dest.write_text("".join(lines[k] + "\n" for k in rows), encoding="utf-8")
        keys.append(key)
        if images is not None:
            src = safe_join(images, im.file_names[i])
            if src.is_file():
                tgt = safe_join(root, f"images/{sp}/{stem.as_posix()}{rel.suffix}")
                tgt.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(src, tgt)
    import yaml

    meta = {"path": ".", **{sp: f"images/{sp}" for sp in splits_used},
            "names": {i: cats.names[k] for i, k in enumerate(cat_order)}}
    if not splits_used:
        meta["train"] = f"images/{split}"
    (root / "data.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    for sp in splits_used or [split]:
        (root / "images" / sp).mkdir(parents=True, exist_ok=True)
    return keys


def _link_or_copy(src: Path, dst: Path) -> None:
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_yolo(ds: Dataset, root: PathLike, *, task: str = "detect", split: str = "train",
               precision: int | None = None, overwrite: bool = False, recorder: LossRecorder | None = None,
               images: PathLike | None = None) -> None:
    """Write ``ds`` as a YOLO (Ultralytics) folder, atomically. See :func:`write_yolo_into`."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_yolo_into(ds, tmp, task=task, split=split, recorder=recorder, precision=precision,
                        images=Path(images) if images is not None else None)
