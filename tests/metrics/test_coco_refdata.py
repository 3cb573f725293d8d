"""The real COCO sample (100 val2014 images, cocoapi's fake results) against its published numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from coco_oracle import pycocotools_eval

from annokit.api import evaluate_coco_files as evaluate_files
from annokit.metrics.coco import COCOParams

ORDER16 = ["AP", "AP50", "AP75", "AP_nano", "AP_micro", "APs", "APm", "APl", "AR1", "AR10", "AR100", "AR_nano",
           "AR_micro", "ARs", "ARm", "ARl"]


def _sets(refdata):
    root = refdata.path("coco")
    return root, json.loads((root / "EXPECTED.json").read_text())["coco_sets"]


@pytest.mark.parametrize("iou", ["bbox", "segm"])
def test_published_stats(refdata, iou: str) -> None:
    root, sets = _sets(refdata)
    s = sets[f"cocoapi_val2014_100_{iou}"]
    res = evaluate_files(root / s["gt"], root / s["dt"], params=COCOParams(iou_type=iou))
    np.testing.assert_allclose(res.stats, s["expected"], atol=1e-9, rtol=0)


@pytest.mark.parametrize("iou", ["bbox", "segm"])
def test_published_five_ranges(refdata, iou: str) -> None:
    root, sets = _sets(refdata)
    s = sets[f"cocoapi_val2014_100_{iou}_5ranges"]
    res = evaluate_files(root / s["gt"], root / s["dt"], params=COCOParams.build(iou_type=iou, area_rng=s["ranges"]))
    got = res.metrics_dict()
    np.testing.assert_allclose([got[k] for k in ORDER16], s["expected"], atol=1e-9, rtol=0)
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=  nano | maxDets=100 ]" in res.summary_text()


@pytest.mark.parametrize("iou", ["bbox", "segm"])
def test_per_class_and_arrays_equal_pycocotools(refdata, iou: str) -> None:
    root, sets = _sets(refdata)
    s = sets[f"cocoapi_val2014_100_{iou}"]
    gt = json.loads((root / s["gt"]).read_text())
    dt = json.loads((root / s["dt"]).read_text())
    ev = pycocotools_eval(gt, dt, iou)
    res = evaluate_files(root / s["gt"], root / s["dt"], params=COCOParams(iou_type=iou))
    np.testing.assert_allclose(res.precision, ev.eval["precision"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(res.recall, ev.eval["recall"], atol=1e-9, rtol=0)
    per = res.per_class_dict()
    names = {c["id"]: c["name"] for c in gt["categories"]}
    for k, cid in enumerate(ev.params.catIds):
        p = ev.eval["precision"][:, :, k, 0, -1]
        p = p[p > -1]
        want = float(np.mean(p)) if p.size else None
        got = per[names[cid]]["AP"]
        assert (want is None and got is None) or got == pytest.approx(want, abs=1e-9)
