"""Classification metrics against scikit-learn as the oracle, edge cases, and exact shard merges."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit.errors import AnnokitError
from annokit.metrics.classification import (
    ClassificationAccumulator,
    accuracy,
    calibration,
    classification_metrics,
    cohen_kappa,
    confusion_matrix,
    log_loss,
    precision_recall_f1,
    top_k_accuracy,
)

skm = pytest.importorskip("sklearn.metrics")
TOL = 1e-9


def _data(seed: int, n: int, c: int, *, drop: int | None = None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 2.0 * np.eye(c)[y] * rng.random((n, 1))
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    if drop is not None:  # a class absent from both truth and prediction
        keep = (y != drop) & (p.argmax(1) != drop)
        y, p = y[keep], p[keep]
    return y, p


@pytest.mark.parametrize("seed,n,c,drop", [(0, 200, 5, None), (1, 57, 3, None), (2, 400, 7, 3), (3, 30, 10, None)])
def test_against_sklearn(seed, n, c, drop):
    y, p = _data(seed, n, c, drop=drop)
    yp = p.argmax(1)
    r = classification_metrics(y, scores=p, num_classes=c, top_k=(1, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert r.accuracy == pytest.approx(skm.accuracy_score(y, yp), abs=TOL)
        for k in (1, 2, 3):
            assert r.top_k[k] == pytest.approx(skm.top_k_accuracy_score(y, p, k=k, labels=range(c)), abs=TOL)
        assert r.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, yp), abs=TOL)
        for avg in ("macro", "micro", "weighted"):
            pr, rc, f, _ = skm.precision_recall_fscore_support(y, yp, average=avg)
            assert getattr(r, f"{avg}_precision") == pytest.approx(pr, abs=TOL)
            assert getattr(r, f"{avg}_recall") == pytest.approx(rc, abs=TOL)
            assert getattr(r, f"{avg}_f1") == pytest.approx(f, abs=TOL)
        pr, rc, f, sup = skm.precision_recall_fscore_support(y, yp, labels=range(c), average=None)
        present = sup + np.bincount(yp, minlength=c) > 0
        np.testing.assert_allclose(np.nan_to_num(r.precision)[present], pr[present], atol=TOL)
        np.testing.assert_allclose(np.nan_to_num(r.recall)[present], rc[present], atol=TOL)
        np.testing.assert_allclose(np.nan_to_num(r.f1)[present], f[present], atol=TOL)
        np.testing.assert_array_equal(r.support, sup)
        np.testing.assert_array_equal(r.confusion, skm.confusion_matrix(y, yp, labels=range(c)))
        for w, got in ((None, r.kappa), ("linear", r.kappa_linear), ("quadratic", r.kappa_quadratic)):
            assert got == pytest.approx(skm.cohen_kappa_score(y, yp, labels=range(c), weights=w), abs=TOL)
        assert r.mcc == pytest.approx(skm.matthews_corrcoef(y, yp), abs=TOL)
        assert r.log_loss == pytest.approx(skm.log_loss(y, p, labels=range(c)), abs=TOL)
    assert r.excluded == ((drop,) if drop is not None else ())


def test_topk_ties_follow_sklearn():
    s = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]])
    y = np.array([0, 1, 0])
    for k in (1, 2, 3):
        assert top_k_accuracy(y, s, k=k) == skm.top_k_accuracy_score(y, s, k=k, labels=range(3))


def test_log_loss_clips_like_sklearn():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])
    y = np.array([1, 1, 0])
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p), abs=TOL)


def test_degenerate_values():
    r = classification_metrics([0, 0, 0], [0, 0, 0], num_classes=3)
    assert r.accuracy == 1.0 and r.mcc == 0.0 and np.isnan(r.kappa)
    assert r.excluded == (1, 2)
    assert r.macro_f1 == 1.0 and np.isnan(r.precision[1])
    assert r.metrics_dict()["kappa"] is None and r.metrics_dict()["log_loss"] is None
    # a class only predicted: precision 0, recall undefined -> counts as 0 in the macro mean (sklearn)
    r = classification_metrics([0, 0], [0, 1], num_classes=2)
    want = skm.recall_score([0, 0], [0, 1], average="macro", zero_division=0)
    assert np.isnan(r.recall[1]) and r.macro_recall == 0.25 == want
    empty = ClassificationAccumulator(3).compute()
    assert empty.n == 0 and empty.metrics_dict()["accuracy"] is None


def test_weighted_kappa_uses_class_index_distance():
    y, yp = [0, 2, 2, 0], [2, 2, 0, 0]  # class 1 absent: sklearn's default would treat 0 and 2 as neighbours
    assert cohen_kappa(y, yp, 3, weights="quadratic") == pytest.approx(
        skm.cohen_kappa_score(y, yp, labels=[0, 1, 2], weights="quadratic"), abs=TOL)


def test_ece_hand_checked():
    # 10 bins; confidences 0.95 (correct), 0.95 (wrong), 0.55 (correct), 0.3 exactly (-> bin (0.2, 0.3])
    p = np.array([[0.95, 0.05], [0.95, 0.05], [0.45, 0.55], [0.3, 0.3]])
    y = np.array([0, 1, 1, 0])
    cal = calibration(y, p, n_bins=10)
    assert cal.count.tolist() == [0, 0, 1, 0, 0, 1, 0, 0, 0, 2]
    # bins: 0.3 -> |1 - 0.3|; 0.55 -> |1 - 0.55|; 0.95 x2 -> |1 - 1.9|
    assert cal.ece == pytest.approx((0.7 + 0.45 + 0.9) / 4, abs=1e-15)
    assert cal.mce == pytest.approx(0.7, abs=1e-15)
    assert cal.accuracy[9] == 0.5 and cal.mean_confidence[9] == pytest.approx(0.95)


def test_confusion_matrix_equals_sklearn_and_adds_across_shards():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    cm = confusion_matrix(t, p, num_classes=5)
    assert cm.dtype == np.int64 and (cm == skm.confusion_matrix(t, p, labels=range(5))).all()
    assert (confusion_matrix(t[:100], p[:100], 5) + confusion_matrix(t[100:], p[100:], 5) == cm).all()
    assert (confusion_matrix(t, p, 7)[:5, :5] == cm).all()  # classes absent from both: zero rows and columns


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: classification_metrics([0, 5], [0, 1], num_classes=3), r"y_true\[1\] = 5 is outside 0..2"),
        (lambda: ClassificationAccumulator(3).update([0, 1], scores=np.ones((2, 2))), "scores: expected shape"),
        (lambda: classification_metrics([0, 1]), "give y_pred or scores"),
        (lambda: classification_metrics([0, 1], scores=[0.2, 0.8]), r"scores: expected an \(N, C\) array"),
        (lambda: classification_metrics([[0, 1]], [[0, 1]]), "y_true: expected a 1-d array"),
        (lambda: classification_metrics(["a", "b"], [0, 1]), "expected integer labels"),
        (lambda: confusion_matrix([0, 1], [0, 3], 2), r"y_pred\[1\] = 3 is outside 0..1"),
        (lambda: confusion_matrix([0, -1], [0, 1], 2), r"y_true\[1\] = -1"),
        (lambda: confusion_matrix([0, 1], [0], 2), "y_pred: expected shape"),
        (lambda: confusion_matrix([0], [0], 0), "num_classes must be >= 1"),
        (lambda: accuracy([0, 1], [0]), "y_pred: expected shape"),
        (lambda: top_k_accuracy([0, 1], [0.5, 0.5]), r"scores: expected an \(N, C\) array"),
        (lambda: log_loss([0, 1], [0.5, 0.5]), r"probs: expected an \(N, C\) array"),
        (lambda: calibration([0], [[np.nan, 1.0]]), "scores must be finite"),
        (lambda: precision_recall_f1([0], [0], average="mean"), "average must be"),
        (lambda: cohen_kappa([0], [0], weights="cubic"), "weights must be"),
        (lambda: ClassificationAccumulator(0), "num_classes must be >= 1"),
        (lambda: ClassificationAccumulator(2, top_k=(0,)), "top_k values must be >= 1"),
        (lambda: ClassificationAccumulator(2).merge(ClassificationAccumulator(3)), "different settings"),
        (lambda: ClassificationAccumulator(2).update([0], [0]).update([1], scores=[[0.0, 1.0]]),
         "all updates must give scores, or none"),
    ],
)
def test_bad_input_is_an_annokit_error(call, message):
    with pytest.raises(AnnokitError, match=message):
        call()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 120), max_size=4))
def test_merge_of_shards_equals_single_pass(seed, cuts):
    y, p = _data(seed, 120, 4)
    whole = ClassificationAccumulator(4, top_k=(1, 2)).update(y, scores=p).compute()
    bounds = [0, *sorted(cuts), 120]
    parts = [ClassificationAccumulator(4, top_k=(1, 2)).update(y[a:b], scores=p[a:b])
             for a, b in zip(bounds[:-1], bounds[1:])]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(parts))
    acc = parts[order[0]]
    for i in order[1:]:
        acc = acc.merge(parts[i])
    merged = acc.compute()
    assert merged.metrics_dict() == whole.metrics_dict()
    assert merged.per_class_dict() == whole.per_class_dict()
    assert merged.calibration.to_dict() == whole.calibration.to_dict()
