"""annokit's COCO evaluation equals pycocotools' COCOeval on seeded random and edge-case inputs."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from coco_oracle import pycocotools_eval, random_case

from annokit.io.coco import dataset_from_coco_dict, read_results
from annokit.metrics.coco import COCOParams, evaluate

TOL = 1e-9
# more seeds for a longer sweep: ANNOKIT_COCO_SEEDS=1000 python -m pytest tests/metrics/test_coco_differential.py
N_BBOX = int(os.environ.get("ANNOKIT_COCO_SEEDS", 40))
N_SEGM = max(1, N_BBOX * 3 // 10)


def _ours(gt: dict, dets: list, params: COCOParams, fixed: bool = False):
    ds = dataset_from_coco_dict(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dt = read_results(dets, ds)
        return evaluate(ds, dt, params=params, fixed=fixed)


def _compare(ours, ev) -> None:
    np.testing.assert_allclose(ours.precision, ev.eval["precision"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.recall, ev.eval["recall"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.scores, ev.eval["scores"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours.stats, ev.stats, atol=TOL, rtol=0)


@pytest.mark.parametrize("seed", range(N_BBOX))
def test_bbox_random(seed: int) -> None:
    gt, dets = random_case(seed)
    if not dets:
        dets = [{"image_id": gt["images"][0]["id"], "category_id": gt["categories"][0]["id"],
                 "bbox": [1, 1, 5, 5], "score": 0.5}]
    ev = pycocotools_eval(gt, dets, "bbox")
    _compare(_ours(gt, dets, COCOParams()), ev)


@pytest.mark.parametrize("seed", range(N_SEGM))
def test_segm_random(seed: int) -> None:
    gt, dets = random_case(1000 + seed, segm=True)
    if not dets:
        pytest.skip("no detections drawn")
    ev = pycocotools_eval(gt, dets, "segm")
    _compare(_ours(gt, dets, COCOParams(iou_type="segm")), ev)


@pytest.mark.parametrize("seed", range(8))
def test_custom_params(seed: int) -> None:
    gt, dets = random_case(2000 + seed)
    if not dets:
        pytest.skip("no detections drawn")
    rng = np.random.default_rng(seed)
    iou_thrs = sorted(set(np.round(rng.uniform(0.05, 1.0, int(rng.integers(1, 6))), 2).tolist()) | {0.5, 0.75})
    max_dets = sorted(set(rng.integers(1, 150, 3).tolist()))
    while len(max_dets) < 3:
        max_dets.append(max_dets[-1] + 1)
    area_rng = [[0, 1e10], [0, 64], [64, 1024], [1024, 9216], [9216, 1e10]]
    labels = ["all", "nano", "small", "medium", "large"]
    ev = pycocotools_eval(gt, dets, "bbox", iou_thrs=iou_thrs, max_dets=max_dets, area_rng=area_rng,
                          area_labels=labels)
    params = COCOParams(iou_thrs=tuple(iou_thrs), max_dets=tuple(max_dets),
                        area_rng=tuple(tuple(r) for r in area_rng), area_labels=tuple(labels))
    _compare(_ours(gt, dets, params), ev)


def test_iou_threshold_one_and_exact_ties() -> None:
    gt = {"images": [{"id": 1, "height": 100, "width": 100, "file_name": "a"}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
              {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 5, 10, 10], "area": 100, "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 5], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [0, 2.5, 10, 10], "score": 0.8}]
    thrs = [0.5, 0.75, 1.0]
    ev = pycocotools_eval(gt, dets, "bbox", iou_thrs=thrs)
    _compare(_ours(gt, dets, COCOParams(iou_thrs=tuple(thrs))), ev)


def test_crowd_absorbs_many_detections() -> None:
    gt = {"images": [{"id": 1, "height": 100, "width": 100, "file_name": "a"}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 1},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "area": 400, "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [i, i, 10, 10], "score": 0.5 + i / 100} for i in range(5)]
    dets.append({"image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "score": 0.1})
    ev = pycocotools_eval(gt, dets, "bbox")
    ours = _ours(gt, dets, COCOParams())
    _compare(ours, ev)
    assert ours.stats[0] == pytest.approx(1.0)  # the five crowd hits are ignored, not false positives


def test_gt_id_zero_quirk_and_fix() -> None:
    gt = {"images": [{"id": 1, "height": 100, "width": 100, "file_name": "a"}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    ev = pycocotools_eval(gt, dets, "bbox")
    ours = _ours(gt, dets, COCOParams())
    _compare(ours, ev)
    assert ours.stats[0] == 0.0  # pycocotools counts the perfect match as a false positive
    with pytest.warns(Warning, match="id 0"):
        evaluate(dataset_from_coco_dict(gt), read_results(dets, dataset_from_coco_dict(gt)))
    fixed = _ours(gt, dets, COCOParams(), fixed=True)
    assert fixed.stats[0] == pytest.approx(1.0)


def test_ignore_flag_quirk_and_fix() -> None:
    gt = {"images": [{"id": 1, "height": 100, "width": 100, "file_name": "a"}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "area": 100, "iscrowd": 0,
               "ignore": 1}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    ev = pycocotools_eval(gt, dets, "bbox")
    ours = _ours(gt, dets, COCOParams())
    _compare(ours, ev)
    assert ours.stats[8] == pytest.approx(0.5)  # the 'ignore' object is still counted as missed
    assert _ours(gt, dets, COCOParams(), fixed=True).stats[8] == pytest.approx(1.0)


def test_summary_max_dets_quirk_and_fix() -> None:
    gt, dets = random_case(7)
    ev = pycocotools_eval(gt, dets, "bbox", max_dets=[1, 10, 300])
    ours = _ours(gt, dets, COCOParams(max_dets=(1, 10, 300)))
    _compare(ours, ev)
    assert ours.stats[0] == -1 and ours.metrics_dict()["AP"] is None
    fixed = _ours(gt, dets, COCOParams(max_dets=(1, 10, 300)), fixed=True)
    assert fixed.stats[0] == pytest.approx(ours.stats[1] * 0 + np.mean(ours.precision[:, :, :, 0, 2][
        ours.precision[:, :, :, 0, 2] > -1]))


def test_empty_results_scores_zero() -> None:
    gt, _ = random_case(3)
    ds = dataset_from_coco_dict(gt)
    with pytest.warns(Warning, match="empty results"):
        dt = read_results([], ds)
    res = evaluate(ds, dt)
    has_gt = len(gt["annotations"]) > 0
    assert res.stats[0] == (0.0 if has_gt else -1.0)


def test_per_class_ap_matches_precision_slices() -> None:
    gt, dets = random_case(11)
    ev = pycocotools_eval(gt, dets, "bbox")
    ours = _ours(gt, dets, COCOParams())
    per = ours.per_class_dict()
    for k, cat in enumerate(sorted(c["id"] for c in gt["categories"])):
        s = ev.eval["precision"][:, :, k, 0, -1]
        s = s[s > -1]
        expected = float(np.mean(s)) if s.size else None
        got = per[f"c{cat}"]["AP"]
        assert (got is None and expected is None) or got == pytest.approx(expected, abs=TOL)


def test_string_image_ids_equal_pycocotools() -> None:
    gt, dets = random_case(21)
    names = {im["id"]: f"img_{im['id']:x}" for im in gt["images"]}
    for im in gt["images"]:
        im["id"] = names[im["id"]]
    for a in gt["annotations"]:
        a["image_id"] = names[a["image_id"]]
    for d in dets:
        d["image_id"] = names[d["image_id"]]
    ev = pycocotools_eval(gt, dets, "bbox")
    ours = _ours(gt, dets, COCOParams())
    _compare(ours, ev)
    from annokit.io.coco import dataset_to_coco_dict

    assert dataset_to_coco_dict(dataset_from_coco_dict(gt))["images"] == gt["images"]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_files_through_the_block_reader(tmp_path, monkeypatch, seed: int, iou_type: str) -> None:
    """Files read in tiny blocks (boundaries everywhere, the pattern path after the first) equal pycocotools."""
    import functools
    import json

    import annokit._internal.jsoncols as jc
    import annokit.core.coco_results as cr
    from annokit.api import evaluate_coco_files

    monkeypatch.setattr(jc, "_FIRST", 400)
    monkeypatch.setattr(cr, "read_blocks", functools.partial(jc.read_blocks, block_bytes=700))
    gt, dets = random_case(3000 + seed, segm=iou_type == "segm")
    if not dets:
        pytest.skip("no detections drawn")
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    ev = pycocotools_eval(gt, dets, iou_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluate_coco_files(tmp_path / "gt.json", tmp_path / "dt.json", params=COCOParams(iou_type=iou_type))
    _compare(res, ev)


@pytest.mark.parametrize("seed", range(12))
def test_bbox_in_category_blocks_on_threads(monkeypatch, seed: int) -> None:
    """Box evaluation with its categories in blocks on several threads (what large inputs get): pycocotools' numbers,
    and the same bits as in one thread -- arrays, stats and per-row matches."""
    import annokit.metrics.coco as mc

    gt, dets = random_case(4000 + seed, n_images=10)
    if not dets:
        pytest.skip("no detections drawn")
    monkeypatch.setattr(mc, "_PARALLEL_MIN", 10**9)
    one = _ours(gt, dets, COCOParams())  # one batch, no blocks
    monkeypatch.setattr(mc, "_PARALLEL_MIN", 0)
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    blocks_one_thread = _ours(gt, dets, COCOParams())
    for name in ("precision", "recall", "scores", "stats", "dt_matches", "gt_matches"):
        assert np.array_equal(getattr(one, name), getattr(blocks_one_thread, name)), name
    monkeypatch.setenv("ANNOKIT_THREADS", "3")
    spy: list[int] = []
    blocks = mc._category_blocks
    monkeypatch.setattr(mc, "_category_blocks", lambda *a: spy.append(len(b := blocks(*a)) - 1) or b)
    many = _ours(gt, dets, COCOParams())
    assert spy and (spy[0] > 1) == (len(gt["categories"]) > 1)
    _compare(many, pycocotools_eval(gt, dets, "bbox"))
    for name in ("precision", "recall", "scores", "stats", "dt_matches", "gt_matches"):
        assert np.array_equal(getattr(one, name), getattr(many, name)), name


def test_category_blocks_with_chosen_categories_and_images(monkeypatch) -> None:
    """``cat_ids`` / ``img_ids`` chosen in the parameters: the blocks cover those categories only, same bits."""
    import annokit.metrics.coco as mc

    gt, dets = random_case(4107, n_images=12)  # 5 categories: 3 chosen, in blocks
    cats = sorted(c["id"] for c in gt["categories"])
    imgs = sorted(i["id"] for i in gt["images"])
    params = COCOParams(cat_ids=tuple(cats[::2] or cats), img_ids=tuple(imgs[1::2]))
    monkeypatch.setattr(mc, "_PARALLEL_MIN", 10**9)
    one = _ours(gt, dets, params)
    monkeypatch.setattr(mc, "_PARALLEL_MIN", 0)
    monkeypatch.setenv("ANNOKIT_THREADS", "4")
    spy: list[int] = []
    blocks = mc._category_blocks
    monkeypatch.setattr(mc, "_category_blocks", lambda *a: spy.append(len(b := blocks(*a)) - 1) or b)
    many = _ours(gt, dets, params)
    assert spy == [3]
    for name in ("precision", "recall", "scores", "stats", "dt_matches", "gt_matches"):
        assert np.array_equal(getattr(one, name), getattr(many, name)), name
