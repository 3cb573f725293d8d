"""DOTA Task 1 AP against the DOTA devkit's ``dota_evaluation_task1.voc_eval`` (called when present, golden numbers
from it otherwise), and the devkit's defects, reproduced and fixed."""

from __future__ import annotations

import math
from pathlib import Path

import dota_oracle
import numpy as np
import pytest
from _protocol_cases import GOLDEN_SEEDS, SEEDS, check_fingerprint, dota_fingerprint, same
from synth_protocols import DOTA_CLASSES, dota_arrays, write_dota

from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.rotated import corners_to_ltrb, ltrb_to_corners, rbox_to_corners
from annokit.io.dota import read_dota_labels, read_dota_task1, write_dota_task1
from annokit.metrics.dota import evaluate_dota


def _ours(labels: Path, dets: Path, method: str, fixed: bool = False) -> dict[str, float]:
    return _ours_all(labels, dets, fixed=fixed)[method]


def _ours_all(labels: Path, dets: Path, fixed: bool = False) -> dict[str, dict[str, float]]:
    gt = read_dota_labels(labels)
    dt = read_dota_task1(dets, gt)
    out = {}
    for method in ("11point", "allpoint"):
        res = evaluate_dota(gt, dt, method=method, fixed=fixed)  # type: ignore[arg-type]
        out[method] = {res.names[c]: r.ap for c, r in res.per_class.items()}
    return out


@pytest.fixture(scope="module")
def devkit() -> object:
    mod = dota_oracle.load_devkit()
    if mod is None:
        pytest.skip(dota_oracle.REASON)
    return mod


@pytest.mark.parametrize("seed", range(GOLDEN_SEEDS))
def test_golden_numbers_of_the_devkit(tmp_path: Path, seed: int) -> None:
    arrays = dota_arrays(seed, 30)
    entry = check_fingerprint("dota", seed, dota_fingerprint(arrays))
    labels, dets = write_dota(tmp_path, arrays)
    both = _ours_all(labels, dets)
    for method in ("11point", "allpoint"):
        ours = both[method]
        assert all(same(ours[c], entry[method][c]) for c in DOTA_CLASSES), (method, ours, entry[method])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [100 + s for s in range(SEEDS)])
def test_equals_devkit_on_seeded_sets(devkit: object, tmp_path: Path, seed: int) -> None:
    labels, dets = write_dota(tmp_path, dota_arrays(seed, 40))
    for m07, method in ((True, "11point"), (False, "allpoint")):
        ref = dota_oracle.devkit_eval(devkit, labels, dets, DOTA_CLASSES, use_07_metric=m07)
        ours = _ours(labels, dets, method)
        assert all(same(ours[c], ref[c]) for c in DOTA_CLASSES), (method, ours, ref)


def test_equals_devkit_on_its_sample_labels(devkit: object, tmp_path: Path) -> None:
    """The devkit's example/labelTxt with detections made from it (moved, resized, turned, some dropped, some
    duplicated, some false)."""
    labels = dota_oracle.DEVKIT / "example" / "labelTxt"
    gt = read_dota_labels(labels)
    rng = np.random.default_rng(5)
    q = np.asarray(gt.annotations.corners)
    keep = rng.random(len(q)) < 0.85
    dq = q[keep] + rng.normal(0, 2.5, (int(keep.sum()), 4, 2))
    extra = rbox_to_corners(np.column_stack([rng.uniform(0, 1000, (60, 2)), rng.uniform(10, 60, (60, 2)),
                                             rng.uniform(-3, 3, 60)]))
    dq = np.concatenate([dq, dq[:40] + 1.0, extra])
    img = np.concatenate([gt.annotations.image_ids[keep], gt.annotations.image_ids[keep][:40],
                          rng.choice(gt.images.ids, 60)])
    lab = np.concatenate([gt.annotations.labels[keep], gt.annotations.labels[keep][:40],
                          rng.choice(gt.categories.ids, 60)])
    dets = Dataset(images=gt.images, categories=gt.categories, annotations=Instances(
        image_ids=img, boxes=corners_to_ltrb(dq), labels=lab, scores=np.round(rng.random(len(img)), 2), corners=dq))
    write_dota_task1(dets, tmp_path / "Task1")
    classes = list(gt.categories.names)
    for m07, method in ((True, "11point"), (False, "allpoint")):
        ref = dota_oracle.devkit_eval(devkit, labels, tmp_path / "Task1", classes, use_07_metric=m07)
        ours = _ours(labels, tmp_path / "Task1", method)
        assert all(same(ours[c], ref[c]) for c in classes), (method, ours, ref)


# ------------------------------------------------------------------------------------------ hand-made cases
def _case(gt_ltrb: list[list[float]], dt_ltrb: list[list[float]], scores: list[float], *, difficult: list[bool] | None
          = None, dt_labels: list[int] | None = None) -> tuple[Dataset, Instances]:
    g = np.array(gt_ltrb, float).reshape(-1, 4)
    d = np.array(dt_ltrb, float).reshape(-1, 4)
    gt = Dataset(images=ImageTable(ids=[1], file_names=["P1.png"], heights=[0], widths=[0]),
                 categories=LabelSet.from_names(["plane", "ship"]),
                 annotations=Instances(image_ids=np.ones(len(g), int), boxes=g, labels=np.ones(len(g), int),
                                       corners=ltrb_to_corners(g),
                                       extras=[{"difficult": x} for x in (difficult or [False] * len(g))]))
    dt = Instances(image_ids=np.ones(len(d), int), boxes=d, labels=dt_labels or np.ones(len(d), int), scores=scores,
                   corners=ltrb_to_corners(d))
    return gt, dt


def test_overlap_must_exceed_the_threshold() -> None:
    gt, dt = _case([[0, 0, 10, 10]], [[0, 0, 10, 5]], [0.9])  # IoU exactly 0.5
    assert evaluate_dota(gt, dt).per_class[1].tp.tolist() == [0.0]
    assert evaluate_dota(gt, dt, iou_threshold=0.49).per_class[1].tp.tolist() == [1.0]


def test_difficult_duplicates_and_class_without_objects() -> None:
    gt, dt = _case([[0, 0, 10, 10], [20, 20, 30, 30]], [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]],
                   [0.9, 0.8, 0.7], difficult=[False, True])
    r = evaluate_dota(gt, dt).per_class[1]
    assert (r.tp.tolist(), r.fp.tolist(), r.n_gt) == ([1, 0, 0], [0, 1, 0], 1)  # difficult hit: neither
    res = evaluate_dota(gt, dt)
    assert res.per_class[2].ap == 0.0 and res.mAP == pytest.approx(0.5)  # 'ship' has no object: AP 0, counted
    assert evaluate_dota(gt, dt, method="allpoint").per_class[2].ap == 0.0  # no detection either: 0
    gt2, dt2 = _case([[0, 0, 10, 10]], [[0, 0, 10, 10]], [0.9], dt_labels=[2])
    assert math.isnan(evaluate_dota(gt2, dt2, method="allpoint").per_class[2].ap)  # detections, no object: 0/0
    assert evaluate_dota(gt2, dt2, method="11point").per_class[2].ap == 0.0
    assert res.metrics_dict() == {"mAP": res.mAP}
    fixed = evaluate_dota(gt, dt, fixed=True)
    assert math.isnan(fixed.per_class[2].ap) and fixed.mAP == pytest.approx(1.0)
    assert fixed.per_class_dict()["ship"] == {"AP": None, "n_gt": 0, "n_det": 0}


def test_zero_area_rule_equals_devkit(devkit: object, tmp_path: Path) -> None:
    gt, dt = _case([[0, 0, 10, 10], [0, 5, 10, 5]], [[0, 0, 10, 10], [0, 5, 10, 5], [1, 1, 9, 9]], [0.9, 0.8, 0.7])
    from annokit.io.dota import write_dota_labels

    write_dota_labels(gt, tmp_path / "labels")
    write_dota_task1(gt.with_annotations(dt), tmp_path / "Task1")
    for m07, method in ((True, "11point"), (False, "allpoint")):
        ref = dota_oracle.devkit_eval(devkit, tmp_path / "labels", tmp_path / "Task1", ["plane"], use_07_metric=m07)
        assert same(_ours(tmp_path / "labels", tmp_path / "Task1", method)["plane"], ref["plane"])


def test_fixed_orders_ties_stably() -> None:
    gt, dt = _case([[0, 0, 10, 10]], [[50, 50, 60, 60]] * 20 + [[0, 0, 10, 10]], [0.5] * 21)
    r = evaluate_dota(gt, dt, fixed=True).per_class[1]
    assert r.tp.tolist()[-1] == 1.0  # the matching detection is last in the file: last among the ties

