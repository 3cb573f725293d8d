"""Image classification labels: a folder per class, or a CSV of ``file,label``.

Each image label is one object whose box is the whole image (``[0, 0, W, H]``), so classification datasets live in
the same :class:`~annokit.core.dataset.Dataset` as detection ones and convert to and from them.

- **folder**: ``<root>/<class>/<image>`` or ``<root>/<split>/<class>/<image>`` (torchvision ``ImageFolder``,
  Ultralytics classification). Category ids are 0..n-1 in sorted class-name order (``ImageFolder``'s rule); the
  split is kept in the image extra ``split``.
- **csv**: a header row then ``file,label`` rows (one row per label: several rows make a multi-label image; an
  empty label keeps an unlabelled image). Roboflow's one-hot form ``filename, cls_a, cls_b, ...`` is read too.

Image sizes come from the image headers when the images are found (beside the CSV, or given by ``images``), else 0.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir
from annokit._internal.parts import current_part
from annokit._internal.paths import safe_component, safe_join, safe_name, unique_components
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._images import copy_images
from annokit.io._safe import IMAGE_EXTS, image_hw
from annokit.io.validation import read_text

__all__ = ["read_class_folders", "write_class_folders", "read_class_csv", "write_class_csv"]

PathLike = str | os.PathLike[str]


def _build(file_names: list[str], hw: list[tuple[int, int]], pairs: list[tuple[int, str]], names: list[str],
           extras: list[dict[str, Any]] | None = None) -> Dataset:
    ids = np.arange(1, len(file_names) + 1)
    labels = LabelSet(ids=np.arange(len(names)), names=names)
    name_id = {n: i for i, n in enumerate(names)}
    img = np.array([p[0] for p in pairs], dtype=np.int64)
    h = np.array([hw[i][0] for i in img], dtype=np.float64) if pairs else np.zeros(0)
    w = np.array([hw[i][1] for i in img], dtype=np.float64) if pairs else np.zeros(0)
    inst = Instances(image_ids=ids[img] if pairs else np.zeros(0, np.int64),
                     boxes=np.stack([np.zeros(len(pairs)), np.zeros(len(pairs)), w, h], axis=1),
                     labels=np.array([name_id[p[1]] for p in pairs], dtype=np.int64))
    tbl = ImageTable(ids=ids, file_names=file_names, heights=np.array([x[0] for x in hw], dtype=np.int64),
                     widths=np.array([x[1] for x in hw], dtype=np.int64),
                     extras=extras if extras and any(extras) else None)
    return Dataset(images=tbl, categories=labels, annotations=inst)


# ------------------------------------------------------------------------------------------- folders
def read_class_folders(root: PathLike, *, recorder: LossRecorder | None = None) -> Dataset:
    """Read ``<root>/<class>/*`` or ``<root>/<split>/<class>/*`` image folders. Every other file under ``root``
    (annotation files, images deeper or shallower than the layout; annokit's own ``annokit.json`` aside) is counted
    in ``recorder`` as not read."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder")

    def images_in(d: Path) -> list[Path]:
        return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)

    subs = sorted(d for d in root.iterdir() if d.is_dir())
    layout: list[tuple[str | None, Path]] = []
    if any(images_in(d) for d in subs):
        layout = [(None, d) for d in subs]
    else:
        for s in subs:
            layout += [(s.name, d) for d in sorted(x for x in s.iterdir() if x.is_dir())]
    if not layout:
        raise FormatError(root, None, "no class folders with images found")
    names = sorted({d.name for _, d in layout})
    file_names: list[str] = []
    hw: list[tuple[int, int]] = []
    pairs: list[tuple[int, str]] = []
    extras: list[dict[str, Any]] = []
    for split, d in layout:
        for p in images_in(d):
            pairs.append((len(file_names), d.name))
            file_names.append(p.relative_to(root).as_posix())
            hw.append(image_hw(p))
            extras.append({"split": split} if split else {})
    if recorder is not None:
        _count_unread(root, set(file_names), recorder)
    return _build(file_names, hw, pairs, names, extras)


def _count_unread(root: Path, read: set[str], rec: LossRecorder) -> None:
    """Count the files under ``root`` that the class-folder layout did not read (a loss, first ones named)."""
    unread = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            rel = (Path(dirpath) / f).relative_to(root).as_posix()
            if rel not in read and rel != "annokit.json":
                unread.append(rel)
    unread.sort()
    rec.add_many("files not read (not an image in a class folder: class-folders reads <class>/<image> or "
                 "<split>/<class>/<image>)", len(unread), unread[:5])


def _single_labels(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> dict[int, int]:
    """image position -> the one label row it keeps (multi-label and unlabelled images counted)."""
    a, im = ds.annotations, ds.images
    pos = im.index_of(a.image_ids)
    first: dict[int, int] = {}
    multi = []
    for r, p in enumerate(pos.tolist()):
        if p in first:
            if a.labels[first[p]] != a.labels[r]:
                multi.append(p)
            continue
        first[p] = r
    rec.add_many("multi-label image: only its first label kept (a folder holds one class)", len(set(multi)),
                 [im.file_names[p] for p in sorted(set(multi))[:5]], kept_in=kept_in)
    none = [i for i in range(len(im)) if i not in first]
    # lost even with the sidecar: reading back, the images are the ones the folders hold
    rec.add_many("unlabelled image dropped: a class folder needs a class", len(none),
                 [im.file_names[i] for i in none[:5]])
    return first


def _box_losses(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> None:
    a, im = ds.annotations, ds.images
    pos = im.index_of(a.image_ids)
    whole = (a.boxes[:, 0] == 0) & (a.boxes[:, 1] == 0) & (a.boxes[:, 2] == im.widths[pos]) & \
        (a.boxes[:, 3] == im.heights[pos])
    k = np.flatnonzero(~whole)
    rec.add_many("boxes dropped: classification keeps the image's class only", len(k),
                 [f"annotation id {int(a.ids[j])}" for j in k[:5]], kept_in=kept_in)
    if a.segmentations is not None:
        n = sum(1 for s in a.segmentations if s)
        rec.add_many("segmentation dropped: classification has no masks", n, kept_in=kept_in)
    if a.scores is not None:  # all of them, when any is not 1
        rec.add_if_any("scores dropped", len(a), not bool((a.scores == 1).all()), kept_in=kept_in)


def _category_losses(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> None:
    cats = ds.categories
    order = np.argsort(np.array(cats.names, dtype=object), kind="stable")
    if not np.array_equal(cats.ids[order], np.arange(len(cats))):
        rec.add_once("category ids renumbered: classes are 0..n-1 in name order", len(cats), kept_in=kept_in)
    if len(set(cats.names)) != len(cats.names):
        raise FormatError(None, "categories", "two categories share a name; classification tells them apart by "
                                              "name only")
    for n in cats.names:
        if not n or "\n" in n:
            raise FormatError(None, "categories", f"category name {n!r} cannot be a class folder / CSV label")
    n_img, id0 = len(ds.images), current_part().image_offset + 1  # all of them, when they are not 1..N in order
    rec.add_if_any("image ids dropped: read back as 1..N", n_img,
                   not np.array_equal(ds.images.ids, np.arange(id0, id0 + n_img)), kept_in=kept_in)


def write_class_folders_into(ds: Dataset, root: Path, *, images: Path | None, recorder: LossRecorder | None = None,
                             kept_in: str | None = None) -> list[str]:
    """Copy (hard-link) each image into ``<root>/[<split>/]<class>/`` (a class's folder is its name made a safe
    file name); return each image's key. An image missing from ``images`` is counted."""
    if images is None:
        raise FormatError(None, None, "a class-folder dataset is made of the images themselves: give the folder "
                                      "that holds them (images=..., CLI --images)")
    rec = recorder if recorder is not None else LossRecorder()
    _category_losses(ds, rec, kept_in)
    _box_losses(ds, rec, kept_in)
    first = _single_labels(ds, rec, kept_in)
    im, a, cats = ds.images, ds.annotations, ds.categories
    folder = dict(zip(cats.names, unique_components(cats.names)))
    changed = [(n, f) for n, f in folder.items() if n != f]
    rec.add_once("category names given a safe folder name (the real names are read back with annokit)",
                 len(changed), [f"{n!r} -> {f}" for n, f in changed[:5]], kept_in=kept_in)
    keys = [""] * len(im)
    targets: list[Path | None] = [None] * len(im)
    seen: set[str] = set()
    for p, r in first.items():
        name = safe_name(im.file_names[p], where=f"images[{p}].file_name")
        split = im.extras[p].get("split") if im.extras is not None else None
        cls = folder[cats.name_of(int(a.labels[r]))]
        base = name.rsplit("/", 1)[-1]
        key = "/".join(x for x in (safe_component(split) if isinstance(split, str) else None, cls, base) if x)
        if key in seen:
            raise FormatError(None, f"images[{p}].file_name", f"two images would be written as {key}")
        seen.add(key)
        keys[p] = key
        targets[p] = root / key
    copy_images(ds, images, targets, rec)
    return keys


def write_class_folders(ds: Dataset, root: PathLike, *, images: PathLike, overwrite: bool = False,
                        recorder: LossRecorder | None = None) -> None:
    """Write a folder-per-class dataset (atomically), copying the images from ``images``."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_class_folders_into(ds, tmp, images=Path(images), recorder=recorder)


# ------------------------------------------------------------------------------------------- CSV
def read_class_csv(path: PathLike, *, images: PathLike | None = None) -> Dataset:
    """Read ``file,label`` rows (or Roboflow's one-hot columns) after a header row."""
    p = Path(path)
    reader = csv.reader(io.StringIO(read_text(p, encoding="utf-8-sig")))
    try:
        rows = list(reader)
    except csv.Error as exc:  # an unclosed quote, a field over the csv module's size limit
        raise FormatError(p, f"line {reader.line_num}", f"invalid CSV: {exc}") from None
    if not rows:
        raise FormatError(p, None, "empty CSV (expected a header row 'file,label')")
    header = [h.strip() for h in rows[0]]
    body = [[c.strip() for c in r] for r in rows[1:] if any(c.strip() for c in r)]
    img_root = Path(images) if images is not None else p.parent
    order: dict[str, int] = {}
    pairs: list[tuple[int, str]] = []
    if len(header) == 2:
        for i, r in enumerate(body):
            if len(r) != 2:
                raise FormatError(p, f"line {i + 2}", f"expected 2 columns (file,label), got {len(r)}")
            safe_name(r[0], source=p, where=f"line {i + 2}")
            k = order.setdefault(r[0], len(order))
            if r[1]:
                pairs.append((k, r[1]))
        names = sorted({lab for _, lab in pairs})
    elif len(header) > 2:
        names = header[1:]
        for i, r in enumerate(body):
            if len(r) != len(header):
                raise FormatError(p, f"line {i + 2}", f"expected {len(header)} columns, got {len(r)}")
            safe_name(r[0], source=p, where=f"line {i + 2}")
            k = order.setdefault(r[0], len(order))
            for n, v in zip(names, r[1:]):
                if v not in ("0", "1"):
                    raise FormatError(p, f"line {i + 2}", f"one-hot value {v!r} is not 0 or 1")
                if v == "1":
                    pairs.append((k, n))
        names = sorted(names)
    else:
        raise FormatError(p, "line 1", "expected a header 'file,label' (or 'file,<class>,<class>,...')")
    files = list(order)
    hw = []
    for f in files:
        src = safe_join(img_root, f)
        hw.append(image_hw(src) if src.is_file() else (0, 0))
    return _build(files, hw, pairs, names)


def write_class_csv(ds: Dataset, path: Path, *, recorder: LossRecorder | None = None) -> None:
    """Write ``file,label`` rows: one per image label, an empty label for an unlabelled image."""
    rec = recorder if recorder is not None else LossRecorder()
    _category_losses(ds, rec, None)
    _box_losses(ds, rec, None)
    im, a = ds.images, ds.annotations
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(im) + 1))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "label"])
    unknown = int((im.heights == 0).sum())
    rec.add_many("image sizes dropped: the CSV has file names only (read back from the images)", len(im) - unknown)
    for i in range(len(im)):
        labs = []
        for r in order[starts[i]:starts[i + 1]].tolist():
            n = ds.categories.name_of(int(a.labels[r]))
            if n not in labs:
                labs.append(n)
        if not labs:
            w.writerow([im.file_names[i], ""])
        for n in labs:
            w.writerow([im.file_names[i], n])
    path.write_text(buf.getvalue(), encoding="utf-8")
