"""A small detection dataset with real PNG images, written into a temporary folder (shared by report tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_small_dataset(root: Path, *, n_img: int = 8, seed: int = 0) -> tuple[Path, Path, Path]:
    """Write ``gt.json``, ``pred.json`` and ``images/*.png`` under ``root``; returns the three paths."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    cats = [{"id": 1, "name": "person", "supercategory": "living"},
            {"id": 2, "name": "dog", "supercategory": "living"},
            {"id": 3, "name": "car", "supercategory": "vehicle"},
            {"id": 5, "name": "bus", "supercategory": "vehicle"}]
    images, anns, dets = [], [], []
    aid = 1
    for i in range(1, n_img + 1):
        h, w = 120, 160
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(img_dir / f"img_{i}.png")
        images.append({"id": i, "file_name": f"img_{i}.png", "height": h, "width": w})
        for _ in range(int(rng.integers(1, 5))):
            x, y = rng.uniform(0, 100), rng.uniform(0, 70)
            bw, bh = rng.uniform(10, 50), rng.uniform(10, 45)
            c = int(rng.choice([1, 2, 3, 5]))
            anns.append({"id": aid, "image_id": i, "category_id": c, "bbox": [x, y, bw, bh], "area": bw * bh,
                         "iscrowd": 0})
            aid += 1
            r = rng.random()
            if r < 0.6:
                dets.append({"image_id": i, "category_id": c, "bbox": [x + 1, y + 1, bw, bh],
                             "score": float(rng.uniform(0.5, 1))})
            elif r < 0.75:
                c2 = 2 if c == 1 else (5 if c == 3 else 1)
                dets.append({"image_id": i, "category_id": c2, "bbox": [x, y, bw, bh],
                             "score": float(rng.uniform(0.3, 0.9))})
            elif r < 0.85:
                dets.append({"image_id": i, "category_id": c, "bbox": [x + bw / 2, y, bw, bh],
                             "score": float(rng.uniform(0.2, 0.8))})
        for _ in range(int(rng.integers(0, 3))):
            dets.append({"image_id": i, "category_id": int(rng.choice([1, 2, 3, 5])),
                         "bbox": [float(rng.uniform(0, 120)), float(rng.uniform(0, 90)), 15.0, 15.0],
                         "score": float(rng.uniform(0, 0.6))})
    # a crowd region on image 1
    anns.append({"id": aid, "image_id": 1, "category_id": 1, "bbox": [100.0, 60.0, 60.0, 60.0], "area": 3600.0,
                 "iscrowd": 1, "segmentation": {"counts": [19200], "size": [120, 160]}})
    gt_path, pred_path = root / "gt.json", root / "pred.json"
    gt_path.write_text(json.dumps({"images": images, "categories": cats, "annotations": anns}))
    pred_path.write_text(json.dumps(dets))
    return gt_path, pred_path, img_dir
