"""COCO-style PR breakdown: a hand-built case where Loc, Sim and Oth differ; bad keys, areas and classes."""

from __future__ import annotations

import numpy as np
import pytest

from annokit import Dataset, ImageTable, Instances, LabelSet
from annokit.analysis.breakdown import BREAKDOWN_KEYS, pr_breakdown

A, B, C = [10.0, 10.0, 50.0, 50.0], [100.0, 10.0, 140.0, 50.0], [10.0, 100.0, 50.0, 140.0]


def _case() -> tuple[Dataset, Instances]:
    ds = Dataset(
        images=ImageTable(ids=[1], file_names=["a.png"], heights=[200], widths=[200]),
        categories=LabelSet(ids=[1, 2, 3], names=["person", "dog", "car"],
                            supercategories=["living", "living", "vehicle"]),
        annotations=Instances(image_ids=[1, 1, 1], boxes=[A, B, C], labels=[1, 2, 3]),
    )
    dets = Instances(
        image_ids=[1] * 5,
        boxes=[A, A, A, B, C],
        labels=[2, 3, 1, 2, 3],  # dog on the person (same supercategory), car on the person (other), then TPs
        scores=[0.9, 0.9, 0.7, 0.5, 0.5],
    )
    return ds, dets


def test_loc_sim_oth_bg_fn() -> None:
    ds, dets = _case()
    bd = pr_breakdown(ds, dets)
    assert bd.ap("C50", cat_id=1) == pytest.approx(1.0)
    # dog and car: one FP (score .9) before their TP -> precision .5 at recall 1
    assert bd.ap("Loc", cat_id=2) == pytest.approx(0.5)
    assert bd.ap("Loc", cat_id=3) == pytest.approx(0.5)
    # Sim forgives dog-on-person (both 'living') but not car-on-person
    assert bd.ap("Sim", cat_id=2) == pytest.approx(1.0)
    assert bd.ap("Sim", cat_id=3) == pytest.approx(0.5)
    # Oth forgives both
    assert bd.ap("Oth", cat_id=3) == pytest.approx(1.0)
    assert bd.ap("Loc") == pytest.approx(2 / 3)
    assert bd.ap("Sim") == pytest.approx(2.5 / 3)
    assert bd.ap("Oth") == pytest.approx(1.0)
    assert bd.ap("BG") == pytest.approx(1.0) and bd.ap("FN") == pytest.approx(1.0)
    d = bd.to_dict()
    assert d["keys"] == list(BREAKDOWN_KEYS)
    assert len(d["overall"]["all"]["Sim"]["precision"]) == 101
    assert d["per_class"]["dog"]["all"]["Sim"] == pytest.approx(1.0)
    # monotone: each stage forgives more
    aps = [bd.ap(k) for k in BREAKDOWN_KEYS]
    assert all(x <= y + 1e-12 for x, y in zip(aps, aps[1:]))


def test_no_supercategories_forgive_nothing_in_sim() -> None:
    ds, dets = _case()
    ds2 = ds.model_copy(update={"categories": LabelSet(ids=[1, 2, 3], names=["person", "dog", "car"])})
    bd = pr_breakdown(ds2, dets)
    assert bd.ap("Sim") == pytest.approx(bd.ap("Loc"))
    assert np.allclose(bd.precision["Sim"], bd.precision["Loc"])


def test_unknown_key_area_or_class_is_a_validation_error() -> None:
    from annokit.errors import ValidationError

    ds, dets = _case()
    bd = pr_breakdown(ds, dets)
    for call, needle in ((lambda: bd.ap("C90"), "'C90' is not one of C75"),
                         (lambda: bd.curve("Loc", area="huge"), "area 'huge' is not one of all"),
                         (lambda: bd.ap("Loc", cat_id=42), "no category id 42")):
        with pytest.raises(ValidationError, match=needle):
            call()


def test_pair_iou_equals_box_iou_matched() -> None:
    """The pair IoU that skips non-intersecting pairs is bit for bit the IoU of the gathered boxes (touching,
    nested, degenerate and disjoint boxes included)."""
    from annokit.analysis.breakdown import _box_pair_iou
    from annokit.core.boxes import box_iou_matched

    rng = np.random.default_rng(0)
    lt = rng.integers(0, 20, size=(200, 2)).astype(np.float64)
    boxes = np.c_[lt, lt + rng.integers(0, 8, size=(200, 2))]  # zero-size boxes too
    pa, pb = rng.integers(0, 200, 5000), rng.integers(0, 200, 5000)
    want = box_iou_matched(boxes[pa], boxes[pb])
    assert (want > 0).any() and (want == 0).any()
    assert np.array_equal(_box_pair_iou(boxes, boxes, pa, pb), want)
