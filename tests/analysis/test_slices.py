"""Sliced evaluation: each slice's 12 numbers equal pycocotools on the slice's images alone (1e-12), from one
matching; slices by an image field and their errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from annokit.analysis.slices import evaluate_slices, slice_table, slices_by_field
from annokit.errors import ValidationError
from annokit.io.coco import dataset_from_coco_dict, read_results
from annokit.metrics.coco import COCOAccumulator
from tests.analysis._resample import pycocotools_stats, subset
from tests.metrics.coco_oracle import random_case


def _acc(gt: dict, dets: list):
    ds = dataset_from_coco_dict(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = COCOAccumulator(ds).update(read_results(dets, ds))
    return ds, acc


@pytest.mark.parametrize("seed", range(12))
def test_every_slice_equals_pycocotools_on_its_images(seed: int) -> None:
    gt, dets = random_case(seed, n_images=8 + seed % 5)
    if not dets:
        pytest.skip("a case without detections (pycocotools' loadRes cannot read it)")
    ds, acc = _acc(gt, dets)
    rng = np.random.default_rng(seed)
    n = len(ds.images)
    slices = {f"s{j}": np.flatnonzero(rng.random(n) < 0.5) for j in range(3)}
    slices["all"] = np.arange(n)
    slices["one"] = np.array([int(rng.integers(n))])
    checked = 0
    for s in evaluate_slices(acc, ds, slices):
        ref = pycocotools_stats(*subset(gt, dets, set(s.image_ids.tolist())))
        if ref is None:  # no detections on the slice: pycocotools cannot load them; every AP is 0 or undefined
            assert (s.result.stats <= 0).all()
            continue
        np.testing.assert_allclose(s.result.stats, ref, rtol=0, atol=1e-12, equal_nan=True, err_msg=s.name)
        checked += 1
    assert checked >= 2


def test_slice_of_all_images_is_the_evaluation_bit_for_bit() -> None:
    gt, dets = random_case(3, n_images=10)
    ds, acc = _acc(gt, dets)
    (whole,) = evaluate_slices(acc, ds, {"all": np.arange(len(ds.images))})
    full = acc.compute()
    assert np.array_equal(whole.result.precision, full.precision)
    assert np.array_equal(whole.result.stats, full.stats, equal_nan=True)


def test_slices_by_an_extra_field_and_a_standard_one() -> None:
    gt = {"images": [{"id": i, "file_name": f"{i}.jpg", "height": 10 + i % 2, "width": 10,
                      **({"weather": ["rain", "sun"][i % 2]} if i != 4 else {})} for i in range(1, 6)],
          "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    ds = dataset_from_coco_dict(gt)
    by = slices_by_field(ds, "weather")
    assert list(by) == ["rain", "sun"]  # image 4 has no weather: in no slice
    assert ds.images.ids[by["rain"]].tolist() == [2] and ds.images.ids[by["sun"]].tolist() == [1, 3, 5]
    assert {k: len(v) for k, v in slices_by_field(ds, "height").items()} == {"10": 2, "11": 3}
    with pytest.raises(ValidationError, match="no image record has the field 'nope'"):
        slices_by_field(ds, "nope")


def test_a_slice_with_an_unknown_position_is_refused_and_the_table_prints() -> None:
    gt, dets = random_case(1, n_images=6)
    ds, acc = _acc(gt, dets)
    with pytest.raises(ValidationError, match="outside"):
        evaluate_slices(acc, ds, {"x": np.array([99])})
    text = slice_table(evaluate_slices(acc, ds, {"a": np.array([0, 1]), "none": np.zeros(0, np.int64)}))
    assert text.splitlines()[0].startswith("slice") and "none" in text and "-" in text.splitlines()[-1]


def test_compute_subset_refuses_an_image_it_does_not_evaluate() -> None:
    gt, dets = random_case(2, n_images=5)
    ds, acc = _acc(gt, dets)
    with pytest.raises(ValidationError, match="image id 123456789 is not evaluated"):
        acc.compute_subset([int(ds.images.ids[0]), 123456789])
    empty = acc.compute_subset([])
    assert (empty.stats == -1).all()
