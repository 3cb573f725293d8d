"""The compiled bootstrap loop (annokit.analysis._bootstrap_kernel): its pieces equal what they stand for (numpy's
pairwise summation as ``np.add.reduceat`` adds, the engine's recall steps), and its numbers equal, bit for bit,
those of the vectorised path it replaced on a seeded set (golden values written by that path)."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from annokit.analysis import _bootstrap_kernel as kernel
from annokit.analysis.bootstrap import ResamplePlan, draw_counts
from annokit.io.coco import dataset_from_coco_dict, read_results
from annokit.metrics import coco_engine as eng
from annokit.metrics.coco import COCOAccumulator, COCOParams
from tests.metrics.coco_oracle import random_case

GOLDEN = Path(__file__).parent / "data" / "bootstrap_golden.json"


def test_pairwise_sums_as_numpy_reduceat_adds() -> None:
    """Every length around the block (128) and halving boundaries, several columns at once, magnitudes spread so
    that any other order of additions differs."""
    rng = np.random.default_rng(0)
    lengths = [0, 1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 130, 255, 256, 257, 1000, 1031, 4099]
    for n in lengths:
        a = rng.random((n + 1, 5)) * 10.0 ** rng.uniform(-6, 6, (n + 1, 5))
        out = np.empty(5)
        kernel.pairwise(a, 1, n, np.empty((64, 5)), out)
        for b in range(5):
            ref = np.add.reduceat(a[:, b].copy(), [0])[0]  # the first term, plus the pairwise sum of the rest
            assert a[0, b] + out[b] == ref, (n, b)


def test_recall_steps_equal_the_engines() -> None:
    npig = np.r_[0, 1, 2, 3, 7, 99, 100, 101, 1000, 12345, np.random.default_rng(1).integers(0, 5000, 200)]
    for thrs in (np.linspace(0, 1, 101), np.array([0.0, 0.33, 0.5, 0.9, 1.0]), np.array([0.7, 0.1, 0.4])):
        got = kernel.recall_steps(thrs, npig.astype(np.int64))
        assert np.array_equal(got, eng.recall_steps(thrs, npig)), thrs


def _cases() -> list[tuple[str, dict, list, COCOParams | None, int]]:
    """The seeded set: random cases (score ties on every third, custom IoU thresholds and maxDets on every fourth)
    and a 300-image slice of the benchmark generator (80 categories, segments of hundreds of runs)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from make_coco_data import make

    out = []
    for seed in range(12):
        gt, dets = random_case(seed, n_images=None if seed % 2 else 6)
        if seed % 3 == 0:
            for d in dets:
                d["score"] = round(d["score"], 1)
        params = COCOParams(iou_thrs=(0.5, 0.6, 0.75), max_dets=(1, 5, 20)) if seed % 4 == 3 else None
        if dets:
            out.append((f"random{seed}", gt, dets, params, seed))
    gt, dets = make(300, seed=3)
    out.append(("bench300", gt, dets, None, 0))
    return out


def _values(gt: dict, dets: list, params: COCOParams | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    ds = dataset_from_coco_dict(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = COCOAccumulator(ds, params=params).update(read_results(dets, ds))
    counts = draw_counts(np.random.default_rng(seed), len(ds.images), 6)
    v = ResamplePlan(acc.match_state(), max_copies=int(counts.max())).values(counts)
    return v.metrics, v.per_class


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def cases() -> list[tuple[str, dict, list, COCOParams | None, int]]:
    return _cases()


def test_numbers_equal_the_vectorised_paths_bit_for_bit(cases: list) -> None:
    """The golden values were written by the numpy path this loop replaced (every resample's numbers tested there
    against pycocotools on the resampled dataset); the hex floats and digests compare every bit."""
    golden = json.loads(GOLDEN.read_text())["cases"]
    assert sorted(golden) == sorted(c[0] for c in cases)
    for name, gt, dets, params, seed in cases:
        metrics, per_class = _values(gt, dets, params, seed)
        want = golden[name]
        got = [" ".join(float(x).hex() for x in row) for row in metrics]
        assert got == want["metrics"], name
        assert list(per_class.shape) == want["per_class_shape"], name
        assert _digest(metrics) == want["metrics_sha256"] and _digest(per_class) == want["per_class_sha256"], name
