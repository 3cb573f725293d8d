"""Localization, object segmentation and image segmentation: oracles where they exist, hand-checked cases,
and exact shard merges."""

from __future__ import annotations

import numpy as np
import pytest

from annokit.errors import AnnokitError
from annokit.metrics._exact import ExactSum
from annokit.metrics.imageseg import (
    ImageSegAccumulator,
    boundary_recall,
    image_segmentation_scores,
    under_segmentation_error,
)
from annokit.metrics.localization import LocalizationAccumulator, box_iou, localization_metrics
from annokit.metrics.objseg import ObjectSegAccumulator, boundary_fscore, mask_iou_dice, seg2bmap


def test_box_iou_equals_pycocotools():
    mask_utils = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    xywh_a = np.c_[rng.uniform(0, 50, (7, 2)), rng.uniform(1, 30, (7, 2))]
    xywh_b = np.c_[rng.uniform(0, 50, (5, 2)), rng.uniform(1, 30, (5, 2))]
    ltrb = lambda b: np.c_[b[:, :2], b[:, :2] + b[:, 2:]]
    want = mask_utils.iou(xywh_a.tolist(), xywh_b.tolist(), [0] * 5)
    np.testing.assert_allclose(box_iou(ltrb(xywh_a), ltrb(xywh_b)), want, atol=1e-12)


def test_localization_hand_checked():
    imgs = [
        # image 1: two birds; top bird box hits bird A (IoU 1), bird B best IoU 0.25; a cat box scores highest
        ([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1],
         [[0, 0, 10, 10], [20, 20, 25, 25], [0, 0, 10, 10]], [1, 1, 2], [0.8, 0.3, 0.9]),
        # image 2: one cat, no prediction
        ([[0, 0, 4, 4]], [2], np.zeros((0, 4)), [], []),
        # image 3: no ground truth: ignored
        (np.zeros((0, 4)), [], [[0, 0, 1, 1]], [1], [0.5]),
    ]
    r = localization_metrics(imgs)
    assert r.n_images == 2 and r.n_objects == 3
    assert r.mean_iou == pytest.approx((1.0 + 0.25 + 0.0) / 3)
    assert r.class_hits == {1: 1, 2: 0} and r.corloc == 0.5 and r.corloc_images == 0.5
    # top box (cat, IoU 1 with bird A): GT-known hit, but wrong class for top-1 loc; image 2 is a miss
    assert r.acc[0.5] == 0.5 and r.top1_loc[0.5] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_localization_merge_exact(seed):
    rng = np.random.default_rng(seed)
    imgs = []
    for _ in range(12):
        g = rng.uniform(0, 40, (3, 2))
        gb = np.c_[g, g + rng.uniform(2, 20, (3, 2))]
        p = rng.uniform(0, 40, (4, 2))
        pb = np.c_[p, p + rng.uniform(2, 20, (4, 2))]
        imgs.append((gb, rng.integers(1, 3, 3), pb, rng.integers(1, 3, 4), rng.random(4)))
    whole = localization_metrics(imgs)
    parts = [LocalizationAccumulator() for _ in range(3)]
    for im in imgs:
        parts[rng.integers(0, 3)].update(*im)
    m = parts[1].merge(parts[2]).merge(parts[0]).compute()
    assert m.metrics_dict() == whole.metrics_dict() and m.per_class_dict() == whole.per_class_dict()


def test_mask_iou_dice_and_boundary_f():
    g = np.zeros((20, 20), bool)
    g[5:15, 5:15] = True
    p = np.zeros((20, 20), bool)
    p[5:15, 5:10] = True
    assert mask_iou_dice(g, p) == (0.5, pytest.approx(2 * 50 / 150))
    assert mask_iou_dice(np.zeros((3, 3)), np.zeros((3, 3))) == (1.0, 1.0)
    assert boundary_fscore(g, g)[0] == 1.0
    f, prec, rec = boundary_fscore(g, np.zeros_like(g))
    assert (f, prec, rec) == (0.0, 1.0, 0.0)
    # seg2bmap marks a pixel whose E, S or SE neighbour differs
    b = seg2bmap(np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], bool))
    assert b.astype(int).tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    # tolerance: a 1-pixel shift of a square is fully matched with radius 1 (20x20 -> ceil(0.008 * 28.3) = 1)
    shifted = np.roll(g, 1, axis=1)
    assert boundary_fscore(g, shifted)[0] == 1.0
    assert boundary_fscore(g, np.roll(g, 3, axis=1))[0] < 1.0


def test_objseg_merge_exact():
    rng = np.random.default_rng(1)
    pairs = [(rng.random((16, 16)) < 0.4, rng.random((16, 16)) < 0.4) for _ in range(9)]
    whole = ObjectSegAccumulator()
    for g, p in pairs:
        whole.update(g, p)
    a, b = ObjectSegAccumulator(), ObjectSegAccumulator()
    for i, (g, p) in enumerate(pairs):
        (a if i % 3 else b).update(g, p)
    assert b.merge(a).compute() == whole.compute()


def test_imageseg_uses_skimage_and_hand_checked():
    from skimage.metrics import adapted_rand_error, variation_of_information
    rng = np.random.default_rng(2)
    g = np.repeat(np.repeat(rng.integers(0, 4, (4, 4)), 5, 0), 5, 1)
    s = np.repeat(np.repeat(rng.integers(0, 6, (5, 5)), 4, 0), 4, 1)
    sc = image_segmentation_scores(g, s)
    assert sc["adapted_rand_error"] == adapted_rand_error(g, s, ignore_labels=())[0]
    assert sc["variation_of_information"] == pytest.approx(sum(variation_of_information(g, s)), abs=1e-12)
    # UE: gt halves [A|B]; one superpixel straddles: 2 columns in A (8 px) and 2 in B (8 px)
    gt = np.array([[0, 0, 0, 1, 1, 1]] * 4)
    sp = np.array([[0, 1, 1, 1, 1, 2]] * 4)
    # superpixel 1 (16 px): with A -> min(8, 8) = 8, with B -> min(8, 8) = 8; others inside one region
    assert under_segmentation_error(gt, sp) == pytest.approx(16 / 24)
    assert boundary_recall(gt, sp, tolerance=1) == 0.0  # gt boundary column 2, segment boundaries 0 and 4
    assert boundary_recall(gt, sp, tolerance=2) == 1.0
    assert boundary_recall(np.zeros((3, 3), int), sp[:3, :3]) == 1.0


def test_imageseg_merge_exact():
    rng = np.random.default_rng(3)
    pairs = [(rng.integers(0, 3, (8, 8)), rng.integers(0, 4, (8, 8))) for _ in range(6)]
    whole = ImageSegAccumulator()
    for g, s in pairs:
        whole.update(g, s)
    a, b = ImageSegAccumulator(), ImageSegAccumulator()
    for i, (g, s) in enumerate(pairs):
        (a if i < 2 else b).update(g, s)
    assert b.merge(a).compute() == whole.compute()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: localization_metrics([([[0, 0, 1, 1]], [1], [[0, 0, 1]], [1], [0.5])]), "pred_boxes: expected"),
        (lambda: localization_metrics([([[0, 0, 1, 1]], [1], [], [], [0.5])]), "matching lengths"),
        (lambda: localization_metrics([([[0, 0, 1, 1]], ["cat"], [], [], [])]), "gt_labels: expected"),
        (lambda: localization_metrics([([[0, 0, 1, 1]], [1])]), r"images\[0\]: expected \(gt_boxes"),
        (lambda: LocalizationAccumulator(iou=0.5).merge(LocalizationAccumulator(iou=0.7)), "different settings"),
        (lambda: mask_iou_dice(np.zeros((2, 2)), np.zeros((2, 3))), "of one shape"),
        (lambda: mask_iou_dice(np.zeros((2, 2)), np.zeros((2, 2)), void=np.zeros(3)), "void: expected shape"),
        (lambda: seg2bmap(np.zeros(4)), r"mask: expected an \(H, W\) array"),
        (lambda: boundary_fscore([[1, 0], [1]], np.zeros((2, 2))), "gt: expected a binary mask"),
        (lambda: ObjectSegAccumulator(bound_th=1).merge(ObjectSegAccumulator(bound_th=2)), "bound_th"),
        (lambda: under_segmentation_error(np.zeros((2, 2), int), np.zeros((2, 2))), "expected integer labels"),
        (lambda: image_segmentation_scores(np.zeros(3, int), np.zeros(3, int)), "must be \\(H, W\\)"),
        (lambda: ImageSegAccumulator(tolerance=1).merge(ImageSegAccumulator(tolerance=2)), "tolerance"),
        (lambda: ExactSum().add(np.array([np.inf])), "values must be finite"),
    ],
)
def test_bad_input_is_an_annokit_error(call, message):
    with pytest.raises(AnnokitError, match=message):
        call()
