"""Panoptic quality (PQ, SQ, RQ) equal to panopticapi's ``pq_compute``.

Per image (:func:`pq_image_stats`), with ``G`` / ``P`` the ground-truth / predicted id maps:

- one joint histogram of (ground-truth segment, predicted segment) pixel counts, by ``np.bincount`` over dense
  segment indices (void = id 0 and ids missing from the ground-truth JSON get their own rows);
- a predicted segment's area is its pixel count in ``P``; a ground-truth segment's area is the JSON ``area``
  (as panopticapi takes it; ``gt_area="png"`` counts pixels instead). A disagreement is counted and reported
  (:class:`PanopticResult` ``area_mismatches``; the file-level runner warns);
- a pair of the same category, the ground truth not crowd, overlapping, is a true positive when
  ``IoU = inter / (area_p + area_g - inter - void_p) > 0.5`` strictly, ``void_p`` = the prediction's pixels on
  void ground truth;
- unmatched non-crowd ground truth is a false negative; an unmatched prediction is a false positive unless more
  than half of it lies on void plus the crowd region of its own category (the last crowd segment of that category
  in the JSON, as panopticapi's dict keeps it).

Per category ``PQ = iou_sum / (tp + fp/2 + fn/2)``, ``SQ = iou_sum / tp`` (0 when ``tp = 0``),
``RQ = tp / (tp + fp/2 + fn/2)``; the All / Things / Stuff numbers average over categories with
``tp + fp + fn > 0``, in the category list's order; a split with no such category gives NaN (``null``), where
panopticapi divides by zero. The state (:class:`PanopticAccumulator`) is integer counts per category plus an exact
sum of matched IoUs, so merging shards in any order equals one pass bit for bit.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from annokit.metrics._exact import ExactSum
from annokit.metrics._util import fnone

__all__ = [
    "PanopticCategories",
    "PanopticImageStats",
    "PanopticResult",
    "PanopticAccumulator",
    "pq_image_stats",
    "panoptic_quality",
]


@dataclass(frozen=True)
class PanopticCategories:
    """The category table: ``ids`` (K,) int64 in the order averages run, ``isthing`` (K,) bool, ``names``."""

    ids: np.ndarray
    isthing: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def build(cls, ids: Sequence[int] | np.ndarray, isthing: Sequence[bool] | np.ndarray,
              names: Sequence[str] | None = None) -> PanopticCategories:
        i = np.asarray(ids, dtype=np.int64).reshape(-1)
        t = np.asarray(isthing, dtype=bool).reshape(-1)
        if i.shape != t.shape:
            raise ValueError(f"isthing: expected shape {i.shape}, got {t.shape}")
        if np.unique(i).size != i.size:
            raise ValueError("category ids must be unique")
        nm = tuple(str(x) for x in (names if names is not None else i.tolist()))
        if len(nm) != i.size:
            raise ValueError(f"names: expected {i.size}, got {len(nm)}")
        return cls(i, t, nm)

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """``ids`` sorted, and their positions in ``ids`` (computed once: every image looks categories up)."""
        order = np.argsort(self.ids, kind="stable")
        return self.ids[order], order

    @cached_property
    def position(self) -> dict[int, int]:
        """``{category id: index in ids}`` (built once: every image looks its categories up)."""
        return {c: i for i, c in enumerate(self.ids.tolist())}

    def index_of(self, cat_ids: np.ndarray) -> np.ndarray:
        """Index of each category id in ``ids``, or ``K`` (one past the end) for unknown ids."""
        v = np.asarray(cat_ids, dtype=np.int64)
        k = self.ids.size
        if k == 0:
            return np.full(v.shape, 0, np.int64)
        srt, order = self._sorted
        pos = np.minimum(np.searchsorted(srt, v), k - 1)
        found: np.ndarray = np.where(srt[pos] == v, order[pos], k).astype(np.int64)
        return found


@dataclass(frozen=True)
class PanopticImageStats:
    """One image's contribution: ``tp / fp / fn`` (K,) int64, matched IoUs ``iou`` (T,) with category index
    ``iou_cat`` (T,), and the number of ground-truth segments whose JSON area differs from their pixel count."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    iou: np.ndarray
    iou_cat: np.ndarray
    area_mismatches: int
    first_mismatch: tuple[int, int, int] | None  # (segment id, json area, png pixels)


_LOCAL = threading.local()


def _scratch(name: str, n: int, dtype: Any) -> np.ndarray:
    """A per-thread reusable 1-d buffer of at least ``n`` items (callers use ``[:n]``): fresh buffers per image
    would cost a page fault per 4 KiB."""
    buf = getattr(_LOCAL, name, None)
    if buf is None or buf.size < n or buf.dtype != dtype:
        buf = np.empty(max(n, 1), dtype)
        setattr(_LOCAL, name, buf)
    return buf[:n]


_HASH_MULTIPLIERS = (0x9E3779B1, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F, 0x165667B1, 0xD3A2646C | 1, 0xFD7046C5,
                     0xB55A4F09)


def _slot_table(keys: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """A collision-free multiplicative hash of the uint32 ``keys``: ``(multiplier, shift, key per slot, index per
    slot)``, the slot of ``v`` being ``(v * multiplier mod 2**32) >> shift``; ``None`` if none is found."""
    n = keys.size
    first = min(16, 2 * n.bit_length() + 1)  # ~2 n**2 slots: a given multiplier is collision-free ~80 % of the time
    for bits in range(first, first + 4):
        for mult in _HASH_MULTIPLIERS:
            slots = (keys * np.uint32(mult)) >> np.uint32(32 - bits)
            if np.unique(slots).size == n:
                table_key = np.zeros(1 << bits, np.uint32)  # empty slots hold 0: only 0 itself hashes to 0's slot
                table_idx = np.full(1 << bits, n, np.intp)
                table_key[slots] = keys
                table_idx[slots] = np.arange(n)
                return mult, 32 - bits, table_key, table_idx
    return None


_HASH_FROM = 1 << 15


def _dense(values: np.ndarray, seg_ids: np.ndarray) -> np.ndarray:
    """Map ids to 0 = void (id 0), 1..S = segment (in ``seg_ids`` order), S+1 = an id not in ``seg_ids``.

    Many uint32 ids (what id PNGs decode to) go through a small collision-free hash of the S + 1 known ids (six
    passes over the values); fewer than ``_HASH_FROM`` values (the run starts of an image, usually), or other
    integer ids, through a binary search over the sorted known ids with 0 among them (several times slower per
    value on unsorted values, but without the hash's set-up)."""
    s = seg_ids.size
    keys = np.concatenate([[0], seg_ids])
    if values.dtype == np.uint32 and values.size >= _HASH_FROM and s and int(seg_ids.min()) > 0 \
            and int(seg_ids.max()) < (1 << 32) and np.unique(seg_ids).size == s:
        table = _slot_table(keys.astype(np.uint32))
        if table is not None:
            mult, shift, table_key, table_idx = table
            slot = values * np.uint32(mult)
            np.right_shift(slot, np.uint32(shift), out=slot)
            found = table_idx[slot]
            found[table_key[slot] != values] = s + 1
            return found
    v = values.astype(np.int64, copy=False)
    order = np.argsort(keys, kind="stable")  # void first among equal keys, then the first of a repeated id
    srt = keys[order]
    pos = np.searchsorted(srt, v)
    np.minimum(pos, s, out=pos)
    out: np.ndarray = order[pos]  # a key's position in ``keys``: 0 void, j + 1 segment j
    out[srt[pos] != v] = s + 1
    return out


@dataclass(frozen=True)
class _Joint:
    """Pixel counts of (ground-truth segment, predicted segment): rows / columns 0 = void, 1..S = the JSON's
    segments in order, S+1 = ids missing from the JSON; ``unknown_pred`` is one such predicted id (or -1)."""

    counts: np.ndarray
    unknown_pred: int


def _run_starts(gf: np.ndarray, pf: np.ndarray, width: int) -> np.ndarray:
    """Where a run of equal (ground truth, prediction) starts along the flat raster ``gf`` / ``pf``; every row starts
    one (four passes over the pixels)."""
    n = gf.size
    change = _scratch("change", n, np.dtype(bool))
    if n:
        change[0] = True
        np.not_equal(gf[1:], gf[:-1], out=change[1:])
        other = _scratch("change2", n - 1, np.dtype(bool))
        np.not_equal(pf[1:], pf[:-1], out=other)
        np.logical_or(change[1:], other, out=change[1:])
        change[::width] = True
    return np.flatnonzero(change)


def _joint_histogram(g: np.ndarray, p: np.ndarray, gsid: np.ndarray, psid: np.ndarray,
                     row_weights: np.ndarray | None) -> _Joint:
    """The joint histogram from the runs of equal (ground truth, prediction) along the rows, then work proportional
    to the number of runs. With ``row_weights`` a run counts ``row_weights[row]`` times."""
    gf = np.ascontiguousarray(g).reshape(-1)
    pf = np.ascontiguousarray(p).reshape(-1)
    n, width = gf.size, max(g.shape[1], 1)
    starts = _run_starts(gf, pf, width)
    lengths = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1:] = n - starts[-1:]
    if row_weights is not None:
        lengths *= row_weights[starts // width]
    pv = pf[starts]
    pd = _dense(pv, psid)
    nb = psid.size + 2
    index = _dense(gf[starts], gsid)
    index *= nb
    index += pd
    counts = np.bincount(index, weights=lengths, minlength=(gsid.size + 2) * nb)
    counts = counts.astype(np.int64).reshape(gsid.size + 2, nb)  # exact: counts < 2**53
    unknown = -1
    if counts[:, -1].any():
        unknown = int(pv[int(np.argmax(pd == nb - 1))])  # the first in raster order
    return _Joint(counts, unknown)


@dataclass(frozen=True)
class _Tables:
    """One image's segment tables as Python lists, with what the pixels say: the matching and the leftovers run
    over a few dozen segments and overlapping pairs, where a list step costs less than a numpy call.

    ``gci`` / ``pci``: category indices (K for an id not in the table); ``garea``: ground-truth areas as PQ takes
    them; ``parea``: predicted pixel counts; ``void_p``: predicted pixels on void ground truth."""

    gci: list[int]
    gcat: list[int]
    gcrowd: list[bool]
    garea: list[int]
    pci: list[int]
    pcat: list[int]
    parea: list[int]
    void_p: list[int]


def _check_prediction(joint: _Joint, parea: np.ndarray, psid: np.ndarray, pcat: list[int],
                      categories: PanopticCategories) -> list[int]:
    """Raise :class:`PanopticError` as panopticapi does on an inconsistent prediction; return the predicted
    segments' category indices."""
    if joint.unknown_pred >= 0:
        raise PanopticError(f"segment id {joint.unknown_pred} is in the prediction PNG but not in its JSON")
    if psid.size and not parea.all():
        missing = psid[parea == 0].tolist()
        raise PanopticError(f"segment ids {missing} are in the prediction JSON but not in its PNG")
    position, k = categories.position, categories.ids.size
    pci = [position.get(c, k) for c in pcat]
    if k in pci:
        j = pci.index(k)
        raise PanopticError(f"predicted segment {int(psid[j])} has unknown category_id {pcat[j]}")
    return pci


@dataclass(frozen=True)
class _GtAreas:
    """Ground-truth areas as PQ uses them, and how many JSON areas differ from the pixel counts (the first)."""

    area: np.ndarray
    mismatches: int
    first: tuple[int, int, int] | None


def _gt_areas(joint: _Joint, gsid: np.ndarray, garea_json: np.ndarray, source: str) -> _GtAreas:
    """The JSON ``area`` where present (panopticapi), else the pixel count; ``source="png"`` counts pixels."""
    ng = gsid.size
    gpix = joint.counts[1:ng + 1].sum(axis=1)
    has_json = garea_json >= 0
    mism = has_json & (garea_json != gpix)
    n_mism = int(mism.sum())
    first = None
    if n_mism:
        j = int(np.flatnonzero(mism)[0])
        first = (int(gsid[j]), int(garea_json[j]), int(gpix[j]))
    area = gpix if source == "png" else np.where(has_json, garea_json, gpix)
    return _GtAreas(area, n_mism, first)


@dataclass(frozen=True)
class _Matches:
    """Matched pairs (ground-truth segment ``gi``, predicted segment ``pj``) with their IoU, in row-major order."""

    gi: list[int]
    pj: list[int]
    iou: list[float]


def _match(joint: _Joint, t: _Tables) -> _Matches:
    """Same-category, non-crowd overlapping pairs with ``IoU = inter / (area_p + area_g - inter - void_p) > 0.5``
    (``inter / float(union)``: numpy's int64 / float64, ``inf`` for an empty union)."""
    ng, npr = len(t.gci), len(t.pci)
    inter = joint.counts[1:ng + 1, 1:npr + 1]
    gi, pj = np.nonzero(inter)
    out = _Matches([], [], [])
    gcat, crowd, garea, pcat, parea, void_p = t.gcat, t.gcrowd, t.garea, t.pcat, t.parea, t.void_p
    for i, j, x in zip(gi.tolist(), pj.tolist(), inter[gi, pj].tolist()):
        if crowd[i] or gcat[i] != pcat[j]:
            continue
        union = parea[j] + garea[i] - x - void_p[j]
        iou = x / float(union) if union else math.inf
        if iou > 0.5:
            out.gi.append(i)
            out.pj.append(j)
            out.iou.append(iou)
    return out


def _false_positives(joint: _Joint, t: _Tables, m: _Matches) -> list[int]:
    """Category indices of the false positives: unmatched predictions, except those more than half on void plus
    the crowd region of their category (the last unmatched crowd segment of it in the JSON, as panopticapi's dict
    keeps)."""
    matched_g = set(m.gi)
    crowd_row = {t.gci[r]: r for r, c in enumerate(t.gcrowd) if c and r not in matched_g}  # a later one replaces
    matched_p = set(m.pj)
    fp = []
    for j, cat in enumerate(t.pci):
        if j in matched_p:
            continue
        absorbed = t.void_p[j]
        r = crowd_row.get(cat)
        if r is not None:
            absorbed += int(joint.counts[r + 1, j + 1])
        if absorbed / float(t.parea[j]) <= 0.5:
            fp.append(cat)
    return fp


def _per_category(cats: list[int], k: int) -> np.ndarray:
    """How many of ``cats`` fall on each of the ``k`` categories (index ``k``, unknown, left out)."""
    counts: np.ndarray = np.bincount(np.array(cats, np.intp), minlength=k + 1)[:k]
    return counts.astype(np.int64, copy=False)


class PanopticError(ValueError):
    """The prediction of one image is inconsistent (segment in PNG but not JSON, unknown category, ...)."""


def pq_image_stats(gt_ids: np.ndarray, gt_segment_ids: Any, gt_category_ids: Any, gt_iscrowd: Any,
                   gt_area: Any, pred_ids: np.ndarray, pred_segment_ids: Any, pred_category_ids: Any,
                   categories: PanopticCategories, *, gt_area_source: Literal["json", "png"] = "json",
                   row_weights: Any = None) -> PanopticImageStats:
    """Counts of one image (the stages: joint histogram, prediction checks, areas, matching, leftovers).

    Parameters
    ----------
    gt_ids, pred_ids : numpy.ndarray
        ``(H, W)`` integer id maps of one shape (0 = void).
    gt_segment_ids, gt_category_ids, gt_iscrowd, gt_area : array-like
        The ground truth's segment table, ``(S,)`` each; ``gt_area`` is -1 where the JSON has none.
    pred_segment_ids, pred_category_ids : array-like
        The prediction's segment table.
    categories : PanopticCategories
        The category table.
    gt_area_source : {"json", "png"}
        Ground-truth areas from the JSON (panopticapi) or from the pixel counts.
    row_weights : array-like, optional
        ``(H,)`` positive integers: row ``r`` of both maps stands for ``row_weights[r]`` identical rows of the image
        (maps kept by distinct rows, :func:`annokit.io.coco_panoptic.align_id_rows`); default every row once.

    Returns
    -------
    PanopticImageStats

    Examples
    --------
    >>> cats = PanopticCategories.build([1], [True])
    >>> st = pq_image_stats(np.array([[1, 1]]), [1], [1], [0], [2], np.array([[7, 7]]), [7], [1], cats)
    >>> st.tp.tolist(), st.iou.tolist()
    ([1], [1.0])
    """
    g = np.asarray(gt_ids)
    p = np.asarray(pred_ids)
    if g.shape != p.shape or g.ndim != 2:
        raise ValueError(f"id maps must be (H, W) and equal in shape, got {g.shape} and {p.shape}")
    gsid = np.asarray(gt_segment_ids, np.int64).reshape(-1)
    psid = np.asarray(pred_segment_ids, np.int64).reshape(-1)
    weights = None
    if row_weights is not None:
        weights = np.asarray(row_weights, np.int64).reshape(-1)
        if weights.shape != (g.shape[0],) or (weights.size and int(weights.min()) < 1):
            raise ValueError(f"row_weights: expected {g.shape[0]} positive integers")
    joint = _joint_histogram(g, p, gsid, psid, weights)
    parea = joint.counts[:, 1:psid.size + 1].sum(axis=0)
    pcat = np.asarray(pred_category_ids, np.int64).reshape(-1).tolist()
    pci = _check_prediction(joint, parea, psid, pcat, categories)
    areas = _gt_areas(joint, gsid, np.asarray(gt_area, np.int64).reshape(-1), gt_area_source)
    gcat = np.asarray(gt_category_ids, np.int64).reshape(-1).tolist()
    position, k = categories.position, categories.ids.size
    t = _Tables([position.get(c, k) for c in gcat], gcat, np.asarray(gt_iscrowd, bool).reshape(-1).tolist(),
                areas.area.tolist(), pci, pcat, parea.tolist(), joint.counts[0, 1:psid.size + 1].tolist())
    m = _match(joint, t)
    matched = set(m.gi)
    fn = [c for r, c in enumerate(t.gci) if not t.gcrowd[r] and r not in matched]
    tp = [t.gci[i] for i in m.gi]
    known = [i for i, c in enumerate(tp) if c < k]
    iou = np.array([m.iou[i] for i in known], np.float64)
    return PanopticImageStats(_per_category(tp, k), _per_category(_false_positives(joint, t, m), k),
                              _per_category(fn, k), iou, np.array([tp[i] for i in known], np.int64),
                              areas.mismatches, areas.first)


@dataclass(frozen=True)
class PanopticResult:
    """PQ / SQ / RQ for ``all``, ``things``, ``stuff`` (each a dict with pq, sq, rq, n; NaN when n = 0) and per
    category arrays ``(K,)``: tp, fp, fn (int64), iou_sum, pq, sq, rq (float64; NaN where tp + fp + fn = 0)."""

    categories: PanopticCategories
    all: dict[str, float]
    things: dict[str, float]
    stuff: dict[str, float]
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    iou_sum: np.ndarray
    pq: np.ndarray
    sq: np.ndarray
    rq: np.ndarray
    n_images: int
    area_mismatches: int

    def metrics_dict(self) -> dict[str, float | int | None]:
        """Keys PQ, SQ, RQ, PQ_th, SQ_th, RQ_th, PQ_st, SQ_st, RQ_st, n, n_th, n_st (fractions)."""
        out: dict[str, float | int | None] = {}
        for suffix, part in (("", self.all), ("_th", self.things), ("_st", self.stuff)):
            for key in ("pq", "sq", "rq"):
                out[key.upper() + suffix] = fnone(part[key])
        out["n"] = int(self.all["n"])
        out["n_th"] = int(self.things["n"])
        out["n_st"] = int(self.stuff["n"])
        return out

    def per_class_dict(self) -> dict[str, dict[str, Any]]:
        """Per category name (categories with tp + fp + fn > 0): PQ, SQ, RQ, tp, fp, fn, iou_sum, isthing, id."""
        out: dict[str, dict[str, Any]] = {}
        c = self.categories
        for i in range(c.ids.size):
            if self.tp[i] + self.fp[i] + self.fn[i] == 0:
                continue
            name = c.names[i] if c.names[i] not in out else f"{c.names[i]} ({int(c.ids[i])})"
            out[name] = {"PQ": fnone(self.pq[i]), "SQ": fnone(self.sq[i]), "RQ": fnone(self.rq[i]),
                         "tp": int(self.tp[i]), "fp": int(self.fp[i]), "fn": int(self.fn[i]),
                         "iou_sum": float(self.iou_sum[i]), "isthing": bool(c.isthing[i]), "id": int(c.ids[i])}
        return out


class PanopticAccumulator:
    """Mergeable PQ state over a fixed category table (see the module docstring)."""

    def __init__(self, categories: PanopticCategories, *, gt_area_source: Literal["json", "png"] = "json") -> None:
        if gt_area_source not in ("json", "png"):
            raise ValueError("gt_area_source must be 'json' or 'png'")
        self.categories = categories
        self.gt_area_source = gt_area_source
        k = categories.ids.size
        self.tp = np.zeros(k, np.int64)
        self.fp = np.zeros(k, np.int64)
        self.fn = np.zeros(k, np.int64)
        self._iou = [ExactSum() for _ in range(k)]
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (iou, category index) of images not yet summed
        self._n_pending = 0
        self.n_images = 0
        self.area_mismatches = 0

    @property
    def iou(self) -> list[ExactSum]:
        """The exact sum of the matched IoUs, per category."""
        self._flush()
        return self._iou

    def _flush(self) -> None:
        """Add the buffered IoUs to the exact sums, one call per category: a call costs about the same for one value
        as for thousands, so images are summed in batches (the sums are exact, so batching changes nothing)."""
        if not self._pending:
            return
        ious = np.concatenate([i for i, _ in self._pending])
        cats = np.concatenate([c for _, c in self._pending])
        self._pending, self._n_pending = [], 0
        order = np.argsort(cats, kind="stable")
        cats, ious = cats[order], ious[order]
        starts = np.flatnonzero(np.r_[True, cats[1:] != cats[:-1]])
        ends = np.r_[starts[1:], cats.size]
        for a, b in zip(starts.tolist(), ends.tolist()):
            self._iou[int(cats[a])].add(ious[a:b])

    def add_stats(self, st: PanopticImageStats) -> PanopticAccumulator:
        """Add one image's counts (:func:`pq_image_stats`)."""
        self.tp += st.tp
        self.fp += st.fp
        self.fn += st.fn
        if st.iou.size:
            self._pending.append((st.iou, st.iou_cat))
            self._n_pending += st.iou.size
            if self._n_pending >= 1 << 16:
                self._flush()
        self.n_images += 1
        self.area_mismatches += st.area_mismatches
        return self

    def update(self, gt_ids: np.ndarray, gt_segment_ids: Any, gt_category_ids: Any, gt_iscrowd: Any,
               gt_area: Any, pred_ids: np.ndarray, pred_segment_ids: Any, pred_category_ids: Any
               ) -> PanopticAccumulator:
        """Add one image (arguments as :func:`pq_image_stats`)."""
        return self.add_stats(pq_image_stats(gt_ids, gt_segment_ids, gt_category_ids, gt_iscrowd, gt_area,
                                             pred_ids, pred_segment_ids, pred_category_ids, self.categories,
                                             gt_area_source=self.gt_area_source))

    def merge(self, other: PanopticAccumulator) -> PanopticAccumulator:
        if not (np.array_equal(self.categories.ids, other.categories.ids)
                and np.array_equal(self.categories.isthing, other.categories.isthing)
                and self.gt_area_source == other.gt_area_source):
            raise ValueError("cannot merge accumulators over different category tables or settings")
        out = PanopticAccumulator(self.categories, gt_area_source=self.gt_area_source)
        out.tp, out.fp, out.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        out._iou = [a.merge(b) for a, b in zip(self.iou, other.iou)]
        out.n_images = self.n_images + other.n_images
        out.area_mismatches = self.area_mismatches + other.area_mismatches
        return out

    def compute(self) -> PanopticResult:
        c = self.categories
        k = c.ids.size
        iou_sum = np.array([s.value() for s in self.iou], dtype=np.float64)
        pq = np.full(k, np.nan)
        sq = np.full(k, np.nan)
        rq = np.full(k, np.nan)
        for i in range(k):
            tp, fp, fn = int(self.tp[i]), int(self.fp[i]), int(self.fn[i])
            if tp + fp + fn == 0:
                continue
            den = tp + 0.5 * fp + 0.5 * fn
            pq[i] = iou_sum[i] / den
            sq[i] = iou_sum[i] / tp if tp != 0 else 0.0
            rq[i] = tp / den

        def average(sel: np.ndarray) -> dict[str, float]:
            tot_pq = tot_sq = tot_rq = 0.0
            n = 0
            for i in np.flatnonzero(sel).tolist():
                if math.isnan(pq[i]):
                    continue
                n += 1
                tot_pq += float(pq[i])
                tot_sq += float(sq[i])
                tot_rq += float(rq[i])
            if n == 0:
                return {"pq": math.nan, "sq": math.nan, "rq": math.nan, "n": 0}
            return {"pq": tot_pq / n, "sq": tot_sq / n, "rq": tot_rq / n, "n": n}

        return PanopticResult(c, average(np.ones(k, bool)), average(c.isthing), average(~c.isthing),
                              self.tp.copy(), self.fp.copy(), self.fn.copy(), iou_sum, pq, sq, rq,
                              self.n_images, self.area_mismatches)


def panoptic_quality(images: Iterable[tuple[Any, ...]], categories: PanopticCategories, *,
                     gt_area_source: Literal["json", "png"] = "json") -> PanopticResult:
    """PQ over an iterable of per-image tuples ``(gt_ids, gt_segment_ids, gt_category_ids, gt_iscrowd, gt_area,
    pred_ids, pred_segment_ids, pred_category_ids)``.

    >>> cats = PanopticCategories.build([1, 2], [True, False], ["person", "sky"])
    >>> g = np.array([[1, 1, 2, 2]]); p = np.array([[5, 5, 5, 6]])
    >>> r = panoptic_quality([(g, [1, 2], [1, 2], [0, 0], [2, 2], p, [5, 6], [1, 2])], cats)
    >>> round(r.all["pq"], 4), int(r.tp[0]), int(r.fn[1]), int(r.fp[1])
    (0.3333, 1, 1, 1)
    """
    acc = PanopticAccumulator(categories, gt_area_source=gt_area_source)
    for item in images:
        acc.update(*item)
    return acc.compute()
