"""filter_dataset: identity, what goes and why (every object and image counted once), bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import annokit
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.ops import OpsError, filter_dataset, read_image_list
from tests.conftest import SAMPLE
from tests.ops._strategies import datasets

GT = SAMPLE / "scenes" / "gt.json"


@settings(max_examples=30, deadline=None)
@given(datasets())
def test_filter_by_all_classes_is_the_identity(ds: annokit.Dataset) -> None:
    rec = LossRecorder()
    assert filter_dataset(ds, classes=list(ds.categories.names), recorder=rec) == ds
    assert filter_dataset(ds, classes=ds.categories.ids.tolist()) == ds
    assert filter_dataset(ds, exclude_classes=[]) == ds
    assert rec.report().entries == []


@settings(max_examples=40, deadline=None)
@given(datasets(), st.data())
def test_every_dropped_object_and_image_is_counted_once(ds: annokit.Dataset, data: st.DataObject) -> None:
    names = ds.categories.names
    classes = data.draw(st.none() | st.lists(st.sampled_from(names), unique=True))
    lo = data.draw(st.none() | st.floats(0, 400))
    hi = data.draw(st.none() | st.floats(0, 4000))
    ids = data.draw(st.none() | st.lists(st.sampled_from(ds.images.ids.tolist()), unique=True))
    empty = data.draw(st.booleans())
    rec = LossRecorder()
    out = filter_dataset(ds, classes=classes, min_area=lo, max_area=hi, image_ids=ids, drop_empty_images=empty,
                         recorder=rec)
    report = rec.report()
    assert report.count("objects dropped") == len(ds.annotations) - len(out.annotations)
    assert report.count("images dropped") == len(ds) - len(out)
    assert report.count("categories dropped") == len(ds.categories) - len(out.categories)
    # what stays is exactly what matches
    a = ds.annotations
    keep_cls = np.isin(a.labels, out.categories.ids)
    keep = keep_cls & (a.area >= (lo or 0)) & (a.area <= (hi if hi is not None else np.inf))
    if ids is not None:
        keep &= np.isin(a.image_ids, ids)
    assert np.array_equal(out.annotations.ids, a.ids[keep])
    kept_images = set(ids) if ids is not None else set(ds.images.ids.tolist())
    if empty:
        kept_images &= set(a.image_ids[keep].tolist())
    assert set(out.images.ids.tolist()) == kept_images


def test_reasons_on_the_sample_scenes() -> None:
    ds = annokit.load(GT)
    rec = LossRecorder()
    out = filter_dataset(ds, classes=["circle", "square"], min_area=200, drop_empty_images=True, recorder=rec)
    r = rec.report()
    a = ds.annotations
    assert r.count("objects dropped: class not kept") == int((a.labels == 3).sum())
    assert r.count("objects dropped: area below") == int(((a.labels != 3) & (a.area < 200)).sum())
    assert r.count("images dropped: no objects in the source") == 4
    assert len(out.categories) == 2 and out.images.ids.tolist() == sorted(out.images.ids.tolist())
    assert (out.annotations.area >= 200).all()


def test_area_bounds_are_inclusive() -> None:
    ds = annokit.load(GT)
    area = float(ds.annotations.area[0])
    out = filter_dataset(ds, min_area=area, max_area=area)
    assert ds.annotations.ids[0] in out.annotations.ids
    assert (out.annotations.area == area).all()


def test_unknown_class_says_did_you_mean() -> None:
    ds = annokit.load(GT)
    with pytest.raises(OpsError, match=r"unknown class 'cirle' \(did you mean 'circle'\?\); known: circle"):
        filter_dataset(ds, classes=["cirle"])
    with pytest.raises(OpsError, match="exclude_classes: unknown class 'hexagon'; known"):
        filter_dataset(ds, exclude_classes=["hexagon"])
    with pytest.raises(OpsError, match="not both"):
        filter_dataset(ds, classes=["circle"], exclude_classes=["square"])
    with pytest.raises(OpsError, match="image id"):
        filter_dataset(ds, image_ids=[1, 999])


def test_image_list_by_id_and_name(tmp_path: Path) -> None:
    ds = annokit.load(GT)
    p = tmp_path / "ids.txt"
    p.write_text("# picked by hand\n3\n\nscene_005.png  # the one with a crowd\n")
    assert read_image_list(p, ds).tolist() == [3, 5]
    p.write_text("3\nscene_05.png\n")
    with pytest.raises(FormatError, match=r"ids.txt: line 2: no image .* 'scene_05.png' \(did you mean 'scene_0"):
        read_image_list(p, ds)


def test_dataset_method_is_the_function() -> None:
    ds = annokit.load(GT)
    assert ds.filter(classes=["square"], drop_empty_images=True) == filter_dataset(ds, classes=["square"],
                                                                                   drop_empty_images=True)
