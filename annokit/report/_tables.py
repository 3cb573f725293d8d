"""The tables of the report, computed from the matching (private to :mod:`annokit.report`): per class, per image,
the top class confusions and the two means of TIDE's AP. Everything is vectorised over classes, so a label set of
20,000 classes costs what its objects cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from annokit.analysis.tide import ERROR_TYPES, ObjectTags, TideResult
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances

if TYPE_CHECKING:
    from annokit.metrics.coco import COCOResult
    from annokit.report.build import Outcome

__all__ = ["TideMeans", "per_class_rows", "per_image_counts", "top_confusions", "worst_images"]

TideMean = Literal["tidecv", "coco"]


@dataclass(frozen=True)
class TideMeans:
    """TIDE's mAP under both rules for classes without ground truth: ``rule`` is the one used on the page
    (``tidecv``: a class with predictions but no ground truth counts as AP 0; ``coco``: it is left out of the mean,
    as COCO does); ``tidecv`` and ``coco`` the two values (points); ``without_gt`` the ids of the classes with
    evaluated predictions but no (non-crowd) ground truth."""

    rule: TideMean
    tidecv: float
    coco: float
    without_gt: list[int]

    @classmethod
    def of(cls, tr: TideResult, gt: Dataset, dets: Instances, rule: TideMean) -> TideMeans:
        """Both means from the per-class APs of ``tr`` (computed with ``rule``): the per-class values are the
        same under both rules, only the classes averaged differ."""
        g = gt.annotations
        with_gt = set(np.unique(g.labels[~g.iscrowd]).tolist())
        predicted = set(np.unique(dets.labels[tr.tags.pred_status <= 1]).tolist())
        without = sorted(predicted - with_gt)
        vals = [v for k, v in tr.per_class_ap.items() if k in with_gt]
        coco = float(np.mean(vals)) if vals else float("nan")
        n = len(vals) + len(without)
        tidecv = float(np.sum(vals) / n) if n else float("nan")
        return cls(rule, tidecv, coco, without)

    def to_dict(self, names: dict[int, str]) -> dict[str, Any]:
        """The JSON of ``report.json``'s ``tide_mean``."""
        return {"rule": self.rule, "tidecv": self.tidecv, "coco": self.coco,
                "classes_without_gt": [names.get(c, str(c)) for c in self.without_gt]}


def _count_by(pos: np.ndarray, sel: np.ndarray, k: int) -> np.ndarray:
    """(k,) int64: how many rows of ``sel`` have each position (rows at -1 left out)."""
    p = pos[sel & (pos >= 0)]
    return np.bincount(p, minlength=k).astype(np.int64)


def _error_counts(gt: Dataset, dets: Instances, tags: ObjectTags) -> np.ndarray:
    """(K, 6) int64 TIDE errors per category position and type, as TIDE counts them: false positives by predicted
    class, misses by ground-truth class."""
    cats = gt.categories
    p_cpos = cats.index_of(dets.labels)
    g_cpos = cats.index_of(gt.annotations.labels)
    counts = np.zeros((len(cats), len(ERROR_TYPES)), dtype=np.int64)
    has_err = (tags.pred_error > 0) & (tags.pred_status >= 1) & (tags.pred_status <= 2) & (p_cpos >= 0)
    np.add.at(counts, (p_cpos[has_err], tags.pred_error[has_err].astype(np.int64) - 1), 1)
    miss = (tags.gt_error == len(ERROR_TYPES)) & (g_cpos >= 0)
    np.add.at(counts, (g_cpos[miss], len(ERROR_TYPES) - 1), 1)
    return counts


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def per_class_rows(gt: Dataset, dets: Instances, tr: TideResult, o: Outcome,
                   coco: COCOResult | None) -> list[dict[str, Any]]:
    """One row per category (in the label set's order): counts, TIDE AP50, TP / FP / FN and precision / recall at
    the threshold, TIDE errors per type and (with COCO metrics) AP, AP50, AP75."""
    g, cats = gt.annotations, gt.categories
    k = len(cats)
    gpos, ppos = cats.index_of(g.labels), cats.index_of(dets.labels)
    every_p = np.ones(len(dets), dtype=bool)
    n_gt, n_pred = _count_by(gpos, ~g.iscrowd, k), _count_by(ppos, every_p, k)
    tp, fp, fn = _count_by(ppos, o.tp, k), _count_by(ppos, o.fp, k), _count_by(gpos, o.fn, k)
    err = _error_counts(gt, dets, tr.tags)
    coco_ap = _coco_columns(coco)
    rows: list[dict[str, Any]] = []
    for i, (cid, name) in enumerate(zip(cats.ids.tolist(), cats.names)):
        a, b, c = int(tp[i]), int(fp[i]), int(fn[i])
        row: dict[str, Any] = {
            "category_id": cid, "name": name, "ground_truth": int(n_gt[i]), "predictions": int(n_pred[i]),
            "tide_ap50": tr.per_class_ap.get(cid), "tp": a, "fp": b, "fn": c, "precision": _ratio(a, a + b),
            "recall": _ratio(a, a + c), "errors": dict(zip(ERROR_TYPES, err[i].tolist())),
        }
        row.update(coco_ap.get(cid, {}))
        rows.append(row)
    return rows


def _coco_columns(coco: COCOResult | None) -> dict[int, dict[str, float | None]]:
    """``{category id: {"AP", "AP50", "AP75"}}`` of the COCO result (empty without one)."""
    if coco is None:
        return {}
    out = {}
    for cid, e in zip(coco.cat_ids.tolist(), coco.per_class_dict().values()):
        out[int(cid)] = {"AP": e.get("AP"), "AP50": e.get("AP50"), "AP75": e.get("AP75")}
    return out


def worst_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-class rows sorted worst first: by COCO AP (TIDE AP50 without it), ascending; classes without a
    defined AP (no ground truth) last, those with predictions first among them; ties by name."""
    def key(row: dict[str, Any]) -> tuple[int, float, int, str]:
        v = row.get("AP", row.get("tide_ap50") if "AP" not in row else None)
        if v is None or row["ground_truth"] == 0:
            return (1, 0.0, -row["predictions"], row["name"])
        return (0, float(v), 0, row["name"])

    return sorted(rows, key=key)


def per_image_counts(gt: Dataset, dets: Instances, o: Outcome) -> dict[str, np.ndarray]:
    """``{"image_ids", "tp", "fp", "fn"}``: (K,) counts per image of ``gt`` at the threshold."""
    n_img = len(gt.images)
    pi = gt.images.index_of(dets.image_ids)
    gi = gt.images.index_of(gt.annotations.image_ids)
    return {"image_ids": gt.images.ids.copy(), "tp": _count_by(pi, o.tp, n_img), "fp": _count_by(pi, o.fp, n_img),
            "fn": _count_by(gi, o.fn, n_img)}


def worst_images(per_image: dict[str, np.ndarray], n: int) -> list[int]:
    """The ids of the ``n`` images with the most FP + FN (ties: image order; images without errors left out)."""
    bad = per_image["fp"] + per_image["fn"]
    order = np.lexsort((np.arange(len(bad)), -bad))
    return [int(per_image["image_ids"][i]) for i in order[:n] if bad[i] > 0]


def top_confusions(gt: Dataset, dets: Instances, tags: ObjectTags, threshold: float,
                   n: int = 20) -> list[dict[str, Any]]:
    """The ``n`` most frequent "true class -> predicted class" confusions (``Cls`` errors) at the score threshold:
    ``true``, ``predicted`` (names), ``count`` (at the threshold), ``count_any_score`` and ``share`` (count over
    the true class's ground truth). Sorted by count, then count at any score, then names."""
    from annokit.analysis.confusion import detection_confusion_cells

    k = len(gt.categories)
    names = gt.categories.names
    n_gt = _count_by(gt.categories.index_of(gt.annotations.labels), ~gt.annotations.iscrowd, k)
    def cells(thr: float) -> dict[tuple[int, int], int]:
        r, c, cnt = detection_confusion_cells(gt, dets, tags, score_threshold=thr)
        off = (r != c) & (r < k) & (c < k)
        return dict(zip(zip(r[off].tolist(), c[off].tolist()), cnt[off].tolist()))

    at, anywhere = cells(threshold), cells(-np.inf)
    order = sorted(anywhere, key=lambda ab: (-at.get(ab, 0), -anywhere[ab], names[ab[0]], names[ab[1]]))
    return [{"true": names[a], "predicted": names[b], "count": at.get((a, b), 0), "count_any_score": anywhere[(a, b)],
             "share": _ratio(at.get((a, b), 0), int(n_gt[a]))} for a, b in order[:n]]
