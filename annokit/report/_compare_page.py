"""The page of ``annokit compare`` (private to :mod:`annokit.report`): tables from ``compare.json``'s dict, an
interval chart of the metric deltas, and the most-changed images drawn once per model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annokit.core.dataset import Dataset
from annokit.viz import svg

if TYPE_CHECKING:
    from annokit.report.compare import Comparison

__all__ = ["render_comparison", "interval_chart"]

_UP, _DOWN, _FLAT = "#1a9850", "#d73027", "#777777"


@dataclass(frozen=True)
class _ImageRow:
    """One most-changed image: its entry of ``compare.json`` and one drawing per model."""

    entry: dict[str, Any]
    drawings: list[tuple[str, str]]


def _color(entry: dict[str, Any]) -> str:
    """Green when the whole interval is above 0, red when below, grey otherwise (or without an interval)."""
    ci = entry.get("ci95")
    if not ci:
        return _FLAT
    return _UP if ci[0] > 0 else _DOWN if ci[1] < 0 else _FLAT


def interval_chart(metrics: dict[str, dict[str, Any]], *, title: str) -> str:
    """One row per metric: the delta (a dot) and its 95% interval (a bar) on an axis centred on 0."""
    rows = [(k, e) for k, e in metrics.items() if e.get("delta") is not None]
    ends = [abs(v) for _, e in rows for v in [e["delta"], *(e.get("ci95") or [])]]
    span = float(max([*ends, 0.01])) * 1.1
    w, left, right, top, step = 560.0, 80.0, 20.0, 26.0, 20.0
    c = svg.Canvas(w, top + step * len(rows) + 30, label=title)

    def x(v: float) -> float:
        return float(left + (v + span) / (2 * span) * (w - left - right))

    c.text(w / 2, 14, title, size=12, anchor="middle", weight="bold")
    c.line(x(0), top - 4, x(0), top + step * len(rows), stroke="#999", dash="3 3")
    for i, (k, e) in enumerate(rows):
        y = top + step * i + step / 2
        col = _color(e)
        c.text(left - 6, y + 4, k, size=11, anchor="end")
        if e.get("ci95"):
            lo, hi = e["ci95"]
            c.line(x(lo), y, x(hi), y, stroke=col, width=3)
        tip = f"{k}: delta {e['delta']:+.4f}" + (f", 95% CI [{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}]"
                                                 if e.get("ci95") else "")
        c.add("circle", {"cx": float(x(e["delta"])), "cy": float(y), "r": 4.0, "fill": col}, title=tip)
    yb = top + step * len(rows) + 14
    for v in (-span / 1.1, 0.0, span / 1.1):
        c.text(x(v), yb, f"{v:+.3f}", size=10, anchor="middle", fill="#555")
    return c.render()


def _per_class_rows(per_class: dict[str, dict[str, Any]], limit: int) -> list[tuple[str, dict[str, Any]]]:
    """The classes by AP delta, most negative first (undefined deltas last), at most ``limit``."""
    rows = list(per_class.items())
    rows.sort(key=lambda r: (r[1]["AP"]["delta"] is None, r[1]["AP"]["delta"] or 0.0, r[0]))
    return rows[:limit]


def _image_rows(gt: Dataset, cmp: Comparison, root: Path | None) -> list[_ImageRow]:
    """The most-changed images, each drawn with every model's errors at its own threshold."""
    from annokit.report._gallery import draw_image

    pos = {int(i): k for k, i in enumerate(gt.images.ids.tolist())}
    names = dict(zip(gt.categories.ids.tolist(), gt.categories.names))
    out = []
    for e in cmp.images:
        k = pos[e["image_id"]]
        drawings = [(m.name, draw_image(gt, m.dets, m.outcome, m.tide.tags, k, root, names, width=360.0,
                                        title=f"{m.name}: image {e['image_id']}")[0]) for m in cmp.models]
        out.append(_ImageRow(e, drawings))
    return out


def render_comparison(gt: Dataset, cmp: Comparison, data: dict[str, Any], root: Path | None,
                      notes: list[str]) -> str:
    """The HTML page of ``cmp`` (``data``: its ``to_dict``, JSON-clean)."""
    from annokit.report._page import MAX_TABLE_ROWS, environment
    from annokit.viz.overlay import STATUS_COLORS

    names = list(cmp.names)
    chart = interval_chart(data["metrics"], title=f"{names[1]} \u2212 {names[0]}: delta and 95% interval")
    return environment().get_template("compare.html.j2").render(
        title=cmp.title, names=names, data=data, chart=chart, n_images=len(gt.images), n_gt=cmp.n_gt,
        n_pred={m.name: len(m.dets) for m in cmp.models}, thresholds={m.name: m.outcome.threshold for m in cmp.models},
        per_class=_per_class_rows(data["per_class"], MAX_TABLE_ROWS), n_classes=len(data["per_class"]),
        max_rows=MAX_TABLE_ROWS, images=_image_rows(gt, cmp, root), notes=notes, status_colors=STATUS_COLORS,
        color=_color)
