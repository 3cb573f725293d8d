"""YOLO's bulk text of floats (orjson for most rows, ``repr`` for the rest) equals ``repr``'s shortest exact text,
value by value, as the one-at-a-time formatter writes it."""

from __future__ import annotations

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
