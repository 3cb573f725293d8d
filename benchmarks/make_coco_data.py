"""Seeded generator of COCO-val-scale evaluation data (ground truth + results files).

5,000 images of about 640x480, 80 categories with COCO's sparse ids, about 7 ground-truth boxes per image (about
1% crowd), 100 scored detections per image (jittered true boxes, confusions and background boxes) giving an AP
around 0.3-0.6. ``--masks`` adds polygon segmentations to the ground truth and RLE masks to the detections.

    python benchmarks/make_coco_data.py --out benchmarks/data/coco_bbox
    python benchmarks/make_coco_data.py --out benchmarks/data/coco_segm --masks --images 1000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orjson

COCO_CAT_IDS = [i for i in range(1, 91) if i not in {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}]


def _polygon(rng: np.random.Generator, box: np.ndarray, n: int) -> list[float]:
    x, y, w, h = box
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(0.75, 1.0, n)
    px = x + w / 2 + np.cos(ang) * rad * w / 2
    py = y + h / 2 + np.sin(ang) * rad * h / 2
    return np.stack([px, py], 1).ravel().round(2).tolist()


def make(n_images: int = 5000, *, seed: int = 0, masks: bool = False, dets_per_image: int = 100) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    if masks:
        from pycocotools import mask as cmask
    cats = [{"id": c, "name": f"class_{c}", "supercategory": f"super_{c // 10}"} for c in COCO_CAT_IDS]
    images, anns, dets = [], [], []
    ann_id = 1
    for i in range(n_images):
        img_id = 100000 + i * 7
        h, w = (480, 640) if rng.random() < 0.7 else (int(rng.integers(360, 640)), int(rng.integers(360, 640)))
        images.append({"id": img_id, "file_name": f"{img_id:012d}.jpg", "height": h, "width": w})
        n_gt = int(rng.poisson(7))
        side = np.exp(rng.uniform(np.log(6), np.log(min(h, w) * 0.9), (n_gt, 2)))
        side[:, 1] = np.clip(side[:, 0] * np.exp(rng.normal(0, 0.4, n_gt)), 4, h * 0.95)
        side[:, 0] = np.clip(side[:, 0], 4, w * 0.95)
        xy = rng.uniform(0, 1, (n_gt, 2)) * (np.array([w, h]) - side)
        gt_boxes = np.concatenate([xy, side], 1).round(2)
        gt_cats = rng.choice(COCO_CAT_IDS, n_gt, p=None)
        crowd = rng.random(n_gt) < 0.01
        polys = [_polygon(rng, b, int(rng.integers(8, 17))) for b in gt_boxes] if masks else None
        if masks and n_gt:
            rles = cmask.frPyObjects(polys, h, w)
            areas = np.asarray(cmask.area(rles[:255]) if n_gt <= 255 else [cmask.area(r) for r in rles], float)
        else:
            areas = gt_boxes[:, 2] * gt_boxes[:, 3] * rng.uniform(0.55, 0.85, n_gt)
        for j in range(n_gt):
            a = {"id": ann_id, "image_id": img_id, "category_id": int(gt_cats[j]), "bbox": gt_boxes[j].tolist(),
                 "area": round(float(areas[j]), 2), "iscrowd": int(crowd[j])}
            if masks:
                if crowd[j]:
                    r = rles[j]
                    a["segmentation"] = {"size": [h, w], "counts": r["counts"].decode()}
                else:
                    a["segmentation"] = [polys[j]]
            anns.append(a)
            ann_id += 1
        # detections: 2-4 jittered copies of each object, then background boxes up to dets_per_image
        n_copy = rng.integers(1, 4, n_gt) if n_gt else np.zeros(0, int)
        src = np.repeat(np.arange(n_gt), n_copy)
        nb = max(0, dets_per_image - len(src))
        scale = np.repeat(gt_boxes[:, 2:], 2, axis=1)
        jit = rng.normal(0, 0.06, (len(src), 4)) * scale[src] if n_gt else np.zeros((0, 4))
        d_boxes = gt_boxes[src] + jit if n_gt else np.zeros((0, 4))
        d_boxes[:, 2:] = np.maximum(d_boxes[:, 2:], 2)
        d_cat = gt_cats[src].copy() if n_gt else np.zeros(0, int)
        flip = rng.random(len(src)) < 0.1
        d_cat[flip] = rng.choice(COCO_CAT_IDS, int(flip.sum()))
        d_score = np.clip(rng.beta(4, 2, len(src)) - np.abs(jit).sum(1) / (gt_boxes[src, 2:].sum(1) + 1) if n_gt
                          else np.zeros(0), 0.01, 1)
        bsz = np.exp(rng.uniform(np.log(8), np.log(300), (nb, 2)))
        bsz = np.minimum(bsz, [w - 1, h - 1])
        bxy = rng.uniform(0, 1, (nb, 2)) * (np.array([w, h]) - bsz)
        b_boxes = np.concatenate([bxy, bsz], 1)
        all_boxes = np.concatenate([d_boxes, b_boxes])[:dets_per_image].round(2)
        all_cat = np.concatenate([d_cat, rng.choice(COCO_CAT_IDS, nb)])[:dets_per_image]
        all_score = np.concatenate([d_score, rng.beta(1.0, 8, nb)])[:dets_per_image].round(5)
        if masks:
            dpolys = [_polygon(rng, np.maximum(b, [0, 0, 1, 1]), 10) for b in all_boxes]
            drles = cmask.frPyObjects(dpolys, h, w)
        for j in range(len(all_boxes)):
            d = {"image_id": img_id, "category_id": int(all_cat[j]), "score": float(all_score[j])}
            if masks:
                d["segmentation"] = {"size": [h, w], "counts": drles[j]["counts"].decode()}
            else:
                d["bbox"] = all_boxes[j].tolist()
            dets.append(d)
    gt = {"info": {"description": "annokit synthetic COCO-val-scale benchmark", "seed": seed}, "licenses": [],
          "images": images, "annotations": anns, "categories": cats}
    return gt, dets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--masks", action="store_true")
    a = ap.parse_args()
    gt, dets = make(a.images, seed=a.seed, masks=a.masks)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "gt.json").write_bytes(orjson.dumps(gt))
    (a.out / "dt.json").write_bytes(orjson.dumps(dets))
    print(f"{a.out}: {len(gt['images'])} images, {len(gt['annotations'])} objects, {len(dets)} detections")


if __name__ == "__main__":
    main()
