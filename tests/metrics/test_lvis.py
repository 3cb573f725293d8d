"""LVIS federated evaluation against ``lvis`` 0.5.3's ``LVISEval`` (the package from PyPI, run through
``lvis_oracle``): every number of ``LVISEval.results``, the precision / recall arrays and the per-class AP (the mean
of a category's defined precision entries, as the reference's arrays give it), bbox and segm, on seeded sets and
edge cases (more than 300 detections an image with score ties and unknown categories, negative and not-exhaustive
categories, ignored ground truth, an empty frequency group, a ground truth of id 0)."""

from __future__ import annotations

import copy
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as cmask

from annokit.errors import FormatError, PycocotoolsQuirkWarning
from annokit.io.coco import read_results
from annokit.io.lvis import read_lvis
from annokit.metrics.lvis import LVISAccumulator, LVISParams, evaluate_lvis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from lvis_oracle import REASON, load_lvis, lvis_eval
from synth_protocols_more import lvis_data

# the seeded differential runs (marked slow): ANNOKIT_PROTOCOL_SEEDS=50 for a long run
SEEDS = int(os.environ.get("ANNOKIT_PROTOCOL_SEEDS", "3"))
KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "AR@300", "ARs@300", "ARm@300", "ARl@300"]

needs_lvis = pytest.mark.skipif(load_lvis() is None, reason=REASON or "lvis not importable")


def ours(tmp: Path, gt: dict[str, Any], results: list[dict[str, Any]], iou_type: str = "bbox",
         fixed: bool = False) -> Any:
    p = tmp / "lvis_gt.json"
    p.write_text(json.dumps(gt))
    ds = read_lvis(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PycocotoolsQuirkWarning)
        return evaluate_lvis(ds, read_results(copy.deepcopy(results), ds),
                             params=LVISParams(iou_type=iou_type), fixed=fixed)  # type: ignore[arg-type]


def assert_same(res: Any, ev: Any) -> None:
    assert list(res.results) == KEYS == list(ev.results)
    for k in KEYS:
        assert abs(res.results[k] - ev.results[k]) <= 1e-12, k
    assert np.abs(res.precision - ev.eval["precision"]).max() <= 1e-12
    assert np.abs(res.recall - ev.eval["recall"]).max() <= 1e-12
    prec = ev.eval["precision"][:, :, :, 0]
    for k, row in enumerate(res.per_class_dict().values()):
        s = prec[:, :, k]
        want = float(np.mean(s[s > -1])) if (s > -1).any() else None
        assert (row["AP"] is None and want is None) or abs(row["AP"] - want) <= 1e-9
    m = res.metrics_dict()
    assert all((m[k] is None) == (ev.results[k] == -1) for k in KEYS)


@pytest.mark.slow
@needs_lvis
@pytest.mark.parametrize("seed", range(SEEDS))
def test_bbox_equals_lvis_api_on_seeded_sets(tmp_path: Path, seed: int) -> None:
    d = lvis_data(seed, 20, n_cats=40, dets=30)
    assert_same(ours(tmp_path, d["gt"], d["results"]), lvis_eval(d["gt"], d["results"]))


def _masks(d: dict[str, Any], seed: int) -> dict[str, Any]:
    """The set with polygon ground truth (a quadrilateral inside each box) and RLE detections."""
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(d)
    for a in out["gt"]["annotations"]:
        x, y, w, h = a["bbox"]
        f = rng.uniform(0, 0.3, 4)
        a["segmentation"] = [[x + f[0] * w, y, x + w, y + f[1] * h, x + w - f[2] * w, y + h, x, y + h - f[3] * h]]
        a["area"] = float(cmask.area(cmask.merge(cmask.frPyObjects(a["segmentation"], 64, 64))))
    for r in out["results"]:
        x, y, w, h = r.pop("bbox")
        rle = cmask.merge(cmask.frPyObjects([[x, y, x + w, y, x + w, y + h, x, y + h]], 64, 64))
        r["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
    return out


@pytest.mark.slow
@needs_lvis
@pytest.mark.parametrize("seed", range(max(1, SEEDS // 2)))
def test_segm_equals_lvis_api(tmp_path: Path, seed: int) -> None:
    d = _masks(lvis_data(100 + seed, 12, n_cats=20, dets=25, size=64.0), seed)
    assert_same(ours(tmp_path, d["gt"], d["results"], "segm"), lvis_eval(d["gt"], d["results"], "segm"))


def _edge_case() -> dict[str, Any]:
    """Two categories (no rare one: APr undefined), an image with 330 detections (ties at the 300th, some of an
    unknown category), a negative category, a not-exhaustive one, an ignored object, an object of id 0."""
    cats = [{"id": 1, "name": "a", "frequency": "f"}, {"id": 2, "name": "b", "frequency": "c"}]
    images = [{"id": 1, "file_name": "1.jpg", "height": 500, "width": 500, "neg_category_ids": [2],
               "not_exhaustive_category_ids": []},
              {"id": 2, "file_name": "2.jpg", "height": 500, "width": 500, "neg_category_ids": [],
               "not_exhaustive_category_ids": [2]},
              {"id": 3, "file_name": "3.jpg", "height": 500, "width": 500, "neg_category_ids": [1],
               "not_exhaustive_category_ids": []}]
    anns = [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 100, 20, 20], "area": 400},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [10, 10, 200, 200], "area": 40000},
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [300, 300, 30, 30], "area": 900, "ignore": 1},
            {"id": 5, "image_id": 3, "category_id": 2, "bbox": [0, 0, 10, 10], "area": 100}]
    rng = np.random.default_rng(0)
    res = [{"image_id": 1, "category_id": 1, "bbox": [11, 11, 50, 50], "score": 0.5},
           {"image_id": 1, "category_id": 2, "bbox": [100, 100, 20, 20], "score": 0.9},
           {"image_id": 2, "category_id": 2, "bbox": [12, 10, 200, 200], "score": 0.8},
           {"image_id": 2, "category_id": 2, "bbox": [400, 400, 20, 20], "score": 0.95},  # not exhaustive: ignored
           {"image_id": 2, "category_id": 1, "bbox": [300, 300, 30, 30], "score": 0.7},
           {"image_id": 3, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.99}]  # negative: a false positive
    for i in range(330):  # image 1: the cut at 300 over all categories, ties, unknown category 9
        c = 9 if i % 7 == 0 else 1
        x, y = rng.uniform(0, 400, 2)
        res.append({"image_id": 1, "category_id": c, "bbox": [float(x), float(y), 30.0, 30.0], "score": 0.3})
    # a true positive tied at 0.3, 311th of its image in file order: cut, because the unknown category's
    # detections count in the 300 (among the known categories' alone it would be about the 265th)
    res.insert(314, {"image_id": 1, "category_id": 1, "bbox": [100, 100, 20, 20], "score": 0.3})
    return {"gt": {"images": images, "annotations": anns, "categories": cats}, "results": res}


@needs_lvis
def test_edge_cases_equal_lvis_api(tmp_path: Path) -> None:
    d = _edge_case()
    res, ev = ours(tmp_path, d["gt"], d["results"]), lvis_eval(d["gt"], d["results"])
    assert_same(res, ev)
    assert res.metrics_dict()["APr"] is None and res.notes  # id 0: the reference's defect, reproduced
    fixed = ours(tmp_path, d["gt"], d["results"], fixed=True)
    assert fixed.results["AP"] > res.results["AP"]


def test_accumulator_in_parts_equals_one_call(tmp_path: Path) -> None:
    d = lvis_data(9, 16, n_cats=30, dets=30)
    full = ours(tmp_path, d["gt"], d["results"])
    ds = read_lvis(tmp_path / "lvis_gt.json")
    dt = read_results(copy.deepcopy(d["results"]), ds)
    a = LVISAccumulator(ds).update(dt[dt.image_ids <= 8])
    b = LVISAccumulator(ds).update(dt[dt.image_ids > 8])
    assert a.merge(b).compute().results == full.results


@pytest.mark.parametrize("mutate,where", [
    (lambda g: g["categories"][1].pop("frequency"), r"categories\[1\] \(id 2\): no 'frequency'"),
    (lambda g: g["categories"][0].update(frequency="x"), r"categories\[0\] \(id 1\): frequency 'x'"),
    (lambda g: g["images"][2].pop("neg_category_ids"), r"images\[2\] \(id 3\): no 'neg_category_ids'"),
])
def test_bad_lvis_ground_truth_is_one_clear_error(tmp_path: Path, mutate: Any, where: str) -> None:
    g = _edge_case()["gt"]
    mutate(g)
    (tmp_path / "g.json").write_text(json.dumps(g))
    with pytest.raises(FormatError, match=where) as exc:
        read_lvis(tmp_path / "g.json")
    assert str(tmp_path / "g.json") in str(exc.value) and "\n" not in str(exc.value)
