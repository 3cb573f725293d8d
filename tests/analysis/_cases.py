"""Random detection cases shared by the differential tests (TIDE against tidecv, the explorer against TIDE)."""

from __future__ import annotations

import numpy as np


def make_case(rng: np.random.Generator, *, n_img: int = 6, n_cls: int = 4, n_gt: int = 5, n_det: int = 9,
              crowd_p: float = 0.1, grid: bool = True) -> tuple[dict, list]:
    """A random COCO dict and results list. Boxes on a coarse grid make ties of IoU and exact-threshold hits;
    scores rounded to one decimal make ties of score."""
    images = [{"id": int(i), "file_name": f"{i}.png", "height": 100, "width": 100}
              for i in rng.permutation(np.arange(1, n_img + 1))]
    cats = [{"id": c, "name": f"c{c}", "supercategory": "s" + str(c % 2)} for c in range(1, n_cls + 2)]

    def box() -> list[float]:
        if grid:
            x, y = (rng.integers(0, 8, 2) * 5).tolist()
            w, h = (rng.integers(2, 8, 2) * 5).tolist()
        else:
            x, y = rng.uniform(0, 60, 2).tolist()
            w, h = rng.uniform(4, 40, 2).tolist()
        return [float(x), float(y), float(w), float(h)]

    anns, gt_boxes = [], {}
    aid = 1
    for im in images:
        k = int(rng.integers(0, n_gt + 1))
        gt_boxes[im["id"]] = []
        for _ in range(k):
            b = box()
            c = int(rng.integers(1, n_cls + 1))
            crowd = int(rng.random() < crowd_p)
            anns.append({"id": aid, "image_id": im["id"], "category_id": c, "bbox": b, "area": b[2] * b[3],
                         "iscrowd": crowd})
            gt_boxes[im["id"]].append((b, c))
            aid += 1
    dets = []
    for im in images:
        k = int(rng.integers(0, n_det + 1))
        for _ in range(k):
            if gt_boxes[im["id"]] and rng.random() < 0.6:
                b, c = gt_boxes[im["id"]][int(rng.integers(len(gt_boxes[im["id"]])))]
                b = [v + float(rng.integers(-2, 3)) * 2.5 for v in b]
                b[2], b[3] = max(b[2], 2.5), max(b[3], 2.5)
                if rng.random() < 0.25:
                    c = int(rng.integers(1, n_cls + 2))  # class n_cls + 1 never has ground truth
            else:
                b, c = box(), int(rng.integers(1, n_cls + 2))
            dets.append({"image_id": im["id"], "category_id": c, "bbox": b,
                         "score": float(np.round(rng.random(), 1))})
    return {"images": images, "categories": cats, "annotations": anns}, dets
