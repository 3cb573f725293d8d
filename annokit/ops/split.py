"""``split_dataset``: reproducible train / val / ... splits, stratified by class with iterative stratification
(Sechidis, Tsoumakas and Vlahavas, 2011) on object counts, with groups (a video, a patient) kept whole.

The split is made of *units*: images, or with ``group_by`` the groups of images sharing a field's value. Each unit
has a count of objects per class. Targets: a split ``s`` of ratio ``r_s`` should hold ``r_s * n_k`` of the
``n_k`` objects of class ``k`` and ``r_s * N`` of the ``N`` images.

Iterative stratification, on objects: take the class with the fewest units still unassigned (ties: the first in
the label set); hand each of its unassigned units, largest count of that class first (ties in a seeded random
order), to the split that still lacks the most objects of that class (ties: the split lacking the most images,
then a seeded random choice), and take the unit's objects of every class and its images off that split's needs.
Repeat until no unit with objects is left; then hand the units without objects, in a seeded random order, each to
the split lacking the most images. ``stratify="none"`` does only that last step, for every unit.

The guarantee ("within one image of its target"): for every class ``k`` whose units hold no other class, and for
the class processed first (the one in the fewest units), every split ``s`` ends with ``|A_sk - r_s n_k| < m_k``
objects of ``k``, where ``m_k`` is the most objects of ``k`` in one unit. A unit is always handed to a split that
still lacks objects of ``k`` (the needs sum to what is left, so the largest is positive), so no split overshoots
by ``m_k`` or more; and a split short by ``D > 0`` at the end lacked at least ``D`` all along, so every other split
was handed units only while lacking at least ``D`` and ends short by more than ``D - m_k``: the needs summing to
zero, ``D + (S - 1)(D - m_k) < 0`` is impossible unless ``D < m_k``. For ``stratify="none"`` (and units without
objects, when all units are) the same holds for image counts with ``m = 1`` (a group's size with groups). Classes
that share images with classes processed before them have no such bound (no split can serve every class when
their objects come in fixed bundles); ``SplitResult.stats`` gives each class's deviation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.arrays import IntArray
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder
from annokit.ops._common import OpsError, did_you_mean, subset

__all__ = ["SplitResult", "Stratify", "parse_ratios", "split_dataset"]

Stratify = Literal["class", "none"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class SplitResult:
    """The splits (``datasets``, in the order of the ratios), which split each image went to (``assignment``: a
    split's position per image, in the source's order) and the figures of :meth:`summary`."""

    datasets: dict[str, Dataset]
    assignment: IntArray
    ratios: dict[str, float]
    seed: int
    stratify: str
    group_by: str | None
    stats: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the parameters, each split's images / objects and image ids, each class's targets, actual
        counts and largest deviation (in objects, and in units of the most objects of the class in one unit)."""
        names = list(self.datasets)
        return {"seed": self.seed, "ratios": self.ratios, "stratify": self.stratify, "group_by": self.group_by,
                "splits": {n: {"images": len(d), "objects": len(d.annotations),
                               "image_ids": d.images.ids.tolist()} for n, d in self.datasets.items()},
                "classes": self.stats["classes"], "images": self.stats["images"], "order": names}


@dataclass(frozen=True)
class _Units:
    """What is split: per image its unit; per unit its images; per unit and class its objects (CSR rows)."""

    of_image: IntArray
    sizes: IntArray
    indptr: IntArray
    classes: IntArray
    counts: IntArray


def parse_ratios(text: str) -> dict[str, float]:
    """``"train=0.8,val=0.2"`` -> ``{"train": 0.8, "val": 0.2}`` (checked as :func:`split_dataset` does).

    >>> parse_ratios("train=0.8,val=0.2")
    {'train': 0.8, 'val': 0.2}
    """
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise OpsError(f"ratios: expected NAME=FRACTION,... (e.g. train=0.8,val=0.2), got {part!r}") from None
        if not sep:
            raise OpsError(f"ratios: expected NAME=FRACTION,... (e.g. train=0.8,val=0.2), got {part!r}")
    _check_ratios(out)
    return out


def _check_ratios(ratios: Mapping[str, float]) -> None:
    if len(ratios) < 2:
        raise OpsError("ratios: give at least two splits (e.g. train=0.8,val=0.2)")
    for name, r in ratios.items():
        if not _NAME.match(name):
            raise OpsError(f"ratios: {name!r} is not a usable split name (letters, digits, _ . -)")
        if not (math.isfinite(r) and r > 0):
            raise OpsError(f"ratios: {name}={r} is not a fraction above 0")
    total = math.fsum(ratios.values())
    if abs(total - 1.0) > 1e-6:
        raise OpsError(f"ratios: they sum to {total:g}, not 1 ({', '.join(f'{k}={v:g}' for k, v in ratios.items())})")


def split_dataset(ds: Dataset, ratios: Mapping[str, float], *, stratify: Stratify = "class",
                  group_by: str | None = None, seed: int = 0, recorder: LossRecorder | None = None,
                  progress: Progress | None = None) -> SplitResult:
    """Split ``ds`` into parts of the given ``ratios`` (see the module's description for the algorithm and its
    guarantee).

    Parameters
    ----------
    ds : Dataset
        The source. Every image goes to exactly one split; every split keeps all categories and the dataset's
        info, licenses and top-level fields; ids are kept.
    ratios : mapping of str to float
        Split names (used as file names) and fractions above 0 summing to 1 (within 1e-6); :class:`OpsError`
        otherwise.
    stratify : {"class", "none"}
        ``class``: each class's objects shared out by the ratios (iterative stratification); ``none``: only the
        image counts are.
    group_by : str, optional
        An image field (``file_name``, ``height``, ``width``, a field the source keeps in the image extras such as
        COCO's ``video_id``) or ``dir`` (the folder of the file name): images with the same value stay in one
        split. Images without the field are groups of their own (counted as a warning).
    seed : int
        The seed of every random choice: the same seed gives the same split on every run and machine (numpy's
        PCG64 and float arithmetic only).
    recorder : LossRecorder, optional
        Receives warnings.
    progress : Progress, optional
        Called while units are handed out.

    Returns
    -------
    SplitResult

    Examples
    --------
    >>> import annokit
    >>> from annokit.ops import split_dataset
    >>> res = split_dataset(annokit.load("sample_data/scenes/gt.json"), {"train": 0.75, "val": 0.25})
    >>> {name: len(d) for name, d in res.datasets.items()}
    {'train': 36, 'val': 12}
    """
    _check_ratios(ratios)
    if stratify not in ("class", "none"):
        raise OpsError(f"stratify: {stratify!r} is not one of class, none")
    rec = recorder if recorder is not None else LossRecorder()
    units = _units(ds, group_by, rec)
    r = np.asarray(list(ratios.values()), dtype=np.float64)
    assign = _assign(units, r, stratify == "class", np.random.default_rng(seed), progress)
    per_image = assign[units.of_image]
    parts = {name: subset(ds, per_image == s) for s, name in enumerate(ratios)}
    stats = _stats(ds, units, assign, r, list(ratios))
    return SplitResult(datasets=parts, assignment=per_image, ratios=dict(ratios), seed=seed, stratify=stratify,
                       group_by=group_by, stats=stats)


# ---------------------------------------------------------------------------------------------- units
def _group_keys(ds: Dataset, field: str, rec: LossRecorder) -> list[Any]:
    """The value of ``field`` for each image (a missing one: a value of the image's own)."""
    im = ds.images
    if field == "dir":
        return [fn.rsplit("/", 1)[0] if "/" in fn else "" for fn in im.file_names]
    if field in ("file_name", "height", "width"):
        col = im.file_names if field == "file_name" else getattr(im, f"{field}s").tolist()
        return list(col)
    extras = im.extras or [{} for _ in range(len(im))]
    if not any(field in e for e in extras):
        fields = sorted({k for e in extras for k in e} | {"file_name", "height", "width", "dir"})
        raise OpsError(f"group_by: no image has a field {field!r}{did_you_mean(field, fields)}; "
                       f"fields: {', '.join(fields)}")
    missing = [int(i) for i, e in zip(im.ids, extras) if field not in e]
    if missing:
        rec.warn(f"group_by {field!r}: {len(missing)} images have no such field and are groups of their own "
                 f"(e.g. image id {missing[0]})")
    return [repr(e[field]) if field in e else ("\0image", int(i)) for i, e in zip(im.ids.tolist(), extras)]


def _units(ds: Dataset, group_by: str | None, rec: LossRecorder) -> _Units:
    """Units (images, or groups in the order of their first image) and their objects per class (CSR)."""
    n_img, n_cls = len(ds.images), len(ds.categories)
    if group_by is None:
        of_image = np.arange(n_img, dtype=np.int64)
    else:
        first: dict[Any, int] = {}
        of_image = np.asarray([first.setdefault(k, len(first)) for k in _group_keys(ds, group_by, rec)],
                              dtype=np.int64).reshape(-1)
    n_units = int(of_image.max()) + 1 if n_img else 0
    a = ds.annotations
    unit = of_image[ds.images.index_of(a.image_ids)]
    cls = ds.categories.index_of(a.labels)
    pair, cnt = np.unique(unit * max(n_cls, 1) + cls, return_counts=True)  # sorted by unit, then class
    indptr = np.searchsorted(pair // max(n_cls, 1), np.arange(n_units + 1))
    return _Units(of_image=of_image, sizes=np.bincount(of_image, minlength=n_units).astype(np.int64),
                  indptr=indptr.astype(np.int64), classes=(pair % max(n_cls, 1)).astype(np.int64),
                  counts=cnt.astype(np.int64))


# ---------------------------------------------------------------------------------------------- assignment
def _assign(u: _Units, r: np.ndarray, stratified: bool, rng: np.random.Generator,
            progress: Progress | None) -> IntArray:
    """The split of each unit (see the module's description)."""
    n_units, n_split = len(u.sizes), len(r)
    assign = np.full(n_units, -1, dtype=np.int64)
    rank = np.empty(n_units, dtype=np.int64)
    rank[rng.permutation(n_units)] = np.arange(n_units)  # the seeded order among equals
    tie = rng.random((n_units, n_split))  # the seeded choice among equally needy splits
    need_img = (r * float(u.sizes.sum())).tolist()
    if stratified and len(u.counts):
        _stratified(u, r, assign, rank, tie, need_img, progress)
    rest = np.flatnonzero(assign < 0)
    rest = rest[np.lexsort((rank[rest], -u.sizes[rest]))]
    sizes, ties = u.sizes.tolist(), tie.tolist()
    for i in rest.tolist():
        s = max(range(n_split), key=lambda j: (need_img[j], ties[i][j]))
        assign[i] = s
        need_img[s] -= sizes[i]
    return assign


def _stratified(u: _Units, r: np.ndarray, assign: IntArray, rank: IntArray, tie: np.ndarray,
                need_img: list[float], progress: Progress | None) -> None:
    """Iterative stratification of the units with objects (fills ``assign`` in place)."""
    n_cls = int(u.classes.max()) + 1
    totals = np.bincount(u.classes, weights=u.counts, minlength=n_cls)
    need = [(r * float(t)).tolist() for t in totals]  # need[k][s]: objects of class k split s still lacks
    rows = np.repeat(np.arange(len(u.sizes)), np.diff(u.indptr))
    by_class = np.lexsort((rank[rows], -u.counts, u.classes))  # per class: its units, largest count first
    starts = np.searchsorted(u.classes[by_class], np.arange(n_cls + 1)).tolist()
    left = np.bincount(u.classes, minlength=n_cls).tolist()  # unassigned units holding each class
    ip, cl, ct, sizes = u.indptr.tolist(), u.classes.tolist(), u.counts.tolist(), u.sizes.tolist()
    unit_of, ties, out = rows[by_class].tolist(), tie.tolist(), assign.tolist()
    splits, done, total = range(len(r)), 0, int((np.diff(u.indptr) > 0).sum())
    while any(left):
        k = min((n, c) for c, n in enumerate(left) if n > 0)[1]
        nk = need[k]
        for i in unit_of[starts[k]:starts[k + 1]]:
            if out[i] >= 0:
                continue
            ti = ties[i]
            s = max(splits, key=lambda q: (nk[q], need_img[q], ti[q]))
            out[i] = s
            need_img[s] -= sizes[i]
            for p in range(ip[i], ip[i + 1]):
                need[cl[p]][s] -= ct[p]
                left[cl[p]] -= 1
            done += 1
        if progress is not None:
            progress("splitting", done, total)
    assign[:] = out


def _stats(ds: Dataset, u: _Units, assign: IntArray, r: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Per class: objects, target and actual per split, the largest deviation and the most objects in one unit;
    per split: images, target and actual."""
    n_cls, n_split = len(ds.categories), len(r)
    rows = np.repeat(np.arange(len(u.sizes)), np.diff(u.indptr))
    actual = np.zeros((n_cls, n_split), dtype=np.int64)
    np.add.at(actual, (u.classes, assign[rows]), u.counts)
    most = np.zeros(n_cls, dtype=np.int64)
    np.maximum.at(most, u.classes, u.counts)
    totals = actual.sum(axis=1)
    target = totals[:, None] * r[None, :]
    dev = np.abs(actual - target).max(axis=1) if n_cls else np.zeros(0)
    classes = [{"id": int(ds.categories.ids[k]), "name": ds.categories.names[k], "objects": int(totals[k]),
                "target": dict(zip(names, target[k].round(6).tolist())), "actual": dict(zip(names, actual[k].tolist())),
                "max_deviation": round(float(dev[k]), 6), "max_per_unit": int(most[k])} for k in range(n_cls)]
    img = np.bincount(assign, weights=u.sizes, minlength=n_split).astype(np.int64)
    return {"classes": classes, "images": {"target": dict(zip(names, (r * len(ds.images)).round(6).tolist())),
                                           "actual": dict(zip(names, img.tolist()))}}
