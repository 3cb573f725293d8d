"""``evaluate_coco_files`` (box and mask evaluation of COCO files read into columns, without the pydantic models)
gives the numbers, arrays and warnings of ``evaluate`` on the models, pycocotools' defects included."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from annokit.api import evaluate, evaluate_coco_files
from annokit.io.coco import read_instances
from annokit.metrics.coco import COCOParams, COCOResult
from tests.conftest import ROOT

SCENES = ROOT / "sample_data" / "scenes"


def _tricky(tmp: Path, *, string_ids: bool) -> tuple[Path, Path]:
    """Ground truth with crowd regions, an ``ignore`` flag, an annotation id 0, a missing area, a category without
    detections; detections with a category the ground truth lacks and tied scores."""
    rng = np.random.default_rng(4)
    images = [{"id": f"im{i}" if string_ids else i + 1, "file_name": f"{i}.jpg", "height": 60, "width": 80}
              for i in range(6)]
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for k in range(40):
        img = images[k % 6]["id"]
        x, y = float(rng.integers(0, 50)), float(rng.integers(0, 30))
        w, h = float(rng.integers(3, 30)), float(rng.integers(3, 30))
        a: dict[str, Any] = {"id": k, "image_id": img, "category_id": 1 + k % 3, "bbox": [x, y, w, h],
                             "iscrowd": int(k % 11 == 5),
                             "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]}
        if k % 7 != 3:
            a["area"] = w * h * 0.9
        if k % 13 == 4:
            a["ignore"] = 1
        anns.append(a)
        for j in range(2):
            dx, dy = float(rng.normal(0, 2)), float(rng.normal(0, 2))
            dets.append({"image_id": img, "category_id": 1 + (k + j) % 3 if k % 9 else 9,
                         "bbox": [x + dx, y + dy, w, h], "score": round(float(rng.random()), 1)})
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 4)]
    gt, pred = tmp / "gt.json", tmp / "pred.json"
    gt.write_text(json.dumps({"images": images, "categories": cats, "annotations": anns}))
    pred.write_text(json.dumps(dets))
    return gt, pred


def _both(gt: Path, pred: Path, params: COCOParams, fixed: bool) -> tuple[tuple[COCOResult, list[str]], ...]:
    out = []
    for fn in (lambda: evaluate_coco_files(gt, pred, params=params, fixed=fixed),
               lambda: evaluate(read_instances(gt), pred, params=params, fixed=fixed)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            res = fn()
        out.append((res, sorted(str(x.message) for x in w)))
    return tuple(out)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("fixed", [False, True])
@pytest.mark.parametrize("case", ["scenes", "tricky", "tricky-string-ids"])
def test_columns_path_equals_models_path(tmp_path: Path, iou_type: str, fixed: bool, case: str) -> None:
    if case == "scenes":
        gt, pred = SCENES / "gt.json", SCENES / "pred.json"
    else:
        gt, pred = _tricky(tmp_path, string_ids=case.endswith("string-ids"))
    params = COCOParams(iou_type=iou_type)  # type: ignore[arg-type]
    (got, got_w), (want, want_w) = _both(gt, pred, params, fixed)
    for name in ("stats", "precision", "recall", "scores"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert got.per_class_dict() == want.per_class_dict()
    assert got.summary_text() == want.summary_text()
    assert got_w == want_w
    assert np.array_equal(got.dt_matches, want.dt_matches)
    assert np.array_equal(got.gt_matches, want.gt_matches)
    if case != "scenes":
        assert got_w  # the category the ground truth lacks, the id 0 / ignore defects


@pytest.mark.parametrize("visibility", [2, 3])
def test_ground_truth_with_keypoints_goes_through_the_models(tmp_path: Path, visibility: int) -> None:
    """Keypoints have rules of their own (read by the models' path): a valid file gives the same numbers, a bad
    visibility flag the same error."""
    gt, pred = _tricky(tmp_path, string_ids=False)
    d = json.loads(gt.read_text())
    d["annotations"][0]["keypoints"] = [5, 5, visibility, 0, 0, 0]
    d["annotations"][0]["num_keypoints"] = 1
    gt.write_text(json.dumps(d))
    params = COCOParams()
    if visibility == 3:
        from annokit.errors import FormatError

        with pytest.raises(FormatError) as e1:
            evaluate_coco_files(gt, pred, params=params)
        with pytest.raises(FormatError) as e2:
            evaluate(read_instances(gt), pred, params=params)
        assert str(e1.value) == str(e2.value)
        return
    (got, got_w), (want, want_w) = _both(gt, pred, params, False)
    assert np.array_equal(got.precision, want.precision) and got_w == want_w


def test_box_iou_from_checked_xywh_equals_the_ltrb_path_bit_for_bit() -> None:
    """``box_pair_iou_xywh`` (a results file's rows as read) against ``box_pair_iou`` of the ltrb boxes and source
    sizes made from the same rows: awkward floats (large offsets, tiny and zero sizes), crowd ground truth."""
    from annokit.metrics import coco_engine as eng

    rng = np.random.default_rng(5)
    for _ in range(50):
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 20))
        scale = 10.0 ** rng.integers(-3, 7)
        d = np.round(rng.uniform(0, 1, (n, 4)) * scale, int(rng.integers(0, 6)))
        d[rng.random(n) < 0.1, 2] = 0.0
        d[:, :2] += rng.choice([0.0, 0.1, 1e6 + 0.3])
        g = np.round(rng.uniform(0, 1, (m, 4)) * scale, 2)
        g[:, :2] += d[rng.integers(0, n, m), :2]
        g_ltrb = np.c_[g[:, :2], g[:, :2] + g[:, 2:]]
        crowd = rng.random(m) < 0.2
        di, gi = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
        want = eng.box_pair_iou(np.c_[d[:, :2], d[:, :2] + d[:, 2:]], np.ascontiguousarray(d[:, 2:]), g_ltrb,
                                g[:, 2:].copy(), crowd)(di, gi)
        got = eng.box_pair_iou_xywh(d, g_ltrb, g[:, 2:].copy(), crowd)(di, gi)
        assert np.array_equal(got, want)
