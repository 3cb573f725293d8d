"""KITTI object detection: ``[<split>/]label_2/<stem>.txt`` beside ``[<split>/]image_2/<stem>.png``.

One object a line, 15 fields as the KITTI devkit's readme defines them (a 16th is a detection's score)::

    type truncated occluded alpha left top right bottom height width length x y z rotation_y [score]

- ``type``: the class (``Car``, ``Van``, ``Truck``, ``Pedestrian``, ``Person_sitting``, ``Cyclist``, ``Tram``,
  ``Misc``, ``DontCare``; any word is read). Categories are the types found, sorted, numbered from 1. ``DontCare``
  regions are a category like the others (the devkit ignores detections in them; annokit keeps them as written).
- ``left top right bottom``: the 2-D box in image pixels, read as the ltrb box as it is (datumaro does the same).
- Every other field is kept in the object extras, as numbers: ``truncated`` (float), ``occluded`` (int),
  ``alpha``, ``dimensions`` ``[height, width, length]`` (metres), ``location`` ``[x, y, z]`` (camera coordinates,
  metres), ``rotation_y``; so a label file read and written again gives the same numbers.
- Writing uses the shortest text that reads back to the same float, with at least two decimals (the devkit's
  ``%.2f`` look: ``1.85``, ``0.00``, ``712.40``). An object without KITTI's fields gets the devkit's "unknown"
  values (``truncated 0``, ``occluded 0``, ``alpha -10``, dimensions ``-1``, location ``-1000``, ``rotation_y -10``),
  counted in the report.

Images are numbered 1..N in split order, then file name order; their sizes come from ``image_2`` (headers only). An
image of ``image_2`` without a label file is an image without objects (datumaro writes no file for those).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import read_files
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import IMAGE_EXTS, image_hw
from annokit.io._writing import rank_of
from annokit.io.dota import KeptSink, class_tokens, count_ids, object_losses, refuse_outside
from annokit.io.validation import Problem, Problems

__all__ = ["FIELDS", "UNKNOWN", "read_kitti", "read_kitti_keyed", "validate_kitti", "write_kitti_into"]

PathLike = str | os.PathLike[str]
FIELDS = ("type", "truncated", "occluded", "alpha", "left", "top", "right", "bottom", "height", "width", "length",
          "x", "y", "z", "rotation_y", "score")
UNKNOWN: dict[str, Any] = {"truncated": 0.0, "occluded": 0, "alpha": -10.0, "dimensions": [-1.0, -1.0, -1.0],
                           "location": [-1000.0, -1000.0, -1000.0], "rotation_y": -10.0}
"""What the writer puts where an object has no KITTI field (the devkit's DontCare values for the 3-D ones)."""
_KEYS = tuple(UNKNOWN)
MAX_FILE_BYTES = 1 << 28


@dataclass
class _Objects:
    """The objects read so far, as columns."""

    img: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    extras: list[dict[str, Any]] = field(default_factory=list)
    first_score: tuple[Path, int] | None = None
    first_plain: tuple[Path, int] | None = None


def _line(path: Path, j: int, f: list[str], out: _Objects, img: int, problems: Problems) -> None:
    """One label line's rules: 15 or 16 fields, numbers finite, ``occluded`` an integer, ``right >= left`` and
    ``bottom >= top``."""
    where = f"line {j}"
    if len(f) not in (15, 16):
        problems.error(path, where, f"expected 15 fields (type truncated occluded alpha left top right bottom "
                                    f"height width length x y z rotation_y) and an optional score, got {len(f)}")
        return
    vals = []
    for k, t in enumerate(f[1:], 1):
        try:
            v = float(t)
        except ValueError:
            problems.error(path, where, f"{FIELDS[k]} is not a number ({t!r})")
            return
        if not math.isfinite(v):
            problems.error(path, where, f"{FIELDS[k]} is not finite ({t!r})")
            return
        vals.append(v)
    if not vals[1].is_integer():
        problems.error(path, where, f"occluded must be an integer (0..3, -1 for DontCare), got {f[2]!r}")
        return
    if vals[5] < vals[3] or vals[6] < vals[4]:
        problems.error(path, where, "right < left or bottom < top")
        return
    if not (0 <= vals[0] <= 1 or vals[0] == -1):
        problems.warning(path, where, f"truncated should be in 0..1 (or -1), got {f[1]}")
    if vals[1] not in (-1, 0, 1, 2, 3):
        problems.warning(path, where, f"occluded should be 0..3 (or -1), got {f[2]}")
    if len(f) == 16:
        out.first_score = out.first_score or (path, j)
    else:
        out.first_plain = out.first_plain or (path, j)
    out.img.append(img)
    out.types.append(f[0])
    out.boxes.append(vals[3:7])
    out.scores.append(vals[14] if len(f) == 16 else math.nan)
    out.extras.append({"truncated": vals[0], "occluded": int(vals[1]), "alpha": vals[2],
                       "dimensions": vals[7:10], "location": vals[10:13], "rotation_y": vals[13]})


@dataclass(frozen=True)
class _Source:
    split: str | None
    label: Path
    image: Path | None
    key: str


def _sources(root: Path) -> list[_Source]:
    """Every label file (``label_2`` at the top, and in each split folder), with its image when present."""
    top = (root / "label_2").is_dir() or (root / "image_2").is_dir()
    dirs: list[tuple[str | None, Path]] = [(None, root)] if top else []
    dirs += [(d.name, d) for d in sorted(root.iterdir()) if d.is_dir() and (d / "label_2").is_dir()]
    if not dirs:
        raise FormatError(root, None, "no label_2 folder (KITTI object detection: [<split>/]label_2/*.txt)")
    out = []
    for split, d in dirs:
        imgs: dict[str, Path] = {}
        if (d / "image_2").is_dir():
            for p in sorted((d / "image_2").iterdir()):
                if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                    imgs.setdefault(p.stem, p)
        labs = {lab.stem: lab for lab in (d / "label_2").glob("*.txt")}
        refuse_outside(root, list(labs.values()))
        for stem in sorted(set(labs) | set(imgs)):  # an image without a label file: an image without objects
            lab = labs.get(stem, d / "label_2" / f"{stem}.txt")
            out.append(_Source(split, lab, imgs.get(stem), lab.relative_to(root).as_posix()))
    return out


def _check_kitti(root: Path, problems: Problems) -> tuple[list[_Source], _Objects]:
    """The rules of a KITTI folder (the reader's and the validator's)."""
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (KITTI object detection: [<split>/]label_2/*.txt)")
    srcs = _sources(root)
    objs = _Objects()
    have = [s for s in srcs if s.label.is_file()]
    raws = dict(zip([s.key for s in have], read_files([s.label for s in have], max_bytes=MAX_FILE_BYTES)))
    for i, s in enumerate(srcs):
        raw = raws.get(s.key, b"")
        with problems.guard(s.label):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormatError(s.label, None, f"not UTF-8 text ({exc.reason})") from None
            for j, line in enumerate(text.splitlines(), 1):
                f = line.split()
                if f:
                    _line(s.label, j, f, objs, i, problems)
    if objs.first_score and objs.first_plain:
        p, j = objs.first_score if objs.first_plain < objs.first_score else objs.first_plain
        problems.error(p, f"line {j}", "some lines have a score (16 fields) and others not")
    return srcs, objs


def read_kitti_keyed(root: PathLike, *, recorder: LossRecorder | None = None,
                     sizes: dict[str, tuple[int, int]] | None = None) -> tuple[Dataset, list[str]]:
    """Read a KITTI object detection folder; also return each image's key (its label file, relative to ``root``).
    ``sizes`` gives ``(height, width)`` by key for images that are not on disk."""
    base = Path(root)
    srcs, objs = _check_kitti(base, Problems(collect=False))
    hw, names = [], []
    for s in srcs:
        if s.image is not None:
            hw.append(image_hw(s.image))
            names.append(s.image.relative_to(base).as_posix())
            continue
        hw.append((sizes or {}).get(s.key, (0, 0)))
        names.append(str(Path(s.key).parent.parent / "image_2" / (Path(s.key).stem + ".png")).replace(os.sep, "/"))
        if hw[-1] == (0, 0) and recorder is not None:
            recorder.add("image size unknown: no image file (height and width 0)", s.key)
    cats = LabelSet.from_names(sorted(set(objs.types)))
    cat_id = dict(zip(cats.names, cats.ids.tolist()))
    n = len(srcs)
    images = ImageTable(ids=np.arange(1, n + 1), file_names=[x.removeprefix("./") for x in names],
                        heights=np.array([h for h, _ in hw], dtype=np.int64),
                        widths=np.array([w for _, w in hw], dtype=np.int64),
                        extras=[{"split": s.split} if s.split is not None else {} for s in srcs])
    ann = Instances(image_ids=np.asarray(objs.img, dtype=np.int64) + 1,
                    boxes=np.asarray(objs.boxes, dtype=np.float64).reshape(-1, 4),
                    labels=np.array([cat_id[t] for t in objs.types], dtype=np.int64),
                    scores=np.asarray(objs.scores) if objs.first_score else None, extras=objs.extras)
    return Dataset(images=images, categories=cats, annotations=ann), [s.key for s in srcs]


def read_kitti(root: PathLike) -> Dataset:
    """Read a KITTI object detection dataset (all 15 fields kept; see the module).

    Examples
    --------
    >>> ds = read_kitti("KITTI/object/training")  # doctest: +SKIP
    >>> ds.annotations.extras[0]["location"]  # doctest: +SKIP
    [1.84, 1.47, 8.41]
    """
    return read_kitti_keyed(root)[0]


def validate_kitti(root: PathLike) -> list[Problem]:
    """Every problem of a KITTI folder's label files with its file and line (images are not opened)."""
    problems = Problems(collect=True)
    with problems.guard(root):
        _check_kitti(Path(root), problems)
    return problems.items


# ------------------------------------------------------------------------------------------- writing
def kitti_number(v: float) -> str:
    """The shortest text that reads back to ``v``, with at least two decimals.

    >>> kitti_number(1.85), kitti_number(0.0), kitti_number(712.4), kitti_number(-1000.0), kitti_number(0.123456)
    ('1.85', '0.00', '712.40', '-1000.00', '0.123456')
    """
    r = repr(float(v))
    if "e" in r or "inf" in r or "nan" in r:
        return r
    whole, _, frac = r.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}" if len(frac) < 2 else r


def _fields_of(e: dict[str, Any] | None) -> tuple[list[float], int, bool, bool]:
    """The KITTI numbers of one object's extras (unknown values where absent); whether any was absent, whether
    other fields are dropped."""
    e = e or {}
    v = {k: e.get(k, UNKNOWN[k]) for k in _KEYS}
    ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in
             (v["truncated"], v["occluded"], v["alpha"], v["rotation_y"])) and all(
        isinstance(v[k], list) and len(v[k]) == 3 and all(isinstance(x, (int, float)) for x in v[k])
        for k in ("dimensions", "location"))
    if not ok or not float(v["occluded"]).is_integer():
        raise FormatError(None, "annotation extras", f"KITTI fields must be numbers, got {e!r}")
    nums = [float(v["truncated"]), float(v["alpha"]), *map(float, v["dimensions"]), *map(float, v["location"]),
            float(v["rotation_y"])]
    return nums, int(v["occluded"]), any(k not in e for k in _KEYS), any(k not in _KEYS for k in e)


def _lines(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> list[str]:
    a = ds.annotations
    names = class_tokens(ds, KeptSink(rec, kept_in))
    extras: list[dict[str, Any] | None] = list(a.extras) if a.extras is not None else [None] * len(a)
    scores = a.scores.tolist() if a.scores is not None else None
    out = []
    n_filled = 0
    for k in range(len(a)):
        nums, occ, filled, dropped = _fields_of(extras[k])
        where = f"annotation id {int(a.ids[k])}"
        n_filled += filled
        if dropped:
            rec.add("annotation fields dropped: a KITTI line holds its 15 fields", where, kept_in=kept_in)
        t, alpha, dims, loc, ry = nums[0], nums[1], nums[2:5], nums[5:8], nums[8]
        vals = [kitti_number(t), str(occ), kitti_number(alpha), *map(kitti_number, a.boxes[k].tolist()),
                *map(kitti_number, dims), *map(kitti_number, loc), kitti_number(ry)]
        if scores is not None:
            vals.append(kitti_number(scores[k]))
        out.append(" ".join([names[int(a.labels[k])], *vals]))
    if n_filled:
        rec.warn(f"{n_filled} objects without KITTI's fields written with the devkit's unknown values (truncated 0, "
                 "occluded 0, alpha -10, dimensions -1, location -1000, rotation_y -10)")
    return out


def _dataset_losses(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> None:
    im, a, cats = ds.images, ds.annotations, ds.categories

    def add(kind: str, n: int) -> None:
        rec.add_many(kind, n, kept_in=kept_in)

    if ds.info is not None or ds.licenses is not None or ds.extras:
        add("dataset info / licenses / top-level fields dropped: KITTI has none", 1)
    add("image fields dropped: KITTI keeps the file only",
        sum(1 for e in im.extras or [] if any(k != "split" for k in e)))
    if list(cats.names) != sorted(cats.names) or cats.ids.tolist() != list(range(1, len(cats) + 1)):
        add("category ids renumbered: KITTI types are names (read back sorted, from 1)", len(cats))
    add("categories without objects dropped: KITTI has no class list", len(np.setdiff1d(cats.ids, a.labels)))
    if a.scores is not None:  # scores are the 16th field
        a = a.replace(scores=None)
    object_losses(ds.with_annotations(a), KeptSink(rec, kept_in), "KITTI", "KITTI has 2-D boxes only")
    if a.corners is not None:
        add("oriented corners dropped: KITTI's 2-D box is axis-aligned (their hull kept)", len(a))
    if cats.supercategories is not None and any(cats.supercategories) or cats.extras is not None and any(cats.extras):
        add("category fields dropped: KITTI has type names only", len(cats))


def write_kitti_into(ds: Dataset, root: Path, *, split: str | None = None, recorder: LossRecorder | None = None,
                     kept_in: str | None = None, images: Path | None = None) -> list[str]:
    """Write ``ds`` as KITTI label files into the existing ``root``; return each image's key.

    Each image goes to ``<split>/label_2/<stem>.txt``: its own split (image extra ``split``), else ``split``, else
    ``label_2/`` at the top. ``images`` (a folder of the images by ``file_name``) copies them into ``image_2``.
    """
    from annokit.io._writing import copy_image, rows_by_image

    rec = recorder if recorder is not None else LossRecorder()
    _dataset_losses(ds, rec, kept_in)
    lines = _lines(ds, rec, kept_in)
    im = ds.images
    rows = rows_by_image(ds)
    keys: list[str] = []
    order_keys: list[tuple[object, ...]] = []
    for i in range(len(im)):
        sp = im.extras[i].get("split") if im.extras is not None else None
        sp = sp if isinstance(sp, str) and sp else split
        prefix = f"{safe_name(sp, where=f'images[{i}].split')}/" if sp else ""
        stem = Path(safe_name(im.file_names[i], where=f"images[{i}].file_name")).stem
        key = f"{prefix}label_2/{stem}.txt"
        if key in keys:
            raise FormatError(None, f"images[{i}].file_name", f"two images would write {key}")
        keys.append(key)
        order_keys.append((bool(prefix), prefix, stem))
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text("".join(lines[k] + "\n" for k in rows[i]), encoding="utf-8")
        copy_image(images, im.file_names[i], root / f"{prefix}image_2", stem, rec)
    if not keys:
        (root / "label_2").mkdir()
    count_ids(ds, rank_of(order_keys), KeptSink(rec, kept_in), "KITTI")
    return keys
