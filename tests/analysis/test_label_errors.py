"""Label-error ranking: each kind on a hand-made case with its exact score, what is never a suspect, and the
ranking's precision on errors injected into a clean set scored by a strong simulated model."""

from __future__ import annotations

import numpy as np
import pytest

from annokit import Dataset, ImageTable, Instances, LabelSet
from annokit.analysis.label_errors import KINDS, label_issues
from tests.analysis._label_noise import clean_set, inject, precision_recall_at_k, strong_model


def _ds(boxes: list[list[float]], labels: list[int], crowd: list[bool] | None = None) -> Dataset:
    n = len(boxes)
    return Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[200], widths=[200]),
                   categories=LabelSet.from_names(["cat", "dog"]),
                   annotations=Instances(image_ids=[1] * n, boxes=np.array(boxes, float).reshape(-1, 4), labels=labels,
                                         iscrowd=crowd if crowd is not None else [False] * n))


def _dets(boxes: list[list[float]], labels: list[int], scores: list[float]) -> Instances:
    return Instances(image_ids=[1] * len(boxes), boxes=np.array(boxes, float).reshape(-1, 4), labels=labels,
                     scores=scores)


def test_each_kind_and_its_score() -> None:
    gt = _ds([[0, 0, 40, 40], [100, 100, 140, 140], [50, 0, 90, 40], [50, 0, 90, 42], [0, 100, 40, 140]],
             [1, 1, 2, 2, 1])
    dets = _dets([[0, 0, 40, 40], [100, 100, 140, 140], [150, 150, 190, 190], [50, 0, 90, 40], [10, 100, 50, 140]],
                 [1, 2, 1, 2, 1], [0.9, 0.8, 0.7, 0.95, 0.6])
    res = label_issues(gt, dets)
    by = {(i.kind, i.gt_ids, i.pred_ids): i for i in res.issues}
    assert by[("wrong_class", (2,), (2,))].score == pytest.approx(0.8)  # s * IoU 1 * (1 - 0)
    assert by[("missing", (), (3,))].score == pytest.approx(0.7)  # nothing near: s * (1 - 0)
    dup = by[("duplicate", (3, 4), (4,))]
    assert dup.score == pytest.approx(40 * 40 / (40 * 42))  # one prediction there: IoU * (1 - 0)
    poor = by[("poor_location", (5,), (5,))]
    iou = 30 * 40 / (50 * 40)
    assert poor.score == pytest.approx(0.6 * (1 - iou)) and poor.evidence["iou"] == pytest.approx(iou)
    assert len(res) == 4 and [i.score for i in res.issues] == sorted((i.score for i in res.issues), reverse=True)
    assert res.counts() == {"missing": 1, "wrong_class": 1, "poor_location": 1, "duplicate": 1}


def test_a_right_class_beside_discounts_wrong_class() -> None:
    gt = _ds([[0, 0, 40, 40]], [1])
    res = label_issues(gt, _dets([[0, 0, 40, 40], [0, 0, 40, 40]], [2, 1], [0.8, 0.6]))
    (e,) = res.of_kind("wrong_class")
    assert e.score == pytest.approx(0.8 * (1 - 0.6)) and e.evidence["best_score_of_labelled_class"] == 0.6


def test_no_suspect_when_the_model_agrees() -> None:
    """Predictions equal to the labels (and low-scored noise) give no entry; crowd regions are never suspects and
    a prediction inside one is not a missing object."""
    gt = _ds([[0, 0, 40, 40], [60, 60, 120, 120], [130, 0, 200, 70]], [1, 2, 1], crowd=[False, False, True])
    dets = _dets([[0, 0, 40, 40], [60, 60, 120, 120], [140, 10, 180, 50], [150, 150, 190, 190]], [1, 2, 1, 2],
                 [0.9, 0.9, 0.95, 0.3])
    assert len(label_issues(gt, dets)) == 0


def test_a_confusion_is_not_evidence_of_a_moved_box() -> None:
    """A prediction sitting on another label (a class confusion there) does not make its own class's label nearby
    look misplaced."""
    gt = _ds([[0, 0, 40, 40], [20, 20, 60, 60]], [2, 1])  # the cat overlaps the prediction by IoU 1/7
    res = label_issues(gt, _dets([[0, 0, 40, 40]], [1], [0.9]))
    assert [i.kind for i in res.issues] == ["wrong_class"]


def test_options_are_checked() -> None:
    from annokit.errors import ValidationError

    gt = _ds([[0, 0, 40, 40]], [1])
    with pytest.raises(ValidationError, match="min_score"):
        label_issues(gt, _dets([[0, 0, 40, 40]], [1], [0.9]), min_score=2.0)
    with pytest.raises(ValidationError, match="no scores"):
        label_issues(gt, Instances(image_ids=[1], boxes=[[0, 0, 4, 4]], labels=[1]))


def test_injected_errors_are_found() -> None:
    """300 clean images, a strong simulated model, 15 errors of each kind injected (seeded): every kind's top-K
    entries are mostly the injected errors (the full measurement, against cleanlab, is benchmarks/bench_diagnose.py)."""
    from annokit.io.coco import dataset_from_coco_dict, read_results

    clean = clean_set(300, 10, 0)
    noisy, injected = inject(clean, 15, 10, 2)
    gt = dataset_from_coco_dict(noisy)
    dt = read_results(strong_model(clean, 10, 1), gt)
    res = label_issues(gt, dt)
    box = {int(i): b for i, b in zip(dt.ids.tolist(), dt.boxes.tolist())}

    def entry(e: object) -> tuple:
        b = box[e.pred_ids[0]] if e.kind == "missing" else None  # type: ignore[attr-defined]
        return e.image_id, e.gt_ids, None if b is None else (b[0], b[1], b[2] - b[0], b[3] - b[1])  # type: ignore

    for kind in KINDS:
        p, r, k = precision_recall_at_k([entry(e) for e in res.of_kind(kind)], injected, kind)
        assert k == 15 and p >= 0.8 and r >= 0.8, (kind, p, r)
    p, r, _ = precision_recall_at_k([entry(e) for e in res.issues], injected, None)
    assert p >= 0.85 and r >= 0.85
