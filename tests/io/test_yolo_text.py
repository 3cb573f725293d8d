"""YOLO's bulk text of floats (orjson for most rows, ``repr`` for the rest) equals ``repr``'s shortest exact text,
value by value, as the one-at-a-time formatter writes it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annokit.io.yolo import _fmt, _rows_text


def _slow(v: np.ndarray, precision: int | None) -> list[str]:
    return [" ".join(_fmt(x, precision) for x in row) for row in v.tolist()]


def _samples(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 5000, n).astype(float)
    lo = np.round(rng.uniform(0, w, n), 2)
    hi = lo + np.round(rng.uniform(0, 500, n), 2)
    bits = rng.integers(0x3E00000000000000, 0x4400000000000000, n, dtype=np.int64).view(np.float64)
    return [rng.random(n), (lo + hi) / (2 * w), (hi - lo) / w, bits, -bits, np.nextafter(rng.random(n), 2),
            rng.integers(0, 10**6, n) / 1000.0]


@pytest.mark.parametrize("cols", [1, 4, 7])
def test_bulk_text_equals_repr(cols: int) -> None:
    for v in _samples(15_000, cols):
        v = v[: len(v) // cols * cols].reshape(-1, cols)
        assert _rows_text(v, None) == _slow(v, None)


def test_edges() -> None:
    edge = [0.0, -0.0, 1.0, -1.0, 10.0, 1e-4, np.nextafter(1e-4, 0), 1e-5, 2.5e-7, 5e-324, 9999999999999998.0, 1e16,
            1e22, 0.1, 1 / 3, np.nan, np.inf, -np.inf, 123456.0, 100.0]
    v = np.array(edge + [0.5] * (-len(edge) % 4)).reshape(-1, 4)
    assert _rows_text(v, None) == _slow(v, None)
    assert _rows_text(v.T.copy()[:, :3], None) == _slow(v.T[:, :3], None)  # rows mixing both paths
    assert _rows_text(v[:, 1:], 3) == _slow(v[:, 1:], 3)  # not contiguous; fixed decimals
    assert _rows_text(np.zeros((0, 4)), None) == []
    assert _rows_text(np.array([[1.0]]), None) == ["1"]


# ------------------------------------------------------------------------------- reading: bulk vs line by line
_TOKENS = ["0", "3", "79", "80", "-1", "1.5", "99999999999999999999", "0.5", "0.25", "-0.1", "-0.0", "1e-3", "1e308",
           "1e999", "nan", "inf", "-inf", "1_0", "+0.5", "x", "0x10", "٣"]


def _line_rules(lines: list[str], ncls: int) -> tuple[object, tuple]:
    """What the line-by-line rules keep (a collecting Problems never takes the bulk path)."""
    from pathlib import Path

    from annokit.io.validation import Problems
    from annokit.io.yolo import _label_lines, _Rows

    rows, problems = _Rows(), Problems(collect=True)
    neg = _label_lines(Path("x.txt"), lines, 0, (480, 640), ncls, rows, problems)
    if any(p.level == "error" for p in problems.items) or len(rows.img) != len(lines):
        return None, ()
    return neg, _cols(rows)


def _cols(rows: object) -> tuple:
    r = rows.__dict__
    return (r["img"], r["cls"], r["boxes"], r["lines"], [math.isnan(s) for s in r["scores"]], r["segs"], r["polygon"])


def test_bulk_label_lines_equal_the_line_rules() -> None:
    """Every file the bulk parser accepts is read as the line rules read it (same rows, same first negative
    line); the files it declines include every one the line rules reject or read otherwise."""
    from annokit.io.yolo import _box_lines_bulk, _Rows

    rng = np.random.default_rng(7)
    accepted = declined = 0
    for _ in range(800):
        lines = []
        for _ in range(int(rng.integers(1, 5))):
            if rng.random() < 0.8:  # mostly well-formed lines, so that whole files pass
                toks = [str(int(rng.integers(0, 80)))] + [repr(float(rng.uniform(-0.05, 1))) for _ in range(4)]
            else:
                toks = [str(rng.choice(_TOKENS)) for _ in range(int(rng.choice([3, 4, 5, 5, 5, 6, 9])))]
            lines.append(("  " if rng.random() < 0.1 else "") + " ".join(toks))
        if rng.random() < 0.05:
            lines.append("")
        rows = _Rows()
        got = _box_lines_bulk(lines, 0, 80, rows)
        want, cols = _line_rules(lines, 80)
        if got is None:
            declined += 1
            continue
        accepted += 1
        assert got == want, lines
        assert _cols(rows) == cols, lines
    assert accepted > 150 and declined > 150
