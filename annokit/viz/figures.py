"""Figures drawn on a given matplotlib ``Axes`` (matplotlib is imported lazily; use the Agg backend headless).

Every function takes ``ax`` first and returns it, so figures compose: ``fig, axes = plt.subplots(1, 2)``;
``pr_curves(axes[0], ...)``; ``save_figure(fig, "pr.svg")``. Use :func:`new_axes` to get a figure without pyplot.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "new_axes",
    "save_figure",
    "figure_png_bytes",
    "pr_curve_points",
    "pr_envelope",
    "pr_curves",
    "reliability_bins",
    "plot_confusion_matrix",
    "error_bars",
    "error_pie",
    "per_class_bars",
    "threshold_curves",
    "threshold_table",
    "best_f1_threshold",
    "reliability_diagram",
    "box_size_histogram",
    "class_count_histogram",
    "breakdown_curves",
    "ERROR_COLORS",
    "BREAKDOWN_COLORS",
]

ERROR_COLORS = {
    "Cls": "#e6550d",
    "Loc": "#3182bd",
    "Both": "#756bb1",
    "Dupe": "#31a354",
    "Bkg": "#de2d26",
    "Miss": "#636363",
    "FalsePos": "#fd8d3c",
    "FalseNeg": "#6baed6",
}


BREAKDOWN_COLORS = {
    "C75": "#ffffff",
    "C50": "#bdd7e7",
    "Loc": "#6baed6",
    "Sim": "#3182bd",
    "Oth": "#fdae6b",
    "BG": "#e6550d",
    "FN": "#a50f15",
}


# ------------------------------------------------------------------------------------------------ figure utils
def new_axes(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (6.0, 4.0)) -> tuple[Any, Any]:
    """A ``(Figure, Axes or array of Axes)`` made without pyplot (no global state, no GUI backend)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def save_figure(fig: Any, path: str | Path, *, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG or SVG (by the file suffix), atomically."""
    from annokit._internal.files import write_bytes_atomic

    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        from annokit.errors import FormatError

        raise FormatError(p, None, f"figures are written as .png or .svg, not {p.suffix!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    write_bytes_atomic(p, buf.getvalue())
    return p


def figure_png_bytes(fig: Any, *, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ PR curves
def _scored(scores: Any, is_tp: Any) -> tuple[np.ndarray, np.ndarray]:
    """(N,) float64 scores and (N,) bool true-positive flags, else :class:`ValidationError`."""
    from annokit.errors import ValidationError

    try:
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValidationError("scores: expected an (N,) array of numbers") from None
    t = np.asarray(is_tp, dtype=bool).reshape(-1)
    if s.shape != t.shape:
        raise ValidationError(f"{s.size} scores but {t.size} true-positive flags")
    return s, t


def pr_curve_points(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw precision-recall points of scored detections: ``(recall (N,), precision (N,))`` float64, detections
    sorted by descending score (stable). Empty when there are no detections; recall is 0 when ``num_gt == 0``."""
    s, t = _scored(scores, is_tp)
    o = np.argsort(-s, kind="stable")
    tp = np.cumsum(t[o])
    prec = tp / np.arange(1, len(o) + 1)
    rec = tp / num_gt if num_gt > 0 else np.zeros(len(o))
    return rec.astype(np.float64), prec.astype(np.float64)


def pr_envelope(recall: np.ndarray, precision: np.ndarray, rec_thrs: np.ndarray | None = None) -> np.ndarray:
    """Interpolated precision at each recall threshold (default ``0, 0.01, ..., 1``): the highest precision at any
    recall ``>= r``, 0 beyond the largest recall reached. ``(R,)`` float64."""
    r = np.asarray(recall, dtype=np.float64)
    p = np.asarray(precision, dtype=np.float64)
    thr = np.arange(101) / 100 if rec_thrs is None else np.asarray(rec_thrs, dtype=np.float64)
    if len(r) == 0:
        return np.zeros(len(thr))
    env = np.maximum.accumulate(p[::-1])[::-1]
    idx = np.searchsorted(r, thr, side="left")
    return np.where(idx < len(env), env[np.minimum(idx, len(env) - 1)], 0.0)


def pr_curves(
    ax: Any,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str = "Precision-recall",
    interpolate: bool = True,
    max_legend: int = 12,
) -> Any:
    """One line per entry of ``curves`` (``{name: (recall (N,), precision (N,))}``); ``interpolate`` draws the
    precision envelope (max precision at any higher recall), as AP integrates it. Legend shows at most
    ``max_legend`` names."""
    for name, (rec, prec) in curves.items():
        rec = np.asarray(rec, dtype=float)
        prec = np.asarray(prec, dtype=float)
        if interpolate and len(prec):
            prec = np.maximum.accumulate(prec[::-1])[::-1]
        ax.plot(rec, prec, label=str(name), linewidth=1.5, drawstyle="steps-post" if interpolate else "default")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if 0 < len(curves) <= max_legend:
        ax.legend(loc="lower left", fontsize="small")
    return ax


# ------------------------------------------------------------------------------------------------ confusion
Normalize = Literal["true", "pred", "all"]
"""How :func:`plot_confusion_matrix` normalises: rows (``"true"``), columns (``"pred"``) or the total (``"all"``)."""


def _normalise(cm: np.ndarray, how: Normalize | None) -> np.ndarray:
    """``cm`` as float64, divided by its row sums, column sums or total (0 where that sum is 0)."""
    m = np.asarray(cm, dtype=np.float64)
    if how is None:
        return m
    total = {"true": m.sum(axis=1, keepdims=True), "pred": m.sum(axis=0, keepdims=True), "all": m.sum()}[how]
    out = np.zeros_like(m)
    np.divide(m, total, out=out, where=np.broadcast_to(total, m.shape) != 0)
    return out


def plot_confusion_matrix(
    ax: Any,
    matrix: np.ndarray,
    labels: Sequence[str],
    *,
    normalize: Normalize | None = None,
    title: str = "Confusion matrix",
    annotate: bool | None = None,
    cmap: str = "Blues",
) -> Any:
    """Draw a ``(K, K)`` matrix (rows true, columns predicted) with ``labels`` on both axes. ``normalize``: rows
    (``"true"``), columns (``"pred"``) or the total (``"all"``). Cell values are written when ``annotate`` (default:
    K <= 20), in black or white by the cell's brightness so they stay legible."""
    from annokit.errors import ValidationError

    m = np.asarray(matrix)
    k = len(labels)
    if m.shape != (k, k):
        raise ValidationError(f"plot_confusion_matrix: matrix {m.shape} and {len(labels)} labels do not agree")
    if normalize not in (None, "true", "pred", "all"):
        raise ValidationError(f"plot_confusion_matrix: normalize must be 'true', 'pred', 'all' or None, "
                              f"got {normalize!r}")
    m = _normalise(m, normalize)
    im = ax.imshow(m, cmap=cmap, vmin=0, vmax=(1.0 if normalize else max(float(m.max()), 1.0)), aspect="auto")
    ax.set_xticks(range(k), labels=list(labels), rotation=90 if k > 6 else 45, ha="right" if k <= 6 else "center")
    ax.set_yticks(range(k), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if annotate is None:
        annotate = k <= 20
    if annotate:
        vmax = im.norm.vmax or 1.0
        for i in range(k):
            for j in range(k):
                v = m[i, j]
                txt = f"{v:.2f}" if normalize else f"{int(v)}"
                ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                        color="white" if v > 0.55 * vmax else "black")
    return ax


# ------------------------------------------------------------------------------------------------ errors
def error_bars(ax: Any, dap: Mapping[str, float], *, title: str = "dAP per error type (oracle fix)") -> Any:
    """One bar per error type (``{type: dAP}``), value written on the bar."""
    names = list(dap)
    vals = [0.0 if v is None or not np.isfinite(v) else float(v) for v in dap.values()]
    bars = ax.bar(names, vals, color=[ERROR_COLORS.get(n, "#999999") for n in names])
    for b, v in zip(bars, vals):
        ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom",
                    fontsize=8)
    ax.set_ylabel("dAP (points)")
    ax.set_title(title)
    ax.set_ylim(0, max([1.0, *vals]) * 1.15)
    return ax


def error_pie(ax: Any, values: Mapping[str, float], *, title: str = "Errors by type (count)") -> Any:
    """Pie of ``values`` per error type (counts, or dAP: ``annokit plot error-pie`` weighs by dAP, which says what
    each type costs); types with zero (or negative) value are left out, names, values and shares in the legend,
    percentages on wedges of at least 4 %."""
    items = [(k, v) for k, v in values.items() if v is not None and np.isfinite(v) and v > 0]
    if not items:
        ax.text(0.5, 0.5, "no errors", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        return ax
    names, vals = zip(*items)
    total = float(sum(vals))
    wedges, _texts, _auto = ax.pie(
        vals, colors=[ERROR_COLORS.get(n, "#999999") for n in names], startangle=90, counterclock=False,
        autopct=lambda pct: f"{pct:.0f}%" if pct >= 4 else "", pctdistance=0.75, textprops={"fontsize": 8})
    # names in a legend, not around the pie: small wedges would make their labels collide
    shown = [str(v) if isinstance(v, (int, np.integer)) else f"{v:.2f}" for v in vals]
    ax.legend(wedges, [f"{n} ({s}, {100 * v / total:.1f}%)" for n, s, v in zip(names, shown, vals)],
              loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    ax.set_title(title)
    ax.set_aspect("equal")
    return ax


def per_class_bars(
    ax: Any,
    values: Mapping[str, float | None],
    *,
    title: str = "AP per class",
    ylabel: str = "AP",
    sort: bool = True,
    max_bars: int = 80,
) -> Any:
    """One bar per class (``{name: value}``; ``None`` / nan values, e.g. the AP of a class without ground truth, are
    drawn as a full-height light hatched bar), sorted by value (descending) when ``sort``; at most ``max_bars`` bars
    (the lowest are kept: they matter)."""
    items = [(str(k), (float("nan") if v is None else float(v))) for k, v in values.items()]
    if sort:
        items.sort(key=lambda kv: (-np.inf if np.isnan(kv[1]) else kv[1]), reverse=True)
    if len(items) > max_bars:
        items = items[-max_bars:]
    names = [k for k, _ in items]
    vals = np.array([v for _, v in items], dtype=float)
    missing = np.isnan(vals)
    top = max(1.0, float(np.nanmax(vals)) if (~missing).any() else 1.0)
    bars = ax.bar(names, np.where(missing, top, vals), color=np.where(missing, "#f2f2f2", "#3182bd").tolist(),
                  edgecolor=np.where(missing, "#999999", "#3182bd").tolist())
    for b, m in zip(bars, missing):
        if m:  # undefined: a full-height hatched bar, visible (a zero-height one would not be)
            b.set_hatch("//")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7 if len(names) > 20 else 9)
    ax.set_ylim(0, top * 1.05)
    return ax


# ------------------------------------------------------------------------------------------------ thresholds
def best_f1_threshold(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> tuple[float, float, float, float]:
    """``(threshold, f1, precision, recall)`` at the score threshold with the highest F1 (keeping detections with
    ``score >= threshold``; the highest threshold wins ties). ``(nan, 0, 0, 0)`` without detections."""
    s, t = _scored(scores, is_tp)
    if len(s) == 0:
        return float("nan"), 0.0, 0.0, 0.0
    thr, prec, rec = threshold_table(s, t, num_gt)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)
    i = int(np.argmax(f1))
    return float(thr[i]), float(f1[i]), float(prec[i]), float(rec[i])


def threshold_table(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(thresholds, precision, recall)``, one entry per distinct score in descending order: what keeping the
    detections with ``score >= threshold`` gives (a threshold keeps all detections of equal score)."""
    s, t = _scored(scores, is_tp)
    o = np.argsort(-s, kind="stable")
    s_o, t_o = s[o], t[o]
    tp = np.cumsum(t_o)
    n = np.arange(1, len(s_o) + 1)
    last = np.r_[s_o[1:] != s_o[:-1], True]  # a threshold keeps all detections of equal score
    thr = s_o[last]
    prec = (tp / n)[last]
    rec = (tp / num_gt)[last] if num_gt > 0 else np.zeros(int(last.sum()))
    return thr, prec, rec


def threshold_curves(
    ax: Any, scores: np.ndarray, is_tp: np.ndarray, num_gt: int, *, title: str = "Score threshold"
) -> Any:
    """Precision, recall and F1 against the score threshold (three lines) with the best-F1 threshold marked by a
    vertical line and a label."""
    s, t = _scored(scores, is_tp)
    if len(s):
        thr, prec, rec = threshold_table(s, t, num_gt)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)
        ax.plot(thr, prec, label="precision", color="#3182bd")
        ax.plot(thr, rec, label="recall", color="#31a354")
        ax.plot(thr, f1, label="F1", color="#e6550d")
        bt, bf, _, _ = best_f1_threshold(s, t, num_gt)
        ax.axvline(bt, color="#444444", linestyle="--", linewidth=1)
        ax.annotate(f"best F1 {bf:.3f} @ {bt:.3f}", (bt, bf), xytext=(5, 5), textcoords="offset points",
                    fontsize=8)
        ax.legend(loc="lower left", fontsize="small")
    ax.set_xlabel("score threshold")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return ax


# ------------------------------------------------------------------------------------------------ calibration
def reliability_bins(confidences: np.ndarray, correct: np.ndarray, *, n_bins: int = 10) -> dict[str, Any]:
    """Calibration statistics: ``n_bins`` equal-width bins on [0, 1] (the first ``[0, w]``, then ``(lo, hi]``),
    computed by :func:`annokit.metrics.classification.calibration_of_confidences` (the one binning of annokit).

    Returns ``{"edges": (B+1,), "count": (B,) int64, "accuracy": (B,), "confidence": (B,), "ece": float}``
    (mean accuracy and confidence per bin, 0 for empty bins; ECE = sum over bins of count * |acc - conf| / N, exact,
    0 without samples).
    """
    from annokit.metrics.classification import calibration_of_confidences

    cal = calibration_of_confidences(confidences, correct, n_bins=n_bins)
    return {"edges": cal.edges, "count": cal.count, "accuracy": np.nan_to_num(cal.accuracy),
            "confidence": np.nan_to_num(cal.mean_confidence), "ece": 0.0 if np.isnan(cal.ece) else cal.ece}


def reliability_diagram(
    ax: Any, confidences: np.ndarray, correct: np.ndarray, *, n_bins: int = 10, title: str = "Reliability"
) -> Any:
    """Accuracy per confidence bin (:func:`reliability_bins`; one bar per non-empty bin) against the diagonal of
    perfect calibration; the expected calibration error (ECE) is in the title."""
    rb = reliability_bins(confidences, correct, n_bins=n_bins)
    nz = rb["count"] > 0
    w = 1.0 / n_bins
    ax.bar(rb["edges"][:-1][nz], rb["accuracy"][nz], width=w, align="edge", color="#3182bd", edgecolor="white",
           label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title} (ECE {rb['ece']:.3f})")
    ax.legend(loc="upper left", fontsize="small")
    return ax


# ------------------------------------------------------------------------------------------------ dataset stats
def box_size_histogram(ax: Any, boxes: np.ndarray, *, bins: int = 30, title: str = "Box size") -> Any:
    """Histogram of ``sqrt(box area)`` of ``(N, 4)`` ltrb boxes (pixels), with COCO's small / medium edges
    (32, 96) marked."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    side = np.sqrt(np.clip((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 0, None))
    ax.hist(side, bins=bins, color="#3182bd")
    for edge in (32, 96):
        ax.axvline(edge, color="#de2d26", linestyle=":", linewidth=1)
    ax.set_xlabel("sqrt(area) (px)")
    ax.set_ylabel("objects")
    ax.set_title(title)
    return ax


def class_count_histogram(
    ax: Any, labels: np.ndarray, names: Mapping[int, str], *, title: str = "Objects per class"
) -> Any:
    """One bar per class of ``names`` (``{category_id: name}``) with the number of objects of that class."""
    lab = np.asarray(labels, dtype=np.int64)
    ids = list(names)
    counts = [int((lab == i).sum()) for i in ids]
    ax.bar([names[i] for i in ids], counts, color="#31a354")
    ax.set_ylabel("objects")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7 if len(ids) > 20 else 9)
    return ax


# ------------------------------------------------------------------------------------------------ PR breakdown
def breakdown_curves(
    ax: Any,
    rec_thrs: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    aps: Mapping[str, float | None] | None = None,
    title: str = "PR breakdown",
) -> Any:
    """COCO-analysis style stacked areas: one filled area per key of ``curves`` (``{key: precision (R,)}`` in the
    order C75, C50, Loc, Sim, Oth, BG, FN: each forgives more, so each lies above the previous), the first drawn on
    top. The legend reads ``[AP] key``, most forgiving last."""
    rec = np.asarray(rec_thrs, dtype=float)
    keys = list(curves)
    for key in reversed(keys):
        y = np.clip(np.asarray(curves[key], dtype=float), 0, None)
        ap = None if aps is None else aps.get(key)
        lab = f"[{ap:.3f}] {key}" if ap is not None else key
        ax.fill_between(rec, 0, y, color=BREAKDOWN_COLORS.get(key, "#cccccc"), label=lab, edgecolor="#555555",
                        linewidth=0.5)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="lower left", fontsize="small")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    return ax
