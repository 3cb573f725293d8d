"""annokit's array-at-once RLE encoder against pycocotools' C encoder: the same bytes, always."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as cmask

from annokit.core.masks import counts_to_strings, rles_from_runs


def _runs(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.concatenate([[0], m.T.ravel().astype(np.int8), [0]])
    d = np.diff(f)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 5), st.integers(0, 2**31 - 1),
       st.sampled_from([0.0, 0.03, 0.5, 0.97, 1.0]), st.booleans())
def test_rles_from_runs_equal_pycocotools_encode(h: int, w: int, n: int, seed: int, p: float, split: bool) -> None:
    rng = np.random.default_rng(seed)
    masks = [rng.random((h, w)) < p for _ in range(n)]
    owner, starts, ends = [], [], []
    for i, m in enumerate(masks):
        for a, b in zip(*_runs(m)):
            if split and b - a > 1:  # touching runs must be joined into one
                c = int(rng.integers(a + 1, b))
                owner += [i, i]
                starts += [a, c]
                ends += [c, b]
            else:
                owner.append(i)
                starts.append(a)
                ends.append(b)
    got = rles_from_runs(np.array(owner, np.int64), np.array(starts, np.int64), np.array(ends, np.int64), n, h, w)
    want = cmask.encode(np.asfortranarray(np.stack(masks, -1).astype(np.uint8))) if n else []
    assert got == want


def test_large_counts_and_negative_deltas() -> None:
    m = np.zeros((3000, 2500), np.uint8, order="F")
    m[1000:2000, 5:2400] = 1
    m[:7, 0] = 1  # the first pixel set: the counts start with 0
    m[-1, -1] = 1  # the last pixel set: no trailing run of zeros
    s, e = _runs(m)
    (got,) = rles_from_runs(np.zeros(len(s), np.int64), s, e, 1, 3000, 2500)
    assert got == cmask.encode(m[:, :, None].copy(order="F"))[0]


def test_counts_to_strings_handles_empty_rles() -> None:
    assert counts_to_strings(np.array([5, 3], np.int64), np.array([0, 2, 0])) == [b"", b"53", b""]
    assert counts_to_strings(np.zeros(0, np.int64), np.zeros(0, np.int64)) == []
