"""Decoders and the way back to original pixels, against brute-force references (and torch where installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit.core.boxes import box_iou
from annokit.core.labels import LabelSet
from annokit.core.masks import rle_to_bitmap
from annokit.errors import ValidationError
from annokit.predict import Preprocess, Task
from annokit.predict.decoders import decode, nms
from annokit.predict.preprocess import Transform, boxes_to_original, preprocess_batch, resize_scores


def _nms_reference(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] <= thr for j in keep):
            keep.append(i)
    return keep


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 30), st.integers(0, 2**31 - 1), st.floats(0.1, 0.9))
def test_nms_matches_the_greedy_definition(n: int, seed: int, thr: float) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 50, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 30, (n, 2))], axis=1)
    scores = rng.choice([0.1, 0.5, 0.9], n) if seed % 2 else rng.random(n)  # ties too
    assert nms(boxes, scores, thr).tolist() == _nms_reference(boxes, scores, thr)


def test_nms_per_class_never_crosses_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10.0]])
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5, classes=np.array([0, 1, 0])).tolist() == [0, 1]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(8, 40), st.integers(8, 40),
       st.sampled_from(["stretch", "letterbox"]))
def test_boxes_go_back_to_where_they_were(h: int, w: int, H: int, W: int, mode: str) -> None:
    img = np.zeros((h, w, 3), np.uint8)
    _, (tf,) = preprocess_batch([img], Preprocess(size=(H, W), resize=mode))
    box = np.array([[0.25 * w, 0.5 * h, 0.75 * w, h]])
    sx, sy = tf.scale_xy
    px, py = tf.pad_xy
    fwd = box * [sx, sy, sx, sy] + [px, py, px, py]
    np.testing.assert_allclose(boxes_to_original(fwd, tf), box, atol=1e-9)
    if mode == "letterbox":
        assert tf.content_hw[0] == H or tf.content_hw[1] == W


def test_resize_scores_equals_torch_bilinear() -> None:
    torch = pytest.importorskip("torch", reason="torch is the oracle of bilinear resampling")
    rng = np.random.default_rng(1)
    s = rng.random((3, 6, 9)).astype(np.float32)
    for hw in [(6, 9), (24, 36), (13, 7), (120, 160)]:
        tf = Transform(hw, (9 / hw[1], 6 / hw[0]), (0, 0), (6, 9))
        got = resize_scores(s, tf, (6, 9))
        want = torch.nn.functional.interpolate(torch.from_numpy(s)[None], size=hw, mode="bilinear",
                                               align_corners=False)[0].numpy()
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_resize_scores_cuts_the_letterbox_padding() -> None:
    # a 4x8 image letterboxed into 8x8 (2 rows of padding above and below), scores at stride 2
    s = np.zeros((2, 4, 4), np.float32)
    s[1, 1:3] = 1.0  # the content rows
    s[0, [0, 3]] = 1.0  # the padding rows
    tf = Transform((4, 8), (1.0, 1.0), (0, 2), (4, 8))
    out = resize_scores(s, tf, (8, 8))
    assert out.shape == (2, 4, 8)
    assert (out[1] > out[0]).all() and (out[1, 1:3] == 1).all()  # only the content is sampled at full weight


def test_centernet_decodes_peaks_into_boxes_and_masks() -> None:
    labels = LabelSet(ids=[1, 2], names=["a", "b"])
    heat = np.zeros((1, 2, 8, 10), np.float32)
    heat[0, 0, 2, 3] = 0.9
    heat[0, 0, 2, 4] = 0.5  # not a local maximum: suppressed
    heat[0, 1, 6, 8] = 0.6
    heat[0, 1, 0, 0] = 0.01  # under the threshold
    wh = np.zeros((1, 2, 8, 10), np.float32)
    wh[0, :, 2, 3] = (8, 4)
    wh[0, :, 6, 8] = (4, 4)
    off = np.full((1, 2, 8, 10), 0.5, np.float32)
    tf = Transform((16, 20), (2.0, 2.0), (0, 0), (32, 40))  # the image is half the input size
    seg = np.zeros((1, 3, 8, 10), np.float32)
    seg[0, 0] = 1
    seg[0, 1, 1:4, 2:6] = 5  # class 1 around the first centre
    outs = {"heatmap": heat, "wh": wh, "offset": off, "masks_from": seg}
    (p,) = decode("centernet", outs, [tf], (32, 40), labels, {"score_threshold": 0.05}, task=Task.INSTANCE)
    inst = p.instances
    np.testing.assert_allclose(inst.scores, [0.9, 0.6], rtol=1e-6)
    assert inst.labels.tolist() == [1, 2]
    # centre (3.5, 2.5) cells * stride 4 = (14, 10) input px; box 8x4 -> (10, 8, 18, 12) input -> /2
    np.testing.assert_allclose(inst.boxes[0], [5, 4, 9, 6])
    m = rle_to_bitmap(inst.segmentations[0])
    assert m.shape == (16, 20) and m.any() and not m[:, :5].any() and not m[:, 9:].any()
    assert not rle_to_bitmap(inst.segmentations[1]).any()  # no class-2 pixels anywhere


def test_decoders_check_shapes_and_labels() -> None:
    labels = LabelSet(ids=[0, 1], names=["a", "b"])
    tf = [Transform((4, 4), (1.0, 1.0), (0, 0), (4, 4))]
    with pytest.raises(ValidationError, match="needs an output for 'logits'"):
        decode("softmax", {}, tf, (4, 4), labels)
    with pytest.raises(ValidationError, match="3 scores per image but 2 labels"):
        decode("softmax", {"logits": np.zeros((1, 3))}, tf, (4, 4), labels)
    with pytest.raises(ValidationError, match="unknown decoder"):
        decode("nope", {}, tf, (4, 4), labels)
    (p,) = decode("softmax", {"logits": np.array([[0.0, np.log(3)]])}, tf, (4, 4), labels)
    np.testing.assert_allclose(p.class_scores, [0.25, 0.75])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**31 - 1), st.booleans())
def test_argmax_channels_equals_numpy(c: int, seed: int, nan: bool) -> None:
    from annokit.predict.preprocess import argmax_channels

    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, (c, 5, 7)).astype(np.float32)  # many ties: the first channel must win
    if nan:  # np.argmax's rule: the first NaN wins
        s[rng.integers(0, c, 6), rng.integers(0, 5, 6), rng.integers(0, 7, 6)] = np.nan
    got = argmax_channels(s)
    np.testing.assert_array_equal(got, s.argmax(0))
    assert got.dtype == (np.uint8 if c <= 256 else np.int64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(2, 9), st.integers(2, 9), st.integers(0, 2**31 - 1), st.booleans())
def test_upsampled_argmax_equals_argmax_of_resampled_scores(c: int, h: int, w: int, seed: int, ties: bool) -> None:
    from annokit.predict.preprocess import argmax_channels, upsampled_argmax

    rng = np.random.default_rng(seed)
    s = (rng.integers(0, 3, (c, h, w)) if ties else rng.normal(size=(c, h, w))).astype(np.float32)
    H, W = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    pad = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    ih, iw = h * 4, w * 4
    tf = Transform((H, W), (1.0, 1.0), pad, (ih - 2 * pad[1], iw - 2 * pad[0]))
    want = argmax_channels(resize_scores(s, tf, (ih, iw)))
    np.testing.assert_array_equal(upsampled_argmax(s, tf, (ih, iw)), want)
    np.testing.assert_array_equal(want, resize_scores(s, tf, (ih, iw)).argmax(0))
    both = upsampled_argmax(np.stack([s, s[::-1]]), tf, (ih, iw))  # a batch sharing one transform
    np.testing.assert_array_equal(both[0], want)
    np.testing.assert_array_equal(both[1], argmax_channels(resize_scores(s[::-1], tf, (ih, iw))))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.integers(2, 6), st.integers(2, 6), st.integers(0, 2**31 - 1), st.booleans(),
       st.sampled_from([(0, 3, 7), (7, 0, 3), (0, 3, 3), (0, 9, 9)]))
def test_instance_masks_are_the_box_cut_of_the_label_map(n: int, h: int, w: int, seed: int, same: bool,
                                                         mask_labels: tuple[int, ...]) -> None:
    """Every mask equals, byte for byte, pycocotools' encoding of its definition: the pixels whose centres lie
    inside the box and whose (resampled) arg-max class is the detection's label. Batches of one geometry and of
    several (letterboxed) geometries take different paths; both are checked."""
    from pycocotools import mask as cmask

    from annokit.predict.preprocess import argmax_channels

    rng = np.random.default_rng(seed)
    labels = LabelSet(ids=[3, 7], names=["a", "b"])  # mask channels may repeat a label, or carry none of one
    ih, iw = h * 4, w * 4
    tfs = []
    for _ in range(n):
        H, W = (ih, iw) if same else (int(rng.integers(1, 30)), int(rng.integers(1, 30)))
        pad = (0, 0) if same else (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        tfs.append(Transform((H, W), (1.0, 1.0), pad, (ih - 2 * pad[1], iw - 2 * pad[0])))
    heat = rng.random((n, 2, h, w)).astype(np.float32)
    wh = rng.uniform(0, 3 * max(ih, iw), (n, 2, h, w)).astype(np.float32)
    off = rng.random((n, 2, h, w)).astype(np.float32)
    seg = rng.integers(0, 3, (n, 3, h, w)).astype(np.float32)  # ties included
    outs = {"heatmap": heat, "wh": wh, "offset": off, "masks_from": seg}
    preds = decode("centernet", outs, tfs, (ih, iw), labels, {"score_threshold": 0.2, "mask_labels": mask_labels},
                   task=Task.INSTANCE)
    for i, (p, tf) in enumerate(zip(preds, tfs)):
        lab = np.take(mask_labels, argmax_channels(resize_scores(seg[i], tf, (ih, iw))))
        H, W = tf.image_hw
        want = np.zeros((H, W, len(p.instances.boxes)), np.uint8, order="F")
        for j, (box, c) in enumerate(zip(p.instances.boxes, p.instances.labels)):
            x0, y0, x1, y1 = np.floor(box + 0.5).astype(int)
            want[y0:y1, x0:x1, j] = lab[y0:y1, x0:x1] == c
        assert p.instances.segmentations == (list(cmask.encode(want)) if len(p.instances.boxes) else [])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31 - 1),
       st.sampled_from([-1.0, 0.0, 0.3]), st.booleans())
def test_peaks_are_the_3x3_maxima_above_the_threshold(n: int, c: int, h: int, w: int, seed: int, thr: float,
                                                      nan: bool) -> None:
    from annokit.predict.decoders import _peaks_above

    rng = np.random.default_rng(seed)
    heat = rng.integers(0, 4, (n, c, h, w)).astype(np.float32) / 3  # ties between neighbours are common
    if nan:
        heat[0, 0, rng.integers(0, h), rng.integers(0, w)] = np.nan
    want = []
    for i, (a, b, y, x) in enumerate(np.ndindex(*heat.shape)):
        v = heat[a, b, y, x]
        hood = heat[a, b, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
        if v > thr and not np.isnan(hood).any() and (hood <= v).all():
            want.append(i)
    assert _peaks_above(heat, thr).tolist() == want


def test_non_finite_network_outputs_are_refused() -> None:
    labels = LabelSet(ids=[0, 1], names=["a", "b"])
    tf = [Transform((8, 8), (1.0, 1.0), (0, 0), (8, 8))]
    scores = np.zeros((1, 2, 2, 2), np.float32)
    scores[0, 1, 1, 1] = np.nan
    with pytest.raises(ValidationError, match="non-finite scores"):
        decode("segmentation", {"scores": scores}, tf, (8, 8), labels)
    heat = np.zeros((1, 2, 2, 2), np.float32)
    heat[0, 0, 0, 0] = 0.9
    outs = {"heatmap": heat, "wh": np.ones((1, 2, 2, 2), np.float32), "masks_from": scores}
    with pytest.raises(ValidationError, match="non-finite mask scores"):
        decode("centernet", outs, tf, (8, 8), labels, task=Task.INSTANCE)
    outs["wh"] = np.full((1, 2, 2, 2), np.inf, np.float32)
    with pytest.raises(ValidationError, match="non-finite boxes"):
        decode("centernet", outs, tf, (8, 8), labels)


def test_a_negative_threshold_keeps_peaks_only() -> None:
    """Every cell passes a threshold of -1, but only the 3x3 maxima become detections (before, every non-peak
    came out too, with score 0)."""
    labels = LabelSet(ids=[1], names=["a"])
    heat = np.zeros((1, 1, 6, 6), np.float32)
    heat[0, 0, 1, 1] = 0.9
    heat[0, 0, 4, 4] = 0.6
    heat[0, 0, 4, 5] = 0.3
    outs = {"heatmap": heat, "wh": np.full((1, 2, 6, 6), 4, np.float32)}
    tf = [Transform((24, 24), (1.0, 1.0), (0, 0), (24, 24))]
    (p,) = decode("centernet", outs, tf, (24, 24), labels, {"score_threshold": -1.0})
    # the two peaks, and the zero cells not next to a positive one (a plateau of ties counts as maxima)
    zeros_far = sum(1 for y in range(6) for x in range(6)
                    if heat[0, 0, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max() == 0)
    assert len(p.instances) == 2 + zeros_far
    np.testing.assert_allclose(p.instances.scores[:2], [0.9, 0.6], rtol=1e-6)
    assert (p.instances.scores[2:] == 0).all()
