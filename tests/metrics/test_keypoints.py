"""COCO keypoint evaluation against pycocotools' ``COCOeval(iouType="keypoints")``: the 10 summary numbers, the
precision / recall arrays and the per-class AP, on seeded random sets and on hand-made edge cases (crowd, objects
without labelled keypoints, ``num_keypoints`` 0, other K, more than 20 detections an image)."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annokit.errors import FormatError, ValidationError
from annokit.io.coco import dataset_from_coco_dict, read_instances, write_instances
from annokit.io.coco_keypoints import read_keypoint_results
from annokit.metrics.coco import KPT_STAT_KEYS, COCOParams, evaluate
from annokit.metrics.keypoints import COCO_PERSON_SIGMAS, evaluate_keypoints

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth_protocols_more import keypoints_data

# the seeded differential runs (marked slow): ANNOKIT_PROTOCOL_SEEDS=50 for a long run
SEEDS = int(os.environ.get("ANNOKIT_PROTOCOL_SEEDS", "3"))


def oracle(gt: dict[str, Any], results: list[dict[str, Any]], sigmas: list[float] | None = None, *,
           quiet: bool = True) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        g = COCO()
        g.dataset = copy.deepcopy(gt)
        g.createIndex()
        ev = COCOeval(g, g.loadRes(copy.deepcopy(results)), "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.array(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def ours(gt: dict[str, Any], results: list[dict[str, Any]], sigmas: list[float] | None = None) -> Any:
    ds = dataset_from_coco_dict(copy.deepcopy(gt))
    return evaluate_keypoints(ds, read_keypoint_results(copy.deepcopy(results), ds), sigmas=sigmas)


def assert_same(res: Any, ev: COCOeval) -> None:
    assert np.abs(res.stats - ev.stats).max() <= 1e-12
    assert np.abs(res.precision - ev.eval["precision"]).max() <= 1e-12
    assert np.abs(res.recall - ev.eval["recall"]).max() <= 1e-12
    assert list(res.metrics_dict()) == list(KPT_STAT_KEYS)
    prec = ev.eval["precision"][:, :, :, 0, -1]  # all areas, maxDets 20
    for k, row in enumerate(res.per_class_dict().values()):
        s = prec[:, :, k]
        want = float(np.mean(s[s > -1])) if (s > -1).any() else None
        assert (row["AP"] is None and want is None) or abs(row["AP"] - want) <= 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("box_results", [False, True])
def test_equals_pycocotools_on_seeded_sets(seed: int, box_results: bool) -> None:
    d = keypoints_data(seed, 25, box_results=box_results)
    assert_same(ours(d["gt"], d["results"]), oracle(d["gt"], d["results"]))


def _person(k: int = 17) -> list[dict[str, Any]]:
    return [{"id": 1, "name": "person", "supercategory": "person", "keypoints": [f"k{i}" for i in range(k)]}]


def _edge_case() -> dict[str, Any]:
    """Crowd, an object with no labelled keypoint but num_keypoints > 0 (OKS by distance outside its box), one with
    num_keypoints 0 (ignored), an image without ground truth, an image with 25 detections, zero area."""
    rng = np.random.default_rng(7)
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 400, "width": 400} for i in (1, 2, 3)]
    anns, res = [], []

    def ann(img: int, box: list[float], kp: np.ndarray, **kw: Any) -> None:
        a = {"id": len(anns) + 1, "image_id": img, "category_id": 1, "bbox": box, "area": box[2] * box[3] * 0.7,
             "iscrowd": 0, "num_keypoints": int((kp[:, 2] > 0).sum()),
             "keypoints": kp.reshape(-1).astype(float).tolist()}
        a.update(kw)
        anns.append(a)

    def person(x: float, y: float, s: float, v: np.ndarray) -> np.ndarray:
        pts = np.round(np.array([x, y]) + rng.uniform(0, s, (17, 2)))
        return np.column_stack([np.where((v > 0)[:, None], pts, 0), v])

    full = np.full(17, 2)
    ann(1, [10, 10, 80, 80], person(10, 10, 80, full))
    ann(1, [100, 100, 60, 60], person(100, 100, 60, rng.choice([0, 1, 2], 17)))
    ann(1, [200, 200, 50, 90], np.zeros((17, 3)), num_keypoints=3)  # says 3, has none labelled: box distance
    ann(1, [250, 20, 40, 40], np.zeros((17, 3)))  # num_keypoints 0: ignored
    ann(1, [0, 0, 300, 300], np.zeros((17, 3)), iscrowd=1)  # a crowd region
    ann(1, [300, 300, 10, 10], person(300, 300, 10, full), area=0.0)
    ann(2, [50, 50, 100, 120], person(50, 50, 100, full))
    for a in anns:
        if a["image_id"] == 3:
            continue
        base = np.array(a["keypoints"]).reshape(17, 3)[:, :2]
        if not base.any():
            base = np.array(a["bbox"][:2]) + rng.uniform(-20, 120, (17, 2))
        for _ in range(2):
            kp = base + rng.normal(0, 4, base.shape)
            res.append({"image_id": a["image_id"], "category_id": 1, "score": float(rng.random()),
                        "keypoints": np.column_stack([kp, rng.random(17)]).reshape(-1).tolist()})
    for i in range(25):  # more than maxDets=20 on one image
        kp = rng.uniform(0, 400, (17, 2))
        res.append({"image_id": 2 if i else 3, "category_id": 1, "score": float(rng.random()),
                    "keypoints": np.column_stack([kp, np.ones(17)]).reshape(-1).tolist()})
    return {"gt": {"images": images, "annotations": anns, "categories": _person()}, "results": res}


def test_edge_cases_equal_pycocotools() -> None:
    d = _edge_case()
    res, ev = ours(d["gt"], d["results"]), oracle(d["gt"], d["results"])
    assert_same(res, ev)
    assert res.stats[0] > 0 and res.stats[5] > 0


def test_other_k_with_its_sigmas() -> None:
    rng = np.random.default_rng(3)
    d = keypoints_data(3, 20, k=5)
    d["gt"]["categories"][0]["keypoints"] = [f"k{i}" for i in range(5)]
    sigmas = rng.uniform(0.02, 0.12, 5).tolist()
    assert_same(ours(d["gt"], d["results"], sigmas), oracle(d["gt"], d["results"], sigmas))
    with pytest.raises(ValidationError, match="5 sigmas|sigmas"):
        ours(d["gt"], d["results"], sigmas[:4])


def test_file_roundtrip_and_params(tmp_path: Path) -> None:
    d = keypoints_data(5, 15)
    ds = dataset_from_coco_dict(copy.deepcopy(d["gt"]))
    assert ds.annotations.keypoints is not None and ds.annotations.keypoints.shape[1:] == (17, 3)
    write_instances(ds, tmp_path / "g.json")
    again = read_instances(tmp_path / "g.json")
    assert np.array_equal(again.annotations.keypoints, ds.annotations.keypoints)
    dt = read_keypoint_results(copy.deepcopy(d["results"]), ds)
    p = COCOParams(iou_type="keypoints")
    assert p.max_dets == (20,) and p.area_labels == ("all", "medium", "large")
    assert p.kpt_oks_sigmas == COCO_PERSON_SIGMAS
    assert np.array_equal(evaluate(again, dt, params=p).stats, evaluate_keypoints(ds, dt).stats)


def test_wrong_k_in_results_is_one_clear_error() -> None:
    d = keypoints_data(2, 5)
    ds = dataset_from_coco_dict(copy.deepcopy(d["gt"]))
    bad = copy.deepcopy(d["results"])
    bad[0]["keypoints"] = bad[0]["keypoints"][:-3]
    with pytest.raises(FormatError, match=r"\[0\]\.keypoints"):
        read_keypoint_results(bad, ds)


def test_wrong_k_in_ground_truth_is_one_clear_error(tmp_path: Path) -> None:
    d = keypoints_data(2, 5)
    d["gt"]["annotations"][1]["keypoints"] = d["gt"]["annotations"][1]["keypoints"][:-3]
    (tmp_path / "g.json").write_text(__import__("json").dumps(d["gt"]))
    with pytest.raises(FormatError, match=r"g\.json.*annotations\[1\]\.keypoints"):
        read_instances(tmp_path / "g.json")


def test_missing_num_keypoints_is_one_clear_error() -> None:
    d = keypoints_data(2, 5)
    del d["gt"]["annotations"][0]["num_keypoints"]
    with pytest.raises(FormatError, match=r"annotations\[0\].*num_keypoints"):
        ours(d["gt"], d["results"])
