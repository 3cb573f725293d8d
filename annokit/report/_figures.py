"""The report's figures, one named stage per figure, drawn as inline SVG (private to :mod:`annokit.report`).

Each stage draws one figure from a :class:`_Context` and returns it as a :class:`Figure` (one or more ``<svg>``
panels) with the numbers behind it for ``report.json``. Figures over classes are capped (:data:`MAX_ROWS` bars,
:data:`MAX_CONFUSION` classes in the matrix) and say so under the chart; the tables and ``report.json`` keep
every class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.viz import svg

if TYPE_CHECKING:
    from annokit.report.build import ReportData

__all__ = ["Figure", "draw_figures", "MAX_ROWS", "MAX_CONFUSION"]

MAX_ROWS = 60
"""At most this many bars in a per-class bar chart (the worst classes)."""
MAX_CONFUSION = 20
"""At most this many classes (plus background) in the confusion matrix."""
MAX_POINTS = 400
"""At most this many points per line (curves over thresholds are thinned evenly)."""


@dataclass(frozen=True)
class Figure:
    """One figure of the page: its ``id`` (``fig-<id>`` in the HTML), caption and ``<svg>`` panels."""

    id: str
    title: str
    panels: tuple[str, ...]


@dataclass(frozen=True)
class _Context:
    """What every figure stage reads: the inputs, the report's numbers, the scores, which predictions TIDE
    evaluated (``ev``: TP or FP), the category names and the number of non-crowd ground truth."""

    gt: Dataset
    dets: Instances
    data: ReportData
    scores: np.ndarray
    ev: np.ndarray
    names: dict[int, str]
    n_real: int

    @property
    def is_tp(self) -> np.ndarray:
        """(N,) bool: the prediction is a true positive."""
        out: np.ndarray = self.data.tide.tags.pred_status == 0
        return out


FigureStage = Callable[[_Context], tuple[Figure | None, dict[str, Any]]]


def draw_figures(gt: Dataset, dets: Instances, data: ReportData,
                 progress: Progress) -> tuple[list[Figure], dict[str, Any]]:
    """Every figure of the page, in order, and the data behind them (``report.json``'s ``figures``)."""
    tags = data.tide.tags
    ctx = _Context(gt, dets, data, dets.scores if dets.scores is not None else np.zeros(len(dets)),
                   tags.pred_status <= 1, dict(zip(gt.categories.ids.tolist(), gt.categories.names)),
                   int((~gt.annotations.iscrowd).sum()))
    figures: list[Figure] = []
    figure_data: dict[str, Any] = {}
    for i, stage in enumerate(FIGURES, 1):
        fig, numbers = stage(ctx)
        if fig is not None:
            figures.append(fig)
        figure_data.update(numbers)
        progress("figures", i, len(FIGURES))
    return figures, figure_data


def _capped(n_shown: int, n_all: int, what: str) -> str:
    """The note under a capped chart ('' when nothing was left out)."""
    return "" if n_shown >= n_all else f"Showing {n_shown} of {n_all} {what}; the tables and report.json have all."


def _pr_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """Precision-recall envelopes: all classes, and the (at most 10) classes with most ground truth."""
    from annokit import viz

    ev, dets = ctx.ev, ctx.dets
    rec_thrs = np.arange(101) / 100
    env = {"all classes": viz.pr_envelope(*viz.pr_curve_points(ctx.scores[ev], ctx.is_tp[ev], ctx.n_real), rec_thrs)}
    rows = sorted((row for row in ctx.data.per_class if row["ground_truth"] > 0), key=lambda row: -row["ground_truth"])
    per_class = {}
    for row in rows[:10]:
        sel = ev & (dets.labels == row["category_id"])
        pts = viz.pr_curve_points(ctx.scores[sel], ctx.is_tp[sel], row["ground_truth"])
        per_class[row["name"]] = viz.pr_envelope(*pts, rec_thrs)
    panels = (
        svg.line_chart({k: (rec_thrs, v) for k, v in env.items()}, title="All classes (IoU 0.5)", xlabel="recall",
                       ylabel="precision"),
        svg.line_chart({k: (rec_thrs, v) for k, v in per_class.items()}, xlabel="recall", ylabel="precision",
                       title=f"Top {len(per_class)} classes by #gt"),
    )
    numbers = {"note": "interpolated precision at recall 0, 0.01, ..., 1 (IoU 0.5, TIDE matching)",
               "recall": rec_thrs.tolist(), "precision": {k: v.tolist() for k, v in {**env, **per_class}.items()}}
    return Figure("pr", "Precision-recall curves (precision envelope)", panels), {"pr_curves": numbers}


def _error_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """TIDE's dAP bars (main and special error types). The count pie of earlier versions is gone: a count
    weighs a low-score background box like a missed object, dAP weighs what each type costs."""
    from annokit.viz import ERROR_COLORS

    tr = ctx.data.tide
    panel = svg.bar_chart({**tr.main_dap, **tr.special_dap}, title="TIDE dAP: AP points gained by fixing each type",
                          ylabel="dAP (points)", colors=ERROR_COLORS, size=(620.0, 300.0))
    return Figure("errors", "Error decomposition (oracle dAP per type)", (panel,)), {}


def _per_class_ap_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """AP per class, worst first (COCO AP when the COCO metrics are there, else TIDE's AP50); classes without
    ground truth (AP undefined) drawn hatched."""
    from annokit.report._tables import worst_first

    coco = ctx.data.coco_per_class is not None
    rows = worst_first(ctx.data.per_class)
    defined = [r for r in rows if r["ground_truth"] > 0]
    undefined = [r for r in rows if r["ground_truth"] == 0 and r["predictions"] > 0][:10]  # they cost TIDE's mAP
    shown = defined[: MAX_ROWS - len(undefined)] + undefined
    vals = [(r["name"], _ap_value(r, coco)) for r in shown]
    note = _capped(len(shown), len(defined) + len(undefined), "classes (the worst, and up to 10 without ground truth)")
    title = "COCO AP per class (IoU 0.50:0.95), worst first" if coco else "AP50 per class (TIDE), worst first"
    panel = svg.hbar_chart(vals, title=title, xlabel="AP" if coco else "AP50", note=note,
                           none_text="no ground truth")
    return Figure("per_class_ap", "AP per class", (panel,)), {}


def _ap_value(row: dict[str, Any], coco: bool) -> float | None:
    """The AP a per-class bar shows (None without ground truth)."""
    if row["ground_truth"] == 0:
        return None
    v = row.get("AP") if coco else row.get("tide_ap50")
    return None if v is None else (float(v) if coco else float(v) / 100)


def _confusion_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """The detection confusion matrix with background, rows normalised, at the threshold, over the (at most
    :data:`MAX_CONFUSION`) classes most involved in errors; its non-zero cells over every class go to the JSON."""
    from annokit.analysis.confusion import detection_confusion_cells

    thr = ctx.data.threshold
    r, c, n = detection_confusion_cells(ctx.gt, ctx.dets, ctx.data.tide.tags, score_threshold=thr)
    k = len(ctx.gt.categories)
    keep = _confusion_classes(r, c, n, k)
    pos = np.full(k + 1, -1)
    pos[keep] = np.arange(len(keep))
    m = np.zeros((len(keep), len(keep)), dtype=np.int64)
    sel = (pos[r] >= 0) & (pos[c] >= 0)
    m[pos[r[sel]], pos[c[sel]]] = n[sel]
    row_sums = np.bincount(r, weights=n, minlength=k + 1)[keep]  # over every column, shown or not
    norm = m / np.maximum(row_sums, 1)[:, None]
    labels = [*ctx.gt.categories.names, "background"]
    shown = [labels[i] for i in keep]
    note = _capped(len(keep) - 1, k, "classes (those with most errors)")
    panel = svg.heatmap(norm, m, shown, shown, title=f"Detection confusion, rows normalised (score >= {thr:.3f})",
                        note=note)
    numbers = {"labels": labels, "cells": np.column_stack([r, c, n]).tolist(), "shown": keep.tolist(),
               "score_threshold": thr,
               "note": "cells: [true, predicted, count], positions into labels (last: background)"}
    return Figure("confusion", "Detection confusion matrix", (panel,)), {"detection_confusion": numbers}


def _confusion_classes(r: np.ndarray, c: np.ndarray, n: np.ndarray, k: int) -> np.ndarray:
    """Category positions of the matrix: the :data:`MAX_CONFUSION` classes with most off-diagonal counts (ties:
    most counts overall, then label order), in label order, then background (position ``k``)."""
    off = np.bincount(r[r != c], weights=n[r != c], minlength=k + 1) + np.bincount(
        c[r != c], weights=n[r != c], minlength=k + 1)
    total = np.bincount(r, weights=n, minlength=k + 1) + np.bincount(c, weights=n, minlength=k + 1)
    order = np.lexsort((np.arange(k), -total[:k], -off[:k]))
    out: np.ndarray = np.r_[np.sort(order[:MAX_CONFUSION]), k].astype(np.int64)
    return out


def _thin(*cols: np.ndarray, keep: int | None = None) -> list[np.ndarray]:
    """The columns at most :data:`MAX_POINTS` evenly spaced rows (the first, the last and ``keep`` always)."""
    n = len(cols[0])
    if n <= MAX_POINTS:
        return list(cols)
    idx = np.unique(np.r_[np.linspace(0, n - 1, MAX_POINTS).round().astype(np.int64), [] if keep is None else keep])
    return [col[idx] for col in cols]


def _threshold_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """Precision, recall and F1 against the score threshold, the best F1 marked."""
    from annokit import viz

    thr, prec, rec = viz.threshold_table(ctx.scores[ctx.ev], ctx.is_tp[ctx.ev], ctx.n_real)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)
    best = int(np.argmax(f1)) if len(f1) else None
    thr, prec, rec, f1 = _thin(thr, prec, rec, f1, keep=best)
    o = ctx.data.outcome
    panel = svg.line_chart({"precision": (thr, prec), "recall": (thr, rec), "F1": (thr, f1)},
                           title="Precision / recall / F1 vs score threshold (IoU 0.5)", xlabel="score threshold",
                           ylabel="", marker=(o.threshold, f"best F1 {o.f1:.3f} @ {o.threshold:.3f}"))
    return Figure("threshold", "Score threshold", (panel,)), {}


def _reliability_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """The reliability diagram of detection scores, and its bins."""
    from annokit import viz

    rb = viz.reliability_bins(ctx.scores[ctx.ev], ctx.is_tp[ctx.ev])
    panel = svg.reliability_chart(rb["edges"], rb["accuracy"], rb["count"],
                                  title=f"Detection confidence vs precision (ECE {rb['ece']:.3f})")
    numbers = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rb.items()}
    return Figure("reliability", "Reliability of detection scores", (panel,)), {"reliability": numbers}


def _dataset_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """Ground-truth box sizes and objects per class (the :data:`MAX_ROWS` most frequent)."""
    g = ctx.gt.annotations
    gb = g.boxes[~g.iscrowd]
    side = np.sqrt(np.clip((gb[:, 2] - gb[:, 0]) * (gb[:, 3] - gb[:, 1]), 0, None))
    counts, edges = np.histogram(side, bins=30)
    sizes = svg.histogram(edges, counts, title="Ground-truth box size", xlabel="sqrt(area) (px)", ylabel="objects",
                          vlines=(32.0, 96.0))
    rows = sorted(ctx.data.per_class, key=lambda r: (-r["ground_truth"], r["name"]))
    rows = [r for r in rows if r["ground_truth"] > 0]
    top = max([r["ground_truth"] for r in rows], default=1)
    per_class = svg.hbar_chart([(r["name"], float(r["ground_truth"])) for r in rows[:MAX_ROWS]],
                               title="Ground-truth objects per class", xlabel="objects", xlim=(0.0, float(top)),
                               fmt="{:.0f}", note=_capped(min(len(rows), MAX_ROWS), len(rows), "classes (most first)"))
    numbers = {"sqrt_area_edges": edges.tolist(), "counts": counts.tolist()}
    return Figure("dataset", "Dataset statistics", (sizes, per_class)), {"box_sizes": numbers}


def _breakdown_figure(ctx: _Context) -> tuple[Figure | None, dict[str, Any]]:
    """The COCO-style PR breakdown, one panel per area range (none without the COCO metrics)."""
    from annokit.viz import BREAKDOWN_COLORS

    bd = ctx.data.pr_breakdown
    if bd is None:
        return None, {}
    rec = np.asarray(bd["rec_thrs"])
    panels = []
    for area in bd["area_labels"]:
        curves = bd["overall"][area]
        labels = {k: (f"[{v['ap']:.3f}] {k}" if v["ap"] is not None else k) for k, v in curves.items()}
        panels.append(svg.area_chart(rec, {k: np.asarray(v["precision"]) for k, v in curves.items()},
                                     title=f"All classes, area {area}", colors=BREAKDOWN_COLORS, labels=labels))
    return Figure("breakdown", "COCO-style PR breakdown per area range (all classes)", tuple(panels)), {}


FIGURES: tuple[FigureStage, ...] = (_pr_figure, _error_figure, _per_class_ap_figure, _confusion_figure,
                                    _threshold_figure, _reliability_figure, _dataset_figure, _breakdown_figure)
"""The figure stages, in page order."""
