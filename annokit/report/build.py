"""One self-contained HTML report of a detector's results: summary, per-class table, error decomposition, figures,
a gallery of the worst images; plus the JSON of everything shown.

The work runs in named stages: :func:`analyse` computes the numbers (COCO metrics, TIDE, PR breakdown, the outcome
at the best-F1 threshold, the per-class and per-image tables) into a frozen :class:`ReportData`;
:func:`write_report` draws the figures and the gallery (:mod:`annokit.report._figures`), renders the page from a
jinja2 template with autoescaping (:mod:`annokit.report._page`, templates in ``annokit/report/templates/``) and
writes the folder atomically.

The page has no external resources: CSS is inline and every figure is an inline SVG (:mod:`annokit.viz.svg`; the
gallery's images are JPEG ``data:`` URIs inside them), so it opens from disk without a network, stays sharp at any
zoom and needs no matplotlib.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.analysis.tide import ObjectTags, TideResult, tide
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError
from annokit.report._tables import (
    TideMean,
    TideMeans,
    per_class_rows,
    per_image_counts,
    top_confusions,
    worst_images,
)

if TYPE_CHECKING:
    from annokit.analysis.breakdown import Evaluator
    from annokit.metrics.coco import COCOParams, COCOResult

__all__ = ["Outcome", "ReportData", "TideMeans", "build_report", "analyse", "write_report", "coco_evaluate",
           "load_image"]

IouType = Literal["bbox", "segm"]


def _no_progress(stage: str, done: int, total: int | None, /) -> None:
    """The progress callback that reports nothing."""


# ------------------------------------------------------------------------------------------------ COCO metrics
def coco_evaluate(gt: Dataset, dets: Instances, iou_type: IouType, evaluator: Evaluator | None = None
                  ) -> COCOResult:
    """COCO mAP through :func:`annokit.metrics.coco.evaluate` with the default parameters, over the categories
    that have ground truth (``cat_ids``): the metrics are the same (a category without ground truth has precision
    -1 and is left out of every mean, its detections dropped), and a label set of 20,000 classes with a few hundred
    in use costs what those cost (COCO's precision array has one slice per category)."""
    from annokit.metrics.coco import evaluate

    params = _report_params(gt, iou_type)
    return evaluator(gt, dets, params) if evaluator is not None else evaluate(gt, dets, params=params)


def _report_params(gt: Dataset, iou_type: IouType) -> COCOParams:
    """pycocotools' parameters over the categories that have ground truth (:func:`coco_evaluate`)."""
    from annokit.metrics.coco import COCOParams

    used = np.intersect1d(np.unique(gt.annotations.labels), gt.categories.ids)
    cat_ids = tuple(used.tolist()) if 0 < len(used) < len(gt.categories) else None
    return COCOParams(iou_type=iou_type, cat_ids=cat_ids)


# ------------------------------------------------------------------------------------------------ the numbers
@dataclass(frozen=True)
class Outcome:
    """TP / FP / FN at one score threshold (matching at IoU 0.5, TIDE's rules).

    ``threshold`` with its ``f1``, ``precision`` and ``recall``; ``tp`` / ``fp`` (N,) bool over the predictions,
    ``fn`` (M,) bool over the ground truth (crowd regions never).
    """

    threshold: float
    f1: float
    precision: float
    recall: float
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @classmethod
    def at_best_f1(cls, gt: Dataset, dets: Instances, tags: ObjectTags) -> Outcome:
        """The outcome at the threshold of best F1 over all classes pooled (1.0 without predictions)."""
        from annokit.viz.figures import best_f1_threshold

        g = gt.annotations
        scores = _scores(dets)
        ev = tags.pred_status <= 1
        thr, f1, prec, rec = best_f1_threshold(scores[ev], tags.pred_status[ev] == 0, int((~g.iscrowd).sum()))
        thr = float(thr) if np.isfinite(thr) else 1.0
        above = ev & (scores >= thr)
        tp = above & (tags.pred_status == 0)
        found = np.zeros(len(g), dtype=bool)
        found[tags.pred_match[tp]] = True
        return cls(thr, float(f1), float(prec), float(rec), tp, above & (tags.pred_status == 1), ~g.iscrowd & ~found)


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows (the JSON output is :meth:`to_json`).

    :func:`analyse` fills the numbers; :func:`write_report` returns nothing new but writes a copy with
    ``figure_data`` (the data behind the figures) and the drawing ``timings`` added. ``tide_means``: TIDE's mAP
    under both rules for classes without ground truth (which one the page uses); ``confusions``: the top
    "true -> predicted" class confusions at the threshold; ``unevaluated``: the ``tags.json`` records of
    predictions on images absent from the ground truth; ``slices``: ``{name: {"images", "metrics"}}``, the COCO
    numbers of each slice's images.
    """

    title: str
    iou_type: IouType
    n_images: int
    n_gt: int
    n_pred: int
    coco_metrics: dict[str, float | None] | None
    coco_per_class: dict[str, dict[str, float | None]] | None
    tide: TideResult
    outcome: Outcome
    per_class: list[dict[str, Any]]
    per_image: dict[str, np.ndarray]
    worst_images: list[int]
    tide_means: TideMeans
    confusions: list[dict[str, Any]]
    pr_breakdown: dict[str, Any] | None = None
    unevaluated: tuple[dict[str, Any], ...] = ()
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)
    figure_data: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> dict[int, str]:
        """``{category id: name}`` of the per-class rows."""
        return {int(r["category_id"]): str(r["name"]) for r in self.per_class}

    @property
    def threshold(self) -> float:
        """The best-F1 score threshold (per-class TP / FP / FN and the gallery use it)."""
        return self.outcome.threshold

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict of ``report.json``."""
        o = self.outcome
        return {
            "title": self.title,
            "iou_type": self.iou_type,
            "counts": {"images": self.n_images, "ground_truth": self.n_gt, "predictions": self.n_pred},
            "coco": self.coco_metrics,
            "coco_per_class": self.coco_per_class,
            "tide": self.tide.to_dict(),
            "best_f1_threshold": {"threshold": o.threshold, "f1": o.f1, "precision": o.precision,
                                  "recall": o.recall},
            "tide_mean": self.tide_means.to_dict(self.names),
            "per_class": self.per_class,
            "confusions": self.confusions,
            "per_image": {k: v.tolist() for k, v in self.per_image.items()},
            "worst_images": self.worst_images,
            "unevaluated": {"predictions": len(self.unevaluated),
                            "images": len({str(r["image_id"]) for r in self.unevaluated})},
            "pr_breakdown": self.pr_breakdown,
            "slices": self.slices,
            "figures": self.figure_data,
            "timings_s": self.timings,
        }


def analyse(gt: Dataset, dets: Instances, *, iou_type: IouType = "bbox", worst_n: int = 12,
            title: str = "annokit report", progress: Progress | None = None, with_coco: bool = True,
            with_breakdown: bool = True, tide_mean: TideMean = "tidecv", unevaluated: Sequence[dict[str, Any]] = (),
            slices: Mapping[str, np.ndarray] | None = None, evaluator: Evaluator | None = None) -> ReportData:
    """Compute what the report shows (no drawing).

    The score threshold used for the per-class TP / FP / FN counts and for the gallery is the one with the best F1
    over all classes pooled (matching at IoU 0.5, TIDE's rules). The worst images are those with the most FP + FN
    at that threshold (ties: image order).

    Parameters
    ----------
    gt : Dataset
        Ground truth.
    dets : Instances
        Predictions with scores.
    iou_type : {"bbox", "segm"}
        Box or mask IoU.
    worst_n : int
        Number of worst images kept for the gallery.
    title : str
        Page title.
    progress : callable, optional
        ``progress(stage, done, total)``.
    with_coco, with_breakdown : bool
        Compute the COCO metrics and the PR breakdown (which needs them).
    tide_mean : {"tidecv", "coco"}
        TIDE's mAP: ``tidecv`` counts a class with predictions but no ground truth as AP 0, ``coco`` skips it.
    unevaluated : sequence of dict
        ``tags.json`` records of predictions on images absent from the ground truth
        (:attr:`annokit.report.inputs.Predictions.unevaluated`), counted on the page.
    slices : mapping, optional
        ``{name: image positions}``: the 12 COCO numbers of each slice's images (needs ``with_coco``).
    evaluator : callable, optional
        Runs every COCO evaluation of the page (:data:`annokit.analysis.breakdown.Evaluator`, e.g. on a dask
        cluster: ``annokit report --scheduler``); not with ``slices``. TIDE matches in this process.

    Returns
    -------
    ReportData

    Examples
    --------
    >>> import annokit
    >>> from annokit.io.coco import read_results
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> data = analyse(gt, read_results("sample_data/scenes/pred.json", gt), worst_n=3)
    >>> len(data.worst_images), round(data.threshold, 3)
    (3, 0.494)
    """
    _check(dets, worst_n, tide_mean)
    prog = progress or _no_progress
    timings: dict[str, float] = {}
    if evaluator is not None and slices:
        raise ValidationError("report: slices are evaluated in this process (no evaluator)")
    coco, sliced = _timed(timings, "coco", lambda: _coco_stage(gt, dets, iou_type, with_coco, slices, evaluator))
    prog("analysis: COCO metrics", 1, 4)
    tr = _timed(timings, "tide", lambda: tide(gt, dets, iou_type=iou_type,
                                              exclude_classes_without_gt=tide_mean == "coco"))
    prog("analysis: error decomposition", 2, 4)
    breakdown = None
    if with_breakdown and coco is not None:
        from annokit.analysis.breakdown import pr_breakdown

        breakdown = _timed(timings, "breakdown",
                           lambda: pr_breakdown(gt, dets, coco=coco, evaluator=evaluator).to_dict())
    prog("analysis: PR breakdown", 3, 4)
    outcome = Outcome.at_best_f1(gt, dets, tr.tags)
    per_image = per_image_counts(gt, dets, outcome)
    tables = _timed(timings, "tables", lambda: (per_class_rows(gt, dets, tr, outcome, coco),
                                                top_confusions(gt, dets, tr.tags, outcome.threshold)))
    prog("analysis: tables", 4, 4)
    return ReportData(
        title=title, iou_type=iou_type, n_images=len(gt.images), n_gt=int((~gt.annotations.iscrowd).sum()),
        n_pred=len(dets), coco_metrics=coco.metrics_dict() if coco is not None else None,
        coco_per_class=coco.per_class_dict() if coco is not None else None, tide=tr, outcome=outcome,
        per_class=tables[0], per_image=per_image, worst_images=worst_images(per_image, worst_n),
        tide_means=TideMeans.of(tr, gt, dets, tide_mean), confusions=tables[1], pr_breakdown=breakdown,
        unevaluated=tuple(unevaluated), slices=sliced, timings=timings)


def _coco_stage(gt: Dataset, dets: Instances, iou_type: IouType, with_coco: bool,
                slices: Mapping[str, np.ndarray] | None, evaluator: Evaluator | None = None
                ) -> tuple[COCOResult | None, dict[str, dict[str, Any]]]:
    """The COCO evaluation (None without ``with_coco``) and, from its match records, each slice's numbers."""
    if not with_coco:
        return None, {}
    if not slices:
        return coco_evaluate(gt, dets, iou_type, evaluator), {}
    from annokit.analysis.slices import evaluate_slices
    from annokit.metrics.coco import evaluate_with_accumulator

    res, acc = evaluate_with_accumulator(gt, dets, params=_report_params(gt, iou_type))
    return res, {r.name: r.to_dict() for r in evaluate_slices(acc, gt, slices)}


def _check(dets: Instances, worst_n: int, tide_mean: str) -> None:
    """Refuse options :func:`analyse` cannot honour, with a :class:`ValidationError`."""
    if dets.scores is None:
        raise ValidationError("report: the predictions have no scores")
    if worst_n < 0:
        raise ValidationError(f"report: worst_n must be >= 0, got {worst_n}")
    if tide_mean not in ("tidecv", "coco"):
        raise ValidationError(f"report: tide_mean must be 'tidecv' or 'coco', got {tide_mean!r}")


def _timed(timings: dict[str, float], name: str, fn: Any) -> Any:
    """``fn()``, its wall time recorded as ``timings[name]`` (a dict this module owns)."""
    t0 = time.perf_counter()
    out = fn()
    timings[name] = time.perf_counter() - t0
    return out


def _scores(dets: Instances) -> np.ndarray:
    """The predictions' scores (zeros when there are none)."""
    return dets.scores if dets.scores is not None else np.zeros(len(dets))


# ------------------------------------------------------------------------------------------------ images
def load_image(root: Path | None, file_name: str) -> np.ndarray | None:
    """The image ``root / file_name`` as (H, W, 3) uint8 RGB, or None when there is none or it cannot be read."""
    if root is None:
        return None
    p = root / file_name
    if not p.is_file():
        return None
    try:
        from PIL import Image

        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:  # an unreadable image is shown as a grey canvas, not an error
        return None


# ------------------------------------------------------------------------------------------------ writing
def write_report(
    gt: Dataset,
    dets: Instances,
    data: ReportData,
    out_dir: str | Path,
    *,
    image_root: str | Path | None = None,
    progress: Progress | None = None,
    with_tags: bool = False,
    overwrite: bool = False,
) -> Path:
    """Draw the figures and gallery of ``data`` and write ``report.html``, ``report.json`` and (``with_tags``)
    ``tags.json`` (one record per object, see :meth:`ObjectTags.to_records`, then one per unevaluated prediction)
    into the folder ``out_dir``.

    The folder appears whole or not at all; an existing ``out_dir`` is an error unless ``overwrite`` (then it is
    replaced once the new one is complete). ``data`` is not changed: ``report.json`` holds a copy with the figure
    data and drawing timings added.

    Returns
    -------
    Path
        ``out_dir / "report.html"``.
    """
    import orjson

    from annokit._internal.files import atomic_dir, json_clean
    from annokit.report._figures import draw_figures
    from annokit.report._gallery import draw_gallery
    from annokit.report._page import render_page

    prog = progress or _no_progress
    out = Path(out_dir)
    root = Path(image_root) if image_root is not None else None
    timings = dict(data.timings)
    with atomic_dir(out, overwrite=overwrite) as tmp:  # an existing folder is refused before any drawing
        figures, figure_data = _timed(timings, "figures", lambda: draw_figures(gt, dets, data, prog))
        gallery = _timed(timings, "gallery", lambda: draw_gallery(gt, dets, data, root, prog))
        if with_tags:  # orjson writes NaN as null
            tags = _timed(timings, "tags", lambda: orjson.dumps([*data.tide.tags.to_records(gt, dets),
                                                                  *data.unevaluated]))
            (tmp / "tags.json").write_bytes(tags)
        full = replace(data, figure_data=figure_data, timings=timings)
        (tmp / "report.html").write_bytes(render_page(full, figures, gallery).encode("utf-8"))
        (tmp / "report.json").write_bytes(orjson.dumps(json_clean(full.to_json()), option=orjson.OPT_INDENT_2))
    prog("tags", 1, 1)
    return out / "report.html"


def build_report(
    gt: Dataset,
    dets: Instances,
    out_dir: str | Path,
    *,
    image_root: str | Path | None = None,
    iou_type: IouType = "bbox",
    worst_n: int = 12,
    title: str = "annokit report",
    progress: Progress | None = None,
    overwrite: bool = False,
    with_tags: bool = False,
) -> Path:
    """:func:`analyse` then :func:`write_report`; returns the path of ``report.html``.

    >>> from annokit.io.coco import read_instances, read_results           # doctest: +SKIP
    >>> gt = read_instances("gt.json"); dt = read_results("pred.json", gt)  # doctest: +SKIP
    >>> build_report(gt, dt, "report_dir", image_root="images")             # doctest: +SKIP
    """
    data = analyse(gt, dets, iou_type=iou_type, worst_n=worst_n, title=title, progress=progress)
    return write_report(gt, dets, data, out_dir, image_root=image_root, progress=progress, overwrite=overwrite,
                        with_tags=with_tags)
