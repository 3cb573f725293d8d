"""sorted_unique (np.unique without numpy.ma) and the command line's allocator settings."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from annokit._internal.arrays import sorted_unique


@pytest.mark.parametrize("seed", range(5))
def test_sorted_unique_is_np_unique(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for dtype in (np.int64, np.int32, np.float64):
        a = rng.integers(-50, 50, size=int(rng.integers(0, 300))).astype(dtype)
        got, want = sorted_unique(a), np.unique(a)
        assert got.dtype == want.dtype and got.tolist() == want.tolist()
    assert sorted_unique(np.zeros(0, np.int64)).tolist() == []
    assert sorted_unique([7]).tolist() == [7]


def test_sorted_unique_does_not_import_numpy_ma() -> None:
    code = ("import sys, numpy as np\nfrom annokit._internal.arrays import sorted_unique\n"
            "sorted_unique(np.array([3, 1, 3]))\nprint('numpy.ma' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_reuse_freed_memory_takes_effect_in_a_fresh_process() -> None:
    code = ("from annokit._internal.memory import reuse_freed_memory\nimport numpy as np\n"
            "ok = reuse_freed_memory()\nx = np.ones(4 << 20)\nprint(ok, float(x.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", str(float(4 << 20))]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint32, np.uint64, np.int16])
def test_index_of_table_path_is_the_sorted_lookup(dtype: type) -> None:
    """The table path (ids up to 8x the number of ids or values) against a plain sorted lookup, repeated ids and
    values outside the ids' range included."""
    from annokit._internal.arrays import index_of

    rng = np.random.default_rng(1)
    signed = np.dtype(dtype).kind == "i"
    for _ in range(300):
        n, hi = int(rng.integers(1, 50)), int(rng.integers(1, 3000))
        ids = rng.integers(0, hi, n).astype(dtype)
        vals = rng.integers(-20 if signed else 0, hi + 20, int(rng.integers(65, 400))).astype(dtype)
        order = np.argsort(ids, kind="stable")
        pos = np.clip(np.searchsorted(ids[order], vals), 0, n - 1)
        want = np.where(ids[order][pos] == vals, order[pos], -7)
        got = index_of(ids, vals, missing=-7)
        assert got.dtype == np.int64 and got.tolist() == want.tolist()
