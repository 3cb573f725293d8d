"""Open Images evaluation inputs: the class hierarchy file and the image-level labels and group-of flags of a
COCO-style ground truth.

* Hierarchy: Open Images' JSON, nested ``{"LabelName": ..., "Subcategory": [...]}``. The top node is a virtual
  root (``/m/0bl9f`` "Entity" in the official files) and is not a label; a label listed under several parents
  has all of them. A label that is its own ancestor is an error naming the chain.
* Image-level labels: the image fields ``"pos_category_ids"`` (verified present) and ``"neg_category_ids"``
  (verified absent), lists of category ids, as LVIS names its negative labels.
* Group-of boxes: the annotation field ``"isgroupof"`` (0/1 or a boolean); when no annotation has it, ``iscrowd``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annokit.core.arrays import BoolArray, IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.hierarchy import ImageLabels, LabelHierarchy
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder, beyond_rounding
from annokit.errors import FormatError, ValidationError
from annokit.io.coco import load_json
from annokit.io.validation import Problem, Problems

__all__ = ["group_of_from_coco", "hierarchy_from_json", "image_labels_from_coco", "read_hierarchy", "read_openimages",
           "read_openimages_keyed", "validate_openimages", "write_openimages_into"]

PathLike = str | os.PathLike[str]


def read_hierarchy(path: PathLike) -> LabelHierarchy:
    """An Open Images hierarchy JSON file as a :class:`LabelHierarchy` (errors name the file and the node).

    Examples
    --------
    >>> import json, tempfile
    >>> p = tempfile.mktemp(suffix=".json")
    >>> _ = open(p, "w").write(json.dumps({"LabelName": "root", "Subcategory": [
    ...     {"LabelName": "animal", "Subcategory": [{"LabelName": "cat"}]}]}))
    >>> read_hierarchy(p).ancestors("cat")
    {'animal'}
    """
    return hierarchy_from_json(load_json(path), path=path)


def _label(node: Any, where: str, path: PathLike | None) -> str:
    if not isinstance(node, dict):
        raise FormatError(path, where, f"a hierarchy node must be an object, got {type(node).__name__}")
    name = node.get("LabelName")
    if not isinstance(name, str) or not name:
        raise FormatError(path, where, "a hierarchy node needs a non-empty string LabelName")
    sub = node.get("Subcategory", [])
    if not isinstance(sub, list):
        raise FormatError(path, f"{where}.Subcategory", f"must be a list, got {type(sub).__name__}")
    return name


def hierarchy_from_json(data: Any, *, path: PathLike | None = None) -> LabelHierarchy:
    """:func:`read_hierarchy` of parsed JSON (the root node is not a label)."""
    _label(data, "(top)", path)
    names: dict[str, int] = {}
    links: set[tuple[int, int]] = set()
    stack: list[tuple[Any, str, int]] = [(child, f"Subcategory[{i}]", -1)
                                         for i, child in enumerate(data.get("Subcategory", []))]
    while stack:
        node, where, parent = stack.pop()
        name = _label(node, where, path)
        me = names.setdefault(name, len(names))
        if parent >= 0:
            if parent == me:
                raise FormatError(path, where, f"the hierarchy is not a tree: {name!r} is its own parent")
            links.add((me, parent))
        stack.extend((c, f"{where}.Subcategory[{i}]", me) for i, c in enumerate(node.get("Subcategory", [])))
    order = sorted(links)
    try:
        return LabelHierarchy(names=list(names), parents=np.array(order, dtype=np.int64).reshape(-1, 2))
    except ValidationError as exc:
        raise FormatError(path, None, str(exc).removeprefix("LabelHierarchy: ")) from None


def _id_list(value: Any, where: str, path: PathLike | None, known: set[int]) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise FormatError(path, where, "must be a list of category ids")
    bad = [v for v in value if v not in known]
    if bad:
        raise FormatError(path, where, f"unknown category id {bad[0]}")
    return value


def image_labels_from_coco(ds: Dataset, *, path: PathLike | None = None) -> ImageLabels:
    """The verified image-level labels of a COCO-style ground truth (image fields ``pos_category_ids`` and
    ``neg_category_ids``); errors name ``images[i].<field>``."""
    known = {int(i) for i in ds.categories.ids}
    img: list[int] = []
    lab: list[int] = []
    pos: list[bool] = []
    for i, (image_id, extra) in enumerate(zip(ds.images.ids.tolist(), ds.images.extras or [])):
        for key, positive in (("pos_category_ids", True), ("neg_category_ids", False)):
            if key in extra:
                ids = _id_list(extra[key], f"images[{i}].{key}", path, known)
                img += [image_id] * len(ids)
                lab += ids
                pos += [positive] * len(ids)
    return ImageLabels(image_ids=np.array(img, dtype=np.int64), labels=np.array(lab, dtype=np.int64),
                       positive=np.array(pos, dtype=bool))


def group_of_from_coco(ds: Dataset, *, path: PathLike | None = None) -> BoolArray:
    """``(N,)`` group-of flags of the annotations: ``isgroupof`` where any annotation has it (missing = 0), else
    ``iscrowd``."""
    ann = ds.annotations
    extras = ann.extras or []
    if not any("isgroupof" in (e or {}) for e in extras):
        return np.asarray(ann.iscrowd, dtype=bool)
    out = np.zeros(len(ann), dtype=bool)
    for i, e in enumerate(extras):
        v = (e or {}).get("isgroupof", 0)
        if v not in (0, 1) or isinstance(v, float):
            raise FormatError(path, f"annotations[{i}].isgroupof", f"must be 0, 1, true or false, got {v!r}")
        out[i] = bool(v)
    return out


# =============================================================================================== the CSV dataset format
# Layout (the official files, as datumaro's ``open_images`` format arranges them):
#   annotations/oidv6-class-descriptions.csv        LabelName,DisplayName (v5: class-descriptions[-boxable].csv, no
#                                                   header)
#   annotations/<subset>-annotations-bbox.csv       ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,
#                                                   IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside[,XClick..]
#   annotations/<subset>-annotations-human-imagelabels[-boxable].csv   ImageID,Source,LabelName,Confidence
#   annotations/<subset>-images[-with-labels]-with-rotation.csv        ImageID,Subset,OriginalURL,...,Rotation
#   annotations/images.meta                         <ImageID> <height> <width> (datumaro's, for absent images)
#   annotations/bbox_labels_600_hierarchy.json      the class hierarchy (kept in the dataset's extras)
#   images/<subset>/<ImageID>.jpg
OI_BOX_FIELDS = ("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
                 "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
OI_FLAGS = ("IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
OI_CLICKS = tuple(f"XClick{i}{a}" for a in "XY" for i in range(1, 5))
OI_LABEL_FIELDS = ("ImageID", "Source", "LabelName", "Confidence")
OI_IMAGE_FIELDS = ("ImageID", "Subset", "OriginalURL", "OriginalLandingURL", "License", "AuthorProfileURL", "Author",
                   "Title", "OriginalSize", "OriginalMD5", "Thumbnail300KURL", "Rotation")
HIERARCHY_FILE = "bbox_labels_600_hierarchy.json"
_NOT_READ = ("-annotations-object-segmentation.csv", "-annotations-machine-imagelabels.csv",
             "-annotations-vrd.csv", "-annotations-relationships.csv")


def _subset_of(name: str) -> str:
    """The subset a file name gives: ``oidv6-train-annotations-bbox.csv`` -> ``train``,
    ``validation-images-with-rotation.csv`` -> ``validation``."""
    import re

    return re.split(r"-(?:annotations|images)", re.sub(r"^oidv\d+-", "", name))[0]


def _read_csv(path: Path, fields: tuple[str, ...], required: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """A CSV file's header and rows (a header that lacks a required column, or a row of another length, is an
    error naming the line)."""
    import csv
    import io

    from annokit.io.validation import read_text

    text = read_text(path, encoding="utf-8-sig")
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    except csv.Error as exc:
        raise FormatError(path, None, f"invalid CSV ({exc})") from None
    if not rows:
        return list(fields), []
    head = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in head]
    if missing:
        raise FormatError(path, "line 1", f"the header lacks the column {missing[0]!r} (expected "
                                          f"{','.join(fields)})")
    for j, r in enumerate(rows[1:], 2):
        if len(r) != len(head):
            raise FormatError(path, f"line {j}", f"{len(r)} fields, the header has {len(head)}")
    return head, rows[1:]


def _class_rows(ann: Path) -> list[tuple[str, str]]:
    """``(LabelName, DisplayName)`` of the class descriptions file (v6 with a header, v5 without), or []."""
    files = sorted(ann.glob("*class-descriptions*.csv"))
    if not files:
        return []
    import csv
    import io

    from annokit.io.validation import read_text

    p = files[0]
    rows = [r for r in csv.reader(io.StringIO(read_text(p, encoding="utf-8-sig"), newline="")) if r]
    if rows and [c.strip() for c in rows[0][:2]] == ["LabelName", "DisplayName"]:
        rows = rows[1:]
    out = []
    for j, r in enumerate(rows, 1):
        if len(r) != 2 or not r[0]:
            raise FormatError(p, f"row {j}", "expected 'LabelName,DisplayName'")
        out.append((r[0], r[1]))
    return out


@dataclass
class _OiTable:
    """What the CSV files give, as columns: images (by ImageID), boxes, image-level labels."""

    pos: dict[str, int] = field(default_factory=dict)  # ImageID -> image position
    subsets: list[str] = field(default_factory=list)
    img_extras: list[dict[str, Any]] = field(default_factory=list)
    box_img: list[int] = field(default_factory=list)
    box_label: list[str] = field(default_factory=list)
    box_coords: list[list[float]] = field(default_factory=list)  # XMin, XMax, YMin, YMax
    box_extras: list[dict[str, Any]] = field(default_factory=list)
    box_where: list[tuple[Path, int]] = field(default_factory=list)
    labels: list[tuple[int, str, bool, str]] = field(default_factory=list)  # image, LabelName, positive, Source

    def image(self, image_id: str, subset: str) -> int:
        i = self.pos.get(image_id)
        if i is None:
            i = self.pos[image_id] = len(self.subsets)
            self.subsets.append(subset)
            self.img_extras.append({})
        return i


def _oi_number(path: Path, j: int, col: str, text: str, problems: Problems) -> float | None:
    try:
        v = float(text)
    except ValueError:
        problems.error(path, f"line {j}", f"{col} is not a number ({text!r})")
        return None
    if not math.isfinite(v):
        problems.error(path, f"line {j}", f"{col} is not finite ({text!r})")
        return None
    return v


def _read_image_rows(ann: Path, t: _OiTable) -> None:
    files = sorted(set(_csv_files(ann, "*-images*-with-rotation.csv")) | set(_csv_files(ann,
                                                                                         "image_ids_and_rotation.csv")))
    for p in files:
        head, rows = _read_csv(p, OI_IMAGE_FIELDS, ("ImageID",))
        k = head.index("ImageID")
        s = head.index("Subset") if "Subset" in head else -1
        default = _subset_of(p.name)
        for r in rows:
            i = t.image(r[k], r[s] if s >= 0 else default)
            t.img_extras[i].update({c: v for c, v in zip(head, r) if c not in ("ImageID", "Subset")})


def _box_row(p: Path, j: int, r: list[str], col: dict[str, int], problems: Problems
             ) -> tuple[list[float], dict[str, Any]] | None:
    """One box row's normalised coordinates and its other fields (flags as ints, clicks as floats)."""
    nums = [_oi_number(p, j, c, r[col[c]], problems) for c in ("XMin", "XMax", "YMin", "YMax")]
    if any(v is None for v in nums):
        return None
    xmin, xmax, ymin, ymax = (float(v) for v in nums)  # type: ignore[arg-type]
    if xmax < xmin or ymax < ymin:
        problems.error(p, f"line {j}", "XMax < XMin or YMax < YMin")
        return None
    if min(xmin, ymin) < 0 or max(xmax, ymax) > 1:
        problems.warning(p, f"line {j}", "box reaches outside the image (normalised 0..1)")
    extras: dict[str, Any] = {"source": r[col["Source"]]} if "Source" in col else {}
    for c in col:
        if c in ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax", "Source"):
            continue
        text = r[col[c]]
        if c in OI_FLAGS:
            if text.strip() not in ("-1", "0", "1"):
                problems.error(p, f"line {j}", f"{c} must be 0, 1 or -1 (unknown), got {text!r}")
                return None
            extras[c.lower()] = int(text)
        elif c == "Confidence" or c in OI_CLICKS:
            v = _oi_number(p, j, c, text, problems)
            if v is None:
                return None
            extras[c.lower()] = v
        else:
            extras[c] = text
    return [xmin, xmax, ymin, ymax], extras


def _csv_files(ann: Path, pattern: str) -> list[Path]:
    """The CSV files of ``ann`` matching ``pattern``; one that is a link leading outside the dataset is refused."""
    out = sorted(ann.glob(pattern))
    for p in out:
        if p.is_symlink() and not p.resolve().is_relative_to(ann.parent.resolve()):
            raise FormatError(p, None, "a link leading outside the dataset folder; refused")
    return out


def _read_box_rows(ann: Path, t: _OiTable, problems: Problems) -> None:
    for p in _csv_files(ann, "*-annotations-bbox.csv"):
        with problems.guard(p):
            head, rows = _read_csv(p, OI_BOX_FIELDS, ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax"))
            col = {c: k for k, c in enumerate(head)}
            subset = _subset_of(p.name)
            for j, r in enumerate(rows, 2):
                got = _box_row(p, j, r, col, problems)
                if got is None:
                    continue
                t.box_img.append(t.image(r[col["ImageID"]], subset))
                t.box_label.append(r[col["LabelName"]])
                t.box_coords.append(got[0])
                t.box_extras.append(got[1])
                t.box_where.append((p, j))


def _read_label_rows(ann: Path, t: _OiTable, problems: Problems) -> None:
    for p in _csv_files(ann, "*-annotations-human-imagelabels*.csv"):
        with problems.guard(p):
            head, rows = _read_csv(p, OI_LABEL_FIELDS, ("ImageID", "LabelName", "Confidence"))
            col = {c: k for k, c in enumerate(head)}
            subset = _subset_of(p.name)
            for j, r in enumerate(rows, 2):
                conf = r[col["Confidence"]].strip()
                if conf not in ("0", "1", "0.0", "1.0"):
                    problems.error(p, f"line {j}", f"Confidence of a human-verified label is 0 or 1, got {conf!r}")
                    continue
                src = r[col["Source"]] if "Source" in col else ""
                t.labels.append((t.image(r[col["ImageID"]], subset), r[col["LabelName"]], conf.startswith("1"), src))


def _oi_root(root: Path) -> Path:
    """The folder holding the CSV files: ``annotations/`` when there is one, else ``root``."""
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (an Open Images dataset is a folder with annotations/*.csv)")
    ann = root / "annotations"
    ann = ann if ann.is_dir() else root
    if not any(ann.glob("*.csv")):
        raise FormatError(root, None, "no Open Images CSV files (annotations/*-annotations-bbox.csv, ...)")
    return ann


def _oi_categories(ann: Path, t: _OiTable, display_names: bool, problems: Problems) -> LabelSet:
    """The classes of the descriptions file (ids 1..n in its order), else the LabelNames found (sorted); a box or
    label whose class the file lacks is an error naming its line."""
    rows = _class_rows(ann)
    if not rows:
        found = sorted(set(t.box_label) | {x[1] for x in t.labels})
        rows = [(n, n) for n in found]
    known = {mid for mid, _ in rows}
    for k, mid in enumerate(t.box_label):
        if mid not in known:
            p, j = t.box_where[k]
            problems.error(p, f"line {j}", f"LabelName {mid!r} is not in the class descriptions")
            break
    if display_names:
        return LabelSet(ids=np.arange(1, len(rows) + 1), names=[d for _, d in rows],
                        extras=[{"label_name": m} for m, _ in rows])
    return LabelSet(ids=np.arange(1, len(rows) + 1), names=[m for m, _ in rows],
                    extras=[{"display_name": d} for _, d in rows])


def _image_files(root: Path) -> dict[tuple[str, str], Path]:
    """``images/<subset>/<ImageID>.<ext>`` by (subset, ImageID); also by ("", ImageID) for any subset."""
    from annokit.io._safe import IMAGE_EXTS

    out: dict[tuple[str, str], Path] = {}
    d = root / "images"
    if d.is_dir():
        for p in sorted(d.rglob("*")):
            if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                sub = p.parent.relative_to(d).as_posix()
                out.setdefault((sub, p.stem), p)
                out.setdefault(("", p.stem), p)
    return out


def _image_meta(ann: Path) -> dict[str, tuple[int, int]]:
    """datumaro's ``annotations/images.meta``: ``<ImageID> <height> <width>`` a line."""
    import shlex

    from annokit.io.validation import read_text

    p = ann / "images.meta"
    out: dict[str, tuple[int, int]] = {}
    if p.is_file():
        for j, line in enumerate(read_text(p).splitlines(), 1):
            f = shlex.split(line, comments=True) if line.strip() else []
            if f and (len(f) != 3 or not f[1].isdigit() or not f[2].isdigit()):
                raise FormatError(p, f"line {j}", f"expected '<ImageID> <height> <width>', got {line.strip()!r}")
            if f:
                out[f[0]] = (int(f[1]), int(f[2]))
    return out


@dataclass(frozen=True)
class _Sizes:
    file_names: list[str]
    heights: IntArray
    widths: IntArray
    unknown: BoolArray


def _oi_sizes(root: Path, ann: Path, t: _OiTable, sizes: dict[str, tuple[int, int]]) -> _Sizes:
    """Each image's file name and size: from its file's header, else images.meta, else ``sizes`` (the sidecar's,
    by ``<subset>/<ImageID>``); unknown sizes are 0."""
    from annokit.io._safe import image_hw

    files, meta = _image_files(root), _image_meta(ann)
    names, hw = [], []
    for image_id, i in t.pos.items():
        sub = t.subsets[i]
        p = files.get((sub, image_id)) or files.get(("", image_id))
        if p is not None:
            names.append(p.relative_to(root).as_posix())
            hw.append(image_hw(p))
        else:
            names.append(f"images/{sub}/{image_id}.jpg" if sub else f"images/{image_id}.jpg")
            hw.append(meta.get(image_id) or sizes.get(f"{sub}/{image_id}") or (0, 0))
    h = np.array([x for x, _ in hw], dtype=np.int64).reshape(-1)
    w = np.array([x for _, x in hw], dtype=np.int64).reshape(-1)
    return _Sizes(names, h, w, (h <= 0) | (w <= 0))


def _check_oi(root: Path, *, problems: Problems, display_names: bool) -> tuple[Path, _OiTable, LabelSet]:
    """The rules of an Open Images folder (the reader's and the validator's)."""
    ann = _oi_root(root)
    t = _OiTable()
    with problems.guard(ann):
        _read_image_rows(ann, t)
    _read_box_rows(ann, t, problems)
    _read_label_rows(ann, t, problems)
    for (sub, image_id), _ in sorted(_image_files(root).items()):  # an image no CSV names: no objects (as datumaro)
        if sub and image_id not in t.pos:
            t.image(image_id, sub)
    cats = _oi_categories(ann, t, display_names, problems)
    return ann, t, cats


def read_openimages_keyed(root: str | os.PathLike[str], *, recorder: LossRecorder | None = None,
                          sizes: dict[str, tuple[int, int]] | None = None, normalized: bool = False,
                          display_names: bool = False) -> tuple[Dataset, list[str]]:
    """Read an Open Images CSV dataset; also return each image's key (``<subset>/<ImageID>``).

    ``normalized``: images whose size is unknown (no image file, no ``images.meta`` line) keep their boxes
    normalised, the image taken as 1 x 1 (counted), instead of being an error naming the box's line.
    ``display_names``: categories named by DisplayName instead of LabelName.
    """
    base = Path(root)
    ann, t, cats = _check_oi(base, problems=Problems(collect=False), display_names=display_names)
    sz = _oi_sizes(base, ann, t, sizes or {})
    rec = recorder if recorder is not None else LossRecorder()
    img = np.asarray(t.box_img, dtype=np.int64)
    bad = np.flatnonzero(sz.unknown[img]) if len(img) else np.zeros(0, np.int64)
    heights, widths = sz.heights.copy(), sz.widths.copy()
    if len(bad) and not normalized:
        p, j = t.box_where[int(bad[0])]
        raise FormatError(p, f"line {j}", f"the image {sz.file_names[int(img[bad[0]])]} is not found and "
                                          "annotations/images.meta has no size for it, so the normalised box cannot "
                                          "be scaled (normalized=True / --oi-normalized keeps boxes normalised)")
    if len(bad):
        unit = np.unique(img[bad])
        heights[unit], widths[unit] = 1, 1
        rec.add_many("image size unknown: boxes kept normalised (the image taken as 1 x 1)", len(unit),
                     [sz.file_names[int(i)] for i in unit[:5]])
    for i in np.flatnonzero(sz.unknown & (heights == 0)).tolist():
        rec.add("image size unknown: no image file, nor a line in images.meta (height and width 0)", sz.file_names[i])
    _count_not_read(ann, rec)
    ds = _oi_dataset(ann, t, cats, sz.file_names, heights, widths)
    keys = [f"{t.subsets[i]}/{image_id}" for image_id, i in t.pos.items()]
    return ds, keys


def _count_not_read(ann: Path, rec: LossRecorder) -> None:
    for p in sorted(ann.glob("*.csv")):
        if p.name.endswith(_NOT_READ):
            import csv
            import io

            from annokit.io.validation import read_text

            n = sum(1 for r in csv.reader(io.StringIO(read_text(p, encoding="utf-8-sig"), newline="")) if r) - 1
            rec.add_many(f"rows of {p.name} not read (annokit reads Open Images boxes, image-level labels and "
                         "image descriptions)", max(n, 0), [p.name])


def _oi_dataset(ann: Path, t: _OiTable, cats: LabelSet, names: list[str], heights: IntArray,
                widths: IntArray) -> Dataset:
    """The dataset of the tables: boxes in pixels, flags in the object extras (lower case), image-level labels as
    ``pos_category_ids`` / ``neg_category_ids`` (with their sources), the hierarchy in the dataset's extras."""
    key_of = [e.get("label_name", n) for e, n in zip(cats.extras or [], cats.names)]
    cid = {k: int(i) for k, i in zip(key_of, cats.ids.tolist())}
    extras = [dict(e, split=s) for e, s in zip(t.img_extras, t.subsets)]
    for i, mid, positive, src in t.labels:
        side = "pos" if positive else "neg"
        extras[i].setdefault(f"{side}_category_ids", []).append(cid[mid])
        extras[i].setdefault(f"{side}_sources", []).append(src)
    n = len(t.subsets)
    images = ImageTable(ids=np.arange(1, n + 1), file_names=names, heights=heights, widths=widths, extras=extras)
    c = np.asarray(t.box_coords, dtype=np.float64).reshape(-1, 4)
    img = np.asarray(t.box_img, dtype=np.int64)
    W, H = widths[img].astype(np.float64), heights[img].astype(np.float64)
    with np.errstate(over="ignore"):
        boxes = np.stack([c[:, 0] * W, c[:, 2] * H, c[:, 1] * W, c[:, 3] * H], axis=1)
    bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
    if len(bad):
        p, j = t.box_where[int(bad[0])]
        raise FormatError(p, f"line {j}", "coordinates too large: the box in pixels is not finite")
    inst = Instances(image_ids=img + 1, boxes=boxes, labels=np.array([cid[m] for m in t.box_label], dtype=np.int64),
                     extras=t.box_extras)
    top: dict[str, Any] = {}
    if (ann / HIERARCHY_FILE).is_file():
        top["hierarchy"] = load_json(ann / HIERARCHY_FILE)
    return Dataset(images=images, categories=cats, annotations=inst, extras=top)


def read_openimages(root: str | os.PathLike[str], *, normalized: bool = False,
                    display_names: bool = False) -> Dataset:
    """Read an Open Images V6 CSV dataset (boxes, their flags, image-level labels, image descriptions).

    ``IsGroupOf`` and the other flags go to the object extras as ``isgroupof`` ... (the field the Open Images
    evaluation reads), verified image-level labels to the image extras ``pos_category_ids`` /
    ``neg_category_ids``: the dataset evaluates with ``annokit eval --protocol openimages`` as it is.

    Examples
    --------
    >>> ds = read_openimages("open-images-v6")  # doctest: +SKIP
    """
    return read_openimages_keyed(root, normalized=normalized, display_names=display_names)[0]


def validate_openimages(root: str | os.PathLike[str]) -> list[Problem]:
    """Every problem of an Open Images folder's CSV files with its file and line (images are not opened)."""
    problems = Problems(collect=True)
    with problems.guard(root):
        _check_oi(Path(root), problems=problems, display_names=False)
    return problems.items


# ------------------------------------------------------------------------------------------- writing the CSV files
def _csv_text(head: list[str], rows: list[list[str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows(rows)
    return buf.getvalue()


def _num_text(v: float) -> str:
    """The shortest text that reads back to ``v`` (integral values without a decimal point)."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))


@dataclass(frozen=True)
class _OiOut:
    """What the writer has decided: each image's ImageID and subset, each category's LabelName."""

    image_ids: list[str]
    subsets: list[str]
    mids: dict[int, str]


def _oi_plan(ds: Dataset, split: str, rec: LossRecorder, kept_in: str | None) -> tuple[_OiOut, list[list[str]]]:
    """ImageIDs (the file names' stems), subsets, LabelNames, and the class description rows."""
    from annokit._internal.paths import safe_name

    im, cats = ds.images, ds.categories
    ids: list[str] = []
    subsets: list[str] = []
    seen: dict[str, int] = {}
    for i, fn in enumerate(im.file_names):
        image_id = Path(safe_name(fn, where=f"images[{i}].file_name")).stem
        if image_id in seen:
            raise FormatError(None, f"images[{i}].file_name", f"{fn!r} and {im.file_names[seen[image_id]]!r} "
                                                              f"would have the same ImageID {image_id!r}")
        seen[image_id] = i
        sp = (im.extras[i].get("split") if im.extras is not None else None) or split
        ids.append(image_id)
        subsets.append(safe_name(str(sp), where=f"images[{i}].split"))
    rows, mids = [], {}
    for k, (cid, name) in enumerate(zip(cats.ids.tolist(), cats.names)):
        e = cats.extras[k] if cats.extras is not None else {}
        mid, disp = (e["label_name"], name) if "label_name" in e else (name, e.get("display_name", name))
        mids[cid] = str(mid)
        rows.append([str(mid), str(disp)])
        if any(x not in ("label_name", "display_name") for x in e):
            rec.add("category fields dropped: Open Images classes have LabelName and DisplayName", name,
                    kept_in=kept_in)
    if cats.ids.tolist() != list(range(1, len(cats) + 1)):
        rec.add_many("category ids renumbered: Open Images classes are numbered in file order from 1", len(cats),
                     kept_in=kept_in)
    if cats.supercategories is not None and any(cats.supercategories):
        rec.add_many("supercategory dropped: Open Images has none (its hierarchy file is kept when the dataset has "
                     "one)", len(cats), kept_in=kept_in)
    return _OiOut(ids, subsets, mids), rows


def _box_rows(ds: Dataset, out: _OiOut, rec: LossRecorder, kept_in: str | None) -> tuple[list[str], list[list[str]]]:
    """The bbox CSV rows (header, rows) of every object, coordinates normalised to read back exactly."""
    from annokit.io.yolo import _image_sizes, _norm_coords

    a = ds.annotations
    hw = _image_sizes(ds)
    extras: list[dict[str, Any]] = list(a.extras) if a.extras is not None else [{}] * len(a)
    clicks = [c for c in OI_CLICKS if any(c.lower() in e for e in extras)]
    size = np.repeat(hw[:, [1, 1, 0, 0]], 1, axis=0).reshape(-1)
    coords = a.boxes[:, [0, 2, 1, 3]].reshape(-1)
    u, ok = _norm_coords(coords, size) if len(a) else (coords, np.ones(0, bool))
    u = u.reshape(-1, 4)
    bad = np.flatnonzero(~np.asarray(ok).reshape(-1, 4).all(axis=1)) if len(a) else np.zeros(0, np.int64)
    v, sz = coords.reshape(-1, 4)[bad], size.reshape(-1, 4)[bad]  # within float rounding at the image's scale:
    n_bad = int(beyond_rounding(u[bad] * sz - v, np.maximum(sz, np.abs(v))).any(axis=1).sum())  # not a loss
    rec.add_many("box edge not exactly representable in normalised text", n_bad, kept_in=kept_in)
    img_pos = ds.images.index_of(a.image_ids)
    known = {"source", "confidence", *(f.lower() for f in OI_FLAGS), *(c.lower() for c in clicks)}
    rows = []
    for k in range(len(a)):
        e = extras[k] or {}
        conf = e.get("confidence", a.scores[k] if a.scores is not None else 1)
        flags = [str(int(e[f.lower()])) if f.lower() in e else
                 str(int(a.iscrowd[k])) if f == "IsGroupOf" else "-1" for f in OI_FLAGS]
        rows.append([out.image_ids[img_pos[k]], str(e.get("source", "")), out.mids[int(a.labels[k])],
                     _num_text(conf), *(_num_text(v) for v in u[k]), *flags,
                     *(_num_text(e.get(c.lower(), -1)) for c in clicks)])
        if any(x not in known for x in e):
            rec.add("annotation fields dropped: an Open Images box row has fixed columns",
                    f"annotation id {int(a.ids[k])}", kept_in=kept_in)
    return list(OI_BOX_FIELDS) + clicks, rows


def _object_losses(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> None:
    a = ds.annotations
    extras: list[dict[str, Any]] = list(a.extras) if a.extras is not None else [{}] * len(a)

    def add(kind: str, n: int) -> None:
        rec.add_many(kind, n, kept_in=kept_in)

    from annokit.io._writing import add_rows

    has_flag = np.array(["isgroupof" in (e or {}) for e in extras], dtype=bool)
    add_rows(rec, "crowd flag written as IsGroupOf (read back as the field isgroupof, not iscrowd)",
             a.iscrowd & ~has_flag, ds, kept_in)
    add_rows(rec, "crowd flag dropped: the object's isgroupof field is written instead", a.iscrowd & has_flag, ds,
             kept_in)
    if a.scores is not None:
        add("scores written as Confidence (read back as the field confidence)", len(a))
    if a.segmentations is not None:
        add_rows(rec, "segmentation dropped: Open Images masks are not written", [bool(s) for s in a.segmentations],
                 ds, kept_in)
    if a.corners is not None:
        add("oriented corners dropped: Open Images boxes are axis-aligned (their hull kept)", len(a))
    wh = a.widths_heights()
    add_rows(rec, "area dropped: Open Images has no area (read back as the box area)", a.area != wh[:, 0] * wh[:, 1],
             ds, kept_in)


def _image_rows(ds: Dataset, out: _OiOut, rec: LossRecorder, kept_in: str | None
                ) -> tuple[dict[str, list[list[str]]], list[str], dict[str, list[list[str]]]]:
    """Per subset: the image description rows and the image-level label rows; and the description header."""
    im = ds.images
    extras: list[dict[str, Any]] = list(im.extras) if im.extras is not None else [{}] * len(im)
    cols = [c for c in OI_IMAGE_FIELDS[2:] if any(c in e for e in extras)]
    label_keys = {"pos_category_ids", "neg_category_ids", "pos_sources", "neg_sources", "split"}
    desc: dict[str, list[list[str]]] = {}
    labels: dict[str, list[list[str]]] = {}
    for i, e in enumerate(extras):
        sub, image_id = out.subsets[i], out.image_ids[i]
        desc.setdefault(sub, []).append([image_id, sub, *(str(e.get(c, "")) for c in cols)])
        for side, conf in (("pos", "1"), ("neg", "0")):
            cids = e.get(f"{side}_category_ids") or []
            srcs = e.get(f"{side}_sources") or [""] * len(cids)
            for cid, src in zip(cids, srcs):
                if cid not in out.mids:
                    raise FormatError(None, f"images[{i}].{side}_category_ids", f"unknown category id {cid}")
                labels.setdefault(sub, []).append([image_id, str(src), out.mids[cid], conf])
        if any(k not in label_keys and k not in cols for k in e):
            rec.add("image fields dropped: Open Images image rows have fixed columns", im.file_names[i],
                    kept_in=kept_in)
    return desc, ["ImageID", "Subset", *cols], labels


def write_openimages_into(ds: Dataset, root: Path, *, split: str = "train", recorder: LossRecorder | None = None,
                          kept_in: str | None = None, images: Path | None = None) -> list[str]:
    """Write ``ds`` as Open Images CSV files into the existing ``root`` (the layout :func:`read_openimages`
    reads, ``annotations/images.meta`` included); return each image's key (``<subset>/<ImageID>``).

    The ImageID is the file name's stem; the subset the image's ``split`` extra, else ``split``. ``images``
    (a folder of the images by ``file_name``) copies them into ``images/<subset>/``.
    """
    from annokit.io._writing import copy_image

    rec = recorder if recorder is not None else LossRecorder()
    out, class_rows = _oi_plan(ds, split, rec, kept_in)
    _object_losses(ds, rec, kept_in)
    box_head, box_rows = _box_rows(ds, out, rec, kept_in)
    desc, desc_head, label_rows = _image_rows(ds, out, rec, kept_in)
    ann = root / "annotations"
    ann.mkdir()
    (ann / "oidv6-class-descriptions.csv").write_text(_csv_text(["LabelName", "DisplayName"], class_rows), "utf-8")
    sub_of_img = dict(zip(out.image_ids, out.subsets))
    for sub in sorted(set(out.subsets)):
        rows = [r for r in box_rows if sub_of_img[r[0]] == sub]
        (ann / f"{sub}-annotations-bbox.csv").write_text(_csv_text(box_head, rows), "utf-8")
        (ann / f"{sub}-images-with-rotation.csv").write_text(_csv_text(desc_head, desc[sub]), "utf-8")
        if sub in label_rows:
            (ann / f"{sub}-annotations-human-imagelabels.csv").write_text(
                _csv_text(list(OI_LABEL_FIELDS), label_rows[sub]), "utf-8")
    im = ds.images
    meta = "".join(f"{i} {int(h)} {int(w)}\n" for i, h, w in zip(out.image_ids, im.heights, im.widths))
    (ann / "images.meta").write_text(meta, "utf-8")
    top = dict(ds.extras)
    if "hierarchy" in top:
        import orjson

        (ann / HIERARCHY_FILE).write_bytes(orjson.dumps(top.pop("hierarchy"), option=orjson.OPT_INDENT_2))
    if ds.info is not None or ds.licenses is not None or top:
        rec.add_many("dataset info / licenses / top-level fields dropped: Open Images has none", 1, kept_in=kept_in)
    for i, fn in enumerate(im.file_names):
        copy_image(images, fn, root / "images" / out.subsets[i], out.image_ids[i], rec)
    _count_ids(ds, out, rec, kept_in)
    return [f"{s}/{i}" for s, i in zip(out.subsets, out.image_ids)]


def _count_ids(ds: Dataset, out: _OiOut, rec: LossRecorder, kept_in: str | None) -> None:
    """Ids are dropped unless reading back (images by subset file, then row; boxes likewise) numbers them again."""
    from annokit.io._writing import ids_read_back, rank_of

    img_rank = rank_of([(f"{s}-images-with-rotation.csv",) for s in out.subsets])
    sub_rank = rank_of([(f"{s}-annotations-bbox.csv",) for s in out.subsets])
    obj_rank = sub_rank[ds.images.index_of(ds.annotations.image_ids)] if len(ds.annotations) else None
    img_ok, ann_ok = ids_read_back(ds, img_rank, obj_rank)
    rec.add_many("image ids dropped: Open Images images are named by ImageID (numbered 1..N on reading)",
                 0 if img_ok else len(ds.images), kept_in=kept_in)
    rec.add_many("annotation ids dropped: Open Images boxes have no id (numbered 1..N on reading)",
                 0 if ann_ok else len(ds.annotations), kept_in=kept_in)
