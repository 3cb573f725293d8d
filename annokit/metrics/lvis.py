"""LVIS v1 federated evaluation, equal to ``lvis`` 0.5.3's ``LVISEval`` (the LVIS API).

LVIS is exhaustively annotated for no category: each image lists the categories verified absent
(``neg_category_ids``) and those whose instances are not all annotated (``not_exhaustive_category_ids``); the
categories with an annotation in the image are its positives. The rules, as ``LVISEval`` applies them:

* **300 detections per image.** Of each image's detections, over *all* categories (those the ground truth does
  not evaluate there, and unknown category ids, count too), the 300 of highest score are kept; ties keep file
  order (a stable sort). This happens when the results are loaded, before anything else.
* **Federated filter.** A detection is evaluated only where its category is a positive or a negative of its
  image; elsewhere it is dropped (neither true nor false positive). On a negative category every detection is a
  false positive (there is no ground truth to match).
* **Not exhaustive.** A detection of a category in its image's ``not_exhaustive_category_ids`` that matches
  nothing is ignored (not a false positive), in every area range.
* **Matching** as COCO's, with no crowd regions (``iscrowd`` is not read): per image and category, detections by
  score (ties in file order) take the unmatched ground truth of highest IoU ``>= t`` (ties to the later one),
  preferring ground truth that is not ignored. Ground truth is ignored when its ``ignore`` field is set or its
  ``area`` is outside the range; an unmatched detection is ignored when its area is outside the range. No maxDets
  per image and category: the 300 per image is the only cut.
* **Accumulation** is COCO's (101 recall points; precision -1 where a category has no counted ground truth in a
  range).
* **Summary**: ``AP`` (IoU .50:.95, area all), ``AP50``, ``AP75``, ``APs`` / ``APm`` / ``APl``, ``APr`` / ``APc`` /
  ``APf`` -- the mean of every precision entry that is not -1 over the categories of that frequency group (from
  the categories' ``frequency``: ``r`` rare, ``c`` common, ``f`` frequent), area all --, and ``AR@300`` /
  ``ARs@300`` / ``ARm@300`` / ``ARl@300``. An empty group or a range without counted ground truth gives -1
  (``None`` in :meth:`LVISResult.metrics_dict`).

Box IoU is pycocotools' (``[x, y, w, h]`` as the files give them); mask IoU too, a detection without a segmentation
being its box. A detection's area is its box's ``w * h`` when the results have boxes, else its mask's.

Defect of the reference reproduced by default, fixed with ``fixed=True``: a ground truth whose ``id`` is 0 is
never counted as matched (its detection is a false positive), as in pycocotools. ``LVISEval`` crashes on an empty
results list; annokit scores no detections.

The stages are :mod:`annokit.metrics.coco_engine`'s. The not-exhaustive rule enters them as an area outside every
range for the detections it concerns (the engine ignores an unmatched detection whose area is outside the range;
a matched one keeps its status), so the engine is used unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.lvis import FREQUENCY_GROUPS, check_lvis_fields
from annokit.errors import ValidationError
from annokit.metrics import coco_engine as eng

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

__all__ = ["LVISAccumulator", "LVISParams", "LVISResult", "evaluate_lvis", "top_per_image"]


def _linspace(a: float, b: float, step: float) -> tuple[float, ...]:
    return tuple(np.linspace(a, b, int(np.round((b - a) / step)) + 1, endpoint=True).tolist())


@dataclass(frozen=True)
class LVISParams:
    """``LVISEval``'s parameters (defaults equal the reference's ``Params``)."""

    iou_type: Literal["bbox", "segm"] = "bbox"
    iou_thrs: tuple[float, ...] = _linspace(0.5, 0.95, 0.05)
    rec_thrs: tuple[float, ...] = _linspace(0.0, 1.0, 0.01)
    max_dets: int = 300
    area_rng: tuple[tuple[float, float], ...] = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
    area_labels: tuple[str, ...] = ("all", "small", "medium", "large")
    img_ids: tuple[int, ...] | None = None
    cat_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.iou_type not in ("bbox", "segm"):
            raise ValidationError(f"LVIS iou_type must be 'bbox' or 'segm', got {self.iou_type!r}")
        if self.max_dets <= 0:
            raise ValidationError("max_dets must be positive")
        if len(self.area_rng) != len(self.area_labels) or "all" not in self.area_labels:
            raise ValidationError("area_rng and area_labels must have the same length, with an 'all' range")


@dataclass
class LVISResult:
    """The output of :func:`evaluate_lvis`.

    Attributes
    ----------
    precision : (T, R, K, A) float64
        As ``LVISEval.eval['precision']`` (-1 where a category has no counted ground truth in a range).
    recall : (T, K, A) float64
    results : dict
        ``LVISEval.results``: ``AP AP50 AP75 APs APm APl APr APc APf AR@300 ARs@300 ARm@300 ARl@300`` (-1 where
        undefined).
    frequency : list of str
        Each category's frequency group.
    """

    params: LVISParams
    cat_ids: np.ndarray
    cat_names: list[str]
    frequency: list[str]
    n_gt: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    results: dict[str, float]
    fixed: bool = False
    notes: list[str] = field(default_factory=list)

    def metrics_dict(self) -> dict[str, float | None]:
        """``LVISEval.results`` with ``None`` for -1."""
        return {k: (None if v == -1 or not math.isfinite(v) else float(v)) for k, v in self.results.items()}

    def per_class_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR@300", "frequency", "n_gt"}}`` (area ``all`` for
        AP50 / AP75 / AR): the mean of the entries that are not -1 (``None`` where none)."""
        p, md = self.params, self.params.max_dets
        cols: dict[str, list[float | None]] = {}
        for key, iou, area in (("AP", None, "all"), ("AP50", 0.5, "all"), ("AP75", 0.75, "all"),
                               ("APs", None, "small"), ("APm", None, "medium"), ("APl", None, "large")):
            if area in p.area_labels:
                s = self.precision[:, :, :, p.area_labels.index(area)]
                if iou is not None:
                    s = s[np.flatnonzero(np.asarray(p.iou_thrs) == iou)]
                cols[key] = _masked_means(s.reshape(-1, s.shape[-1]))
        cols[f"AR@{md}"] = _masked_means(self.recall[:, :, p.area_labels.index("all")])
        out: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(self.cat_names):
            key = name if name not in out else f"{name} (id {int(self.cat_ids[i])})"
            row: dict[str, Any] = {k: v[i] for k, v in cols.items()}
            row.update(frequency=self.frequency[i], n_gt=int(self.n_gt[i]))
            out[key] = row
        return out

    def summary_text(self) -> str:
        """``LVISEval.print_results``' lines."""
        p = self.params
        lines = []
        for key, value in self.results.items():
            title, kind = ("Average Precision", "(AP)") if "AP" in key else ("Average Recall", "(AR)")
            iou = (f"{float(key[2:]) / 100:0.2f}" if len(key) > 2 and key[2].isdigit()
                   else f"{p.iou_thrs[0]:0.2f}:{p.iou_thrs[-1]:0.2f}")
            group = key[2] if len(key) > 2 and key[2] in FREQUENCY_GROUPS else "all"
            area = key[2] if len(key) > 2 and key[2] in "sml" else "all"
            lines.append(f" {title:<18} {kind} @[ IoU={iou:<9} | area={area:>6s} | maxDets={p.max_dets:>3d} "
                         f"catIds={group:>3s}] = {value:0.3f}")
        return "\n".join(lines)


def _masked_means(s: np.ndarray) -> list[float | None]:
    keep = s > -1
    n = keep.sum(axis=0)
    tot = np.where(keep, s, 0.0).sum(axis=0)
    return [float(t / c) if c else None for t, c in zip(tot.tolist(), n.tolist())]


# ----------------------------------------------------------------------------------------------- ground truth
@dataclass(frozen=True)
class _Federation:
    """Per (image index, category index) key of the frame: the pairs LVIS evaluates (positive or negative) and those
    not exhaustively annotated, as sorted int64 keys ``img * K + cat``."""

    evaluated: np.ndarray
    not_exhaustive: np.ndarray

    @classmethod
    def of(cls, gt: Dataset, frame: eng.EvalFrame) -> _Federation:
        K = len(frame.cat_ids)
        ga = gt.annotations
        g_img, g_cat = frame.img_index(ga.image_ids), frame.cat_index(ga.labels)
        ok = (g_img >= 0) & (g_cat >= 0)
        pos = g_img[ok] * K + g_cat[ok]
        img_pos = gt.images.index_of(frame.img_ids)
        ex = gt.images.extras or [{}] * len(gt.images)
        neg = cls._keys(frame, img_pos, ex, "neg_category_ids")
        nel = cls._keys(frame, img_pos, ex, "not_exhaustive_category_ids")
        return cls(evaluated=np.unique(np.concatenate([pos, neg])), not_exhaustive=nel)

    @staticmethod
    def _keys(frame: eng.EvalFrame, img_pos: np.ndarray, extras: list[dict[str, Any]], key: str) -> np.ndarray:
        K = len(frame.cat_ids)
        lists = [extras[int(p)].get(key) or [] if p >= 0 else [] for p in img_pos.tolist()]
        n = np.array([len(v) for v in lists], dtype=np.int64)
        cats = np.fromiter((c for v in lists for c in v), dtype=np.int64, count=int(n.sum()))
        img = np.repeat(np.arange(len(lists), dtype=np.int64), n)
        ci = frame.cat_index(cats)
        return np.unique(img[ci >= 0] * K + ci[ci >= 0])

    def status(self, frame: eng.EvalFrame, image_ids: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
        """For detections: evaluated here (a positive or negative category of their image), and not exhaustive."""
        K = len(frame.cat_ids)
        img, cat = frame.img_index(image_ids), frame.cat_index(labels)
        key = np.where((img >= 0) & (cat >= 0), img * K + cat, -1)
        return np.isin(key, self.evaluated), np.isin(key, self.not_exhaustive)


# ----------------------------------------------------------------------------------------------- evaluation
def top_per_image(image_ids: np.ndarray, scores: np.ndarray, max_dets: int) -> np.ndarray:
    """Sorted rows of the ``max_dets`` highest-scored detections of each image, all categories together (ties in
    the given order), as ``LVISResults.limit_dets_per_image``.

    >>> top_per_image(np.array([1, 1, 1, 2]), np.array([0.2, 0.9, 0.9, 0.1]), 2).tolist()
    [1, 2, 3]
    """
    o = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    o = o[np.argsort(np.asarray(image_ids)[o], kind="stable")]
    img = np.asarray(image_ids)[o]
    new = np.r_[True, img[1:] != img[:-1]] if len(img) else np.zeros(0, bool)
    pos = np.arange(len(o))
    rank = pos - np.maximum.accumulate(np.where(new, pos, 0)) if len(o) else pos
    return np.sort(o[rank < max_dets])


def evaluate_lvis(gt: Dataset, dt: Instances, *, params: LVISParams | None = None, fixed: bool = False,
                  progress: Progress | None = None) -> LVISResult:
    """LVIS federated AP of detections ``dt`` against ``gt``, equal to ``LVISEval(gt, dt, iou_type).run()``.

    Parameters
    ----------
    gt : Dataset
        LVIS ground truth: ``frequency`` in every category's extras, ``neg_category_ids`` and
        ``not_exhaustive_category_ids`` in every image's (:func:`annokit.io.lvis.read_lvis`).
    dt : Instances
        Detections with scores, in results-file order (it breaks score ties); ``area`` as ``loadRes`` sets it.
    params : LVISParams, optional
        Defaults equal the reference's (``bbox``; pass ``LVISParams(iou_type="segm")`` for masks).
    fixed : bool
        Count a ground truth of id 0 as matched (the reference never does).
    progress : callable, optional
        ``progress(stage, done, total)`` while masks are compared.

    Returns
    -------
    LVISResult

    Examples
    --------
    >>> from annokit.io.lvis import read_lvis                  # doctest: +SKIP
    >>> from annokit.io.coco import read_results               # doctest: +SKIP
    >>> gt = read_lvis("lvis_v1_val.json")                     # doctest: +SKIP
    >>> evaluate_lvis(gt, read_results("dets.json", gt)).metrics_dict()["APr"]  # doctest: +SKIP
    """
    return LVISAccumulator(gt, params=params, fixed=fixed).update(dt, progress=progress).compute()


class LVISAccumulator:
    """LVIS evaluation over detections given in parts (whole images per update): ``update``, ``merge``,
    ``compute`` -- equal to :func:`evaluate_lvis` of all of them, however they were split.

    The 300-per-image cut and the ties inside an image need all of an image's detections at once, so an image's
    detections must come in one update (a second batch for it raises :class:`~annokit.errors.ValidationError`).
    The state is the engine's match records of the detections kept.

    >>> acc = LVISAccumulator(gt)                              # doctest: +SKIP
    >>> for batch in batches: acc.update(batch)                # doctest: +SKIP
    >>> acc.compute().metrics_dict()                           # doctest: +SKIP
    """

    def __init__(self, gt: Dataset, *, params: LVISParams | None = None, fixed: bool = False) -> None:
        p = params if params is not None else LVISParams()
        check_lvis_fields(gt)
        self._params, self._fixed = p, fixed
        self._frame = eng.EvalFrame.build(
            p.img_ids if p.img_ids is not None else gt.images.ids,
            p.cat_ids if p.cat_ids is not None else gt.categories.ids,
            p.iou_thrs, p.rec_thrs, p.area_rng, (p.max_dets,))
        ga = gt.annotations
        ignore = np.zeros(len(ga), bool) if ga.ignore is None else np.asarray(ga.ignore, dtype=bool)
        uncounted = np.zeros(len(ga), bool) if fixed else (np.asarray(ga.ids) == 0)
        self._notes = [] if not uncounted.any() else [
            "a ground-truth annotation has id 0: LVISEval never counts it as matched (its detection becomes a false "
            "positive); fixed=True scores it normally"]
        self._gt: Dataset | None = gt
        self._gtg: eng.GTGroups | None = eng.group_gt(self._frame, ga.image_ids, ga.labels, ga.area,
                                                      np.zeros(len(ga), bool), ignore, uncounted)
        self._fed: _Federation | None = _Federation.of(gt, self._frame)
        self._npig = self._gtg.npig
        cpos = gt.categories.index_of(self._frame.cat_ids)
        names, cex = gt.categories.names, gt.categories.extras or [{}] * len(gt.categories)
        self._cat_names = [names[int(i)] if i >= 0 else str(int(c)) for i, c in zip(cpos, self._frame.cat_ids)]
        self._freq = [str((cex[int(i)] or {}).get("frequency")) if i >= 0 else "" for i in cpos]
        ci = self._frame.cat_index(ga.labels)[self._frame.img_index(ga.image_ids) >= 0]
        self._n_gt = np.bincount(ci[ci >= 0], minlength=len(self._frame.cat_ids))
        self._chunks: list[eng.MatchRecords] = []
        self._seen = np.zeros(len(self._frame.img_ids), dtype=bool)

    @property
    def params(self) -> LVISParams:
        return self._params

    def update(self, dt: Instances, *, progress: Progress | None = None) -> LVISAccumulator:
        """Add detections (whole images); returns ``self``."""
        gt, gtg, fed, f = self._gt, self._gtg, self._fed, self._frame
        if gt is None or gtg is None or fed is None:
            raise ValidationError("this accumulator was unpickled without its ground truth: merge it into one "
                                  "built on the ground truth to add detections")
        if dt.scores is None:
            raise ValidationError("evaluate_lvis: the detections have no scores")
        unknown = gt.images.index_of(dt.image_ids) < 0
        if unknown.any():
            raise ValidationError(f"detection {int(np.argmax(unknown))}: image id "
                                  f"{int(dt.image_ids[np.argmax(unknown)])} is not in the ground truth")
        img = f.img_index(np.unique(dt.image_ids))
        img = img[img >= 0]
        if self._seen[img].any():
            raise ValidationError(f"image {int(f.img_ids[img[self._seen[img]][0]])} already has detections from an "
                                  "earlier update (the detections of an image must come in one update)")
        self._seen[img] = True
        recs = self._records(gt, gtg, fed, dt, progress)
        if len(recs):
            self._chunks.append(recs)
        return self

    def _records(self, gt: Dataset, gtg: eng.GTGroups, fed: _Federation, dt: Instances,
                 progress: Progress | None) -> eng.MatchRecords:
        """The detections kept (top 300 per image, then the federated filter) through the engine's stages."""
        f = self._frame
        assert dt.scores is not None
        rows = top_per_image(dt.image_ids, dt.scores, self._params.max_dets)
        evaluated, nel = fed.status(f, dt.image_ids[rows], dt.labels[rows])
        rows, nel = rows[evaluated], nel[evaluated]
        d = dt[rows]
        assert d.scores is not None
        area = np.where(nel, -np.inf, d.area)  # unmatched: ignored in every range
        dets = eng.rank_dets(f, d.image_ids, d.labels, d.scores)
        pairs = eng.candidate_pairs(gtg, dets, self._pair_iou(gt, d, progress), float(f.thr.min()))
        matches = eng.match(f, gtg, dets, pairs)
        return eng.match_records(f, gtg, dets, matches, d.scores, area)

    def _pair_iou(self, gt: Dataset, d: Instances, progress: Progress | None) -> eng.PairIoU:
        ga = gt.annotations
        no_crowd = np.zeros(len(ga), dtype=bool)
        if self._params.iou_type == "bbox":
            return eng.box_pair_iou(d.boxes, d.source_wh, ga.boxes, ga.source_wh, no_crowd)
        from annokit.metrics.coco import mask_pair_iou

        return mask_pair_iou(gt, d, crowd=no_crowd, progress=progress)

    def merge(self, other: LVISAccumulator) -> LVISAccumulator:
        """A new accumulator with the detections of both (neither is changed)."""
        same = (self._params == other._params and self._fixed == other._fixed
                and np.array_equal(self._frame.img_ids, other._frame.img_ids)
                and np.array_equal(self._frame.cat_ids, other._frame.cat_ids)
                and np.array_equal(self._npig, other._npig))
        if not same:
            raise ValidationError("cannot merge accumulators over different ground truth or parameters")
        both = self._seen & other._seen
        if both.any():
            raise ValidationError(f"cannot merge: image {int(self._frame.img_ids[np.argmax(both)])} has detections "
                                  "in both accumulators")
        out = object.__new__(LVISAccumulator)
        out.__dict__.update(self.__dict__)
        if out._gt is None:
            out._gt, out._gtg, out._fed = other._gt, other._gtg, other._fed
        out._chunks = [*self._chunks, *other._chunks]
        out._seen = self._seen | other._seen
        return out

    def compute(self) -> LVISResult:
        """The result over every detection added so far."""
        import warnings

        from annokit.errors import PycocotoolsQuirkWarning

        f = self._frame
        _, A, T = f.shape[:3]
        recs = eng.MatchRecords.concat(self._chunks) if self._chunks else eng.MatchRecords.empty(A, T)
        precision, recall, _ = eng.accumulate(f, recs, self._npig)
        precision, recall = precision[..., 0], recall[..., 0]
        for n in self._notes:
            warnings.warn(n, PycocotoolsQuirkWarning, stacklevel=2)
        return LVISResult(params=self._params, cat_ids=f.cat_ids, cat_names=list(self._cat_names),
                          frequency=list(self._freq), n_gt=self._n_gt, precision=precision, recall=recall,
                          results=_summarize(self._params, precision, recall, self._freq), fixed=self._fixed,
                          notes=list(self._notes))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_gt"] = state["_gtg"] = state["_fed"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


# ----------------------------------------------------------------------------------------------- summary
def _summary_value(p: LVISParams, s: np.ndarray, *, iou: float | None = None, area: str = "all",
                   group: Sequence[int] | None = None, ap: bool = True) -> float:
    """``LVISEval._summarize``: the mean of the entries that are not -1 (-1 if none), indexed as the reference
    indexes (so that the mean adds the same numbers in the same order)."""
    aidx = [i for i, lbl in enumerate(p.area_labels) if lbl == area]
    if iou is not None:
        s = s[np.where(iou == np.asarray(p.iou_thrs))[0]]
    if ap:
        s = s[:, :, list(group), aidx] if group is not None else s[:, :, :, aidx]
    else:
        s = s[:, :, aidx]
    kept = s[s > -1]
    return -1.0 if len(kept) == 0 else float(np.mean(kept))


def _summarize(p: LVISParams, precision: np.ndarray, recall: np.ndarray, freq: list[str]) -> dict[str, float]:
    """``LVISEval.summarize``' results, in its order."""
    groups = [[k for k, g in enumerate(freq) if g == name] for name in FREQUENCY_GROUPS]
    out = {"AP": _summary_value(p, precision), "AP50": _summary_value(p, precision, iou=0.5),
           "AP75": _summary_value(p, precision, iou=0.75)}
    for a in ("small", "medium", "large"):
        out[f"AP{a[0]}"] = _summary_value(p, precision, area=a)
    for name, g in zip(FREQUENCY_GROUPS, groups):
        out[f"AP{name}"] = _summary_value(p, precision, group=g)
    out[f"AR@{p.max_dets}"] = _summary_value(p, recall, ap=False)
    for a in ("small", "medium", "large"):
        out[f"AR{a[0]}@{p.max_dets}"] = _summary_value(p, recall, area=a, ap=False)
    return out
