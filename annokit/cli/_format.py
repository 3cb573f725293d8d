"""Plain-text tables of metrics for the CLI (private)."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["fmt_value", "summary", "table"]


def fmt_value(v: Any) -> str:
    """A metric as printed: ``null`` when undefined, integers as integers, fractions with 4 decimals, text as it
    is."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "  null"
    if isinstance(v, str):
        return f"{v:>6}"
    if not isinstance(v, bool) and isinstance(v, numbers.Integral):
        return f"{int(v):6d}"
    return f"{float(v):6.4f}"


def table(rows: dict[str, dict[str, Any]], cols: list[str], first: str = "class") -> str:
    """One line per row, one column per key of ``cols``; empty without rows."""
    if not rows:
        return ""
    w = max(len(first), *(len(k) for k in rows))
    head = f"{first:<{w}}  " + "  ".join(f"{c:>9}" for c in cols)
    lines = [head, "-" * len(head)]
    for name, d in rows.items():
        lines.append(f"{name:<{w}}  " + "  ".join(f"{fmt_value(d.get(c)):>9}" for c in cols))
    return "\n".join(lines)


def summary(metrics: dict[str, Any], keys: list[str]) -> str:
    """``key value`` lines of the ``keys`` present in ``metrics``."""
    return "\n".join(f"{k:<18} {fmt_value(metrics.get(k)).strip()}" for k in keys if k in metrics)
