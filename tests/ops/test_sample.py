"""sample_dataset: n distinct images, reproducible; class-balanced within one image per class; uncertain = the
highest image uncertainty; bad input refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import annokit
from annokit import Dataset
from annokit.convert import read_dataset
from annokit.core.losses import LossRecorder
from annokit.ops import OpsError, image_uncertainty, sample_dataset
from tests.conftest import SAMPLE
from tests.ops._strategies import datasets

GT = SAMPLE / "scenes" / "gt.json"
PRED = SAMPLE / "scenes" / "pred.json"


@settings(max_examples=30, deadline=None)
@given(datasets(max_images=20), st.data(), st.sampled_from(["random", "class-balanced"]))
def test_n_distinct_images_with_their_objects_reproducibly(ds: Dataset, data: st.DataObject, by: str) -> None:
    n = data.draw(st.integers(1, len(ds)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rec = LossRecorder()
    out = sample_dataset(ds, n, by=by, seed=seed, recorder=rec)  # type: ignore[arg-type]
    assert len(out) == n
    assert np.isin(out.images.ids, ds.images.ids).all()
    assert np.array_equal(out.annotations.ids, ds.annotations.ids[np.isin(ds.annotations.image_ids, out.images.ids)])
    assert rec.report().count("images left out") == len(ds) - n
    assert sample_dataset(ds, n, by=by, seed=seed) == out  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(datasets(max_images=30, max_objects=3, single_class_images=True), st.data())
def test_class_balanced_shares_images_evenly_between_classes(ds: Dataset, data: st.DataObject) -> None:
    """With one class per image, each class ends in floor(n/K) or ceil(n/K) images, or all of its images."""
    n = data.draw(st.integers(1, len(ds)))
    out = sample_dataset(ds, n, by="class-balanced", seed=data.draw(st.integers(0, 100)))
    a, o = ds.annotations, out.annotations
    have = [len(np.unique(a.image_ids[a.labels == c])) for c in ds.categories.ids]
    got = [len(np.unique(o.image_ids[o.labels == c])) for c in ds.categories.ids]
    live = [k for k, h in enumerate(have) if h]
    with_objects = len(np.unique(a.image_ids))
    if n <= with_objects and live:
        # every class that could take more images than the smallest count has at most one more than it
        low = min(got[k] for k in live if got[k] < have[k]) if any(got[k] < have[k] for k in live) else None
        for k in live:
            assert got[k] == have[k] or low is None or got[k] <= low + 1
        if low is not None:
            assert all(got[k] >= low for k in live if got[k] < have[k])
    else:
        assert all(g == h for g, h in zip(got, have))  # every image with objects is in


def test_uncertain_takes_the_least_certain_images() -> None:
    ds = annokit.load(GT)
    pred = read_dataset(PRED, "coco-results", gt=GT)
    u = image_uncertainty(ds, pred)
    s = pred.annotations.scores
    for k, i in enumerate(ds.images.ids[:6]):
        on = pred.annotations.image_ids == i
        assert u[k] == pytest.approx(max(1 - abs(2 * s[on] - 1), default=0.0))
    out = sample_dataset(ds, 10, by="uncertain", predictions=pred)
    picked = np.isin(ds.images.ids, out.images.ids)
    assert u[picked].min() >= u[~picked].max()
    assert sample_dataset(ds, 10, by="uncertain", predictions=pred.annotations) == out


def test_bad_input() -> None:
    ds = annokit.load(GT)
    with pytest.raises(OpsError, match="n: 500 images asked, the dataset has 48"):
        sample_dataset(ds, 500)
    with pytest.raises(OpsError, match="n: 0 images"):
        sample_dataset(ds, 0)
    with pytest.raises(OpsError, match="needs predictions"):
        sample_dataset(ds, 5, by="uncertain")
    with pytest.raises(OpsError, match="no scores"):
        sample_dataset(ds, 5, by="uncertain", predictions=ds)
    with pytest.raises(OpsError, match="by: 'best'"):
        sample_dataset(ds, 5, by="best")  # type: ignore[arg-type]


def test_detections_on_unknown_images_are_a_warning() -> None:
    ds = annokit.load(GT)
    pred = read_dataset(PRED, "coco-results", gt=GT)
    part = ds.filter(image_ids=range(1, 11))
    rec = LossRecorder()
    sample_dataset(part, 3, by="uncertain", predictions=pred, recorder=rec)
    assert "are on images not in the dataset" in rec.report().warnings[0]


def test_dataset_method_is_the_function() -> None:
    ds = annokit.load(GT)
    assert ds.sample(7, by="class-balanced", seed=3) == sample_dataset(ds, 7, by="class-balanced", seed=3)
