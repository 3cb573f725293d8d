"""Seeded random COCO datasets and the pycocotools oracle, for differential tests."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
from pycocotools import mask as cmask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def random_case(seed: int, *, segm: bool = False, n_images: int | None = None) -> tuple[dict, list]:
    """A ground-truth dict and a results list exercising crowd, empty images, ties, >100 dets, absent classes."""
    rng = np.random.default_rng(seed)
    n_img = n_images if n_images is not None else int(rng.integers(1, 14))
    cat_ids = sorted(rng.choice(np.arange(1, 30), size=int(rng.integers(1, 6)), replace=False).tolist())
    cats = [{"id": int(c), "name": f"c{c}", "supercategory": "s"} for c in cat_ids]
    images, anns, dets = [], [], []
    ann_id = 1
    integer = rng.random() < 0.5  # integer coordinates make exact IoU ties and boundary areas likely
    tie_scores = rng.random() < 0.5
    for i in range(n_img):
        img_id = int(rng.integers(1, 10_000)) * 1000 + i  # sparse, unsorted ids
        h, w = (int(rng.integers(24, 64)), int(rng.integers(24, 64))) if segm else (480, 640)
        images.append({"id": img_id, "file_name": f"{img_id}.jpg", "height": h, "width": w})
        n_gt = int(rng.integers(0, 7)) if rng.random() > 0.15 else 0
        gts = []
        for _ in range(n_gt):
            c = int(rng.choice(cat_ids))
            bw, bh = rng.uniform(1, w / 2), rng.uniform(1, h / 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            if integer:
                x, y, bw, bh = float(int(x)), float(int(y)), float(max(1, int(bw))), float(max(1, int(bh)))
            crowd = int(rng.random() < 0.1)
            ann = {"id": ann_id, "image_id": img_id, "category_id": c, "bbox": [x, y, bw, bh], "iscrowd": crowd}
            if segm:
                if crowd:
                    m = np.zeros((h, w), np.uint8, order="F")
                    m[int(y): int(y + bh) + 1, int(x): int(x + bw) + 1] = 1
                    r = cmask.encode(np.asfortranarray(m))
                    ann["segmentation"] = {"size": [h, w], "counts": r["counts"].decode()}
                    ann["area"] = float(cmask.area(r))
                else:
                    poly = _poly(rng, x, y, bw, bh)
                    ann["segmentation"] = [poly]
                    ann["area"] = float(cmask.area(cmask.merge(cmask.frPyObjects([poly], h, w))))
            else:
                ann["area"] = float(bw * bh * (1.0 if integer else rng.uniform(0.4, 1.0)))
                if rng.random() < 0.1:
                    ann["area"] = [32.0**2, 96.0**2, 0.0][int(rng.integers(0, 3))]  # exactly on a boundary
            anns.append(ann)
            gts.append(ann)
            ann_id += 1
        n_det = int(rng.integers(0, 12))
        if rng.random() < 0.15:
            n_det = int(rng.integers(100, 130))  # over maxDets
        for _ in range(n_det):
            if gts and rng.random() < 0.6:
                g = gts[int(rng.integers(0, len(gts)))]
                x, y, bw, bh = g["bbox"]
                j = rng.normal(0, 0.15, 4) * np.array([bw, bh, bw, bh])
                x, y, bw, bh = x + j[0], y + j[1], max(0.5, bw + j[2]), max(0.5, bh + j[3])
                c = g["category_id"] if rng.random() < 0.8 else int(rng.choice(cat_ids))
            else:
                bw, bh = rng.uniform(1, w / 2), rng.uniform(1, h / 2)
                x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                c = int(rng.choice(cat_ids + [999])) if rng.random() < 0.05 else int(rng.choice(cat_ids))
            if integer:
                x, y, bw, bh = float(round(x)), float(round(y)), float(max(1, round(bw))), float(max(1, round(bh)))
            score = float(rng.random())
            if tie_scores:
                score = round(score, 1)
            d = {"image_id": img_id, "category_id": c, "score": score}
            if segm:
                x = min(max(x, 0), w - 1)
                y = min(max(y, 0), h - 1)
                poly = _poly(rng, x, y, min(bw, w - x), min(bh, h - y))
                r = cmask.merge(cmask.frPyObjects([poly], h, w))
                d["segmentation"] = {"size": [h, w], "counts": r["counts"].decode()}
            else:
                d["bbox"] = [x, y, bw, bh]
            dets.append(d)
    # a category with detections but no ground truth stays in the category list
    gt = {"images": images, "annotations": anns, "categories": cats}
    order = rng.permutation(len(dets))
    dets = [dets[i] for i in order]
    return gt, dets


def _poly(rng: np.random.Generator, x: float, y: float, bw: float, bh: float) -> list[float]:
    n = int(rng.integers(3, 7))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    cx, cy = x + bw / 2, y + bh / 2
    px = cx + np.cos(ang) * bw / 2
    py = cy + np.sin(ang) * bh / 2
    return np.stack([px, py], 1).ravel().round(2).tolist()


def pycocotools_eval(gt: dict, dets: list, iou_type: str, *, iou_thrs=None, max_dets=None, area_rng=None,
                     area_labels=None) -> COCOeval:
    """Run COCOeval quietly on deep copies (pycocotools mutates its inputs)."""
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(dets))
        ev = COCOeval(cg, cd, iou_type)
        if iou_thrs is not None:
            ev.params.iouThrs = np.asarray(iou_thrs, dtype=float)
        if max_dets is not None:
            ev.params.maxDets = list(max_dets)
        if area_rng is not None:
            ev.params.areaRng = [list(r) for r in area_rng]
            ev.params.areaRngLbl = list(area_labels)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev
