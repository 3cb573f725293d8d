"""The COCO evaluation engine: pycocotools' ``evaluate`` and ``accumulate`` as named, reusable stages.

Each stage is a function over numpy columns; a small frozen record carries its result to the next::

    frame   = EvalFrame.build(...)                          image / category ids, thresholds, area ranges, maxDets
    gtg     = group_gt(frame, ...)                          GTGroups: by (image, category), ignore flags, npig
    dets    = rank_dets(frame, ...)                         RankedDets: by score inside (image, category), top m
    pairs   = candidate_pairs(gtg, dets, iou_fn, lowest)    Pairs: same-group pairs, IoU from a pluggable function
    matches = match(frame, gtg, dets, pairs)                Matches: greedy matching, every area range and threshold
    recs    = match_records(frame, gtg, dets, matches, ..)  MatchRecords: what accumulate needs, nothing more
    precision, recall, scores = accumulate(frame, MatchRecords.concat([...]), gtg.npig)

The IoU function is the only geometry: boxes and masks here, OKS or rotated boxes elsewhere, with the same
matching. The ground-truth ``ignore`` flag and ``uncounted`` rows are inputs, so other protocols (keypoints'
``num_keypoints == 0``, LVIS' federated rules by filtering detections and statuses) reuse the stages unchanged.
:class:`MatchRecords` is the whole state of a streaming evaluation: merging is concatenation, and
:func:`accumulate` sorts the records into one canonical order, so the result does not depend on how they were split.

Canonical order (pycocotools' ``accumulate``): per category, detections by score (highest first); ties by image
(in ``img_ids`` order), then by rank inside the (image, category) -- and the rank breaks score ties by the order
the detections were given in (a stable sort), as ``COCO.loadRes`` keeps file order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit._internal.arrays import index_of, sorted_unique

__all__ = ["EvalFrame", "GTGroups", "RankedDets", "Pairs", "Matches", "MatchRecords", "PairIoU", "group_gt",
           "rank_dets", "candidate_pairs", "match", "match_records", "accumulate", "box_pair_iou", "TP", "FP",
           "IGNORED", "group_npig", "recall_steps"]

PairIoU = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``iou(det_rows, gt_rows) -> (P,) float64``: the overlap of each (detection, ground truth) pair, by row number."""

FP, TP, IGNORED = np.uint8(0), np.uint8(1), np.uint8(2)
"""Status of a detection at one (area range, IoU threshold): false positive, true positive, not counted."""

_EPS = np.spacing(1)


@dataclass(frozen=True)
class EvalFrame:
    """What every stage shares: the evaluated ids and pycocotools' parameters as arrays.

    ``thr`` is ``min(iou_thr, 1 - 1e-10)`` as pycocotools matches; ``max_dets`` is sorted.
    """

    img_ids: np.ndarray
    cat_ids: np.ndarray
    thr: np.ndarray
    rec_thrs: np.ndarray
    area_lo: np.ndarray
    area_hi: np.ndarray
    max_dets: tuple[int, ...]

    @classmethod
    def build(cls, img_ids: Sequence[int] | np.ndarray, cat_ids: Sequence[int] | np.ndarray,
              iou_thrs: Sequence[float], rec_thrs: Sequence[float], area_rng: Sequence[tuple[float, float]],
              max_dets: Sequence[int]) -> EvalFrame:
        """A frame over the unique sorted ``img_ids`` and ``cat_ids``."""
        return cls(img_ids=sorted_unique(np.asarray(img_ids, dtype=np.int64)),
                   cat_ids=sorted_unique(np.asarray(cat_ids, dtype=np.int64)),
                   thr=np.minimum(np.asarray(iou_thrs, dtype=np.float64), 1 - 1e-10),
                   rec_thrs=np.asarray(rec_thrs, dtype=np.float64),
                   area_lo=np.array([r[0] for r in area_rng], dtype=np.float64),
                   area_hi=np.array([r[1] for r in area_rng], dtype=np.float64),
                   max_dets=tuple(sorted(int(m) for m in max_dets)))

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """``(K, A, T, R, M)``: categories, area ranges, IoU thresholds, recall thresholds, maxDets."""
        return len(self.cat_ids), len(self.area_lo), len(self.thr), len(self.rec_thrs), len(self.max_dets)

    def outside(self, area: np.ndarray) -> np.ndarray:
        """``(A, N)``: ``area`` outside each range (both ends inclusive inside)."""
        return (area[None, :] < self.area_lo[:, None]) | (area[None, :] > self.area_hi[:, None])

    def img_index(self, image_ids: np.ndarray) -> np.ndarray:
        """Position of each image id in ``img_ids``, -1 where it is not evaluated."""
        return index_of(self.img_ids, image_ids)

    def cat_index(self, labels: np.ndarray) -> np.ndarray:
        """Position of each category id in ``cat_ids``, -1 where it is not evaluated."""
        return index_of(self.cat_ids, labels)


@dataclass(frozen=True)
class GTGroups:
    """Ground truth of the frame, by (image, category) group, file order inside a group.

    ``rows`` index the caller's ground-truth table; ``ign`` is ``(A, G)``; ``uncounted`` rows never count as
    matched (pycocotools' ``id == 0`` defect); ``npig`` is ``(K, A)``, the ground truth that is not ignored.
    """

    rows: np.ndarray
    crowd: np.ndarray
    ign: np.ndarray
    uncounted: np.ndarray
    keys: np.ndarray
    starts: np.ndarray
    npig: np.ndarray


def group_gt(frame: EvalFrame, image_ids: np.ndarray, labels: np.ndarray, area: np.ndarray, iscrowd: np.ndarray,
             ignore: np.ndarray, uncounted: np.ndarray) -> GTGroups:
    """Stage 1: the ground truth of the frame's images and categories, grouped.

    ``ignore`` is the per-object flag before area ranges (pycocotools: ``iscrowd``); an object is ignored in a
    range when flagged or its ``area`` is outside it.
    """
    K, A = frame.shape[:2]
    g_img, g_cat = frame.img_index(image_ids), frame.cat_index(labels)
    rows = np.flatnonzero((g_img >= 0) & (g_cat >= 0))
    key = g_img[rows] * K + g_cat[rows]
    order = np.argsort(key, kind="stable")
    rows, key = rows[order], key[order]
    ign = ignore[rows][None, :] | frame.outside(np.asarray(area, dtype=np.float64)[rows])
    new = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
    starts = np.r_[np.flatnonzero(new), len(key)].astype(np.int64)
    cat = key % K if K else key
    npig = np.stack([np.bincount(cat[~ign[a]], minlength=K) for a in range(A)], axis=1).astype(np.int64)
    return GTGroups(rows=rows, crowd=np.asarray(iscrowd, dtype=bool)[rows], ign=ign,
                    uncounted=np.asarray(uncounted, dtype=bool)[rows], keys=key[new], starts=starts,
                    npig=npig.reshape(K, A))


@dataclass(frozen=True)
class RankedDets:
    """Detections of the frame, by (image, category) group, then score (highest first), then given order.

    ``rows`` index the caller's detections; ``key`` is ``image_index * K + category_index``; ``rank`` is the
    position inside the group (only ranks below ``max(maxDets)`` are kept); ``canon`` lists these detections in
    accumulate order (category, score, image, rank).
    """

    rows: np.ndarray
    key: np.ndarray
    rank: np.ndarray
    canon: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def rank_dets(frame: EvalFrame, image_ids: np.ndarray, labels: np.ndarray, scores: np.ndarray,
              rows: np.ndarray | None = None) -> RankedDets:
    """Stage 2: sort the detections inside their groups (stable on score ties) and keep the top ``max(maxDets)``.

    One sort by score, category by category, gives the accumulate order (category, score, image, given order);
    a stable sort of that by image gives the groups. Indices are int32 where they fit (half the memory).
    ``rows`` (ascending): the only detections that can be of the frame's categories (a block of categories picks
    its own out of all once, instead of looking every detection up again); the result is the same.
    """
    K = frame.shape[0]
    n = len(scores)
    small: type[np.signedinteger[Any]] = np.int32 if max(n, K * len(frame.img_ids)) < 2**31 - 1 else np.int64
    if rows is not None:
        image_ids, labels = np.asarray(image_ids)[rows], np.asarray(labels)[rows]
    img: np.ndarray = frame.img_index(image_ids).astype(small)
    cat: np.ndarray = frame.cat_index(labels).astype(small)
    ok = (img >= 0) & (cat >= 0)
    keep: np.ndarray | None = None  # every detection is of an evaluated image and category (the usual case)
    if not ok.all():
        keep = np.flatnonzero(ok).astype(small)
        img, cat = img[keep], cat[keep]
    del ok
    if rows is not None:
        keep = (rows if keep is None else rows[keep]).astype(small)
    o = _stable_int_order(img)
    o = o[_stable_int_order(cat[o])]
    neg = -np.asarray(scores, dtype=np.float64)[o if keep is None else keep[o]]
    cb = np.searchsorted(cat[o], np.arange(K + 1, dtype=small))
    for k in np.flatnonzero(cb[1:] - cb[:-1] > 1):
        s, e = cb[k], cb[k + 1]
        o[s:e] = o[s:e][np.argsort(neg[s:e], kind="stable")]
    del neg
    g = o[_stable_int_order(img[o])]  # image, category, score, given order
    key: np.ndarray = img * small(K) + cat
    del img, cat
    kg = key[g]
    rank = _rank_in_runs(kg).astype(np.int32)
    sel = rank < frame.max_dets[-1]
    if sel.all():
        gs, ks, rs = g, kg, rank
    else:
        gs, ks, rs = g[sel], kg[sel], rank[sel]
    del kg, rank
    pos = np.full(len(key), -1, dtype=small)
    pos[gs] = np.arange(len(gs), dtype=small)
    canon = pos[o]
    rows = (gs if keep is None else keep[gs]).astype(small)
    return RankedDets(rows=rows, key=ks, rank=rs, canon=canon[canon >= 0] if len(gs) < len(key) else canon)


def _stable_int_order(v: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative integers: radix passes of 16 bits (numpy sorts 16-bit keys by radix)."""
    if len(v) == 0:
        return np.zeros(0, np.int64)
    top = int(v.max())
    if top >= 2**32:
        return np.argsort(v, kind="stable")
    o = np.argsort(v.astype(np.uint16) if top < 2**16 else (v & 0xFFFF).astype(np.uint16), kind="stable")
    if top >= 2**16:
        o = o[np.argsort((v[o] >> 16).astype(np.uint16), kind="stable")]
    return o


def _rank_in_runs(key: np.ndarray) -> np.ndarray:
    """Position of each element inside its run of equal ``key`` values (``key`` grouped)."""
    n = len(key)
    if n == 0:
        return np.zeros(0, np.int64)
    new = np.r_[True, key[1:] != key[:-1]]
    pos = np.arange(n, dtype=np.int64)
    return pos - np.maximum.accumulate(np.where(new, pos, 0))


@dataclass(frozen=True)
class Pairs:
    """(detection, ground truth) pairs of the same group with IoU at least the lowest threshold.

    ``det`` indexes :class:`RankedDets`, ``gt`` indexes :class:`GTGroups`; ordered by detection, then ground truth.
    """

    det: np.ndarray
    gt: np.ndarray
    iou: np.ndarray


def candidate_pairs(gtg: GTGroups, dets: RankedDets, iou: PairIoU, lowest: float) -> Pairs:
    """Stage 3: every same-group pair, its IoU from ``iou(det_rows, gt_rows)``, those below ``lowest`` dropped."""
    if len(gtg.keys) == 0 or len(dets) == 0:
        return Pairs(det=np.zeros(0, np.int64), gt=np.zeros(0, np.int64), iou=np.zeros(0))
    pos = np.minimum(np.searchsorted(gtg.keys, dets.key), len(gtg.keys) - 1)
    hit = gtg.keys[pos] == dets.key
    n_gt = np.where(hit, gtg.starts[pos + 1] - gtg.starts[pos], 0)
    pair_d = np.repeat(np.arange(len(dets), dtype=np.int64), n_gt)
    first = np.cumsum(n_gt) - n_gt
    pair_g = np.repeat(gtg.starts[pos] - first, n_gt) + np.arange(len(pair_d), dtype=np.int64)
    v = np.asarray(iou(dets.rows[pair_d], gtg.rows[pair_g]), dtype=np.float64)
    keep = v >= lowest
    return Pairs(det=pair_d[keep], gt=pair_g[keep], iou=v[keep])


@dataclass(frozen=True)
class Matches:
    """Greedy matching: ``gt[c, a, t]`` is the :class:`GTGroups` index matched by detection ``det[c]`` in area range
    ``a`` at threshold ``t``, -1 for none. Only detections with a candidate pair appear."""

    det: np.ndarray
    gt: np.ndarray


def match(frame: EvalFrame, gtg: GTGroups, dets: RankedDets, pairs: Pairs) -> Matches:
    """Stage 4: pycocotools' ``evaluateImg`` matching for every group, area range and threshold at once.

    Detections go rank by rank (the best-scored of every group first); each takes, among the ground truth it may
    still take (crowd regions any number of times), the highest IoU ``>= t``, ties to the later ground truth,
    preferring ground truth that is not ignored in that range.
    """
    _, A, T = frame.shape[:3]
    P = len(pairs.det)
    new = np.r_[True, pairs.det[1:] != pairs.det[:-1]] if P else np.zeros(0, bool)
    cand = pairs.det[new]
    out = np.full((len(cand), A, T), -1, dtype=np.int32 if len(gtg.rows) < 2**31 else np.int64)
    if P == 0:
        return Matches(det=cand, gt=out)
    pc = np.cumsum(new) - 1
    p_rank = dets.rank[pairs.det]
    order = np.argsort(p_rank, kind="stable")  # pairs stay by detection, then ground truth, inside a rank
    bounds = np.searchsorted(p_rank[order], np.arange(int(p_rank.max()) + 2))
    taken = np.zeros((len(gtg.rows), A, T), dtype=bool)
    reg = ~gtg.ign.T  # (G, A): counted in that range
    for r in range(len(bounds) - 1):
        sl = order[bounds[r]:bounds[r + 1]]
        if len(sl):
            _match_rank(frame.thr, pc[sl], pairs.gt[sl], pairs.iou[sl], taken, reg, gtg.crowd, out)
    return Matches(det=cand, gt=out)


def _match_rank(thr: np.ndarray, pc: np.ndarray, pg: np.ndarray, pv: np.ndarray, taken: np.ndarray,
                reg: np.ndarray, crowd: np.ndarray, out: np.ndarray) -> None:
    """One rank: every detection of that rank (one per group) picks its ground truth; ``taken`` and ``out`` are
    updated in place. The detections of one rank are in different groups, so their ground truth differs."""
    new = np.r_[True, pc[1:] != pc[:-1]]
    single = new & np.r_[new[1:], True]  # a detection with one candidate: it takes it wherever it may
    if single.any():
        g = pg[single]
        hit = (pv[single][:, None, None] >= thr[None, None, :]) & (~taken[g] | crowd[g][:, None, None])
        taken[g] |= hit
        out[pc[single]] = np.where(hit, g[:, None, None], -1)
    if not single.all():
        m = ~single
        _match_choose(thr, pc[m], pg[m], pv[m], taken, reg, crowd, out)


def _match_choose(thr: np.ndarray, pc: np.ndarray, pg: np.ndarray, pv: np.ndarray, taken: np.ndarray,
                  reg: np.ndarray, crowd: np.ndarray, out: np.ndarray) -> None:
    """Detections with several candidates: arrays are ``(pairs, A, T)``, segments of pairs share a detection."""
    new = np.r_[True, pc[1:] != pc[:-1]]
    seg_start = np.flatnonzero(new)
    seg_of = np.cumsum(new) - 1
    elig = (pv[:, None, None] >= thr[None, None, :]) & (~taken[pg] | crowd[pg][:, None, None])
    elig_reg = elig & reg[pg][:, :, None]
    has_reg = np.logical_or.reduceat(elig_reg, seg_start, axis=0)
    cand = np.where(has_reg[seg_of], elig_reg, elig)  # counted ground truth first, ignored only if none
    val = np.where(cand, pv[:, None, None], -1.0)
    best = np.maximum.reduceat(val, seg_start, axis=0)
    pos = np.where(cand & (val == best[seg_of]), np.arange(len(pc))[:, None, None], -1)
    last = np.maximum.reduceat(pos, seg_start, axis=0)  # ties go to the later ground truth
    ss, aa, tt = np.nonzero(last >= 0)
    g = pg[last[ss, aa, tt]]
    taken[g, aa, tt] = True
    out[pc[seg_start[ss]], aa, tt] = g


@dataclass(frozen=True)
class MatchRecords:
    """Everything :func:`accumulate` needs of some detections (and all a streaming evaluation keeps).

    Per detection: ``score``, category and image index (``cat``, ``img``), ``rank`` in its group and ``area``. A
    detection's status is :data:`FP` where its area is inside the range and :data:`IGNORED` outside, except for the
    rows ``cand`` (sorted) whose statuses are ``status`` ``(C, A, T)``. ``canonical``: the rows are in accumulate
    order (category, score highest first, image, rank).
    """

    score: np.ndarray
    cat: np.ndarray
    img: np.ndarray
    rank: np.ndarray
    area: np.ndarray
    cand: np.ndarray
    status: np.ndarray
    canonical: bool = False

    def __len__(self) -> int:
        return len(self.score)

    @classmethod
    def empty(cls, n_ranges: int, n_thrs: int) -> MatchRecords:
        """No detections."""
        return cls(score=np.zeros(0), cat=np.zeros(0, np.int32), img=np.zeros(0, np.int32),
                   rank=np.zeros(0, np.int32), area=np.zeros(0), cand=np.zeros(0, np.int64),
                   status=np.zeros((0, n_ranges, n_thrs), np.uint8), canonical=True)

    @classmethod
    def concat(cls, parts: Sequence[MatchRecords]) -> MatchRecords:
        """All rows of ``parts`` (one part is returned as it is)."""
        if len(parts) == 1:
            return parts[0]
        offs = np.cumsum([0] + [len(p) for p in parts[:-1]])
        return cls(score=np.concatenate([p.score for p in parts]), cat=np.concatenate([p.cat for p in parts]),
                   img=np.concatenate([p.img for p in parts]), rank=np.concatenate([p.rank for p in parts]),
                   area=np.concatenate([p.area for p in parts]),
                   cand=np.concatenate([p.cand + o for p, o in zip(parts, offs)]),
                   status=np.concatenate([p.status for p in parts]))

    def take(self, order: np.ndarray, *, canonical: bool) -> MatchRecords:
        """The rows ``order`` (a permutation), candidates renumbered and kept sorted."""
        inv = np.empty(len(order), np.int64)
        inv[order] = np.arange(len(order))
        pos = inv[self.cand]
        o = np.argsort(pos)
        return MatchRecords(score=self.score[order], cat=self.cat[order], img=self.img[order],
                            rank=self.rank[order], area=self.area[order], cand=pos[o], status=self.status[o],
                            canonical=canonical)

    def select(self, keep: np.ndarray) -> MatchRecords:
        """The rows where ``keep`` (a boolean mask over the rows), in the same order (canonical stays canonical)."""
        ck = keep[self.cand]
        pos = np.cumsum(keep) - 1
        return MatchRecords(score=self.score[keep], cat=self.cat[keep], img=self.img[keep], rank=self.rank[keep],
                            area=self.area[keep], cand=pos[self.cand[ck]], status=self.status[ck],
                            canonical=self.canonical)

    def canonicalize(self) -> MatchRecords:
        """These rows in accumulate order: category, score (highest first), image, rank."""
        if self.canonical:
            return self
        # image and rank order the rows of a category with equal scores: sort by them, then two stable sorts
        o = np.lexsort((self.rank, self.img))
        o = o[np.argsort(-self.score[o], kind="stable")]
        o = o[np.argsort(self.cat[o], kind="stable")]
        return self.take(o, canonical=True)


def group_npig(gtg: GTGroups) -> np.ndarray:
    """``(n_groups, A)``: the ground truth not ignored in each area range, per (image, category) group
    (``gtg.keys``); summed over the groups of a category it is ``gtg.npig``. Subsets and multisets of the images
    (sliced evaluation, bootstrap resamples) sum it over their groups."""
    if len(gtg.keys) == 0:
        return np.zeros((0, gtg.ign.shape[0]), np.int64)
    return np.add.reduceat((~gtg.ign).astype(np.int64), gtg.starts[:-1], axis=1).T


def match_records(frame: EvalFrame, gtg: GTGroups, dets: RankedDets, matches: Matches, scores: np.ndarray,
                  areas: np.ndarray) -> MatchRecords:
    """Stage 5: the statuses of every kept detection (``scores`` / ``areas`` of the caller's rows), in accumulate
    order."""
    K = frame.shape[0]
    area = np.asarray(areas, dtype=np.float64)[dets.rows]
    c_out = frame.outside(area[matches.det])
    status = _statuses(gtg, matches, c_out)
    keep = (status != np.where(c_out.T, IGNORED, FP)[:, :, None]).any(axis=(1, 2))
    inv = np.empty(len(dets), np.int64)
    inv[dets.canon] = np.arange(len(dets))
    cand = inv[matches.det[keep]]
    o = np.argsort(cand)
    rows = dets.rows[dets.canon]
    key = dets.key[dets.canon]
    small = np.int32 if K * len(frame.img_ids) < 2**31 else np.int64
    return MatchRecords(score=np.asarray(scores, dtype=np.float64)[rows], cat=(key % K).astype(np.int32),
                        img=(key // K).astype(small), rank=dets.rank[dets.canon].astype(np.int32),
                        area=area[dets.canon], cand=cand[o], status=status[keep][o], canonical=True)


def _statuses(gtg: GTGroups, matches: Matches, c_out: np.ndarray) -> np.ndarray:
    """``(C, A, T)`` status of the detections with a candidate pair, as ``evaluateImg`` + ``accumulate`` see them.

    Matched to ignored ground truth: ignored. Unmatched (or matched to an uncounted row): false positive, or ignored
    when its area is outside the range. Matched otherwise: true positive.
    """
    C, A, T = matches.gt.shape
    status = np.empty((C, A, T), dtype=np.uint8)
    status[...] = np.where(c_out.T, IGNORED, FP)[:, :, None]
    flat = np.flatnonzero(matches.gt.ravel() >= 0)
    if len(flat):
        g = matches.gt.ravel()[flat].astype(np.int64)
        ca = flat // T  # c * A + a
        a = ca % A
        ign = gtg.ign.ravel()[a * len(gtg.rows) + g]
        counted = ~gtg.uncounted[g]
        out = c_out.T.ravel()[ca]
        status.ravel()[flat] = np.where(counted & ~ign, TP, np.where(ign | out, IGNORED, FP))
    return status


# ----------------------------------------------------------------------------------------------- accumulate
def accumulate(frame: EvalFrame, records: MatchRecords, npig: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage 6: ``COCOeval.accumulate`` from match records, bit for bit: ``(precision, recall, scores)``.

    pycocotools walks every detection of a category in score order with running sums ``tp`` and ``fp``, and
    ``pr = tp / (tp + fp + eps)`` made non-increasing from the right; precision at recall threshold ``r`` is that
    curve where ``tp / npig`` first reaches ``r``. Recall moves only at true positives and precision only rises
    there, so it is enough to know, at the k-th true positive, how many detections were counted up to it: a running
    count over all detections inside the range, corrected at the few whose status is not the default. A smaller
    maxDets changes only the categories that have a detection of higher rank: the others are copied.
    """
    K, A, T, R, M = frame.shape
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    rec = records.canonicalize()
    need = _recall_steps(frame.rec_thrs, npig)  # (K, A, R)
    has = (npig > 0).T  # (A, K)
    for m in range(M - 1, -1, -1):
        md = frame.max_dets[m]
        cats = np.arange(K) if m == M - 1 else sorted_unique(rec.cat[rec.rank >= md])
        if m < M - 1:
            precision[..., m], recall[..., m], scores[..., m] = (precision[..., m + 1], recall[..., m + 1],
                                                                 scores[..., m + 1])
        if len(cats) == 0:
            continue
        q, s, rc = _curves(_at_max_dets(frame, rec, md, cats), npig[cats], need[cats], T)
        mask = has[:, cats][:, None, :]  # (A, 1, K')
        p_m, s_m, r_m = precision[..., m], scores[..., m], recall[..., m]  # views
        p_m[:, :, cats] = np.where(mask[..., None], q, -1.0).transpose(1, 3, 2, 0)
        s_m[:, :, cats] = np.where(mask[..., None], s, -1.0).transpose(1, 3, 2, 0)
        r_m[:, cats] = np.where(mask, rc, -1.0).transpose(1, 2, 0)
    return precision, recall, scores


def recall_steps(rec_thrs: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """``(..., R)``: for ground-truth counts ``npig`` (any shape), the number of true positives at which recall
    ``k / npig`` (as pycocotools divides) first reaches each recall threshold; ``npig + 1`` where it never does.
    Threshold ``r`` is reached at ``k`` true positives exactly when ``k >= recall_steps(...)[..., r]``."""
    n = np.asarray(npig)
    return _recall_steps(np.asarray(rec_thrs, dtype=np.float64), n.reshape(-1, 1)).reshape(*n.shape, -1)


def _recall_steps(rec_thrs: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """``(K, A, R)``: the k-th true positive at which recall ``k / npig`` (as pycocotools divides) first reaches each
    threshold (``np.searchsorted(rc, rec_thrs, 'left')`` in true positives); ``npig + 1`` where it never does."""
    n = npig[:, :, None].astype(np.float64)
    top = npig[:, :, None].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.clip(np.ceil(rec_thrs[None, None, :] * n), 0, top + 1).astype(np.int64)
        for _ in range(64):  # the product is off by at most one step: settle on the exact division
            down = (j >= 1) & (j <= top + 1) & ((j - 1) / n >= rec_thrs)
            up = (j <= top) & (j / n < rec_thrs)
            if not (down.any() or up.any()):
                break
            j = j - down + up
    return np.where(top > 0, j, top + 1)


@dataclass(frozen=True)
class _Slice:
    """Records kept at one maxDets, in accumulate order: category bounds ``cb`` (K + 1), ``out`` (A, n), candidate
    positions ``cpos`` and their ``status`` (C, A, T)."""

    score: np.ndarray
    cat: np.ndarray
    cb: np.ndarray
    out: np.ndarray
    cpos: np.ndarray
    status: np.ndarray


def _at_max_dets(frame: EvalFrame, rec: MatchRecords, md: int, cats: np.ndarray) -> _Slice:
    """The canonical records of rank below ``md`` of the categories ``cats`` (sorted), renumbered 0..len-1."""
    K = frame.shape[0]
    keep: np.ndarray | None = None
    if len(cats) < K:
        keep = np.isin(rec.cat, cats)
    if len(rec) and int(rec.rank.max()) >= md:
        keep = rec.rank < md if keep is None else keep & (rec.rank < md)
    if keep is None:
        cat, score, area, cpos, status = rec.cat, rec.score, rec.area, rec.cand, rec.status
    else:
        ck = keep[rec.cand]
        cat, score, area = rec.cat[keep], rec.score[keep], rec.area[keep]
        cpos, status = (np.cumsum(keep) - 1)[rec.cand[ck]], rec.status[ck]
    if len(cats) < K:
        cat = np.searchsorted(cats, cat).astype(cat.dtype)
    cb = np.searchsorted(cat, np.arange(len(cats) + 1)).astype(np.int64)
    return _Slice(score=score, cat=cat, cb=cb, out=frame.outside(area), cpos=cpos, status=status)


def _curves(sl: _Slice, npig: np.ndarray, need: np.ndarray, T: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and scores ``(A, T, K, R)`` and recall ``(A, T, K)`` at one maxDets (valid where ``npig > 0``).

    Only segments with a true positive have a curve; the others have precision 0, and score 0 except at recall
    thresholds <= 0 (where pycocotools reads the category's first detection, whatever its status).
    """
    K, A, R = need.shape
    S = A * T * K
    nd = sl.cb[1:] - sl.cb[:-1]  # (K,) detections per category
    seg, pr, pos = _tp_events(sl, K, T)
    n_tp = np.bincount(seg, minlength=S)
    start = np.cumsum(n_tp) - n_tp
    act = np.flatnonzero(n_tp > 0)
    a_of, k_of = act // (T * K), act % K
    need_a = need[k_of, a_of]  # (active, R)
    q = np.zeros((S, R))
    q[act] = _envelope(pr, start[act], n_tp[act], need_a)
    ok = (need_a >= 1) & (need_a <= n_tp[act, None])
    sc = np.zeros((S, R))
    sc[act] = np.where(ok, np.append(sl.score[pos], 0.0)[np.where(ok, start[act, None] + need_a - 1, len(pos))], 0.0)
    first = np.zeros(K)
    first[nd > 0] = sl.score[sl.cb[:-1][nd > 0]]
    r0 = np.flatnonzero((need == 0).any(axis=(0, 1)))  # thresholds <= 0 (need is 0 wherever npig > 0)
    sc[:, r0] = np.broadcast_to(first, (A * T, K)).reshape(S)[:, None]
    rc = n_tp.reshape(A, T, K) / np.maximum(npig.T, 1)[:, None, :]
    rc = np.where((nd > 0)[None, None, :], rc, 0.0)
    return q.reshape(A, T, K, R), sc.reshape(A, T, K, R), rc


def _tp_events(sl: _Slice, K: int, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The true positives of every (area range, threshold, category) segment, in score order: segment id
    ``(a * T + t) * K + k``, precision ``k / (tp + fp + eps)`` at the k-th true positive, its position.

    ``tp + fp`` up to a position is the count of detections counted by default (inside the range) up to it, plus
    the few corrections where a detection's status changes that (matched to ignored ground truth, or a true positive
    outside the range), summed through a search in the sorted corrections.
    """
    A, n = sl.out.shape
    C = len(sl.cpos)
    # one entry per true positive event: int32 where every index fits (half the memory of the peak stage)
    it = np.int32 if max(A * T * C, A * (n + 1), A * T * K) < 2**31 - 1 else np.int64
    cnt = np.zeros((A, n + 1), dtype=it)  # counted before each position
    np.cumsum(~sl.out, axis=1, dtype=it, out=cnt[:, 1:])
    st = sl.status.transpose(1, 2, 0).ravel()  # (A, T, C): by (a, t), then position
    c_in = np.broadcast_to(~sl.out[:, sl.cpos][:, None, :], (A, T, C)).ravel()  # counted by default
    tp = np.flatnonzero(st == TP).astype(it)
    if len(tp) == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    cpos, cb = sl.cpos.astype(it), sl.cb.astype(it)
    seg, pos, row = _event_keys(tp, C, T, K, cpos, sl.cat, n)
    new = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    ktp = np.arange(1, len(tp) + 1, dtype=it) - np.repeat(new.astype(it), np.diff(np.r_[new, len(tp)]))
    cnt_f = cnt.ravel()
    counted = cnt_f[row + pos + 1] - cnt_f[row + cb[seg % K]]
    del row
    fix = np.flatnonzero((st != IGNORED) != c_in)
    if len(fix):
        f_seg, f_pos, _ = _event_keys(fix, C, T, K, sl.cpos, sl.cat, n)
        f_key = f_seg * np.int64(n + 1) + f_pos  # (segment, position) keys: int64
        f_sum = np.r_[0, np.cumsum(np.where(c_in[fix], -1, 1))]
        new_seg = np.r_[new, len(tp)]
        base = f_sum[np.searchsorted(f_key, seg[new] * np.int64(n + 1))]  # corrections before each segment
        counted += (f_sum[np.searchsorted(f_key, seg * np.int64(n + 1) + pos, side="right")]
                    - np.repeat(base, np.diff(new_seg))).astype(it)
    pr = ktp.astype(np.float64) / (counted.astype(np.float64) + _EPS)
    return seg, pr, pos


def _event_keys(flat: np.ndarray, C: int, T: int, K: int, cpos: np.ndarray, cat: np.ndarray, n: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For flat ``(a, t, c)`` indices: segment id, position, and the row offset of ``a`` in the count table (in
    the integer type of ``flat``)."""
    at, ec = np.divmod(flat, C)
    pos = cpos[ec]
    return at * K + cat[pos].astype(flat.dtype), pos, (at // T) * (n + 1)


def _envelope(pr: np.ndarray, start: np.ndarray, n_tp: np.ndarray, need: np.ndarray) -> np.ndarray:
    """``(S, R)``: for each segment and recall threshold, the highest precision at or after the ``need``-th true
    positive (the right-to-left envelope, read where recall first reaches the threshold); 0 where it never does."""
    S, R = need.shape
    valid = (need <= n_tp[:, None]) & (n_tp[:, None] > 0)
    out = np.zeros((S, R))
    if not valid.any():
        return out
    # block r of a segment runs from its own true positive to the next threshold's: block maxima, then a running
    # maximum from the right over the blocks (exact: no arithmetic on the values)
    starts = np.concatenate([start[:, None] + np.maximum(need, 1) - 1, (start + n_tp)[:, None]], axis=1)
    mask = np.concatenate([valid, (n_tp > 0)[:, None]], axis=1)
    idx = starts[mask]
    blocks = np.maximum.reduceat(np.append(pr, 0.0), idx)
    vals = np.zeros((S, R + 1))
    vals[mask] = blocks
    vals = vals[:, :R]
    vals[~valid] = 0.0
    out = np.maximum.accumulate(vals[:, ::-1], axis=1)[:, ::-1]
    return np.where(valid, out, 0.0)


# ----------------------------------------------------------------------------------------------- IoU functions
def box_pair_iou(d_boxes: np.ndarray, d_source_wh: np.ndarray | None, g_boxes: np.ndarray,
                 g_source_wh: np.ndarray | None, g_crowd: np.ndarray) -> PairIoU:
    """Box IoU of pairs with the same float operations as pycocotools' ``bbIou``: ltrb edges (``x + w``), areas
    ``w * h`` from the source widths and heights (where they still give the edges; else ``r - l``), and the
    detection's area as the union for crowd ground truth."""

    def iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        db = d_boxes[d]
        da = _area(db, None if d_source_wh is None else d_source_wh[d])
        return _iou_of(db[:, 0], db[:, 1], db[:, 2], db[:, 3], da, g, g_boxes, g_source_wh, g_crowd)

    return iou


def box_pair_iou_xywh(d_xywh: np.ndarray, g_boxes: np.ndarray, g_source_wh: np.ndarray | None,
                      g_crowd: np.ndarray) -> PairIoU:
    """:func:`box_pair_iou` for detections given as finite ``[x, y, w, h]`` rows with ``w, h >= 0`` (a results
    file's, as read): their ltrb edges ``x + w``, ``y + h`` and areas ``w * h`` are made pair by pair from the
    gathered rows, the same float operations as ``box_pair_iou(ltrb(xywh), xywh[:, 2:], ...)`` (whose ``l + w ==
    r`` then always holds), without the ``(N, 4)`` ltrb and ``(N, 2)`` size copies of every detection (24 MB for
    500,000)."""

    def iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        dx = d_xywh[d]
        return _iou_of(dx[:, 0], dx[:, 1], dx[:, 0] + dx[:, 2], dx[:, 1] + dx[:, 3], dx[:, 2] * dx[:, 3],
                       g, g_boxes, g_source_wh, g_crowd)

    return iou


def _iou_of(left: np.ndarray, top: np.ndarray, right: np.ndarray, bottom: np.ndarray, d_area: np.ndarray,
            g: np.ndarray, g_boxes: np.ndarray, g_source_wh: np.ndarray | None, g_crowd: np.ndarray) -> np.ndarray:
    """pycocotools' ``bbIou`` of detections (their ltrb edges and areas, one row a pair) with the ground truth rows
    ``g``: the intersection over the union, the detection's area for crowd ground truth, 0 where they do not
    overlap."""
    gb = g_boxes[g]
    iw = np.minimum(right, gb[:, 2]) - np.maximum(left, gb[:, 0])
    ih = np.minimum(bottom, gb[:, 3]) - np.maximum(top, gb[:, 1])
    ok = (iw > 0) & (ih > 0)
    inter = iw * ih
    union = np.where(g_crowd[g], d_area, d_area + _area(gb, None if g_source_wh is None else g_source_wh[g]) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ok, inter / union, 0.0)
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def _area(boxes: np.ndarray, source_wh: np.ndarray | None) -> np.ndarray:
    """``w * h`` of ``boxes`` (ltrb), the width and height the source's where ``l + w == r`` and ``t + h == b`` still
    hold, else ``r - l`` and ``b - t``."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    if source_wh is not None:
        ok = ((boxes[:, 0] + source_wh[:, 0]) == boxes[:, 2]) & ((boxes[:, 1] + source_wh[:, 1]) == boxes[:, 3])
        w, h = np.where(ok, source_wh[:, 0], w), np.where(ok, source_wh[:, 1], h)
    out: np.ndarray = w * h
    return out
