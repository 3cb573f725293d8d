"""DOTA's own files: per-image label files (``labelTxt/<image>.txt``) and Task 1 detection files
(``Task1_<class>.txt``).

Label file: optional header lines ``imagesource:GoogleEarth`` and ``gsd:0.146`` (one ``key:value`` token), then one
object a line: ``x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]`` -- four corners of an arbitrary quadrilateral, in the
order the annotator gave them (DOTA: clockwise from the object's "head"), and ``difficult`` ``0`` / ``1`` (``0``
when missing). Task 1 file ``Task1_<class>.txt``: ``image score x1 y1 x2 y2 x3 y3 x4 y4`` a line.

Coordinates are read as they are (floats, continuous pixel coordinates, no shift): the corners go to
:attr:`Instances.corners` and the boxes are their axis-aligned hull. ``difficult`` goes to ``extras``. Images are
numbered 1..N in the sorted order of the label files' names; the image's ``file_name`` is ``<name>.png`` and the
header's fields are kept in the image extras. Categories are the class names found, sorted, numbered from 1.

As a dataset format (``annokit convert --from dota``, :func:`read_dota_keyed`, :func:`write_dota_into`) a DOTA
folder is a folder of label files, or ``labelTxt/`` (with ``images/`` beside it), or one ``<split>/labelTxt/`` per
split (the official ``train/`` / ``val/`` layout, and Roboflow's "YOLOv8 Oriented Bounding Boxes" export, whose
``data.yaml`` then gives the classes their ids 0..n-1). Image sizes come from the image headers; DOTA v1.0 and
v1.5 differ only in their classes (v1.5 adds ``container-crane``), which are read from the files.

Differences from the devkit's parser (which splits on single spaces and skips any line of fewer than 9 fields): any
whitespace separates fields, and a line that is neither a header, nor blank, nor an object is an error naming the
file and line instead of being skipped.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir, read_files, write_files
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.core.rotated import corners_to_ltrb
from annokit.errors import FormatError
from annokit.io._writing import rank_of
from annokit.io.validation import Problem, Problems

__all__ = ["KeptSink", "class_tokens", "count_ids", "object_losses", "read_dota_keyed", "read_dota_labels",
           "read_dota_task1", "refuse_outside", "validate_dota", "write_dota_into", "write_dota_labels",
           "write_dota_task1"]

PathLike = str | os.PathLike[str]
MAX_FILE_BYTES = 1 << 30


def _num(path: Path, line: int, text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise FormatError(path, f"line {line}", f"{what} is not a number ({text!r})") from None
    if not math.isfinite(v):
        raise FormatError(path, f"line {line}", f"{what} is not finite ({text!r})")
    return v


def _parse_label_file(path: Path, text: str) -> tuple[list[list[float]], list[str], list[bool], dict[str, str]]:
    """Corners (8 numbers a row), class names, difficult flags and header fields of one label file."""
    coords: list[list[float]] = []
    names: list[str] = []
    difficult: list[bool] = []
    header: dict[str, str] = {}
    for i, line in enumerate(text.splitlines(), 1):
        f = line.split()
        if not f:
            continue
        if len(f) == 1 and ":" in f[0] and not coords:
            key, _, value = f[0].partition(":")
            header[key] = value
            continue
        if len(f) not in (9, 10):
            raise FormatError(path, f"line {i}", f"expected 8 coordinates, a class name and an optional difficult "
                                                 f"flag, got {len(f)} field{'s' * (len(f) != 1)}")
        coords.append([_num(path, i, t, f"coordinate {k + 1}") for k, t in enumerate(f[:8])])
        names.append(f[8])
        flag = f[9] if len(f) == 10 else "0"
        if not flag.lstrip("+-").isdigit():
            raise FormatError(path, f"line {i}", f"difficult flag must be an integer, got {flag!r}")
        difficult.append(int(flag) != 0)
    return coords, names, difficult, header


def _fast_tokens(text: str) -> tuple[list[str], dict[str, str]] | None:
    """The tokens of a label file whose object lines all have 10 fields (the common case), with its header; None
    when any line needs the line-by-line parser (9 fields, or something wrong to report)."""
    lines = text.split("\n")
    header: dict[str, str] = {}
    start = 0
    for line in lines:
        t = line.strip()
        if t and (" " in t or "\t" in t or ":" not in t):
            break
        if t:
            key, _, value = t.partition(":")
            header[key] = value
        start += 1
    body = lines[start:]
    tokens = " ".join(body).split()
    n = sum(1 for ln in body if ln.strip())
    return (tokens, header) if len(tokens) == 10 * n else None


def _bulk(files: list[Path], texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray, list[dict[str, str]],
                                                         list[int]] | None:
    """Corners, names, difficult flags, headers and object counts of every file at once, or None when a file needs
    the line-by-line parser (which also names the place of any error)."""
    all_tokens: list[str] = []
    headers, counts = [], []
    for text in texts:
        fast = _fast_tokens(text)
        if fast is None:
            return None
        all_tokens += fast[0]
        headers.append(fast[1])
        counts.append(len(fast[0]) // 10)
    flag_text = all_tokens[9::10]
    if not all(t.lstrip("+-").isdigit() for t in flag_text):
        return None
    try:
        coords = _columns(all_tokens, range(8), 10)
    except ValueError:
        return None
    if not np.isfinite(coords).all():
        return None
    flags = np.array([int(t) != 0 for t in flag_text], dtype=bool)
    return coords.reshape(-1, 4, 2), all_tokens[8::10], flags, headers, counts


def _columns(tokens: list[Any], cols: range, width: int) -> np.ndarray:
    """``float()`` of the given columns of a flat token list of rows of ``width`` tokens (Python's float parser,
    as the devkit's; a ``ValueError`` for a token that is not a number)."""
    n = len(tokens) // width
    out = np.empty((n, len(cols)))
    for j, k in enumerate(cols):
        out[:, j] = np.fromiter(map(float, tokens[k::width]), dtype=np.float64, count=n)
    return out


def _line_by_line(files: list[Path], texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray,
                                                                 list[dict[str, str]], list[int]]:
    parsed = [_parse_label_file(p, t) for p, t in zip(files, texts)]
    corners = np.array([row for c, _, _, _ in parsed for row in c], dtype=np.float64).reshape(-1, 4, 2)
    names = [n for _, ns, _, _ in parsed for n in ns]
    flags = np.array([d for _, _, ds, _ in parsed for d in ds], dtype=bool)
    return corners, names, flags, [h for _, _, _, h in parsed], [len(c) for c, _, _, _ in parsed]


def _decode(files: list[Path]) -> list[str]:
    """The text of each label file ("" for one that is absent: an image without labels)."""
    have = [p for p in files if p.is_file()]
    raws = dict(zip(have, read_files(have, max_bytes=MAX_FILE_BYTES)))
    texts = []
    for p in files:
        raw = raws.get(p, b"")
        try:
            texts.append(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise FormatError(p, None, f"not UTF-8 text ({exc.reason})") from None
    return texts


def read_dota_labels(label_dir: PathLike) -> Dataset:
    """Ground truth from a folder of DOTA label files (one ``<image>.txt`` per image).

    Returns
    -------
    Dataset
        Objects with ``corners`` (N, 4, 2), hull ``boxes`` and ``extras[i]["difficult"]``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "P1.txt").write_text("gsd:0.1\\n0 0 4 0 4 2 0 2 plane 0\\n")
    >>> ds = read_dota_labels(d)
    >>> ds.annotations.boxes.tolist(), ds.categories.names
    ([[0.0, 0.0, 4.0, 2.0]], ['plane'])
    """
    root = Path(label_dir)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder of DOTA label files")
    with os.scandir(root) as it:
        names = sorted(e.name for e in it if e.name.endswith(".txt") and e.is_file())
    files = [root / n for n in names]
    if not files:
        raise FormatError(root, None, "no label files (*.txt)")
    texts = _decode(files)
    corners, names, flags, headers, counts = _bulk(files, texts) or _line_by_line(files, texts)
    classes = sorted(set(names))
    cat_id = {n: i + 1 for i, n in enumerate(classes)}
    images = ImageTable(ids=np.arange(1, len(files) + 1), file_names=[p.stem + ".png" for p in files],
                        heights=np.zeros(len(files), np.int64), widths=np.zeros(len(files), np.int64),
                        extras=headers)
    ann = Instances(image_ids=np.repeat(np.arange(1, len(files) + 1), counts), boxes=corners_to_ltrb(corners),
                    labels=np.array([cat_id[n] for n in names], dtype=np.int64), corners=corners,
                    extras=[{"difficult": d} for d in flags.tolist()])
    return Dataset(images=images, categories=LabelSet.from_names(classes), annotations=ann)


def _task1_files(pred: Path) -> list[tuple[str, Path]]:
    if pred.is_file():
        files = [pred]
    elif pred.is_dir():
        files = sorted(p for p in pred.iterdir() if p.name.startswith("Task1_") and p.suffix == ".txt")
    else:
        raise FormatError(pred, None, "no such file or folder")
    if not files:
        raise FormatError(pred, None, "no Task1_<class>.txt files")
    out = []
    for p in files:
        if not (p.name.startswith("Task1_") and p.suffix == ".txt" and len(p.stem) > 6):
            raise FormatError(p, None, "a Task 1 file is named Task1_<class>.txt")
        out.append((p.stem[6:], p))
    return out


def _parse_task1(path: Path, raw: bytes) -> tuple[list[str], np.ndarray]:
    """Image names and the ``(n, 9)`` numbers (score, 8 coordinates) of one Task 1 file."""
    lines = [ln for ln in raw.splitlines() if ln.strip()]
    tokens = raw.split()
    if len(tokens) == 10 * len(lines):
        try:
            values = _columns(tokens, range(1, 10), 10)
            if np.isfinite(values).all():
                return [t.decode("utf-8", "replace") for t in tokens[0::10]], values
        except ValueError:
            pass
    names, rows = [], []  # slow path: find and name the bad line
    for i, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        f = line.split()
        if not f:
            continue
        if len(f) != 10:
            raise FormatError(path, f"line {i}", f"expected 'image score x1 y1 ... x4 y4' (10 fields), got {len(f)}")
        rows.append([_num(path, i, t, "score" if k == 0 else f"coordinate {k}") for k, t in enumerate(f[1:])])
        names.append(f[0])
    return names, np.array(rows, dtype=np.float64).reshape(-1, 9)


def read_dota_task1(pred: PathLike, gt: Dataset) -> Dataset:
    """Detections from DOTA Task 1 files (a folder of ``Task1_<class>.txt`` or one such file), on the images and
    categories of ``gt`` (from :func:`read_dota_labels`); a class that ``gt`` lacks gets the next id.

    Rows keep the files' order (files sorted by class, lines as written). A detection on an image without a label
    file is an error naming the file and line (the devkit stops there with a ``KeyError``).
    """
    files = _task1_files(Path(pred))
    names = list(gt.categories.names)
    ids = list(gt.categories.ids)
    image_of = {Path(f).stem: int(i) for f, i in zip(gt.images.file_names, gt.images.ids)}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for (cls, p), raw in zip(files, read_files([p for _, p in files], max_bytes=MAX_FILE_BYTES)):
        if cls not in names:
            names.append(cls)
            ids.append(max(ids, default=0) + 1)
        img_names, values = _parse_task1(p, raw)
        img = np.array([image_of.get(n, -1) for n in img_names], dtype=np.int64)
        if (img < 0).any():
            k = int(np.flatnonzero(img < 0)[0])
            raise FormatError(p, f"detection {k + 1}", f"image {img_names[k]!r} has no label file in the ground truth")
        parts.append((img, np.full(len(img), ids[names.index(cls)], np.int64), values))
    img = np.concatenate([a for a, _, _ in parts])
    values = np.concatenate([v for _, _, v in parts])
    corners = values[:, 1:].reshape(-1, 4, 2)
    dets = Instances(image_ids=img, boxes=corners_to_ltrb(corners), labels=np.concatenate([c for _, c, _ in parts]),
                     scores=values[:, 0], corners=corners)
    return Dataset(images=gt.images, categories=LabelSet(ids=np.array(ids, dtype=np.int64), names=names),
                   annotations=dets)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def _corners_of(inst: Instances) -> np.ndarray:
    if inst.corners is None:
        from annokit.core.rotated import ltrb_to_corners

        return ltrb_to_corners(inst.boxes)
    return np.asarray(inst.corners)


def write_dota_labels(ds: Dataset, label_dir: PathLike, *, overwrite: bool = False) -> None:
    """Write ``ds`` as DOTA label files (one per image, named after the image's file name without extension; the
    image extras are written back as header lines). Objects without corners are written as their boxes' corners."""
    ann = ds.annotations
    corners = _corners_of(ann).reshape(-1, 8)
    diff = [bool((e or {}).get("difficult", False)) for e in ann.extras] if ann.extras else [False] * len(ann)
    names = {int(i): n for i, n in zip(ds.categories.ids, ds.categories.names)}
    lines: dict[int, list[str]] = {int(i): [] for i in ds.images.ids}
    for k in range(len(ann)):
        lines[int(ann.image_ids[k])].append(" ".join(_fmt(v) for v in corners[k]) +
                                            f" {names[int(ann.labels[k])]} {int(diff[k])}")
    items: list[tuple[Path, bytes]] = []
    with atomic_dir(label_dir, overwrite=overwrite) as tmp:
        for pos, img in enumerate(ds.images.ids):
            extras: dict[str, Any] = ds.images.extras[pos] if ds.images.extras else {}
            head = [f"{k}:{v}" for k, v in extras.items()]
            stem = safe_name(Path(ds.images.file_names[pos]).stem, source=label_dir, where=f"images[{pos}]")
            items.append((tmp / f"{stem}.txt", ("\n".join(head + lines[int(img)]) + "\n").encode()))
        write_files(items)


def _class_file(name: str, pred_dir: PathLike) -> str:
    """``Task1_<name>.txt``; a class name that is not a plain file name part is refused."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\x00") or name != name.strip():
        raise FormatError(pred_dir, None, f"class name {name!r} cannot be part of a file name")
    return f"Task1_{name}.txt"


def write_dota_task1(dets: Dataset, pred_dir: PathLike, *, overwrite: bool = False) -> None:
    """Write detections (with scores) as ``Task1_<class>.txt`` files, one line ``image score x1 y1 ... x4 y4`` per
    detection, in row order; every category gets a file."""
    ann = dets.annotations
    if ann.scores is None:
        raise FormatError(pred_dir, None, "write_dota_task1: the detections have no scores")
    corners = _corners_of(ann).reshape(-1, 8)
    stems = {int(i): Path(f).stem for i, f in zip(dets.images.ids, dets.images.file_names)}
    with atomic_dir(pred_dir, overwrite=overwrite) as tmp:
        items = []
        for cid, name in zip(dets.categories.ids, dets.categories.names):
            rows = np.flatnonzero(ann.labels == cid)
            text = "".join(f"{stems[int(ann.image_ids[k])]} {float(ann.scores[k])!r} " +
                           " ".join(_fmt(v) for v in corners[k]) + "\n" for k in rows)
            items.append((tmp / _class_file(name, pred_dir), text.encode()))
        write_files(items)


# ------------------------------------------------------------------------------------------- a dataset format
@dataclass(frozen=True)
class _LabelDir:
    """One folder of label files: its split (None: no split) and the images folder beside it."""

    split: str | None
    labels: Path
    images: Path


def _label_dirs(root: Path) -> list[_LabelDir]:
    """The label folders of a DOTA dataset (see the module's description), in sorted split order."""
    top = [_LabelDir(None, root / "labelTxt", root / "images")] if (root / "labelTxt").is_dir() else []
    subs = [_LabelDir(d.name, d / "labelTxt", d / "images") for d in sorted(root.iterdir())
            if d.is_dir() and (d / "labelTxt").is_dir()]
    if top or subs:
        return top + subs
    if any(p.suffix == ".txt" for p in root.iterdir()):
        return [_LabelDir(None, root, root.parent / "images" if root.name == "labelTxt" else root / "images")]
    raise FormatError(root, None, "no DOTA label files (labelTxt/*.txt, <split>/labelTxt/*.txt or *.txt)")


def _yaml_classes(root: Path) -> list[str] | None:
    """The class names of a Roboflow ``data.yaml`` beside the splits (their ids 0..n-1), or None."""
    if not (root / "data.yaml").is_file():
        return None
    from annokit.io.yolo import load_data_yaml

    return list(load_data_yaml(root / "data.yaml").names)


def _image_stems(d: _LabelDir) -> set[str]:
    from annokit.io._safe import IMAGE_EXTS

    if not d.images.is_dir() or d.images == d.labels:
        return set()
    return {p.stem for p in d.images.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()}


def _images_of(d: _LabelDir, stems: list[str], root: Path) -> list[Path | None]:
    """Each label file's image in the images folder (any image extension), or None."""
    from annokit.io._safe import IMAGE_EXTS

    found: dict[str, Path] = {}
    if d.images.is_dir():
        for p in sorted(d.images.iterdir()):
            if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                found.setdefault(p.stem, p)
    return [found.get(s) for s in stems]


@dataclass
class _Parts:
    """What the label folders give, file by file."""

    files: list[Path] = field(default_factory=list)
    splits: list[str | None] = field(default_factory=list)
    images: list[Path | None] = field(default_factory=list)
    image_dirs: list[Path] = field(default_factory=list)


def refuse_outside(root: Path, files: list[Path]) -> None:
    """A file that is a link leading outside ``root`` is refused (:class:`FormatError` naming it)."""
    base = root.resolve()
    for p in files:
        if p.is_symlink() and not p.resolve().is_relative_to(base):
            raise FormatError(p, None, "a link leading outside the dataset folder; refused")


def _collect(root: Path) -> _Parts:
    parts = _Parts()
    for d in _label_dirs(root):
        with os.scandir(d.labels) as it:
            names = sorted(e.name for e in it if e.name.endswith(".txt") and e.is_file())
        refuse_outside(root, [d.labels / n for n in names])
        if d.labels == root and "classes.txt" in names:
            names.remove("classes.txt")
        stems = sorted({Path(n).stem for n in names} | _image_stems(d))  # an image without labels: no objects
        parts.files += [d.labels / f"{s}.txt" for s in stems]
        parts.splits += [d.split] * len(stems)
        parts.images += _images_of(d, stems, root)
        parts.image_dirs += [d.images] * len(stems)
    return parts


def _dota_categories(names: list[str], root: Path, files: list[Path], counts: list[int]) -> LabelSet:
    """Sorted class names numbered from 1, or a ``data.yaml``'s names numbered from 0 (a class it lacks is an
    error naming the file)."""
    listed = _yaml_classes(root)
    if listed is None:
        return LabelSet.from_names(sorted(set(names)))
    known = set(listed)
    bad = [k for k, n in enumerate(names) if n not in known]
    if bad:
        f = int(np.searchsorted(np.cumsum(counts), bad[0], side="right"))
        raise FormatError(files[f], None, f"class {names[bad[0]]!r} is not in data.yaml's names")
    return LabelSet(ids=np.arange(len(listed)), names=listed)


def read_dota_keyed(root: PathLike, *, recorder: LossRecorder | None = None,
                    sizes: dict[str, tuple[int, int]] | None = None) -> tuple[Dataset, list[str]]:
    """Read a DOTA dataset folder; also return each image's key (its label file, relative to ``root``).

    Images are numbered 1..N in split order, then label file order; ``file_name`` is the image's path relative to
    ``root`` (``[<split>/]images/<stem>.png`` when the image is absent); the header fields and the split go to the
    image extras. ``sizes`` gives ``(height, width)`` by key for images that are not on disk.
    """
    from annokit.io._safe import image_hw

    base = Path(root)
    if not base.is_dir():
        raise FormatError(base, None, "not a folder of DOTA label files")
    parts = _collect(base)
    texts = _decode(parts.files)
    corners, names, flags, headers, counts = _bulk(parts.files, texts) or _line_by_line(parts.files, texts)
    cats = _dota_categories(names, base, parts.files, counts)
    keys = [_rel(base, f) for f in parts.files]
    hw, file_names = [], []
    for k, (key, img) in enumerate(zip(keys, parts.images)):
        if img is not None:
            hw.append(image_hw(img))
            file_names.append(_rel(base, img))
            continue
        hw.append((sizes or {}).get(key, (0, 0)))
        file_names.append(_rel(base, parts.image_dirs[k] / (parts.files[k].stem + ".png")))
        if hw[-1] == (0, 0) and recorder is not None:
            recorder.add("image size unknown: no image file (height and width 0)", key)
    extras = [dict(h, **({"split": s} if s is not None else {})) for h, s in zip(headers, parts.splits)]
    n = len(keys)
    images = ImageTable(ids=np.arange(1, n + 1), file_names=file_names,
                        heights=np.array([h for h, _ in hw], dtype=np.int64),
                        widths=np.array([w for _, w in hw], dtype=np.int64), extras=extras)
    cat_id = dict(zip(cats.names, cats.ids.tolist()))
    ann = Instances(image_ids=np.repeat(np.arange(1, n + 1), counts), boxes=corners_to_ltrb(corners),
                    labels=np.array([cat_id[x] for x in names], dtype=np.int64), corners=corners,
                    extras=[{"difficult": d} for d in flags.tolist()])
    return Dataset(images=images, categories=cats, annotations=ann), keys


def _rel(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.name


def validate_dota(root: PathLike) -> list[Problem]:
    """Every problem of a DOTA folder's label files with its file and line (images are not opened)."""
    problems = Problems(collect=True)
    with problems.guard(root):
        parts = _collect(Path(root))
        for p, text in zip(parts.files, _decode(parts.files)):
            with problems.guard(p):
                _parse_label_file(p, text)
    return problems.items


# ------------------------------------------------------------------------------------------- writing a dataset
def _header(ds: Dataset, i: int, sink: Any) -> list[str]:
    """The ``key:value`` header lines of image ``i`` (its split excluded); fields that cannot be one token are
    counted."""
    extras = ds.images.extras[i] if ds.images.extras is not None else {}
    out = []
    for k, v in extras.items():
        if k == "split":
            continue
        if isinstance(v, str) and k and v and ":" not in k and not any(c.isspace() for c in k + v):
            out.append(f"{k}:{v}")
        else:
            sink.add("image field dropped: a DOTA header line is one 'key:value' token", ds.images.file_names[i])
    return out


def class_tokens(ds: Dataset, sink: Any) -> dict[int, str]:
    """Each category's name as one token (DOTA, KITTI): whitespace runs written as ``_``, counted as renamed (the
    sidecar keeps the names and gives them back on reading); an empty name, or two that become one, is an error."""
    out: dict[int, str] = {}
    seen: dict[str, str] = {}
    for cid, name in zip(ds.categories.ids.tolist(), ds.categories.names):
        tok = "_".join(name.split())
        if not tok:
            raise FormatError(None, "categories", f"class name {name!r} is empty")
        if tok in seen and seen[tok] != name:
            raise FormatError(None, "categories", f"class names {seen[tok]!r} and {name!r} would both be written as "
                                                  f"{tok!r}; rename one with --remap")
        if tok != name:
            sink.add("class name with whitespace written with '_' (renamed)", name)
        seen[tok] = name
        out[int(cid)] = tok
    return out


def _object_lines(ds: Dataset, sink: Any) -> list[str]:
    """``x1 y1 ... x4 y4 class difficult`` of every object (what the line cannot hold counted)."""
    a = ds.annotations
    names = class_tokens(ds, sink)
    if a.corners is None and len(a):
        sink.rec.warn(f"{len(a)} axis-aligned boxes written as their four corners (read back as oriented boxes)")
    corners = _corners_of(a).reshape(-1, 8)
    extras = a.extras or [{}] * len(a)
    diff = []
    for k, e in enumerate(extras):
        d = (e or {}).get("difficult", False)
        if d not in (0, 1):
            sink.add("difficult flag that is not 0 / 1 / true / false written as 1", f"annotation id {int(a.ids[k])}")
        diff.append(int(bool(d)))
        if any(x != "difficult" for x in e or {}):
            sink.add("annotation fields dropped: a DOTA line holds corners, class and difficult",
                     f"annotation id {int(a.ids[k])}")
    return [" ".join(_fmt(v) for v in corners[k]) + f" {names[int(a.labels[k])]} {diff[k]}" for k in range(len(a))]


def _dataset_losses(ds: Dataset, sink: Any) -> None:
    """What DOTA's files cannot hold besides the lines: ids, sizes, empty classes, crowd, masks, scores."""
    a, cats = ds.annotations, ds.categories
    if ds.info is not None or ds.licenses is not None or ds.extras:
        sink.add_many("dataset info / licenses / top-level fields dropped: DOTA has none", 1)
    order = sorted(cats.names)
    if list(cats.names) != order or cats.ids.tolist() != list(range(1, len(cats) + 1)):
        sink.add_many("category ids renumbered: DOTA classes are names (read back sorted, from 1)", len(cats))
    unused = np.setdiff1d(cats.ids, a.labels)
    sink.add_many("categories without objects dropped: DOTA has no class list", len(unused))
    object_losses(ds, sink, "DOTA", "DOTA lines hold four corners")
    if cats.supercategories is not None and any(cats.supercategories) or cats.extras is not None and any(cats.extras):
        sink.add_many("category fields dropped: DOTA has class names only", len(cats))


def object_losses(ds: Dataset, sink: KeptSink, fmt: str, why_no_mask: str) -> None:
    """Crowd flags, masks, areas and scores a label line cannot hold, counted object by object."""
    from annokit.io._writing import add_rows

    a = ds.annotations
    add_rows(sink.rec, f"crowd flag dropped: {fmt} has no iscrowd", a.iscrowd, ds, sink.kept_in)
    if a.scores is not None:
        add_rows(sink.rec, f"scores dropped: {fmt} label lines have no score", np.ones(len(a), bool), ds,
                 sink.kept_in)
    if a.segmentations is not None:
        add_rows(sink.rec, f"segmentation dropped: {why_no_mask}", [s is not None and s != [] for s in a.segmentations],
                 ds, sink.kept_in)
    wh = a.widths_heights()
    hull = (a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1])
    add_rows(sink.rec, f"area dropped: {fmt} has no area (read back as the box area)",
             (a.area != hull) & (a.area != wh[:, 0] * wh[:, 1]), ds, sink.kept_in)


def write_dota_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None, kept_in: str | None = None,
                    images: Path | None = None) -> list[str]:
    """Write ``ds`` as DOTA label files into the existing ``root``: ``labelTxt/<stem>.txt``, or
    ``<split>/labelTxt/<stem>.txt`` for images whose extras name a split; return each image's key.

    Objects without corners are written as their boxes' corners; ``images`` (a folder of the images by
    ``file_name``) copies them into ``[<split>/]images``.
    """
    from annokit.io._writing import copy_image, rows_by_image

    rec = recorder if recorder is not None else LossRecorder()
    sink = KeptSink(rec, kept_in)
    _dataset_losses(ds, sink)
    lines = _object_lines(ds, sink)
    im = ds.images
    rows = rows_by_image(ds)
    keys: list[str] = []
    order_keys: list[tuple[object, ...]] = []
    items: list[tuple[Path, bytes]] = []
    for i in range(len(im)):
        sp = im.extras[i].get("split") if im.extras is not None else None
        prefix = f"{safe_name(sp, where=f'images[{i}].split')}/" if isinstance(sp, str) and sp else ""
        stem = Path(safe_name(im.file_names[i], where=f"images[{i}].file_name")).stem
        key = f"{prefix}labelTxt/{stem}.txt"
        if key in keys:
            raise FormatError(None, f"images[{i}].file_name", f"two images would write {key}")
        keys.append(key)
        order_keys.append((bool(prefix), prefix, f"{stem}.txt"))
        body = _header(ds, i, sink) + [lines[k] for k in rows[i]]
        items.append((root / key, "".join(x + "\n" for x in body).encode()))
        copy_image(images, im.file_names[i], root / f"{prefix}images", stem, rec)
    for p in {p.parent for p, _ in items} or {root / "labelTxt"}:
        p.mkdir(parents=True, exist_ok=True)
    write_files(items)
    count_ids(ds, rank_of(order_keys), sink, "DOTA")
    return keys


def count_ids(ds: Dataset, rank: np.ndarray, sink: Any, fmt: str) -> None:
    """Image and annotation ids counted as dropped unless reading back (images in ``rank`` order, numbered from 1;
    objects in image order) gives them again."""
    from annokit.io._writing import ids_read_back

    img_ok, ann_ok = ids_read_back(ds, rank)
    sink.add_many(f"image ids dropped: {fmt} images are numbered 1..N in file order", 0 if img_ok else len(ds.images))
    sink.add_many(f"annotation ids dropped: {fmt} objects are numbered 1..N in file order",
                  0 if ann_ok else len(ds.annotations))


@dataclass(frozen=True)
class KeptSink:
    """The recorder and the sidecar that keeps what a format cannot hold (None: nothing is kept)."""

    rec: LossRecorder
    kept_in: str | None

    def add(self, kind: str, where: str) -> None:
        self.rec.add(kind, where, kept_in=self.kept_in)

    def add_many(self, kind: str, count: int) -> None:
        self.rec.add_many(kind, count, kept_in=self.kept_in)
