"""The building blocks for plug-ins: the same results as annokit's own pipeline, and as brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit.core.boxes import box_iou
from annokit.predict import Preprocess
from annokit.predict.blocks import (
    YoloOptions,
    boxes_to_original,
    letterbox,
    preprocess_batch,
    resize,
    yolo_detections,
)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 90), st.integers(1, 90), st.sampled_from([(32, 32), (24, 40)]), st.integers(0, 255))
def test_letterbox_and_resize_are_what_the_backend_feeds(h: int, w: int, size: tuple[int, int], pad: int) -> None:
    img = np.random.default_rng(h * 100 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    for mode, (x, tf) in (("letterbox", letterbox(img, size, pad_value=pad)), ("stretch", resize(img, size))):
        spec = Preprocess(size=size, resize=mode, pad_value=pad, dtype="uint8", layout="NHWC")
        want, (want_tf,) = preprocess_batch([img], spec)
        np.testing.assert_array_equal(x, want[0])
        assert tf == want_tf and x.shape == (*size, 3)
    # a box over the whole content goes back to the whole image
    _, tf = letterbox(img, size)
    (px, py), (ch, cw) = tf.pad_xy, tf.content_hw
    np.testing.assert_allclose(boxes_to_original(np.array([[px, py, px + cw, py + ch]]), tf), [[0, 0, w, h]],
                               atol=1e-9)


def _nms_reference(boxes: np.ndarray, scores: np.ndarray, thr: float, classes: np.ndarray | None) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] <= thr or (classes is not None and classes[i] !=
               classes[j]) for j in keep):
            keep.append(i)
    return keep


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 4), st.booleans(), st.booleans(), st.booleans())
def test_yolo_detections_equal_the_definition(seed: int, c: int, objectness: bool, agnostic: bool,
                                              channels_first: bool) -> None:
    """Per anchor the best class and its score (times the objectness), kept above the threshold, corners from
    centre and size, greedy NMS (per class unless agnostic), at most max_detections, best first."""
    rng = np.random.default_rng(seed)
    n, a = 2, 40
    xy = rng.uniform(0, 60, (n, a, 2))
    wh = rng.uniform(1, 30, (n, a, 2))
    extra = 1 + c if objectness else c
    raw = np.concatenate([xy, wh, rng.choice([0.1, 0.3, 0.6, 0.9], (n, a, extra))], axis=2).astype(np.float32)
    o = YoloOptions(score_threshold=0.25, iou_threshold=0.5, max_detections=7, objectness=objectness,
                    class_agnostic=agnostic)
    d = yolo_detections(raw.transpose(0, 2, 1) if channels_first else raw, c, o)
    for i in range(n):
        r = raw[i].astype(np.float64)
        cls_scores = r[:, 4 + int(objectness):] * (r[:, 4:5] if objectness else 1)
        cls = cls_scores.argmax(1)
        score = cls_scores[np.arange(a), cls]
        keep = np.flatnonzero(score > 0.25)
        b = np.concatenate([r[keep, :2] - r[keep, 2:4] / 2, r[keep, :2] + r[keep, 2:4] / 2], axis=1)
        sel = _nms_reference(b, score[keep], 0.5, None if agnostic else cls[keep])[:7]
        mine = d.image == i
        np.testing.assert_allclose(d.boxes[mine], b[sel], rtol=1e-6, atol=1e-4)
        assert d.classes[mine].tolist() == cls[keep][sel].tolist()
        np.testing.assert_allclose(d.scores[mine], score[keep][sel], rtol=1e-6)


def test_yolo_detections_refuse_a_wrong_width() -> None:
    from annokit.errors import ValidationError

    with pytest.raises(ValidationError, match="expected 7 values per anchor"):
        yolo_detections(np.zeros((1, 10, 6), np.float32), 3)
