"""COCO detection and instance-segmentation evaluation, equal to pycocotools' ``COCOeval``.

The numbers (``stats``, ``precision``, ``recall``, ``scores``) equal ``COCOeval.evaluate(); accumulate();
summarize()`` on the same input, to the last bit in practice and to 1e-9 by test. The work is vectorised: one sort
of all detections, one pass of pairwise IoU over the (image, category) groups, and a greedy matching that walks the
detection ranks (at most ``max(maxDets)`` steps) for every area range and IoU threshold at once.

Definitions (pycocotools' own, kept by default):

* detections are sorted by score, ties keeping file order (stable sort), and only the top ``max(maxDets)`` of each
  (image, category) are matched; each ``maxDets`` then keeps the top-``m`` of every (image, category);
* a detection matches the unmatched ground truth of highest IoU ``>= t`` (ties go to the later one in file order),
  preferring ground truth that is not ignored; crowd regions absorb any number of detections (their IoU is
  intersection over the detection's area) and those are ignored, not counted;
* ground truth is ignored in an area range when ``area`` (the annotation's ``area`` field, not the box) is outside
  ``[lo, hi]`` (both ends inclusive); an unmatched detection whose area is outside the range is ignored;
* categories without ground truth in a range get precision ``-1`` (``None`` in :meth:`COCOResult.metrics_dict`) and
  their detections are dropped; precision is interpolated at 101 recall points.

Known pycocotools defects, reproduced by default with a :class:`~annokit.errors.PycocotoolsQuirkWarning` and fixed
with ``fixed=True``:

* a ground truth whose ``id`` is 0 never counts as matched (its detection counts as a false positive);
* the ``ignore`` flag of an annotation is overwritten by ``iscrowd`` (fixed: ``ignore or iscrowd``);
* the summary's first AP uses ``maxDets=100`` and the others ``maxDets[2]`` whatever the parameters say, and only
  the area labels ``small / medium / large`` (fixed: ``maxDets[-1]`` and every named range);
* an empty results list crashes pycocotools (annokit scores no detections in both modes, with a warning).

String image ids are accepted and evaluated in their sorted order, as pycocotools does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from annokit._internal.arrays import index_of
from annokit._internal.progress import Progress, tracked
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import FormatError, PycocotoolsQuirkWarning, ValidationError

__all__ = ["COCOParams", "COCOResult", "evaluate", "STAT_KEYS"]

STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_STD_AREA = {"small": "s", "medium": "m", "large": "l"}


def _default_iou_thrs() -> np.ndarray:
    return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def _default_rec_thrs() -> np.ndarray:
    return np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


@dataclass(frozen=True)
class COCOParams:
    """Evaluation parameters, as ``COCOeval.params`` (defaults equal pycocotools').

    ``area_rng`` and ``area_labels`` go together; the first range is normally ``all``. ``img_ids`` / ``cat_ids``
    restrict the evaluation (default: every image and category of the ground truth).
    """

    iou_type: Literal["bbox", "segm"] = "bbox"
    iou_thrs: tuple[float, ...] = tuple(_default_iou_thrs().tolist())
    rec_thrs: tuple[float, ...] = tuple(_default_rec_thrs().tolist())
    max_dets: tuple[int, ...] = (1, 10, 100)
    area_rng: tuple[tuple[float, float], ...] = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
    area_labels: tuple[str, ...] = ("all", "small", "medium", "large")
    img_ids: tuple[int, ...] | None = None
    cat_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.iou_type not in ("bbox", "segm"):
            raise ValidationError(f"iou_type must be 'bbox' or 'segm', got {self.iou_type!r}")
        if len(self.area_rng) != len(self.area_labels):
            raise ValidationError("area_rng and area_labels must have the same length")
        if not self.iou_thrs or not self.max_dets:
            raise ValidationError("iou_thrs and max_dets must not be empty")
        if any(m <= 0 for m in self.max_dets):
            raise ValidationError("max_dets must be positive")

    @classmethod
    def build(
        cls,
        *,
        iou_type: str = "bbox",
        iou_thrs: Sequence[float] | None = None,
        max_dets: Sequence[int] | None = None,
        area_rng: Sequence[str] | dict[str, tuple[float, float]] | None = None,
    ) -> COCOParams:
        """Parameters from CLI-style values; ``area_rng`` as ``["nano=0:64", ...]`` or ``{"nano": (0, 64)}``.

        Named ranges replace small/medium/large; ``all = [0, 1e10]`` stays first unless named.
        """
        kw: dict[str, Any] = {"iou_type": iou_type}
        if iou_thrs:
            kw["iou_thrs"] = tuple(float(x) for x in iou_thrs)
        if max_dets:
            kw["max_dets"] = tuple(int(x) for x in max_dets)
        if area_rng:
            items: list[tuple[str, tuple[float, float]]] = []
            if isinstance(area_rng, dict):
                items = [(k, (float(v[0]), float(v[1]))) for k, v in area_rng.items()]
            else:
                for spec in area_rng:
                    try:
                        name, rng = spec.split("=", 1)
                        lo, hi = rng.split(":", 1)
                        items.append((name.strip(), (float(lo), float(hi))))
                    except ValueError:
                        raise ValidationError(f"area range {spec!r}: expected NAME=LO:HI") from None
            if "all" not in [n for n, _ in items]:
                items.insert(0, ("all", (0.0, 1e5**2)))
            kw["area_rng"] = tuple(r for _, r in items)
            kw["area_labels"] = tuple(n for n, _ in items)
        return cls(**kw)


@dataclass
class COCOResult:
    """The output of :func:`evaluate`: pycocotools' arrays plus the summary.

    Attributes
    ----------
    precision : (T, R, K, A, M) float64
        As ``COCOeval.eval['precision']`` (-1 where a category has no ground truth in a range).
    recall : (T, K, A, M) float64
    scores : (T, R, K, A, M) float64
    stats : (12,) float64
        ``COCOeval.stats`` (-1 where undefined).
    extra_stats : dict
        ``AP_<label>`` / ``AR_<label>`` for named area ranges other than all/small/medium/large.
    dt_matches : (T, N) int64
        For every row of the detections given, the matched ground-truth row (area range ``all``), -1 if none
        (also -1 for detections not evaluated: beyond ``max(maxDets)`` or of a category without ground truth).
    gt_matches : (T, G) int64
        For every ground-truth row, the matched detection row, -1 if none.
    """

    params: COCOParams
    cat_ids: np.ndarray
    cat_names: list[str]
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    stats: np.ndarray
    extra_stats: dict[str, float]
    stat_labels: list[str]
    dt_matches: np.ndarray
    gt_matches: np.ndarray
    fixed: bool = False
    notes: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------------------------------- views
    def metrics_dict(self) -> dict[str, float | None]:
        """``{"AP": .., "AP50": .., ...}`` (the 12 keys, then ``AP_<label>`` / ``AR_<label>``); None for -1."""
        out: dict[str, float | None] = {k: _none(v) for k, v in zip(STAT_KEYS, self.stats.tolist())}
        out.update({k: _none(v) for k, v in self.extra_stats.items()})
        return out

    def class_ap(self, k: int, *, iou: float | None = None, area: str = "all") -> float | None:
        p = self.params
        a = p.area_labels.index(area) if area in p.area_labels else None
        if a is None:
            return None
        s = self.precision[:, :, k, a, -1]
        if iou is not None:
            t = np.flatnonzero(np.asarray(p.iou_thrs) == iou)
            s = s[t]
        s = s[s > -1]
        return float(np.mean(s)) if s.size else None

    def per_class_dict(self) -> dict[str, dict[str, float | None]]:
        """``{name: {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"}}`` (area ``all``, ``maxDets[-1]``)."""
        out: dict[str, dict[str, float | None]] = {}
        p = self.params
        for k, name in enumerate(self.cat_names):
            r = self.recall[:, k, 0, -1]
            r = r[r > -1]
            entry = {
                "AP": self.class_ap(k),
                "AP50": self.class_ap(k, iou=0.5),
                "AP75": self.class_ap(k, iou=0.75),
                "APs": self.class_ap(k, area="small"),
                "APm": self.class_ap(k, area="medium"),
                "APl": self.class_ap(k, area="large"),
                f"AR{p.max_dets[-1]}": float(np.mean(r)) if r.size else None,
            }
            key = name if name not in out else f"{name} (id {int(self.cat_ids[k])})"
            out[key] = entry
        return out

    def summary_text(self) -> str:
        """The familiar 12-line summary (plus one line per extra named area range)."""
        return "\n".join(self.stat_labels)

    def per_class_table(self) -> str:
        rows = self.per_class_dict()
        width = max([len("category"), *(len(n) for n in rows)])
        lines = [f"{'category':<{width}}      AP    AP50    AP75"]
        for name, e in rows.items():
            lines.append(f"{name:<{width}}  " + "  ".join(_fmt(e[k]) for k in ("AP", "AP50", "AP75")))
        return "\n".join(lines)


def _none(v: float) -> float | None:
    return None if v == -1 or not np.isfinite(v) else float(v)


def _fmt(v: float | None) -> str:
    return "     -" if v is None else f"{v:6.3f}"


# --------------------------------------------------------------------------------------------------- evaluation
def evaluate(
    gt: Dataset, dt: Instances, *, params: COCOParams | None = None, fixed: bool = False,
    progress: Progress | None = None,
) -> COCOResult:
    """Evaluate detections ``dt`` (with scores) against ``gt`` exactly as pycocotools' COCOeval does.

    Parameters
    ----------
    gt : Dataset
        Ground truth (``annotations.area`` is the COCO ``area``; ``iscrowd`` marks crowd regions).
    dt : Instances
        Detections with ``scores``; ``area`` is the detection's area (``w * h`` for boxes, the mask area for masks,
        as ``COCO.loadRes`` sets it). Row order is the results file order (it breaks score ties).
    params : COCOParams
        Defaults equal pycocotools'.
    fixed : bool
        Fix pycocotools' known defects instead of reproducing them (see the module docstring).

    Examples
    --------
    >>> from annokit.io.coco import read_instances, read_results       # doctest: +SKIP
    >>> gt = read_instances("gt.json"); dt = read_results("pred.json", gt)  # doctest: +SKIP
    >>> evaluate(gt, dt).metrics_dict()["AP"]                           # doctest: +SKIP
    """
    p = params or COCOParams()
    if dt.scores is None:
        raise ValidationError("evaluate: the detections have no scores")
    notes: list[str] = []
    max_dets = tuple(sorted(p.max_dets))
    if max_dets != tuple(p.max_dets):
        p = COCOParams(**{**p.__dict__, "max_dets": max_dets})
    img_ids = np.unique(np.asarray(p.img_ids if p.img_ids is not None else gt.images.ids, dtype=np.int64))
    cat_ids = np.unique(np.asarray(p.cat_ids if p.cat_ids is not None else gt.categories.ids, dtype=np.int64))
    I, K, A, T = len(img_ids), len(cat_ids), len(p.area_rng), len(p.iou_thrs)
    thr = np.minimum(np.asarray(p.iou_thrs, dtype=np.float64), 1 - 1e-10)
    area_lo = np.array([r[0] for r in p.area_rng], dtype=np.float64)
    area_hi = np.array([r[1] for r in p.area_rng], dtype=np.float64)
    max_det = max_dets[-1]

    ga = gt.annotations
    g_img, g_cat = index_of(img_ids, ga.image_ids), index_of(cat_ids, ga.labels)
    g_rows = np.flatnonzero((g_img >= 0) & (g_cat >= 0))
    d_img, d_cat = index_of(img_ids, dt.image_ids), index_of(cat_ids, dt.labels)
    d_keep = np.flatnonzero((d_img >= 0) & (d_cat >= 0))

    # ---- ground truth: group by (image, category), file order kept inside a group
    g_group_all = g_img[g_rows] * K + g_cat[g_rows]
    g_ord = np.argsort(g_group_all, kind="stable")
    g_rows = g_rows[g_ord]
    G = len(g_rows)
    g_group = g_group_all[g_ord]
    g_crowd = ga.iscrowd[g_rows]
    g_area = ga.area[g_rows]
    g_ids = ga.ids[g_rows]
    g_ign_flag = g_crowd.copy()
    if ga.ignore is not None:
        overwritten = ga.ignore[g_rows] & ~g_crowd
        if fixed:
            g_ign_flag |= ga.ignore[g_rows]
        elif overwritten.any():
            _quirk(notes, f"{int(overwritten.sum())} ground-truth annotations have ignore=1 but iscrowd=0: "
                          "pycocotools overwrites 'ignore' with 'iscrowd', so they are scored "
                          "(fixed=True honours them)")
    if not fixed and (g_ids == 0).any():
        _quirk(notes, "a ground-truth annotation has id 0: pycocotools never counts it as matched "
                      "(its detection becomes a false positive); fixed=True scores it normally")
    # (A, G): ignored in each area range
    g_ign = g_ign_flag[None, :] | (g_area[None, :] < area_lo[:, None]) | (g_area[None, :] > area_hi[:, None])
    g_starts = np.searchsorted(g_group, np.arange(I * K + 1))

    # ---- detections: stable sort by (group, -score), rank inside the group, keep the top max_det
    d_group = d_img[d_keep] * K + d_cat[d_keep]
    d_ord = np.lexsort((-dt.scores[d_keep], d_group))
    d_rows = d_keep[d_ord]
    d_group = d_group[d_ord]
    first = np.searchsorted(d_group, d_group, side="left")
    rank = np.arange(len(d_rows)) - first
    sel = rank < max_det
    d_rows, d_group, rank = d_rows[sel], d_group[sel], rank[sel]
    D = len(d_rows)
    d_area = dt.area[d_rows]
    d_score = dt.scores[d_rows]

    # ---- candidate pairs (detection, ground truth) of the same group
    n_gt = g_starts[d_group + 1] - g_starts[d_group]
    pair_d = np.repeat(np.arange(D), n_gt)
    offs = np.arange(len(pair_d)) - np.repeat(np.cumsum(n_gt) - n_gt, n_gt)
    pair_g = np.repeat(g_starts[d_group], n_gt) + offs
    if p.iou_type == "bbox":
        iou = _pair_box_iou(dt, d_rows, pair_d, ga, g_rows, pair_g, g_crowd)
    else:
        iou = _pair_mask_iou(gt, dt, d_rows, pair_d, g_rows, pair_g, g_crowd, progress=progress)
    keep = iou >= thr.min()
    pair_d, pair_g, iou = pair_d[keep], pair_g[keep], iou[keep]

    # ---- greedy matching, rank by rank, for every (area range, threshold) at once.
    # Only detections with a candidate pair can match: they get compact indices 0..C-1.
    cdet = np.unique(pair_d)
    C = len(cdet)
    dt_gt = np.full((A, T, C), -1, dtype=np.int64)
    taken = np.zeros((A, T, G), dtype=bool)
    if C:
        pair_c = np.searchsorted(cdet, pair_d)
        p_rank = rank[pair_d]
        order = np.lexsort((pair_g, pair_c, p_rank))  # by rank, then detection, then ground-truth file order
        pair_c, pair_g, iou, p_rank = pair_c[order], pair_g[order], iou[order], p_rank[order]
        bounds = np.searchsorted(p_rank, np.arange(max_det + 1))
        for r in range(max_det):
            s, e = bounds[r], bounds[r + 1]
            if s == e:
                continue
            pc, pg, pv = pair_c[s:e], pair_g[s:e], iou[s:e]
            new_seg = np.r_[True, pc[1:] != pc[:-1]]
            seg_start = np.flatnonzero(new_seg)
            seg_of = np.cumsum(new_seg) - 1
            elig = (pv[None, None, :] >= thr[None, :, None]) & (~taken[:, :, pg] | g_crowd[pg][None, None, :])
            reg = ~g_ign[:, pg][:, None, :]  # (A, 1, P): not ignored in that area range
            has_reg = np.logical_or.reduceat(elig & reg, seg_start, axis=2)
            cand = elig & (reg == has_reg[:, :, seg_of])  # regular ground truth first, ignored only if none
            best = np.maximum.reduceat(np.where(cand, pv[None, None, :], -1.0), seg_start, axis=2)
            is_best = cand & (pv[None, None, :] == best[:, :, seg_of])
            pos = np.arange(e - s)
            last = np.maximum.reduceat(np.where(is_best, pos[None, None, :], -1), seg_start, axis=2)  # ties: later
            aa, tt, ss = np.nonzero(last >= 0)
            if aa.size == 0:
                continue
            gsel = pg[last[aa, tt, ss]]
            taken[aa, tt, gsel] = True
            dt_gt[aa, tt, pc[seg_start[ss]]] = gsel

    # ---- per detection: ignored? true positive? (compact form for the matched ones)
    d_out = (d_area[None, :] < area_lo[:, None]) | (d_area[None, :] > area_hi[:, None])  # (A, D)
    matched = dt_gt >= 0
    gsafe = np.where(matched, dt_gt, 0)
    if G:
        m_ign = matched & g_ign[np.arange(A)[:, None, None], gsafe]
        truthy = matched & (g_ids[gsafe] != 0) if not fixed else matched
    else:
        m_ign = np.zeros_like(matched)
        truthy = matched
    c_out = d_out[:, cdet][:, None, :]  # (A, 1, C)
    c_ign = m_ign | (~truthy & c_out)
    c_tp = truthy & ~c_ign
    # an unmatched detection counts (as a false positive) unless outside the area range; the matched ones
    # differ from that by delta in the running count of counted detections
    c_delta = (~c_ign).astype(np.int64) - (~c_out).astype(np.int64)

    precision, recall, scores = _accumulate(
        p, K, A, T, max_dets, d_group, d_score, rank, d_out, cdet, c_tp, c_delta, g_group, g_ign
    )

    stats, extra, labels = _summarize(p, precision, recall, fixed, notes)

    # ---- match records in the caller's row numbering (area 'all' = index 0)
    a_all = p.area_labels.index("all") if "all" in p.area_labels else 0
    dt_matches = np.full((T, len(dt)), -1, dtype=np.int64)
    gt_matches = np.full((T, len(ga)), -1, dtype=np.int64)
    if C:
        mm = dt_gt[a_all]
        tt, cc = np.nonzero(mm >= 0)
        dd = d_rows[cdet[cc]]
        dt_matches[tt, dd] = g_rows[mm[tt, cc]]
        gt_matches[tt, g_rows[mm[tt, cc]]] = dd
    names = [gt.categories.name_of(int(c)) if (gt.categories.ids == c).any() else str(int(c)) for c in cat_ids]
    for n in notes:
        warnings.warn(n, PycocotoolsQuirkWarning, stacklevel=2)
    return COCOResult(params=p, cat_ids=cat_ids, cat_names=names, precision=precision, recall=recall,
                      scores=scores, stats=stats, extra_stats=extra, stat_labels=labels, dt_matches=dt_matches,
                      gt_matches=gt_matches, fixed=fixed, notes=notes)


def _accumulate(
    p: COCOParams, K: int, A: int, T: int, max_dets: tuple[int, ...], d_group: np.ndarray, d_score: np.ndarray,
    rank: np.ndarray, d_out: np.ndarray, cdet: np.ndarray, c_tp: np.ndarray, c_delta: np.ndarray,
    g_group: np.ndarray, g_ign: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``COCOeval.accumulate`` from sparse match records, bit for bit.

    pycocotools walks every detection of a category in score order, with running sums ``tp`` and ``fp`` and
    ``pr = tp / (fp + tp + eps)`` made non-increasing from the right; precision at recall threshold ``r`` is that
    curve at the first position where ``tp / npig >= r``. Recall only changes at true positives and precision only
    rises there, so the curve's suffix maxima are attained at true positives: it is enough to know, at the k-th true
    positive, how many detections were counted (``tp + fp``) up to it. That count is a running sum over all
    detections (those inside the area range), corrected by the few matched detections.
    """
    M = len(max_dets)
    R = len(p.rec_thrs)
    rec_thrs = np.asarray(p.rec_thrs, dtype=np.float64)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    eps = np.spacing(1)
    d_cat = d_group % K
    g_cat = g_group % K
    npig_all = np.stack([np.bincount(g_cat[~g_ign[a]], minlength=K) for a in range(A)], axis=1)  # (K, A)
    # all detections in accumulate order: category, score (desc), image, rank in the image. The rows already
    # run by (image, category, rank), so a stable sort on (category, -score) keeps image and rank order on ties.
    acc_order = np.lexsort((-d_score, d_cat))
    a_idx = np.arange(A)
    for m, md in enumerate(max_dets):
        L = acc_order[rank[acc_order] < md]  # detections kept at this maxDets, in order
        n_L = len(L)
        gpos = np.full(len(d_group), -1, dtype=np.int64)
        gpos[L] = np.arange(n_L)
        cb = np.searchsorted(d_cat[L], np.arange(K + 1))  # category segments of L
        # running count of detections inside the range (inclusive), and its value before each category starts
        cum = np.cumsum(~d_out[:, L], axis=1, dtype=np.int64)
        cum0 = np.concatenate([np.zeros((A, 1), np.int64), cum], axis=1)[:, cb[:-1]]  # (A, K)
        # events: matched detections kept at this maxDets that change the count or are true positives
        ev_a, ev_t, ev_c = np.nonzero((c_tp | (c_delta != 0)) & (gpos[cdet] >= 0)[None, None, :])
        ev_pos = gpos[cdet[ev_c]]
        ev_k = d_cat[cdet[ev_c]]
        key = (ev_k * A + ev_a) * T + ev_t
        o = np.argsort(key * (n_L + 1) + ev_pos)  # unique keys: by (category, range, threshold, position)
        ev_a, ev_t, ev_c, ev_pos, ev_k, key = ev_a[o], ev_t[o], ev_c[o], ev_pos[o], ev_k[o], key[o]
        first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        seg_id = np.cumsum(first) - 1
        delta = c_delta[ev_a, ev_t, ev_c]
        cd = np.cumsum(delta)
        starts = np.flatnonzero(first)
        cd = cd - (cd[starts] - delta[starts])[seg_id]
        counted = cum[ev_a, ev_pos] - cum0[ev_a, ev_k] + cd
        is_tp = c_tp[ev_a, ev_t, ev_c]
        ctp = np.cumsum(is_tp)
        ktp = ctp - (ctp[starts] - is_tp[starts])[seg_id]  # k of the k-th true positive (where is_tp)
        tp_sel = np.flatnonzero(is_tp)
        tp_key = key[tp_sel]
        tp_pr = ktp[tp_sel].astype(np.float64) / (counted[tp_sel].astype(np.float64) + eps)
        tp_score = d_score[L[ev_pos[tp_sel]]]
        kb = np.searchsorted(tp_key // (A * T), np.arange(K + 1)) if len(tp_key) else np.zeros(K + 1, np.int64)
        for k in range(K):
            npig = npig_all[k]
            if not (npig > 0).any():
                continue
            nd = cb[k + 1] - cb[k]
            if nd == 0:
                for a in np.flatnonzero(npig > 0):
                    recall[:, k, a, m] = 0
                    precision[:, :, k, a, m] = 0
                    scores[:, :, k, a, m] = 0
                continue
            s, e = kb[k], kb[k + 1]
            row = tp_key[s:e] - k * A * T  # a * T + t
            n_tp = np.bincount(row, minlength=A * T)
            width = int(n_tp.max()) if e > s else 0
            mat = np.zeros((A * T, width + 1))
            smat = np.zeros((A * T, width + 1))
            col = np.arange(e - s) - np.repeat(np.cumsum(n_tp) - n_tp, n_tp)
            mat[row, col] = tp_pr[s:e]
            smat[row, col] = tp_score[s:e]
            suf = np.maximum.accumulate(mat[:, ::-1], axis=1)[:, ::-1]  # max precision from the k-th TP on
            first_score = d_score[L[cb[k]]]
            for a in a_idx[npig > 0]:
                rows = a * T + np.arange(T)
                # k-th true positive needed for each recall threshold (rc = k / npig, as pycocotools computes)
                need = np.searchsorted(np.arange(npig[a] + 1) / npig[a], rec_thrs, side="left")
                have = n_tp[rows]
                recall[:, k, a, m] = have / npig[a]
                ok = need[None, :] <= have[:, None]
                col_n = np.clip(need - 1, 0, width)
                q = np.where(ok, suf[rows][:, col_n], 0.0)
                sc = np.where(ok, smat[rows][:, col_n], 0.0)
                sc[:, need == 0] = first_score
                precision[:, :, k, a, m] = q
                scores[:, :, k, a, m] = sc
    return precision, recall, scores


def _quirk(notes: list[str], text: str) -> None:
    notes.append(text)


def _pair_box_iou(dt: Instances, d_rows: np.ndarray, pair_d: np.ndarray, ga: Instances, g_rows: np.ndarray,
                  pair_g: np.ndarray, g_crowd: np.ndarray) -> np.ndarray:
    """IoU of each (detection, ground truth) pair, with the same float operations as pycocotools' ``bbIou``."""
    db = dt.boxes[d_rows][pair_d]
    gb = ga.boxes[g_rows][pair_g]
    dwh = dt.widths_heights()[d_rows][pair_d]
    gwh = ga.widths_heights()[g_rows][pair_g]
    iw = np.minimum(db[:, 2], gb[:, 2]) - np.maximum(db[:, 0], gb[:, 0])
    ih = np.minimum(db[:, 3], gb[:, 3]) - np.maximum(db[:, 1], gb[:, 1])
    ok = (iw > 0) & (ih > 0)
    inter = iw * ih
    da = dwh[:, 0] * dwh[:, 1]
    union = np.where(g_crowd[pair_g], da, da + gwh[:, 0] * gwh[:, 1] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ok, inter / union, 0.0)
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def _box_polygon(box: np.ndarray) -> list[list[float]]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [[x1, y1, x1, y2, x2, y2, x2, y1]]


def _pair_mask_iou(gt: Dataset, dt: Instances, d_rows: np.ndarray, pair_d: np.ndarray, g_rows: np.ndarray,
                   pair_g: np.ndarray, g_crowd: np.ndarray, *, progress: Progress | None = None) -> np.ndarray:
    """Mask IoU of each pair: one pycocotools ``iou`` call per image over the masks that pair up there."""
    from annokit.core.masks import mask_iou, segmentation_to_rle

    out = np.zeros(len(pair_d))
    if len(pair_d) == 0:
        return out
    ga = gt.annotations
    img_pos = gt.images.index_of(dt.image_ids[d_rows[pair_d]])
    # pairs are ordered by (image, category) group, hence by image
    cuts = np.flatnonzero(np.r_[True, img_pos[1:] != img_pos[:-1], True])
    d_segs = dt.segmentations
    g_segs = ga.segmentations
    for c in tracked(range(len(cuts) - 1), progress, "mask IoU", len(cuts) - 1):
        s, e = cuts[c], cuts[c + 1]
        ip = int(img_pos[s])
        h, w = int(gt.images.heights[ip]), int(gt.images.widths[ip])
        ud, d_loc = np.unique(pair_d[s:e], return_inverse=True)
        ug, g_loc = np.unique(pair_g[s:e], return_inverse=True)
        d_rles = []
        for j in d_rows[ud]:
            seg = d_segs[j] if d_segs is not None else None
            if seg is None:
                seg = _box_polygon(dt.boxes[j])
            d_rles.append(segmentation_to_rle(seg, h, w))
        g_rles = []
        for j in g_rows[ug]:
            seg = g_segs[j] if g_segs is not None else None
            if seg is None:
                raise FormatError(None, f"annotation id {int(ga.ids[j])}", "no segmentation for mask evaluation")
            g_rles.append(segmentation_to_rle(seg, h, w))
        mat = mask_iou(d_rles, g_rles, g_crowd[ug])
        out[s:e] = mat[d_loc.ravel(), g_loc.ravel()]
    return out


def _summarize(p: COCOParams, precision: np.ndarray, recall: np.ndarray, fixed: bool,
               notes: list[str]) -> tuple[np.ndarray, dict[str, float], list[str]]:
    iou_thrs = np.asarray(p.iou_thrs)
    md = list(p.max_dets)

    def one(ap: bool, iou: float | None = None, area: str = "all", max_dets: int | None = 100) -> float:
        aind = [i for i, lbl in enumerate(p.area_labels) if lbl == area]
        mind = [i for i, m in enumerate(md) if m == max_dets]
        s = precision if ap else recall
        if iou is not None:
            s = s[np.where(iou == iou_thrs)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        s = s[s > -1]
        return -1.0 if s.size == 0 else float(np.mean(s))

    def line(ap: bool, iou: float | None, area: str, max_dets: int | None, value: float) -> str:
        title = "Average Precision" if ap else "Average Recall"
        kind = "(AP)" if ap else "(AR)"
        iou_s = f"{iou_thrs[0]:0.2f}:{iou_thrs[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
        md_s = f"{max_dets:>3d}" if max_dets is not None else "  -"
        return f" {title:<18} {kind} @[ IoU={iou_s:<9} | area={area:>6s} | maxDets={md_s} ] = {value:0.3f}"

    if fixed:
        m_last = md[-1]
        specs = [(True, None, "all", m_last), (True, 0.5, "all", m_last), (True, 0.75, "all", m_last),
                 (True, None, "small", m_last), (True, None, "medium", m_last), (True, None, "large", m_last),
                 (False, None, "all", md[0]), (False, None, "all", md[1] if len(md) > 1 else None),
                 (False, None, "all", md[2] if len(md) > 2 else None),
                 (False, None, "small", m_last), (False, None, "medium", m_last), (False, None, "large", m_last)]
    else:
        m2 = md[2] if len(md) > 2 else None
        if len(md) < 3:
            _quirk(notes, f"maxDets has {len(md)} values: pycocotools' summary needs 3 (it raises IndexError); "
                          "the entries it cannot fill are null")
        elif md[2] != 100 or md[:2] != [1, 10]:
            _quirk(notes, f"maxDets is {md}: pycocotools' summary still reports AP at maxDets=100 "
                          "(fixed=True uses the last maxDets)")
        specs = [(True, None, "all", 100), (True, 0.5, "all", m2), (True, 0.75, "all", m2),
                 (True, None, "small", m2), (True, None, "medium", m2), (True, None, "large", m2),
                 (False, None, "all", md[0]), (False, None, "all", md[1] if len(md) > 1 else None),
                 (False, None, "all", m2), (False, None, "small", m2), (False, None, "medium", m2),
                 (False, None, "large", m2)]
        missing = [a for a in ("small", "medium", "large") if a not in p.area_labels]
        if missing:
            _quirk(notes, f"area ranges {list(p.area_labels)} lack {missing}: pycocotools' summary reports -1 there; "
                          "named ranges are reported as AP_<name> / AR_<name>")
    stats = np.array([one(*s) for s in specs])
    labels = [line(s[0], s[1], s[2], s[3], v) for s, v in zip(specs, stats)]
    extra: dict[str, float] = {}
    m_ext = md[-1] if fixed else (md[2] if len(md) > 2 else md[-1])
    ext_lines_ap, ext_lines_ar = [], []
    for lbl in p.area_labels:
        if lbl in ("all", "small", "medium", "large"):
            continue
        v_ap = one(True, None, lbl, m_ext)
        v_ar = one(False, None, lbl, m_ext)
        extra[f"AP_{lbl}"] = v_ap
        extra[f"AR_{lbl}"] = v_ar
        ext_lines_ap.append(line(True, None, lbl, m_ext, v_ap))
        ext_lines_ar.append(line(False, None, lbl, m_ext, v_ar))
    return stats, extra, labels + ext_lines_ap + ext_lines_ar
