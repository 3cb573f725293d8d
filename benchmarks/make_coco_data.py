"""Seeded generators of evaluation data at scale (ground truth + results files).

``--profile coco`` (default): 5,000 images of about 640x480, 80 categories with COCO's sparse ids, about 7
ground-truth boxes per image (about 1% crowd), 100 scored detections per image (jittered true boxes, confusions and
background boxes) giving an AP around 0.3-0.6. ``--masks`` adds polygon segmentations to the ground truth and RLE
masks to the detections.

``--profile objects365``: Objects365 scale -- 365 categories, about 15 boxes per image (1.2M for 80,000 images),
100 detections per image -- generated image block by image block and streamed to the files, so 80,000 images
(8M detections, about 0.8 GB of results JSON) never sit in memory. The first N images of a bigger set are the
images of the smaller one (same seed).

    python benchmarks/make_coco_data.py --out benchmarks/data/coco_bbox
    python benchmarks/make_coco_data.py --out benchmarks/data/coco_segm --masks --images 1000
    python benchmarks/make_coco_data.py --out benchmarks/data/o365_80000 --profile objects365 --images 80000
    python benchmarks/make_coco_data.py --out benchmarks/data/o365_100000_s20 --profile objects365 \\
        --images 100000 --shards 20

``--shards N`` (objects365) writes the detections as ``dt/part-00000.json`` .. ``dt/part-<N-1>.json`` instead of
one ``dt.json``, as N inference processes would: each shard holds the detections of a contiguous range of image
blocks (the same detections, in the same order, as the single file).
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


O365_BLOCK = 1000  # images generated (and drawn from the random stream) together


def _o365_block(rng: np.random.Generator, first: int, n: int, ann_id: int, n_cats: int, gt_per_image: float,
                dets_per_image: int) -> tuple[list, list, list]:
    """Images ``first .. first + n - 1``: their records, ground truth and detections (vectorised)."""
    img_ids = 1 + np.arange(first, first + n)
    h = np.where(rng.random(n) < 0.6, 480, rng.integers(300, 800, n))
    w = np.where(rng.random(n) < 0.6, 640, rng.integers(300, 800, n))
    images = [{"id": int(i), "file_name": f"obj365_{i:08d}.jpg", "height": int(a), "width": int(b)}
              for i, a, b in zip(img_ids, h, w)]
    n_gt = rng.poisson(gt_per_image, n)
    owner = np.repeat(np.arange(n), n_gt)
    g = len(owner)
    side = np.exp(rng.uniform(np.log(4), np.log(np.minimum(h, w)[owner] * 0.8)))
    bw = np.clip(side * np.exp(rng.normal(0, 0.4, g)), 2, w[owner] * 0.95)
    bh = np.clip(side, 2, h[owner] * 0.95)
    x, y = rng.random(g) * (w[owner] - bw), rng.random(g) * (h[owner] - bh)
    gbox = np.round(np.stack([x, y, bw, bh], 1), 2)
    gcat = 1 + np.minimum(rng.zipf(1.3, g) - 1, n_cats - 1)  # a long tail of rare categories, as Objects365
    crowd = rng.random(g) < 0.005
    area = np.round(gbox[:, 2] * gbox[:, 3] * rng.uniform(0.6, 0.9, g), 2)
    anns = [{"id": int(ann_id + k), "image_id": int(img_ids[o]), "category_id": int(c), "bbox": b,
             "area": float(a), "iscrowd": int(cr)}
            for k, (o, c, b, a, cr) in enumerate(zip(owner, gcat, gbox.tolist(), area, crowd))]
    dets = _o365_dets(rng, n, img_ids, h, w, owner, gbox, gcat, n_cats, dets_per_image)
    return images, anns, dets


def _o365_dets(rng: np.random.Generator, n: int, img_ids: np.ndarray, h: np.ndarray, w: np.ndarray,
               owner: np.ndarray, gbox: np.ndarray, gcat: np.ndarray, n_cats: int, per_image: int) -> list:
    """``per_image`` detections per image: one or two jittered copies of some objects, the rest background."""
    copies = rng.integers(0, 3, len(owner))
    src = np.repeat(np.arange(len(owner)), copies)
    src = src[np.argsort(owner[src], kind="stable")]
    per = np.bincount(owner[src], minlength=n)
    keep = np.arange(len(src)) - np.repeat(np.cumsum(per) - per, per) < per_image
    src, per = src[keep], np.minimum(per, per_image)
    jit = rng.normal(0, 0.07, (len(src), 4)) * np.repeat(gbox[src, 2:], 2, axis=1)
    tbox = gbox[src] + jit
    tbox[:, 2:] = np.maximum(tbox[:, 2:], 1)
    tcat = np.where(rng.random(len(src)) < 0.15, 1 + rng.integers(0, n_cats, len(src)), gcat[src])
    tscore = np.clip(rng.beta(5, 2, len(src)) - np.abs(jit).sum(1) / (gbox[src, 2:].sum(1) + 1), 0.01, 1)
    nb = per_image - per
    bo = np.repeat(np.arange(n), nb)
    bsz = np.minimum(np.exp(rng.uniform(np.log(6), np.log(300), (len(bo), 2))), np.stack([w[bo], h[bo]], 1) - 1)
    bxy = rng.random((len(bo), 2)) * (np.stack([w[bo], h[bo]], 1) - bsz)
    box = np.round(np.concatenate([tbox, np.concatenate([bxy, bsz], 1)]), 2)
    cat = np.concatenate([tcat, 1 + rng.integers(0, n_cats, len(bo))])
    score = np.round(np.concatenate([tscore, rng.beta(1.0, 9, len(bo))]), 5)
    img = img_ids[np.concatenate([owner[src], bo])]
    order = np.argsort(img, kind="stable")
    return [{"image_id": int(i), "category_id": int(c), "bbox": b, "score": float(sc)}
            for i, c, b, sc in zip(img[order], cat[order], box[order].tolist(), score[order])]


class _ShardedList:
    """A JSON list written record block by record block into ``shards`` files (block ``k`` of ``n_blocks`` goes
    to shard ``k * shards // n_blocks``), or into one file when ``shards`` is 0."""

    def __init__(self, out: Path, shards: int, n_blocks: int) -> None:
        self.paths = [out / "dt.json"] if not shards else [out / "dt" / f"part-{i:05d}.json" for i in range(shards)]
        self.paths[0].parent.mkdir(parents=True, exist_ok=True)
        self.shards, self.n_blocks = shards, n_blocks
        self.files = [open(p, "wb") for p in self.paths]
        self.count = [0] * len(self.files)
        for f in self.files:
            f.write(b"[")

    def write(self, block: int, recs: list) -> None:
        i = block * self.shards // self.n_blocks if self.shards else 0
        if recs:
            self.files[i].write((b"," if self.count[i] else b"") + orjson.dumps(recs)[1:-1])
            self.count[i] += len(recs)

    def close(self) -> None:
        for f in self.files:
            f.write(b"]")
            f.close()


def write_o365(out: Path, n_images: int, *, seed: int = 0, n_cats: int = 365, gt_per_image: float = 15.0,
               dets_per_image: int = 100, shards: int = 0) -> tuple[int, int]:
    """Write ``out/gt.json`` and ``out/dt.json`` (or ``shards`` files ``out/dt/part-*.json``) block by block;
    returns (objects, detections)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    parts = {k: out / f".{k}.part" for k in ("images", "annotations")}
    n_ann = n_det = 0
    dt = _ShardedList(out, shards, -(-n_images // O365_BLOCK))
    with open(parts["images"], "wb") as fi, open(parts["annotations"], "wb") as fa:
        for first in range(0, n_images, O365_BLOCK):
            images, anns, dets = _o365_block(rng, first, min(O365_BLOCK, n_images - first), n_ann + 1, n_cats,
                                             gt_per_image, dets_per_image)
            for f, recs, count in ((fi, images, first), (fa, anns, n_ann)):
                if recs:
                    f.write((b"," if count else b"") + orjson.dumps(recs)[1:-1])
            dt.write(first // O365_BLOCK, dets)
            n_ann, n_det = n_ann + len(anns), n_det + len(dets)
    dt.close()
    cats = orjson.dumps([{"id": c, "name": f"object_{c}", "supercategory": f"group_{c % 20}"}
                         for c in range(1, n_cats + 1)])
    with open(out / "gt.json", "wb") as f:
        f.write(b'{"info":{"description":"annokit synthetic Objects365-scale benchmark","seed":%d},"images":[' % seed)
        for name in ("images", "annotations"):
            with open(parts[name], "rb") as part:
                while chunk := part.read(1 << 24):
                    f.write(chunk)
            f.write(b'],"annotations":[' if name == "images" else b'],"categories":' + cats + b"}")
            parts[name].unlink()
    return n_ann, n_det


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--masks", action="store_true")
    ap.add_argument("--profile", choices=["coco", "objects365"], default="coco")
    ap.add_argument("--shards", type=int, default=0, help="objects365: write the detections as N part files")
    a = ap.parse_args()
    if a.profile == "objects365":
        n_ann, n_det = write_o365(a.out, a.images, seed=a.seed, shards=a.shards)
        print(f"{a.out}: {a.images} images, {n_ann} objects, {n_det} detections")
        return
    gt, dets = make(a.images, seed=a.seed, masks=a.masks)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "gt.json").write_bytes(orjson.dumps(gt))
    (a.out / "dt.json").write_bytes(orjson.dumps(dets))
    print(f"{a.out}: {len(gt['images'])} images, {len(gt['annotations'])} objects, {len(dets)} detections")


if __name__ == "__main__":
    main()
