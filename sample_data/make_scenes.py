"""Seeded generator of the synthetic ``scenes`` sample set (circles, squares and triangles on noisy backgrounds).

Run ``python sample_data/make_scenes.py`` from the repository root: it rewrites ``sample_data/scenes/`` (and
``sample_data/cat/``) identically (the same bytes with the same pillow and zlib, the same pixels with any). Needs
numpy, pillow and annokit only (annokit rasterizes polygons exactly as pycocotools does, so every mask, area and
box in ``gt.json`` is what COCO evaluation computes).

The scene functions are importable, so other scripts (the model trainer in ``sample_data/model/train.py``) draw
their own scenes from other seeds::

    import importlib.util
    spec = importlib.util.spec_from_file_location("make_scenes", "sample_data/make_scenes.py")
    ms = importlib.util.module_from_spec(spec); sys.modules["make_scenes"] = ms; spec.loader.exec_module(ms)
    scene = ms.make_scene(seed=1000, index=0)   # scene.image: (120, 160, 3) uint8

Conventions
-----------
* Polygons are in COCO pixel-edge coordinates, rounded to 0.01 px; the drawn pixels are exactly the pycocotools
  raster of the stored polygon (so the image, ``gt.json`` masks, ``semantic/`` and ``instances/`` agree).
* Objects are painted in annotation order; a later object covers an earlier one where they overlap. ``gt.json``
  keeps each object's whole (amodal) polygon, as drawn; ``semantic/`` and ``instances/`` show the visible pixels.
* ``instances/*.png``: pixel value ``k`` (1..) is the ``k``-th annotation of that image in ``gt.json`` (in id
  order, crowd regions included); 0 is no object.
* ``semantic/*.png``: palette PNG, 0 = background, 1 = circle, 2 = square, 3 = triangle.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing

from annokit.core.dataset import Dataset, ImageTable  # noqa: E402
from annokit.core.instances import Instances  # noqa: E402
from annokit.core.labels import LabelSet  # noqa: E402
from annokit.core.masks import bitmap_to_rle, polygons_to_rle, rle_area, rle_to_bitmap, rle_to_ltrb  # noqa: E402
from annokit.io.coco import write_instances, write_results  # noqa: E402

WIDTH, HEIGHT = 160, 120
CLASS_NAMES = ["circle", "square", "triangle"]  # COCO category ids 1, 2, 3
SAMPLE_SEED = 20240611
NUM_SAMPLE = 48
PALETTE = [0, 0, 0, 230, 25, 75, 60, 180, 75, 0, 130, 200] + [0, 0, 0] * 251 + [255, 255, 255]


@dataclass
class Obj:
    category_id: int
    polygon: list[float] | None  # flat [x0, y0, x1, y1, ...]; None for a crowd region
    rle: dict  # compressed RLE of the object's whole mask
    iscrowd: bool = False


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    objects: list[Obj] = field(default_factory=list)
    semantic: np.ndarray | None = None  # (H, W) uint8, 0 = background
    instances: np.ndarray | None = None  # (H, W) uint8, k = k-th object

    @property
    def label(self) -> str:
        """Class of the largest (whole-mask area) non-crowd object, or ``"background"``."""
        best, best_area = "background", -1.0
        for o in self.objects:
            if o.iscrowd:
                continue
            a = float(rle_area([o.rle])[0])
            if a > best_area:
                best, best_area = CLASS_NAMES[o.category_id - 1], a
        return best


# ------------------------------------------------------------------------------------------------ shapes
def shape_polygon(kind: int, cx: float, cy: float, area: float, angle: float) -> np.ndarray:
    """``(K, 2)`` vertices of a circle (kind 1, 28-gon), square (2) or equilateral triangle (3) of about ``area``."""
    if kind == 1:
        r = np.sqrt(area / np.pi)
        t = angle + np.linspace(0, 2 * np.pi, 28, endpoint=False)
        return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)
    if kind == 2:
        h = np.sqrt(area) / 2
        t = angle + np.pi / 4 + np.arange(4) * np.pi / 2
        return np.stack([cx + h * np.sqrt(2) * np.cos(t), cy + h * np.sqrt(2) * np.sin(t)], axis=1)
    side = np.sqrt(4 * area / np.sqrt(3))
    r = side / np.sqrt(3)
    t = angle - np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _flat(poly: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in poly.reshape(-1)]


def _random_color(rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
    for _ in range(50):
        c = rng.integers(0, 256, 3)
        if np.abs(c - avoid).sum() > 180:
            return c
    return 255 - avoid


def _paint(image: np.ndarray, mask: np.ndarray, color: np.ndarray, rng: np.random.Generator) -> None:
    n = int(mask.sum())
    noise = rng.normal(0, 3, (n, 3))
    image[mask] = np.clip(color + noise, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = rng.integers(30, 226, 3).astype(np.float64)
    gx, gy = rng.uniform(-30, 30, 2)
    yy, xx = np.mgrid[0:h, 0:w]
    grad = (gx * (xx / w - 0.5) + gy * (yy / h - 0.5))[..., None]
    # blotchy low-frequency texture plus fine noise
    coarse = rng.normal(0, 10, (h // 8 + 1, w // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:h, :w]
    fine = rng.normal(0, 3, (h // 2 + 1, w // 2 + 1, 3)).repeat(2, 0).repeat(2, 1)[:h, :w]
    return np.clip(base + grad + coarse + fine, 0, 255).astype(np.uint8)


def _place(rng: np.random.Generator, kind: int, area: float, h: int, w: int,
           max_angle: float | None = None) -> np.ndarray | None:
    period = {1: 2 * np.pi / 28, 2: np.pi / 2, 3: 2 * np.pi / 3}[kind]
    angle = float(rng.uniform(0, period if max_angle is None else max_angle))
    probe = shape_polygon(kind, 0.0, 0.0, area, angle)
    lo, hi = probe.min(0), probe.max(0)
    x0, x1 = 1 - lo[0], w - 1 - hi[0]
    y0, y1 = 1 - lo[1], h - 1 - hi[1]
    if x1 < x0 or y1 < y0:
        return None
    return shape_polygon(kind, float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)), area, angle)


def make_scene(seed: int, index: int, *, kind: str | None = None, height: int = HEIGHT, width: int = WIDTH) -> Scene:
    """One scene from ``(seed, index)`` (independent of every other index).

    ``kind``: ``"empty"`` (no object), ``"crowd"`` (a crowd region plus objects), ``"large"`` (one object over
    96^2 px plus small ones), ``"normal"`` (1-6 objects of all sizes); ``None`` picks one at random.
    """
    rng = np.random.default_rng([seed, index])
    if kind is None:
        kind = str(rng.choice(["empty", "crowd", "large", "normal"], p=[0.08, 0.04, 0.13, 0.75]))
    image = _background(rng, height, width)
    bg_mean = image.reshape(-1, 3).mean(0)
    objects: list[Obj] = []
    visible: list[np.ndarray] = []  # visible masks of objects so far
    if kind == "empty":
        return _finish(image, objects, visible)

    if kind == "crowd":
        cat = int(rng.integers(1, 4))
        cx, cy = rng.uniform(30, width - 30), rng.uniform(25, height - 25)
        color = _random_color(rng, bg_mean)
        union = np.zeros((height, width), bool)
        for _ in range(int(rng.integers(6, 10))):
            a = float(rng.uniform(20, 50))
            poly = shape_polygon(cat, cx + rng.uniform(-22, 22), cy + rng.uniform(-16, 16), a,
                                 float(rng.uniform(0, 2 * np.pi)))
            union |= rle_to_bitmap(polygons_to_rle([_flat(poly)], height, width))
        _paint(image, union, color, rng)
        rle = bitmap_to_rle(union)
        objects.append(Obj(cat, None, rle, iscrowd=True))
        visible.append(union.copy())

    n_obj = int(rng.integers(1, 7)) if kind == "normal" else int(rng.integers(1, 3))
    areas: list[float] = []
    if kind == "large":
        areas.append(float(rng.uniform(9400, 10400)))
    for _ in range(n_obj):
        tier = rng.random()
        if tier < 0.35:
            areas.append(float(np.exp(rng.uniform(np.log(40), np.log(900)))))  # small (< 32^2)
        else:
            areas.append(float(np.exp(rng.uniform(np.log(1100), np.log(4500)))))  # medium
    for j, area in enumerate(areas):
        large = kind == "large" and j == 0
        cat = int(rng.integers(1, 3)) if large else int(rng.integers(1, 4))  # a large triangle would not fit
        for _attempt in range(40):
            poly = _place(rng, cat, area, height, width, max_angle=0.12 if large else None)
            if poly is None:
                area *= 0.8
                continue
            flat = _flat(poly)
            rle = polygons_to_rle([flat], height, width)
            mask = rle_to_bitmap(rle)
            if mask.sum() < 12:
                break
            # overlaps are allowed, but every earlier object keeps at least 55% of its pixels visible
            ok = all((v & ~mask).sum() >= 0.55 * v.sum() for v in visible)
            if visible:
                ok = ok and (mask & np.logical_or.reduce(visible)).sum() <= 0.45 * mask.sum()
            if not ok:
                continue
            color = _random_color(rng, bg_mean)
            _paint(image, mask, color, rng)
            for v in visible:
                v &= ~mask
            objects.append(Obj(cat, flat, rle))
            visible.append(mask.copy())
            break
    return _finish(image, objects, visible)


def _finish(image: np.ndarray, objects: list[Obj], visible: list[np.ndarray]) -> Scene:
    h, w = image.shape[:2]
    sem = np.zeros((h, w), np.uint8)
    ins = np.zeros((h, w), np.uint8)
    for k, (o, v) in enumerate(zip(objects, visible), start=1):
        sem[v] = o.category_id
        ins[v] = k
    return Scene(image=image, objects=objects, semantic=sem, instances=ins)


# ------------------------------------------------------------------------------------------------ sample set
def sample_kinds(n: int = NUM_SAMPLE) -> list[str]:
    """The fixed mix of the sample set: 4 empty, 2 crowd, 6 with a large object, the rest normal."""
    kinds = ["normal"] * n
    for i in (5, 17, 29, 41):
        kinds[i] = "empty"
    for i in (7, 31):
        kinds[i] = "crowd"
    for i in (3, 11, 19, 27, 35, 43):
        kinds[i] = "large"
    return kinds


def scenes_to_dataset(scenes: list[Scene], file_names: list[str]) -> Dataset:
    """Ground truth of ``scenes`` as a COCO :class:`Dataset` (image ids 1..N, annotation ids 1..M)."""
    img_ids, boxes, labels, crowd, area, segs = [], [], [], [], [], []
    for i, sc in enumerate(scenes, start=1):
        for o in sc.objects:
            img_ids.append(i)
            labels.append(o.category_id)
            crowd.append(o.iscrowd)
            area.append(float(rle_area([o.rle])[0]))
            if o.polygon is None:
                boxes.append(rle_to_ltrb([o.rle])[0])
                segs.append({"size": o.rle["size"], "counts": o.rle["counts"].decode("ascii")})
            else:
                p = np.asarray(o.polygon).reshape(-1, 2)
                boxes.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
                segs.append([o.polygon])
    n = len(img_ids)
    inst = Instances(image_ids=np.asarray(img_ids, np.int64), boxes=np.asarray(boxes, np.float64).reshape(n, 4),
                     labels=np.asarray(labels, np.int64), iscrowd=np.asarray(crowd, bool),
                     area=np.asarray(area), segmentations=segs)
    h, w = scenes[0].image.shape[:2] if scenes else (HEIGHT, WIDTH)
    images = ImageTable(ids=np.arange(1, len(scenes) + 1), file_names=file_names,
                        heights=[s.image.shape[0] for s in scenes], widths=[s.image.shape[1] for s in scenes])
    cats = LabelSet(ids=[1, 2, 3], names=CLASS_NAMES, supercategories=["shape"] * 3)
    return Dataset(images=images, categories=cats, annotations=inst,
                   info={"description": "annokit synthetic scenes (sample_data/make_scenes.py)",
                         "version": "1.0", "year": 2026})


# ------------------------------------------------------------------------------------------------ predictions
def perturb_predictions(scenes: list[Scene], seed: int) -> tuple[Instances, list[np.ndarray], list[np.ndarray]]:
    """A seeded imitation of a detector: jittered shapes, misses, false positives, class confusions.

    Returns the detections (boxes, scores and RLE masks), a predicted label map per image (detections with a
    score of at least 0.3 painted in ascending score order) and per-image class scores
    ``(circle, square, triangle, background)``.
    """
    rng = np.random.default_rng(seed)
    img_ids, boxes, labels, scores, segs = [], [], [], [], []
    sem_maps, cls_scores = [], []
    for i, sc in enumerate(scenes, start=1):
        h, w = sc.image.shape[:2]
        dets: list[tuple[int, float, np.ndarray]] = []  # (category, score, polygon (K, 2))
        for o in sc.objects:
            if o.iscrowd:
                continue
            poly = np.asarray(o.polygon).reshape(-1, 2)
            size = np.sqrt(float(rle_area([o.rle])[0]))
            p_miss = 0.35 if size < 32 else 0.12
            if rng.random() < p_miss:
                continue
            cat = o.category_id
            if rng.random() < 0.12:
                cat = int(rng.choice([c for c in (1, 2, 3) if c != cat]))
            centre = poly.mean(0)
            scale = rng.normal(1.0, 0.04, 2)
            shift = rng.normal(0, 0.03 * size, 2) + rng.normal(0, 0.4, 2)
            new = (poly - centre) * scale + centre + shift
            score = float(np.clip(rng.beta(5, 2) - (0.15 if cat != o.category_id else 0), 0.02, 0.99))
            dets.append((cat, score, new))
            if rng.random() < 0.12:  # a duplicate, lower score
                dup = (poly - centre) * rng.normal(1.0, 0.15, 2) + centre + rng.normal(0, 0.15 * size, 2)
                dets.append((cat, score * rng.uniform(0.3, 0.8), dup))
        for _ in range(int(rng.poisson(0.9))):  # false positives
            kind = int(rng.integers(1, 4))
            area = float(np.exp(rng.uniform(np.log(60), np.log(3000))))
            poly = _place(rng, kind, area, h, w)
            if poly is not None:
                dets.append((kind, float(rng.uniform(0.03, 0.6)), poly))
        sem = np.zeros((h, w), np.uint8)
        for cat, score, poly in sorted(dets, key=lambda d: d[1]):
            poly = np.stack([np.clip(poly[:, 0], 0, w), np.clip(poly[:, 1], 0, h)], axis=1)
            flat = _flat(poly)
            rle = polygons_to_rle([flat], h, w)
            if rle_area([rle])[0] == 0:
                continue
            if score >= 0.3:
                sem[rle_to_bitmap(rle)] = cat
            img_ids.append(i)
            labels.append(cat)
            scores.append(round(score, 3))
            boxes.append([min(flat[0::2]), min(flat[1::2]), max(flat[0::2]), max(flat[1::2])])
            segs.append({"size": rle["size"], "counts": rle["counts"].decode("ascii")})
        sem_maps.append(sem)
        # class scores: a noisy softmax that favours the true image label
        truth = (CLASS_NAMES + ["background"]).index(sc.label)
        logits = rng.normal(0, 1.0, 4)
        logits[truth] += 2.2
        p = np.exp(logits - logits.max())
        cls_scores.append(np.round(p / p.sum(), 4))
    n = len(img_ids)
    order = np.lexsort((-np.asarray(scores), np.asarray(img_ids))) if n else np.zeros(0, np.int64)
    dets = Instances(image_ids=np.asarray(img_ids, np.int64)[order],
                     boxes=np.asarray(boxes, np.float64).reshape(n, 4)[order],
                     labels=np.asarray(labels, np.int64)[order], scores=np.asarray(scores)[order],
                     segmentations=[segs[j] for j in order])
    return dets, sem_maps, cls_scores


# ------------------------------------------------------------------------------------------------ writing
def _png_bytes(arr: np.ndarray, palette: list[int] | None = None) -> bytes:
    from PIL import Image

    img = Image.fromarray(arr)
    if palette is not None:
        img = img.convert("P") if img.mode != "P" else img
        img.putpalette(palette)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(header)
    wr.writerows(rows)
    _write(path, buf.getvalue().encode())


def write_sample(out: Path = ROOT / "scenes", *, seed: int = SAMPLE_SEED, n: int = NUM_SAMPLE) -> None:
    """Write the whole scenes sample set under ``out``."""
    kinds = sample_kinds(n)
    scenes = [make_scene(seed, i, kind=kinds[i]) for i in range(n)]
    names = [f"scene_{i:03d}.png" for i in range(1, n + 1)]
    for sub in ("images", "semantic", "instances", "pred_semantic"):
        d = out / sub
        if d.exists():
            for f in d.glob("*.png"):
                f.unlink()
    for name, sc in zip(names, scenes):
        _write(out / "images" / name, _png_bytes(sc.image))
        _write(out / "semantic" / name, _png_bytes(sc.semantic, PALETTE))
        _write(out / "instances" / name, _png_bytes(sc.instances))
    write_instances(scenes_to_dataset(scenes, names), out / "gt.json")
    _write_csv(out / "labels.csv", ["file", "label"], [[nm, sc.label] for nm, sc in zip(names, scenes)])

    dets, sem_maps, cls_scores = perturb_predictions(scenes, seed + 1)
    write_results(dets, out / "pred.json")
    for name, sem in zip(names, sem_maps):
        _write(out / "pred_semantic" / name, _png_bytes(sem, PALETTE))
    _write_csv(out / "pred_labels.csv", ["file", *CLASS_NAMES, "background"],
               [[nm, *(f"{v:.4f}" for v in s)] for nm, s in zip(names, cls_scores)])


def write_cat(out: Path = ROOT / "cat") -> None:
    """scikit-image's ``chelsea`` (a real photograph of a cat) as PNG, with its label."""
    from skimage import data

    _write(out / "chelsea.png", _png_bytes(data.chelsea()))
    _write_csv(out / "labels.csv", ["file", "label"], [["chelsea.png", "cat"]])


if __name__ == "__main__":
    write_sample()
    write_cat()
    print(f"wrote {ROOT / 'scenes'} and {ROOT / 'cat'}")
