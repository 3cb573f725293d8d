"""Overlap pairs equal a brute-force IoU; the one-key sort of tide_ap equals np.lexsort; the vectorised per-class
breakdown APs equal PRBreakdown.ap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit.analysis.pairs import overlap_pairs
from annokit.analysis.tide import _class_score_order, tide
from annokit.io.coco import dataset_from_coco_dict, read_results
from tests.analysis._cases import make_case


def _brute_iou(a: np.ndarray, b: np.ndarray, crowd: bool) -> float:
    """IoU of two ltrb boxes (crowd: over the first box's area)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    ia = (a[2] - a[0]) * (a[3] - a[1])
    return float(w * h / (ia if crowd else ia + (b[2] - b[0]) * (b[3] - b[1]) - w * h))


def test_overlap_pairs_equal_brute_force() -> None:
    for seed in range(5):
        coco, dets = make_case(np.random.default_rng(seed), n_img=10, crowd_p=0.2, grid=seed % 2 == 0)
        gt = dataset_from_coco_dict(coco)
        dt = read_results(dets, gt)
        p = overlap_pairs(gt, dt, max_dets=5, min_iou=0.1)
        g = gt.annotations
        got = {(int(p.pred_rows[i]), int(p.gt_rows[j])): v for i, j, v in zip(p.pair_pred, p.pair_gt, p.pair_iou)}
        want = {}
        for i in p.pred_rows:
            for j in np.flatnonzero(g.image_ids == dt.image_ids[i]):
                v = _brute_iou(dt.boxes[i], g.boxes[j], bool(g.iscrowd[j]))
                if v >= 0.1:
                    want[(int(i), int(j))] = v
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-12 for k in got)
        # visiting order: per image by score, top 5, as tide's tags say (unevaluated = not visited)
        visited = set(p.pred_rows.tolist())
        assert visited == set(np.flatnonzero(tide(gt, dt, max_dets=5).tags.pred_status < 3).tolist())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0.1, 0.5, 0.5, 0.9, -0.0, 0.0]),
                          st.integers(0, 30)), max_size=40))
def test_class_score_order_equals_lexsort(rows: list[tuple[int, float, int]]) -> None:
    c = np.array([r[0] for r in rows], dtype=np.int64) * 1000
    s = np.array([r[1] for r in rows], dtype=np.float64)
    o = np.arange(len(rows))[::-1].copy()
    assert _class_score_order(c, s, o).tolist() == np.lexsort((o, -s, c)).tolist()


def test_breakdown_per_class_aps_equal_ap() -> None:
    from annokit.analysis.breakdown import BREAKDOWN_KEYS, pr_breakdown

    coco, dets = make_case(np.random.default_rng(3), n_img=12)
    gt = dataset_from_coco_dict(coco)
    bd = pr_breakdown(gt, read_results(dets, gt))
    per = bd.to_dict()["per_class"]
    for c, name in zip(bd.cat_ids.tolist(), bd.cat_names):
        for area in bd.area_labels:
            for k in BREAKDOWN_KEYS:
                want = bd.ap(k, cat_id=c, area=area)
                got = per[name][area][k]
                assert (got is None and want is None) or abs(got - want) < 1e-12, (name, area, k)


def test_vectorised_matching_equals_the_image_by_image_one() -> None:
    """TIDE's matching of all images at once from the overlapping pairs gives exactly the tags of the matching
    image by image, on cases with ties of IoU and score, exact threshold hits and crowd regions, boxes and masks."""
    from annokit.analysis._geometry import iou_function, visit_order
    from annokit.analysis.tide import _match, _match_pairs

    fields = ("pred_status", "pred_match", "pred_iou", "pred_error", "gt_status", "gt_match", "gt_iou")
    for seed in range(30):
        rng = np.random.default_rng(seed)
        coco, dets = make_case(rng, n_img=10, n_gt=7, n_det=12, crowd_p=0.2, grid=seed % 3 != 0)
        gt = dataset_from_coco_dict(coco)
        dt = read_results(dets, gt)
        for pos, bg, max_dets in ((0.5, 0.1, 100), (0.75, 0.2, 4), (0.55, 0.5, 7)):
            order = visit_order(gt, dt, max_dets)
            want = _match(gt, dt, order, iou_function(gt, dt, order, "bbox"), pos, bg)
            got = _match_pairs(gt, dt, order, "bbox", pos, bg)
            for f in fields:
                assert np.array_equal(getattr(got, f), getattr(want, f)), (seed, pos, f)


def test_vectorised_matching_with_masks() -> None:
    """The same on sample_data with mask IoU (polygons, RLE predictions, crowd RLE regions)."""
    import annokit
    from annokit.analysis._geometry import iou_function, visit_order
    from annokit.analysis.tide import _match, _match_pairs
    from tests.conftest import SAMPLE

    gt = annokit.load(SAMPLE / "scenes" / "gt.json")
    dt = read_results(SAMPLE / "scenes" / "pred.json", gt)
    order = visit_order(gt, dt, 100)
    want = _match(gt, dt, order, iou_function(gt, dt, order, "segm"), 0.5, 0.1)
    got = _match_pairs(gt, dt, order, "segm", 0.5, 0.1)
    for f in ("pred_status", "pred_match", "pred_iou", "pred_error", "gt_status", "gt_match", "gt_iou"):
        assert np.array_equal(getattr(got, f), getattr(want, f)), f


def test_scenarios_from_the_order_sorted_once_equal_sorting_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixed-error scenarios filtered from one sorted order (Cls fixes merged in under their new class) give
    exactly the numbers of sorting every scenario's points anew, on cases with ties of score and crowd regions."""
    from annokit.analysis.tide import _Scenario

    cases = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        coco, dets = make_case(rng, n_img=10, n_gt=7, n_det=12, crowd_p=0.2, grid=seed % 3 != 0)
        gt = dataset_from_coco_dict(coco)
        cases.append((gt, read_results(dets, gt)))
    opts: tuple[dict[str, Any], ...] = (
        {}, {"exclude_classes_without_gt": True, "count_ignored_predictions": False}, {"pos_thresh": 0.3})
    fast = [tide(gt, dt, **o).to_dict() for gt, dt in cases for o in opts]
    assert any(d["counts"]["Cls"] for d in fast)
    monkeypatch.setattr(_Scenario, "_fixed_sorted", lambda self, fix: None)
    slow = [tide(gt, dt, **o).to_dict() for gt, dt in cases for o in opts]
    assert fast == slow
