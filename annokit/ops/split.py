"""``split_dataset``: reproducible train / val / ... splits, stratified by class, with groups (a video, a
patient) kept whole.

The split is made of *units*: images, or with ``group_by`` the groups of images sharing a field's value. Each unit
has a number of images (its size) and a number of objects per class. Targets: a split ``s`` of ratio ``r_s``
should hold ``T_sk = r_s n_k`` of the ``n_k`` objects of class ``k`` and ``r_s N`` of the ``N`` images.

Iterative stratification (the greedy of Sechidis, Tsoumakas and Vlahavas, 2011: each example goes to the subset
that most lacks what it holds), on object counts: the units, largest first and in a seeded random order among
equals (for images: a seeded random order), are handed out one at a time, each to a split that still lacks
objects of every class the unit holds, and for each of them lacks no less than the neediest split minus the
class's slack ``m_k / S`` (``m_k``: the most objects of ``k`` in one unit; ``S``: the number of splits); among
those (all splits when none qualifies) the one where the unit cuts the weighted squared shortfall
``sum_k (need_sk)^2 / n_k + (need_s)^2 / N`` most; ties by a seeded random draw. Sechidis et al. take the labels
rarest first and hand out the examples of each by that label's need alone; on multi-label object counts that
leaves the common classes' shares to chance (``benchmarks/bench_ops.py --quality`` measures both: on 100,000 images
of 80 classes, ~7 objects each, 75 % of the classes end within one image of their target that way, 100 % this way).
``stratify="none"`` hands out every unit by image counts alone.

What "within one image of its target" means, and where it is guaranteed: for a class ``k`` whose units hold no
other class, every split ``s`` ends with ``|A_sk - T_sk| < m_k`` objects of ``k`` (``A_sk``: the objects of ``k``
it holds). Proof: the needs of ``k`` sum to the objects of ``k`` not yet handed out, so the neediest split lacks
some while any are left; a unit of ``k`` goes only to a split that lacks objects of ``k``, so no split ends over
its target by ``m_k`` or more. A split short by ``D > 0`` at the end lacked at least ``D`` all along, so the
neediest split did too, and every other split was handed units of ``k`` only while lacking at least
``D - m_k / S``: it ends lacking at least ``D - m_k / S - m_k`` (or, never handed one, its whole positive target).
As the needs sum to zero, ``D + (S - 1)(D - m_k / S - m_k) <= 0``, so ``D <= (1 - 1 / S^2) m_k < m_k``. The same
holds for image counts with ``stratify="none"`` (``m``: the largest group; 1 for images). Classes that share units
with others have no such bound (their objects come in fixed bundles); :attr:`SplitResult.stats` gives each
class's largest deviation, in objects and in units of ``m_k``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from annokit._internal.files import atomic_dir, write_json_atomic
from annokit._internal.progress import Progress
from annokit.core.arrays import IntArray
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder, LossReport
from annokit.ops._common import OpsError, did_you_mean, subset

__all__ = ["SplitResult", "Stratify", "parse_ratios", "split_dataset", "write_splits"]

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
@dataclass
class _Needs:
    """What each split still lacks: ``cls[k][s]`` objects of class ``k``, ``img[s]`` images; the weights of the
    score (``1 / n_k`` and ``1 / N``) and each class's slack (the most objects of it in one unit, over ``S``)."""

    cls: list[list[float]]
    img: list[float]
    w_cls: list[float]
    w_img: float
    slack: list[float]


def _needs(u: _Units, r: np.ndarray) -> _Needs:
    n_cls = int(u.classes.max()) + 1 if len(u.classes) else 0
    totals = np.bincount(u.classes, weights=u.counts, minlength=n_cls)
    most = np.zeros(n_cls)
    np.maximum.at(most, u.classes, u.counts)
    n_img = float(u.sizes.sum())
    return _Needs(cls=[(r * float(t)).tolist() for t in totals], img=(r * n_img).tolist(),
                  w_cls=(1.0 / np.maximum(totals, 1.0)).tolist(), w_img=1.0 / max(n_img, 1.0),
                  slack=(most / len(r)).tolist())


def _assign(u: _Units, r: np.ndarray, stratified: bool, rng: np.random.Generator,
            progress: Progress | None) -> IntArray:
    """The split of each unit: units in decreasing size (images: all 1), ties in a seeded random order, each to
    the split :func:`_choose` picks."""
    n_units, n_split = len(u.sizes), len(r)
    if (not stratified or not len(u.counts)) and (u.sizes == 1).all():
        return _assign_images(n_units, r, rng)
    rank = np.empty(n_units, dtype=np.int64)
    rank[rng.permutation(n_units)] = np.arange(n_units)
    ties = rng.random((n_units, n_split)).tolist()  # the seeded choice among equal scores
    order = np.lexsort((rank, -u.sizes)).tolist()
    need = _needs(u, r)
    ip = u.indptr.tolist() if stratified else [0] * (n_units + 1)
    step = max(1, n_units // 100)
    loop = _assign_two if n_split == 2 else _assign_general
    return loop(u, order, ip, ties, need, step, progress)


def _assign_general(u: _Units, order: list[int], ip: list[int], ties: list[list[float]], need: _Needs, step: int,
                    progress: Progress | None) -> IntArray:
    """:func:`_assign`'s loop for any number of splits: units in ``order``, each to the split :func:`_choose`
    picks, the needs updated in place."""
    n_units = len(u.sizes)
    cl, ct, sizes = u.classes.tolist(), u.counts.tolist(), u.sizes.tolist()
    out = [0] * n_units
    for done, i in enumerate(order, 1):
        lo, hi = ip[i], ip[i + 1]
        ks, cs = cl[lo:hi], ct[lo:hi]
        s = _choose(need, ks, cs, sizes[i], ties[i])
        out[i] = s
        need.img[s] -= sizes[i]
        for k, c in zip(ks, cs):
            need.cls[k][s] -= c
        if progress is not None and (done % step == 0 or done == n_units):
            progress("splitting", done, n_units)
    return np.asarray(out, dtype=np.int64)


def _assign_two(u: _Units, order: list[int], ip: list[int], ties: list[list[float]], need: _Needs, step: int,
                progress: Progress | None) -> IntArray:
    """:func:`_assign`'s loop with :func:`_choose` written out for two splits (the common train / val case), about
    twice as fast: the same float operations in the same order, so the same splits (tested against the general
    loop)."""
    n_units = len(u.sizes)
    rows = [need.cls[k] for k in u.classes.tolist()]  # per object: its class's needs (shared, updated in place)
    wcs = (u.counts * np.asarray(need.w_cls, dtype=np.float64)[u.classes]).tolist() if len(u.classes) else []
    slacks = [need.slack[k] for k in u.classes.tolist()]
    counts, sizes, img, w_img = u.counts.tolist(), u.sizes.tolist(), need.img, need.w_img
    out = [0] * n_units
    for start in range(0, n_units, step):
        for i in order[start:start + step]:
            size = sizes[i]
            sw = size * w_img
            a0, a1, ok0, ok1 = sw * img[0], sw * img[1], True, True
            objs = range(ip[i], ip[i + 1])
            for p in objs:
                v0, v1 = rows[p]
                lowest = (v0 if v0 >= v1 else v1) - slacks[p]
                wc = wcs[p]
                a0 += wc * v0
                a1 += wc * v1
                ok0 = ok0 and not (v0 <= 0 or v0 < lowest)
                ok1 = ok1 and not (v1 <= 0 or v1 < lowest)
            t = ties[i]
            s = (0 if ok0 else 1) if ok0 != ok1 else (1 if (a1, t[1]) > (a0, t[0]) else 0)
            out[i] = s
            img[s] -= size
            for p in objs:
                rows[p][s] -= counts[p]
        if progress is not None:
            progress("splitting", min(n_units, start + step), n_units)
    return np.asarray(out, dtype=np.int64)


def _assign_images(n: int, r: np.ndarray, rng: np.random.Generator) -> IntArray:
    """The same greedy for ``n`` single images by image counts alone, at once: handing each image to the split
    lacking the most images hands out the splits' "slots" (split ``s``'s ``j``-th image is handed while it lacks
    ``r_s n - j``) in decreasing order of that need; images in a seeded random order, equal needs in a seeded
    random order."""
    order = rng.permutation(n)
    slots = [int(math.ceil(x * n)) + 1 for x in r]
    need = np.concatenate([x * n - np.arange(m) for x, m in zip(r, slots)])
    owner = np.repeat(np.arange(len(r)), slots)
    picked = np.lexsort((rng.random(len(need)), -need))[:n]
    out = np.empty(n, dtype=np.int64)
    out[order] = owner[picked]
    return out


def _choose(need: _Needs, ks: list[int], cs: list[int], size: int, ties: list[float]) -> int:
    """The split for a unit holding ``cs[j]`` objects of class ``ks[j]`` and ``size`` images: among the splits that
    lack objects of each of its classes, within the class's slack of the split lacking most (all splits when none
    does), the one where it cuts the weighted squared shortfall most (the largest ``sum_k c_k need_sk / n_k +
    size need_s / N``), ties by ``ties``. (Plain loops: this runs once per unit.)"""
    splits = range(len(need.img))
    scores = [size * need.w_img * v for v in need.img]
    ok = [True] * len(scores)
    for k, c in zip(ks, cs):
        row = need.cls[k]
        wc = c * need.w_cls[k]
        lowest = max(row) - need.slack[k]
        for s in splits:
            v = row[s]
            scores[s] += wc * v
            if v <= 0 or v < lowest:
                ok[s] = False
    pool = [s for s in splits if ok[s]] or splits
    return max(pool, key=lambda s: (scores[s], ties[s]))


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


def write_splits(result: SplitResult, dst: str | os.PathLike[str], fmt: str, *, overwrite: bool = False,
                 sidecar: bool = True) -> LossReport:
    """Write each split of ``result`` into the folder ``dst`` in format ``fmt`` (``NAME.json`` / ``NAME.csv`` for
    file formats, ``NAME/`` for folder formats) and ``dst/splits.json`` (:meth:`SplitResult.summary`), all at once:
    on any error nothing is left. Returns the write's loss report (what ``fmt`` cannot hold, all splits together).

    >>> import annokit, pathlib, tempfile
    >>> from annokit.ops import split_dataset, write_splits
    >>> res = split_dataset(annokit.load("sample_data/scenes/gt.json"), {"train": 0.8, "val": 0.2})
    >>> out = tempfile.mkdtemp() + "/splits"
    >>> write_splits(res, out, "coco").lossless, sorted(p.name for p in pathlib.Path(out).iterdir())
    (True, ['splits.json', 'train.json', 'val.json'])
    """
    from annokit.convert import get_format, write_dataset

    spec = get_format(fmt)
    suffix = "" if spec.folder else ".csv" if fmt == "class-csv" else ".json"
    rec = LossRecorder("memory", fmt)
    with atomic_dir(dst, overwrite=overwrite) as tmp:
        for name, part in result.datasets.items():
            rep = write_dataset(part, tmp / f"{name}{suffix}", fmt, sidecar=sidecar)
            for e in rep.entries:
                rec.add_many(e.kind, e.count, [f"{name}: {x}" for x in e.examples], kept_in=e.kept_in)
            for w in rep.warnings:
                rec.warn(f"{name}: {w}")
        write_json_atomic(tmp / "splits.json", result.summary())
    return rec.report()
