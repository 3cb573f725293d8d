"""Box annotations of a large COCO instances file read straight into columns (annokit/io/coco_fast_gt.py): the
same columns as the reader's dicts, and every file it does not take -- or takes wrongly -- is read the usual way,
with the usual errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import annokit.io.coco_fast_gt as fast
from annokit.errors import FormatError
from annokit.io.coco import read_instance_columns, read_instances
from tests.core.test_coco_results import damage

COLS = ("ids", "image_ids", "labels", "boxes", "source_wh", "area", "iscrowd")


def _gt(seed: int, n: int, *, area: bool = True, crowd: bool = True) -> dict:
    rng = random.Random(seed)
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 480, "width": 640} for i in range(1, 30)]
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 5, 9)]
    anns = []
    for k in range(n):
        bb = [round(rng.uniform(0, 600), rng.randrange(0, 4)), rng.randrange(0, 400), rng.uniform(0, 99),
              float(rng.randrange(0, 50))]
        a = {"id": k + 1, "image_id": rng.randrange(1, 30), "category_id": rng.choice([1, 2, 5, 9]), "bbox": bb}
        if area:
            a["area"] = rng.choice([bb[2] * bb[3], rng.randrange(0, 999), 0])
        if crowd:
            a["iscrowd"] = int(rng.random() < 0.05)
        anns.append(a)
    return {"info": {"description": 'has "annotations": [ in a string'}, "images": images, "annotations": anns,
            "categories": cats}


def _dump(d: dict, style: int) -> bytes:
    if style == 0:
        return orjson.dumps(d)
    if style == 1:
        return json.dumps(d).encode()
    return json.dumps(d, indent=2).encode()


def _outcome(path: Path):
    try:
        return read_instance_columns(path), None
    except FormatError as exc:
        return None, str(exc)


def _same(a, b) -> None:
    for name in COLS:
        x, y = getattr(a.annotations, name), getattr(b.annotations, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), name
    assert np.array_equal(a.images.ids, b.images.ids) and np.array_equal(a.categories.ids, b.categories.ids)
    assert a.categories.names == b.categories.names and a.has_keypoints == b.has_keypoints


@pytest.fixture
def both(monkeypatch):
    """``read(path) -> (columns or None, error or None, taken)``: the column reader on any size; ``slow(path)``:
    the dicts' reader."""
    def read(path: Path):
        monkeypatch.setattr(fast, "FAST_FROM", 0)
        taken = fast.fast_checked_parts(path, path.read_bytes()) is not None
        got, err = _outcome(path)
        monkeypatch.setattr(fast, "FAST_FROM", 1 << 62)
        want, want_err = _outcome(path)
        assert err == want_err
        if got is not None:
            _same(got, want)
        return got, err, taken

    return read


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 300), area=st.booleans(), crowd=st.booleans(),
       style=st.integers(0, 2))
def test_box_annotations_same_columns(tmp_path: Path, both, seed, n, area, crowd, style) -> None:
    path = tmp_path / f"g{seed}.json"
    path.write_bytes(_dump(_gt(seed, n, area=area, crowd=crowd), style))
    got, err, taken = both(path)
    assert err is None and taken
    assert got is not None and got._source == path
    assert got.dataset() == read_instances(path)  # the models, read again on demand


@pytest.mark.parametrize("edit", [
    lambda d: d["annotations"][7].update(image_id=999),        # unknown image
    lambda d: d["annotations"][7].update(category_id=3),       # unknown category
    lambda d: d["annotations"][7].update(id=1),                # duplicate id
    lambda d: d["annotations"][7].update(bbox=[1, 2, -3, 4]),  # negative width
    lambda d: d["annotations"][7].update(iscrowd=2),
    lambda d: d["annotations"][7].update(iscrowd=True),
    lambda d: d["annotations"][7].update(area=-1),
    lambda d: d["annotations"][7].update(id=7.0),
    lambda d: d["annotations"][7].update(segmentation=[[1, 2, 3, 4, 5, 6]]),
    lambda d: d["annotations"][7].update(keypoints=[1, 2, 2], num_keypoints=1),
    lambda d: d["annotations"][7].pop("iscrowd"),              # a record without a key the others have
    lambda d: d["images"][3].update(id=1),                     # duplicate image id
    lambda d: [im.update(id=f"s{im['id']}") for im in d["images"]],  # string image ids
    lambda d: d.update(annotations=[]),
    lambda d: d.pop("annotations"),
])
def test_what_it_does_not_take_is_read_as_before(tmp_path: Path, both, edit) -> None:
    d = _gt(3, 40)
    edit(d)
    path = tmp_path / "g.json"
    path.write_bytes(orjson.dumps(d))
    _, _, taken = both(path)
    assert not taken


def test_a_second_annotations_key_or_one_in_a_string(tmp_path: Path, both) -> None:
    d = _gt(4, 40)
    text = orjson.dumps(d)
    path = tmp_path / "g.json"
    # the first "annotations": [ in the file is a nested key's: not taken as the array
    path.write_bytes(text.replace(b'"info":{', b'"info":{"annotations":[{"id":1}],"y":"}]",', 1))
    _, _, taken = both(path)
    assert not taken
    # two top-level annotations lists: orjson keeps the last
    path.write_bytes(text[:-1] + b',"annotations":[]}')
    _, _, taken = both(path)
    assert not taken


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), style=st.integers(0, 2))
def test_damaged_files_error_or_agree(tmp_path: Path, both, seed: int, style: int) -> None:
    rng = random.Random(seed)
    text = bytearray(_dump(_gt(seed, 30), style))
    damage(text, rng, rng.randrange(1, 3), start=len(text) // 4)
    path = tmp_path / f"m{seed}.json"
    path.write_bytes(bytes(text))
    both(path)  # the same error, or the same columns
