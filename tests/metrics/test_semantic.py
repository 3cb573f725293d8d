"""Semantic segmentation: hand-checked edge cases, mmseg's per-image histogram algorithm, Cityscapes' official
script as an oracle (when installed), and exact shard merges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annokit.metrics.semantic import CITYSCAPES_ID_TO_TRAIN_ID, SemanticAccumulator, preprocess_gt, semantic_metrics

TOL = 1e-9
nan = math.nan


def _eq(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, abs=1e-12), (got, want)


def test_hand_checked_edge_cases():
    # classes 0..3; class 2 absent from both; class 3 false-positive only; 255 ignored; 7 out of range
    gt = np.array([[0, 0, 1, 1],
                   [0, 255, 1, 7]])
    pred = np.array([[0, 1, 1, 1],
                     [3, 0, 9, 0]])
    r = semantic_metrics(gt, pred, 4)
    # class 0: I=1 (px 0,0), L=3, P=2 (0,0 and out-of-range gt 7 -> pred 0) -> U=4
    # class 1: I=2, L=3 (pred 9 at (1,2) is a false negative), P=3 (0,1 1,..) -> U=4
    _eq(r.iou, [1 / 4, 2 / 4, nan, 0.0])
    _eq(r.acc, [1 / 3, 2 / 3, nan, nan])
    _eq(r.dice, [2 / 5, 4 / 6, nan, 0.0])
    _eq(r.precision, [1 / 2, 2 / 3, nan, 0.0])
    _eq(r.fscore, [2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3), 2 / 3, nan, nan])
    assert r.excluded == (2,)
    assert r.mIoU == pytest.approx((0.25 + 0.5 + 0.0) / 3)
    assert r.mAcc == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert r.aAcc == pytest.approx(3 / 6)
    assert r.fwIoU == pytest.approx(3 / 6 * 0.25 + 3 / 6 * 0.5)
    assert r.out_of_range_gt_pixels == 1 and r.out_of_range_pred_pixels == 1
    d = r.per_class_dict()
    assert d["2"]["IoU"] is None and d["2"]["excluded"] and d["3"]["Acc"] is None and d["3"]["IoU"] == 0.0
    assert r.metrics_dict()["excluded"] == ["2"]


def test_reduce_zero_label_and_label_map():
    gt = np.array([[0, 1, 2, 255]], np.uint8)
    assert preprocess_gt(gt, reduce_zero_label=True).tolist() == [[255, 0, 1, 255]]
    assert preprocess_gt(gt, reduce_zero_label=True, label_map={1: 0, 0: 1}).tolist() == [[255, 1, 0, 255]]
    r = semantic_metrics(gt, np.array([[5, 0, 0, 1]]), 2, reduce_zero_label=True)
    _eq(r.iou, [1 / 2, 0.0])


def test_nothing_valid_is_null():
    r = semantic_metrics(np.full((2, 2), 255), np.zeros((2, 2), int), 3)
    # predictions on ignored pixels count for nothing: every class is absent, every mean is null
    assert r.excluded == (0, 1, 2)
    assert all(v is None for k, v in r.metrics_dict().items() if k != "excluded")


def _mmseg_intersect_and_union(pred, label, num_classes, ignore_index):
    """mmseg's per-image algorithm (histc over [0, C-1]) transcribed to numpy."""
    mask = label != ignore_index
    pred, label = pred[mask], label[mask]
    inter = pred[pred == label]

    def histc(x):
        x = x[(x >= 0) & (x <= num_classes - 1)]
        return np.bincount(x, minlength=num_classes).astype(float)

    ai, ap, al = histc(inter), histc(pred), histc(label)
    return ai, ap + al - ai, ap, al


@pytest.mark.parametrize("seed", range(5))
def test_equals_mmseg_histogram_algorithm(seed):
    rng = np.random.default_rng(seed)
    c = 6
    gts = [np.where(rng.random((9, 11)) < 0.1, 255, rng.integers(0, c + 1, (9, 11))) for _ in range(4)]
    preds = [rng.integers(0, c + 2, (9, 11)) for _ in range(4)]
    tot = [np.zeros(c) for _ in range(4)]
    for g, p in zip(gts, preds):
        for t, x in zip(tot, _mmseg_intersect_and_union(p, g, c, 255)):
            t += x
    ai, au, ap, al = tot
    with np.errstate(all="ignore"):
        iou, acc, dice = ai / au, ai / al, 2 * ai / (ap + al)
        prec, rec = ai / ap, ai / al
        f = 2 * prec * rec / (prec + rec)
    r = semantic_metrics(gts, preds, c)
    for got, want in ((r.iou, iou), (r.acc, acc), (r.dice, dice), (r.precision, prec), (r.fscore, f)):
        np.testing.assert_allclose(got, want, atol=TOL, equal_nan=True)
    assert r.aAcc == pytest.approx(ai.sum() / al.sum(), abs=TOL)
    assert r.mIoU == pytest.approx(np.nanmean(iou), abs=TOL)
    assert r.mFscore == pytest.approx(np.nanmean(f), abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_merge_of_shards_equals_single_pass(seed):
    rng = np.random.default_rng(seed)
    c = 19
    imgs = []
    for _ in range(8):
        g = rng.choice(list(CITYSCAPES_ID_TO_TRAIN_ID), size=(10, 12))
        inst = np.where(np.isin(g, [24, 26]), g * 1000 + rng.integers(0, 3, g.shape), g)
        p = np.where(rng.random(g.shape) < 0.7, g, rng.integers(0, 34, g.shape))
        imgs.append((g, p, inst))
    whole = SemanticAccumulator.preset("cityscapes")
    for g, p, i in imgs:
        whole.update(g, p, gt_instances=i)
    shards = [SemanticAccumulator.preset("cityscapes") for _ in range(3)]
    for g, p, i in imgs:
        shards[rng.integers(0, 3)].update(g, p, gt_instances=i)
    acc = shards[2].merge(shards[0]).merge(shards[1])
    a, b = acc.compute(), whole.compute()
    assert a.metrics_dict() == b.metrics_dict() and a.per_class_dict() == b.per_class_dict()
    assert b.iiou is not None and c == 19


def test_against_cityscapesscripts(tmp_path, monkeypatch):
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    if not hasattr(np, "in1d"):  # the oracle still calls np.in1d, removed in numpy 2.4
        monkeypatch.setattr(np, "in1d", lambda a, b, invert=False: np.isin(a, b, invert=invert).ravel(),
                            raising=False)
    from PIL import Image
    rng = np.random.default_rng(3)
    ev.args.quiet = True
    ev.args.evalInstLevelScore = True
    conf = ev.generateMatrix(ev.args)
    inst_stats = ev.generateInstanceStats(ev.args)
    acc = SemanticAccumulator.preset("cityscapes")
    for k in range(3):
        g = rng.choice(list(CITYSCAPES_ID_TO_TRAIN_ID), size=(30, 40)).astype(np.uint8)
        g[:10, :10] = 26  # a car instance and a person instance
        g[20:, 30:] = 24
        inst = g.astype(np.int32)
        inst[:10, :10] = 26000 + k
        inst[20:, 30:] = 24001
        p = np.where(rng.random(g.shape) < 0.6, g, rng.choice(list(CITYSCAPES_ID_TO_TRAIN_ID), size=g.shape))
        p = p.astype(np.uint8)
        gf = tmp_path / f"x{k}_gtFine_labelIds.png"
        Image.fromarray(g).save(gf)
        Image.fromarray(inst.astype(np.uint16)).save(tmp_path / f"x{k}_gtFine_instanceIds.png")
        pf = tmp_path / f"x{k}_pred.png"
        Image.fromarray(p).save(pf)
        ev.evaluatePair(str(pf), str(gf), conf, inst_stats, {}, ev.args)
        acc.update(g, p, gt_instances=inst)
    r = acc.compute()
    ious = {ev.id2label[l].name: ev.getIouScoreForLabel(l, conf, ev.args) for l in ev.args.evalLabels}
    iious = {ev.id2label[l].name: ev.getInstanceIouScoreForLabel(l, conf, inst_stats, ev.args)
             for l in ev.args.evalLabels}
    pc = r.per_class_dict()
    for name, d in pc.items():
        want = ious[name]
        assert (d["IoU"] is None and math.isnan(want)) or d["IoU"] == pytest.approx(want, abs=TOL)
        if name in ("person", "car", "rider", "truck", "bus", "train", "motorcycle", "bicycle"):
            w = iious[name]
            assert (d["iIoU"] is None and math.isnan(w)) or d["iIoU"] == pytest.approx(w, abs=TOL)
    assert r.mIoU == pytest.approx(ev.getScoreAverage(ious, ev.args), abs=TOL)
    assert r.iIoU == pytest.approx(ev.getScoreAverage(iious, ev.args), abs=TOL)
