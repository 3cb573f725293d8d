"""Figures as inline SVG text: no matplotlib, no raster, sharp at any zoom.

The report and the label-error page embed these strings in their HTML (``<svg>`` elements, so text stays selectable
and every bar, cell and box carries a ``<title>`` tooltip). Each chart function takes the numbers to draw and
returns one ``<svg>`` string with a ``viewBox`` in CSS pixels; the page scales it to its column width.

Only what the pages need is here: a plot frame with ticks (:class:`Frame`), line charts, vertical and horizontal
bar charts (``None`` values drawn hatched), a heatmap, stacked areas, histograms and boxes over an image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PALETTE", "Canvas", "Frame", "Box", "nice_ticks", "line_chart", "bar_chart", "hbar_chart", "heatmap",
           "area_chart", "histogram", "reliability_chart", "image_overlay", "shorten"]

PALETTE: tuple[str, ...] = ("#1f5fa8", "#e8711c", "#2e9b3f", "#c9302c", "#7d57b0", "#8a5a44", "#d55fae", "#6f6f6f",
                            "#a8a51c", "#1ca3b5")
"""Line colours, in order (distinct hues, readable on white)."""

_HATCH = ('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
          'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/>'
          '<line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>')


def _n(v: float) -> str:
    """A coordinate as short text (two decimals at most)."""
    s = f"{v:.2f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def shorten(text: str, n: int = 28) -> str:
    """``text`` cut to ``n`` characters with an ellipsis (the full text goes in a tooltip)."""
    return text if len(text) <= n else text[: n - 1] + "\u2026"


class Canvas:
    """An SVG drawing of ``width`` x ``height`` CSS pixels: elements in drawing order, :meth:`render` gives the
    text. ``label`` is the figure's accessible name (``aria-label``)."""

    def __init__(self, width: float, height: float, *, label: str) -> None:
        self.width, self.height, self.label = width, height, label
        self.parts: list[str] = []

    def add(self, tag: str, attrs: Mapping[str, object], *, text: str | None = None,
            title: str | None = None) -> None:
        """One element; ``text`` is its (escaped) content, ``title`` a tooltip."""
        a = " ".join(f"{k.replace('_', '-')}={quoteattr(_n(v) if isinstance(v, float) else str(v))}"
                     for k, v in attrs.items() if v is not None)
        inner = (f"<title>{escape(title)}</title>" if title else "") + (escape(text) if text is not None else "")
        self.parts.append(f"<{tag} {a}>{inner}</{tag}>" if inner else f"<{tag} {a}/>")

    def rect(self, x: float, y: float, w: float, h: float, *, fill: str = "none", stroke: str | None = None,
             title: str | None = None, **attrs: object) -> None:
        """A rectangle (top-left ``x, y``)."""
        self.add("rect", {"x": float(x), "y": float(y), "width": float(max(w, 0.0)), "height": float(max(h, 0.0)),
                          "fill": fill, "stroke": stroke, **attrs}, title=title)

    def line(self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = "#333", width: float = 1.0,
             dash: str | None = None) -> None:
        """A straight line."""
        self.add("line", {"x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2), "stroke": stroke,
                          "stroke_width": float(width), "stroke_dasharray": dash})

    def polyline(self, xs: np.ndarray, ys: np.ndarray, *, stroke: str, width: float = 1.6,
                 title: str | None = None) -> None:
        """A line through the points ``(xs[i], ys[i])``."""
        pts = " ".join(f"{_n(float(x))},{_n(float(y))}" for x, y in zip(xs, ys))
        self.add("polyline", {"points": pts, "fill": "none", "stroke": stroke, "stroke_width": float(width),
                              "stroke_linejoin": "round"}, title=title)

    def polygon(self, xs: np.ndarray, ys: np.ndarray, *, fill: str, title: str | None = None) -> None:
        """A filled polygon (thin grey outline)."""
        pts = " ".join(f"{_n(float(x))},{_n(float(y))}" for x, y in zip(xs, ys))
        self.add("polygon", {"points": pts, "fill": fill, "stroke": "#555", "stroke_width": 0.5}, title=title)

    def text(self, x: float, y: float, s: str, *, size: float = 11.0, anchor: str = "start", fill: str = "#222",
             rotate: float | None = None, weight: str | None = None, title: str | None = None) -> None:
        """Text whose baseline starts (``anchor``: start, middle, end) at ``x, y``."""
        tr = f"rotate({_n(rotate)} {_n(x)} {_n(y)})" if rotate else None
        self.add("text", {"x": float(x), "y": float(y), "font_size": float(size), "text_anchor": anchor,
                          "fill": fill, "transform": tr, "font_weight": weight}, text=s, title=title)

    def render(self) -> str:
        """The ``<svg>`` element (fonts inherited from the page, a hatch pattern defined for empty bars)."""
        w, h = _n(self.width), _n(self.height)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
                f'role="img" aria-label={quoteattr(self.label)} font-family="system-ui,sans-serif">{_HATCH}'
                + "".join(self.parts) + "</svg>")


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About ``n`` round tick values covering ``[lo, hi]`` (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return np.round(np.arange(first, hi + step * 1e-6, step), 10)


@dataclass(frozen=True)
class Frame:
    """A plot area of a :class:`Canvas`: the pixel box ``(x0, y0, w, h)`` and the data ranges ``xlim`` / ``ylim``
    mapped onto it (y grows upwards)."""

    x0: float
    y0: float
    w: float
    h: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def x(self, v: ArrayLike) -> np.ndarray:
        """Pixel x of data values ``v``."""
        lo, hi = self.xlim
        out: np.ndarray = self.x0 + (np.asarray(v, dtype=np.float64) - lo) / ((hi - lo) or 1.0) * self.w
        return out

    def y(self, v: ArrayLike) -> np.ndarray:
        """Pixel y of data values ``v``."""
        lo, hi = self.ylim
        out: np.ndarray = self.y0 + self.h - (np.asarray(v, dtype=np.float64) - lo) / ((hi - lo) or 1.0) * self.h
        return out

    def draw_axes(self, c: Canvas, *, title: str = "", xlabel: str = "", ylabel: str = "", xticks: bool = True,
                  grid: bool = True) -> None:
        """The frame, tick labels on both axes (x only when ``xticks``), light grid lines, the axis labels and
        the title above."""
        for t in nice_ticks(*self.ylim):
            py = float(self.y(t))
            if grid:
                c.line(self.x0, py, self.x0 + self.w, py, stroke="#e4e4e4")
            c.text(self.x0 - 4, py + 4, f"{t:g}", size=10, anchor="end", fill="#444")
        if xticks:
            for t in nice_ticks(*self.xlim):
                px = float(self.x(t))
                if grid:
                    c.line(px, self.y0, px, self.y0 + self.h, stroke="#e4e4e4")
                c.text(px, self.y0 + self.h + 14, f"{t:g}", size=10, anchor="middle", fill="#444")
        c.rect(self.x0, self.y0, self.w, self.h, stroke="#888")
        if title:
            c.text(self.x0 + self.w / 2, self.y0 - 8, title, size=12, anchor="middle", weight="600")
        if xlabel:
            c.text(self.x0 + self.w / 2, self.y0 + self.h + 30, xlabel, size=11, anchor="middle")
        if ylabel:
            c.text(self.x0 - 34, self.y0 + self.h / 2, ylabel, size=11, anchor="middle", rotate=-90)


def _legend(c: Canvas, items: Sequence[tuple[str, str]], x: float, y: float) -> None:
    """A legend of ``(label, colour)`` swatches, one per line, from ``x, y``."""
    for i, (label, color) in enumerate(items):
        yy = y + 15 * i
        c.rect(x, yy - 9, 10, 10, fill=color, stroke="#888", stroke_width=0.5)
        c.text(x + 14, yy, shorten(label, 30), size=10, title=label if len(label) > 30 else None)


def line_chart(series: Mapping[str, tuple[np.ndarray, np.ndarray]], *, title: str, xlabel: str, ylabel: str,
               xlim: tuple[float, float] = (0.0, 1.0), ylim: tuple[float, float] = (0.0, 1.02),
               marker: tuple[float, str] | None = None, size: tuple[float, float] = (560.0, 340.0),
               colors: Sequence[str] = PALETTE) -> str:
    """One line per entry of ``series`` (``{name: (x, y)}``, drawn in order with ``colors``), a legend at the
    right when there is more than one, and an optional vertical ``marker`` ``(x, label)``."""
    w, h = size
    legend_w = 150.0 if len(series) > 1 else 0.0
    c = Canvas(w, h, label=title)
    f = Frame(52.0, 26.0, w - 64.0 - legend_w, h - 68.0, xlim, ylim)
    f.draw_axes(c, title=title, xlabel=xlabel, ylabel=ylabel)
    for i, (name, (xs, ys)) in enumerate(series.items()):
        if len(xs):
            c.polyline(f.x(np.clip(xs, *xlim)), f.y(np.clip(ys, *ylim)), stroke=colors[i % len(colors)],
                       title=name)
    if marker is not None:
        mx = float(f.x(marker[0]))
        c.line(mx, f.y0, mx, f.y0 + f.h, stroke="#444", dash="4 3")
        c.text(mx + 4, f.y0 + 12, marker[1], size=10)
    if legend_w:
        _legend(c, [(n, colors[i % len(colors)]) for i, n in enumerate(series)], w - legend_w + 4, f.y0 + 10)
    return c.render()


def bar_chart(values: Mapping[str, float], *, title: str, ylabel: str, colors: Mapping[str, str] | None = None,
              fmt: str = "{:.2f}", size: tuple[float, float] = (560.0, 300.0)) -> str:
    """One vertical bar per entry (``{name: value}``), its value written above it; bars below zero are drawn
    from zero downwards."""
    w, h = size
    c = Canvas(w, h, label=title)
    vals = np.array([float(v) if v is not None and math.isfinite(v) else 0.0 for v in values.values()])
    top = max(1.0, float(vals.max(initial=0.0))) * 1.15
    bottom = min(0.0, float(vals.min(initial=0.0))) * 1.15
    f = Frame(52.0, 26.0, w - 64.0, h - 60.0, (0.0, float(max(len(vals), 1))), (bottom, top))
    f.draw_axes(c, title=title, ylabel=ylabel, xticks=False)
    zero = float(f.y(0.0))
    for i, (name, v) in enumerate(zip(values, vals)):
        x = float(f.x(i + 0.15))
        bw = float(f.x(i + 0.85)) - x
        y = float(f.y(v))
        c.rect(x, min(y, zero), bw, abs(zero - y), fill=(colors or {}).get(name, PALETTE[0]),
               title=f"{name}: {fmt.format(v)}")
        c.text(x + bw / 2, min(y, zero) - 3, fmt.format(v), size=10, anchor="middle")
        c.text(x + bw / 2, f.y0 + f.h + 14, shorten(name, 12), size=10, anchor="middle", title=name)
    return c.render()


def hbar_chart(rows: Sequence[tuple[str, float | None]], *, title: str, xlabel: str,
               xlim: tuple[float, float] = (0.0, 1.0), note: str = "", width: float = 560.0,
               fmt: str = "{:.3f}", none_text: str = "undefined") -> str:
    """One horizontal bar per ``(label, value)`` row, top to bottom in the given order, each label at its left
    (cut to 26 characters, the full name in the tooltip) and its value at its right. ``None`` rows are drawn as
    a full-width hatched bar reading ``none_text``. The height grows with the rows (15 px each), so labels never
    overlap; ``note`` is written under the chart."""
    row_h = 15.0
    h = 58.0 + row_h * max(len(rows), 1) + (16.0 if note else 0.0)
    c = Canvas(width, h, label=title)
    f = Frame(176.0, 26.0, width - 270.0, row_h * max(len(rows), 1), xlim, (0.0, 1.0))
    for t in nice_ticks(*xlim):
        px = float(f.x(t))
        c.line(px, f.y0, px, f.y0 + f.h, stroke="#e4e4e4")
        c.text(px, f.y0 + f.h + 14, f"{t:g}", size=10, anchor="middle", fill="#444")
    for i, (label, v) in enumerate(rows):
        y = f.y0 + i * row_h
        name = shorten(label, 26)
        c.text(f.x0 - 5, y + row_h - 4, name, size=10.5, anchor="end", title=label if name != label else None)
        if v is None or not math.isfinite(v):
            c.rect(f.x0, y + 2, f.w, row_h - 4, fill="url(#hatch)", stroke="#bbb", title=f"{label}: {none_text}")
            c.text(f.x0 + f.w + 4, y + row_h - 4, none_text, size=10, fill="#777")
            continue
        x1 = float(f.x(min(max(float(v), xlim[0]), xlim[1])))
        c.rect(f.x0, y + 2, x1 - f.x0, row_h - 4, fill=PALETTE[0], title=f"{label}: {fmt.format(v)}")
        c.text(f.x0 + f.w + 4, y + row_h - 4, fmt.format(v), size=10)
    c.rect(f.x0, f.y0, f.w, f.h, stroke="#888")
    c.text(f.x0 + f.w / 2, f.y0 - 8, title, size=12, anchor="middle", weight="600")
    c.text(f.x0 + f.w / 2, f.y0 + f.h + 30, xlabel, size=11, anchor="middle")
    if note:
        c.text(8.0, h - 6, note, size=10, fill="#555")
    return c.render()


def _cell_fill(v: float) -> str:
    """A white-to-blue colour for ``v`` in [0, 1]."""
    t = min(max(v, 0.0), 1.0)
    r, g, b = (int(round(255 + (e - 255) * t)) for e in (8, 69, 148))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(values: np.ndarray, counts: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], *,
            title: str, xlabel: str = "predicted", ylabel: str = "true", note: str = "") -> str:
    """A ``(R, C)`` matrix of ``values`` in [0, 1] (colour) with ``counts`` written in the cells (when the cells
    are large enough) and in every cell's tooltip; rows and columns labelled (columns rotated)."""
    nr, nc = values.shape
    cell = max(12.0, min(34.0, 640.0 / max(nr, nc, 1)))
    left, top = 150.0, 150.0
    w = max(left + cell * nc + 20.0, 16.0 + 6.6 * max(len(title), len(note) * 0.85))
    h = top + cell * nr + 40.0 + (16.0 if note else 0.0)
    c = Canvas(w, h, label=title)
    for i in range(nr):
        for j in range(nc):
            v, n = float(values[i, j]), int(counts[i, j])
            c.rect(left + j * cell, top + i * cell, cell, cell, fill=_cell_fill(v), stroke="#fff",
                   title=f"{row_labels[i]} \u2192 {col_labels[j]}: {n} ({v:.2f})")
            if cell >= 22 and n:
                c.text(left + (j + 0.5) * cell, top + (i + 0.5) * cell + 4, str(n), size=9, anchor="middle",
                       fill="#fff" if v > 0.55 else "#222")
    for i, lab in enumerate(row_labels):
        c.text(left - 5, top + (i + 0.5) * cell + 4, shorten(lab, 22), size=10, anchor="end", title=lab)
    for j, lab in enumerate(col_labels):
        x, y = left + (j + 0.5) * cell + 4, top - 5
        c.text(x, y, shorten(lab, 22), size=10, rotate=-60, title=lab)
    c.text(left + cell * nc / 2, h - (22.0 if note else 8.0), xlabel, size=11, anchor="middle")
    c.text(12.0, top + cell * nr / 2, ylabel, size=11, anchor="middle", rotate=-90)
    c.text(8.0, 16.0, title, size=12, weight="600")
    if note:
        c.text(8.0, h - 6, note, size=10, fill="#555")
    return c.render()


def area_chart(x: np.ndarray, curves: Mapping[str, np.ndarray], *, title: str, colors: Mapping[str, str],
               labels: Mapping[str, str] | None = None, size: tuple[float, float] = (420.0, 320.0)) -> str:
    """Filled areas under each curve (``{key: y}`` over ``x`` in [0, 1]), the last drawn first so that the first
    key lies on top; a legend of ``labels`` (default: the keys)."""
    w, h = size
    c = Canvas(w, h, label=title)
    f = Frame(44.0, 26.0, w - 150.0, h - 66.0, (0.0, 1.0), (0.0, 1.0))
    f.draw_axes(c, title=title, xlabel="recall", ylabel="precision", grid=False)
    px = f.x(x)
    for key in reversed(list(curves)):
        y = np.clip(np.asarray(curves[key], dtype=np.float64), 0.0, 1.0)
        c.polygon(np.r_[px[0], px, px[-1]], np.r_[f.y(0.0), f.y(y), f.y(0.0)], fill=colors.get(key, "#ccc"),
                  title=(labels or {}).get(key, key))
    _legend(c, [((labels or {}).get(k, k), colors.get(k, "#ccc")) for k in curves], f.x0 + f.w + 6, f.y0 + 10)
    return c.render()


def histogram(edges: np.ndarray, counts: np.ndarray, *, title: str, xlabel: str, ylabel: str,
              vlines: Sequence[float] = (), size: tuple[float, float] = (420.0, 300.0),
              color: str = PALETTE[0]) -> str:
    """Bars over the bins ``edges`` (B + 1,) with heights ``counts`` (B,), dotted vertical lines at ``vlines``."""
    w, h = size
    c = Canvas(w, h, label=title)
    e = np.asarray(edges, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    lo, hi = (float(e[0]), float(e[-1])) if len(e) > 1 and e[-1] > e[0] else (0.0, 1.0)
    f = Frame(52.0, 26.0, w - 64.0, h - 62.0, (lo, hi), (0.0, max(1.0, float(n.max(initial=0.0))) * 1.05))
    f.draw_axes(c, title=title, xlabel=xlabel, ylabel=ylabel)
    for a, b, k in zip(e[:-1], e[1:], n):
        if k > 0:
            x0, x1 = float(f.x(a)), float(f.x(b))
            c.rect(x0, float(f.y(k)), x1 - x0, float(f.y(0.0) - f.y(k)), fill=color, stroke="#fff",
                   title=f"[{a:.3g}, {b:.3g}): {int(k)}")
    for v in vlines:
        if lo <= v <= hi:
            c.line(float(f.x(v)), f.y0, float(f.x(v)), f.y0 + f.h, stroke="#c9302c", dash="2 3")
    return c.render()


def reliability_chart(edges: np.ndarray, accuracy: np.ndarray, count: np.ndarray, *, title: str,
                      size: tuple[float, float] = (420.0, 320.0)) -> str:
    """Accuracy per confidence bin (one bar per non-empty bin over ``edges`` (B + 1,)) against the dashed
    diagonal of perfect calibration; each bar's tooltip gives its count."""
    w, h = size
    c = Canvas(w, h, label=title)
    f = Frame(52.0, 26.0, w - 64.0, h - 62.0, (0.0, 1.0), (0.0, 1.0))
    f.draw_axes(c, title=title, xlabel="confidence", ylabel="accuracy")
    for a, b, acc, n in zip(edges[:-1], edges[1:], accuracy, count):
        if n > 0:
            x0, x1, y = float(f.x(a)), float(f.x(b)), float(f.y(acc))
            c.rect(x0, y, x1 - x0, float(f.y(0.0)) - y, fill=PALETTE[0], stroke="#fff",
                   title=f"({a:.2f}, {b:.2f}]: accuracy {acc:.3f} over {int(n)}")
    c.line(float(f.x(0.0)), float(f.y(0.0)), float(f.x(1.0)), float(f.y(1.0)), stroke="#888", dash="4 3")
    return c.render()


def _text_on(color: str) -> str:
    """Black or white, whichever reads better on the ``#rrggbb`` colour."""
    from annokit.viz.overlay import text_color_for

    rgb = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)] if len(color) == 7 else [0.0, 0.0, 0.0]
    return "#000" if text_color_for(rgb) == "black" else "#fff"


@dataclass(frozen=True)
class Box:
    """One box of :func:`image_overlay`: ltrb in image pixels, colour, dashed or not, tag text (None: no tag),
    tooltip, and whether the tag hangs under the box's bottom edge instead of over its top."""

    ltrb: tuple[float, float, float, float]
    color: str
    dashed: bool = False
    tag: str | None = None
    tooltip: str = ""
    tag_below: bool = False


def image_overlay(hw: tuple[int, int], boxes: Sequence[Box], *, image_uri: str | None = None,
                  width: float = 480.0, title: str = "") -> str:
    """An image of size ``hw`` (its ``data:`` URI, or a light grey canvas) scaled to ``width`` CSS pixels, with
    each box drawn over it and its tag on a filled label of the box's colour."""
    ih, iw = max(hw[0], 1), max(hw[1], 1)
    s = width / iw
    c = Canvas(width, ih * s, label=title or "image")
    if image_uri is not None:
        c.add("image", {"href": image_uri, "x": 0.0, "y": 0.0, "width": width, "height": float(ih * s),
                        "preserveAspectRatio": "none"})
    else:
        c.rect(0.0, 0.0, width, ih * s, fill="#d9d9d9")
    for b in boxes:
        l, t, r, bt = (v * s for v in b.ltrb)
        c.rect(l, t, r - l, bt - t, stroke=b.color, stroke_width=2.0, stroke_dasharray="5 3" if b.dashed else None,
               title=b.tooltip or b.tag)
    for b in boxes:  # tags above every box
        if b.tag:
            l, t, bottom = b.ltrb[0] * s, b.ltrb[1] * s, b.ltrb[3] * s
            ty = (bottom + 12 if bottom + 12 < ih * s else bottom - 2) if b.tag_below else (t - 2 if t > 14 else t + 12)
            c.rect(l - 1, ty - 10, 5.6 * len(b.tag) + 4, 12, fill=b.color, opacity="0.9")
            c.text(l + 1, ty, b.tag, size=9.5, fill=_text_on(b.color))
    return c.render()
