"""Seeded synthetic COCO panoptic data: ground truth and a perturbed prediction (JSON + RGB id PNGs).

Each image is a Voronoi partition of ``segments`` seeds (computed on a coarse grid, then upsampled), with some void
pixels, crowd segments and stuff/thing categories; the prediction shifts the map, relabels, merges and drops
segments and adds a spurious one, so every branch of PQ (match, fp, fn, void, crowd absorption) is exercised.

    python benchmarks/synth_panoptic.py OUT_DIR --images 500 --height 480 --width 640 --segments 20
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CATEGORIES = [{"id": i, "name": f"thing{i}", "isthing": 1} for i in range(1, 11)] + [
    {"id": 100 + i, "name": f"stuff{i}", "isthing": 0} for i in range(1, 6)]


def _save(path: Path, ids: np.ndarray) -> None:
    from PIL import Image

    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, mode="RGB").save(path)


def _image(rng: np.random.Generator, h: int, w: int, n_seg: int, cell: int) -> tuple[np.ndarray, list[dict],
                                                                                     np.ndarray, list[dict]]:
    gh, gw = -(-h // cell), -(-w // cell)
    seeds = np.stack([rng.integers(0, gh, n_seg), rng.integers(0, gw, n_seg)], axis=1)
    yy, xx = np.mgrid[0:gh, 0:gw]
    d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    coarse = d.argmin(axis=-1)
    lab = np.repeat(np.repeat(coarse, cell, 0), cell, 1)[:h, :w]
    ids = rng.choice(np.arange(1, 1 << 24), size=n_seg, replace=False).astype(np.uint32)
    cats = rng.choice([c["id"] for c in CATEGORIES], size=n_seg)
    crowd = (rng.random(n_seg) < 0.08) & (cats < 100)
    gt = ids[lab]
    void = rng.random((gh, gw)) < 0.05
    gt[np.repeat(np.repeat(void, cell, 0), cell, 1)[:h, :w]] = 0
    # prediction: shift, relabel / drop some segments, merge two, add a spurious one
    pred_lab = np.roll(lab, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
    pcats = cats.copy()
    flip = rng.random(n_seg) < 0.1
    pcats[flip] = rng.choice([c["id"] for c in CATEGORIES], size=int(flip.sum()))
    a, b = rng.choice(n_seg, 2, replace=False)
    pred_lab = np.where(pred_lab == b, a, pred_lab)
    pids = (ids ^ 0x5A5A5A) & 0xFFFFFF
    pids[pids == 0] = 7
    pred = pids[pred_lab].astype(np.uint32)
    drop = rng.random(n_seg) < 0.05
    drop[a] = False
    pred[np.isin(pred_lab, np.flatnonzero(drop))] = 0
    y0, x0 = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
    pred[y0:y0 + 10, x0:x0 + 10] = 1 << 23
    gt_segments = []
    areas = np.bincount(np.searchsorted(np.sort(ids), gt[gt > 0]), minlength=n_seg)
    order = np.argsort(ids)
    for j in range(n_seg):
        area = int(areas[np.flatnonzero(order == j)[0]])
        if area:
            gt_segments.append({"id": int(ids[j]), "category_id": int(cats[j]), "iscrowd": int(crowd[j]),
                                "area": area})
    present = set(np.unique(pred).tolist()) - {0}
    pred_segments = [{"id": int(pids[j]), "category_id": int(pcats[j])} for j in range(n_seg)
                     if int(pids[j]) in present]
    if (1 << 23) in present:
        pred_segments.append({"id": 1 << 23, "category_id": int(cats[0])})
    return gt, gt_segments, pred, pred_segments


def make_dataset(root: str | Path, *, images: int = 500, height: int = 480, width: int = 640, segments: int = 20,
                 seed: int = 0, cell: int = 8) -> tuple[Path, Path]:
    """Write ``root/gt.json``, ``root/gt/*.png``, ``root/pred.json``, ``root/pred/*.png``; returns the JSON paths."""
    root = Path(root)
    (root / "gt").mkdir(parents=True, exist_ok=True)
    (root / "pred").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    gt_anns, pred_anns, imgs = [], [], []
    for i in range(images):
        gt, gs, pr, ps = _image(rng, height, width, segments, cell)
        name = f"{i:06d}.png"
        _save(root / "gt" / name, gt)
        _save(root / "pred" / name, pr)
        imgs.append({"id": i, "file_name": f"{i:06d}.jpg", "height": height, "width": width})
        gt_anns.append({"image_id": i, "file_name": name, "segments_info": gs})
        pred_anns.append({"image_id": i, "file_name": name, "segments_info": ps})
    gj, pj = root / "gt.json", root / "pred.json"
    gj.write_text(json.dumps({"images": imgs, "annotations": gt_anns, "categories": CATEGORIES}))
    pj.write_text(json.dumps({"annotations": pred_anns}))
    return gj, pj


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--segments", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(*make_dataset(a.out, images=a.images, height=a.height, width=a.width, segments=a.segments, seed=a.seed))
