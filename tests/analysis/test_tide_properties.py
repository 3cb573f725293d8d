"""Properties of tide(): perfect predictions, invariance to the order of prediction rows, accumulating tags."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit import Dataset, ImageTable, Instances, LabelSet
from annokit.analysis import ERROR_TYPES, tide


def _random(seed: int) -> tuple[Dataset, Instances]:
    rng = np.random.default_rng(seed)
    n_img = 4
    n = int(rng.integers(1, 15))
    xy = rng.uniform(0, 60, (n, 2))
    wh = rng.uniform(3, 30, (n, 2))
    boxes = np.hstack([xy, xy + wh])
    gt = Dataset(
        images=ImageTable(ids=[5, 2, 9, 1], file_names=list("abcd"), heights=[100] * n_img, widths=[100] * n_img),
        categories=LabelSet.from_names(["a", "b", "c"]),
        annotations=Instances(image_ids=rng.choice([5, 2, 9, 1], n), boxes=boxes, labels=rng.integers(1, 4, n)),
    )
    m = int(rng.integers(1, 25))
    src = rng.integers(0, n, m)
    jitter = rng.normal(0, 4, (m, 4))
    b = boxes[src] + jitter
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
    lab = np.where(rng.random(m) < 0.2, rng.integers(1, 4, m), gt.annotations.labels[src])
    dets = Instances(image_ids=gt.annotations.image_ids[src], boxes=b, labels=lab,
                     scores=rng.permutation(m) / m + 0.01)  # distinct scores
    return gt, dets


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_perfect_predictions(seed: int) -> None:
    gt, _ = _random(seed)
    g = gt.annotations
    dets = Instances(image_ids=g.image_ids, boxes=g.boxes, labels=g.labels,
                     scores=np.linspace(1, 0.1, len(g)))
    r = tide(gt, dets)
    assert r.ap == 100.0
    assert all(r.main_dap[t] == 0.0 for t in ERROR_TYPES)
    assert all(v == 0 for v in r.counts.values())
    assert (r.tags.pred_status == 0).all() and (r.tags.gt_status == 0).all()
    assert (r.tags.gt_match == np.arange(len(g))).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_prediction_row_order_does_not_matter_with_distinct_scores(seed: int, rnd: object) -> None:
    gt, dets = _random(seed)
    perm = np.arange(len(dets))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    a = tide(gt, dets)
    b = tide(gt, dets[perm])
    assert a.ap == b.ap and a.main_dap == b.main_dap and a.special_dap == b.special_dap and a.counts == b.counts
    assert (a.tags.pred_error[perm] == b.tags.pred_error).all()
    assert (a.tags.pred_status[perm] == b.tags.pred_status).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_tag_consistency(seed: int) -> None:
    gt, dets = _random(seed)
    r = tide(gt, dets)
    t = r.tags
    tp = np.flatnonzero(t.pred_status == 0)
    # matches are one-to-one and symmetric, same class, IoU >= 0.5
    assert len(set(t.pred_match[tp].tolist())) == len(tp)
    assert (t.gt_match[t.pred_match[tp]] == tp).all()
    assert (dets.labels[tp] == gt.annotations.labels[t.pred_match[tp]]).all()
    assert (t.gt_iou[t.pred_match[tp]] >= 0.5).all()
    # every FP has exactly one error type, TPs none
    fp = t.pred_status == 1
    assert (t.pred_error[fp] > 0).all() and (t.pred_error[tp] == 0).all()
    # misses are FN gts
    assert ((t.gt_error == 6) <= (t.gt_status == 1)).all()
    assert r.counts["Miss"] == int((t.gt_error == 6).sum())
