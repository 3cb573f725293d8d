"""COCO-style mAP over rotated boxes (``iou_type="rotated"``) against an oracle: pycocotools' ``COCOeval`` with its
``computeIoU`` replaced by polygon IoU of shapely (the rectangles built here from ``[cx, cy, w, h, angle]``, crowd
ground truth over the detection's area as COCO does), areas as annokit defines them (the ground truth's ``area``,
else ``w * h``; a detection's ``w * h``). Everything else -- matching, accumulation, the 12 numbers -- is
pycocotools' own code."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annokit.errors import FormatError, ValidationError
from annokit.io.coco import dataset_from_coco_dict, read_instances
from annokit.io.rotated import read_rotated_results, with_rboxes
from annokit.metrics.coco import STAT_KEYS
from annokit.metrics.rotated import evaluate_rotated, rbox_pair_iou

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth_protocols_more import rotated_data

# the seeded differential runs (marked slow): ANNOKIT_PROTOCOL_SEEDS=50 for a long run
SEEDS = int(os.environ.get("ANNOKIT_PROTOCOL_SEEDS", "3"))


def _polygon(rb: list[float]) -> shapely.Polygon:
    cx, cy, w, h, a = rb
    c, s = np.cos(a), np.sin(a)
    pts = [(cx + c * dx - s * dy, cy + s * dx + c * dy)
           for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]
    return shapely.Polygon(pts)


class RotatedCOCOeval(COCOeval):  # type: ignore[misc]
    """pycocotools' evaluation with shapely's polygon IoU of the ``rbox`` fields as the overlap."""

    def computeIoU(self, imgId: int, catId: int) -> Any:
        p = self.params
        gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
        if len(gt) == 0 and len(dt) == 0:
            return []
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in order][: p.maxDets[-1]]
        out = np.zeros((len(dt), len(gt)))
        for i, d in enumerate(dt):
            pd = _polygon(d["rbox"])
            for j, g in enumerate(gt):
                pg = _polygon(g["rbox"])
                inter = pd.intersection(pg).area
                union = pd.area if g["iscrowd"] else pd.area + pg.area - inter
                out[i, j] = inter / union if union > 0 else 0.0
        return out


def oracle(gt: dict[str, Any], results: list[dict[str, Any]]) -> COCOeval:
    g_data = copy.deepcopy(gt)
    for a in g_data["annotations"]:
        a.setdefault("area", a["rbox"][2] * a["rbox"][3])
    res = copy.deepcopy(results)
    for r in res:  # loadRes needs a box; the area is then the rbox's
        b = shapely.bounds(_polygon(r["rbox"]))
        r["bbox"] = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO()
        g.dataset = g_data
        g.createIndex()
        dt = g.loadRes(res)
        for a in dt.dataset["annotations"]:
            a["area"] = a["rbox"][2] * a["rbox"][3]
        ev = RotatedCOCOeval(g, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def ours(gt: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    ds = with_rboxes(dataset_from_coco_dict(copy.deepcopy(gt)))
    return evaluate_rotated(ds, read_rotated_results(copy.deepcopy(results), ds))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(SEEDS))
def test_equals_pycocotools_with_shapely_iou(seed: int) -> None:
    d = rotated_data(seed, 12)
    res, ev = ours(d["gt"], d["results"]), oracle(d["gt"], d["results"])
    assert list(res.metrics_dict()) == list(STAT_KEYS)
    assert np.abs(res.stats - ev.stats).max() <= 1e-12
    assert np.abs(res.precision - ev.eval["precision"]).max() <= 1e-12
    assert np.abs(res.recall - ev.eval["recall"]).max() <= 1e-12
    prec = ev.eval["precision"][:, :, :, 0, -1]
    for k, row in enumerate(res.per_class_dict().values()):
        s = prec[:, :, k]
        want = float(np.mean(s[s > -1])) if (s > -1).any() else None
        assert (row["AP"] is None and want is None) or abs(row["AP"] - want) <= 1e-12


def test_pair_iou_equals_shapely_with_crowd() -> None:
    rng = np.random.default_rng(5)
    n = 400
    g = np.column_stack([rng.uniform(0, 100, (n, 2)), rng.uniform(1, 40, (n, 2)), rng.uniform(-4, 4, n)])
    d = g + np.column_stack([rng.normal(0, 8, (n, 2)), rng.normal(0, 4, (n, 2)), rng.normal(0, 0.5, n)])
    d[:, 2:4] = np.abs(d[:, 2:4]) + 0.1
    crowd = rng.random(n) < 0.3
    got = rbox_pair_iou(d, g, crowd)(np.arange(n), np.arange(n))
    want = []
    for i in range(n):
        pd, pg = _polygon(d[i].tolist()), _polygon(g[i].tolist())
        inter = pd.intersection(pg).area
        want.append(inter / (pd.area if crowd[i] else pd.area + pg.area - inter))
    assert (got > 0).mean() > 0.5
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_rotated_box_with_a_nan_angle_is_one_clear_error(tmp_path: Path) -> None:
    d = rotated_data(1, 3)
    d["gt"]["annotations"][2]["rbox"][4] = None  # JSON has no NaN: null
    (tmp_path / "g.json").write_text(json.dumps(d["gt"]))
    ds = read_instances(tmp_path / "g.json")
    with pytest.raises(FormatError, match=r"g\.json: annotations\[2\]\.rbox: angle is not a finite number"):
        with_rboxes(ds, path=tmp_path / "g.json")
    bad = copy.deepcopy(d["results"])
    bad[0]["rbox"][4] = float("nan")
    with pytest.raises(FormatError, match=r"\[0\]\.rbox: angle is not a finite number"):
        read_rotated_results(bad, with_rboxes(dataset_from_coco_dict(rotated_data(1, 3)["gt"])))


def test_ground_truth_without_rboxes_is_refused() -> None:
    d = rotated_data(2, 3)
    ds = dataset_from_coco_dict(copy.deepcopy(d["gt"]))
    dt = read_rotated_results(copy.deepcopy(d["results"]), with_rboxes(ds))
    with pytest.raises(ValidationError, match="no rboxes"):
        evaluate_rotated(ds, dt)
