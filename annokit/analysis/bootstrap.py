"""COCO metrics of bootstrap resamples of the images, from the match records: nothing is matched again.

A resample draws the ``I`` evaluated images ``I`` times with replacement; image ``i`` drawn ``c_i`` times counts
``c_i`` times. Its numbers are those ``annokit eval`` (pycocotools) gives on the *resampled dataset*: every drawn
image written out ``c_i`` times, the copies given new image ids that follow the original order (copy ``j`` of
image ``i`` sorts after copy ``j - 1`` and before the first copy of the next image), with their ground truth and
detections -- tested to 1e-9 against exactly that.

Why it needs no matching: a copy of an image has the same matches as the image, so every detection's status at
every (area range, IoU threshold) is the one in :class:`~annokit.metrics.coco_engine.MatchRecords`, and
``maxDets`` cuts per image and category. What changes is how many times each record and each ground truth counts.
pycocotools sorts a category's detections by score, ties by image then rank, so a record with weight ``c`` is ``c``
consecutive copies -- except inside a *tie unit*: records of one image and category with equal scores, which the
resampled dataset repeats as a block (``u1 u2 u1 u2``, not ``u1 u1 u2 u2``). Tie units whose members differ in
status are therefore copied whole, ``max(c)`` times, each copy weighing 0 or 1.

The computation, per category, area range and IoU threshold (a *segment*), over the true positives in score order:
the weighted true-positive count ``tp`` and the weighted count of counted detections ``n`` (true and false
positives, where the range counts them) give precision ``tp / (n + eps)`` exactly as pycocotools computes it (the
same integers in floating point). Recall threshold ``r`` is read at the true positive where ``tp`` first reaches
:func:`~annokit.metrics.coco_engine.recall_steps`; the interpolated precision there is the highest precision at or
after it. Consecutive true positives with nothing counted between them form a *run* (precision only rises along
it), so only each run's end is evaluated. ``n`` is a per-range running count over every record plus corrections at
the few records whose status differs from their range's default; the records between two records with a status of
their own are grouped per image once (a sparse matrix the resample counts are read through).

The per-resample work -- weights, running counts, the runs forward (true positives, precision, thresholds reached)
and backward (the interpolated precision), each segment's sum -- is one compiled loop (numba,
:mod:`annokit.analysis._bootstrap_kernel`) that walks the plan once per chunk of resamples, category by category,
with every resample of the chunk side by side, so nothing of size (resamples, runs) is materialised. It gives the
same floating-point numbers bit for bit as the vectorised numpy form it replaced (the same operations in the same
order, each segment summed as ``np.add.reduceat`` sums; checked against golden values that form wrote).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from annokit.analysis._bootstrap_plan import MaxDetsPlan
from annokit.metrics import coco_engine as eng
from annokit.metrics.coco import MatchState, SummarySpec, summary_specs

__all__ = ["draw_counts", "iter_counts", "ResamplePlan", "ResampleValues"]


def draw_counts(rng: np.random.Generator, n_images: int, n: int) -> np.ndarray:
    """``(n, n_images)`` int32: how many times each image is drawn in each of ``n`` resamples (``n_images`` draws
    with replacement, uniform). Drawn resample by resample from ``rng``, so a sequence of calls gives the same
    resamples however it is cut into calls.

    Examples
    --------
    >>> c = draw_counts(np.random.default_rng(0), 5, 3)
    >>> c.shape, c.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    """
    out = np.empty((n, n_images), dtype=np.int32)
    for b in range(n):
        out[b] = np.bincount(rng.integers(0, n_images, n_images), minlength=n_images) if n_images else 0
    return out


def iter_counts(n_images: int, n_resamples: int, *, seed: int, chunk: int = 64) -> Iterator[np.ndarray]:
    """The counts of ``n_resamples`` resamples (:func:`draw_counts`), ``chunk`` at a time, from ``seed``."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk):
        yield draw_counts(rng, n_images, min(chunk, n_resamples - start))


# ------------------------------------------------------------------------------------------------ the numbers
@dataclass(frozen=True)
class ResampleValues:
    """The numbers of a chunk of ``b`` resamples: ``metrics`` ``(b, len(keys))`` in the order of
    :meth:`COCOResult.metrics_dict <annokit.metrics.coco.COCOResult.metrics_dict>`, ``per_class`` ``(b, K, 2)``:
    AP and AP50 of every category (area ``all``, the last maxDets, as ``per_class_dict``). NaN where the number is
    undefined (pycocotools' -1: no ground truth in the resample)."""

    metrics: np.ndarray
    per_class: np.ndarray


@dataclass(frozen=True)
class _Sums:
    """A chunk's weighted sums: ``npig`` ``(b, K, A)``; per maxDets with a precision plan, ``qsum`` and ``tp``
    ``(b, A, T, K)``; per other (range, maxDets) an AR needs, ``tp_other`` ``(b, T, K)``."""

    npig: np.ndarray
    qsum: dict[int, np.ndarray]
    tp: dict[int, np.ndarray]
    tp_other: dict[tuple[int, int], np.ndarray]


class ResamplePlan:
    """The bootstrap numbers of one model's evaluation, resample after resample, from its match records.

    Parameters
    ----------
    state : MatchState
        :meth:`COCOAccumulator.match_state() <annokit.metrics.coco.COCOAccumulator.match_state>` of the model.
    max_copies : int
        The most times any image is drawn in the resamples to come (tie units are copied that many times).

    Examples
    --------
    >>> from annokit.io.coco import read_instances, read_results
    >>> from annokit.metrics.coco import COCOAccumulator
    >>> gt = read_instances("sample_data/scenes/gt.json")
    >>> acc = COCOAccumulator(gt).update(read_results("sample_data/scenes/pred.json", gt))
    >>> plan = ResamplePlan(acc.match_state(), max_copies=1)
    >>> ones = np.ones((1, len(gt.images)), np.int32)  # every image once: the evaluation itself
    >>> float(round(plan.values(ones).metrics[0, 0], 3)), float(round(acc.compute().stats[0], 3))
    (0.531, 0.531)
    """

    def __init__(self, state: MatchState, *, max_copies: int) -> None:
        self.state = state
        p = state.params
        self.specs: list[SummarySpec] = summary_specs(p, fixed=state.fixed)
        self.keys = [s.key for s in self.specs]
        mds = {s.max_dets for s in self.specs if s.ap and s.max_dets in p.max_dets} | {p.max_dets[-1]}
        self.plans = {m: MaxDetsPlan.build(state, m, max_copies) for m in sorted(mds)}
        self.other = sorted({(a, s.max_dets) for s in self.specs if not s.ap and s.max_dets in p.max_dets
                             and s.max_dets not in self.plans for a in self._areas(s)})
        self._tp_mats = {am: self._tp_matrix(*am) for am in self.other}
        self._npig_mat = self._npig_matrix()

    # ------------------------------------------------------------------------------------------- set up
    def _areas(self, s: SummarySpec) -> list[int]:
        return [i for i, lbl in enumerate(self.state.params.area_labels) if lbl == s.area]

    def _tp_matrix(self, a: int, m: int) -> object:
        """``(I, T * K)`` sparse: true positives of rank below ``m`` in range ``a``, per image and (t, k)."""
        from scipy import sparse

        rec, f = self.state.records, self.state.frame
        K, _, T = f.shape[:3]
        cc, tt = np.nonzero((rec.status[:, a, :] == eng.TP) & (rec.rank[rec.cand] < m)[:, None])
        rows = rec.cand[cc]
        return sparse.csr_matrix((np.ones(len(rows), np.int64), (rec.img[rows], tt * K + rec.cat[rows])),
                                 shape=(len(f.img_ids), T * K))

    def _npig_matrix(self) -> object:
        """``(I, K * A)`` sparse: the ground truth not ignored, per image and (k, a)."""
        from scipy import sparse

        st, f = self.state, self.state.frame
        K, A = f.shape[:2]
        g = np.repeat(np.arange(len(st.group_keys)), A)
        col = (st.group_keys[g] % K) * A + np.tile(np.arange(A), len(st.group_keys)) if K else g
        return sparse.csr_matrix((st.group_npig.ravel().astype(np.int64), (st.group_keys[g] // max(K, 1), col)),
                                 shape=(len(f.img_ids), K * A))

    # ------------------------------------------------------------------------------------------- resamples
    def values(self, counts: np.ndarray) -> ResampleValues:
        """The numbers of the resamples ``counts`` ``(b, I)`` (how many times each image is drawn; no image may be
        drawn more than ``max_copies`` times)."""
        sums = self._sums(np.asarray(counts))
        metrics = np.stack([self._spec(s, sums) for s in self.specs], axis=1)
        return ResampleValues(metrics=metrics, per_class=self._per_class(sums))

    def _sums(self, counts: np.ndarray) -> _Sums:
        f = self.state.frame
        K, A, T = f.shape[:3]
        b = len(counts)
        C = np.ascontiguousarray(counts.T.astype(np.int64))
        npig = np.asarray(self._npig_mat.T @ C).T.reshape(b, K, A)  # type: ignore[attr-defined]
        qsum, tp = {}, {}
        for m, plan in self.plans.items():
            q, t = plan.chunk_sums(counts, npig, f.rec_thrs)
            qsum[m], tp[m] = q.reshape(b, A, T, K), t.reshape(b, A, T, K)
        other = {am: np.asarray(mat.T @ C).T.reshape(b, T, K)  # type: ignore[attr-defined]
                 for am, mat in self._tp_mats.items()}
        return _Sums(npig=npig, qsum=qsum, tp=tp, tp_other=other)

    def _spec(self, s: SummarySpec, sums: _Sums) -> np.ndarray:
        """One summary number of every resample (pycocotools' ``_summarize``: the mean of the entries that are not
        -1; NaN where none)."""
        p = self.state.params
        b = len(sums.npig)
        t_idx = np.arange(len(p.iou_thrs)) if s.iou is None else np.flatnonzero(np.asarray(p.iou_thrs) == s.iou)
        a_idx = self._areas(s)
        if s.max_dets not in p.max_dets or len(t_idx) == 0 or not a_idx:
            return np.full(b, np.nan)
        valid = (sums.npig[:, :, a_idx] > 0).transpose(0, 2, 1)[:, :, None, :]  # (b, a', 1, K)
        n = valid.sum(axis=(1, 2, 3)) * len(t_idx)
        if s.ap:
            total = np.where(valid, sums.qsum[s.max_dets][:, a_idx][:, :, t_idx], 0.0).sum(axis=(1, 2, 3))
            n = n * len(p.rec_thrs)
        else:
            tp = (sums.tp[s.max_dets][:, a_idx] if s.max_dets in sums.tp
                  else np.stack([sums.tp_other[(a, s.max_dets)] for a in a_idx], axis=1))[:, :, t_idx]
            npig = np.maximum(sums.npig[:, :, a_idx], 1).transpose(0, 2, 1)[:, :, None, :]
            total = np.where(valid, tp / npig, 0.0).sum(axis=(1, 2, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def _per_class(self, sums: _Sums) -> np.ndarray:
        """``(b, K, 2)``: AP and AP50 per category (area ``all``, the last maxDets; NaN without ground truth)."""
        p = self.state.params
        b, K = sums.npig.shape[:2]
        out = np.full((b, K, 2), np.nan)
        if "all" not in p.area_labels:
            return out
        a = p.area_labels.index("all")
        q = sums.qsum[p.max_dets[-1]][:, a]  # (b, T, K)
        has = sums.npig[:, :, a] > 0
        R = len(p.rec_thrs)
        out[:, :, 0] = np.where(has, q.sum(axis=1) / (q.shape[1] * R), np.nan)
        t50 = np.flatnonzero(np.asarray(p.iou_thrs) == 0.5)
        if len(t50):
            out[:, :, 1] = np.where(has, q[:, t50].sum(axis=1) / (len(t50) * R), np.nan)
        return out
