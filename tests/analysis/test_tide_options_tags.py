"""The corrected variants of tide() and the per-object tags (hand-built cases with hand-computed answers)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annokit import Dataset, ImageTable, Instances, LabelSet
from annokit.analysis import tide
from annokit.analysis.tide import GT_STATUS, PRED_STATUS, tide_ap


def _ds(boxes: list, labels: list, crowd: list | None = None, n_img: int = 1) -> Dataset:
    return Dataset(
        images=ImageTable(ids=list(range(1, n_img + 1)), file_names=[f"{i}.png" for i in range(1, n_img + 1)],
                          heights=[100] * n_img, widths=[100] * n_img),
        categories=LabelSet.from_names(["a", "b", "c"]),
        annotations=Instances(image_ids=[1] * len(boxes), boxes=np.array(boxes, float).reshape(-1, 4),
                              labels=labels, iscrowd=crowd),
    )


def test_class_without_gt_counts_as_zero_by_default_and_not_when_corrected() -> None:
    ds = _ds([[10, 10, 50, 50]], [1])
    det = Instances(image_ids=[1, 1], boxes=[[10, 10, 50, 50], [60, 60, 70, 70]], labels=[1, 3], scores=[0.9, 0.8])
    assert tide(ds, det).ap == pytest.approx(50.0)
    r = tide(ds, det, exclude_classes_without_gt=True)
    assert r.ap == pytest.approx(100.0)
    assert r.per_class_ap == {1: 100.0}
    assert r.main_dap["Bkg"] == 0.0


def test_ignored_prediction_fix_adds_tp_by_default_only() -> None:
    # gt of class 1 at [0,0,20,20]; a crowd of class 1 covering the right half. The only prediction sits in the
    # crowd (ignored) but overlaps the gt with IoU 0.25 (a Loc error in tidecv, whose fix adds a TP).
    ds = _ds([[0, 0, 20, 20], [10, 0, 100, 100]], [1, 1], crowd=[False, True])
    det = Instances(image_ids=[1], boxes=[[10, 0, 30, 20]], labels=[1], scores=[0.9])
    r = tide(ds, det)
    assert r.ap == 0.0
    assert r.counts["Loc"] == 1 and r.counts["Miss"] == 0
    assert r.main_dap["Loc"] == pytest.approx(100.0)
    assert PRED_STATUS[r.tags.pred_status[0]] == "ignored"
    c = tide(ds, det, count_ignored_predictions=False)
    assert c.counts["Loc"] == 0 and c.counts["Miss"] == 1
    assert c.main_dap["Loc"] == 0.0
    # fixing the only miss leaves no class at all: mAP (and so dAP) is undefined -> nan (tidecv divides by zero)
    assert np.isnan(c.main_dap["Miss"])


def test_tags_and_records() -> None:
    ds = _ds([[10, 10, 50, 50], [60, 60, 90, 90]], [1, 2])
    det = Instances(image_ids=[1, 1, 1], boxes=[[10, 10, 50, 50], [11, 10, 50, 50], [0, 0, 5, 5]],
                    labels=[1, 1, 2], scores=[0.9, 0.8, 0.7])
    r = tide(ds, det)
    t = r.tags
    assert [PRED_STATUS[s] for s in t.pred_status] == ["TP", "FP", "FP"]
    assert t.pred_match.tolist() == [0, 0, -1]
    assert t.pred_iou[0] == 1.0 and t.pred_iou[1] == pytest.approx(39 * 40 / 1600)
    assert [GT_STATUS[s] for s in t.gt_status] == ["TP", "FN"]
    recs = r.tags.to_records(ds, det)
    json.dumps(recs)
    errs = {(x["kind"], x["row"]): x["error"] for x in recs}
    assert errs == {("gt", 0): None, ("gt", 1): "Miss", ("pred", 0): None, ("pred", 1): "Dupe", ("pred", 2): "Bkg"}
    pc = r.tags.per_image_counts(ds, det)
    assert pc["tp"].tolist() == [1] and pc["fp"].tolist() == [2] and pc["fn"].tolist() == [1]


def test_tide_ap_hand_case() -> None:
    # 2 gt; points: TP(0.9), FP(0.8), TP(0.7) -> precision [1, .5, .667] -> smoothed [1, .667, .667]
    ap, per = tide_ap([1, 1, 1], [0.9, 0.8, 0.7], [True, False, True], [0, 1, 2], {1: 2})
    # recall thresholds 0..0.5 -> 1 (51 of them), 0.51..1.0 -> 2/3 (50 of them)
    assert ap == pytest.approx((51 * 1 + 50 * 2 / 3) / 101 * 100)
    assert tide_ap([], [], [], [], {})[0] != tide_ap([], [], [], [], {})[0]  # nan when no class


def test_no_mutation_and_unevaluated() -> None:
    ds = _ds([[10, 10, 50, 50]], [1])
    det = Instances(image_ids=[1, 9], boxes=[[10, 10, 50, 50], [0, 0, 1, 1]], labels=[1, 1], scores=[0.9, 0.8])
    before = det.boxes.copy()
    r = tide(ds, det)
    assert PRED_STATUS[r.tags.pred_status[1]] == "unevaluated"
    assert (det.boxes == before).all()
