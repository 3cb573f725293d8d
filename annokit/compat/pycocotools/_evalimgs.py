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
    """The ``evalImgs`` list of an evaluation (``area_rng`` as the parameters hold it, for ``aRng``)."""
    K, A, T = st.frame.shape[:3]
    n_img = len(st.img_keys)
    out: list[dict[str, Any] | None] = [None] * (K * A * n_img)
    det_gt = np.full((len(st.dets), A, T), -1, dtype=np.int64)
    det_gt[st.matches.det] = st.matches.gt
    g_ids = st.gt.ids[st.gtg.rows]
    d_rows = st.dets.rows
    keys = np.union1d(st.gtg.keys, st.dets.key)
    g_at = np.searchsorted(st.gtg.keys, keys)
    d_lo, d_hi = np.searchsorted(st.dets.key, keys), np.searchsorted(st.dets.key, keys, side="right")
    outside = st.frame.outside(st.dt.area[d_rows])  # (A, D)
    for j, key in enumerate(keys.tolist()):
        i, k = divmod(key, K)
        if g_at[j] < len(st.gtg.keys) and st.gtg.keys[g_at[j]] == key:
            gs, ge = int(st.gtg.starts[g_at[j]]), int(st.gtg.starts[g_at[j] + 1])
        else:
            gs = ge = 0
        ds, de = int(d_lo[j]), int(d_hi[j])
        dt_ids = st.dt.ids[d_rows[ds:de]].tolist()
        dt_scores = st.dt.score[d_rows[ds:de]].tolist()
        for a in range(A):
            entry = _entry(st, a, (gs, ge), (ds, de), det_gt, g_ids, outside[a, ds:de])
            entry.update({"image_id": st.img_keys[i], "category_id": st.cat_keys[k], "aRng": area_rng[a],
                          "maxDet": max_det, "dtIds": dt_ids, "dtScores": dt_scores})
            out[(k * A + a) * n_img + i] = _ordered(entry)
    return out


def _entry(st: EvalState, a: int, g: tuple[int, int], d: tuple[int, int], det_gt: np.ndarray, g_ids: np.ndarray,
           d_out: np.ndarray) -> dict[str, Any]:
    """The match arrays of one (image, category) group in area range ``a``."""
    gs, ge = g
    ign = st.gtg.ign[a, gs:ge]
    gorder = np.argsort(ign, kind="stable")  # counted ground truth first, file order inside
    inv = np.empty(ge - gs, np.int64)
    inv[gorder] = np.arange(ge - gs)
    m = det_gt[d[0]:d[1], a, :].T  # (T, D): matched GTGroups index or -1
    hit = m >= 0
    dtm = np.zeros(m.shape)
    dtm[hit] = g_ids[m[hit]]
    d_ign = np.zeros(m.shape, dtype=bool)
    d_ign[hit] = ign[m[hit] - gs]
    d_ign |= (dtm == 0) & d_out[None, :]
    gtm = np.zeros((m.shape[0], ge - gs))
    tt, dd = np.nonzero(hit)  # by threshold, then rank: a later detection on a crowd region overwrites
    gtm[tt, inv[m[tt, dd] - gs]] = st.dt.ids[st.dets.rows[d[0] + dd]]
    g_ig = ign[gorder].astype(np.int64) if ge > gs else np.array([])
    return {"gtIds": g_ids[gs:ge][gorder].tolist(), "dtMatches": dtm, "gtMatches": gtm, "gtIgnore": g_ig,
            "dtIgnore": d_ign}


_KEYS = ("image_id", "category_id", "aRng", "maxDet", "dtIds", "gtIds", "dtMatches", "gtMatches", "dtScores",
         "gtIgnore", "dtIgnore")


def _ordered(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with pycocotools' key order."""
    return {k: entry[k] for k in _KEYS}


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


def records_from_eval_imgs(eval_imgs: list[Any], sel: AccumulateLists, frame: eng.EvalFrame
                           ) -> tuple[eng.EvalFrame, eng.MatchRecords, np.ndarray]:
    """A frame, match records and ``npig`` ``(K', A')`` from ``evalImgs`` entries, for :func:`eng.accumulate`.

    Every detection becomes a record whose statuses come from its entries (true positive where matched and not
    ignored, ignored where ``dtIgnore``, false positive otherwise); its rank is its place in the entry. Categories,
    ranges and images are renumbered 0.. in selection order.
    """
    T = len(frame.thr)
    Kp, Ap = len(sel.k_list), len(sel.a_list)
    parts_score: list[np.ndarray] = []
    parts_cat: list[np.ndarray] = []
    parts_img: list[np.ndarray] = []
    parts_rank: list[np.ndarray] = []
    parts_status: list[np.ndarray] = []
    npig = np.zeros((Kp, Ap), dtype=np.int64)
    for kk, k0 in enumerate(sel.k_list):
        for ii, i0 in enumerate(sel.i_list):
            entries = [eval_imgs[k0 * sel.A0 * sel.I0 + a0 * sel.I0 + i0] for a0 in sel.a_list]
            got = [e for e in entries if e is not None]
            if not got:
                continue
            if len(got) != len(entries):
                raise AnnokitError("evalImgs: an (image, category) has entries in some area ranges and not others")
            status, n = _statuses(entries, T)
            for aa, e in enumerate(entries):
                npig[kk, aa] += int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
            parts_score.append(np.asarray(got[0]["dtScores"], dtype=np.float64).reshape(n))
            parts_cat.append(np.full(n, kk, np.int32))
            parts_img.append(np.full(n, ii, np.int64))
            parts_rank.append(np.arange(n, dtype=np.int32))
            parts_status.append(status)
    records = _records(parts_score, parts_cat, parts_img, parts_rank, parts_status, Ap, T)
    sub = replace(frame, img_ids=np.arange(len(sel.i_list)), cat_ids=np.arange(Kp),
                  area_lo=frame.area_lo[:Ap] * 0, area_hi=frame.area_hi[:Ap] * 0 + np.inf,
                  max_dets=tuple(sorted(sel.m_list)))
    return sub, records, npig


def _statuses(entries: list[dict[str, Any]], T: int) -> tuple[np.ndarray, int]:
    """``(D, A', T)`` statuses of one (image, category) group's detections from its entries, and ``D``."""
    n = len(entries[0]["dtScores"])
    out = np.empty((n, len(entries), T), dtype=np.uint8)
    for aa, e in enumerate(entries):
        dtm = np.asarray(e["dtMatches"]).reshape(T, n)
        dig = np.asarray(e["dtIgnore"]).reshape(T, n).astype(bool)
        out[:, aa, :] = np.where(dig, eng.IGNORED, np.where(dtm != 0, eng.TP, eng.FP)).T
    return out, n


def _records(score: list[np.ndarray], cat: list[np.ndarray], img: list[np.ndarray], rank: list[np.ndarray],
             status: list[np.ndarray], A: int, T: int) -> eng.MatchRecords:
    """Records with every row a candidate (its statuses given), areas inside every range."""
    if not score:
        return eng.MatchRecords.empty(A, T)
    s = np.concatenate(score)
    return eng.MatchRecords(score=s, cat=np.concatenate(cat), img=np.concatenate(img), rank=np.concatenate(rank),
                            area=np.zeros(len(s)), cand=np.arange(len(s), dtype=np.int64),
                            status=np.concatenate(status))
