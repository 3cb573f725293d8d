"""COCO detection and instance-segmentation evaluation, equal to pycocotools' ``COCOeval``.

The numbers (``stats``, ``precision``, ``recall``, ``scores``) equal ``COCOeval.evaluate(); accumulate();
summarize()`` on the same input, to the last bit in practice and to 1e-9 by test. :func:`evaluate` scores one batch;
:class:`COCOAccumulator` scores detections given in any number of updates, in any order, and merges across
processes, with the same result. Both run the stages of :mod:`annokit.metrics.coco_engine`.

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

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.arrays import sorted_unique
from annokit._internal.forked import fork_available
from annokit._internal.gc import no_gc
from annokit._internal.progress import Progress, tracked
from annokit._internal.threads import run_all, thread_count
from annokit.errors import FormatError, PycocotoolsQuirkWarning, ValidationError
from annokit.metrics import coco_engine as eng
from annokit.metrics.coco_params import COCOParams, IouType

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["COCOAccumulator", "COCOCurves", "COCOParams", "COCOResult", "GroundTruthCounts", "IouType", "evaluate",
           "evaluate_with_accumulator", "STAT_KEYS", "KPT_STAT_KEYS", "MatchState", "SummarySpec", "summary_specs"]

STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
KPT_STAT_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
"""The keypoint summary's keys (pycocotools' ``_summarizeKps`` order)."""
_STD_AREA = {"small": "s", "medium": "m", "large": "l"}


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
        ``COCOeval.stats`` (-1 where undefined); (10,) for keypoints.
    extra_stats : dict
        ``AP_<label>`` / ``AR_<label>`` for named area ranges other than all/small/medium/large.
    dt_matches : (T, N) int64
        For every row of the detections given, the matched ground-truth row (area range ``all``), -1 if none
        (also -1 for detections not evaluated: beyond ``max(maxDets)`` or of a category without ground truth).
        ``(T, 0)`` from :meth:`COCOAccumulator.compute` (rows of several updates share no numbering).
    gt_matches : (T, G) int64
        For every ground-truth row, the matched detection row, -1 if none; ``(T, 0)`` from an accumulator.
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
    fixed: bool = False
    notes: list[str] = field(default_factory=list)
    row_matches: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False, compare=False)
    _matches: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def dt_matches(self) -> np.ndarray:
        """``(T, N)``: matched ground-truth row of every detection row (computed on first use)."""
        return self._row_matches()[0]

    @property
    def gt_matches(self) -> np.ndarray:
        """``(T, G)``: matched detection row of every ground-truth row (computed on first use)."""
        return self._row_matches()[1]

    def _row_matches(self) -> tuple[np.ndarray, np.ndarray]:
        if self._matches is None:
            if self.row_matches is None:
                none = np.zeros((len(self.params.iou_thrs), 0), dtype=np.int64)
                self._matches = (none, none)
            else:
                self._matches = self.row_matches()
        return self._matches

    # ----------------------------------------------------------------------------------------- views
    def metrics_dict(self) -> dict[str, float | None]:
        """``{"AP": .., "AP50": .., ...}`` (the 12 keys -- the 10 of :data:`KPT_STAT_KEYS` for keypoints --, then
        ``AP_<label>`` / ``AR_<label>``); None for -1."""
        keys = KPT_STAT_KEYS if self.params.iou_type == "keypoints" else STAT_KEYS
        out: dict[str, float | None] = {k: _none(v) for k, v in zip(keys, self.stats.tolist())}
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
        """``{name: {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"}}`` (area ``all``, ``maxDets[-1]``): the
        mean of the entries that are not -1, as :meth:`class_ap` (every category at once)."""
        p = self.params
        cols: dict[str, np.ndarray] = {}
        for key, iou, area in (("AP", None, "all"), ("AP50", 0.5, "all"), ("AP75", 0.75, "all"),
                               ("APs", None, "small"), ("APm", None, "medium"), ("APl", None, "large")):
            if area not in p.area_labels:
                if p.iou_type != "keypoints":  # keypoints have no small range by definition: no column
                    cols[key] = np.full(len(self.cat_names), np.nan)
                continue
            s = self.precision[:, :, :, p.area_labels.index(area), -1]
            if iou is not None:
                s = s[np.flatnonzero(np.asarray(p.iou_thrs) == iou)]
            cols[key] = _masked_mean(s.reshape(-1, s.shape[-1]))
        cols[f"AR{p.max_dets[-1]}"] = _masked_mean(self.recall[:, :, 0, -1])
        out: dict[str, dict[str, float | None]] = {}
        values = {k: v.tolist() for k, v in cols.items()}
        for i, name in enumerate(self.cat_names):
            key = name if name not in out else f"{name} (id {int(self.cat_ids[i])})"
            out[key] = {k: None if v[i] != v[i] else v[i] for k, v in values.items()}
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


def _masked_mean(s: np.ndarray) -> np.ndarray:
    """Per column, the mean of the entries that are not -1 (NaN where none)."""
    keep = s > -1
    n = keep.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(keep, s, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


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
    progress : callable, optional
        ``progress(stage, done, total)`` while masks are compared.

    Returns
    -------
    COCOResult
        Equal to one :meth:`COCOAccumulator.update` of all of ``dt`` and :meth:`~COCOAccumulator.compute`, plus
        the per-row matches ``dt_matches`` / ``gt_matches``.

    Examples
    --------
    >>> from annokit.io.coco import read_instances, read_results       # doctest: +SKIP
    >>> gt = read_instances("gt.json"); dt = read_results("pred.json", gt)  # doctest: +SKIP
    >>> evaluate(gt, dt).metrics_dict()["AP"]                           # doctest: +SKIP
    """
    prm = params if params is not None else COCOParams()
    if prm.iou_type == "bbox" and len(dt) >= _PARALLEL_MIN and dt.scores is not None:
        res = _evaluate_in_parts(gt, dt, prm, fixed, thread_count())
        if res is not None:
            return res
    return evaluate_with_accumulator(gt, dt, params=params, fixed=fixed, progress=progress, stacklevel=4)[0]


_PARALLEL_MIN = 20_000
"""Box evaluations of at least this many detections run their categories in blocks (on the threads there are)."""
_BLOCKS_PER_THREAD = 3
"""Category blocks per thread (at least :data:`_MIN_BLOCKS`): smaller blocks, fewer of whose arrays exist at once
(the peak memory; on one thread too). 3 rather than 2 since 2026-12-02: on the 5,000-image bbox benchmark the
command's peak RSS 147-150 MB against 154-159 (sampled, 2 runs each), the same time."""
_MIN_BLOCKS = 4


def _evaluate_in_parts(gt: Dataset, dt: Instances, params: COCOParams, fixed: bool, n: int) -> COCOResult | None:
    """:func:`evaluate` with the categories in ``n`` contiguous blocks (of about as many detections each), each
    block matched and accumulated on a thread of its own (:func:`annokit._internal.threads.run_all`).

    Every stage works category by category (matching inside (image, category) groups; one curve per category), so
    a block's arrays are the whole evaluation's columns for its categories, bit for bit; they are put in their
    places in category order (:meth:`COCOAccumulator.compute_from`). None when there is one block only.
    """
    whole = COCOAccumulator(gt, params=params, fixed=fixed)
    cats = whole.cat_ids
    k_all = whole._frame.cat_index(np.asarray(dt.labels))
    bounds = _category_blocks(k_all, len(cats), max(_MIN_BLOCKS, n * _BLOCKS_PER_THREAD))
    if len(bounds) < 3:
        return None
    subs = [COCOParams(**{**whole.params.__dict__, "cat_ids": tuple(int(c) for c in cats[a:b])})
            for a, b in zip(bounds[:-1], bounds[1:])]

    def part(i: int) -> tuple[tuple[COCOParams, eng.GTGroups, _Batch], COCOCurves]:
        acc = COCOAccumulator(gt, params=subs[i], fixed=fixed)
        batch = acc._batch(dt, None, np.flatnonzero((k_all >= bounds[i]) & (k_all < bounds[i + 1])))
        acc._add(batch.records)
        precision, recall, scores = acc._accumulate()
        k = np.arange(bounds[i], bounds[i + 1])
        assert acc._gtg is not None
        # the block's match records go with its accumulator: only what the per-row matches need is kept
        keep = (acc.params, acc._gtg,
                _Batch(det_rows=batch.det_rows, gt_all=batch.gt_all, records=eng.MatchRecords.empty(0, 0)))
        return keep, COCOCurves(cats=k, precision=precision, recall=recall, scores=scores)

    done = run_all([functools.partial(part, i) for i in range(len(subs))], workers=n)
    res = whole.compute_from([c for _, c in done], stacklevel=5)
    res.row_matches = functools.partial(_parts_row_matches, [m for m, _ in done], len(dt), len(gt.annotations))
    return res


def _category_blocks(cat: np.ndarray, K: int, n: int) -> np.ndarray:
    """``n + 1`` bounds of contiguous category blocks with about as many of the detections ``cat`` (category
    positions, -1 for none) each; fewer blocks when there are fewer categories. Depends on the data only."""
    counts = np.bincount(cat[cat >= 0], minlength=K) if K else np.zeros(0, np.int64)
    cum = np.cumsum(counts)
    total = int(cum[-1]) if K else 0
    cuts = np.searchsorted(cum, [total * i / n for i in range(1, n)], side="left") + 1
    return sorted_unique(np.concatenate([[0], np.clip(cuts, 1, K), [K]])) if K else np.array([0, 0])


def _parts_row_matches(parts: list[tuple[COCOParams, eng.GTGroups, _Batch]], n_dt: int, n_gt: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The per-row matches of category blocks, put together (each row is in one block's categories or none)."""
    dt_matches, gt_matches = _row_matches(*parts[0], n_dt, n_gt)
    for params, gtg, batch in parts[1:]:
        d, g = _row_matches(params, gtg, batch, n_dt, n_gt)
        np.maximum(dt_matches, d, out=dt_matches)
        np.maximum(gt_matches, g, out=gt_matches)
    return dt_matches, gt_matches


def evaluate_with_accumulator(
    gt: Dataset, dt: Instances, *, params: COCOParams | None = None, fixed: bool = False,
    progress: Progress | None = None, stacklevel: int = 3,
) -> tuple[COCOResult, COCOAccumulator]:
    """:func:`evaluate`, and the accumulator that holds its match records (for sliced evaluation and the bootstrap:
    :meth:`COCOAccumulator.compute_subset`, :meth:`COCOAccumulator.match_state`).

    Examples
    --------
    >>> from annokit.io.coco import read_instances, read_results
    >>> gt = read_instances("sample_data/scenes/gt.json")
    >>> res, acc = evaluate_with_accumulator(gt, read_results("sample_data/scenes/pred.json", gt))
    >>> bool(acc.compute().stats[0] == res.stats[0])
    True
    """
    acc = COCOAccumulator(gt, params=params, fixed=fixed)
    batch = acc._batch(dt, progress)
    acc._add(batch.records)
    res = acc.compute(stacklevel=stacklevel)
    assert acc._gtg is not None
    res.row_matches = functools.partial(_row_matches, acc.params, acc._gtg, batch, len(dt), len(gt.annotations))
    return res, acc


@dataclass(frozen=True)
class MatchState:
    """What :meth:`COCOAccumulator.compute` works from, for analyses that accumulate again without matching again
    (sliced evaluation, bootstrap resamples). Read-only.

    ``frame``: the evaluated image and category ids and the parameters as arrays; ``records``: the match record of
    every detection kept, in accumulate order (``records.img`` indexes ``frame.img_ids``, ``records.cat``
    ``frame.cat_ids``); ``group_keys`` (sorted) and ``group_npig`` ``(n_groups, A)``: per (image, category) group
    that has ground truth (key ``image_index * K + category_index``), the ground truth not ignored in each area
    range.
    """

    params: COCOParams
    fixed: bool
    frame: eng.EvalFrame
    records: eng.MatchRecords
    group_keys: np.ndarray
    group_npig: np.ndarray
    cat_names: list[str]

    def npig(self, weights: np.ndarray) -> np.ndarray:
        """``(K, A)``: the ground truth not ignored of a multiset of the images, ``weights`` ``(I,)`` integers per
        image of ``frame.img_ids`` (0 / 1: a subset; counts: a bootstrap resample)."""
        K, A = self.frame.shape[:2]
        if K == 0 or len(self.group_keys) == 0:
            return np.zeros((K, A), dtype=np.int64)
        w = np.asarray(weights, dtype=np.int64)[self.group_keys // K]
        cat = self.group_keys % K
        return np.stack([np.bincount(cat, weights=w * self.group_npig[:, a], minlength=K) for a in range(A)],
                        axis=1).astype(np.int64)


@dataclass(frozen=True)
class _Batch:
    """One update's match records, and what its per-row matches are made of (kept by :func:`evaluate`): the
    detections that matched something (``det_rows``, rows of the caller's detections) and their matches in area
    range ``all`` (``gt_all`` ``(C, T)``, :class:`~annokit.metrics.coco_engine.GTGroups` indices, -1 for none)."""

    det_rows: np.ndarray
    gt_all: np.ndarray
    records: eng.MatchRecords


class COCOAccumulator:
    """COCO evaluation over detections given in parts: ``update`` in any order, ``merge`` across processes,
    ``compute`` for the result -- equal to :func:`evaluate` of all the detections at once, however they were split.

    Parameters
    ----------
    gt : Dataset
        Ground truth (``annokit.coco_accumulator(path)`` reads a COCO instances file first).
    iou_type : {"bbox", "segm", "keypoints", "rotated"}
        Ignored when ``params`` is given.
    params : COCOParams, optional
    fixed : bool
        Fix pycocotools' known defects (see the module docstring).

    Notes
    -----
    The detections of one image must come in one update (one call, or one accumulator before a merge): inside an
    image, pycocotools breaks score ties by file order, which only one batch defines. A second batch for an image
    raises :class:`~annokit.errors.ValidationError`. Across images, ties follow image id order, whatever the order
    of the updates. The state is the match records of every detection kept (score, category, image, rank, area
    flags, and per area range and threshold the status of those that matched): no IoU matrix. Pickling keeps that
    and what ``compute`` needs of the ground truth, not the ground truth itself: an unpickled accumulator merges and
    computes; to update it, merge it into one built on the ground truth.

    Examples
    --------
    >>> from annokit.io.coco import read_instances, read_results
    >>> gt = read_instances("sample_data/scenes/gt.json")
    >>> dets = read_results("sample_data/scenes/pred.json", gt)
    >>> a, b = COCOAccumulator(gt), COCOAccumulator(gt)
    >>> _ = a.update(dets[dets.image_ids % 2 == 0]); _ = b.update(dets[dets.image_ids % 2 == 1])
    >>> float(round(a.merge(b).compute().stats[0], 3))
    0.531
    """

    def __init__(self, gt: Dataset, *, iou_type: IouType = "bbox", params: COCOParams | None = None,
                 fixed: bool = False) -> None:
        p = _sorted_params(params if params is not None else COCOParams(iou_type=iou_type))
        self._params, self._fixed = p, fixed
        self._frame = eng.EvalFrame.build(
            p.img_ids if p.img_ids is not None else gt.images.ids,
            p.cat_ids if p.cat_ids is not None else gt.categories.ids,
            p.iou_thrs, p.rec_thrs, p.area_rng, p.max_dets)
        ga = gt.annotations
        ignore, uncounted, self._notes = _gt_flags(ga.iscrowd, ga.ignore, ga.ids, fixed)
        if p.iou_type == "keypoints":
            from annokit.metrics.keypoints import keypoint_ignore

            ignore = ignore | keypoint_ignore(gt, self._frame.img_ids, self._frame.cat_ids)
        if p.iou_type == "rotated" and ga.rboxes is None:
            raise ValidationError("rotated evaluation: the ground truth has no rboxes (annokit.io.rotated.with_rboxes "
                                  "reads them from a COCO file's 'rbox' fields)")
        self._gt: Dataset | None = gt
        self._gtg: eng.GTGroups | None = eng.group_gt(self._frame, ga.image_ids, ga.labels, _gt_area(p, ga),
                                                      ga.iscrowd, ignore, uncounted)
        self._npig = self._gtg.npig
        self._group_keys, self._group_npig = self._gtg.keys, eng.group_npig(self._gtg)
        self._cat_names = _cat_names(gt, self._frame.cat_ids)
        self._chunks: list[eng.MatchRecords] = []
        self._seen = np.zeros(len(self._frame.img_ids), dtype=bool)
        self._part_images: np.ndarray | None = None  # an image part: the ids of its images (sorted)
        self._cat_part: tuple[int, int] | None = None  # a category part: (i, n)

    @property
    def params(self) -> COCOParams:
        return self._params

    @property
    def cat_ids(self) -> np.ndarray:
        """The evaluated category ids, sorted (the order of the result's arrays)."""
        return self._frame.cat_ids

    @property
    def n_detections(self) -> int:
        """Detections recorded so far (those of evaluated images and categories, at most ``max(maxDets)`` per
        image and category)."""
        return sum(len(c) for c in self._chunks)

    def update(self, predictions: Instances | list[dict[str, Any]]) -> COCOAccumulator:
        """Add detections: an :class:`~annokit.core.instances.Instances` with scores, or COCO result dicts (as
        in a results file). Returns ``self``.

        Raises :class:`~annokit.errors.ValidationError` when an image already had detections in an earlier update.
        """
        if self._cat_part is not None:
            raise ValidationError("a category part takes no detections: update the accumulator it came from")
        dt = _as_instances(predictions, self._gt)
        self._check_part(dt)
        self._add(self._batch(dt, None).records)
        return self

    def _check_part(self, dt: Instances) -> None:
        """An image part takes the detections of its images only."""
        if self._part_images is not None and len(dt):
            pos = np.searchsorted(self._part_images, dt.image_ids).clip(0, len(self._part_images) - 1)
            outside = self._part_images[pos] != dt.image_ids
            if outside.any():
                raise ValidationError(f"image {int(dt.image_ids[np.argmax(outside)])} is not in this image part's "
                                      "ground truth")

    def update_with_matches(self, dt: Instances) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`update` with ``dt``, returning its per-row matches as :attr:`COCOResult.dt_matches` /
        :attr:`~COCOResult.gt_matches` give them: ``(T, len(dt))`` matched row of this accumulator's ground-truth
        annotations (an image part's: its own rows) and ``(T, G)`` matched row of ``dt``, -1 if none (area range
        ``all``). An image part's matches, mapped back to the whole dataset's rows, are the whole evaluation's.
        """
        if self._cat_part is not None:
            raise ValidationError("a category part takes no detections: update the accumulator it came from")
        self._check_part(dt)
        batch = self._batch(dt, None)
        self._add(batch.records)
        assert self._gt is not None
        assert self._gtg is not None
        return _row_matches(self._params, self._gtg, batch, len(dt), len(self._gt.annotations))

    def merge(self, other: COCOAccumulator) -> COCOAccumulator:
        """A new accumulator with the detections of both (associative and commutative; neither is changed)."""
        self._check_compatible(other)
        both = self._seen & other._seen
        if both.any():
            img = int(self._frame.img_ids[np.flatnonzero(both)[0]])
            raise ValidationError(f"cannot merge: image {img} has detections in both accumulators (the detections "
                                  "of an image must come in one update)")
        out = object.__new__(COCOAccumulator)
        out.__dict__.update(self.__dict__)
        if out._gt is None and other._gt is not None:
            out._gt, out._gtg = other._gt, other._gtg
        out._chunks = [*self._chunks, *other._chunks]
        out._seen = self._seen | other._seen
        return out

    def compute(self, *, stacklevel: int = 2) -> COCOResult:
        """The result over every detection added so far (warnings for pycocotools' defects the input hits)."""
        if self._cat_part is not None:
            raise ValidationError(f"this accumulator is category part {self._cat_part[0]} of {self._cat_part[1]}: "
                                  "assemble the curves() of every part with compute_from()")
        return self._result(*self._accumulate(), warn=True, stacklevel=stacklevel + 1)

    def compute_subset(self, image_ids: np.ndarray | Sequence[int], *, warn: bool = True) -> COCOResult:
        """The result over the images ``image_ids`` alone, from the match records (nothing is matched again).

        Equal to evaluating a ground truth that holds only these images (and every category) with the detections on
        them: ``maxDets`` cuts per image and category and ties break by image, so restricting the records to the
        images and the ground-truth counts to their groups gives exactly that. An id that is not evaluated is a
        :class:`~annokit.errors.ValidationError`; no ids give the result of no images (every number undefined).

        Examples
        --------
        >>> from annokit.io.coco import read_instances, read_results
        >>> gt = read_instances("sample_data/scenes/gt.json")
        >>> dets = read_results("sample_data/scenes/pred.json", gt)
        >>> acc = COCOAccumulator(gt).update(dets)
        >>> first = list(range(1, 9))
        >>> sub = evaluate(gt.filter(image_ids=first), dets[dets.image_ids <= 8])
        >>> part = acc.compute_subset(first)
        >>> float(round(part.stats[0], 3)), bool(part.stats[0] == sub.stats[0])
        (0.509, True)
        """
        ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
        pos = self._frame.img_index(ids)
        if (pos < 0).any():
            raise ValidationError(f"image id {int(ids[np.argmax(pos < 0)])} is not evaluated")
        keep = np.zeros(len(self._frame.img_ids), dtype=np.int64)
        keep[pos] = 1
        state = self.match_state()
        recs = state.records.select(keep[state.records.img] > 0)
        return self._result(*eng.accumulate(self._frame, recs, state.npig(keep)), warn=warn, stacklevel=2)

    def match_state(self) -> MatchState:
        """What :meth:`compute` works from (the frame, every match record in accumulate order, the ground-truth
        counts per image and category), for analyses that re-accumulate without matching again."""
        return MatchState(params=self._params, fixed=self._fixed, frame=self._frame,
                          records=self._records(), group_keys=self._group_keys,
                          group_npig=self._group_npig, cat_names=list(self._cat_names))

    def _records(self) -> eng.MatchRecords:
        """Every match record so far, in accumulate order (sorted once, then kept: later calls reuse them)."""
        _, A, T = self._frame.shape[:3]
        if not self._chunks:
            return eng.MatchRecords.empty(A, T)
        if len(self._chunks) > 1 or not self._chunks[0].canonical:
            self._chunks = [eng.MatchRecords.concat(self._chunks).canonicalize()]
        return self._chunks[0]

    def _accumulate(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Precision, recall and scores over every match record so far."""
        return eng.accumulate(self._frame, self._records(), self._npig)

    def _result(self, precision: np.ndarray, recall: np.ndarray, scores: np.ndarray, *, warn: bool = True,
                stacklevel: int) -> COCOResult:
        """Summarize accumulated curves (warnings for the notes at ``stacklevel`` above the caller)."""
        notes = list(self._notes)
        stats, extra, labels = _summarize(self._params, precision, recall, self._fixed, notes)
        for n in notes if warn else []:
            warnings.warn(n, PycocotoolsQuirkWarning, stacklevel=stacklevel + 1)
        return COCOResult(params=self._params, cat_ids=self._frame.cat_ids, cat_names=list(self._cat_names),
                          precision=precision, recall=recall, scores=scores, stats=stats, extra_stats=extra,
                          stat_labels=labels, fixed=self._fixed, notes=notes)

    # -------------------------------------------------------------------- parts (evaluation on several machines)
    def image_part(self, gt: Dataset) -> COCOAccumulator:
        """An empty accumulator of this evaluation holding the ground truth of some of its images only.

        Parameters
        ----------
        gt : Dataset
            Some images of this accumulator's ground truth with *every* annotation of those images (and the
            categories). This accumulator needs no ground truth itself (an unpickled one will do).

        Returns
        -------
        COCOAccumulator
            Takes the detections of ``gt``'s images (others raise :class:`~annokit.errors.ValidationError`), merges
            with this accumulator and its other image parts, and computes over the *whole* ground truth (it keeps
            this accumulator's ground-truth counts). Like any accumulator it pickles without its ground truth: a
            part is what is sent with a shard of images to another process.

        Examples
        --------
        >>> from annokit.io.coco import read_instances, read_results
        >>> gt = read_instances("sample_data/scenes/gt.json")
        >>> dets = read_results("sample_data/scenes/pred.json", gt)
        >>> whole = COCOAccumulator(gt)
        >>> odd = gt.images.ids[gt.images.ids % 2 == 1]; even = gt.images.ids[gt.images.ids % 2 == 0]
        >>> parts = [whole.image_part(gt.filter(image_ids=ids)) for ids in (odd, even)]
        >>> _ = parts[0].update(dets[dets.image_ids % 2 == 1]); _ = parts[1].update(dets[dets.image_ids % 2 == 0])
        >>> bool((parts[0].merge(parts[1]).compute().stats == whole.update(dets).compute().stats).all())
        True
        """
        if self._cat_part is not None:
            raise ValidationError("image_part: this accumulator is a category part")
        ga = gt.annotations
        ignore, uncounted, _ = _gt_flags(ga.iscrowd, ga.ignore, ga.ids, self._fixed)
        out = object.__new__(COCOAccumulator)
        out.__dict__.update(self.__dict__)
        out._gt = gt
        out._gtg = eng.group_gt(self._frame, ga.image_ids, ga.labels, ga.area, ga.iscrowd, ignore, uncounted)
        out._chunks = []
        out._seen = np.zeros(len(self._frame.img_ids), dtype=bool)
        out._part_images = np.unique(np.asarray(gt.images.ids))
        return out

    def category_parts(self, n: int) -> list[COCOAccumulator]:
        """The detections recorded so far in ``n`` accumulators by category: part ``i`` keeps the categories at
        positions ``i, i + n, i + 2n, ...`` of :attr:`cat_ids`.

        Parts of the same number from accumulators of the same evaluation merge (and only those); the
        :meth:`curves` of every part, given to :meth:`compute_from`, make the result that :meth:`compute` of all
        the detections gives, bit for bit. Each part holds only its categories' records, so the final accumulation
        of a large evaluation can run on several machines.

        Examples
        --------
        >>> from annokit.io.coco import read_instances, read_results
        >>> gt = read_instances("sample_data/scenes/gt.json")
        >>> acc = COCOAccumulator(gt).update(read_results("sample_data/scenes/pred.json", gt))
        >>> parts = acc.category_parts(2)
        >>> bool((acc.compute_from([p.curves() for p in parts]).precision == acc.compute().precision).all())
        True
        """
        if n < 1:
            raise ValidationError(f"category_parts: n must be at least 1, got {n}")
        if self._cat_part is not None:
            raise ValidationError("category_parts: this accumulator is already a category part")
        parts = []
        for i in range(n):
            out = object.__new__(COCOAccumulator)
            out.__dict__.update(self.__dict__)
            out._chunks = [c for c in (_records_of(r, i, n) for r in self._chunks) if len(c)]
            out._cat_part = (i, n)
            parts.append(out)
        return parts

    def curves(self) -> COCOCurves:
        """Precision, recall and scores of this accumulator's categories (every one, or those of its category
        part): the slices of :class:`COCOResult`'s arrays, for :meth:`compute_from`."""
        precision, recall, scores = self._accumulate()
        K = len(self._frame.cat_ids)
        k = np.arange(K) if self._cat_part is None else np.arange(self._cat_part[0], K, self._cat_part[1])
        return COCOCurves(cats=k, precision=precision[:, :, k], recall=recall[:, k], scores=scores[:, :, k])

    def compute_from(self, curves: Sequence[COCOCurves], *, stacklevel: int = 2) -> COCOResult:
        """The result from the :meth:`curves` of category parts that together hold every category once (of
        accumulators of this evaluation; this one may be empty, or unpickled without its ground truth)."""
        K, A, T, R, M = self._frame.shape
        precision, scores = np.empty((T, R, K, A, M)), np.empty((T, R, K, A, M))
        recall = np.empty((T, K, A, M))
        seen = np.zeros(K, dtype=np.int64)
        for c in curves:
            at: slice | np.ndarray = c.cats  # a block of categories: a slice (a strided copy, not a gather)
            if len(c.cats) and (np.diff(c.cats) == 1).all():
                at = slice(int(c.cats[0]), int(c.cats[-1]) + 1)
            precision[:, :, at], scores[:, :, at], recall[:, at] = c.precision, c.scores, c.recall
            seen[c.cats] += 1
        if (seen != 1).any():
            k = int(np.flatnonzero(seen != 1)[0])
            raise ValidationError(f"compute_from: category {int(self._frame.cat_ids[k])} is in {int(seen[k])} of the "
                                  "curves given (every category must be in exactly one)")
        return self._result(precision, recall, scores, stacklevel=stacklevel)

    def ground_truth_counts(self) -> GroundTruthCounts:
        """What this accumulator counts of its own ground truth (an image part's: of its images' annotations), for
        :meth:`with_ground_truth_counts` of an evaluation whose ground truth was never held in one process.

        Examples
        --------
        >>> from annokit.io.coco import read_instances
        >>> gt = read_instances("sample_data/scenes/gt.json")
        >>> whole = COCOAccumulator(gt)
        >>> odd = gt.images.ids[gt.images.ids % 2 == 1]; even = gt.images.ids[gt.images.ids % 2 == 0]
        >>> counts = [whole.image_part(gt.filter(image_ids=ids)).ground_truth_counts() for ids in (odd, even)]
        >>> bool((GroundTruthCounts.total(counts).npig == whole.ground_truth_counts().npig).all())
        True
        """
        if self._gt is None or self._gtg is None:
            raise ValidationError("ground_truth_counts: this accumulator was unpickled without its ground truth")
        ga = self._gt.annotations
        _, uncounted, _ = _gt_flags(ga.iscrowd, ga.ignore, ga.ids, self._fixed)
        scored = 0 if self._fixed or ga.ignore is None else int((ga.ignore & ~np.asarray(ga.iscrowd, bool)).sum())
        return GroundTruthCounts(npig=self._gtg.npig, group_keys=self._gtg.keys, group_npig=eng.group_npig(self._gtg),
                                 ignore_scored=scored, id_zero=bool(uncounted.any()))

    def with_ground_truth_counts(self, counts: GroundTruthCounts) -> COCOAccumulator:
        """A copy of this accumulator (its match records kept) that counts ``counts`` as its whole ground truth:
        the :meth:`GroundTruthCounts.total` of the :meth:`ground_truth_counts` of image parts that hold every image
        once. Built on the images and categories alone (no annotation), then given the parts' counts, an
        accumulator computes what one built on the whole ground truth computes, bit for bit."""
        K, A = self._frame.shape[:2]
        if counts.npig.shape != (K, A):
            raise ValidationError(f"with_ground_truth_counts: counts of shape {counts.npig.shape}, this evaluation "
                                  f"has {K} categories and {A} area ranges")
        out = object.__new__(COCOAccumulator)
        out.__dict__.update(self.__dict__)
        out._npig, out._group_keys, out._group_npig = counts.npig, counts.group_keys, counts.group_npig
        out._notes = [] if self._fixed else _gt_notes(counts.ignore_scored, counts.id_zero)
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_gt"] = state["_gtg"] = None  # the ground truth stays with its owner: see the class notes
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"_part_images": None, "_cat_part": None, **state})

    # ------------------------------------------------------------------------------------------- internals
    def _batch(self, dt: Instances, progress: Progress | None, rows: np.ndarray | None = None) -> _Batch:
        """One batch of detections through the stages, up to its match records (``rows``: see
        :func:`~annokit.metrics.coco_engine.rank_dets`)."""
        gt, gtg, f = self._gt, self._gtg, self._frame
        if gt is None or gtg is None:
            raise ValidationError("this accumulator was unpickled without its ground truth: merge it into one "
                                  "built on the ground truth to add detections")
        if dt.scores is None:
            raise ValidationError("evaluate: the detections have no scores")
        dets = eng.rank_dets(f, dt.image_ids, dt.labels, dt.scores, rows)
        iou = _pair_iou(self._params, gt, dt, progress)
        pairs = eng.candidate_pairs(gtg, dets, iou, float(f.thr.min()))
        matches = eng.match(f, gtg, dets, pairs)
        del pairs, iou  # the largest arrays of a batch: gone before the records are made
        area = dt.area if self._params.iou_type != "rotated" else _rbox_area(dt)
        records = eng.match_records(f, gtg, dets, matches, dt.scores, area)
        a_all = self._params.area_labels.index("all") if "all" in self._params.area_labels else 0
        return _Batch(det_rows=dets.rows[matches.det], gt_all=np.ascontiguousarray(matches.gt[:, a_all, :]),
                      records=records)

    def _add(self, recs: eng.MatchRecords) -> None:
        again = self._seen[recs.img]
        if again.any():
            img = int(self._frame.img_ids[recs.img[np.argmax(again)]])
            raise ValidationError(f"image {img} already has detections from an earlier update (the detections of "
                                  "an image must come in one update)")
        self._seen[recs.img] = True
        if len(recs):
            self._chunks.append(recs)

    def _check_compatible(self, other: COCOAccumulator) -> None:
        if self._cat_part != other._cat_part:
            raise ValidationError(f"cannot merge category part {self._cat_part} with {other._cat_part} (only parts "
                                  "of the same number merge)")
        f, g = self._frame, other._frame
        same = (self._params == other._params and self._fixed == other._fixed
                and np.array_equal(f.img_ids, g.img_ids) and np.array_equal(f.cat_ids, g.cat_ids)
                and np.array_equal(self._npig, other._npig))
        if not same:
            raise ValidationError("cannot merge accumulators over different ground truth or parameters")


@dataclass(frozen=True)
class GroundTruthCounts:
    """What a COCO evaluation keeps of its ground truth's annotations once matching is done: ``npig`` ``(K, A)``
    the ground truth not ignored per category and area range; ``group_keys`` (sorted) and ``group_npig``
    ``(n_groups, A)`` the same per (image, category) group (as :class:`MatchState`); ``ignore_scored`` the
    annotations with ``ignore=1`` but ``iscrowd=0`` and ``id_zero`` whether one has id 0 (pycocotools' defects,
    counted when not ``fixed``). Counts of image parts over disjoint images add up (:meth:`total`)."""

    npig: np.ndarray
    group_keys: np.ndarray
    group_npig: np.ndarray
    ignore_scored: int
    id_zero: bool

    @staticmethod
    def total(parts: Sequence[GroundTruthCounts]) -> GroundTruthCounts:
        """The counts of the union of image parts that share no image (at least one part)."""
        if not parts:
            raise ValidationError("GroundTruthCounts.total: no parts")
        keys = np.concatenate([p.group_keys for p in parts])
        order = np.argsort(keys, kind="stable")
        if len(keys) > 1 and (keys[order][1:] == keys[order][:-1]).any():
            raise ValidationError("GroundTruthCounts.total: two parts count the same image")
        return GroundTruthCounts(npig=functools.reduce(np.add, [p.npig for p in parts]), group_keys=keys[order],
                                 group_npig=np.concatenate([p.group_npig for p in parts])[order],
                                 ignore_scored=sum(p.ignore_scored for p in parts),
                                 id_zero=any(p.id_zero for p in parts))


@dataclass(frozen=True)
class COCOCurves:
    """The arrays of :class:`COCOResult` for some categories (positions ``cats`` of the evaluated categories):
    ``precision`` and ``scores`` ``(T, R, k, A, M)``, ``recall`` ``(T, k, A, M)``
    (:meth:`COCOAccumulator.curves`)."""

    cats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray


def _records_of(r: eng.MatchRecords, i: int, n: int) -> eng.MatchRecords:
    """The rows of ``r`` whose category position is ``i`` modulo ``n`` (candidates renumbered, order kept)."""
    keep = r.cat % n == i
    ck = keep[r.cand]
    return eng.MatchRecords(score=r.score[keep], cat=r.cat[keep], img=r.img[keep], rank=r.rank[keep],
                            area=r.area[keep], cand=(np.cumsum(keep) - 1)[r.cand[ck]], status=r.status[ck],
                            canonical=r.canonical)


def _sorted_params(p: COCOParams) -> COCOParams:
    """``p`` with ``max_dets`` sorted (pycocotools' arrays follow the sorted order)."""
    md = tuple(sorted(p.max_dets))
    return p if md == tuple(p.max_dets) else COCOParams(**{**p.__dict__, "max_dets": md})


def _gt_flags(iscrowd: np.ndarray, ignore: np.ndarray | None, ids: np.ndarray, fixed: bool
              ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The ground truth's ``ignore`` flag before area ranges and its ``uncounted`` rows, with notes on the
    pycocotools defects they hit (see the module docstring)."""
    flag = np.asarray(iscrowd, dtype=bool).copy()
    scored = 0
    if ignore is not None:
        if fixed:
            flag |= ignore
        else:
            scored = int((ignore & ~flag).sum())
    uncounted = np.zeros(len(ids), dtype=bool) if fixed else (np.asarray(ids) == 0)
    return flag, uncounted, _gt_notes(scored, bool(uncounted.any()))


def _gt_notes(ignore_scored: int, id_zero: bool) -> list[str]:
    """The notes on the pycocotools defects the ground truth hits (counts of :func:`_gt_flags`)."""
    notes: list[str] = []
    if ignore_scored:
        notes.append(f"{ignore_scored} ground-truth annotations have ignore=1 but iscrowd=0: pycocotools overwrites "
                     "'ignore' with 'iscrowd', so they are scored (fixed=True honours them)")
    if id_zero:
        notes.append("a ground-truth annotation has id 0: pycocotools never counts it as matched (its detection "
                     "becomes a false positive); fixed=True scores it normally")
    return notes


def _cat_names(gt: Dataset, cat_ids: np.ndarray) -> list[str]:
    pos = gt.categories.index_of(cat_ids)
    return [gt.categories.names[int(i)] if i >= 0 else str(int(c)) for i, c in zip(pos, cat_ids)]


def _as_instances(predictions: Instances | list[dict[str, Any]], gt: Dataset | None) -> Instances:
    if not isinstance(predictions, list):
        return predictions
    from annokit.core.coco_results import ResultsTarget, result_columns

    if gt is None:
        raise ValidationError("this accumulator was unpickled without its ground truth: merge it into one "
                              "built on the ground truth to add detections")
    cols = result_columns(predictions, ResultsTarget.of(gt), fixed=True)
    cols.warn_unknown("<results>", stacklevel=3)
    return cols.instances()


def _row_matches(p: COCOParams, gtg: eng.GTGroups, batch: _Batch, n_dt: int, n_gt: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(T, N)`` and ``(T, G)`` matches in the caller's row numbering, area range ``all``."""
    T = len(p.iou_thrs)
    dt_matches = np.full((T, n_dt), -1, dtype=np.int64)
    gt_matches = np.full((T, n_gt), -1, dtype=np.int64)
    mm = batch.gt_all  # (C, T)
    cc, tt = np.nonzero(mm >= 0)
    dd = batch.det_rows[cc]
    gg = gtg.rows[mm[cc, tt]]
    dt_matches[tt, dd] = gg
    gt_matches[tt, gg] = dd
    return dt_matches, gt_matches


# ----------------------------------------------------------------------------------------------- IoU
def _pair_iou(p: COCOParams, gt: Dataset, dt: Instances, progress: Progress | None) -> eng.PairIoU:
    ga = gt.annotations
    if p.iou_type == "bbox":
        xywh = getattr(dt, "checked_xywh", None)  # a results file's rows as read (annokit.io.coco.ObjectColumns)
        if isinstance(xywh, np.ndarray):
            return eng.box_pair_iou_xywh(xywh, ga.boxes, ga.source_wh, ga.iscrowd)
        return eng.box_pair_iou(dt.boxes, dt.source_wh, ga.boxes, ga.source_wh, ga.iscrowd)
    if p.iou_type == "keypoints":
        from annokit.metrics.keypoints import keypoint_pair_iou

        assert p.kpt_oks_sigmas is not None
        return keypoint_pair_iou(gt, dt, p.kpt_oks_sigmas)
    if p.iou_type == "rotated":
        from annokit.metrics.rotated import rbox_pair_iou

        assert ga.rboxes is not None
        _rbox_area(dt)
        assert dt.rboxes is not None
        return rbox_pair_iou(dt.rboxes, ga.rboxes, ga.iscrowd)
    return mask_pair_iou(gt, dt, progress=progress)


def _gt_area(p: COCOParams, ga: Instances) -> np.ndarray:
    """The ground truth's area for the area ranges: the ``area`` column; for rotated boxes, ``w * h`` of the rbox
    where the file gave no ``area``."""
    if p.iou_type != "rotated" or ga.extras is None or ga.rboxes is None:
        return np.asarray(ga.area)
    missing = np.array([bool(e.get("_annokit_no_area")) for e in ga.extras], dtype=bool)
    return np.where(missing, ga.rboxes[:, 2] * ga.rboxes[:, 3], ga.area)


def _rbox_area(dt: Instances) -> np.ndarray:
    if dt.rboxes is None:
        raise ValidationError("rotated evaluation: the detections have no rboxes (annokit.io.rotated."
                              "read_rotated_results reads them from a results file's 'rbox' fields)")
    return np.asarray(dt.rboxes[:, 2] * dt.rboxes[:, 3])


def _box_polygon(box: np.ndarray) -> list[list[float]]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [[x1, y1, x1, y2, x2, y2, x2, y1]]


def mask_pair_iou(gt: Dataset, dt: Instances, *, crowd: np.ndarray | None = None,
                  progress: Progress | None = None) -> eng.PairIoU:
    """Mask IoU of pairs: one pycocotools ``iou`` call per image over the masks that pair up there (a detection
    without a segmentation is its box). ``crowd``: the ground truth's crowd flags (default ``iscrowd``; LVIS has no
    crowd regions)."""
    from annokit.core.masks import mask_iou, segmentation_to_rle, segmentations_to_rles
    from annokit.core.packed_rles import PackedRLEs

    ga = gt.annotations
    g_crowd = ga.iscrowd if crowd is None else np.asarray(crowd, dtype=bool)
    d_segs: Sequence[Any] | None = dt.segmentations  # a mask results file's: packed (PackedRLEs)
    # every compressed RLE string checked once, here, not per image (packed ones were, by the reader); polygons
    # and run lengths become strings through pycocotools' encoder
    _check_strings(None if isinstance(d_segs, PackedRLEs) else d_segs, ga.segmentations, dt, ga)

    def one(j: int, h: int, w: int) -> Any:
        seg = d_segs[j] if d_segs is not None else None
        if seg.__class__ is dict and seg.get("counts").__class__ in (str, bytes):
            return seg  # a compressed RLE already (what results files hold): as it is
        return segmentation_to_rle(seg if seg is not None else _box_polygon(dt.boxes[j]), h, w)

    def iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        out = np.zeros(len(d))
        if len(d) == 0:
            return out
        img_pos = gt.images.index_of(dt.image_ids[d])  # pairs run by (image, category) group, hence by image
        cuts = np.flatnonzero(np.r_[True, img_pos[1:] != img_pos[:-1], True])
        ud, d_cut, d_loc = _per_image_unique(d, cuts, len(dt))
        ug, g_cut, g_loc = _per_image_unique(g, cuts, len(ga))
        g_segs = ga.segmentations
        heights, widths = gt.images.heights[img_pos[cuts[:-1]]].tolist(), gt.images.widths[img_pos[cuts[:-1]]].tolist()

        def image_iou(c: int) -> np.ndarray:
            """The IoU of the pairs of image ``c`` (``out[cuts[c]:cuts[c + 1]]``)."""
            s, e, h, w = cuts[c], cuts[c + 1], heights[c], widths[c]
            dj, gj = ud[d_cut[c]: d_cut[c + 1]], ug[g_cut[c]: g_cut[c + 1]]
            d_list, g_list = dj.tolist(), gj.tolist()
            if d_segs is None:
                d_rles: list[Any] = []
            else:  # packed masks (a mask results file's) made into dicts for these detections only
                d_rles = d_segs.dicts(d_list) if isinstance(d_segs, PackedRLEs) else [d_segs[j] for j in d_list]
            if len(d_rles) != len(d_list) or not _compressed_rles(d_rles):  # else: as they are (what files hold)
                d_rles = [one(j, h, w) for j in d_list]
            if g_segs is None or any(g_segs[j] is None for j in g_list):
                j = next(j for j in g_list if g_segs is None or g_segs[j] is None)
                raise FormatError(None, f"annotation id {int(ga.ids[j])}", "no segmentation for mask evaluation")
            g_rles = segmentations_to_rles([g_segs[j] for j in g_list], h, w)
            v: np.ndarray = mask_iou(d_rles, g_rles, g_crowd[gj], checked=True)[d_loc[s:e], g_loc[s:e]]
            return v

        n_img = len(cuts) - 1
        with no_gc():  # RLE lists only; and in a forked child a collection would touch (copy) the parent's pages
            if len(d) >= _FORK_MIN_PAIRS and n_img >= 2 * _FORK_BLOCK and thread_count() > 1 and fork_available():
                _forked_iou(out, cuts, image_iou, n_img)
                if progress is not None:
                    progress("mask IoU", n_img, n_img)
            else:
                for c in tracked(range(n_img), progress, "mask IoU", n_img):
                    out[cuts[c]: cuts[c + 1]] = image_iou(c)
        return out

    return iou


def _check_strings(d_segs: Sequence[Any] | None, g_segs: Sequence[Any] | None, dt: Instances, ga: Any) -> None:
    """The compressed RLE strings among the detections' and the ground truth's segmentations checked to be RLEs of
    their sizes (:func:`annokit.core.masks.first_bad_rle_string`); the first that is not: FormatError naming it."""
    from annokit.core.masks import first_bad_rle_string

    for what, segs, ids in (("detection", d_segs, dt.ids), ("annotation", g_segs, ga.ids)):
        bad = None if segs is None else first_bad_rle_string(segs)
        if bad is not None:
            raise FormatError(None, f"{what} id {int(ids[bad])}", "segmentation: compressed counts are not a valid "
                                    "RLE string of height*width pixels")


def _compressed_rles(segs: list[Any]) -> bool:
    """Whether every segmentation is a dict whose ``counts`` is a string (a compressed RLE, which pycocotools takes
    as it is)."""
    return all(s.__class__ is dict and s.get("counts").__class__ in _STRINGS for s in segs)


_STRINGS = (str, bytes)
_FORK_MIN_PAIRS = 20_000
"""Mask IoU of at least this many pairs is shared with a forked child (:func:`_forked_iou`) when a second core is
idle: pycocotools holds the interpreter lock, so threads would not help."""
_FORK_BLOCK = 8


def _forked_iou(out: np.ndarray, cuts: np.ndarray, image_iou: Callable[[int], np.ndarray], n_img: int) -> None:
    """``out[cuts[c]:cuts[c + 1]] = image_iou(c)`` for every image ``c``, the images shared (blocks of
    :data:`_FORK_BLOCK`, round robin) between this process and a forked child
    (:func:`annokit._internal.forked.fork_split`), which sends back its values. An image that fails (and what
    follows it in a share) is run here again, where its error is raised."""
    from annokit._internal.forked import fork_split

    def run(share: list[int]) -> tuple[tuple[list[int], np.ndarray], int]:
        vals: list[np.ndarray] = []
        try:
            for c in share:
                vals.append(image_iou(c))
        except Exception:  # run here again by the caller, which raises it
            pass
        done = share[: len(vals)]
        return (done, np.concatenate(vals) if vals else np.zeros(0)), len(vals)

    split = fork_split(range(n_img), run, workers=2, block=_FORK_BLOCK)
    for done, vals in split.results:
        if done:
            at = np.asarray(done, dtype=np.int64)
            lens = cuts[at + 1] - cuts[at]
            out[np.repeat(cuts[at] - (np.cumsum(lens) - lens), lens) + np.arange(len(vals))] = vals
    for c in split.leftover:
        out[cuts[c]: cuts[c + 1]] = image_iou(c)


def _per_image_unique(rows: np.ndarray, cuts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pairs cut into images at ``cuts``: the distinct ``rows`` of each image (sorted, image after image), where
    each image's run of them starts (``len(cuts)`` bounds), and each pair's position in its image's run -- one
    ``np.unique`` for all images instead of one per image."""
    img = np.repeat(np.arange(len(cuts) - 1), np.diff(cuts))
    keys, inv = np.unique(img * np.int64(n) + rows, return_inverse=True)
    bounds = np.searchsorted(keys, np.arange(len(cuts)) * np.int64(n))
    return keys % n, bounds, inv.ravel() - bounds[img]


# ----------------------------------------------------------------------------------------------- summary
_Spec = tuple[bool, float | None, str, int | None]
"""One summary line: (AP rather than AR, IoU threshold or None for all, area label, maxDets)."""


def _summary_specs(p: COCOParams, fixed: bool, notes: list[str]) -> list[_Spec]:
    """The 12 lines of ``COCOeval.summarize`` (with pycocotools' fixed ``maxDets=100`` unless ``fixed``); the 10 of
    ``_summarizeKps`` for keypoints (``maxDets=20`` unless ``fixed``)."""
    md = list(p.max_dets)
    if p.iou_type == "keypoints":
        m = md[-1] if fixed else 20
        if not fixed and 20 not in md:
            notes.append(f"maxDets is {md}: pycocotools' keypoint summary reads maxDets=20 and reports -1 "
                         "(fixed=True uses the last maxDets)")
        return [(ap, iou, area, m) for ap in (True, False)
                for iou, area in ((None, "all"), (0.5, "all"), (0.75, "all"), (None, "medium"), (None, "large"))]
    m1 = md[1] if len(md) > 1 else None
    if fixed:
        ml = md[-1]
        return [(True, None, "all", ml), (True, 0.5, "all", ml), (True, 0.75, "all", ml),
                (True, None, "small", ml), (True, None, "medium", ml), (True, None, "large", ml),
                (False, None, "all", md[0]), (False, None, "all", m1),
                (False, None, "all", md[2] if len(md) > 2 else None),
                (False, None, "small", ml), (False, None, "medium", ml), (False, None, "large", ml)]
    m2 = md[2] if len(md) > 2 else None
    if len(md) < 3:
        notes.append(f"maxDets has {len(md)} values: pycocotools' summary needs 3 (it raises IndexError); the "
                     "entries it cannot fill are null")
    elif md[2] != 100 or md[:2] != [1, 10]:
        notes.append(f"maxDets is {md}: pycocotools' summary still reports AP at maxDets=100 (fixed=True uses the "
                     "last maxDets)")
    missing = [a for a in ("small", "medium", "large") if a not in p.area_labels]
    if missing:
        notes.append(f"area ranges {list(p.area_labels)} lack {missing}: pycocotools' summary reports -1 there; "
                     "named ranges are reported as AP_<name> / AR_<name>")
    return [(True, None, "all", 100), (True, 0.5, "all", m2), (True, 0.75, "all", m2),
            (True, None, "small", m2), (True, None, "medium", m2), (True, None, "large", m2),
            (False, None, "all", md[0]), (False, None, "all", m1), (False, None, "all", m2),
            (False, None, "small", m2), (False, None, "medium", m2), (False, None, "large", m2)]


def _summary_value(p: COCOParams, precision: np.ndarray, recall: np.ndarray, spec: _Spec) -> float:
    """``COCOeval._summarize``: the mean of the entries that are not -1 (-1 if none)."""
    ap, iou, area, max_dets = spec
    aind = [i for i, lbl in enumerate(p.area_labels) if lbl == area]
    mind = [i for i, m in enumerate(p.max_dets) if m == max_dets]
    s = precision if ap else recall
    if iou is not None:
        s = s[np.where(iou == np.asarray(p.iou_thrs))[0]]
    s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
    s = s[s > -1]
    return -1.0 if s.size == 0 else float(np.mean(s))


def _summary_line(p: COCOParams, spec: _Spec, value: float) -> str:
    ap, iou, area, max_dets = spec
    title = "Average Precision" if ap else "Average Recall"
    kind = "(AP)" if ap else "(AR)"
    iou_s = f"{p.iou_thrs[0]:0.2f}:{p.iou_thrs[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
    md_s = f"{max_dets:>3d}" if max_dets is not None else "  -"
    return f" {title:<18} {kind} @[ IoU={iou_s:<9} | area={area:>6s} | maxDets={md_s} ] = {value:0.3f}"


def _summarize(p: COCOParams, precision: np.ndarray, recall: np.ndarray, fixed: bool,
               notes: list[str]) -> tuple[np.ndarray, dict[str, float], list[str]]:
    """``stats``, ``AP_<label>`` / ``AR_<label>`` of named area ranges, and the summary lines."""
    specs = _summary_specs(p, fixed, notes)
    stats = np.array([_summary_value(p, precision, recall, s) for s in specs])
    labels = [_summary_line(p, s, v) for s, v in zip(specs, stats)]
    extra: dict[str, float] = {}
    ap_lines: list[str] = []
    ar_lines: list[str] = []
    for key, spec in _named_specs(p, fixed):  # the AP lines first, then the AR lines
        v = _summary_value(p, precision, recall, spec)
        extra[key] = v
        (ap_lines if spec[0] else ar_lines).append(_summary_line(p, spec, v))
    labels += ap_lines + ar_lines
    return stats, extra, labels


def _named_specs(p: COCOParams, fixed: bool) -> list[tuple[str, _Spec]]:
    """``AP_<name>``, ``AR_<name>`` of every named area range other than all / small / medium / large, range by
    range."""
    md = p.max_dets
    m_ext = md[-1] if fixed or p.iou_type == "keypoints" else (md[2] if len(md) > 2 else md[-1])
    named = [lbl for lbl in p.area_labels if lbl not in ("all", "small", "medium", "large")]
    return [(f"{'AP' if ap else 'AR'}_{lbl}", (ap, None, lbl, m_ext)) for lbl in named for ap in (True, False)]


@dataclass(frozen=True)
class SummarySpec:
    """How one number of :meth:`COCOResult.metrics_dict` is read off the arrays: the mean of the ``precision``
    (``ap``) or ``recall`` entries that are not -1 at IoU threshold ``iou`` (None: all), area range label ``area``
    and maxDets ``max_dets`` (None, or a value not in the parameters: no entry, the number is -1)."""

    key: str
    ap: bool
    iou: float | None
    area: str
    max_dets: int | None


def summary_specs(params: COCOParams, *, fixed: bool = False) -> list[SummarySpec]:
    """The numbers of :meth:`COCOResult.metrics_dict`, in its order, as :class:`SummarySpec` (pycocotools'
    ``summarize``, with its fixed ``maxDets=100`` for the first AP unless ``fixed``, then the named area ranges).

    Examples
    --------
    >>> [s.key for s in summary_specs(COCOParams())][:3], summary_specs(COCOParams())[1]
    (['AP', 'AP50', 'AP75'], SummarySpec(key='AP50', ap=True, iou=0.5, area='all', max_dets=100))
    """
    p = _sorted_params(params)
    keys = KPT_STAT_KEYS if p.iou_type == "keypoints" else STAT_KEYS
    specs = [SummarySpec(k, *s) for k, s in zip(keys, _summary_specs(p, fixed, []))]
    return specs + [SummarySpec(k, *s) for k, s in _named_specs(p, fixed)]
