"""Confusion matrices: semantic segmentation and detection with background, both on the one label confusion
matrix (:func:`annokit.metrics.classification.confusion_matrix`, tested against scikit-learn in
tests/metrics/test_classification.py)."""

from __future__ import annotations

import numpy as np
import pytest

from annokit import Dataset, ImageTable, Instances, LabelSet
from annokit.analysis import detection_confusion, semantic_confusion, tide
from annokit.errors import ValidationError
from annokit.metrics.classification import confusion_matrix


def test_one_confusion_matrix() -> None:
    """analysis and viz no longer export a second confusion_matrix (one spelling: the metrics one)."""
    import annokit.analysis
    import annokit.viz

    assert not hasattr(annokit.analysis, "confusion_matrix") and not hasattr(annokit.viz, "confusion_matrix")
    assert confusion_matrix([0, 1, 1], [0, 1, 0], 2).tolist() == [[1, 0], [1, 1]]


def test_semantic_ignores_and_adds() -> None:
    rng = np.random.default_rng(1)
    g = rng.integers(0, 4, (2, 10, 12))
    g[0, :2] = 255
    p = rng.integers(0, 4, (2, 10, 12))
    total = semantic_confusion(g[0], p[0], 4) + semantic_confusion(g[1], p[1], 4)
    assert (total == semantic_confusion(g, p, 4)).all()
    assert total.sum() == 2 * 120 - 24
    with pytest.raises(ValidationError):
        semantic_confusion(g[0], p[0, :5], 4)
    # predictions (and ground truth) outside 0..C-1 are left out, as ignore pixels
    p2 = p[0].copy()
    p2[0, 0] = 9
    g2 = g[0].copy()
    g2[1, 1] = 7
    cm = semantic_confusion(g2, p2, num_classes=4)
    assert cm.sum() == 120 - 24 - 2 + (g[0][0, 0] == 255) + (g[0][1, 1] == 255)


def test_detection_confusion_with_background() -> None:
    ds = Dataset(
        images=ImageTable(ids=[1], file_names=["a"], heights=[100], widths=[100]),
        categories=LabelSet(ids=[3, 7], names=["cat", "dog"]),
        annotations=Instances(image_ids=[1, 1, 1], boxes=[[0, 0, 20, 20], [50, 50, 80, 80], [0, 60, 20, 90]],
                              labels=[3, 7, 7]),
    )
    dets = Instances(image_ids=[1, 1, 1, 1], labels=[3, 3, 7, 7],
                     boxes=[[0, 0, 20, 20], [50, 50, 80, 80], [90, 0, 99, 9], [0, 0, 20, 21]],
                     scores=[0.9, 0.8, 0.7, 0.1])
    r = tide(ds, dets)
    cm, labels = detection_confusion(ds, dets, r.tags)
    assert labels == ["cat", "dog", "background"]
    # cat TP; cat-on-dog (Cls): true dog, predicted cat; dog on nothing: background row; dog on cat (Cls at
    # score .1 pointing to the cat gt that was matched): true cat -> predicted dog; missed dogs -> background col
    assert cm.tolist() == [[1, 1, 0], [1, 0, 2], [0, 1, 0]]
    cm2, _ = detection_confusion(ds, dets, r.tags, score_threshold=0.5)
    assert cm2.tolist() == [[1, 0, 0], [1, 0, 2], [0, 1, 0]]


def test_detection_confusion_skips_unknown_categories() -> None:
    ds = Dataset(
        images=ImageTable(ids=[1], file_names=["a"], heights=[100], widths=[100]),
        categories=LabelSet(ids=[3], names=["cat"]),
        annotations=Instances(image_ids=[1], boxes=[[0, 0, 20, 20]], labels=[3]),
    )
    dets = Instances(image_ids=[1, 1], labels=[3, 99], boxes=[[0, 0, 20, 20], [50, 50, 60, 60]], scores=[0.9, 0.8])
    cm, labels = detection_confusion(ds, dets, tide(ds, dets).tags)
    assert labels == ["cat", "background"] and cm.tolist() == [[1, 0], [0, 0]]


def test_detection_confusion_refuses_tags_of_other_data() -> None:
    ds = Dataset(
        images=ImageTable(ids=[1], file_names=["a"], heights=[100], widths=[100]),
        categories=LabelSet(ids=[3], names=["cat"]),
        annotations=Instances(image_ids=[1], boxes=[[0, 0, 20, 20]], labels=[3]),
    )
    dets = Instances(image_ids=[1, 1], labels=[3, 3], boxes=[[0, 0, 20, 20], [50, 50, 60, 60]], scores=[0.9, 0.8])
    tags = tide(ds, dets[:1]).tags
    with pytest.raises(ValidationError, match="the tags describe 1 predictions"):
        detection_confusion(ds, dets, tags)
