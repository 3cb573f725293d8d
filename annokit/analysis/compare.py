"""Comparing models' COCO evaluations on one ground truth, with paired bootstrap confidence intervals.

Every model is evaluated once (:class:`~annokit.metrics.coco.COCOAccumulator`: the numbers ``annokit eval``
prints). The *delta* of a metric is ``model - baseline`` (the baseline is the first model), the difference of the
two evaluations. Its interval comes from a *paired bootstrap over images*: ``B`` resamples each draw the ``I``
evaluated images ``I`` times with replacement (numpy's ``default_rng(seed)``, resample after resample, so a seed
gives the same resamples on any machine), every model is scored on the *same* resamples, and the delta of each
resample is the difference of the two models' numbers on it. A resample's numbers are those of a COCO evaluation
of the resampled dataset (each drawn image counted as often as it is drawn), read off the match records
(:mod:`annokit.analysis.bootstrap`: nothing is matched again).

- ``ci95``: the 2.5th and 97.5th percentiles of the resampled deltas (numpy's default linear interpolation),
  over the resamples where both numbers are defined;
- ``p``: the two-sided bootstrap p-value ``min(1, 2 * min(P*(d <= 0), P*(d >= 0)))``, ``P*`` the share of those
  resamples: small when nearly every resample agrees on the sign of the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.progress import Progress
from annokit.errors import ValidationError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.metrics.coco import COCOAccumulator, COCOParams, COCOResult

__all__ = ["CocoComparison", "compare_coco", "delta_entry", "paired_bootstrap"]

PER_CLASS_KEYS = ("AP", "AP50")
"""The per-class numbers compared (area ``all``, the last maxDets), with intervals."""


def _none(v: float) -> float | None:
    return None if not np.isfinite(v) or v == -1 else float(v)


def delta_entry(values: dict[str, float | None], names: Sequence[str], boot: np.ndarray | None) -> dict[str, Any]:
    """``{name: value, ..., "delta", "ci95", "p"}`` of one metric: ``delta`` is ``values[names[1]] -
    values[names[0]]``; ``boot`` ``(len(names), B)`` the resamples' numbers (NaN where undefined; None: no
    bootstrap, interval and p are None). With more than two models, ``"vs"`` holds ``{name: {"delta", "ci95",
    "p"}}`` of every model after the first against it.

    Examples
    --------
    >>> boot = np.array([[0.5, 0.4, 0.6, 0.5], [0.6, 0.6, 0.7, 0.55]])
    >>> delta_entry({"a": 0.5, "b": 0.6}, ["a", "b"], boot)["p"]
    0.0
    """
    out: dict[str, Any] = {n: values[n] for n in names}
    pairs = {n: _pair(values[names[0]], values[n], None if boot is None else boot[[0, j]])
             for j, n in enumerate(names) if j > 0}
    if len(names) > 1:
        out.update(pairs[names[1]])
    if len(names) > 2:
        out["vs"] = pairs
    return out


def _pair(base: float | None, other: float | None, boot: np.ndarray | None) -> dict[str, Any]:
    """Delta, interval and p-value of ``other`` against ``base`` (``boot`` ``(2, B)``)."""
    delta = None if base is None or other is None else other - base
    if boot is None:
        return {"delta": delta, "ci95": None, "p": None}
    d = boot[1] - boot[0]
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return {"delta": delta, "ci95": None, "p": None}
    lo, hi = np.percentile(d, [2.5, 97.5])
    p = min(1.0, 2.0 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
    return {"delta": delta, "ci95": [float(lo), float(hi)], "p": p}


@dataclass(frozen=True)
class CocoComparison:
    """Models' COCO evaluations and, with a bootstrap, their resampled numbers.

    ``names``; ``results``: one :class:`COCOResult` per model; ``keys``: the metric keys (``metrics_dict``'s);
    ``boot_metrics`` ``(M, B, len(keys))`` and ``boot_per_class`` ``(M, B, K, 2)`` (AP, AP50 of every category of
    ``results[0].cat_names``), NaN where undefined, or None without a bootstrap; ``n_bootstrap``, ``seed``,
    ``n_images``.
    """

    names: tuple[str, ...]
    results: tuple[COCOResult, ...]
    keys: tuple[str, ...]
    boot_metrics: np.ndarray | None
    boot_per_class: np.ndarray | None
    n_bootstrap: int
    seed: int
    n_images: int

    def metrics(self) -> dict[str, dict[str, Any]]:
        """``{metric: delta_entry}`` for every key of ``metrics_dict``."""
        md = [r.metrics_dict() for r in self.results]
        out = {}
        for j, key in enumerate(self.keys):
            boot = None if self.boot_metrics is None else self.boot_metrics[:, :, j]
            out[key] = delta_entry({n: m.get(key) for n, m in zip(self.names, md)}, self.names, boot)
        return out

    def per_class(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{class name: {"AP": delta_entry, "AP50": delta_entry}}`` (area all, last maxDets), in category
        order."""
        pcs = [r.per_class_dict() for r in self.results]
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for k, name in enumerate(self.results[0].cat_names):
            out[name] = {}
            for c, key in enumerate(PER_CLASS_KEYS):
                boot = None if self.boot_per_class is None else self.boot_per_class[:, :, k, c]
                out[name][key] = delta_entry({n: pc[name][key] for n, pc in zip(self.names, pcs)}, self.names, boot)
        return out


def _check_names(preds: Sequence[Instances], names: Sequence[str] | None) -> tuple[str, ...]:
    """The models' names (default ``a, b, c, ...``): as many as models, distinct, at least two models."""
    if len(preds) < 2:
        raise ValidationError(f"compare: needs two models or more, got {len(preds)}")
    out = tuple(names) if names is not None else tuple(_default_name(i) for i in range(len(preds)))
    if len(out) != len(preds):
        raise ValidationError(f"compare: {len(out)} names for {len(preds)} models")
    if len(set(out)) != len(out) or any(not n for n in out):
        raise ValidationError(f"compare: model names must be distinct and not empty, got {list(out)}")
    return out


def _default_name(i: int) -> str:
    """``a .. z``, then ``m27, m28, ...``."""
    return chr(ord("a") + i) if i < 26 else f"m{i + 1}"


def paired_bootstrap(accs: Sequence[COCOAccumulator], n: int, *, seed: int = 0, chunk: int = 64,
                     progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of every model on the same ``n`` resamples of the images: ``(M, n, keys)`` metrics and
    ``(M, n, K, 2)`` per-class AP / AP50 (:class:`~annokit.analysis.bootstrap.ResamplePlan`). The accumulators
    must evaluate the same images and categories."""
    from annokit.analysis.bootstrap import ResamplePlan, iter_counts

    states = [a.match_state() for a in accs]
    f0 = states[0].frame
    for st in states[1:]:
        if not (np.array_equal(st.frame.img_ids, f0.img_ids) and np.array_equal(st.frame.cat_ids, f0.cat_ids)):
            raise ValidationError("compare: the models must be evaluated on the same images and categories")
    chunks = list(iter_counts(len(f0.img_ids), n, seed=seed, chunk=chunk))
    top = max((int(c.max()) for c in chunks if c.size), default=1)
    plans = [ResamplePlan(st, max_copies=top) for st in states]
    metrics, per_class = [], []
    for i, counts in enumerate(chunks):
        vals = [p.values(counts) for p in plans]
        metrics.append(np.stack([v.metrics for v in vals]))
        per_class.append(np.stack([v.per_class for v in vals]))
        if progress is not None:
            progress("bootstrap", min((i + 1) * chunk, n), n)
    K = len(f0.cat_ids)
    if not chunks:
        return np.zeros((len(accs), 0, len(plans[0].keys))), np.zeros((len(accs), 0, K, 2))
    return np.concatenate(metrics, axis=1), np.concatenate(per_class, axis=1)


def compare_coco(gt: Dataset, preds: Sequence[Instances], *, names: Sequence[str] | None = None,
                 params: COCOParams | None = None, fixed: bool = False, bootstrap: int = 1000, seed: int = 0,
                 progress: Progress | None = None) -> tuple[CocoComparison, list[COCOAccumulator]]:
    """Evaluate every model of ``preds`` on ``gt`` and bootstrap the differences (see the module docstring).

    Parameters
    ----------
    gt : Dataset
        Ground truth.
    preds : sequence of Instances
        Each model's detections (with scores); the first is the baseline.
    names : sequence of str, optional
        The models' names (default ``a``, ``b``, ...).
    params : COCOParams, optional
        Evaluation parameters (default: pycocotools').
    fixed : bool
        Fix pycocotools' known defects (docs/coco-eval.md).
    bootstrap : int
        Number of resamples (0: deltas without intervals).
    seed : int
        Seed of the resamples.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    (CocoComparison, list of COCOAccumulator)
        The comparison and each model's accumulator (for sliced evaluation).

    Examples
    --------
    >>> import annokit
    >>> from annokit.io.coco import read_results
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> a = read_results("sample_data/scenes/pred.json", gt)
    >>> b = a[a.scores >= 0.3]
    >>> cmp, _ = compare_coco(gt, [a, b], bootstrap=200, seed=0)
    >>> m = cmp.metrics()["AP"]
    >>> round(m["delta"], 4) == round(m["b"] - m["a"], 4), len(m["ci95"])
    (True, 2)
    """
    from annokit.metrics.coco import COCOAccumulator

    labels = _check_names(preds, names)
    if bootstrap < 0:
        raise ValidationError(f"compare: bootstrap must be >= 0, got {bootstrap}")
    accs = []
    for i, dets in enumerate(preds):
        accs.append(COCOAccumulator(gt, params=params, fixed=fixed).update(dets))
        if progress is not None:
            progress("evaluate", i + 1, len(preds))
    results = tuple(a.compute() for a in accs)
    keys = tuple(results[0].metrics_dict())
    boot_m, boot_c = paired_bootstrap(accs, bootstrap, seed=seed, progress=progress) if bootstrap else (None, None)
    cmp = CocoComparison(names=labels, results=results, keys=keys, boot_metrics=boot_m, boot_per_class=boot_c,
                         n_bootstrap=bootstrap, seed=seed, n_images=len(accs[0].match_state().frame.img_ids))
    return cmp, accs
