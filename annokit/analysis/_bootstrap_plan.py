"""The resample-independent part of :mod:`annokit.analysis.bootstrap` (private): one model's match records turned,
once, into what every resample's precision needs -- the explicit items (records with a status of their own, tie
units copied), the parts of the counted-detection counts, the true positives grouped into runs -- laid out for the
compiled loop that sums a chunk of resamples (:meth:`MaxDetsPlan.chunk_sums`, :mod:`annokit.analysis.
_bootstrap_kernel`). The algorithm is described in :mod:`annokit.analysis.bootstrap`'s docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit.metrics import coco_engine as eng
from annokit.metrics.coco import MatchState

__all__ = ["MaxDetsPlan"]

_EPS = np.spacing(1)


# ------------------------------------------------------------------------------------------------ the records
def _full_status(rec: eng.MatchRecords, rows: np.ndarray, frame: eng.EvalFrame) -> np.ndarray:
    """``(len(rows), A, T)``: the status of the records ``rows`` (their own where candidates, else the default of
    each range: false positive inside it, ignored outside)."""
    T = len(frame.thr)
    out = np.repeat(np.where(frame.outside(rec.area[rows]).T, eng.IGNORED, eng.FP)[:, :, None], T, axis=2)
    out = out.astype(np.uint8)
    if len(rec.cand) and len(rows):
        pos = np.minimum(np.searchsorted(rec.cand, rows), len(rec.cand) - 1)
        hit = rec.cand[pos] == rows
        out[hit] = rec.status[pos[hit]]
    return out


def _runs_of(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs that begin where ``flags`` is True (``flags[0]`` must be True)."""
    starts = np.flatnonzero(flags)
    return starts, np.diff(np.r_[starts, len(flags)])


def _expand(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """``starts[0], starts[0] + 1, .., starts[0] + lens[0] - 1, starts[1], ..``."""
    first = np.cumsum(lens) - lens
    out: np.ndarray = np.repeat(starts, lens) + np.arange(int(lens.sum())) - np.repeat(first, lens)
    return out


def _tie_units(rec: eng.MatchRecords, frame: eng.EvalFrame) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the tie units to copy whole: two or more records of one image and category with equal
    scores (consecutive in accumulate order) whose statuses are not all the same."""
    if len(rec) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    same = (rec.cat[1:] == rec.cat[:-1]) & (rec.img[1:] == rec.img[:-1]) & (rec.score[1:] == rec.score[:-1])
    starts, lens = _runs_of(np.r_[True, ~same])
    starts, lens = starts[lens > 1], lens[lens > 1]
    if len(starts) == 0:
        return starts, lens
    st = _full_status(rec, _expand(starts, lens), frame).reshape(int(lens.sum()), -1)
    first = np.cumsum(lens) - lens
    differs = (st != np.repeat(st[first], lens, axis=0)).any(axis=1)
    keep = np.logical_or.reduceat(differs, first)
    return starts[keep], lens[keep]


@dataclass(frozen=True)
class _Items:
    """The records with a status of their own (candidates) and every record of a copied tie unit (once per copy),
    in accumulate order: ``rec`` (row in the records), ``img``, ``cat``, ``copy`` (-1, or the copy number: the item
    weighs 1 when its image is drawn more than ``copy`` times, else 0), ``key`` (the record row that orders it: its
    own, or its unit's first) and ``status`` ``(X, A, T)``."""

    rec: np.ndarray
    img: np.ndarray
    cat: np.ndarray
    copy: np.ndarray
    key: np.ndarray
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.rec)


def _items(rec: eng.MatchRecords, frame: eng.EvalFrame, max_copies: int) -> _Items:
    """The explicit items of ``rec`` (canonical), tie units copied ``max_copies`` times."""
    u_start, u_len = _tie_units(rec, frame)
    u_rows = _expand(u_start, u_len)
    plain = np.setdiff1d(rec.cand, u_rows, assume_unique=True)
    j = np.repeat(np.arange(max_copies), len(u_rows))  # copy-major inside a unit: u1 u2 u1 u2
    member = np.tile(u_rows, max_copies)
    unit_first = np.tile(np.repeat(u_start, u_len), max_copies)
    unit_len = np.tile(np.repeat(u_len, u_len), max_copies)
    rows = np.r_[plain, member].astype(np.int64)
    key = np.r_[plain, unit_first].astype(np.int64)
    sub = np.r_[np.zeros(len(plain), np.int64), j * unit_len + member - unit_first]
    o = np.lexsort((sub, key))
    rows = rows[o]
    return _Items(rec=rows, img=rec.img[rows].astype(np.int64), cat=rec.cat[rows].astype(np.int64),
                  copy=np.r_[np.full(len(plain), -1, np.int64), j][o], key=key[o],
                  status=_full_status(rec, rows, frame))


def _restart_cumsum(v: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running sums of ``v`` that restart at every index of ``starts`` (sorted, ``starts[0] == 0``)."""
    c = np.cumsum(v)
    if len(c) == 0:
        return c
    before = np.where(starts > 0, c[np.maximum(starts - 1, 0)], 0)
    out: np.ndarray = c - np.repeat(before, np.diff(np.r_[starts, len(v)]))
    return out


# ------------------------------------------------------------------------------------------------ one maxDets
@dataclass(frozen=True)
class _Counted:
    """What the weighted count of counted detections is made of, per area range ``a``: ``gaps`` ``(A * X, I)``
    sparse, the records without a status of their own summed per image into the slot of the next item (rows after
    the last true positive of their range and category are left out); ``in_range`` ``(A, X)``, the items' default
    (counted inside the range); ``cat_starts`` ``(A * K,)`` where each (range, category) starts in ``(A * X)``;
    the corrections (items whose status is not their range's default) by segment then item: ``c_item``, ``c_sign``
    (+1 counted outside the range, -1 ignored inside) and ``c_starts`` (segment starts)."""

    gaps: Any  # scipy.sparse.csr_matrix (A * X, I)
    in_range: np.ndarray
    cat_starts: np.ndarray
    c_item: np.ndarray
    c_sign: np.ndarray
    c_starts: np.ndarray
    c_key: np.ndarray


def _counted(rec: eng.MatchRecords, frame: eng.EvalFrame, items: _Items, last: np.ndarray) -> _Counted:
    """The parts of the counted-detection counts (``last`` ``(A, K)``: the last item with a true positive)."""
    from scipy import sparse

    K, A, T = frame.shape[:3]
    X, I = len(items), len(frame.img_ids)
    in_range = ~frame.outside(rec.area[items.rec])  # (A, X)
    explicit = np.zeros(len(rec), bool)
    explicit[items.rec] = True
    other = np.flatnonzero(~explicit)
    slot = np.searchsorted(items.key, other)
    ok = slot < X
    ok[ok] = items.cat[slot[ok]] == rec.cat[other[ok]]
    other, slot = other[ok], slot[ok]
    inside = ~frame.outside(rec.area[other]) & (slot[None, :] <= last[:, rec.cat[other]])  # (A, n)
    aa, jj = np.nonzero(inside)
    gaps = sparse.csr_matrix((np.ones(len(aa), np.int64), (aa * X + slot[jj], rec.img[other[jj]])), shape=(A * X, I))
    gaps.sum_duplicates()
    counted = (items.status == eng.TP) | (items.status == eng.FP)  # (X, A, T)
    xx, ca, ct = np.nonzero(counted != in_range.T[:, :, None])
    c_seg = (ca * T + ct) * K + items.cat[xx]
    c_key = c_seg * X + xx
    o = np.argsort(c_key, kind="stable")
    c_starts = np.searchsorted(c_seg[o], np.arange(A * T * K))
    cat_starts = (np.arange(A)[:, None] * X + np.searchsorted(items.cat, np.arange(K))[None, :]).ravel()
    return _Counted(gaps=gaps, in_range=in_range, cat_starts=cat_starts, c_item=xx[o],
                    c_sign=np.where(counted[xx, ca, ct], 1, -1)[o].astype(np.int64), c_starts=c_starts,
                    c_key=c_key[o])


@dataclass(frozen=True)
class _Runs:
    """The true positives of every segment ``s = (a * T + t) * K + k`` in accumulate order (``ev_item``), grouped
    into runs (consecutive true positives with nothing counted between them); per run: its last true positive
    ``end``, its segment ``seg`` and where its counts are read (``p_idx`` into the ``(A * X)`` running counts,
    ``c_idx`` into the correction sums with their leading 0)."""

    ev_item: np.ndarray
    end: np.ndarray
    seg: np.ndarray
    p_idx: np.ndarray
    c_idx: np.ndarray


@dataclass(frozen=True)
class _Events:
    """Every true positive by segment then item: ``item``, ``seg``, ``a``; ``last`` ``(A, K)``: the last item with
    a true positive in each range and category (-1: none)."""

    item: np.ndarray
    seg: np.ndarray
    a: np.ndarray
    last: np.ndarray


def _events(items: _Items, K: int, A: int, T: int) -> _Events:
    xx, aa, tt = np.nonzero(items.status == eng.TP)
    seg = (aa * T + tt) * K + items.cat[xx]
    o = np.argsort(seg * max(len(items), 1) + xx, kind="stable")
    last = np.full(A * K, -1, np.int64)
    np.maximum.at(last, aa * K + items.cat[xx], xx)
    return _Events(item=xx[o], seg=seg[o], a=aa[o], last=last.reshape(A, K))


def _running_counts(ct: _Counted, w: np.ndarray, gap_sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted counted-detection counts up to every item, per range and restarting at every category
    ``(A * X,)``, and the correction sums up to every correction, restarting at every segment, with a leading 0."""
    dflt = gap_sums + (ct.in_range * w[None, :]).ravel()
    cc = _restart_cumsum(ct.c_sign * w[ct.c_item], ct.c_starts)
    return _restart_cumsum(dflt, ct.cat_starts), np.r_[np.int64(0), cc]


def _runs(ev: _Events, ct: _Counted, X: int, n_images: int) -> _Runs:
    """Group the true positives into runs: a new run where a segment starts or where something was counted since
    the previous true positive (the counts with every weight 1 say it, and then for any weights)."""
    E = len(ev.item)
    P, cc = _running_counts(ct, np.ones(X, np.int64), np.asarray(ct.gaps @ np.ones(n_images, np.int64)).ravel())
    j = np.searchsorted(ct.c_key, ev.seg * X + ev.item, side="right") - 1
    c_idx = np.where(j >= ct.c_starts[ev.seg], j + 1, 0) if len(ct.c_starts) else np.zeros(E, np.int64)
    p_idx = ev.a * X + ev.item
    cnt = P[p_idx] + cc[c_idx]
    seg_new = np.r_[True, ev.seg[1:] != ev.seg[:-1]] if E else np.zeros(0, bool)
    new = seg_new | np.r_[True, np.diff(cnt) != 1] if E else seg_new
    run_start = np.flatnonzero(new)
    end = np.r_[run_start[1:] - 1, E - 1].astype(np.int64) if E else run_start
    return _Runs(ev_item=ev.item, end=end, seg=ev.seg[end], p_idx=p_idx[end], c_idx=c_idx[end])


@dataclass(frozen=True)
class _Flat:
    """The plan as the compiled loop reads it (contiguous arrays, int64 but for the float64 ``g_val`` and ``c_sign``
    -- the loop counts in float64, exact for integers below 2**53 -- in the order of
    :func:`~annokit.analysis._bootstrap_kernel.chunk_sums`' arguments after ``rec_thrs``): ``shape`` (K, A, T and
    the longest category, segment of runs and of corrections; the chunk's largest ground-truth count is appended);
    ``item_lo`` ``(K + 1,)`` where each category's items start; the items' ``img`` and ``copy``; ``in_range``
    ``(A * X,)``; the gap matrix as CSR (``g_ptr``, ``g_img``, ``g_val``); the corrections (``c_item`` numbered
    within its category, ``c_sign``) and where each segment's start (``c_lo`` ``(S + 1,)``); the true positives'
    items (``ev_item``, within the category); per run ``end`` and where it reads the running counts (``p_loc``,
    the item within its category) and the corrections (``c_loc``, 0 or one past the correction within its
    segment); ``r_lo`` ``(S + 1,)`` where each segment's runs start."""

    shape: np.ndarray
    item_lo: np.ndarray
    img: np.ndarray
    copy: np.ndarray
    in_range: np.ndarray
    g_ptr: np.ndarray
    g_img: np.ndarray
    g_val: np.ndarray
    c_item: np.ndarray
    c_sign: np.ndarray
    c_lo: np.ndarray
    ev_item: np.ndarray
    end: np.ndarray
    p_loc: np.ndarray
    c_loc: np.ndarray
    r_lo: np.ndarray

    @classmethod
    def of(cls, items: _Items, ct: _Counted, r: _Runs, shape: tuple[int, int, int]) -> _Flat:
        def i64(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a, dtype=np.int64)

        K, A, T = shape
        X, S = len(items), A * T * K
        item_lo = np.searchsorted(items.cat, np.arange(K + 1))
        local = np.arange(X) - item_lo[items.cat]  # every item's number within its category
        g = ct.gaps.tocsr()
        g.sum_duplicates()
        c_lo = np.r_[ct.c_starts, len(ct.c_item)]
        run_lo = np.searchsorted(r.seg, np.arange(S + 1))
        run_seg = np.repeat(np.arange(S), np.diff(run_lo))
        c_loc = np.where(r.c_idx > 0, r.c_idx - c_lo[run_seg], 0)
        most = [max(int(np.diff(x).max(initial=0)), 1) for x in (item_lo, run_lo)] + [int(np.diff(c_lo).max(initial=0))]
        return cls(shape=i64(np.r_[shape, most]), item_lo=i64(item_lo), img=i64(items.img), copy=i64(items.copy),
                   in_range=ct.in_range.ravel().astype(np.int64), g_ptr=i64(g.indptr), g_img=i64(g.indices),
                   g_val=g.data.astype(np.float64), c_item=i64(local[ct.c_item]),
                   c_sign=ct.c_sign.astype(np.float64), c_lo=i64(c_lo),
                   ev_item=i64(local[r.ev_item]), end=i64(r.end), p_loc=i64(local[r.p_idx % max(X, 1)]),
                   c_loc=i64(c_loc), r_lo=i64(run_lo))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays after ``shape``, in the loop's order."""
        return (self.item_lo, self.img, self.copy, self.in_range, self.g_ptr, self.g_img, self.g_val,
                self.c_item, self.c_sign, self.c_lo, self.ev_item, self.end, self.p_loc, self.c_loc, self.r_lo)


@dataclass(frozen=True)
class MaxDetsPlan:
    """Everything a resample's precision at one ``maxDets`` needs that does not depend on the resample."""

    max_dets: int
    shape: tuple[int, int, int]  # K, A, T
    flat: _Flat

    @classmethod
    def build(cls, state: MatchState, max_dets: int, max_copies: int) -> MaxDetsPlan:
        f = state.frame
        K, A, T = f.shape[:3]
        rec = state.records
        if len(rec) and int(rec.rank.max()) >= max_dets:
            rec = rec.select(rec.rank < max_dets)
        items = _items(rec, f, max(max_copies, 1))
        ev = _events(items, K, A, T)
        counted = _counted(rec, f, items, ev.last)
        runs = _runs(ev, counted, len(items), len(f.img_ids))
        return cls(max_dets=max_dets, shape=(K, A, T), flat=_Flat.of(items, counted, runs, (K, A, T)))

    def chunk_sums(self, counts: np.ndarray, npig: np.ndarray, rec_thrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A chunk of resamples ``counts`` ``(b, I)`` (``npig`` ``(b, K, A)``: their ground-truth counts): per
        resample and segment, the sum over the recall thresholds of the interpolated precision and the weighted
        true-positive count (both ``(b, A * T * K)``, segment ``(a * T + t) * K + k``; the compiled loop of
        :mod:`annokit.analysis._bootstrap_kernel`)."""
        from annokit.analysis._bootstrap_kernel import chunk_sums

        K, A, T = self.shape
        b = len(counts)
        if len(self.flat.end) == 0:
            return np.zeros((b, A * T * K)), np.zeros((b, A * T * K), np.int64)
        fl = self.flat
        npig = np.ascontiguousarray(npig.reshape(b, K * A), dtype=np.int64)
        shape = np.r_[fl.shape, int(npig.max(initial=0))].astype(np.int64)
        return chunk_sums(np.ascontiguousarray(counts.T, dtype=np.float64), npig,
                          np.ascontiguousarray(rec_thrs, dtype=np.float64), shape, *fl.arrays())
