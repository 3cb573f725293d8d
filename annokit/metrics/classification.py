"""Classification metrics equal to scikit-learn's, from one mergeable state.

State (:class:`ClassificationAccumulator`): the ``(C, C)`` int64 confusion matrix (rows true, columns predicted),
top-k hit counts, an exact sum of per-sample log losses and, per calibration bin, the sample count, the number
correct and an exact sum of confidences. Every metric is a function of that state, so shards merged in any order
give bit-identical results.

Definitions (each equals scikit-learn 1.9 as noted; tested against it):

- ``accuracy`` = ``accuracy_score``; with scores the prediction is ``argmax`` (first maximum).
- ``top_k`` = ``top_k_accuracy_score(labels=range(C))``: the true class is a hit when fewer than ``k`` classes rank
  above it, where a tie ranks the higher class index first (scikit-learn's reversed stable sort).
- ``balanced_accuracy`` = ``balanced_accuracy_score``: mean recall over classes with support.
- per-class ``precision / recall / f1`` and their ``macro / micro / weighted`` means =
  ``precision_recall_fscore_support``: the means run over classes present in ground truth or prediction; a class
  absent from both is excluded (listed in ``excluded``); an undefined ratio counts as ``zero_division`` (0 by
  default, as scikit-learn) in the means and is NaN (``null``) per class.
- ``kappa`` / ``kappa_linear`` / ``kappa_quadratic`` = ``cohen_kappa_score(labels=range(C), weights=...)``: the
  weights use the distance between class indices ``|i - j|`` over all ``C`` classes (scikit-learn's default uses
  positions among the classes present, which shifts the distances when a class is absent).
- ``mcc`` = ``matthews_corrcoef`` (0 when undefined, as scikit-learn).
- ``log_loss`` = ``log_loss(labels=range(C))``: mean of ``-log(clip(p[true], eps, 1 - eps))``, ``eps`` = float64
  machine epsilon; rows are not renormalised.
- ``ece`` / ``mce``: confidence = the maximum score, correct = ``argmax == true``. ``n_bins`` equal-width bins with
  edges ``np.linspace(0, 1, n_bins + 1)``; bin ``b`` holds ``edges[b] < conf <= edges[b + 1]`` (0 goes to bin 0).
  ``ece = sum_b |correct_b - sum_conf_b| / N``; ``mce = max_b |acc_b - mean_conf_b|`` over non-empty bins.

>>> r = classification_metrics([0, 1, 2, 2], [0, 2, 2, 2], num_classes=3)
>>> r.accuracy, r.macro_recall
(0.75, 0.6666666666666666)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from annokit.errors import ValidationError
from annokit.metrics._exact import ExactSum
from annokit.metrics._util import as_int_array, fnone, nan_div

__all__ = [
    "Calibration",
    "ClassificationResult",
    "ClassificationAccumulator",
    "classification_metrics",
    "confusion_matrix",
    "accuracy",
    "top_k_accuracy",
    "balanced_accuracy",
    "precision_recall_f1",
    "cohen_kappa",
    "matthews_corrcoef",
    "log_loss",
    "calibration",
    "calibration_of_confidences",
    "CalibrationBins",
]

_EPS = float(np.finfo(np.float64).eps)

Average = Literal["macro", "micro", "weighted"]
"""How :func:`precision_recall_f1` averages over classes (``None``: no average, per-class arrays)."""
KappaWeights = Literal["linear", "quadratic"]
"""Weights of :func:`cohen_kappa` (``None``: unweighted)."""


@dataclass(frozen=True)
class Calibration:
    """Expected / maximum calibration error and a reliability diagram's data.

    ``edges``: (B+1,) float64; ``count``, ``correct``: (B,) int64; ``mean_confidence``, ``accuracy``: (B,) float64
    (NaN for empty bins).
    """

    ece: float
    mce: float
    edges: np.ndarray
    count: np.ndarray
    correct: np.ndarray
    mean_confidence: np.ndarray
    accuracy: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"ece": fnone(self.ece), "mce": fnone(self.mce), "edges": self.edges.tolist(),
                "count": self.count.tolist(), "correct": self.correct.tolist(),
                "mean_confidence": [fnone(x) for x in self.mean_confidence],
                "accuracy": [fnone(x) for x in self.accuracy]}


@dataclass(frozen=True)
class ClassificationResult:
    """Every classification metric; NaN (``None`` in dicts) where undefined. Arrays are ``(C,)`` unless noted."""

    num_classes: int
    n: int
    confusion: np.ndarray  # (C, C) int64, rows true, columns predicted
    accuracy: float
    top_k: dict[int, float]
    balanced_accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    excluded: tuple[int, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    micro_precision: float
    micro_recall: float
    micro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    kappa: float
    kappa_linear: float
    kappa_quadratic: float
    mcc: float
    log_loss: float
    calibration: Calibration | None = field(default=None)

    @property
    def ece(self) -> float:
        return self.calibration.ece if self.calibration is not None else math.nan

    def metrics_dict(self) -> dict[str, float | None]:
        """Flat summary with stable keys (fractions; ``None`` when undefined)."""
        out: dict[str, float | None] = {"accuracy": fnone(self.accuracy)}
        for k, v in sorted(self.top_k.items()):
            out[f"top{k}"] = fnone(v)
        for key in ("balanced_accuracy", "macro_precision", "macro_recall", "macro_f1", "micro_precision",
                    "micro_recall", "micro_f1", "weighted_precision", "weighted_recall", "weighted_f1", "kappa",
                    "kappa_linear", "kappa_quadratic", "mcc", "log_loss"):
            out[key] = fnone(getattr(self, key))
        out["ece"] = fnone(self.ece)
        out["mce"] = fnone(self.calibration.mce) if self.calibration is not None else None
        out["n"] = self.n
        return out

    def per_class_dict(self, names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        names = list(names) if names is not None else [str(i) for i in range(self.num_classes)]
        ex = set(self.excluded)
        return {names[c]: {"precision": fnone(self.precision[c]), "recall": fnone(self.recall[c]),
                           "f1": fnone(self.f1[c]), "support": int(self.support[c]),
                           "predicted": int(self.confusion[:, c].sum()), "excluded": c in ex}
                for c in range(self.num_classes)}


def _check_labels(y: np.ndarray, c: int, name: str) -> None:
    if y.size and (y.min() < 0 or y.max() >= c):
        bad = int(np.flatnonzero((y < 0) | (y >= c))[0])
        raise ValidationError(f"{name}[{bad}] = {int(y[bad])} is outside 0..{c - 1}")


def _counts(yt: np.ndarray, yp: np.ndarray, c: int) -> np.ndarray:
    """``(c, c)`` int64 confusion counts of two checked-here (N,) int64 label arrays."""
    if yp.shape != yt.shape:
        raise ValidationError(f"y_pred: expected shape {yt.shape}, got {yp.shape}")
    _check_labels(yp, c, "y_pred")
    return np.bincount(yt * c + yp, minlength=c * c).reshape(c, c)


def _scores_2d(scores: Any, name: str = "scores") -> np.ndarray:
    """``scores`` as an (N, C) float64 array with C >= 1, else :class:`ValidationError`."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 1:
        raise ValidationError(f"{name}: expected an (N, C) array of class scores, got shape {s.shape}")
    return s


def _topk_hits(scores: np.ndarray, y_true: np.ndarray, k: int) -> int:
    c = scores.shape[1]
    if k >= c:
        return int(y_true.size)
    st = scores[np.arange(y_true.size), y_true][:, None]
    above = (scores > st).sum(axis=1) + ((scores == st) & (np.arange(c)[None, :] > y_true[:, None])).sum(axis=1)
    return int((above < k).sum())


def _bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)


class ClassificationAccumulator:
    """Mergeable classification state over ``num_classes`` classes ``0 .. C-1``.

    ``update(y_true, y_pred)`` with ``(N,)`` integer labels, or ``update(y_true, scores=S)`` with ``(N, C)`` float
    scores (probabilities for ``log_loss`` / calibration); the prediction is then ``argmax`` unless ``y_pred`` is
    given too. All updates must agree on whether scores are given.
    """

    def __init__(self, num_classes: int, *, top_k: Sequence[int] = (5,), n_bins: int = 15,
                 zero_division: float = 0.0) -> None:
        if num_classes < 1:
            raise ValidationError("num_classes must be >= 1")
        self.num_classes = int(num_classes)
        self.top_ks = tuple(sorted({int(k) for k in top_k}))
        if any(k < 1 for k in self.top_ks):
            raise ValidationError("top_k values must be >= 1")
        self.n_bins = int(n_bins)
        self.zero_division = float(zero_division)
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.has_scores: bool | None = None
        self.topk_hits = dict.fromkeys(self.top_ks, 0)
        self.logloss = ExactSum()
        self.bins = CalibrationBins(n_bins)

    def _same_config(self, other: ClassificationAccumulator) -> None:
        if (self.num_classes, self.top_ks, self.n_bins, self.zero_division) != (
                other.num_classes, other.top_ks, other.n_bins, other.zero_division):
            raise ValidationError("cannot merge accumulators with different settings")

    def update(self, y_true: Any, y_pred: Any = None, *, scores: Any = None) -> ClassificationAccumulator:
        c = self.num_classes
        yt = as_int_array(y_true, "y_true")
        _check_labels(yt, c, "y_true")
        has = scores is not None
        if self.has_scores is not None and self.has_scores != has and yt.size:
            raise ValidationError("all updates must give scores, or none")
        if yt.size:
            self.has_scores = has
        if has:
            s = np.asarray(scores, dtype=np.float64)
            if s.ndim != 2 or s.shape != (yt.size, c):
                raise ValidationError(f"scores: expected shape ({yt.size}, {c}), got {s.shape}")
            if not np.all(np.isfinite(s)):
                raise ValidationError("scores must be finite")
            arg = s.argmax(axis=1) if yt.size else np.zeros(0, dtype=np.int64)
            yp = arg if y_pred is None else as_int_array(y_pred, "y_pred")
        elif y_pred is None:
            raise ValidationError("give y_pred or scores")
        else:
            yp = as_int_array(y_pred, "y_pred")
        self.confusion += _counts(yt, yp, c)
        if has and yt.size:
            for k in self.top_ks:
                self.topk_hits[k] += _topk_hits(s, yt, k)
            p_true = np.clip(s[np.arange(yt.size), yt], _EPS, 1 - _EPS)
            self.logloss.add(-np.log(p_true))
            self.bins.add(s.max(axis=1), arg == yt)
        return self

    def merge(self, other: ClassificationAccumulator) -> ClassificationAccumulator:
        """A new accumulator holding both states (neither input changes)."""
        self._same_config(other)
        if self.has_scores is not None and other.has_scores is not None and self.has_scores != other.has_scores:
            raise ValidationError("cannot merge a state with scores and one without")
        out = ClassificationAccumulator(self.num_classes, top_k=self.top_ks, n_bins=self.n_bins,
                                        zero_division=self.zero_division)
        out.confusion = self.confusion + other.confusion
        out.has_scores = self.has_scores if self.has_scores is not None else other.has_scores
        out.topk_hits = {k: self.topk_hits[k] + other.topk_hits[k] for k in self.top_ks}
        out.logloss = self.logloss.merge(other.logloss)
        out.bins = self.bins.merge(other.bins)
        return out

    def compute(self) -> ClassificationResult:
        """Every metric of the state (definitions in the module docstring)."""
        cm = self.confusion
        n = int(cm.sum())
        tp = np.diag(cm).astype(np.int64)
        true_sum, pred_sum = cm.sum(axis=1), cm.sum(axis=0)
        means = _Means(true_sum, (true_sum + pred_sum) > 0, self.zero_division)
        precision, recall, f1 = nan_div(tp, pred_sum), nan_div(tp, true_sum), nan_div(2 * tp, true_sum + pred_sum)
        tps, ps, ts = int(tp.sum()), int(pred_sum.sum()), int(true_sum.sum())
        rec_sup = recall[true_sum > 0]
        kappas = [_kappa(cm, w) for w in (None, "linear", "quadratic")]
        has = bool(self.has_scores)
        return ClassificationResult(
            num_classes=self.num_classes, n=n, confusion=cm.copy(),
            accuracy=tps / n if n else math.nan,
            top_k={k: (self.topk_hits[k] / n if (has and n) else math.nan) for k in self.top_ks},
            balanced_accuracy=float(np.mean(rec_sup)) if rec_sup.size else math.nan,
            precision=precision, recall=recall, f1=f1, support=true_sum.copy(),
            excluded=tuple(int(i) for i in np.flatnonzero(~means.present)),
            macro_precision=means.macro(precision), macro_recall=means.macro(recall), macro_f1=means.macro(f1),
            micro_precision=means.ratio(tps, ps), micro_recall=means.ratio(tps, ts),
            micro_f1=means.ratio(2 * tps, ps + ts),
            weighted_precision=means.weighted(precision), weighted_recall=means.weighted(recall),
            weighted_f1=means.weighted(f1),
            kappa=kappas[0], kappa_linear=kappas[1], kappa_quadratic=kappas[2], mcc=_mcc(cm),
            log_loss=self.logloss.value() / n if (has and n) else math.nan,
            calibration=self.calibration() if has else None,
        )

    def calibration(self) -> Calibration:
        """Expected / maximum calibration error and reliability data of the scores seen so far."""
        return self.bins.calibration()


class CalibrationBins:
    """Mergeable calibration state: per equal-width confidence bin (module docstring) the sample count, the
    number correct and an exact sum of confidences. The one reliability binning of annokit
    (:func:`annokit.viz.reliability_bins` reads it too)."""

    def __init__(self, n_bins: int) -> None:
        if n_bins < 1:
            raise ValidationError("n_bins must be >= 1")
        self.n_bins = int(n_bins)
        self.count = np.zeros(n_bins, dtype=np.int64)
        self.correct = np.zeros(n_bins, dtype=np.int64)
        self.conf = [ExactSum() for _ in range(n_bins)]

    def add(self, confidence: np.ndarray, correct: np.ndarray) -> CalibrationBins:
        """Count (N,) confidences with their (N,) correct flags."""
        b = _bin_index(confidence, self.n_bins)
        self.count += np.bincount(b, minlength=self.n_bins)
        self.correct += np.bincount(b[correct], minlength=self.n_bins)
        order = np.argsort(b, kind="stable")
        bs, cs = b[order], confidence[order]
        for j in np.unique(bs).tolist():
            lo, hi = np.searchsorted(bs, [j, j + 1])
            self.conf[j].add(cs[lo:hi])
        return self

    def merge(self, other: CalibrationBins) -> CalibrationBins:
        """A new state holding both (neither input changes)."""
        if self.n_bins != other.n_bins:
            raise ValidationError("cannot merge calibration bins of different counts")
        out = CalibrationBins(self.n_bins)
        out.count, out.correct = self.count + other.count, self.correct + other.correct
        out.conf = [a.merge(b) for a, b in zip(self.conf, other.conf)]
        return out

    def calibration(self) -> Calibration:
        """ECE (exact, rounded once), MCE and the per-bin data; NaN without samples."""
        n = int(self.count.sum())
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        mean_conf = nan_div(np.array([b.value() for b in self.conf]), self.count)
        acc = nan_div(self.correct, self.count)
        if n == 0:
            return Calibration(math.nan, math.nan, edges, self.count.copy(), self.correct.copy(), mean_conf, acc)
        ece_fr = Fraction(0)
        for j in np.flatnonzero(self.count).tolist():
            ece_fr += abs(Fraction(int(self.correct[j])) - self.conf[j].fraction())
        nonempty = self.count > 0
        mce = float(np.max(np.abs(acc[nonempty] - mean_conf[nonempty])))
        return Calibration(float(ece_fr / n), mce, edges, self.count.copy(), self.correct.copy(), mean_conf, acc)


def calibration_of_confidences(confidence: Any, correct: Any, *, n_bins: int = 15) -> Calibration:
    """ECE / MCE and reliability data of (N,) confidences in [0, 1] and their (N,) correct flags (e.g. detection
    scores and whether each detection is a true positive), with the binning of the module docstring.

    Examples
    --------
    >>> c = calibration_of_confidences([0.9, 0.8, 0.3], [True, False, True], n_bins=10)
    >>> round(c.ece, 4), c.count[8:].tolist()
    (0.5333, [1, 0])
    """
    conf = np.asarray(confidence, dtype=np.float64).reshape(-1)
    ok = np.asarray(correct).reshape(-1)
    if conf.shape != ok.shape:
        raise ValidationError(f"correct: expected {conf.size} flags, got {ok.size}")
    if not np.all(np.isfinite(conf)):
        raise ValidationError("confidence must be finite")
    return CalibrationBins(n_bins).add(conf, ok.astype(bool)).calibration()


@dataclass(frozen=True)
class _Means:
    """scikit-learn's averages of per-class values: over the classes ``present`` in ground truth or prediction,
    an undefined (NaN) value counting as ``zero_division`` (left out when that is NaN too)."""

    true_sum: np.ndarray
    present: np.ndarray
    zero_division: float

    def macro(self, x: np.ndarray) -> float:
        v = x[self.present]
        if v.size == 0:
            return math.nan
        if math.isnan(self.zero_division):
            v = v[~np.isnan(v)]
            return float(np.mean(v)) if v.size else math.nan
        return float(np.mean(np.where(np.isnan(v), self.zero_division, v)))

    def weighted(self, x: np.ndarray) -> float:
        w = self.true_sum[self.present]
        v = x[self.present]
        if w.sum() == 0:
            return self.zero_division
        if math.isnan(self.zero_division):
            keep = ~np.isnan(v)
            return float(np.average(v[keep], weights=w[keep])) if w[keep].sum() else math.nan
        return float(np.average(np.where(np.isnan(v), self.zero_division, v), weights=w))

    def ratio(self, a: int, b: int) -> float:
        return a / b if b else self.zero_division


def _kappa(cm: np.ndarray, weights: KappaWeights | None) -> float:
    c = cm.shape[0]
    cmf = cm.astype(np.float64)
    sum0 = cmf.sum(axis=0)
    sum1 = cmf.sum(axis=1)
    total = sum0.sum()
    if total == 0:
        return math.nan
    expected = np.outer(sum0, sum1) / total
    if weights is None:
        w = np.ones((c, c))
        w.flat[:: c + 1] = 0
    else:
        idx = np.arange(c, dtype=np.float64)
        d = idx[None, :] - idx[:, None]
        w = np.abs(d) if weights == "linear" else d ** 2
    den = float(np.sum(w * expected))
    if den == 0:
        return math.nan
    return 1.0 - float(np.sum(w * cmf)) / den


def _mcc(cm: np.ndarray) -> float:
    t = [int(x) for x in cm.sum(axis=1)]
    p = [int(x) for x in cm.sum(axis=0)]
    nc = int(np.trace(cm))
    ns = sum(p)
    cov_tp = nc * ns - sum(a * b for a, b in zip(t, p))
    cov_pp = ns * ns - sum(a * a for a in p)
    cov_tt = ns * ns - sum(a * a for a in t)
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / math.sqrt(float(cov_pp) * float(cov_tt)))


# --------------------------------------------------------------------------- pure functions


def classification_metrics(y_true: Any, y_pred: Any = None, *, scores: Any = None, num_classes: int | None = None,
                           top_k: Sequence[int] = (5,), n_bins: int = 15,
                           zero_division: float = 0.0) -> ClassificationResult:
    """Every metric at once. ``y_true``: (N,) int; ``y_pred``: (N,) int and/or ``scores``: (N, C) float."""
    if scores is not None:
        scores = _scores_2d(scores)
    elif y_pred is None:
        raise ValidationError("give y_pred or scores")
    if num_classes is None:
        if scores is not None:
            num_classes = int(scores.shape[1])
        else:
            yt = as_int_array(y_true, "y_true")
            yp = as_int_array(y_pred, "y_pred")
            num_classes = int(max(yt.max(initial=-1), yp.max(initial=-1))) + 1 or 1
    acc = ClassificationAccumulator(num_classes, top_k=top_k, n_bins=n_bins, zero_division=zero_division)
    return acc.update(y_true, y_pred, scores=scores).compute()


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts, rows true class, columns predicted: ``sklearn.metrics.confusion_matrix(y_true,
    y_pred, labels=range(C))``.

    The one confusion matrix of annokit (:mod:`annokit.analysis.confusion` builds the semantic and detection ones
    on it). Counts add across shards: ``cm(a) + cm(b) == cm(a + b)``.

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices ``0 .. num_classes - 1``; a value outside that range is a :class:`ValidationError`.
    num_classes : int
        ``C``.

    Returns
    -------
    (C, C) int64 array

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2).tolist()
    [[1, 0], [1, 1]]
    """
    if num_classes < 1:
        raise ValidationError(f"num_classes must be >= 1, got {num_classes}")
    yt = as_int_array(y_true, "y_true")
    _check_labels(yt, num_classes, "y_true")
    return _counts(yt, as_int_array(y_pred, "y_pred"), int(num_classes))


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of ``y_pred == y_true`` (NaN for no samples)."""
    yt = as_int_array(y_true, "y_true")
    yp = as_int_array(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise ValidationError(f"y_pred: expected shape {yt.shape}, got {yp.shape}")
    return float((yt == yp).sum()) / yt.size if yt.size else math.nan


def top_k_accuracy(y_true: Any, scores: Any, k: int = 5) -> float:
    """``sklearn.metrics.top_k_accuracy_score(y_true, scores, k=k, labels=range(C))`` for (N, C) scores."""
    s = _scores_2d(scores)
    return classification_metrics(y_true, scores=s, num_classes=s.shape[1], top_k=(k,)).top_k[k]


def balanced_accuracy(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """``sklearn.metrics.balanced_accuracy_score``."""
    return classification_metrics(y_true, y_pred, num_classes=num_classes, top_k=(1,)).balanced_accuracy


def precision_recall_f1(y_true: Any, y_pred: Any, num_classes: int | None = None, *,
                        average: Average | None = None, zero_division: float = 0.0) -> tuple[Any, Any, Any]:
    """Per-class ``(C,)`` arrays (``average=None``, NaN where undefined) or the ``macro`` / ``micro`` /
    ``weighted`` means, as ``sklearn.metrics.precision_recall_fscore_support``."""
    r = classification_metrics(y_true, y_pred, num_classes=num_classes, top_k=(1,), zero_division=zero_division)
    if average is None:
        return r.precision, r.recall, r.f1
    if average not in ("macro", "micro", "weighted"):
        raise ValidationError(f"average must be None, 'macro', 'micro' or 'weighted', got {average!r}")
    return (getattr(r, f"{average}_precision"), getattr(r, f"{average}_recall"), getattr(r, f"{average}_f1"))


def cohen_kappa(y_true: Any, y_pred: Any, num_classes: int | None = None, *,
                weights: KappaWeights | None = None) -> float:
    """``sklearn.metrics.cohen_kappa_score(labels=range(C), weights=weights)``; weights None/'linear'/'quadratic'."""
    if weights not in (None, "linear", "quadratic"):
        raise ValidationError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    r = classification_metrics(y_true, y_pred, num_classes=num_classes, top_k=(1,))
    return {None: r.kappa, "linear": r.kappa_linear, "quadratic": r.kappa_quadratic}[weights]


def matthews_corrcoef(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """``sklearn.metrics.matthews_corrcoef`` (multiclass form; 0 when undefined)."""
    return classification_metrics(y_true, y_pred, num_classes=num_classes, top_k=(1,)).mcc


def log_loss(y_true: Any, probs: Any) -> float:
    """``sklearn.metrics.log_loss(y_true, probs, labels=range(C))`` for (N, C) probabilities."""
    p = _scores_2d(probs, "probs")
    return classification_metrics(y_true, scores=p, num_classes=p.shape[1], top_k=(1,)).log_loss


def calibration(y_true: Any, probs: Any, *, n_bins: int = 15) -> Calibration:
    """ECE / MCE and reliability data for (N, C) probabilities (binning in the module docstring)."""
    p = _scores_2d(probs, "probs")
    return ClassificationAccumulator(p.shape[1], top_k=(1,), n_bins=n_bins).update(y_true, scores=p).calibration()
