"""The Pascal VOC devkit's detection result files: one text file per class, ``<prefix>_<class>.txt`` (the
devkit's ``comp4_det_test_<class>.txt``), a line per detection ``<image> <score> <xmin> <ymin> <xmax> <ymax>`` in
the devkit's 1-based inclusive pixel numbers.

Boxes are converted as :mod:`annokit.io.voc` converts the ground truth (``l = xmin - 1``, ``t = ymin - 1``,
``r = xmax``, ``b = ymax``: pixel edges), so the devkit's overlap on its numbers is the continuous overlap on
annokit's. Detections keep the order of the files (classes in the ground truth's category order, lines in file
order): the devkit breaks ties of confidence by it.
"""

from __future__ import annotations

import os
from itertools import chain
from pathlib import Path

import numpy as np

from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import FormatError

__all__ = ["read_voc_detections"]


def _class_files(path: Path, names: list[str]) -> list[tuple[int, Path]]:
    """``(category position, file)`` of the result files: ``*_<name>.txt`` for each category name (the longest name
    that fits the file's stem)."""
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    out = []
    for f in files:
        fits = [i for i, n in enumerate(names) if f.stem == n or f.stem.endswith("_" + n)]
        if not fits:
            if path.is_dir():
                continue
            raise FormatError(f, None, "the file name does not end in _<class>.txt for a class of the ground truth")
        out.append((max(fits, key=lambda i: len(names[i])), f))
    if not out:
        raise FormatError(path, None, "no <prefix>_<class>.txt result file for a class of the ground truth")
    return sorted(out, key=lambda t: t[0])


def read_voc_detections(path: str | os.PathLike[str], gt: Dataset, *, keys: list[str] | None = None) -> Instances:
    """Detections of the devkit's result files (a folder of them, or one file) against ``gt``.

    Parameters
    ----------
    path : path
        A folder of ``<prefix>_<class>.txt`` files, or one such file.
    gt : Dataset
        The ground truth (its category names are the classes).
    keys : list of str, optional
        One key per image of ``gt`` (:func:`annokit.io.voc.read_voc_keyed`: the XML path): the image named in a
        line is the key without ``.xml``; default: the images' file names without their extension.

    Returns
    -------
    Instances
        With scores; a line naming an unknown image, or with a wrong number of fields, is a
        :class:`~annokit.errors.FormatError` naming the file and the line.

    Examples
    --------
    >>> dt = read_voc_detections("results/VOC2007/Main", read_voc("VOCdevkit/VOC2007"))  # doctest: +SKIP
    """
    p = Path(path)
    names = [k[:-4] if k.endswith(".xml") else k for k in keys] if keys is not None else [
        f.rsplit(".", 1)[0] if "." in f.rsplit("/", 1)[-1] else f for f in gt.images.file_names]
    image_of = {n: int(i) for n, i in zip(names, gt.images.ids.tolist())}
    cats = gt.categories
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
    for c, f in _class_files(p, list(cats.names)):
        img, score, box = _read_file(f, image_of)
        parts.append((img, score, box, int(cats.ids[c])))
    n = [len(t[0]) for t in parts]
    boxes = np.concatenate([t[2] for t in parts]) if parts else np.zeros((0, 4))
    boxes = boxes - np.array([1.0, 1.0, 0.0, 0.0])
    return Instances(image_ids=np.concatenate([t[0] for t in parts]), boxes=boxes,
                     labels=np.repeat([t[3] for t in parts], n).astype(np.int64),
                     scores=np.concatenate([t[1] for t in parts]))


def _read_file(f: Path, image_of: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One result file's image ids, scores and boxes: every line checked at once when all are well formed (the
    common case), else line by line (:func:`_checked_rows`), which names the first bad line."""
    try:
        text = f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f, None, f"cannot read: {exc}") from None
    rows = [line.split() for line in text.splitlines()]
    fast = _plain_rows([r for r in rows if r], image_of)
    return fast if fast is not None else _checked_rows(f, rows, image_of)


def _plain_rows(rows: list[list[str]], image_of: dict[str, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The rows as arrays when every one has six fields, a known image, numbers and a box (None otherwise: the
    same values as :func:`_checked_rows`, which gives the error)."""
    if any(len(r) != 6 for r in rows):
        return None
    try:
        img = np.fromiter((image_of[r[0]] for r in rows), dtype=np.int64, count=len(rows))
        arr = np.array(list(map(float, chain.from_iterable(r[1:] for r in rows))), dtype=np.float64).reshape(-1, 5)
    except (KeyError, ValueError):
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.isfinite(arr).all() and not ((arr[:, 3] < arr[:, 1] - 1) | (arr[:, 4] < arr[:, 2] - 1)).any()
    return (img, arr[:, 0], arr[:, 1:]) if ok else None


def _checked_rows(f: Path, rows: list[list[str]], image_of: dict[str, int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows line by line, the first bad one a :class:`~annokit.errors.FormatError` naming its line."""
    img, vals = [], []
    for ln, parts in enumerate(rows, 1):
        if not parts:
            continue
        if len(parts) != 6:
            raise FormatError(f, f"line {ln}", f"expected '<image> <score> <xmin> <ymin> <xmax> <ymax>', got "
                                               f"{len(parts)} fields")
        if parts[0] not in image_of:
            raise FormatError(f, f"line {ln}", f"image {parts[0]!r} is not in the ground truth")
        try:
            v = [float(x) for x in parts[1:]]
        except ValueError:
            raise FormatError(f, f"line {ln}", "score and coordinates must be numbers") from None
        if not all(np.isfinite(v)) or v[3] < v[1] - 1 or v[4] < v[2] - 1:
            raise FormatError(f, f"line {ln}", f"not a box: {' '.join(parts[1:])}")
        img.append(image_of[parts[0]])
        vals.append(v)
    arr = np.array(vals, dtype=np.float64).reshape(-1, 5)
    return np.array(img, dtype=np.int64), arr[:, 0], arr[:, 1:]
