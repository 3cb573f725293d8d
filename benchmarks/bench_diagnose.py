"""How well ``annokit diagnose`` finds known label errors, against cleanlab's object-detection label-quality scores
on the same set, in the same run.

A clean set (seeded), a strong simulated model that sees the clean labels, and ``--n-each`` errors of each kind
injected into the labels (``tests/analysis/_label_noise.py``: removed boxes, changed classes, boxes moved by
30-50 % of their size, duplicated boxes). Both tools rank suspects; the table gives precision and recall at K, K the
number injected:

* per kind, box level: annokit's entries of that kind; cleanlab's per-box scores of the matching kind
  (``compute_overlooked_box_scores`` for missing, ``compute_swap_box_scores`` for wrong class,
  ``compute_badloc_box_scores`` for poor location; cleanlab has no duplicate score), lowest first;
* overall, box level: annokit's whole ranking, K = all injected;
* overall, image level: images ranked by annokit's highest entry score and by cleanlab's
  ``get_label_quality_scores`` (lowest first); K = images with an injected error.

cleanlab is a peer measured here, not a dependency of annokit (``pip install -e ".[bench]"``).

    python benchmarks/bench_diagnose.py
    python benchmarks/bench_diagnose.py --images 2000 --n-each 100 --seed 3
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.analysis._label_noise import (
    Injected,
    clean_set,
    inject,
    precision_recall_at_k,
    strong_model,
)

KINDS = ("missing", "wrong_class", "poor_location", "duplicate")


def _annokit(noisy: dict[str, Any], dets: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """annokit's ranking: per kind and overall (entries as (image, gt ids, xywh box of the prediction)), and the
    seconds it took."""
    from annokit.analysis.label_errors import label_issues
    from annokit.io.coco import dataset_from_coco_dict, read_results

    gt = dataset_from_coco_dict(noisy)
    dt = read_results(dets, gt)
    t0 = time.perf_counter()
    res = label_issues(gt, dt)
    took = time.perf_counter() - t0
    box_of = {int(i): b for i, b in zip(dt.ids.tolist(), dt.boxes.tolist())}

    def entry(e: Any) -> tuple[int, tuple[int, ...], Any]:
        b = box_of[e.pred_ids[0]] if e.kind == "missing" else None
        return e.image_id, e.gt_ids, None if b is None else (b[0], b[1], b[2] - b[0], b[3] - b[1])

    out = {k: [entry(e) for e in res.of_kind(k)] for k in KINDS}
    out["all"] = [entry(e) for e in res.issues]
    out["images"] = sorted(res.image_scores(), key=lambda i: -res.image_scores()[i])
    return out, took


def _cleanlab_inputs(noisy: dict[str, Any], dets: list[dict[str, Any]], n_cls: int) -> tuple[list, list, list]:
    """cleanlab's labels and predictions (xyxy, classes 0..K-1, predictions per class), and per image the
    (xywh box, class) of each predicted box in cleanlab's order (classes in turn)."""
    ids = [im["id"] for im in noisy["images"]]
    gts: dict[int, list] = {i: [] for i in ids}
    for a in noisy["annotations"]:
        gts[a["image_id"]].append(a)
    pr: dict[int, list] = {i: [] for i in ids}
    for d in dets:
        pr[d["image_id"]].append(d)
    labels, preds, order = [], [], []
    for i in ids:
        g = gts[i]
        labels.append({"bboxes": np.array([[*a["bbox"][:2], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                                           for a in g], dtype=float).reshape(-1, 4),
                       "labels": np.array([a["category_id"] - 1 for a in g], dtype=int), "ids": [a["id"] for a in g]})
        per = []
        seen = []
        for c in range(n_cls):
            mine = [d for d in pr[i] if d["category_id"] - 1 == c]
            per.append(np.array([[d["bbox"][0], d["bbox"][1], d["bbox"][0] + d["bbox"][2], d["bbox"][1] + d["bbox"][3],
                                  d["score"]] for d in mine], dtype=float).reshape(-1, 5))
            seen += [tuple(d["bbox"]) for d in mine]
        preds.append(np.array(per, dtype=object))
        order.append(seen)
    return labels, preds, order


def _cleanlab(noisy: dict[str, Any], dets: list[dict[str, Any]], n_cls: int,
              threshold: float | None) -> tuple[dict[str, Any], float]:
    """cleanlab's rankings (lowest score first; boxes it does not score are left out), and the seconds taken.
    ``threshold``: its probability thresholds (``high_probability_threshold`` of the overlooked and swap scores,
    ``low_probability_threshold`` of the badloc score); None: its defaults (0.95 and 0.5)."""
    from cleanlab.object_detection import rank

    labels, preds, order = _cleanlab_inputs(noisy, dets, n_cls)
    ids = [im["id"] for im in noisy["images"]]
    hi = {} if threshold is None else {"high_probability_threshold": threshold}
    lo = {} if threshold is None else {"low_probability_threshold": threshold}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        over = rank.compute_overlooked_box_scores(labels=labels, predictions=preds, **hi)
        swap = rank.compute_swap_box_scores(labels=labels, predictions=preds, **hi)
        bad = rank.compute_badloc_box_scores(labels=labels, predictions=preds, **lo)
        img = rank.get_label_quality_scores(labels, preds, verbose=False) if threshold is None else np.zeros(0)
    took = time.perf_counter() - t0

    def on_labels(scores: list) -> list:
        items = [(float(s), ids[n], (labels[n]["ids"][j],), None) for n, arr in enumerate(scores)
                 for j, s in enumerate(arr) if np.isfinite(s)]
        return [(i, g, b) for _, i, g, b in sorted(items, key=lambda x: x[0])]

    ov = [(float(s), ids[n], (), order[n][j]) for n, arr in enumerate(over) for j, s in enumerate(arr)
          if np.isfinite(s)]
    out = {"missing": [(i, g, b) for _, i, g, b in sorted(ov, key=lambda x: x[0])], "wrong_class": on_labels(swap),
           "poor_location": on_labels(bad)}
    if len(img):
        out["images"] = [ids[n] for n in np.argsort(img, kind="stable")]
    return out, took


def _image_pr(ranked_images: list[int], injected: list[Injected]) -> tuple[float, float, int]:
    """Precision and recall at K over images, K = images with an injected error."""
    bad = {e.image_id for e in injected}
    top = ranked_images[: len(bad)]
    p = sum(i in bad for i in top) / len(bad)
    return p, len(bad & set(top)) / len(bad), len(bad)


def _cell(res: dict[str, Any], kind: str, injected: list[Injected]) -> str:
    """``P@K R@K`` of one ranking, or n/a."""
    if kind == "images":
        if "images" not in res:
            return f"{'n/a':>12s}"
        p, r, _ = _image_pr(res["images"], injected)
    elif kind in res:
        p, r, _ = precision_recall_at_k(res[kind], injected, None if kind == "all" else kind)
    else:
        return f"{'n/a':>12s}"
    return f"{p:6.2f}{r:6.2f}"


def _table(ours: dict[str, Any], peers: list[dict[str, Any]], injected: list[Injected]) -> None:
    """Precision and recall at K of every ranking, as a table."""
    k_img = len({e.image_id for e in injected})
    print(f"\n{'':24s}{'annokit':>12s}{'cleanlab':>12s}{'cleanlab@0.5':>14s}{'K':>6s}")
    print(f"{'':24s}{'P@K   R@K':>12s}{'P@K   R@K':>12s}{'P@K   R@K':>14s}")
    for kind in (*KINDS, "all", "images"):
        k = k_img if kind == "images" else sum(1 for e in injected if kind == "all" or e.kind == kind)
        label = "any error (images)" if kind == "images" else f"{kind} (boxes)"
        print(f"{label:24s}{_cell(ours, kind, injected):>12s}{_cell(peers[0], kind, injected):>12s}"
              f"{_cell(peers[1], kind, injected):>14s}{k:6d}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000, help="images in the clean set")
    ap.add_argument("--classes", type=int, default=20, help="classes")
    ap.add_argument("--n-each", type=int, default=50, help="errors injected of each kind")
    ap.add_argument("--seed", type=int, default=0, help="seed of the set, the model and the errors")
    a = ap.parse_args()
    clean = clean_set(a.images, a.classes, a.seed)
    dets = strong_model(clean, a.classes, a.seed + 1)
    noisy, injected = inject(clean, a.n_each, a.classes, a.seed + 2)
    print(f"{a.images} images, {len(noisy['annotations'])} labels, {len(dets)} predictions, "
          f"{len(injected)} errors injected ({a.n_each} of each kind), seed {a.seed}")
    ours, t_ours = _annokit(noisy, dets)
    try:
        peers = [_cleanlab(noisy, dets, a.classes, None), _cleanlab(noisy, dets, a.classes, 0.5)]
    except ModuleNotFoundError:
        print("cleanlab is not installed (pip install cleanlab): its columns are empty")
        peers = [({}, float("nan")), ({}, float("nan"))]
    _table(ours, [p for p, _ in peers], injected)
    print(f"\ntime: annokit {t_ours:.2f} s, cleanlab {peers[0][1]:.2f} s with its defaults (same machine, same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
