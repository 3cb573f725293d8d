"""The drop-in under the calling patterns of the training frameworks issue 11 names (mmdetection's ``CocoMetric``,
detectron2's ``COCOEvaluator``, Ultralytics' validator; torchvision's is in test_pycocotools_dropin.py).

The frameworks themselves are not installed here (detectron2 needs a compiler, the others torch); each test runs
the sequence of pycocotools calls such an evaluator makes -- written here from their documented behaviour, the same
code for both libraries -- once on pycocotools and once on ``annokit.compat.pycocotools``, and compares every
number the evaluator would report, and the lookups it makes, to 1e-9.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_oracle import random_case
from pycocotools.coco import COCO as RefCOCO
from pycocotools.cocoeval import COCOeval as RefCOCOeval

from annokit.compat.pycocotools import COCO, COCOeval

TOL = 1e-9
LIBS = {"pycocotools": (RefCOCO, RefCOCOeval), "annokit": (COCO, COCOeval)}


def _files(tmp_path: Path, seed: int, segm: bool) -> tuple[Path, Path, dict, list]:
    gt, dets = random_case(seed, segm=segm)
    if not dets:
        pytest.skip("this seed makes no detections")
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dets))
    return gt_path, dt_path, gt, dets


def _same(ours: dict[str, Any], ref: dict[str, Any]) -> None:
    assert ours.keys() == ref.keys()
    for key, want in ref.items():
        got = ours[key]
        if isinstance(want, float | np.ndarray | list) and np.asarray(want).dtype.kind == "f":
            np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), atol=TOL, rtol=0,
                                       err_msg=key)
        else:
            assert got == want, key


def _per_class_ap(precisions: np.ndarray) -> list[float]:
    """Each category's AP at area "all" and the last maxDets, as both evaluators print it (NaN without values)."""
    out = []
    for k in range(precisions.shape[2]):
        p = precisions[:, :, k, 0, -1]
        p = p[p > -1]
        out.append(float(np.mean(p)) if p.size else float("nan"))
    return out


# --------------------------------------------------------------------------------------------- mmdetection
def _mmdet(coco_base: type, eval_cls: type, gt_path: Path, dt_path: Path, iou_type: str, proposal: bool
           ) -> dict[str, Any]:
    """mmdetection's pattern: its COCO wrapper (a subclass adding snake_case aliases and two attribute aliases,
    built with ``annotation_file=``), category ids by name, every image, the results file loaded as a list, then
    catIds / imgIds / maxDets (100, 300, 1000) / iouThrs set on the params, ``useCats = 0`` for proposals; the
    stats by their mmdet names and the class-wise AP table (names through ``loadCats``)."""

    class Wrapped(coco_base):  # type: ignore[misc, valid-type]
        def __init__(self, annotation_file: str | None = None) -> None:
            super().__init__(annotation_file=annotation_file)
            self.img_ann_map = self.imgToAnns
            self.cat_img_map = self.catToImgs

        def get_ann_ids(self, img_ids: Any = None, cat_ids: Any = None, area_rng: Any = None,
                        iscrowd: Any = None) -> Any:
            return self.getAnnIds(img_ids or [], cat_ids or [], area_rng or [], iscrowd)

        def get_cat_ids(self, cat_names: Any = None, sup_names: Any = None, cat_ids: Any = None) -> Any:
            return self.getCatIds(cat_names or [], sup_names or [], cat_ids or [])

        def get_img_ids(self, img_ids: Any = None, cat_ids: Any = None) -> Any:
            return self.getImgIds(img_ids or [], cat_ids or [])

        def load_anns(self, ids: Any) -> Any:
            return self.loadAnns(ids)

        def load_imgs(self, ids: Any) -> Any:
            return self.loadImgs(ids)

    with contextlib.redirect_stdout(io.StringIO()) as printed:
        api = Wrapped(str(gt_path))
        names = [c["name"] for c in json.loads(gt_path.read_text())["categories"]]
        cat_ids = api.get_cat_ids(cat_names=names)
        img_ids = api.get_img_ids()
        first = img_ids[0]
        lookups = {"cat_ids": list(cat_ids), "img_ids": list(img_ids),
                   "anns_of_first": sorted(a["id"] for a in api.load_anns(api.get_ann_ids(img_ids=[first]))),
                   "first_img": api.load_imgs([first])[0]["file_name"],
                   "img_ann_map": len(api.img_ann_map[first]),
                   "cat_img_map": {int(k): sorted(v) for k, v in api.cat_img_map.items()}}
        predictions = json.loads(dt_path.read_text())
        ev = eval_cls(api, api.loadRes(predictions), iou_type)
        ev.params.catIds = cat_ids
        ev.params.imgIds = img_ids
        ev.params.maxDets = [100, 300, 1000]
        ev.params.iouThrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        if proposal:
            ev.params.useCats = 0
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out: dict[str, Any] = {"stats": ev.stats.tolist(), "printed": printed.getvalue().count("Average")}
    if proposal:
        out.update({f"AR@{n}": float(ev.stats[6 + i]) for i, n in enumerate((100, 300, 1000))})
    else:
        out["classwise"] = _per_class_ap(ev.eval["precision"])
        out["class_names"] = [api.loadCats(c)[0]["name"] for c in cat_ids]
    out.update(lookups)
    return out


@pytest.mark.parametrize(("seed", "iou_type", "proposal"),
                         [(5, "bbox", False), (8, "bbox", True), (1004, "segm", False)])
def test_mmdetection_coco_metric_pattern(tmp_path: Path, seed: int, iou_type: str, proposal: bool) -> None:
    gt_path, dt_path, _, _ = _files(tmp_path, seed, iou_type == "segm")
    ref = _mmdet(*LIBS["pycocotools"], gt_path, dt_path, iou_type, proposal)
    _same(_mmdet(*LIBS["annokit"], gt_path, dt_path, iou_type, proposal), ref)


# ----------------------------------------------------------------------------------------------- detectron2
def _max_dets_eval(eval_cls: type) -> type:
    """detectron2's evaluator for a custom maxDets: COCOeval with a summary whose AP lines use the largest maxDets
    and whose AR lines use each of the three (a summary of its own over ``params`` and ``eval``)."""

    class MaxDets(eval_cls):  # type: ignore[misc, valid-type]
        def summarize(self) -> None:
            p = self.params

            def one(ap: bool, iou: float | None = None, area: str = "all", dets: int = 100) -> float:
                a = [i for i, lbl in enumerate(p.areaRngLbl) if lbl == area]
                m = [i for i, d in enumerate(p.maxDets) if d == dets]
                if ap:
                    s = self.eval["precision"]
                    if iou is not None:
                        s = s[np.where(np.isclose(iou, p.iouThrs))[0]]
                    s = s[:, :, :, a, m]
                else:
                    s = self.eval["recall"]
                    if iou is not None:
                        s = s[np.where(np.isclose(iou, p.iouThrs))[0]]
                    s = s[:, :, a, m]
                return float(np.mean(s[s > -1])) if (s > -1).any() else -1.0

            big = p.maxDets[2]
            self.stats = np.array([
                one(True, dets=big), one(True, .5, dets=big), one(True, .75, dets=big),
                one(True, area="small", dets=big), one(True, area="medium", dets=big),
                one(True, area="large", dets=big),
                one(False, dets=p.maxDets[0]), one(False, dets=p.maxDets[1]), one(False, dets=big),
                one(False, area="small", dets=big), one(False, area="medium", dets=big),
                one(False, area="large", dets=big)])

    return MaxDets


def _detectron2(coco_cls: type, eval_cls: type, gt_path: Path, dets: list, iou_type: str, max_dets: list[int]
                ) -> dict[str, Any]:
    """detectron2's pattern: the ground truth read with its prints silenced; for masks the results' boxes dropped
    (loadRes then takes each mask's box); the image ids of the evaluated split; the evaluator with the custom
    summary when maxDets is not (1, 10, 100); the AP table in percent and each class's AP."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls(str(gt_path))
        results = copy.deepcopy(dets)
        if iou_type == "segm":
            for r in results:
                r.pop("bbox", None)
        coco_dt = coco_gt.loadRes(results)
        cls = eval_cls if max_dets == [1, 10, 100] else _max_dets_eval(eval_cls)
        ev = cls(coco_gt, coco_dt, iou_type)
        if max_dets != [1, 10, 100]:
            ev.params.maxDets = max_dets
        img_ids = sorted(coco_gt.getImgIds())[1:]  # an evaluation split without the first image
        ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names = [c["name"] for c in coco_gt.loadCats(coco_gt.getCatIds())]
    table = {m: float(ev.stats[i] * 100) if ev.stats[i] >= 0 else float("nan")
             for i, m in enumerate(("AP", "AP50", "AP75", "APs", "APm", "APl"))}
    per_class = _per_class_ap(ev.eval["precision"])
    assert len(names) == len(per_class)
    return {"table": list(table.values()), "per_class": per_class, "names": names,
            "dt_boxes": [coco_dt.anns[k]["bbox"] for k in sorted(coco_dt.anns)]}


@pytest.mark.parametrize(("seed", "iou_type", "max_dets"),
                         [(6, "bbox", [1, 10, 100]), (9, "bbox", [1, 10, 300]), (1006, "segm", [1, 10, 100]),
                          (1007, "segm", [5, 20, 50])])
def test_detectron2_coco_evaluator_pattern(tmp_path: Path, seed: int, iou_type: str, max_dets: list[int]) -> None:
    gt_path, _, _, dets = _files(tmp_path, seed, iou_type == "segm")
    ref = _detectron2(*LIBS["pycocotools"], gt_path, dets, iou_type, max_dets)
    _same(_detectron2(*LIBS["annokit"], gt_path, dets, iou_type, max_dets), ref)


# ---------------------------------------------------------------------------------------------- Ultralytics
def _ultralytics(coco_cls: type, eval_cls: type, gt_path: Path, dt_path: Path, iou_type: str) -> dict[str, Any]:
    """Ultralytics' pattern: both files by path (str), the image ids the validator saw, then mAP50-95 and mAP50
    from ``stats[:2]``."""
    with contextlib.redirect_stdout(io.StringIO()):
        anno = coco_cls(str(gt_path))
        pred = anno.loadRes(str(dt_path))
        val = eval_cls(anno, pred, iou_type)
        val.params.imgIds = [im["id"] for im in anno.dataset["images"]]
        val.evaluate()
        val.accumulate()
        val.summarize()
    map50_95, map50 = val.stats[:2]
    return {"mAP50-95": float(map50_95), "mAP50": float(map50), "stats": val.stats.tolist()}


@pytest.mark.parametrize(("seed", "iou_type"), [(7, "bbox"), (12, "bbox"), (1008, "segm")])
def test_ultralytics_validator_pattern(tmp_path: Path, seed: int, iou_type: str) -> None:
    gt_path, dt_path, _, _ = _files(tmp_path, seed, iou_type == "segm")
    ref = _ultralytics(*LIBS["pycocotools"], gt_path, dt_path, iou_type)
    _same(_ultralytics(*LIBS["annokit"], gt_path, dt_path, iou_type), ref)
