"""The compiled per-resample loop of :mod:`annokit.analysis.bootstrap` (private; numba, compiled once and cached).

:func:`chunk_sums` computes, for a chunk of resamples, what :meth:`MaxDetsPlan.sums
<annokit.analysis._bootstrap_plan.MaxDetsPlan.sums>` needs -- per segment the sum over the recall thresholds of the
interpolated precision and the weighted true-positive count -- in one pass over the plan's records per resample:
the item weights, the running counted-detection counts (the gap sums read from the sparse gap matrix in place),
the correction sums, then every segment's runs forward (true positives, precision, thresholds reached) and backward
(the interpolated precision, the highest precision at or after each run). Nothing of size (resamples, runs) is
materialised.

Bit for bit the same floating-point numbers as the vectorised form it replaced: the same integer counts, the
same divisions (``tp / (float(counted) + eps)``), the maxima taken in the same order, and each segment's sum in
the order ``np.add.reduceat`` adds (the first term, plus numpy's pairwise sum of the rest: :func:`pairwise`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["chunk_sums", "pairwise", "recall_steps"]

_EPS = float(np.spacing(1))
_BLOCK = 128  # numpy's pairwise-summation block (PW_BLOCKSIZE)


@njit(cache=True, error_model="numpy")
def _block(a: np.ndarray, lo: int, n: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[b]``: column ``b`` of ``a[lo:lo + n]`` (``n <= 128``) summed as numpy sums one block: in order below 8
    terms, else eight partial sums, combined pairwise, then the rest. Column by column with scalar partial sums:
    little code to compile, and the blocks are a small part of the work."""
    for b in range(a.shape[1]):
        if n < 8:
            res = 0.0
            for i in range(lo, lo + n):
                res += a[i, b]
            out[b] = res
            continue
        r0, r1, r2, r3 = a[lo, b], a[lo + 1, b], a[lo + 2, b], a[lo + 3, b]
        r4, r5, r6, r7 = a[lo + 4, b], a[lo + 5, b], a[lo + 6, b], a[lo + 7, b]
        i = lo + 8
        stop = lo + n - n % 8
        while i < stop:
            r0 += a[i, b]
            r1 += a[i + 1, b]
            r2 += a[i + 2, b]
            r3 += a[i + 3, b]
            r4 += a[i + 4, b]
            r5 += a[i + 5, b]
            r6 += a[i + 6, b]
            r7 += a[i + 7, b]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < lo + n:
            res += a[i, b]
            i += 1
        out[b] = res


@njit(cache=True, error_model="numpy")
def pairwise(a: np.ndarray, lo: int, n: int, left: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out[b]``: column ``b`` of ``a[lo:lo + n]`` summed exactly as numpy's pairwise summation of a contiguous
    float64 array adds it: blocks of up to 128 (:func:`_block`), a longer range halved at a multiple of 8 and the
    halves' sums added. Every column at once; the recursion is walked with an explicit stack (``left``
    ``(64, b)`` holds the left halves' sums; numba's cache does not reload a recursive function safely)."""
    if n <= _BLOCK:
        _block(a, lo, n, out)
        return
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)  # 0: left half next, 1: right half next, 2: both done
    los[0], ns[0], stage[0] = lo, n, 0
    sp = 1
    while sp > 0:
        f = sp - 1
        m = ns[f]
        half = m // 2 - (m // 2) % 8
        if m <= _BLOCK:
            _block(a, los[f], m, out)
            sp -= 1
        elif stage[f] == 0:
            stage[f] = 1
            los[sp], ns[sp], stage[sp] = los[f], half, 0
            sp += 1
        elif stage[f] == 1:
            for b in range(len(out)):
                left[f, b] = out[b]
            stage[f] = 2
            los[sp], ns[sp], stage[sp] = los[f] + half, m - half, 0
            sp += 1
        else:
            for b in range(len(out)):
                out[b] = left[f, b] + out[b]
            sp -= 1


@njit(cache=True, error_model="numpy")
def _need_row(rec_thrs: np.ndarray, npig: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[r]``: :func:`annokit.metrics.coco_engine.recall_steps` of one ground-truth count (the same float
    divisions, one element at a time)."""
    R = len(rec_thrs)
    top = npig
    if top <= 0:
        for r in range(R):
            out[r] = top + 1
        return
    n = float(npig)
    for r in range(R):
        thr = rec_thrs[r]
        j = int(min(max(math.ceil(thr * n), 0.0), float(top + 1)))
        for _ in range(64):
            if 1 <= j <= top + 1 and (j - 1) / n >= thr:
                j -= 1
            elif j <= top and j / n < thr:
                j += 1
            else:
                break
        out[r] = j


@njit(cache=True, error_model="numpy")
def _thresholds(rec_thrs: np.ndarray, npig: np.ndarray, need: np.ndarray,
                tab: np.ndarray) -> None:  # pragma: no cover - compiled
    """``tab[b, c]``: how many recall thresholds ``c`` true positives reach in resample ``b`` of one category and
    range (``npig`` ``(b,)`` its ground-truth counts; ``c`` up to ``npig[b]``)."""
    for b in range(len(npig)):
        n = npig[b]
        _need_row(rec_thrs, n, need)
        for c in range(n + 1):
            tab[b, c] = 0.0
        for r in range(len(need)):
            if need[r] <= n:
                tab[b, need[r]] += 1.0
        for c in range(1, n + 1):
            tab[b, c] += tab[b, c - 1]


@njit(cache=True, error_model="numpy")
def recall_steps(rec_thrs: np.ndarray, npig: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``(n, R)``: :func:`_need_row` of every count of ``npig`` ``(n,)`` (tested equal to the engine's)."""
    out = np.empty((len(npig), len(rec_thrs)), np.int64)
    for i in range(len(npig)):
        _need_row(rec_thrs, npig[i], out[i])
    return out


@njit(cache=True, error_model="numpy")
def _weights(ct: np.ndarray, img: np.ndarray, copy: np.ndarray, lo: int, hi: int,
             w: np.ndarray) -> None:  # pragma: no cover - compiled
    """``w[x - lo, b]``: the weight of item ``x`` in resample ``b``: its image's count, or for a copy of a tie unit
    1 when the image is drawn more than ``copy`` times, else 0 (``ct`` ``(I, b)``)."""
    B = ct.shape[1]
    for x in range(lo, hi):
        i, cp = img[x], copy[x]
        if cp < 0:
            for b in range(B):
                w[x - lo, b] = ct[i, b]
        else:
            for b in range(B):
                w[x - lo, b] = 1.0 if ct[i, b] > cp else 0.0


@njit(cache=True, error_model="numpy")
def _counted(ct: np.ndarray, w: np.ndarray, in_range: np.ndarray, g_ptr: np.ndarray, g_img: np.ndarray,
             g_val: np.ndarray, lo: int, hi: int, run: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out[i - lo, b]``: the running count of counted detections at the slots ``lo .. hi - 1`` of one range and
    category (the gap records summed with their images' counts, plus the item where the range counts it)."""
    B = ct.shape[1]
    for b in range(B):
        run[b] = 0.0
    for i in range(lo, hi):
        for j in range(g_ptr[i], g_ptr[i + 1]):
            v, c = g_val[j], g_img[j]
            for b in range(B):
                run[b] += v * ct[c, b]
        if in_range[i]:
            for b in range(B):
                run[b] += w[i - lo, b]
        for b in range(B):
            out[i - lo, b] = run[b]


@njit(cache=True, error_model="numpy")
def _corrections(w: np.ndarray, item: np.ndarray, sign: np.ndarray, lo: int, hi: int,
                 out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[1 + j - lo, b]``: the running correction sums of one segment's corrections ``lo .. hi - 1``, after a
    leading row of 0 (the runs before any correction read it)."""
    B = w.shape[1]
    for b in range(B):
        out[0, b] = 0.0
    for j in range(lo, hi):
        s, x = sign[j], item[j]
        for b in range(B):
            out[j - lo + 1, b] = out[j - lo, b] + s * w[x, b]


@njit(cache=True, error_model="numpy")
def _forward(lo: int, hi: int, e: int, w: np.ndarray, ev_item: np.ndarray, end: np.ndarray, p_loc: np.ndarray,
             c_loc: np.ndarray, P: np.ndarray, cc: np.ndarray, tab: np.ndarray, tp: np.ndarray, p_buf: np.ndarray,
             n_buf: np.ndarray) -> None:  # pragma: no cover - compiled
    """One segment's runs ``lo .. hi - 1`` forward (its true positives start at event ``e``): ``tp`` the weighted
    true positives at the run's end, ``p_buf`` the precision there, ``n_buf`` how many recall thresholds it
    reaches."""
    B = len(tp)
    for b in range(B):
        tp[b] = 0.0
    for j in range(lo, hi):
        while e <= end[j]:
            x = ev_item[e]
            for b in range(B):
                tp[b] += w[x, b]
            e += 1
        pr, cr, r = p_loc[j], c_loc[j], j - lo
        for b in range(B):
            p_buf[r, b] = tp[b] / ((P[pr, b] + cc[cr, b]) + _EPS)
        for b in range(B):
            n_buf[r, b] = tab[b, np.int64(tp[b])]


@njit(cache=True, error_model="numpy")
def _backward(L: int, p_buf: np.ndarray, n_buf: np.ndarray, top: np.ndarray) -> None:  # pragma: no cover
    """``p_buf[j, b]`` replaced by the interpolated precision at run ``j`` of the segment (the highest at or after
    it) times the recall thresholds first reached there."""
    B = top.shape[0]
    for b in range(B):
        top[b] = 0.0
    for j in range(L - 1, 0, -1):
        for b in range(B):
            top[b] = max(top[b], p_buf[j, b])
            p_buf[j, b] = top[b] * (n_buf[j, b] - n_buf[j - 1, b])
    for b in range(B):
        top[b] = max(top[b], p_buf[0, b])
        p_buf[0, b] = top[b] * n_buf[0, b]


@njit(cache=True, error_model="numpy")
def chunk_sums(ct: np.ndarray, npig: np.ndarray, rec_thrs: np.ndarray, shape: np.ndarray, item_lo: np.ndarray,
               img: np.ndarray, copy: np.ndarray, in_range: np.ndarray, g_ptr: np.ndarray, g_img: np.ndarray,
               g_val: np.ndarray, c_item: np.ndarray, c_sign: np.ndarray, c_lo: np.ndarray, ev_item: np.ndarray,
               end: np.ndarray, p_loc: np.ndarray, c_loc: np.ndarray, r_lo: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """``(b, S)`` float64 and int64: per resample and segment, the sum over the recall thresholds of the interpolated
    precision and the weighted true-positive count. ``ct`` ``(I, b)`` float64: how many times each image is drawn in
    each resample; ``npig`` ``(b, K * A)``: their ground-truth counts; ``shape``: K, A, T, then the longest
    category (items), segment (runs), segment (corrections) and the largest ``npig`` (the scratch sizes); the rest
    is the plan's (:class:`~annokit.analysis._bootstrap_plan._Flat`). Category by category, range
    by range, IoU threshold by threshold, every step for all the chunk's resamples at once."""
    K, A, T = shape[0], shape[1], shape[2]
    most_items, most_runs, most_corr, most_gt = shape[3], shape[4], shape[5], shape[6]
    X, S, R, B = len(img), A * T * K, len(rec_thrs), ct.shape[1]
    qsum, tps = np.zeros((B, S)), np.zeros((B, S), np.int64)
    w, P = np.empty((most_items, B)), np.empty((most_items, B))
    cc = np.empty((most_corr + 1, B))
    p_buf, n_buf = np.empty((most_runs, B)), np.empty((most_runs, B))
    need, tab = np.empty(R, np.int64), np.empty((B, most_gt + 1))
    run, tp, top, left = np.empty(B), np.empty(B), np.empty(B), np.empty((64, B))
    for k in range(K):
        lo, hi = item_lo[k], item_lo[k + 1]
        _weights(ct, img, copy, lo, hi, w)
        for a in range(A):
            _counted(ct, w, in_range, g_ptr, g_img, g_val, a * X + lo, a * X + hi, run, P)
            _thresholds(rec_thrs, npig[:, k * A + a], need, tab)
            for t in range(T):
                s = (a * T + t) * K + k
                L = r_lo[s + 1] - r_lo[s]
                if L == 0:
                    continue
                _corrections(w, c_item, c_sign, c_lo[s], c_lo[s + 1], cc)
                _forward(r_lo[s], r_lo[s + 1], end[r_lo[s] - 1] + 1 if r_lo[s] > 0 else 0, w, ev_item, end, p_loc,
                         c_loc, P, cc, tab, tp, p_buf, n_buf)
                _backward(L, p_buf, n_buf, top)
                pairwise(p_buf, 1, L - 1, left, run)
                for b in range(B):
                    qsum[b, s] = p_buf[0, b] + run[b]
                    tps[b, s] = np.int64(tp[b])
    return qsum, tps
