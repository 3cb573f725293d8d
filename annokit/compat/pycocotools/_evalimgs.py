"""``COCOeval.evalImgs`` both ways (private): built from the engine's matches, and read back into match records so
that ``accumulate`` works on a list a caller assembled (torchvision's reference evaluator merges the lists of
several processes and assigns the result to ``evalImgs``).

One entry per (category, area range, image) in that nesting order, ``None`` where the (image, category) has neither
ground truth nor detections; otherwise pycocotools' dict: detections by score (ties in given order) cut at the
largest maxDets, ground truth with the ignored last, ``dtMatches`` / ``gtMatches`` the matched partner's ``id``
(0 for none) per IoU threshold, ``dtIgnore`` and ``gtIgnore``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from annokit.compat.pycocotools._run import EvalState
from annokit.errors import AnnokitError
from annokit.metrics import coco_engine as eng

__all__ = ["AccumulateLists", "build_eval_imgs", "records_from_eval_imgs"]


def build_eval_imgs(st: EvalState, area_rng: list[Any], max_det: int) -> list[dict[str, Any] | None]:
    """The ``evalImgs`` list of an evaluation (``area_rng`` as the parameters hold it, for ``aRng``).

    The match arrays of every entry of one area range are slices of arrays built for all groups at once
    (:func:`_area_arrays`); the loop only cuts them and makes the dicts.
    """
    K, A, _ = st.frame.shape[:3]
    n_img = len(st.img_keys)
    out: list[dict[str, Any] | None] = [None] * (K * A * n_img)
    keys = np.union1d(st.gtg.keys, st.dets.key)
    g_at = np.minimum(np.searchsorted(st.gtg.keys, keys), max(len(st.gtg.keys) - 1, 0))
    has_g = (st.gtg.keys[g_at] == keys) if len(st.gtg.keys) else np.zeros(len(keys), bool)
    gs = np.where(has_g, st.gtg.starts[g_at], 0).tolist()
    ge = np.where(has_g, st.gtg.starts[np.minimum(g_at + 1, len(st.gtg.starts) - 1)], 0).tolist()
    ds = np.searchsorted(st.dets.key, keys).tolist()
    de = np.searchsorted(st.dets.key, keys, side="right").tolist()
    dt_ids = st.dt.ids[st.dets.rows].tolist()
    dt_scores = st.dt.score[st.dets.rows].tolist()
    img_of, cat_of = (keys // K).tolist(), (keys % K).tolist()
    no_gt = np.array([])  # pycocotools' gtIgnore of an entry without ground truth (float64, empty), shared
    no_gt.flags.writeable = False
    for a in range(A):
        arr = _area_arrays(st, a)
        g_ids = arr.gt_ids.tolist()
        rng = area_rng[a]
        for j in range(len(keys)):
            g0, g1, d0, d1, i, k = gs[j], ge[j], ds[j], de[j], img_of[j], cat_of[j]
            out[(k * A + a) * n_img + i] = {
                "image_id": st.img_keys[i], "category_id": st.cat_keys[k], "aRng": rng, "maxDet": max_det,
                "dtIds": dt_ids[d0:d1], "gtIds": g_ids[g0:g1], "dtMatches": arr.dtm[:, d0:d1],
                "gtMatches": arr.gtm[:, g0:g1], "dtScores": dt_scores[d0:d1],
                "gtIgnore": arr.gt_ig[g0:g1] if g1 > g0 else no_gt, "dtIgnore": arr.dt_ig[:, d0:d1]}
    return out


@dataclass(frozen=True)
class _AreaArrays:
    """One area range's match arrays for every group: ground truth by group with the ignored last (``gt_ids``,
    ``gt_ig``, ``gtm`` ``(T, G)``), detections in rank order (``dtm``, ``dt_ig`` ``(T, D)``)."""

    gt_ids: np.ndarray
    gt_ig: np.ndarray
    gtm: np.ndarray
    dtm: np.ndarray
    dt_ig: np.ndarray


def _area_arrays(st: EvalState, a: int) -> _AreaArrays:
    """pycocotools' ``evaluateImg`` arrays of every group at area range ``a``, from the engine's matches."""
    T = st.frame.shape[2]
    G, D = len(st.gtg.rows), len(st.dets)
    ign = st.gtg.ign[a]
    group = np.repeat(np.arange(len(st.gtg.keys)), np.diff(st.gtg.starts))
    go = np.lexsort((ign, group))  # inside each group: counted first, file order (stable)
    inv = np.empty(G, np.int64)
    inv[go] = np.arange(G)
    g_ids = st.gt.ids[st.gtg.rows]
    m = np.full((T, D), -1, np.int64)
    m[:, st.matches.det] = st.matches.gt[:, a, :].T
    hit = m >= 0
    dtm = np.zeros((T, D))
    dtm[hit] = g_ids[m[hit]]
    dt_ig = np.zeros((T, D), dtype=bool)
    dt_ig[hit] = ign[m[hit]]
    dt_ig |= (dtm == 0) & st.frame.outside(st.dt.area[st.dets.rows])[a][None, :]
    gtm = np.zeros((T, G))
    tt, dd = np.nonzero(hit)  # by threshold, then rank: a later detection on a crowd region overwrites
    gtm[tt, inv[m[tt, dd]]] = st.dt.ids[st.dets.rows[dd]]
    return _AreaArrays(gt_ids=g_ids[go], gt_ig=ign[go].astype(np.int64), gtm=gtm, dtm=dtm, dt_ig=dt_ig)


# ------------------------------------------------------------------------------------------------ read back
@dataclass(frozen=True)
class AccumulateLists:
    """pycocotools' ``accumulate`` selection: positions ``k_list`` / ``a_list`` / ``i_list`` (in the current
    parameters, used as indices into ``evalImgs`` as pycocotools does), the maxDets values ``m_list``, and the
    evaluated layout sizes ``A0`` / ``I0``."""

    k_list: list[int]
    a_list: list[int]
    m_list: list[int]
    i_list: list[int]
    A0: int
    I0: int


@dataclass
class _Gathered:
    """The entries of the selection, gathered: per (image, category) group its category / image selection index
    and detection count, its scores; per area range the groups' match arrays and ground-truth ignore flags."""

    kk: list[int]
    ii: list[int]
    n: list[int]
    scores: list[Any]
    dtm: list[list[Any]]
    dig: list[list[Any]]
    gig: list[list[Any]]


def _gather(eval_imgs: list[Any], sel: AccumulateLists) -> _Gathered:
    """pycocotools' ``Nk + Na + i`` look-ups of every selected entry, category by category (comprehensions over
    the images; no array work per entry)."""
    Ap = len(sel.a_list)
    g = _Gathered(kk=[], ii=[], n=[], scores=[], dtm=[[] for _ in range(Ap)], dig=[[] for _ in range(Ap)],
                  gig=[[] for _ in range(Ap)])
    whole = sel.i_list == list(range(sel.I0))
    for kk, k0 in enumerate(sel.k_list):
        blocks = []
        for a0 in sel.a_list:
            base = k0 * sel.A0 * sel.I0 + a0 * sel.I0
            blocks.append(eval_imgs[base:base + sel.I0] if whole else [eval_imgs[base + i] for i in sel.i_list])
        present = [e is not None for e in blocks[0]]
        if any([e is not None for e in b] != present for b in blocks[1:]):
            raise AnnokitError("evalImgs: an (image, category) has entries in some area ranges only")
        first = [e for e in blocks[0] if e is not None]
        g.ii.extend(i for i, p in enumerate(present) if p)
        g.kk.extend([kk] * len(first))
        g.scores.extend([e["dtScores"] for e in first])
        g.n.extend([len(e["dtScores"]) for e in first])
        for aa, block in enumerate(blocks):
            got = first if aa == 0 else [e for e in block if e is not None]
            g.dtm[aa].extend([e["dtMatches"] for e in got])
            g.dig[aa].extend([e["dtIgnore"] for e in got])
            g.gig[aa].extend([e["gtIgnore"] for e in got])
    return g


def records_from_eval_imgs(eval_imgs: list[Any], sel: AccumulateLists, frame: eng.EvalFrame
                           ) -> tuple[eng.EvalFrame, eng.MatchRecords, np.ndarray]:
    """A frame, match records and ``npig`` ``(K', A')`` from ``evalImgs`` entries, for :func:`eng.accumulate`.

    Every detection becomes a record whose statuses come from its entries (true positive where matched and not
    ignored, ignored where ``dtIgnore``, false positive otherwise); its rank is its place in the entry. Categories,
    ranges and images are renumbered 0.. in selection order.
    """
    T = len(frame.thr)
    Kp, Ap = len(sel.k_list), len(sel.a_list)
    sub = replace(frame, img_ids=np.arange(len(sel.i_list)), cat_ids=np.arange(Kp),
                  area_lo=np.zeros(Ap), area_hi=np.full(Ap, np.inf), max_dets=tuple(sorted(sel.m_list)))
    g = _gather(eval_imgs, sel)
    npig = np.zeros((Kp, Ap), dtype=np.int64)
    if not g.n:
        return sub, eng.MatchRecords.empty(Ap, T), npig
    n = np.asarray(g.n, dtype=np.int64)
    N = int(n.sum())
    status = np.empty((N, Ap, T), dtype=np.uint8)
    for aa in range(Ap):
        dtm, dig = _joined(g.dtm[aa], T), _joined(g.dig[aa], T).astype(bool)
        status[:, aa, :] = np.where(dig, eng.IGNORED, np.where(dtm != 0, eng.TP, eng.FP)).T
        owner = np.repeat(np.asarray(g.kk), [len(x) for x in g.gig[aa]])
        gig = _joined(g.gig[aa], None) if g.gig[aa] else np.zeros(0)
        npig[:, aa] = np.bincount(owner, weights=gig == 0, minlength=Kp).astype(np.int64)
    starts = np.cumsum(n) - n
    records = eng.MatchRecords(
        score=np.fromiter((v for part in g.scores for v in part), dtype=np.float64, count=N),
        cat=np.repeat(np.asarray(g.kk, np.int32), n), img=np.repeat(np.asarray(g.ii, np.int64), n),
        rank=(np.arange(N) - np.repeat(starts, n)).astype(np.int32), area=np.zeros(N),
        cand=np.arange(N, dtype=np.int64), status=status)
    return sub, records, npig


def _joined(parts: list[Any], T: int | None) -> np.ndarray:
    """``(T, n)`` arrays side by side, or (``T`` None) 1-d arrays one after another; pycocotools' entries hold such
    arrays, anything else is reshaped first."""
    shape = (-1,) if T is None else (T, -1)
    try:
        out = np.concatenate(parts, axis=len(shape) - 1)
        if out.ndim == len(shape) and (T is None or out.shape[0] == T):
            return out
    except (ValueError, TypeError, np.exceptions.AxisError):
        pass
    return np.concatenate([np.asarray(x).reshape(shape) for x in parts], axis=len(shape) - 1)
