"""One self-contained HTML report of a detector's results: summary, per-class table, error decomposition, figures,
a gallery of the worst images; plus the JSON of everything shown.

The page has no external resources: CSS is inline and every figure is a base64 PNG ``data:`` URI, so it opens from
disk without a network. Figures are drawn with matplotlib's Agg canvas (no GUI).
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.analysis.tide import ERROR_TYPES, PRED_STATUS, TideResult, tide
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances

__all__ = ["ReportData", "build_report", "analyse", "write_report", "coco_evaluate"]



# ------------------------------------------------------------------------------------------------ COCO metrics
def coco_evaluate(gt: Dataset, dets: Instances, iou_type: str) -> Any | None:
    """COCO mAP through :func:`annokit.metrics.coco.evaluate`; ``None`` when that module is not available."""
    try:
        from annokit.metrics.coco import COCOParams, evaluate
    except ImportError:
        return None
    return evaluate(gt, dets, params=COCOParams(iou_type="segm" if iou_type == "segm" else "bbox"))


# ------------------------------------------------------------------------------------------------ analysis
@dataclass
class ReportData:
    """Everything the report shows (the JSON output is :meth:`to_json`)."""

    title: str
    iou_type: str
    n_images: int
    n_gt: int
    n_pred: int
    coco_metrics: dict[str, float | None] | None
    coco_per_class: dict[str, dict[str, float | None]] | None
    tide: TideResult
    threshold: float
    threshold_f1: float
    threshold_precision: float
    threshold_recall: float
    per_class: list[dict[str, Any]]
    per_image: dict[str, np.ndarray]
    worst_images: list[int]
    pr_breakdown: dict[str, Any] | None = None
    figure_data: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "iou_type": self.iou_type,
            "counts": {"images": self.n_images, "ground_truth": self.n_gt, "predictions": self.n_pred},
            "coco": self.coco_metrics,
            "coco_per_class": self.coco_per_class,
            "tide": self.tide.to_dict(),
            "best_f1_threshold": {
                "threshold": self.threshold,
                "f1": self.threshold_f1,
                "precision": self.threshold_precision,
                "recall": self.threshold_recall,
            },
            "per_class": self.per_class,
            "per_image": {k: v.tolist() for k, v in self.per_image.items()},
            "worst_images": self.worst_images,
            "pr_breakdown": self.pr_breakdown,
            "figures": self.figure_data,
            "timings_s": self.timings,
        }


def analyse(
    gt: Dataset,
    dets: Instances,
    *,
    iou_type: Literal["bbox", "segm"] = "bbox",
    worst_n: int = 12,
    title: str = "annokit report",
    progress: Progress | None = None,
    with_coco: bool = True,
    with_breakdown: bool = True,
) -> ReportData:
    """Compute what the report shows (no drawing).

    The score threshold used for the per-class TP / FP / FN counts and for the gallery is the one with the best F1
    over all classes pooled (matching at IoU 0.5, TIDE's rules). The worst images are those with the most FP + FN
    at that threshold (ties: image order).
    """
    from annokit.viz.figures import best_f1_threshold

    prog = progress or (lambda *_: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    coco = coco_evaluate(gt, dets, iou_type) if with_coco else None
    timings["coco"] = time.perf_counter() - t0
    prog("analysis: COCO metrics", 1, 4)
    t0 = time.perf_counter()
    tr = tide(gt, dets, iou_type=iou_type)
    timings["tide"] = time.perf_counter() - t0
    prog("analysis: error decomposition", 2, 4)
    breakdown = None
    if with_breakdown and coco is not None:
        from annokit.analysis.breakdown import pr_breakdown

        t0 = time.perf_counter()
        breakdown = pr_breakdown(gt, dets, coco=coco).to_dict()
        timings["breakdown"] = time.perf_counter() - t0
    prog("analysis: PR breakdown", 3, 4)

    tags = tr.tags
    g = gt.annotations
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    ev = tags.pred_status <= 1
    real_gt = ~g.iscrowd
    thr, f1, prec, rec = best_f1_threshold(scores[ev], tags.pred_status[ev] == 0, int(real_gt.sum()))
    if not np.isfinite(thr):
        thr = 1.0
    above = ev & (scores >= thr)
    tp_at = above & (tags.pred_status == 0)
    fp_at = above & (tags.pred_status == 1)
    found = np.zeros(len(g), dtype=bool)
    found[tags.pred_match[tp_at]] = True
    fn_at = real_gt & ~found

    cats = gt.categories
    coco_pc = coco.per_class_dict() if coco is not None else None
    coco_pc_by_pos = list(coco_pc.values()) if coco_pc is not None else None
    coco_cat_pos = {}
    if coco is not None:
        coco_cat_pos = {int(c): i for i, c in enumerate(coco.cat_ids)}
    # error counts per class (as TIDE counts them: FP errors by predicted class, misses by ground-truth class)
    k_all = len(cats)
    p_cpos = cats.index_of(dets.labels)
    g_cpos = cats.index_of(g.labels)
    err_counts = np.zeros((k_all, len(ERROR_TYPES)), dtype=np.int64)
    has_err = (tags.pred_error > 0) & (tags.pred_status >= 1) & (tags.pred_status <= 2) & (p_cpos >= 0)
    np.add.at(err_counts, (p_cpos[has_err], tags.pred_error[has_err].astype(np.int64) - 1), 1)
    miss = (tags.gt_error == len(ERROR_TYPES)) & (g_cpos >= 0)
    np.add.at(err_counts, (g_cpos[miss], len(ERROR_TYPES) - 1), 1)
    per_class: list[dict[str, Any]] = []
    for k, (cid, name) in enumerate(zip(cats.ids.tolist(), cats.names)):
        gsel = g.labels == cid
        psel = dets.labels == cid
        tp_k = int((tp_at & psel).sum())
        fp_k = int((fp_at & psel).sum())
        fn_k = int((fn_at & gsel).sum())
        row: dict[str, Any] = {
            "category_id": cid,
            "name": name,
            "ground_truth": int((gsel & real_gt).sum()),
            "predictions": int(psel.sum()),
            "tide_ap50": tr.per_class_ap.get(cid),
            "tp": tp_k,
            "fp": fp_k,
            "fn": fn_k,
            "precision": tp_k / (tp_k + fp_k) if tp_k + fp_k else None,
            "recall": tp_k / (tp_k + fn_k) if tp_k + fn_k else None,
            "errors": {t: int(err_counts[k, j]) for j, t in enumerate(ERROR_TYPES)},
        }
        if coco_pc_by_pos is not None and cid in coco_cat_pos:
            e = coco_pc_by_pos[coco_cat_pos[cid]]
            row["AP"] = e.get("AP")
            row["AP50"] = e.get("AP50")
            row["AP75"] = e.get("AP75")
        per_class.append(row)

    pi = gt.images.index_of(dets.image_ids)
    gi = gt.images.index_of(g.image_ids)
    n_img = len(gt.images)

    def cnt(pos: np.ndarray, sel: np.ndarray) -> np.ndarray:
        p = pos[sel & (pos >= 0)]
        return np.bincount(p, minlength=n_img).astype(np.int64)

    per_image = {
        "image_ids": gt.images.ids.copy(),
        "tp": cnt(pi, tp_at),
        "fp": cnt(pi, fp_at),
        "fn": cnt(gi, fn_at),
    }
    bad = per_image["fp"] + per_image["fn"]
    order = np.lexsort((np.arange(n_img), -bad))
    worst = [int(gt.images.ids[i]) for i in order[:worst_n] if bad[i] > 0]
    prog("analysis: tables", 4, 4)
    return ReportData(
        title=title,
        iou_type=iou_type,
        n_images=n_img,
        n_gt=int(real_gt.sum()),
        n_pred=len(dets),
        coco_metrics=coco.metrics_dict() if coco is not None else None,
        coco_per_class=coco_pc,
        tide=tr,
        threshold=float(thr),
        threshold_f1=float(f1),
        threshold_precision=float(prec),
        threshold_recall=float(rec),
        per_class=per_class,
        per_image=per_image,
        worst_images=worst,
        pr_breakdown=breakdown,
        timings=timings,
    )


# ------------------------------------------------------------------------------------------------ figures
def _png_uri(fig: Any) -> str:
    from annokit.viz.figures import figure_png_bytes

    return "data:image/png;base64," + base64.b64encode(figure_png_bytes(fig, dpi=80)).decode("ascii")


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


def _figures(gt: Dataset, dets: Instances, data: ReportData, prog: Progress) -> list[tuple[str, str, str]]:
    """``[(id, title, data URI)]``."""
    from annokit import viz
    from annokit.analysis.confusion import detection_confusion

    tr = data.tide
    tags = tr.tags
    g = gt.annotations
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    ev = tags.pred_status <= 1
    names = dict(zip(gt.categories.ids.tolist(), gt.categories.names))
    out: list[tuple[str, str, str]] = []

    # PR curves: overall + the classes with most ground truth (at most 10 lines per axes)
    fig, axes = viz.new_axes(1, 2, size=(5.5, 4.2))
    n_real = int((~g.iscrowd).sum())
    r, p = viz.pr_curve_points(scores[ev], tags.pred_status[ev] == 0, n_real)
    viz.pr_curves(axes[0], {"all classes": (r, p)}, title="Precision-recall, all classes (IoU 0.5)")
    top = sorted((row for row in data.per_class if row["ground_truth"] > 0), key=lambda row: -row["ground_truth"])[:10]
    curves = {}
    for row in top:
        sel = ev & (dets.labels == row["category_id"])
        curves[row["name"]] = viz.pr_curve_points(scores[sel], tags.pred_status[sel] == 0, row["ground_truth"])
    viz.pr_curves(axes[1], curves, title=f"Precision-recall per class (top {len(curves)} by #gt)")
    out.append(("pr", "Precision-recall curves", _png_uri(fig)))
    rec_thrs = np.arange(101) / 100
    fd = data.figure_data
    fd["pr_curves"] = {
        "note": "interpolated precision at recall 0, 0.01, ..., 1 (IoU 0.5, TIDE matching)",
        "recall": rec_thrs.tolist(),
        "precision": {"all classes": viz.pr_envelope(r, p, rec_thrs).tolist(),
                      **{k: viz.pr_envelope(*v, rec_thrs).tolist() for k, v in curves.items()}},
    }
    prog("figures", 1, 8)

    fig, axes = viz.new_axes(1, 2, size=(6.0, 4.0))
    viz.error_bars(axes[0], {**tr.main_dap, **tr.special_dap}, title="TIDE dAP (oracle fix, points)")
    viz.error_pie(axes[1], tr.counts)
    out.append(("errors", "Error decomposition", _png_uri(fig)))
    prog("figures", 2, 8)

    if data.coco_per_class is not None:
        vals = {row["name"]: row.get("AP") for row in data.per_class}
        ttl, yl = "COCO AP per class (IoU 0.50:0.95)", "AP"
    else:
        vals = {row["name"]: (None if row["tide_ap50"] is None else row["tide_ap50"] / 100) for row in data.per_class}
        ttl, yl = "AP50 per class (TIDE)", "AP50"
    fig, ax = viz.new_axes(size=(max(6.0, 0.18 * len(vals) + 2), 4.0))
    viz.per_class_bars(ax, vals, title=ttl, ylabel=yl)
    out.append(("per_class_ap", "AP per class", _png_uri(fig)))
    prog("figures", 3, 8)

    cm, labels = detection_confusion(gt, dets, tags, score_thresh=data.threshold)
    k = len(labels)
    fig, ax = viz.new_axes(size=(min(4 + 0.25 * k, 13), min(3.5 + 0.25 * k, 12)))
    fd["detection_confusion"] = {"labels": labels, "counts": cm.tolist(), "score_thresh": data.threshold,
                                 "note": "rows: true class, columns: predicted class; last: background"}
    viz.plot_confusion_matrix(ax, cm, labels, normalize="true",
                              title=f"Detection confusion, rows normalised\n(score >= {data.threshold:.3f})")
    out.append(("confusion", "Detection confusion matrix", _png_uri(fig)))
    prog("figures", 4, 8)

    fig, ax = viz.new_axes(size=(6.0, 4.0))
    viz.threshold_curves(ax, scores[ev], tags.pred_status[ev] == 0, n_real,
                         title="Precision / recall / F1 vs score threshold (IoU 0.5)")
    out.append(("threshold", "Score threshold", _png_uri(fig)))
    prog("figures", 5, 8)

    fig, ax = viz.new_axes(size=(6.0, 4.0))
    viz.reliability_diagram(ax, scores[ev], tags.pred_status[ev] == 0,
                            title="Detection confidence vs precision")
    rb = viz.reliability_bins(scores[ev], tags.pred_status[ev] == 0)
    fd["reliability"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rb.items()}
    out.append(("reliability", "Reliability of detection scores", _png_uri(fig)))
    prog("figures", 6, 8)

    fig, axes = viz.new_axes(1, 2, size=(5.5, 4.0))
    viz.box_size_histogram(axes[0], g.boxes[~g.iscrowd], title="Ground-truth box size")
    gb = g.boxes[~g.iscrowd]
    counts, edges = np.histogram(np.sqrt(np.clip((gb[:, 2] - gb[:, 0]) * (gb[:, 3] - gb[:, 1]), 0, None)), bins=30)
    fd["box_sizes"] = {"sqrt_area_edges": edges.tolist(), "counts": counts.tolist()}
    viz.class_count_histogram(axes[1], g.labels[~g.iscrowd], names, title="Ground-truth objects per class")
    out.append(("dataset", "Dataset statistics", _png_uri(fig)))
    prog("figures", 7, 8)

    if data.pr_breakdown is not None:
        bd = data.pr_breakdown
        n_area = len(bd["area_labels"])
        ncols = min(n_area, 4)
        nrows = -(-n_area // ncols)
        fig, axes = viz.new_axes(nrows, ncols, size=(4.2, 3.6))
        flat = list(np.atleast_1d(axes).ravel())
        _draw_breakdown(flat, bd)
        for ax in flat[n_area:]:
            ax.set_axis_off()
        out.append(("breakdown", "COCO-style PR breakdown per area range (all classes)", _png_uri(fig)))
    prog("figures", 8, 8)
    return out


def _draw_breakdown(fig_axes: Any, bd: dict[str, Any]) -> None:
    from annokit.viz.figures import breakdown_curves

    for ax, area in zip(fig_axes, bd["area_labels"]):
        curves = bd["overall"][area]
        breakdown_curves(ax, np.asarray(bd["rec_thrs"]), {k: np.asarray(v["precision"]) for k, v in curves.items()},
                         aps={k: v["ap"] for k, v in curves.items()}, title=f"PR breakdown, all classes, area {area}")


def _gallery(gt: Dataset, dets: Instances, data: ReportData, image_root: Path | None,
             prog: Progress) -> list[tuple[int, str, str, int, int]]:
    """``[(image_id, file_name, data URI, n_fp, n_fn)]`` for the worst images."""
    from annokit import viz

    tags = data.tide.tags
    g = gt.annotations
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    names = dict(zip(gt.categories.ids.tolist(), gt.categories.names))
    thr = data.threshold
    above = (tags.pred_status <= 1) & (scores >= thr)
    tp_at = above & (tags.pred_status == 0)
    found = np.zeros(len(g), dtype=bool)
    found[tags.pred_match[tp_at]] = True
    out = []
    pos_of = {int(i): k for k, i in enumerate(gt.images.ids.tolist())}
    for n, img_id in enumerate(data.worst_images):
        k = pos_of[img_id]
        fname = gt.images.file_names[k]
        hw = (int(gt.images.heights[k]), int(gt.images.widths[k]))
        img = load_image(image_root, fname)
        if img is not None:
            hw = img.shape[:2]
        gsel = np.flatnonzero((g.image_ids == img_id) & ~g.iscrowd)
        psel = np.flatnonzero((dets.image_ids == img_id) & above)
        fn = gsel[~found[gsel]]
        boxes = np.concatenate([g.boxes[fn], dets.boxes[psel]])
        labels = np.concatenate([g.labels[fn], dets.labels[psel]])
        status = ["FN"] * len(fn) + [PRED_STATUS[s] for s in tags.pred_status[psel]]
        sc = np.concatenate([np.full(len(fn), np.nan), scores[psel]])
        h, w = hw
        fig, ax = viz.new_axes(size=(6.0, 6.0 * h / max(w, 1)))
        viz.overlay(ax, img, image_hw=hw, boxes=boxes, labels=labels, status=status, scores=sc, names=names,
                    title=f"image {img_id}: {fname}")
        n_fp = int(sum(s == "FP" for s in status))
        out.append((img_id, fname, _png_uri(fig), n_fp, len(fn)))
        prog("gallery", n + 1, len(data.worst_images))
    return out


# ------------------------------------------------------------------------------------------------ HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:1em 2em;
color:#222;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em} th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:right} th{background:#f0f0f0} td.name,th.name{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0;border:1px solid #ddd;padding:.5em;background:#fafafa}
figure img{max-width:100%;height:auto;display:block} figcaption{font-size:.85em;color:#555;margin-top:.3em}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:1em}
.note{color:#666;font-size:.9em} .legend span{display:inline-block;padding:0 .5em;margin-right:.5em;color:#fff}
"""


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, float):
        if not np.isfinite(v):
            return "&ndash;"
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _html(data: ReportData, figures: list[tuple[str, str, str]], gallery: list[tuple[int, str, str, int, int]]) -> str:
    from annokit.viz.overlay import STATUS_COLORS

    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(data.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(data.title)}</h1>",
        f'<p class="note">{data.n_images} images, {data.n_gt} ground-truth objects (crowd regions not counted), '
        f"{data.n_pred} predictions; IoU type {e(data.iou_type)}. Generated by annokit.</p>",
    ]
    # summary
    parts.append('<h2 id="summary">Summary</h2>')
    if data.coco_metrics is not None:
        keys = list(data.coco_metrics)
        parts.append('<table id="summary-table"><tr>' + "".join(f"<th>{e(k)}</th>" for k in keys) + "</tr><tr>"
                     + "".join(f"<td>{_fmt(data.coco_metrics[k])}</td>" for k in keys) + "</tr></table>")
    else:
        parts.append('<table id="summary-table"><tr><th>TIDE AP50</th></tr>'
                     f"<tr><td>{_fmt(data.tide.ap / 100)}</td></tr></table>"
                     '<p class="note">COCO metrics unavailable (annokit.metrics.coco is not installed).</p>')
    parts.append(f'<p>Best-F1 score threshold (all classes, IoU 0.5): <b>{data.threshold:.3f}</b> &mdash; F1 '
                 f"{data.threshold_f1:.3f}, precision {data.threshold_precision:.3f}, recall "
                 f"{data.threshold_recall:.3f}. Per-class TP / FP / FN and the gallery use this threshold.</p>")
    # TIDE
    tr = data.tide
    parts.append('<h2 id="errors">Error decomposition (TIDE)</h2>')
    parts.append(f'<p class="note">TIDE mAP at IoU {tr.pos_thresh}: {tr.ap:.2f} points. dAP = AP gained by fixing '
                 "every error of that type (oracle); background threshold "
                 f"{tr.bg_thresh}.</p>")
    types = list(ERROR_TYPES) + ["FalsePos", "FalseNeg"]
    dap = {**tr.main_dap, **tr.special_dap}
    parts.append('<table id="tide-table"><tr><th class="name">type</th>' + "".join(f"<th>{t}</th>" for t in types)
                 + "</tr><tr><td class=name>dAP</td>" + "".join(f"<td>{_fmt(dap[t], 2)}</td>" for t in types)
                 + "</tr><tr><td class=name>count</td>"
                 + "".join(f"<td>{tr.counts[t] if t in tr.counts else '&ndash;'}</td>" for t in types)
                 + "</tr></table>")
    # per class
    parts.append('<h2 id="per-class">Per class</h2>')
    cols = [("name", "class"), ("ground_truth", "#gt"), ("predictions", "#pred")]
    if data.coco_metrics is not None:
        cols += [("AP", "AP"), ("AP50", "AP50"), ("AP75", "AP75")]
    cols += [("tide_ap50", "TIDE AP50"), ("tp", "TP"), ("fp", "FP"), ("fn", "FN"), ("precision", "precision"),
             ("recall", "recall")] + [(f"err:{t}", t) for t in ERROR_TYPES]
    rows = ["<tr>" + "".join(f'<th{" class=name" if k == "name" else ""}>{e(t)}</th>' for k, t in cols) + "</tr>"]
    for row in data.per_class:
        cells = []
        for k, _ in cols:
            v = row["errors"][k[4:]] if k.startswith("err:") else row.get(k)
            if k == "tide_ap50" and v is not None:
                v = v / 100
            cells.append(f'<td class=name>{e(str(v))}</td>' if k == "name" else f"<td>{_fmt(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts.append('<p class="note">TP / FP / FN, precision and recall at the best-F1 threshold; the last six columns '
                 "count TIDE errors (false positives by predicted class, misses by ground-truth class).</p>")
    parts.append('<table id="per-class-table">' + "".join(rows) + "</table>")
    # figures
    parts.append('<h2 id="figures">Figures</h2><div class="figs">')
    for fid, ttl, uri in figures:
        parts.append(f'<figure id="fig-{fid}"><img alt="{e(ttl)}" src="{uri}"><figcaption>{e(ttl)}</figcaption>'
                     "</figure>")
    parts.append("</div>")
    # gallery
    parts.append('<h2 id="gallery">Worst images (most FP + FN)</h2>')
    parts.append('<p class="legend">' + "".join(
        f'<span style="background:{STATUS_COLORS[s]}">{s}</span>' for s in ("TP", "FP", "FN")) + "</p>")
    if not gallery:
        parts.append('<p class="note">No image has a false positive or a false negative at the threshold.</p>')
    parts.append('<div class="gallery">')
    for img_id, fname, uri, n_fp, n_fn in gallery:
        parts.append(f'<figure class="gallery-item"><img alt="image {img_id}" src="{uri}"><figcaption>'
                     f"{e(fname)} (id {img_id}): {n_fp} FP, {n_fn} FN</figcaption></figure>")
    parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    gt: Dataset,
    dets: Instances,
    data: ReportData,
    out_dir: str | Path,
    *,
    image_root: str | Path | None = None,
    progress: Progress | None = None,
    with_tags: bool = True,
) -> Path:
    """Draw the figures and gallery of ``data`` and write ``report.html``, ``report.json`` and (``with_tags``)
    ``tags.json`` (one record per object, see :meth:`ObjectTags.to_records`) into ``out_dir``."""
    import orjson

    from annokit._internal.files import json_clean, write_bytes_atomic

    prog = progress or (lambda *_: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(image_root) if image_root is not None else None
    t0 = time.perf_counter()
    figs = _figures(gt, dets, data, prog)
    data.timings["figures"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gal = _gallery(gt, dets, data, root, prog)
    data.timings["gallery"] = time.perf_counter() - t0
    page = _html(data, figs, gal)
    write_bytes_atomic(out / "report.html", page.encode("utf-8"))
    write_bytes_atomic(out / "report.json", orjson.dumps(json_clean(data.to_json()), option=orjson.OPT_INDENT_2))
    if with_tags:
        t0 = time.perf_counter()
        recs = data.tide.tags.to_records(gt, dets)
        write_bytes_atomic(out / "tags.json", orjson.dumps(recs))  # orjson writes NaN as null
        data.timings["tags"] = time.perf_counter() - t0
    prog("tags", 1, 1)
    return out / "report.html"


def build_report(
    gt: Dataset,
    dets: Instances,
    out_dir: str | Path,
    *,
    image_root: str | Path | None = None,
    iou_type: Literal["bbox", "segm"] = "bbox",
    worst_n: int = 12,
    title: str = "annokit report",
    progress: Progress | None = None,
) -> Path:
    """:func:`analyse` then :func:`write_report`; returns the path of ``report.html``.

    >>> from annokit.io.coco import read_instances, read_results           # doctest: +SKIP
    >>> gt = read_instances("gt.json"); dt = read_results("pred.json", gt)  # doctest: +SKIP
    >>> build_report(gt, dt, "report_dir", image_root="images")             # doctest: +SKIP
    """
    data = analyse(gt, dets, iou_type=iou_type, worst_n=worst_n, title=title, progress=progress)
    return write_report(gt, dets, data, out_dir, image_root=image_root, progress=progress)

