"""Darknet YOLO 1.1 (CVAT's "YOLO 1.1", datumaro's ``yolo`` format): ``obj.data``, ``obj.names``, ``<split>.txt``,
``obj_<split>_data/``.

- ``obj.data``: ``key = value`` lines. ``names`` is the class list file, ``classes`` its length (a mismatch is a
  warning: darknet and datumaro take the names file), ``backup`` / ``eval`` / ``results`` are darknet's; every other
  key is a split whose value is its image list (``train = data/train.txt``).
- Paths in ``obj.data`` and the lists start with ``data/`` (the folder darknet runs from); that prefix is dropped,
  as datumaro does, and every path must stay inside the dataset folder.
- Each image ``obj_<split>_data/<name>.<ext>`` has its labels beside it, ``obj_<split>_data/<name>.txt``: one line
  ``class cx cy w h`` per object, normalised by the image size, class ``k`` the ``k``-th line of ``obj.names``
  (read as category id ``k``). Exactly five fields a line (darknet's and datumaro's rule).
- datumaro's "loose" layouts (``obj.names`` without ``obj.data``: ``images/<split>/`` with ``labels/<split>/``, or
  ``Images/`` with ``Annotations/``) are read too (written: the strict layout).
- Image sizes come from the image headers; for images that are not there, from ``images.meta``
  (``<name> <height> <width>`` a line, datumaro's file; ``<name>`` is the path inside ``obj_<split>_data`` without
  extension), else from the annokit sidecar.

Pixel boxes are ``l = W (cx - w/2)``, ``r = W (cx + w/2)`` as in :mod:`annokit.io.yolo`, whose line rules and exact
writing this module shares. The writer also writes ``images.meta`` (so the sizes survive without the images).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from annokit._internal.paths import safe_join, safe_relpath
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import image_hw
from annokit.io._writing import copy_image, rows_by_image
from annokit.io.validation import Problem, Problems, read_text
from annokit.io.yolo import (
    _class_indices,
    _dataset_losses,
    _detect_lines,
    _image_sizes,
    _Images,
    _inside,
    _instances,
    _label_lines,
    _Rows,
    _Sink,
    _SplitOptions,
    skip_or_refuse_split,
)

__all__ = ["ObjData", "read_darknet", "read_darknet_keyed", "validate_darknet", "write_darknet_into"]

PathLike = str | os.PathLike[str]
RESERVED = ("classes", "names", "backup", "eval", "results")
_LINE = re.compile(r"^\s*(\w+)\s*=\s*(.*?)\s*$")


@dataclass(frozen=True)
class ObjData:
    """``obj.data``: the class count it states, the names file, and each split's image list (in file order)."""

    path: Path
    classes: int | None
    names: Path
    splits: dict[str, Path]


def localize(value: str) -> str:
    """A path of ``obj.data`` or a list, without darknet's leading ``data/`` (and ``./``).

    >>> localize("data/obj_train_data/a.jpg"), localize("./train.txt")
    ('obj_train_data/a.jpg', 'train.txt')
    """
    v = value.strip().replace("\\", "/")
    while v.startswith("./"):
        v = v[2:]
    return v[5:] if v.startswith("data/") else v


def _within(root: Path, value: str, src: Path, where: str) -> Path:
    """``root / localize(value)``, refused when it leaves ``root`` (``..``, absolute, a link outside)."""
    p = safe_join(root, localize(value), source=src, where=where)
    if p.exists() and not _inside(root, p):
        raise FormatError(src, where, f"{value!r} leads outside the dataset folder; refused")
    return p


def load_obj_data(root: Path, problems: Problems) -> ObjData:
    """Parse and check ``root/obj.data`` (or the one ``*.data`` file there)."""
    cands = [root / "obj.data"] if (root / "obj.data").is_file() else sorted(root.glob("*.data"))
    if not cands:
        raise FormatError(root, None, "no obj.data (a Darknet YOLO 1.1 dataset has obj.data, obj.names and "
                                      "<split>.txt lists)")
    path = cands[0]
    fields: dict[str, tuple[int, str]] = {}
    for i, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None or not m.group(2):
            problems.error(path, f"line {i}", f"expected 'key = value', got {line.strip()!r}")
            continue
        fields[m.group(1)] = (i, m.group(2))
    classes = None
    if "classes" in fields:
        i, v = fields["classes"]
        if not v.isdigit():
            problems.error(path, f"line {i}", f"classes must be a count, got {v!r}")
        else:
            classes = int(v)
    names = _within(root, fields["names"][1], path, f"line {fields['names'][0]}") if "names" in fields \
        else root / "obj.names"
    splits = {k: _within(root, v, path, f"line {i}") for k, (i, v) in fields.items() if k not in RESERVED}
    if not splits:
        problems.error(path, None, "no split (a line 'train = data/train.txt')")
    return ObjData(path, classes, names, splits)


def _class_names(data: ObjData, problems: Problems, rec: LossRecorder | None) -> list[str]:
    if not data.names.is_file():
        raise FormatError(data.names, None, "the class names file obj.data names is not found")
    names = [ln.strip() for ln in read_text(data.names).splitlines() if ln.strip()]
    if data.classes is not None and data.classes != len(names):
        msg = f"obj.data says classes = {data.classes} but {data.names.name} has {len(names)} names; the names are used"
        problems.warning(data.path, "classes", msg)
        if rec is not None:
            rec.warn(f"{data.path}: {msg}")
    return names


def _image_meta(root: Path) -> dict[str, tuple[int, int]]:
    """datumaro's ``images.meta``: ``<name> <height> <width>`` a line (shell quoting allowed)."""
    p = root / "images.meta"
    out: dict[str, tuple[int, int]] = {}
    if not p.is_file():
        return out
    for i, line in enumerate(read_text(p).splitlines(), 1):
        try:
            f = shlex.split(line, comments=True)
        except ValueError as exc:
            raise FormatError(p, f"line {i}", f"bad quoting ({exc})") from None
        if not f:
            continue
        if len(f) != 3 or not f[1].isdigit() or not f[2].isdigit():
            raise FormatError(p, f"line {i}", f"expected '<name> <height> <width>', got {line.strip()!r}")
        out[f[0]] = (int(f[1]), int(f[2]))
    return out


@dataclass(frozen=True)
class _Entry:
    split: str
    image: Path  # may be absent
    meta_name: str  # the name in images.meta: the path inside obj_<split>_data without extension
    label: Path | None = None  # None: beside the image


def _loose_entries(root: Path) -> list[_Entry]:
    """datumaro's "loose" layouts (``obj.names`` without ``obj.data``): ``images/<split>/*`` with
    ``labels/<split>/<stem>.txt``, or ``Images/*`` with ``Annotations/<stem>.txt`` (split ``train``)."""
    from annokit.io._safe import IMAGE_EXTS

    if (root / "images").is_dir():
        pairs = [(d.name, d, root / "labels" / d.name) for d in sorted((root / "images").iterdir()) if d.is_dir()]
    else:
        pairs = [("train", root / "Images", root / "Annotations")]
    out = []
    for split, img_dir, lab_dir in pairs:
        for p in sorted(img_dir.rglob("*")) if img_dir.is_dir() else []:
            if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                rel = p.relative_to(img_dir).with_suffix("")
                out.append(_Entry(split, p, rel.as_posix(), lab_dir / f"{rel.as_posix()}.txt"))
    if not out:
        raise FormatError(root, None, "obj.names without obj.data, and no images/<split>/ or Images/ folder")
    return out


def _missing_split(data: ObjData, split: str, what: str, rules: _SplitOptions) -> None:
    """A split ``obj.data`` names whose list or image folder is not there: an error naming the split and the path,
    or with ``skip_missing`` a counted loss (as for YOLO's ``data.yaml``)."""
    skip_or_refuse_split(data.path, split, what, rules, detail=what,
                         kind="split skipped: its image list or folder is not there (--skip-missing-splits)")


def _split_entries(root: Path, split: str, listing: Path, problems: Problems) -> list[_Entry]:
    """The images one split list names, in order."""
    out: list[_Entry] = []
    for j, line in enumerate(read_text(listing).splitlines(), 1):
        if not line.strip():
            continue
        with problems.guard(listing):
            img = _within(root, line, listing, f"line {j}")
            rel = PurePosixPath(localize(line))
            inner = PurePosixPath(*rel.parts[1:]) if len(rel.parts) > 1 else rel
            out.append(_Entry(split, img, inner.with_suffix("").as_posix()))
    return out


def _entries(root: Path, data: ObjData, rules: _SplitOptions) -> list[_Entry]:
    """Every image the split lists name, in order. A split whose list is missing, or whose images all lie in
    folders that do not exist (``obj_valid_data/`` named, ``obj_val_data/`` there), is an error naming the split
    and the path, or with ``skip_missing`` a counted loss."""
    out: list[_Entry] = []
    for split, listing in data.splits.items():
        if not listing.is_file():
            _missing_split(data, split, f"its image list ({listing.relative_to(root).as_posix()}) is not found", rules)
            continue
        got = _split_entries(root, split, listing, rules.problems)
        folders = sorted({e.image.parent for e in got})
        if got and not any(d.is_dir() for d in folders):
            names = ", ".join(d.relative_to(root).as_posix() + "/" for d in folders[:3])
            _missing_split(data, split, f"{listing.relative_to(root).as_posix()} lists images in {names}, which "
                                        "does not exist", rules)
            continue
        out += got
    return out


def _check_darknet(root: PathLike, *, problems: Problems, recorder: LossRecorder | None,
                   sizes: dict[str, tuple[int, int]] | None, exif: bool, read_image_sizes: bool,
                   skip_missing_splits: bool = False) -> tuple[Path, list[str], _Images, _Rows]:
    """The rules of a Darknet folder (the reader's and the validator's)."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (a Darknet YOLO 1.1 dataset is a folder with obj.data)")
    loose = not any(root.glob("*.data")) and (root / "obj.names").is_file()
    data = ObjData(root / "obj.names", None, root / "obj.names", {}) if loose else load_obj_data(root, problems)
    names = _class_names(data, problems, recorder)
    meta = _image_meta(root)
    images, rows = _Images(), _Rows()
    seen: set[str] = set()
    entries = _loose_entries(root) if loose else _entries(root, data, _SplitOptions(problems, recorder,
                                                                                  skip_missing_splits))
    if not loose:
        _count_unlisted(root, entries, problems, recorder)
    for e in entries:
        lab = e.label or e.image.with_suffix(".txt")
        key = lab.relative_to(root).as_posix()
        if key in seen:
            problems.error(lab, None, "listed twice (or two images share this label file)")
            continue
        seen.add(key)
        with problems.guard(lab):
            if lab.exists() and not _inside(root, lab):
                raise FormatError(lab, None, "a link leading outside the dataset folder; refused")
            h, w = _size_of(e, key, meta, sizes or {}, exif, read_image_sizes)
            lines = read_text(lab).splitlines() if lab.is_file() else []
            _check_fields(lab, lines, problems)
            if any(ln.strip() for ln in lines):
                if h <= 0 or w <= 0:
                    raise FormatError(lab, None, "the image of these labels is not found and images.meta has no "
                                                 "size for it, so the normalised coordinates cannot be scaled")
                _label_lines(lab, lines, len(images.keys), (h, w), len(names), rows, problems)
            elif (h <= 0 or w <= 0) and recorder is not None:
                recorder.add("image size unknown: no image file, nor a line in images.meta (height and width 0)",
                             key)
            images.file_names.append(e.image.relative_to(root).as_posix())
            images.keys.append(key)
            images.heights.append(h)
            images.widths.append(w)
            images.splits.append(e.split)
    return root, names, images, rows


def _count_unlisted(root: Path, entries: list[_Entry], problems: Problems, rec: LossRecorder | None) -> None:
    """Images in ``obj_*_data`` that no split list names: not read (darknet trains on the lists), counted."""
    from annokit.io._safe import IMAGE_EXTS

    listed = {e.image for e in entries}
    for d in sorted(root.glob("obj_*_data")):
        for p in sorted(d.rglob("*")):
            if p.suffix.lower() in IMAGE_EXTS and p.is_file() and p not in listed:
                rel = p.relative_to(root).as_posix()
                problems.warning(p, None, "no split list names this image; it is not read")
                if rec is not None:
                    rec.add("images in obj_<split>_data that no split list names: not read", rel)


def _size_of(e: _Entry, key: str, meta: dict[str, tuple[int, int]], sizes: dict[str, tuple[int, int]],
             exif: bool, read_image_sizes: bool) -> tuple[int, int]:
    if e.image.is_file():
        return image_hw(e.image, exif=exif) if read_image_sizes else (1, 1)
    return meta.get(e.meta_name) or sizes.get(key) or (0, 0)


def _check_fields(lab: Path, lines: list[str], problems: Problems) -> None:
    for j, line in enumerate(lines, 1):
        n = len(line.split())
        if n not in (0, 5):
            problems.error(lab, f"line {j}", f"expected 'class cx cy w h' (5 fields), got {n}")


def read_darknet_keyed(root: PathLike, *, recorder: LossRecorder | None = None,
                       sizes: dict[str, tuple[int, int]] | None = None, exif: bool = True,
                       skip_missing_splits: bool = False) -> tuple[Dataset, list[str]]:
    """Read a Darknet YOLO 1.1 folder; also return each image's key (its label file, relative to ``root``).
    ``skip_missing_splits``: a split whose list or image folder is not there is a counted loss, not an error."""
    root, names, images, rows = _check_darknet(root, problems=Problems(collect=False), recorder=recorder,
                                               sizes=sizes, exif=exif, read_image_sizes=True,
                                               skip_missing_splits=skip_missing_splits)
    n = len(images.keys)
    tbl = ImageTable(ids=np.arange(1, n + 1), file_names=images.file_names,
                     heights=np.asarray(images.heights, dtype=np.int64),
                     widths=np.asarray(images.widths, dtype=np.int64), extras=[{"split": s} for s in images.splits])
    return Dataset(images=tbl, categories=LabelSet(ids=np.arange(len(names)), names=names),
                   annotations=_instances(root, images, rows)), images.keys


def read_darknet(root: PathLike, *, exif: bool = True, skip_missing_splits: bool = False) -> Dataset:
    """Read a Darknet YOLO 1.1 dataset (CVAT's YOLO 1.1 export, datumaro's ``yolo``).

    Examples
    --------
    >>> ds = read_darknet("cvat_yolo_export")  # doctest: +SKIP
    """
    return read_darknet_keyed(root, exif=exif, skip_missing_splits=skip_missing_splits)[0]


def validate_darknet(root: PathLike) -> list[Problem]:
    """Every problem of a Darknet folder with its file and place (image headers are not read)."""
    problems = Problems(collect=True)
    with problems.guard(root):
        _check_darknet(root, problems=problems, recorder=None, sizes=None, exif=True, read_image_sizes=False)
    return problems.items


# ------------------------------------------------------------------------------------------- writing
def _subset_path(ds: Dataset, i: int, split: str) -> tuple[str, PurePosixPath]:
    """Image ``i``'s split and its path inside ``obj_<split>_data`` (a read path's own folder removed)."""
    im = ds.images
    sp = split
    if im.extras is not None and isinstance(im.extras[i].get("split"), str):
        sp = im.extras[i]["split"]
    if sp in RESERVED or not re.fullmatch(r"\w+", sp):
        raise FormatError(None, f"images[{i}].split", f"split {sp!r} cannot be an obj.data key (a word, not one of "
                                                      f"{', '.join(RESERVED)})")
    rel = safe_relpath(im.file_names[i], where=f"images[{i}].file_name")
    if len(rel.parts) > 1 and rel.parts[0] == f"obj_{sp}_data":
        rel = PurePosixPath(*rel.parts[1:])
    return sp, rel


def write_darknet_into(ds: Dataset, root: Path, *, split: str = "train", recorder: LossRecorder | None = None,
                       kept_in: str | None = None, precision: int | None = None, images: Path | None = None
                       ) -> list[str]:
    """Write ``ds`` as a Darknet YOLO 1.1 folder into the existing ``root``; return each image's key.

    ``split``: the split of images whose extras name none. ``images``: folder of the images by ``file_name``,
    copied (hard-linked) beside their labels.
    """
    sink = _Sink(recorder if recorder is not None else LossRecorder(), kept_in)
    cat_order, cls_of = _class_indices(ds, sink)
    _dataset_losses(ds, "detect", sink)
    a = ds.annotations
    if a.scores is not None:
        sink.add_many("scores dropped: Darknet label lines have no confidence", len(a))
        ds = ds.with_annotations(a.replace(scores=None))
    if a.corners is not None:
        sink.add_many("oriented corners dropped: Darknet lines hold axis-aligned boxes (their hull)", len(a))
    hw = _image_sizes(ds)
    cls = cls_of[ds.categories.index_of(a.labels)].tolist()
    lines = _detect_lines(ds, hw, cls, precision, sink)
    rows = rows_by_image(ds)
    keys: list[str] = []
    lists: dict[str, list[str]] = {}
    meta: list[str] = []
    for i in range(len(ds.images)):
        sp, rel = _subset_path(ds, i, split)
        key = f"obj_{sp}_data/{rel.with_suffix('').as_posix()}.txt"
        if key in keys:
            raise FormatError(None, f"images[{i}].file_name", f"two images would write {key}")
        dest = safe_join(root, key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text("".join(lines[k] + "\n" for k in rows[i]), encoding="utf-8")
        keys.append(key)
        lists.setdefault(sp, []).append(f"data/obj_{sp}_data/{rel.as_posix()}")
        meta.append(f"{shlex.quote(rel.with_suffix('').as_posix())} {int(ds.images.heights[i])} "
                    f"{int(ds.images.widths[i])}")
        copy_image(images, ds.images.file_names[i], safe_join(root, f"obj_{sp}_data/{rel.as_posix()}").parent,
                   rel.stem, sink.rec)
    names = [ds.categories.names[k] for k in cat_order]
    bad = [n for n in names if not n.strip() or "\n" in n or n != n.strip()]
    if bad:
        raise FormatError(None, "categories", f"class name {bad[0]!r} cannot be one line of obj.names")
    _write_meta_files(root, names, lists, meta, split)
    return keys


def _write_meta_files(root: Path, names: list[str], lists: dict[str, list[str]], meta: list[str],
                      split: str) -> None:
    """``obj.names``, one ``<split>.txt`` per split, ``obj.data`` and ``images.meta``."""
    (root / "obj.names").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    for sp, files in (lists or {split: []}).items():
        (root / f"{sp}.txt").write_text("".join(f + "\n" for f in files), encoding="utf-8")
    body = [f"classes = {len(names)}"] + [f"{sp} = data/{sp}.txt" for sp in (lists or {split: []})]
    body += ["names = data/obj.names", "backup = backup/"]
    (root / "obj.data").write_text("\n".join(body) + "\n", encoding="utf-8")
    (root / "images.meta").write_text("".join(m + "\n" for m in meta), encoding="utf-8")
