"""annokit.compat.pycocotools equals pycocotools: every array of COCOeval (precision, recall, scores, stats, evalImgs)
on seeded random sets and edge cases, through the same unmodified calling code."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from coco_oracle import random_case
from pycocotools.coco import COCO as RefCOCO
from pycocotools.cocoeval import COCOeval as RefCOCOeval

from annokit.compat.errors import PycocotoolsAssertionError
from annokit.compat.pycocotools import COCO, COCOeval
from annokit.errors import FormatError, PycocotoolsQuirkWarning

TOL = 1e-9
# a longer sweep: ANNOKIT_COMPAT_SEEDS=300 python -m pytest tests/compat -m slow
N_SEEDS = int(os.environ.get("ANNOKIT_COMPAT_SEEDS", 16))
Tweak = Callable[[Any, dict], None]


def _run(coco_cls: type, eval_cls: type, gt: dict, dets: list | None, iou_type: str, tweak: Tweak | None = None,
         *, reassign: bool = False) -> Any:
    """The same script for both libraries: index, loadRes, COCOeval, parameters, evaluate / accumulate / summarize.
    ``reassign``: give ``evalImgs`` back as a new list (accumulate then reads it, as after a merge)."""
    with contextlib.redirect_stdout(io.StringIO()):
        cg = coco_cls()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(dets)) if dets else coco_cls()
        ev = eval_cls(cg, cd, iou_type)
        if tweak is not None:
            tweak(ev.params, gt)
        ev.evaluate()
        if reassign:
            ev.evalImgs = list(ev.evalImgs)
        ev.accumulate()
        ev.summarize()
    return ev


def _same_eval_imgs(ours: list, ref: list) -> None:
    assert len(ours) == len(ref)
    for j, (a, b) in enumerate(zip(ours, ref)):
        assert (a is None) == (b is None), j
        if b is None:
            continue
        assert list(a) == list(b)
        for key, vb in b.items():
            va = a[key]
            if isinstance(vb, np.ndarray):
                assert isinstance(va, np.ndarray) and va.shape == vb.shape and va.dtype.kind == vb.dtype.kind, key
                assert np.array_equal(va, vb), (j, key)
            else:
                assert va == vb, (j, key)


def _compare(ours: Any, ref: Any, *, eval_imgs: bool = True) -> None:
    for key in ("precision", "recall", "scores"):
        assert ours.eval[key].shape == ref.eval[key].shape, key
        np.testing.assert_allclose(ours.eval[key], ref.eval[key], atol=TOL, rtol=0, err_msg=key)
    np.testing.assert_allclose(ours.stats, ref.stats, atol=TOL, rtol=0)
    assert ours.eval["counts"] == ref.eval["counts"]
    if eval_imgs:
        _same_eval_imgs(ours.evalImgs, ref.evalImgs)


def _case(seed: int, segm: bool) -> tuple[dict, list]:
    gt, dets = random_case(seed, segm=segm)
    if not dets:
        img = gt["images"][0]
        d: dict[str, Any] = {"image_id": img["id"], "category_id": gt["categories"][0]["id"], "score": 0.5}
        if segm:
            d["segmentation"] = {"size": [img["height"], img["width"]], "counts": "0"}
        else:
            d["bbox"] = [1.0, 1.0, 5.0, 5.0]
        dets = [d]
    return gt, dets


def _use_cats_0(p: Any, gt: dict) -> None:
    p.useCats = 0


def _custom(p: Any, gt: dict) -> None:
    p.iouThrs = np.array([0.3, 0.5, 0.77])
    p.recThrs = np.linspace(0, 1, 11)
    p.maxDets = [5, 1, 50]
    p.areaRng = [[0, 1e10], [0, 500], [500, 1e10]]
    p.areaRngLbl = ["all", "small", "large"]


def _subset(p: Any, gt: dict) -> None:
    p.imgIds = [im["id"] for im in gt["images"]][::2]
    if len(gt["categories"]) > 1:
        p.catIds = [c["id"] for c in gt["categories"]][1:]


TWEAKS = {"default": None, "useCats0": _use_cats_0, "custom": _custom, "subset": _subset}


def _seeds(n: int) -> list[Any]:
    """Seeds ``0..n-1``, marked ``slow`` (a small default ``n``; ``ANNOKIT_COMPAT_SEEDS`` for a longer sweep)."""
    return [pytest.param(s, marks=pytest.mark.slow) for s in range(n)]


@pytest.mark.parametrize("seed", _seeds(N_SEEDS))
def test_bbox_random(seed: int) -> None:
    gt, dets = _case(seed, False)
    _compare(_run(COCO, COCOeval, gt, dets, "bbox"), _run(RefCOCO, RefCOCOeval, gt, dets, "bbox"))


@pytest.mark.parametrize("seed", _seeds(max(1, N_SEEDS // 3)))
def test_segm_random(seed: int) -> None:
    gt, dets = _case(1000 + seed, True)
    _compare(_run(COCO, COCOeval, gt, dets, "segm"), _run(RefCOCO, RefCOCOeval, gt, dets, "segm"))


@pytest.mark.parametrize("tweak", list(TWEAKS))
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", range(2))
def test_params(seed: int, iou_type: str, tweak: str) -> None:
    """useCats=0, custom thresholds / maxDets / ranges, an image and category subset; and ``accumulate`` from a
    reassigned ``evalImgs`` list equal to the direct one."""
    gt, dets = _case(50 + seed + (1000 if iou_type == "segm" else 0), iou_type == "segm")
    ref = _run(RefCOCO, RefCOCOeval, gt, dets, iou_type, TWEAKS[tweak])
    _compare(_run(COCO, COCOeval, gt, dets, iou_type, TWEAKS[tweak]), ref)
    _compare(_run(COCO, COCOeval, gt, dets, iou_type, TWEAKS[tweak], reassign=True), ref, eval_imgs=False)


def _tiny() -> tuple[dict, list]:
    gt = {"images": [{"id": 1, "height": 50, "width": 60}, {"id": 2, "height": 50, "width": 60}],
          "categories": [{"id": 1, "name": "a", "supercategory": "s"}, {"id": 2, "name": "b", "supercategory": "s"},
                         {"id": 3, "name": "nogt", "supercategory": "t"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 30, 20], "area": 600, "iscrowd": 1},
              {"id": 3, "image_id": 2, "category_id": 2, "bbox": [5, 5, 20, 20], "area": 400, "iscrowd": 0}]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [22, 20, 10, 10], "score": 0.8},
            {"image_id": 1, "category_id": 1, "bbox": [30, 25, 10, 10], "score": 0.8},
            {"image_id": 2, "category_id": 3, "bbox": [5, 5, 20, 20], "score": 0.7},
            {"image_id": 2, "category_id": 2, "bbox": [6, 5, 20, 20], "score": 0.6}]
    return gt, dets


def test_crowd_and_category_without_ground_truth() -> None:
    gt, dets = _tiny()
    ours = _run(COCO, COCOeval, gt, dets, "bbox")
    _compare(ours, _run(RefCOCO, RefCOCOeval, gt, dets, "bbox"))
    assert (ours.eval["precision"][:, :, 2] == -1).all()  # category 3 has no ground truth


def test_empty_results() -> None:
    """pycocotools' loadRes fails on []; the drop-in warns and scores nothing, as pycocotools does with an empty
    COCO() as the results (torchvision's reference evaluator's way)."""
    gt, _ = _tiny()
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        with pytest.warns(PycocotoolsQuirkWarning):
            cd = cg.loadRes([])
        ev = COCOeval(cg, cd, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    _compare(ev, _run(RefCOCO, RefCOCOeval, gt, None, "bbox"))


def test_accumulate_with_fewer_images_than_evaluated() -> None:
    """Parameters changed between evaluate and accumulate: pycocotools' selection over evalImgs."""
    gt, dets = _case(7, False)

    def both(coco_cls: type, eval_cls: type) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            cg = coco_cls()
            cg.dataset = copy.deepcopy(gt)
            cg.createIndex()
            ev = eval_cls(cg, cg.loadRes(copy.deepcopy(dets)), "bbox")
            ev.evaluate()
            ev.params.imgIds = ev.params.imgIds[: max(1, len(ev.params.imgIds) // 2)]
            ev.params.maxDets = [1, 10]
            ev.accumulate()
        return ev

    ours, ref = both(COCO, COCOeval), both(RefCOCO, RefCOCOeval)
    for key in ("precision", "recall", "scores"):
        np.testing.assert_allclose(ours.eval[key], ref.eval[key], atol=TOL, rtol=0)


# --------------------------------------------------------------------------- torchvision's reference pattern
def _distributed_eval(coco_cls: type, eval_cls: type, gt: dict, dets: list, iou_type: str, n_procs: int) -> Any:
    """torchvision's reference ``CocoEvaluator``: per batch of images ``loadRes`` + ``evaluate`` on one reused
    COCOeval, ``evalImgs`` reshaped ``(K, A, I)`` and kept; the batches of every process concatenated on the image
    axis, made unique, assigned back to ``evalImgs``; then ``accumulate`` and ``summarize``."""
    with contextlib.redirect_stdout(io.StringIO()):
        cg = coco_cls()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        ev = eval_cls(cg, iouType=iou_type)
        ids, blocks = [], []
        img_ids = [im["id"] for im in gt["images"]]
        for batch in np.array_split(np.array(img_ids), min(n_procs * 2, len(img_ids))):
            batch_ids = [int(i) for i in batch]
            results = [copy.deepcopy(d) for d in dets if d["image_id"] in set(batch_ids)]
            ev.cocoDt = cg.loadRes(results) if results else coco_cls()
            ev.params.imgIds = batch_ids
            ev.evaluate()
            ids.extend(ev.params.imgIds)
            blocks.append(np.asarray(ev.evalImgs).reshape(-1, len(ev.params.areaRng), len(ev.params.imgIds)))
        merged_ids, idx = np.unique(np.array(ids), return_index=True)
        merged = np.concatenate(blocks, 2)[..., idx]
        ev.evalImgs = list(merged.flatten())
        ev.params.imgIds = list(merged_ids)
        ev._paramsEval = copy.deepcopy(ev.params)
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize(("seed", "iou_type"), [(3, "bbox"), (11, "bbox"), (1003, "segm")])
def test_torchvision_reference_pattern(seed: int, iou_type: str) -> None:
    gt, dets = _case(seed, iou_type == "segm")
    ours = _distributed_eval(COCO, COCOeval, gt, dets, iou_type, 2)
    _compare(ours, _distributed_eval(RefCOCO, RefCOCOeval, gt, dets, iou_type, 2), eval_imgs=False)
    _compare(ours, _run(COCO, COCOeval, gt, dets, iou_type), eval_imgs=False)  # equal to one whole evaluation


# --------------------------------------------------------------------------- COCO's look-ups and loadRes
def test_lookups_equal_pycocotools(tmp_path: Any) -> None:
    gt, dets = _case(5, False)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    with contextlib.redirect_stdout(io.StringIO()):
        ours, ref = COCO(str(path)), RefCOCO(str(path))
        ours_r, ref_r = ours.loadRes(copy.deepcopy(dets)), ref.loadRes(copy.deepcopy(dets))
    imgs = [im["id"] for im in gt["images"]]
    cats = [c["id"] for c in gt["categories"]]
    assert ours.getImgIds() == ref.getImgIds()
    assert sorted(ours.getImgIds(catIds=cats[:1])) == sorted(ref.getImgIds(catIds=cats[:1]))
    assert ours.getCatIds() == ref.getCatIds()
    assert ours.getCatIds(catNms=["c" + str(cats[0])]) == ref.getCatIds(catNms=["c" + str(cats[0])])
    for kw in ({}, {"imgIds": imgs[:3]}, {"catIds": cats[:1]}, {"areaRng": [0, 500]}, {"iscrowd": 0},
               {"imgIds": imgs[0]}):
        assert ours.getAnnIds(**kw) == ref.getAnnIds(**kw), kw
    ann_ids = ref.getAnnIds()
    assert ours.loadAnns(ann_ids) == ref.loadAnns(ann_ids)
    assert ours.loadImgs(imgs[0]) == ref.loadImgs(imgs[0])
    assert ours.loadCats(cats) == ref.loadCats(cats)
    assert ours_r.dataset == ref_r.dataset
    assert ours_r.anns == ref_r.anns and ours_r.imgs == ref_r.imgs and ours_r.cats == ref_r.cats
    assert dict(ours_r.imgToAnns) == dict(ref_r.imgToAnns)
    assert dict(ours.catToImgs) == dict(ref.catToImgs)


def test_load_res_numpy_and_masks() -> None:
    gt, dets = _case(1004, True)
    with contextlib.redirect_stdout(io.StringIO()):
        ours, ref = COCO(), RefCOCO()
        for c in (ours, ref):
            c.dataset = copy.deepcopy(gt)
            c.createIndex()
        ours_r, ref_r = ours.loadRes(copy.deepcopy(dets)), ref.loadRes(copy.deepcopy(dets))
        arr = np.array([[gt["images"][0]["id"], 1.5, 2, 10, 12, 0.5, gt["categories"][0]["id"]]])
        assert ours.loadRes(arr).anns == ref.loadRes(arr).anns
    for i, a in ref_r.anns.items():
        b = ours_r.anns[i]
        assert a["area"] == b["area"] and np.array_equal(a["bbox"], b["bbox"])
    for ann in gt["annotations"]:
        assert ours.annToRLE(ann) == ref.annToRLE(ann)
        assert np.array_equal(ours.annToMask(ann), ref.annToMask(ann))


def test_load_res_leaves_the_input_alone() -> None:
    gt, dets = _tiny()
    before = copy.deepcopy(dets)
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt
        cg.createIndex()
        cg.loadRes(dets)
    assert dets == before


def test_bad_results_name_the_place(tmp_path: Any) -> None:
    gt, dets = _tiny()
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt
        cg.createIndex()
        with pytest.raises(AssertionError, match=r"\[1\]\.image_id"):
            cg.loadRes([dets[0], {**dets[1], "image_id": 99}])
        with pytest.raises(PycocotoolsAssertionError):
            cg.loadRes({"not": "a list"})
        bad = tmp_path / "res.json"
        bad.write_text("[{")
        with pytest.raises(FormatError, match="res.json"):
            cg.loadRes(str(bad))
        notobj = tmp_path / "gt.json"
        notobj.write_text("[]")
        with pytest.raises(AssertionError, match="gt.json"):
            COCO(str(notobj))


def test_prints_like_pycocotools() -> None:
    gt, dets = _tiny()
    outs = []
    for coco_cls, eval_cls in ((COCO, COCOeval), (RefCOCO, RefCOCOeval)):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), warnings.catch_warnings():
            cg = coco_cls()
            cg.dataset = copy.deepcopy(gt)
            cg.createIndex()
            ev = eval_cls(cg, cg.loadRes(copy.deepcopy(dets)), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        outs.append([line for line in buf.getvalue().splitlines() if "(t=" not in line])
    assert outs[0] == outs[1]


# --------------------------------------------------------------------------- init_as_pycocotools
_SCRIPT = """
import contextlib, io, json, sys
import annokit.compat
annokit.compat.init_as_pycocotools()
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from pycocotools import mask
import pycocotools.mask as mask2
assert COCOeval.__module__ == "annokit.compat.pycocotools.cocoeval", COCOeval.__module__
assert mask is mask2 and mask.__name__ == "annokit.compat.pycocotools.mask"
gt, dets = json.loads(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    cg = COCO(); cg.dataset = gt; cg.createIndex()
    ev = COCOeval(cg, cg.loadRes(dets), "bbox"); ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps(ev.stats.tolist()))
"""


def test_init_as_pycocotools() -> None:
    """Unmodified code importing pycocotools runs on the drop-in after one call (in a fresh process)."""
    gt, dets = _tiny()
    out = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps([gt, dets])], capture_output=True, text=True,
                         check=True)
    ref = _run(RefCOCO, RefCOCOeval, gt, dets, "bbox")
    np.testing.assert_allclose(json.loads(out.stdout.strip().splitlines()[-1]), ref.stats, atol=TOL, rtol=0)


# --------------------------------------------------------------------------- a real file
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_cocoapi_val2014_sample(refdata: Any, iou_type: str) -> None:
    """cocoapi's own sample (100 val2014 images, real polygons and crowd RLEs, its fake results), read from the
    files by both libraries: every array and every evalImgs entry equal."""
    root = refdata.path("coco")
    gt_path = str(root / "instances_val2014_100.json")
    dt_path = str(root / f"instances_val2014_fake{iou_type}100_results.json")

    def run(coco_cls: type, eval_cls: type) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            cg = coco_cls(gt_path)
            ev = eval_cls(cg, cg.loadRes(dt_path), iou_type)
            ev.params.imgIds = sorted(cg.getImgIds())[:100]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev

    _compare(run(COCO, COCOeval), run(RefCOCO, RefCOCOeval))
