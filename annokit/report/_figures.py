"""The report's figures and gallery, one named stage per figure (private to :mod:`annokit.report`).

Each stage draws one figure from a :class:`_Context` and returns it as a :class:`Figure` (a base64 PNG ``data:``
URI) with the numbers behind it for ``report.json``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.progress import Progress
from annokit.analysis.tide import PRED_STATUS
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances

if TYPE_CHECKING:
    from annokit.report.build import ReportData

__all__ = ["Figure", "GalleryItem", "draw_figures", "draw_gallery"]


@dataclass(frozen=True)
class Figure:
    """One figure of the page: its ``id`` (``fig-<id>`` in the HTML), caption and PNG ``data:`` URI."""

    id: str
    title: str
    uri: str


@dataclass(frozen=True)
class GalleryItem:
    """One worst image: its id, file name, PNG ``data:`` URI and FP / FN counts at the threshold."""

    image_id: int
    file_name: str
    uri: str
    n_fp: int
    n_fn: int


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


def _png_uri(fig: Any) -> str:
    from annokit.viz.figures import figure_png_bytes

    return "data:image/png;base64," + base64.b64encode(figure_png_bytes(fig, dpi=80)).decode("ascii")


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


def _pr_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """Precision-recall curves: all classes, and the (at most 10) classes with most ground truth."""
    from annokit import viz

    fig, axes = viz.new_axes(1, 2, size=(5.5, 4.2))
    ev, dets = ctx.ev, ctx.dets
    r, p = viz.pr_curve_points(ctx.scores[ev], ctx.is_tp[ev], ctx.n_real)
    viz.pr_curves(axes[0], {"all classes": (r, p)}, title="Precision-recall, all classes (IoU 0.5)")
    rows = sorted((row for row in ctx.data.per_class if row["ground_truth"] > 0), key=lambda row: -row["ground_truth"])
    curves = {}
    for row in rows[:10]:
        sel = ev & (dets.labels == row["category_id"])
        curves[row["name"]] = viz.pr_curve_points(ctx.scores[sel], ctx.is_tp[sel], row["ground_truth"])
    viz.pr_curves(axes[1], curves, title=f"Precision-recall per class (top {len(curves)} by #gt)")
    rec_thrs = np.arange(101) / 100
    numbers = {
        "note": "interpolated precision at recall 0, 0.01, ..., 1 (IoU 0.5, TIDE matching)",
        "recall": rec_thrs.tolist(),
        "precision": {"all classes": viz.pr_envelope(r, p, rec_thrs).tolist(),
                      **{k: viz.pr_envelope(*v, rec_thrs).tolist() for k, v in curves.items()}},
    }
    return Figure("pr", "Precision-recall curves", _png_uri(fig)), {"pr_curves": numbers}


def _error_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """TIDE's dAP bars and the error-count pie."""
    from annokit import viz

    tr = ctx.data.tide
    fig, axes = viz.new_axes(1, 2, size=(6.0, 4.0))
    viz.error_bars(axes[0], {**tr.main_dap, **tr.special_dap}, title="TIDE dAP (oracle fix, points)")
    viz.error_pie(axes[1], tr.counts)
    return Figure("errors", "Error decomposition", _png_uri(fig)), {}


def _per_class_ap_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """AP per class: COCO AP when the COCO metrics are there, else TIDE's AP50."""
    from annokit import viz

    rows = ctx.data.per_class
    if ctx.data.coco_per_class is not None:
        vals = {row["name"]: row.get("AP") for row in rows}
        title, ylabel = "COCO AP per class (IoU 0.50:0.95)", "AP"
    else:
        vals = {row["name"]: (None if row["tide_ap50"] is None else row["tide_ap50"] / 100) for row in rows}
        title, ylabel = "AP50 per class (TIDE)", "AP50"
    fig, ax = viz.new_axes(size=(max(6.0, 0.18 * len(vals) + 2), 4.0))
    viz.per_class_bars(ax, vals, title=title, ylabel=ylabel)
    return Figure("per_class_ap", "AP per class", _png_uri(fig)), {}


def _confusion_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """The detection confusion matrix with background, rows normalised, at the threshold."""
    from annokit import viz
    from annokit.analysis.confusion import detection_confusion

    thr = ctx.data.threshold
    cm, labels = detection_confusion(ctx.gt, ctx.dets, ctx.data.tide.tags, score_threshold=thr)
    k = len(labels)
    fig, ax = viz.new_axes(size=(min(4 + 0.25 * k, 13), min(3.5 + 0.25 * k, 12)))
    viz.plot_confusion_matrix(ax, cm, labels, normalize="true",
                              title=f"Detection confusion, rows normalised\n(score >= {thr:.3f})")
    numbers = {"labels": labels, "counts": cm.tolist(), "score_threshold": thr,
               "note": "rows: true class, columns: predicted class; last: background"}
    return Figure("confusion", "Detection confusion matrix", _png_uri(fig)), {"detection_confusion": numbers}


def _threshold_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """Precision, recall and F1 against the score threshold."""
    from annokit import viz

    fig, ax = viz.new_axes(size=(6.0, 4.0))
    viz.threshold_curves(ax, ctx.scores[ctx.ev], ctx.is_tp[ctx.ev], ctx.n_real,
                         title="Precision / recall / F1 vs score threshold (IoU 0.5)")
    return Figure("threshold", "Score threshold", _png_uri(fig)), {}


def _reliability_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """The reliability diagram of detection scores, and its bins."""
    from annokit import viz

    fig, ax = viz.new_axes(size=(6.0, 4.0))
    viz.reliability_diagram(ax, ctx.scores[ctx.ev], ctx.is_tp[ctx.ev], title="Detection confidence vs precision")
    rb = viz.reliability_bins(ctx.scores[ctx.ev], ctx.is_tp[ctx.ev])
    numbers = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rb.items()}
    return Figure("reliability", "Reliability of detection scores", _png_uri(fig)), {"reliability": numbers}


def _dataset_figure(ctx: _Context) -> tuple[Figure, dict[str, Any]]:
    """Ground-truth box sizes and objects per class."""
    from annokit import viz

    g = ctx.gt.annotations
    gb = g.boxes[~g.iscrowd]
    fig, axes = viz.new_axes(1, 2, size=(5.5, 4.0))
    viz.box_size_histogram(axes[0], gb, title="Ground-truth box size")
    counts, edges = np.histogram(np.sqrt(np.clip((gb[:, 2] - gb[:, 0]) * (gb[:, 3] - gb[:, 1]), 0, None)), bins=30)
    viz.class_count_histogram(axes[1], g.labels[~g.iscrowd], ctx.names, title="Ground-truth objects per class")
    numbers = {"sqrt_area_edges": edges.tolist(), "counts": counts.tolist()}
    return Figure("dataset", "Dataset statistics", _png_uri(fig)), {"box_sizes": numbers}


def _breakdown_figure(ctx: _Context) -> tuple[Figure | None, dict[str, Any]]:
    """The COCO-style PR breakdown, one panel per area range (none without the COCO metrics)."""
    from annokit import viz

    bd = ctx.data.pr_breakdown
    if bd is None:
        return None, {}
    n_area = len(bd["area_labels"])
    ncols = min(n_area, 4)
    fig, axes = viz.new_axes(-(-n_area // ncols), ncols, size=(4.2, 3.6))
    flat = list(np.atleast_1d(axes).ravel())
    for ax, area in zip(flat, bd["area_labels"]):
        curves = bd["overall"][area]
        viz.breakdown_curves(ax, np.asarray(bd["rec_thrs"]),
                             {k: np.asarray(v["precision"]) for k, v in curves.items()},
                             aps={k: v["ap"] for k, v in curves.items()},
                             title=f"PR breakdown, all classes, area {area}")
    for ax in flat[n_area:]:
        ax.set_axis_off()
    return Figure("breakdown", "COCO-style PR breakdown per area range (all classes)", _png_uri(fig)), {}


FIGURES: tuple[FigureStage, ...] = (_pr_figure, _error_figure, _per_class_ap_figure, _confusion_figure,
                                    _threshold_figure, _reliability_figure, _dataset_figure, _breakdown_figure)
"""The figure stages, in page order."""


# ------------------------------------------------------------------------------------------------ gallery
def draw_gallery(gt: Dataset, dets: Instances, data: ReportData, image_root: Path | None,
                 progress: Progress) -> list[GalleryItem]:
    """The worst images, each drawn with its FN, FP and TP at the threshold."""
    out = []
    pos_of = {int(i): k for k, i in enumerate(gt.images.ids.tolist())}
    for n, img_id in enumerate(data.worst_images):
        out.append(_gallery_item(gt, dets, data, pos_of[img_id], image_root))
        progress("gallery", n + 1, len(data.worst_images))
    return out


def _gallery_item(gt: Dataset, dets: Instances, data: ReportData, k: int, image_root: Path | None) -> GalleryItem:
    """Image position ``k`` (its file, else a grey canvas of its size) with its missed ground truth and its
    predictions above the threshold."""
    from annokit import viz
    from annokit.report.build import load_image

    g, tags, o = gt.annotations, data.tide.tags, data.outcome
    img_id, fname = int(gt.images.ids[k]), gt.images.file_names[k]
    img = load_image(image_root, fname)
    h, w = img.shape[:2] if img is not None else (int(gt.images.heights[k]), int(gt.images.widths[k]))
    fn = np.flatnonzero((g.image_ids == img_id) & o.fn)
    psel = np.flatnonzero((dets.image_ids == img_id) & (o.tp | o.fp))
    status = ["FN"] * len(fn) + [PRED_STATUS[s] for s in tags.pred_status[psel]]
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    fig, ax = viz.new_axes(size=(6.0, 6.0 * h / max(w, 1)))
    viz.overlay(ax, img, image_hw=(h, w), boxes=np.concatenate([g.boxes[fn], dets.boxes[psel]]),
                labels=np.concatenate([g.labels[fn], dets.labels[psel]]), status=status,
                scores=np.concatenate([np.full(len(fn), np.nan), scores[psel]]),
                names=dict(zip(gt.categories.ids.tolist(), gt.categories.names)), title=f"image {img_id}: {fname}")
    return GalleryItem(img_id, fname, _png_uri(fig), sum(s == "FP" for s in status), len(fn))
