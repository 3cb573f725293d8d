"""Pascal VOC AP: the devkit definitions, pinned by Padilla's published worked example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annokit.core.instances import Instances
from annokit.metrics.voc import evaluate_voc, voc_ap


def _read_padilla(root):
    def rows(folder, with_score):
        out = []
        for i, f in enumerate(sorted((root / folder).glob("*.txt"))):
            for line in f.read_text().split("\n"):
                if not line.strip():
                    continue
                parts = line.split()
                vals = [float(v) for v in parts[1:]]
                score, (l, t, w, h) = (vals[0], vals[1:]) if with_score else (None, vals)
                out.append((i, l, t, l + w, t + h, score))
        return out

    g = rows("groundtruths", False)
    d = rows("detections", True)
    gt = Instances(image_ids=[r[0] for r in g], boxes=[r[1:5] for r in g], labels=[1] * len(g))
    dt = Instances(image_ids=[r[0] for r in d], boxes=[r[1:5] for r in d], labels=[1] * len(d),
                   scores=[r[5] for r in d])
    return gt, dt


@pytest.mark.parametrize("thr", ["0.1", "0.3", "0.5", "0.75"])
@pytest.mark.parametrize("method,key", [("allpoint", "expected_every_point"), ("11point", "expected_11_point")])
def test_padilla_devkit(refdata, thr: str, method: str, key: str) -> None:
    root = refdata.path("voc_ap")
    expected = json.loads((root / "EXPECTED.json").read_text())["padilla_test_case_1"][key][thr]
    gt, dt = _read_padilla(root)
    assert len(gt) == 15 and len(dt) == 24
    res = evaluate_voc(gt, dt, iou_threshold=float(thr), method=method)
    assert res.per_class[1].ap == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("thr,expected", [(0.1, 0.2801), (0.3, 0.2254)])
def test_padilla_continuous(refdata, thr: float, expected: float) -> None:
    gt, dt = _read_padilla(refdata.path("voc_ap"))
    res = evaluate_voc(gt, dt, iou_threshold=thr, iou_mode="continuous")
    assert res.per_class[1].ap == pytest.approx(expected, abs=5e-5)


def test_difficult_is_neither_tp_nor_fp() -> None:
    gt = Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], labels=[1, 1],
                   extras=[{"difficult": False}, {"difficult": True}])
    dt = Instances(image_ids=[1, 1], boxes=[[20, 20, 30, 30], [0, 0, 10, 10]], labels=[1, 1], scores=[0.9, 0.8])
    r = evaluate_voc(gt, dt).per_class[1]
    assert r.n_gt == 1 and r.ap == 1.0 and r.tp.tolist() == [1.0]


def test_duplicate_is_false_positive_and_ties_keep_order() -> None:
    gt = Instances(image_ids=[1], boxes=[[0, 0, 10, 10]], labels=[1])
    dt = Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [0, 0, 10, 10]], labels=[1, 1], scores=[0.5, 0.5])
    r = evaluate_voc(gt, dt).per_class[1]
    assert r.tp.tolist() == [1.0, 0.0] and r.fp.tolist() == [0.0, 1.0]


def test_voc_ap_envelopes() -> None:
    rec = np.array([0.2, 0.4, 0.4, 0.6])
    prec = np.array([1.0, 0.5, 0.6, 0.3])
    # all-point: recall steps 0.2 at precision max(1,...)=1, then 0.2 at 0.6, then 0.2 at 0.3
    assert voc_ap(rec, prec) == pytest.approx(0.2 * 1 + 0.2 * 0.6 + 0.2 * 0.3)
    # 11-point: t=0,0.1,0.2 -> 1; 0.3,0.4 -> 0.6; 0.5 -> 0.3; the 7th point is 6 * 0.1 = 0.6000000000000001 (as
    # np.arange computes it in the devkit ports), which a recall of 0.6 does not reach -> 0
    assert voc_ap(rec, prec, method="11point") == pytest.approx((3 * 1 + 2 * 0.6 + 1 * 0.3) / 11)
