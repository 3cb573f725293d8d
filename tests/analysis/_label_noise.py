"""A clean detection set, a strong simulated model, and known label errors injected into the set: what the
label-error ranking is judged on (tests/analysis/test_label_errors.py, benchmarks/bench_diagnose.py).

The model sees the *clean* labels. It is good and calibrated: it finds 97 % of the objects, boxes within a few
percent (N(0, 4 %) of the size), scores Beta(9, 1.5); on 3 % of the objects it is unsure of the class (a random
class at a middling score, Beta(4, 4), and the right class beside it, Beta(4, 3)); 30 % of the objects get a
low-scored second guess of another class (Beta(1.5, 6)); each image has Poisson(1) background boxes (Beta(1.5, 8)).
The errors are then injected into the labels, so every injected error contradicts the model.

Kinds injected, each on its own objects: ``missing`` (a box removed), ``wrong_class`` (its class changed),
``poor_location`` (moved by 30-50 % of its size along each axis), ``duplicate`` (a copy, within 3 % of its size,
added with a new id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

W, H = 640, 480


def clean_set(n_img: int, n_cls: int, seed: int) -> dict[str, Any]:
    """A COCO dict: ``n_img`` images of 640 x 480 with 1-8 objects each (sizes 24-200 px) of ``n_cls`` classes."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "file_name": f"{i:05d}.jpg", "height": H, "width": W} for i in range(1, n_img + 1)]
    anns = []
    for im in images:
        for _ in range(int(rng.integers(1, 9))):
            w, h = rng.uniform(24, 200, 2)
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": int(rng.integers(1, n_cls + 1)),
                         "bbox": [round(float(v), 2) for v in (x, y, w, h)], "area": round(float(w * h), 2),
                         "iscrowd": 0})
    cats = [{"id": c, "name": f"class_{c}"} for c in range(1, n_cls + 1)]
    return {"images": images, "categories": cats, "annotations": anns}


def _clip_box(x: float, y: float, w: float, h: float) -> list[float]:
    x, y = min(max(x, 0.0), W - 2.0), min(max(y, 0.0), H - 2.0)
    return [round(float(v), 2) for v in (x, y, max(min(w, W - x), 2.0), max(min(h, H - y), 2.0))]


def strong_model(coco: dict[str, Any], n_cls: int, seed: int) -> list[dict[str, Any]]:
    """COCO results of a good model on the clean labels of ``coco``."""
    rng = np.random.default_rng(seed)
    dets = []
    for a in coco["annotations"]:
        if rng.random() > 0.97:
            continue
        x, y, w, h = a["bbox"]
        jit = rng.normal(0, 0.04, 4) * [w, h, w, h]
        box = _clip_box(x + jit[0], y + jit[1], w + jit[2], h + jit[3])
        if rng.random() < 0.97:
            dets.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": box,
                         "score": float(rng.beta(9, 1.5))})
        else:  # unsure of the class: a wrong class at a middling score, the right one beside it
            dets.append({"image_id": a["image_id"], "category_id": int(rng.integers(1, n_cls + 1)), "bbox": box,
                         "score": float(rng.beta(4, 4))})
            dets.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": box,
                         "score": float(rng.beta(4, 3))})
        if rng.random() < 0.3:  # a low-scored second guess of another class, same place
            other = int(rng.integers(1, n_cls + 1))
            dets.append({"image_id": a["image_id"], "category_id": other, "bbox": box,
                         "score": float(rng.beta(1.5, 6))})
    for im in coco["images"]:
        for _ in range(int(rng.poisson(1.0))):
            w, h = rng.uniform(20, 120, 2)
            dets.append({"image_id": im["id"], "category_id": int(rng.integers(1, n_cls + 1)),
                         "bbox": _clip_box(rng.uniform(0, W - w), rng.uniform(0, H - h), w, h),
                         "score": float(rng.beta(1.5, 8))})
    return dets


@dataclass(frozen=True)
class Injected:
    """One injected error: its kind, image, the label ids it concerns in the noisy set (none for a removed box)
    and the object's clean box (xywh)."""

    kind: str
    image_id: int
    gt_ids: tuple[int, ...]
    clean_xywh: tuple[float, float, float, float]


def inject(coco: dict[str, Any], n_each: int, n_cls: int, seed: int) -> tuple[dict[str, Any], list[Injected]]:
    """A copy of ``coco`` with ``n_each`` errors of each kind on distinct objects, and the list of them."""
    rng = np.random.default_rng(seed)
    anns = [dict(a) for a in coco["annotations"]]
    pick = rng.choice(len(anns), 4 * n_each, replace=False)
    out: list[Injected] = []
    removed = set()
    next_id = max(a["id"] for a in anns) + 1
    for n, k in enumerate(pick):
        a, kind = anns[k], ("missing", "wrong_class", "poor_location", "duplicate")[n // n_each]
        clean = tuple(a["bbox"])
        if kind == "missing":
            removed.add(a["id"])
            out.append(Injected(kind, a["image_id"], (), clean))
        elif kind == "wrong_class":
            a["category_id"] = int((a["category_id"] + rng.integers(1, n_cls) - 1) % n_cls + 1)
            out.append(Injected(kind, a["image_id"], (a["id"],), clean))
        elif kind == "poor_location":
            x, y, w, h = a["bbox"]
            dx, dy = rng.uniform(0.3, 0.5, 2) * rng.choice([-1, 1], 2)
            a["bbox"] = _clip_box(x + dx * w, y + dy * h, w, h)
            out.append(Injected(kind, a["image_id"], (a["id"],), clean))
        else:
            x, y, w, h = a["bbox"]
            j = rng.uniform(-0.03, 0.03, 4) * [w, h, w, h]
            anns.append({**a, "id": next_id, "bbox": _clip_box(x + j[0], y + j[1], w + j[2], h + j[3])})
            out.append(Injected(kind, a["image_id"], (a["id"], next_id), clean))
            next_id += 1
    noisy = {**coco, "annotations": [a for a in anns if a["id"] not in removed]}
    return noisy, out


def _iou_xywh(a: Any, b: Any) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter) if inter > 0 else 0.0


def hits(entry_image: int, entry_gt_ids: tuple[int, ...], entry_box_xywh: Any, injected: list[Injected],
         kind: str | None) -> set[int]:
    """The indices of the injected errors (of ``kind``, or any) an entry points at: the same label id, or, for a
    removed or moved box, a prediction box overlapping its clean box (IoU >= 0.5) on its image."""
    out = set()
    for n, e in enumerate(injected):
        if (kind is not None and e.kind != kind) or e.image_id != entry_image:
            continue
        if set(entry_gt_ids) & set(e.gt_ids):
            out.add(n)
        elif e.kind in ("missing", "poor_location") and entry_box_xywh is not None and \
                _iou_xywh(entry_box_xywh, e.clean_xywh) >= 0.5:  # a prediction where the object really is
            out.add(n)
    return out


def precision_recall_at_k(ranked: list[tuple[int, tuple[int, ...], Any]], injected: list[Injected],
                          kind: str | None) -> tuple[float, float, int]:
    """Precision and recall of the top ``K`` entries, ``K`` the number of injected errors (of ``kind``): the
    share of those entries that point at an injected error, and the share of injected errors pointed at."""
    k = sum(1 for e in injected if kind is None or e.kind == kind)
    top = ranked[:k]
    found: set[int] = set()
    good = 0
    for img, ids, box in top:
        h = hits(img, ids, box, injected, kind)
        good += bool(h)
        found |= h
    return (good / k if k else float("nan")), (len(found) / k if k else float("nan")), k
