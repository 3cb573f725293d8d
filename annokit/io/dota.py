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

Differences from the devkit's parser (which splits on single spaces and skips any line of fewer than 9 fields): any
whitespace separates fields, and a line that is neither a header, nor blank, nor an object is an error naming the
file and line instead of being skipped.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir, read_files, write_files
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.rotated import corners_to_ltrb
from annokit.errors import FormatError

__all__ = ["read_dota_labels", "read_dota_task1", "write_dota_labels", "write_dota_task1"]

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
    texts = []
    for p, raw in zip(files, read_files(files, max_bytes=MAX_FILE_BYTES)):
        try:
            texts.append(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise FormatError(p, None, f"not UTF-8 text ({exc.reason})") from None
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
