"""The COCO readers without the pydantic models (``read_instance_columns``, ``read_result_objects``: what
``annokit eval`` on COCO files reads) check what ``read_instances`` / ``read_results`` check and say it in the
same words, and hold the same columns."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from annokit.errors import AnnokitError
from annokit.io.coco import read_instance_columns, read_instances, read_result_objects, read_results
from tests.conftest import ROOT
from tests.io.test_bad_inputs import COCO, RESULTS, Case, _coco_dict, _mutate, fuzz_base


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    """``("ok", value)`` or ``(error class name, message)``."""
    try:
        return "ok", fn(*args)
    except AnnokitError as exc:
        return type(exc).__name__, str(exc)


def _same_columns(cols: Any, ds: Any) -> None:
    im, cats, ann, ga = cols.images, cols.categories, cols.annotations, ds.annotations
    for a, b in ((im.ids, ds.images.ids), (im.heights, ds.images.heights), (im.widths, ds.images.widths),
                 (cats.ids, ds.categories.ids), (ann.ids, ga.ids), (ann.image_ids, ga.image_ids),
                 (ann.labels, ga.labels), (ann.boxes, ga.boxes), (ann.source_wh, ga.source_wh), (ann.area, ga.area),
                 (ann.iscrowd, ga.iscrowd)):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    assert cats.names == ds.categories.names and im.file_names == ds.images.file_names
    assert (ann.ignore is None) == (ga.ignore is None)
    assert ann.ignore is None or np.array_equal(ann.ignore, ga.ignore)
    assert ann.segmentations == ga.segmentations
    assert cols.dataset() == ds


def test_sample_ground_truth_has_the_models_columns() -> None:
    path = ROOT / "sample_data" / "scenes" / "gt.json"
    _same_columns(read_instance_columns(path), read_instances(path))


@pytest.mark.parametrize("case", COCO, ids=[c.name for c in COCO])
def test_malformed_ground_truth_is_the_same_error(tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    kind, msg = _outcome(read_instance_columns, path)
    assert (kind, msg) == _outcome(read_instances, path)
    assert kind == "FormatError" and case.where in msg and "\n" not in msg


@pytest.mark.parametrize("string_ids", [False, True])
def test_random_mutations_give_the_same_outcome(tmp_path: Path, string_ids: bool) -> None:
    """Seeded fuzzing: the columns reader refuses what read_instances refuses, with the same message, and reads the
    same columns from every file both accept."""
    rng = random.Random(11)
    base = fuzz_base(string_ids, ({"id": 0, "image_id": 1, "category_id": 1, "bbox": [2, 2, 3, 3], "ignore": 1},))
    p = tmp_path / "m.json"
    seen_ok = 0
    for _ in range(150):
        d = _mutate(json.loads(json.dumps(base)), rng)
        p.write_text(json.dumps(d))
        kind, got = _outcome(read_instance_columns, p)
        want_kind, want = _outcome(read_instances, p)
        assert kind == want_kind, (d, got, want)
        if kind == "ok":
            seen_ok += 1
            _same_columns(got, want)
        else:
            assert got == want
    assert seen_ok > 10


@pytest.mark.parametrize("case", RESULTS, ids=[c.name for c in RESULTS])
def test_malformed_results_are_the_same_error(tmp_path: Path, case: Case) -> None:
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(_coco_dict()))
    path = case.build(tmp_path)
    cols, ds = read_instance_columns(gt_path), read_instances(gt_path)
    kind, msg = _outcome(read_result_objects, path, cols)
    assert (kind, msg) == _outcome(read_results, path, ds)
    assert kind == "FormatError" and "\n" not in msg


def test_results_have_the_models_columns_and_warnings(tmp_path: Path) -> None:
    gt_path = ROOT / "sample_data" / "scenes" / "gt.json"
    dets = json.loads((ROOT / "sample_data" / "scenes" / "pred.json").read_text())
    dets.append({**dets[0], "category_id": 999})  # unknown category: counted, warned
    path = tmp_path / "r.json"
    path.write_text(json.dumps(dets))
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        got = read_result_objects(path, read_instance_columns(gt_path))
    with warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always")
        want = read_results(path, read_instances(gt_path))
    assert [str(x.message) for x in w1] == [str(x.message) for x in w2] and len(w1) == 1
    for name in ("ids", "image_ids", "labels", "scores", "boxes", "source_wh", "area", "iscrowd"):
        a, b = getattr(got, name), getattr(want, name)
        assert np.array_equal(a, b) and a.dtype == b.dtype, name
    assert got.segmentations == want.segmentations and len(got) == len(want)


def test_the_quick_check_of_result_columns_vouches_only_for_what_the_full_check_passes() -> None:
    """``_plainly_valid`` (read_result_objects' shortcut) is never True where the full check would refuse: random
    columns with non-finite, huge, negative and tiny values."""
    from annokit.io.coco import _ltrb, _plainly_valid

    rng = np.random.default_rng(11)
    specials = [np.inf, -np.inf, np.nan, 1e308, -1e308, 8.99e307, -0.0, -1e-300, 5e-324, 0.0]
    vouched = 0
    for _ in range(400):
        n = int(rng.integers(1, 6))
        xywh = rng.uniform(-50, 50, (n, 4))
        xywh[:, 2:] = np.abs(xywh[:, 2:])
        scores, area = rng.uniform(0, 1, n), rng.uniform(0, 100, n)
        for arr in (xywh, scores, area):
            if rng.random() < 0.5:
                arr.flat[int(rng.integers(arr.size))] = specials[int(rng.integers(len(specials)))]
        with np.errstate(over="ignore", invalid="ignore"):
            boxes = _ltrb(xywh)
            full = bool(np.isfinite(boxes).all() and (boxes[:, 2:] >= boxes[:, :2]).all()
                        and np.isfinite(scores).all() and (np.isfinite(area) & (area >= 0)).all())
        if _plainly_valid(xywh, scores, area):
            vouched += 1
            assert full, (xywh, scores, area)
    assert vouched > 50  # the shortcut is taken for ordinary columns
    assert not _plainly_valid(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
