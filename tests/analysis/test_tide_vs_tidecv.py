"""Differential tests: annokit.analysis.tide against the tidecv package (test-only oracle)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from annokit.analysis import ERROR_TYPES, tide
from annokit.io.coco import dataset_from_coco_dict, read_results

try:
    import tidecv
except ModuleNotFoundError:
    pytest.skip("tidecv (the test oracle) is not installed: pip install -e '.[test]'", allow_module_level=True)
except ImportError as exc:  # tidecv imports cv2 (opencv-python), which needs libGL / libglib from the system
    pytest.skip(f"tidecv is installed but cannot be imported ({exc}); on Debian: apt-get install -y libgl1 "
                "libglib2.0-0", allow_module_level=True)

TOL = 1e-9


from tests.analysis._cases import make_case


def _tidecv_result(gt: object, pr: object, mode: object) -> dict:
    """tidecv's AP, main and special dAP and error counts for ground truth ``gt`` and predictions ``pr``."""
    t = tidecv.TIDE()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = t.evaluate(gt, pr, mode=mode)
        errs = t.get_all_errors()
    counts = {e.short_name: n for e, n in run.count_errors().items()}
    return {"ap": run.ap, "main": errs["main"]["pred"], "special": errs["special"]["pred"], "counts": counts}


def run_tidecv(coco: dict, dets: list, max_dets: int = 100) -> dict:
    gt = tidecv.Data("gt", max_dets=max_dets)
    for im in coco["images"]:
        gt.add_image(im["id"], im["file_name"])
    for c in coco["categories"]:
        gt.add_class(c["id"], c["name"])
    for a in coco["annotations"]:
        if a["iscrowd"]:
            gt.add_ignore_region(a["image_id"], a["category_id"], a["bbox"], None)
        else:
            gt.add_ground_truth(a["image_id"], a["category_id"], a["bbox"], None)
    pr = tidecv.Data("pred")
    for d in dets:
        pr.add_detection(d["image_id"], d["category_id"], d["score"], d["bbox"], None)
    return _tidecv_result(gt, pr, tidecv.TIDE.BOX)


def run_annokit(coco: dict, dets: list, **kw: object) -> object:
    ds = dataset_from_coco_dict(coco)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inst = read_results(dets, ds)
    return tide(ds, inst, **kw)


def assert_same(ours: object, ref: dict) -> None:
    assert ours.ap == pytest.approx(ref["ap"], abs=TOL)
    for t in ERROR_TYPES:
        assert ours.main_dap[t] == pytest.approx(ref["main"][t], abs=TOL), t
        assert ours.counts[t] == ref["counts"][t], t
    for t in ("FalsePos", "FalseNeg"):
        assert ours.special_dap[t] == pytest.approx(ref["special"][t], abs=TOL), t


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("seed", range(40))
def test_random_grid_datasets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    coco, dets = make_case(rng, crowd_p=0.15 if seed % 2 else 0.0)
    if not dets:
        pytest.skip("no detections drawn")
    assert_same(run_annokit(coco, dets), run_tidecv(coco, dets))


@pytest.mark.parametrize("seed", range(10))
def test_random_continuous_datasets(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    coco, dets = make_case(rng, n_img=10, n_gt=8, n_det=20, grid=False, crowd_p=0.1)
    assert_same(run_annokit(coco, dets), run_tidecv(coco, dets))


@pytest.mark.parametrize("seed", range(4))
def test_max_dets(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    coco, dets = make_case(rng, n_img=4, n_det=15)
    assert_same(run_annokit(coco, dets, max_dets=4), run_tidecv(coco, dets, max_dets=4))


def _one_image(anns: list, dets: list, n_img: int = 1) -> tuple[dict, list]:
    images = [{"id": i, "file_name": f"{i}.png", "height": 100, "width": 100} for i in range(1, n_img + 1)]
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]
    full = []
    for i, a in enumerate(anns, 1):
        a = {"id": i, "iscrowd": 0, "image_id": 1, **a}
        a["area"] = a["bbox"][2] * a["bbox"][3]
        full.append(a)
    return {"images": images, "categories": cats, "annotations": full}, dets


G = [10.0, 10.0, 40.0, 40.0]


@pytest.mark.parametrize(
    "name, anns, dets, expect",
    [
        ("cls", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 2, "bbox": G, "score": 0.9}], "Cls"),
        ("loc", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 1, "bbox": [30.0, 30.0, 40.0, 40.0], "score": 0.9}], "Loc"),
        ("loc_at_exactly_half", [{"category_id": 1, "bbox": [0.0, 0.0, 20.0, 10.0]}],
         [{"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 20.0, 10.0], "score": 0.9},
          {"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 10.0, 10.0], "score": 0.8}], "Loc"),
        ("both", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 2, "bbox": [30.0, 30.0, 40.0, 40.0], "score": 0.9}], "Both"),
        ("dupe", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 1, "bbox": G, "score": 0.9},
          {"image_id": 1, "category_id": 1, "bbox": [11.0, 10.0, 40.0, 40.0], "score": 0.8}], "Dupe"),
        ("bkg", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 1, "bbox": G, "score": 0.5},
          {"image_id": 1, "category_id": 1, "bbox": [80.0, 80.0, 10.0, 10.0], "score": 0.9}], "Bkg"),
        ("bkg_on_empty_image", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 1, "bbox": G, "score": 0.5},
          {"image_id": 2, "category_id": 1, "bbox": G, "score": 0.9}], "Bkg"),
        ("miss", [{"category_id": 1, "bbox": G}, {"category_id": 1, "bbox": [60.0, 60.0, 20.0, 20.0]}],
         [{"image_id": 1, "category_id": 1, "bbox": G, "score": 0.9}], "Miss"),
        ("crowd_ignored", [{"category_id": 1, "bbox": G}, {"category_id": 1, "bbox": [50.0, 50.0, 50.0, 50.0],
                                                           "iscrowd": 1}],
         [{"image_id": 1, "category_id": 1, "bbox": G, "score": 0.9},
          {"image_id": 1, "category_id": 1, "bbox": [60.0, 60.0, 10.0, 10.0], "score": 0.95}], None),
        ("class_without_gt", [{"category_id": 1, "bbox": G}],
         [{"image_id": 1, "category_id": 1, "bbox": G, "score": 0.9},
          {"image_id": 1, "category_id": 3, "bbox": [60.0, 60.0, 10.0, 10.0], "score": 0.95}], "Bkg"),
        ("two_errors_one_gt", [{"category_id": 1, "bbox": G}, {"category_id": 2, "bbox": [60.0, 60.0, 20.0, 20.0]}],
         [{"image_id": 1, "category_id": 2, "bbox": G, "score": 0.7},
          {"image_id": 1, "category_id": 1, "bbox": [20.0, 20.0, 40.0, 40.0], "score": 0.9},
          {"image_id": 1, "category_id": 2, "bbox": [60.0, 60.0, 20.0, 20.0], "score": 0.2}], "Loc"),
    ],
)
def test_each_error_type(name: str, anns: list, dets: list, expect: str | None) -> None:
    coco, dets = _one_image(anns, dets, n_img=2)
    ours = run_annokit(coco, dets)
    assert_same(ours, run_tidecv(coco, dets))
    if expect is not None:
        assert ours.counts[expect] >= 1, ours.counts


def test_real_coco_sample(refdata: object) -> None:
    """COCO val2014 (100 images) with cocoapi's fake results: real crowd regions and many classes."""
    import json

    gt_path = refdata.path("coco", "instances_val2014_100.json")
    res_path = refdata.path("coco", "instances_val2014_fakebbox100_results.json")
    coco = json.loads(gt_path.read_text())
    dets = json.loads(res_path.read_text())
    assert_same(run_annokit(coco, dets), run_tidecv(coco, dets))


# ------------------------------------------------------------------------------------------------ masks
def _mask_case(seed: int) -> tuple[dict, list]:
    from pycocotools import mask as cmask

    rng = np.random.default_rng(3000 + seed)
    h, w = 60, 80
    images = [{"id": i, "file_name": f"{i}.png", "height": h, "width": w} for i in (1, 2, 3)]
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]

    def poly() -> list[list[float]]:
        cx, cy = rng.uniform(10, 70), rng.uniform(10, 50)
        r = rng.uniform(5, 15)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 6))
        return [np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1).ravel().round(1).tolist()]

    anns, dets = [], []
    aid = 1
    for im in images:
        for _ in range(int(rng.integers(1, 5))):
            seg = poly()
            rle = cmask.merge(cmask.frPyObjects(seg, h, w))
            crowd = int(rng.random() < 0.15)
            x, y, bw, bh = cmask.toBbox(rle).tolist()
            if crowd:
                rle_j = {"size": rle["size"], "counts": rle["counts"].decode()}
                anns.append({"id": aid, "image_id": im["id"], "category_id": int(rng.integers(1, 4)),
                             "segmentation": rle_j, "bbox": [x, y, bw, bh], "area": float(cmask.area(rle)),
                             "iscrowd": 1})
            else:
                anns.append({"id": aid, "image_id": im["id"], "category_id": int(rng.integers(1, 4)),
                             "segmentation": seg, "bbox": [x, y, bw, bh], "area": float(cmask.area(rle)),
                             "iscrowd": 0})
            aid += 1
        for _ in range(int(rng.integers(1, 7))):
            seg = poly()
            rle = cmask.merge(cmask.frPyObjects(seg, h, w))
            dets.append({"image_id": im["id"], "category_id": int(rng.integers(1, 4)),
                         "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                         "score": float(np.round(rng.random(), 2))})
    # predictions that copy a gt mask (shifted a little) so that true positives exist
    for a in anns[:4]:
        seg = a["segmentation"]
        if isinstance(seg, list):
            seg = [[v + 1.0 for v in seg[0]]]
            rle = cmask.merge(cmask.frPyObjects(seg, h, w))
            dets.append({"image_id": a["image_id"], "category_id": a["category_id"],
                         "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                         "score": float(np.round(rng.random(), 2))})
    return {"images": images, "categories": cats, "annotations": anns}, dets


def run_tidecv_masks(coco: dict, dets: list) -> dict:
    from pycocotools import mask as cmask

    hw = {im["id"]: (im["height"], im["width"]) for im in coco["images"]}
    gt = tidecv.Data("gt")
    for im in coco["images"]:
        gt.add_image(im["id"], im["file_name"])
    for a in coco["annotations"]:
        h, w = hw[a["image_id"]]
        seg = a["segmentation"]
        rle = cmask.merge(cmask.frPyObjects(seg, h, w)) if isinstance(seg, list) else seg
        if a["iscrowd"]:
            gt.add_ignore_region(a["image_id"], a["category_id"], a["bbox"], rle)
        else:
            gt.add_ground_truth(a["image_id"], a["category_id"], a["bbox"], rle)
    pr = tidecv.Data("pred")
    for d in dets:
        pr.add_detection(d["image_id"], d["category_id"], d["score"], None, d["segmentation"])
    return _tidecv_result(gt, pr, tidecv.TIDE.MASK)


@pytest.mark.parametrize("seed", range(6))
def test_mask_mode(seed: int) -> None:
    coco, dets = _mask_case(seed)
    assert_same(run_annokit(coco, dets, iou_type="segm"), run_tidecv_masks(coco, dets))


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_sample_data(iou_type: str) -> None:
    """The project's sample scenes (skipped where sample_data/ has not been generated)."""
    import json
    from pathlib import Path

    scenes = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"
    if not (scenes / "gt.json").exists():
        pytest.skip(f"{scenes} is absent (sample data not generated in this checkout)")
    coco = json.loads((scenes / "gt.json").read_text())
    dets = json.loads((scenes / "pred.json").read_text())
    ref = run_tidecv(coco, dets) if iou_type == "bbox" else run_tidecv_masks(coco, dets)
    assert_same(run_annokit(coco, dets, iou_type=iou_type), ref)
