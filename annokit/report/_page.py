"""The report page, rendered from the jinja2 template ``templates/report.html.j2`` with autoescaping on
(private to :mod:`annokit.report`). Numbers are formatted by the ``num`` filter; the template and its CSS ship as
package data. Figures are inline SVG made by :mod:`annokit.viz.svg` (their text escaped there), inserted as
markup."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from annokit.analysis.tide import ERROR_TYPES

if TYPE_CHECKING:
    import jinja2

    from annokit.report._figures import Figure
    from annokit.report._gallery import GalleryItem
    from annokit.report.build import ReportData

__all__ = ["render_page", "environment", "num", "MAX_TABLE_ROWS"]

MAX_TABLE_ROWS = 200
"""At most this many rows in the page's per-class table (the worst classes; report.json has all)."""


@dataclass(frozen=True)
class _Column:
    """A column of the per-class table: the row key (``err:<type>`` for a TIDE error count) and its title."""

    key: str
    title: str


def num(value: Any, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals, a dash for ``None`` and non-finite values, anything else as
    text (the template escapes it)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "\u2013"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The template environment of the pages (made once): package templates, autoescape on, ``num`` filter."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.PackageLoader("annokit.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = num
    env.filters["svg"] = Markup  # our own SVG text (annokit.viz.svg escapes every string it writes)
    return env


def _columns(with_coco: bool) -> list[_Column]:
    """The per-class table's columns."""
    cols = [_Column("name", "class"), _Column("ground_truth", "#gt"), _Column("predictions", "#pred")]
    if with_coco:
        cols += [_Column("AP", "AP"), _Column("AP50", "AP50"), _Column("AP75", "AP75")]
    cols += [_Column("tide_ap50", "TIDE AP50"), _Column("tp", "TP"), _Column("fp", "FP"), _Column("fn", "FN"),
             _Column("precision", "precision"), _Column("recall", "recall")]
    return cols + [_Column(f"err:{t}", t) for t in ERROR_TYPES]


def _cell(row: dict[str, Any], key: str) -> Any:
    """The value of one per-class cell (TIDE AP50 as a fraction, like the COCO APs beside it)."""
    if key.startswith("err:"):
        return row["errors"][key[4:]]
    v = row.get(key)
    return v / 100 if key == "tide_ap50" and v is not None else v


def render_page(data: ReportData, figures: list[Figure], gallery: list[GalleryItem]) -> str:
    """The HTML page of ``data`` with its ``figures`` and ``gallery``."""
    from annokit.report._figures import MAX_CONFUSION, MAX_ROWS
    from annokit.report._tables import worst_first
    from annokit.viz.overlay import STATUS_COLORS

    tr = data.tide
    cols = _columns(data.coco_metrics is not None)
    ordered = [r for r in worst_first(data.per_class) if r["ground_truth"] > 0 or r["predictions"] > 0]
    names = data.names
    return environment().get_template("report.html.j2").render(
        data=data, tide=tr, outcome=data.outcome, dap={**tr.main_dap, **tr.special_dap},
        error_types=[*ERROR_TYPES, "FalsePos", "FalseNeg"], columns=cols,
        rows=[[_cell(row, c.key) for c in cols] for row in ordered[:MAX_TABLE_ROWS]], n_rows=len(ordered),
        n_classes=len(data.per_class), max_rows=MAX_TABLE_ROWS, figures=figures, gallery=gallery,
        status_colors=STATUS_COLORS, means=data.tide_means,
        without_gt=[names.get(c, str(c)) for c in data.tide_means.without_gt], confusions=data.confusions,
        coco_ap50=(data.coco_metrics or {}).get("AP50"), caps={"bars": MAX_ROWS, "confusion": MAX_CONFUSION},
        n_uneval_images=len({str(r["image_id"]) for r in data.unevaluated}))
