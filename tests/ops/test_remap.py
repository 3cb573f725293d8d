"""remap_dataset: rename, merge, drop; ids stable unless asked; every change counted; unknown names refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import annokit
from annokit import Dataset
from annokit.core.losses import LossRecorder
from annokit.ops import OpsError, parse_map, remap_dataset
from tests.conftest import SAMPLE
from tests.ops._strategies import datasets

GT = SAMPLE / "scenes" / "gt.json"


def _pairs(ds: Dataset) -> list[tuple[int, str]]:
    return list(zip(ds.categories.ids.tolist(), ds.categories.names))


def test_rename_keeps_ids() -> None:
    ds = annokit.load(GT)
    rec = LossRecorder()
    out = remap_dataset(ds, {"circle": "disc"}, recorder=rec)
    assert _pairs(out) == [(1, "disc"), (2, "square"), (3, "triangle")]
    assert out.annotations == ds.annotations
    r = rec.report()
    assert r.count("categories renamed") == 1 and r.count("objects") == 0


def test_merge_takes_the_id_of_the_category_keeping_its_name() -> None:
    ds = annokit.load(GT)
    rec = LossRecorder()
    out = remap_dataset(ds, {"triangle": "circle"}, recorder=rec)
    assert _pairs(out) == [(1, "circle"), (2, "square")]
    a = ds.annotations
    assert np.array_equal(out.annotations.labels, np.where(a.labels == 3, 1, a.labels))
    r = rec.report()
    assert r.count("categories merged") == 1 and r.count("objects relabelled") == int((a.labels == 3).sum())
    both = remap_dataset(ds, {"square": "polygon", "triangle": "polygon"})
    assert _pairs(both) == [(1, "circle"), (2, "polygon")]


def test_drop_new_ids_and_renumber() -> None:
    ds = annokit.load(GT)
    rec = LossRecorder()
    out = remap_dataset(ds, {"circle": None, 2: 7}, recorder=rec)
    assert _pairs(out) == [(7, "square"), (3, "triangle")]
    a = ds.annotations
    assert len(out.annotations) == int((a.labels != 1).sum())
    r = rec.report()
    assert r.count("objects dropped") == int((a.labels == 1).sum())
    assert r.count("category ids changed") == 1 and r.count("objects relabelled") == int((a.labels == 2).sum())
    renum = remap_dataset(ds, {"circle": None}, renumber=True)
    assert _pairs(renum) == [(1, "square"), (2, "triangle")]


def test_mapping_is_simultaneous() -> None:
    ds = annokit.load(GT)
    out = remap_dataset(ds, {"circle": "square", "square": "circle"})
    assert _pairs(out) == [(1, "square"), (2, "circle"), (3, "triangle")]
    assert out.annotations == ds.annotations


@settings(max_examples=30, deadline=None)
@given(datasets(), st.data())
def test_identity_and_counts(ds: Dataset, data: st.DataObject) -> None:
    assert remap_dataset(ds, {n: n for n in ds.categories.names}) == ds
    names = ds.categories.names
    mapping = data.draw(st.dictionaries(st.sampled_from(names), st.none() | st.sampled_from(["x", "y", *names])))
    rec = LossRecorder()
    out = remap_dataset(ds, mapping, recorder=rec)
    r = rec.report()
    assert r.count("objects dropped") == len(ds.annotations) - len(out.annotations)
    kept = ~np.isin(ds.annotations.labels, [ds.categories.id_of(k) for k, v in mapping.items() if v is None])
    assert r.count("objects relabelled") == int((ds.annotations.labels[kept] != out.annotations.labels).sum())
    for k, v in mapping.items():  # each object's class is what the mapping says
        if v is not None:
            cid = ds.categories.id_of(k)
            got = {out.categories.name_of(int(x)) for x in out.annotations.labels[ds.annotations.labels[kept] == cid]}
            assert got <= {v}


def test_unknown_names_and_map_syntax() -> None:
    ds = annokit.load(GT)
    with pytest.raises(OpsError, match=r"map: unknown class 'sqare' \(did you mean 'square'\?\)"):
        remap_dataset(ds, {"sqare": "box"})
    assert parse_map("car=vehicle, truck = vehicle,bird=-,3=5") == {"car": "vehicle", "truck": "vehicle",
                                                                  "bird": None, 3: 5}
    with pytest.raises(OpsError, match="expected OLD=NEW"):
        parse_map("car:vehicle")
    with pytest.raises(OpsError, match="expected OLD=NEW"):
        parse_map("car=")


def test_dataset_method_is_the_function() -> None:
    ds = annokit.load(GT)
    assert ds.remap({"circle": "disc"}) == remap_dataset(ds, {"circle": "disc"})
