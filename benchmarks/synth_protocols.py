"""Seeded synthetic data for the evaluation protocols (DOTA Task 1 files; Open Images COCO-style files and
hierarchy), shared by the tests and ``bench_protocols.py``.

    python benchmarks/synth_protocols.py dota OUT_DIR --images 5000
    python benchmarks/synth_protocols.py openimages OUT_DIR --images 5000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

# DOTA-v1.0's 15 classes, the devkit's own list
DOTA_CLASSES = ["plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle", "large-vehicle", "ship",
                "tennis-court", "basketball-court", "storage-tank", "soccer-ball-field", "roundabout", "harbor",
                "swimming-pool", "helicopter"]


def _rboxes(rng: np.random.Generator, n: int, size: float) -> np.ndarray:
    return np.column_stack([rng.uniform(0, size, (n, 2)), rng.uniform(8, 90, (n, 2)),
                            rng.uniform(-np.pi, np.pi, n)])


def dota_arrays(seed: int, images: int, *, objects: float = 12.0, size: float = 1000.0) -> dict[str, Any]:
    """Ground truth (integer quadrilaterals, ~5 % non-convex, ~10 % difficult) and detections (noisy copies with
    scores rounded to 2 decimals so that ties occur, duplicates, wrong classes and background boxes)."""
    from annokit.core.rotated import rbox_to_corners

    rng = np.random.default_rng(seed)
    n = rng.poisson(objects, images)
    img = np.repeat(np.arange(images), n)
    rb = _rboxes(rng, len(img), size)
    quads = np.round(rbox_to_corners(rb))
    bent = rng.random(len(img)) < 0.05
    quads[bent, 1] += np.round(rng.normal(0, 25, (int(bent.sum()), 2)))
    labels = rng.integers(0, len(DOTA_CLASSES), len(img))
    difficult = rng.random(len(img)) < 0.1
    keep = rng.random(len(img)) < 0.8
    dup = rng.random(len(img)) < 0.1
    src = np.concatenate([np.flatnonzero(keep), np.flatnonzero(dup)])
    noise = np.column_stack([rng.normal(0, 3, (len(src), 2)), rng.normal(0, 4, (len(src), 2)),
                             rng.normal(0, 0.08, len(src))])
    drb = rb[src] + noise
    drb[:, 2:4] = np.abs(drb[:, 2:4]) + 1
    d_lab = np.where(rng.random(len(src)) < 0.1, rng.integers(0, len(DOTA_CLASSES), len(src)), labels[src])
    n_bg = images * 2
    d_img = np.concatenate([img[src], rng.integers(0, images, n_bg)])
    d_quads = np.concatenate([rbox_to_corners(drb), rbox_to_corners(_rboxes(rng, n_bg, size))])
    d_lab = np.concatenate([d_lab, rng.integers(0, len(DOTA_CLASSES), n_bg)])
    scores = np.round(rng.random(len(d_img)), 2)
    return {"images": images, "gt_img": img, "gt_quads": quads, "gt_labels": labels, "difficult": difficult,
            "dt_img": d_img, "dt_quads": d_quads, "dt_labels": d_lab, "scores": scores}


def write_dota(root: Path, arrays: dict[str, Any]) -> tuple[Path, Path]:
    """``root/labelTxt`` and ``root/Task1`` in DOTA's own formats; returns the two folders."""
    labels, dets = root / "labelTxt", root / "Task1"
    labels.mkdir(parents=True, exist_ok=True)
    dets.mkdir(parents=True, exist_ok=True)
    lines: list[list[str]] = [["imagesource:GoogleEarth", "gsd:0.146"] for _ in range(arrays["images"])]
    for i, q, c, d in zip(arrays["gt_img"], arrays["gt_quads"], arrays["gt_labels"], arrays["difficult"]):
        lines[i].append(" ".join(str(int(v)) for v in q.reshape(-1)) + f" {DOTA_CLASSES[c]} {int(d)}")
    for i, ls in enumerate(lines):
        (labels / f"P{i:05d}.txt").write_text("\n".join(ls) + "\n")
    for c, name in enumerate(DOTA_CLASSES):
        sel = np.flatnonzero(arrays["dt_labels"] == c)
        text = "".join(f"P{arrays['dt_img'][k]:05d} {arrays['scores'][k]:.2f} " +
                       " ".join(f"{v:.3f}" for v in arrays["dt_quads"][k].reshape(-1)) + "\n" for k in sel)
        (dets / f"Task1_{name}.txt").write_text(text)
    return labels, dets


# ------------------------------------------------------------------------------------------ Open Images
def oid_hierarchy(rng: np.random.Generator, n_classes: int) -> tuple[dict[str, Any], list[str]]:
    """A random label hierarchy over ``n_classes`` names (``/m/c0`` ...) under a root, a few with two parents."""
    names = [f"/m/c{i}" for i in range(n_classes)]
    parent = [-1 if i < max(2, n_classes // 5) else int(rng.integers(0, i)) for i in range(n_classes)]
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        children.setdefault(p, []).append(i)
    extra = [i for i in range(n_classes) if parent[i] >= 0 and rng.random() < 0.1]
    for i in extra:  # a second parent, not one of its own descendants
        q = int(rng.integers(0, i))
        if q != parent[i]:
            children.setdefault(q, []).append(i)

    def node(i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"LabelName": names[i]}
        if children.get(i):
            out["Subcategory"] = [node(c) for c in children[i]]
        return out

    return {"LabelName": "/m/root", "Subcategory": [node(i) for i in children[-1]]}, names


def openimages_data(seed: int, images: int, *, n_classes: int = 40, objects: float = 6.0,
                    size: float = 640.0) -> dict[str, Any]:
    """A COCO-style ground truth with ``isgroupof`` and image-level ``pos_category_ids`` / ``neg_category_ids``,
    a COCO results list (scores rounded to 2 decimals: ties occur) and a hierarchy over the category names."""
    rng = np.random.default_rng(seed)
    hierarchy, names = oid_hierarchy(rng, n_classes)
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    imgs, anns, res = [], [], []
    for im in range(1, images + 1):
        k = int(rng.poisson(objects))
        labels = rng.integers(1, n_classes + 1, k)
        pos = sorted({int(x) for x in rng.integers(1, n_classes + 1, int(rng.integers(0, 3)))})
        neg = sorted({int(x) for x in rng.integers(1, n_classes + 1, int(rng.integers(0, 4)))} - set(pos))
        imgs.append({"id": im, "file_name": f"{im:06d}.jpg", "height": int(size), "width": int(size),
                     "pos_category_ids": pos, "neg_category_ids": neg})
        xy = rng.uniform(0, size * 0.8, (k, 2))
        wh = rng.uniform(4, size * 0.3, (k, 2))
        group = rng.random(k) < 0.1
        for j in range(k):
            anns.append({"id": len(anns) + 1, "image_id": im, "category_id": int(labels[j]),
                         "bbox": [round(float(v), 2) for v in (*xy[j], *wh[j])], "area": float(wh[j].prod()),
                         "iscrowd": 0, "isgroupof": int(group[j])})
            for _ in range(int(rng.integers(0, 3))):
                b = np.concatenate([xy[j] + rng.normal(0, wh[j] * 0.1), wh[j] * rng.uniform(0.7, 1.3, 2)])
                if group[j] and rng.random() < 0.5:  # inside the group box
                    b = np.concatenate([xy[j] + wh[j] * rng.uniform(0, 0.5, 2), wh[j] * rng.uniform(0.1, 0.5, 2)])
                lab = int(labels[j]) if rng.random() < 0.85 else int(rng.integers(1, n_classes + 1))
                res.append({"image_id": im, "category_id": lab, "bbox": [round(float(v), 2) for v in b],
                            "score": round(float(rng.random()), 2)})
        for _ in range(int(rng.integers(0, 4))):
            b = np.concatenate([rng.uniform(0, size * 0.8, 2), rng.uniform(4, size * 0.3, 2)])
            res.append({"image_id": im, "category_id": int(rng.integers(1, n_classes + 1)),
                        "bbox": [round(float(v), 2) for v in b], "score": round(float(rng.random()), 2)})
    gt = {"images": imgs, "annotations": anns, "categories": cats}
    return {"gt": gt, "results": res, "hierarchy": hierarchy}


def write_openimages(root: Path, data: dict[str, Any]) -> tuple[Path, Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = root / "gt.json", root / "results.json", root / "hierarchy.json"
    for p, key in zip(paths, ("gt", "results", "hierarchy")):
        p.write_text(json.dumps(data[key]))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("protocol", choices=["dota", "openimages"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.protocol == "dota":
        print(*write_dota(a.out, dota_arrays(a.seed, a.images)))
    else:
        print(*write_openimages(a.out, openimages_data(a.seed, a.images)))


if __name__ == "__main__":
    main()
