"""``validate`` and ``stats``: every problem of a dataset with its place, and its counts (private; public as
:func:`annokit.convert.validate` and :func:`annokit.convert.stats`).

``validate`` runs the format's own validator (the rules its reader applies, listing every problem instead of
stopping at the first: :func:`annokit.io.coco.validate_coco`, :func:`annokit.io.voc.validate_voc`, ...), then, when
that found no error, reads the dataset and adds the reader's warnings. A format without a validator is read, and
its first error (or the dataset's own warnings: images without size, boxes outside their image) is listed.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from annokit.convert._api import get_format, read_dataset
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder
from annokit.errors import AnnokitError, FormatError
from annokit.io.validation import Problem

__all__ = ["Problem", "validate", "stats"]

_UNREAD = ("not read", "not kept")
"""Words of the loss kinds a reader uses for what it leaves unread: listed by ``validate`` for every format."""


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


def _read_warning(p: Path, msg: str) -> Problem:
    """A reader's warning as a problem: placed at the file or folder it starts with (``<path>: ...``) when that is
    ``p`` or below it, else at ``p``."""
    head, sep, rest = msg.partition(": ")
    if sep and (head == str(p) or head.startswith(str(p).rstrip("/\\") + "/")):
        return Problem("warning", head, "", rest)
    return Problem("warning", str(p), "", msg)


def validate(path: str | Path, fmt: str) -> list[Problem]:
    """Every problem of the dataset at ``path`` in format ``fmt``, each with its file and place.

    Parameters
    ----------
    path : str or Path
        The dataset (a file or a folder, as the format has it).
    fmt : str
        A registered format (see :func:`annokit.convert.formats`).

    Returns
    -------
    list of Problem
        Errors (what the reader refuses) and warnings (what it reads but a user may want to know), in file order.

    Examples
    --------
    >>> for problem in validate("instances_val2017.json", "coco"):  # doctest: +SKIP
    ...     print(problem)
    """
    p = Path(path)
    if not p.exists():
        return [Problem("error", str(p), "", "does not exist")]
    spec = get_format(fmt)
    checker = spec.validator
    out: list[Problem] = checker(p) if checker is not None else []
    if not any(x.level == "error" for x in out):
        rec = LossRecorder(fmt, "")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ds = read_dataset(p, fmt, recorder=rec)
            except AnnokitError as exc:
                if isinstance(exc, FormatError):
                    out.append(Problem("error", exc.path or str(p), exc.where or "", exc.message))
                else:
                    out.append(Problem("error", str(p), "", str(exc)))
                return out
        for msg in [*(str(w.message) for w in caught), *rec.report().warnings]:
            problem = _read_warning(p, msg)
            if problem not in out:  # the validator's own words already
                out.append(problem)
        # what the reader read with a change or left out; a validator reports its own checks, but not what the
        # reader leaves unread (kinds saying "not read" / "not kept": a VOC SegmentationClass PNG, a COCO folder's
        # other task files)
        for e in rec.report().entries:
            if checker is not None and not any(w in e.kind for w in _UNREAD):
                continue
            out += [Problem("warning", str(p), "", f"{e.kind}: {ex}") for ex in e.examples]
            if e.count > len(e.examples):
                rest = f"{e.count - len(e.examples)} more" if e.examples else str(e.count)
                out.append(Problem("warning", str(p), "", f"{e.kind}: {rest}"))
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
