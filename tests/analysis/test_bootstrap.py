"""The bootstrap's resamples: each resample's numbers equal pycocotools on the resampled dataset (every drawn image
written as many times as it is drawn), to 1e-12, with score ties, crowd, maxDets cuts and custom parameters; the
draws are reproducible from the seed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from annokit.analysis.bootstrap import ResamplePlan, draw_counts, iter_counts
from annokit.io.coco import dataset_from_coco_dict, read_results
from annokit.metrics.coco import COCOAccumulator, COCOParams
from tests.analysis._resample import pycocotools_stats, resampled
from tests.metrics.coco_oracle import random_case


def _state(gt: dict, dets: list, params: COCOParams | None = None):
    ds = dataset_from_coco_dict(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = COCOAccumulator(ds, params=params).update(read_results(dets, ds))
    return acc


def _check(gt: dict, dets: list, counts: np.ndarray, params: COCOParams | None = None, **oracle: object) -> int:
    acc = _state(gt, dets, params)
    st = acc.match_state()
    vals = ResamplePlan(st, max_copies=int(counts.max())).values(counts)
    checked = 0
    for b in range(len(counts)):
        ref = pycocotools_stats(*resampled(gt, dets, st.frame.img_ids, counts[b]), **oracle)
        if ref is None:
            continue
        got = vals.metrics[b, :len(ref)]
        np.testing.assert_allclose(got, np.where(ref == -1, np.nan, ref), rtol=0, atol=1e-12, equal_nan=True,
                                   err_msg=f"resample {b}: {counts[b].tolist()}")
        checked += 1
    return checked


@pytest.mark.parametrize("seed", range(16))
def test_each_resample_equals_pycocotools_on_the_resampled_dataset(seed: int) -> None:
    gt, dets = random_case(seed)
    if not dets:
        pytest.skip("a case without detections (pycocotools' loadRes cannot read it)")
    n = len(gt["images"])
    counts = draw_counts(np.random.default_rng(seed), n, 3)
    assert _check(gt, dets, counts) >= 1


def test_images_drawn_many_times_with_tied_scores() -> None:
    """Tie units (equal scores on one image, statuses that differ) are repeated as blocks by the resampled
    dataset; images drawn up to 4 times."""
    gt, dets = random_case(5, n_images=5)
    for d in dets:
        d["score"] = round(d["score"], 1)
    counts = np.array([[4, 0, 1, 0, 0], [0, 2, 0, 3, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 5]], np.int32)
    assert _check(gt, dets, counts[:, :len(gt["images"])]) >= 3


def test_custom_parameters() -> None:
    gt, dets = random_case(7, n_images=9)
    params = COCOParams(iou_thrs=(0.5, 0.6, 0.75), max_dets=(1, 5, 20))
    counts = draw_counts(np.random.default_rng(1), len(gt["images"]), 3)
    assert _check(gt, dets, counts, params, iou_thrs=[0.5, 0.6, 0.75], max_dets=[1, 5, 20]) >= 1


def test_per_class_ap_equals_pycocotools_per_class() -> None:
    gt, dets = random_case(11, n_images=10)
    acc = _state(gt, dets)
    st = acc.match_state()
    counts = draw_counts(np.random.default_rng(2), len(gt["images"]), 2)
    vals = ResamplePlan(st, max_copies=int(counts.max())).values(counts)
    from tests.metrics.coco_oracle import pycocotools_eval

    for b in range(len(counts)):
        g2, d2 = resampled(gt, dets, st.frame.img_ids, counts[b])
        ev = pycocotools_eval(g2, d2, "bbox")
        p = ev.eval["precision"][:, :, :, 0, -1]  # (T, R, K) area all, maxDets 100
        for k in range(p.shape[2]):
            e = p[:, :, k]
            ref = e[e > -1].mean() if (e > -1).any() else np.nan
            np.testing.assert_allclose(vals.per_class[b, k, 0], ref, rtol=0, atol=1e-12, equal_nan=True)


def test_every_image_once_is_the_evaluation_itself() -> None:
    gt, dets = random_case(4, n_images=12)
    acc = _state(gt, dets)
    ones = np.ones((1, len(gt["images"])), np.int32)
    got = ResamplePlan(acc.match_state(), max_copies=1).values(ones).metrics[0, :12]
    ref = acc.compute().stats
    np.testing.assert_allclose(got, np.where(ref == -1, np.nan, ref), rtol=0, atol=1e-12, equal_nan=True)


def test_draws_are_reproducible_whatever_the_chunks() -> None:
    a = np.concatenate(list(iter_counts(7, 10, seed=3, chunk=3)))
    b = np.concatenate(list(iter_counts(7, 10, seed=3, chunk=64)))
    assert np.array_equal(a, b) and a.shape == (10, 7) and (a.sum(axis=1) == 7).all()
    assert not np.array_equal(a, np.concatenate(list(iter_counts(7, 10, seed=4))))


def _synth(name: str, seed: int) -> tuple[dict, list]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from synth_protocols_more import keypoints_data, rotated_data

    d = (keypoints_data if name == "keypoints" else rotated_data)(seed, 8)
    return d["gt"], d["results"]


@pytest.mark.parametrize("seed", range(3))
def test_keypoint_resamples_equal_pycocotools_on_the_resampled_dataset(seed: int) -> None:
    """``annokit compare --iou-type keypoints`` uses the same bootstrap: OKS matching, the 10 keypoint numbers."""
    from annokit.io.coco_keypoints import read_keypoint_results

    gt, dets = _synth("keypoints", seed)
    ds = dataset_from_coco_dict(gt)
    acc = COCOAccumulator(ds, params=COCOParams(iou_type="keypoints")).update(read_keypoint_results(dets, ds))
    st = acc.match_state()
    counts = draw_counts(np.random.default_rng(seed), len(gt["images"]), 3)
    vals = ResamplePlan(st, max_copies=int(counts.max())).values(counts)
    for b in range(len(counts)):
        ref = pycocotools_stats(*resampled(gt, dets, st.frame.img_ids, counts[b]), iou_type="keypoints")
        assert ref is not None and len(ref) == 10
        np.testing.assert_allclose(vals.metrics[b, :10], np.where(ref == -1, np.nan, ref), rtol=0, atol=1e-12,
                                   equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
def test_rotated_resamples_equal_an_evaluation_of_the_resampled_dataset(seed: int) -> None:
    """``annokit compare --iou-type rotated``: against annokit's own rotated evaluation of the resampled dataset
    (that evaluation is tested against shapely polygon IoU in tests/metrics/test_rotated_coco.py)."""
    from annokit.io.rotated import read_rotated_results, with_rboxes
    from annokit.metrics.coco import evaluate

    gt, dets = _synth("rotated", seed)
    params = COCOParams(iou_type="rotated")

    def read(g: dict, d: list):
        ds = with_rboxes(dataset_from_coco_dict(g))
        return ds, read_rotated_results(d, ds)

    g, d = read(gt, dets)
    acc = COCOAccumulator(g, params=params).update(d)
    st = acc.match_state()
    counts = draw_counts(np.random.default_rng(seed), len(gt["images"]), 3)
    vals = ResamplePlan(st, max_copies=int(counts.max())).values(counts)
    for b in range(len(counts)):
        ref = evaluate(*read(*resampled(gt, dets, st.frame.img_ids, counts[b])), params=params).stats
        np.testing.assert_allclose(vals.metrics[b, :12], np.where(ref == -1, np.nan, ref), rtol=0, atol=1e-12,
                                   equal_nan=True)
