"""Seeded synthetic data for LVIS, COCO keypoints, COCO-style rotated boxes and Pascal VOC, shared by the tests and
``bench_protocols.py`` (see ``synth_protocols.py`` for DOTA and Open Images).

    python benchmarks/synth_protocols_more.py lvis OUT_DIR --images 5000
    python benchmarks/synth_protocols_more.py keypoints OUT_DIR --images 5000
    python benchmarks/synth_protocols_more.py rotated OUT_DIR --images 5000
    python benchmarks/synth_protocols_more.py voc OUT_DIR --images 5000
    python benchmarks/synth_protocols_more.py lvis-val OUT_DIR --images 19809   # LVIS v1 val's shape, 300 dets/image

Scores are rounded (to 2 or 3 decimals) so that ties occur; every set mixes object sizes across COCO's small /
medium / large ranges.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

LVIS_GROUPS = {"r": 337, "c": 461, "f": 405}  # LVIS v1's 1,203 categories by frequency group


def _r(v: Any, k: int = 2) -> list[float]:
    return [round(float(x), k) for x in v]


# ------------------------------------------------------------------------------------------ LVIS
def lvis_categories(n_cats: int) -> list[dict[str, Any]]:
    """``n_cats`` categories in LVIS v1's proportions of rare / common / frequent, groups interleaved by id."""
    total = sum(LVIS_GROUPS.values())
    counts = {g: max(1, round(n * n_cats / total)) for g, n in LVIS_GROUPS.items()}
    groups = [g for g, n in counts.items() for _ in range(n)][:n_cats]
    groups += ["f"] * (n_cats - len(groups))
    order = np.random.default_rng(12345).permutation(len(groups))
    return [{"id": i + 1, "name": f"cat{i + 1}", "frequency": groups[j], "synset": f"cat{i + 1}.n.01"}
            for i, j in enumerate(order)]


def lvis_data(seed: int, images: int, *, n_cats: int = 1203, objects: float = 12.0, dets: float = 40.0,
              size: float = 640.0) -> dict[str, Any]:
    """An LVIS-like ground truth (``frequency`` per category; ``neg_category_ids`` and
    ``not_exhaustive_category_ids`` per image; an ``ignore`` flag on ~2 % of objects) and a results list: noisy
    copies of the objects (some with a confused category), false positives on the image's negative categories,
    detections of categories the image does not evaluate, and about 1 image in 20 with more than 300 detections.
    ``dets`` is the mean number of detections an image."""
    rng = np.random.default_rng(seed)
    cats = lvis_categories(n_cats)
    freq = np.array([c["frequency"] for c in cats])
    weight = np.where(freq == "f", 30.0, np.where(freq == "c", 4.0, 0.5))
    weight /= weight.sum()
    imgs: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    res: list[dict[str, Any]] = []
    for im in range(1, images + 1):
        k = int(rng.poisson(objects))
        labels = rng.choice(n_cats, k, p=weight) + 1
        pos = sorted(set(labels.tolist()))
        neg = sorted(set((rng.choice(n_cats, int(rng.integers(0, 8))) + 1).tolist()) - set(pos))
        nel = [c for c in pos if rng.random() < 0.15]
        imgs.append({"id": im, "file_name": f"{im:012d}.jpg", "height": int(size), "width": int(size),
                     "neg_category_ids": neg, "not_exhaustive_category_ids": nel})
        wh = np.exp(rng.uniform(np.log(4), np.log(size * 0.6), (k, 2)))
        xy = rng.uniform(0, size - wh)
        for j in range(k):
            a: dict[str, Any] = {"id": len(anns) + 1, "image_id": im, "category_id": int(labels[j]),
                                 "bbox": _r([*xy[j], *wh[j]]), "area": round(float(wh[j].prod() * 0.8), 2)}
            if rng.random() < 0.02:
                a["ignore"] = 1
            anns.append(a)
        n_det = int(rng.poisson(dets)) + (int(rng.integers(300, 340)) if rng.random() < 0.05 else 0)
        src = rng.integers(0, max(k, 1), n_det)
        kind = rng.random(n_det)
        for t in range(n_det):
            if k and kind[t] < 0.5:  # a copy of an object, sometimes of a confused category
                j = int(src[t])
                b = np.concatenate([xy[j] + rng.normal(0, wh[j] * 0.08), wh[j] * rng.uniform(0.8, 1.25, 2)])
                lab = int(labels[j]) if rng.random() < 0.8 else int(rng.integers(1, n_cats + 1))
            else:
                b = np.concatenate([rng.uniform(0, size * 0.8, 2), rng.uniform(4, size * 0.4, 2)])
                lab = (int(rng.choice(neg)) if neg and kind[t] < 0.75 else int(rng.integers(1, n_cats + 1)))
            res.append({"image_id": im, "category_id": lab, "bbox": _r(b), "score": round(float(rng.random()), 3)})
    return {"gt": {"images": imgs, "annotations": anns, "categories": cats}, "results": res}


LVIS_VAL_IMAGES, LVIS_VAL_OBJECTS = 19_809, 244_707 / 19_809  # LVIS v1 val: images, objects an image (12.35)


def write_lvis_val_like(root: Path, seed: int, images: int = LVIS_VAL_IMAGES, *, objects: float = LVIS_VAL_OBJECTS,
                        dets: int = 300, size: float = 640.0) -> tuple[Path, Path]:
    """An LVIS-v1-val-shaped pair, written as it is made (6M detections never sit in memory as dicts):
    ``root/gt.json`` (1,203 categories in LVIS v1's r / c / f proportions, ~12.35 objects an image, negative and
    not-exhaustive categories, ~2 % ``ignore``) and ``root/results.json`` with exactly ``dets`` detections an image
    (LVIS' cap: half noisy copies of the objects, a fifth of those with a confused category; the rest false
    positives, half of them on the image's negative categories). Each image draws from its own seeded stream, so the
    set of the first ``n`` images of a larger set is the set made with ``images=n``."""
    import orjson

    cats = lvis_categories(1203)
    freq = np.array([c["frequency"] for c in cats])
    weight = np.where(freq == "f", 30.0, np.where(freq == "c", 4.0, 0.5))
    weight /= weight.sum()
    root.mkdir(parents=True, exist_ok=True)
    imgs: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    with open(root / "results.json", "wb") as out:
        out.write(b"[")
        for im in range(1, images + 1):
            rng = np.random.default_rng([seed, im])
            img, objs, res = _lvis_val_image(rng, im, weight, objects, dets, size, len(anns))
            imgs.append(img)
            anns.extend(objs)
            out.write((b"," if im > 1 else b"") + orjson.dumps(res)[1:-1])
        out.write(b"]")
    (root / "gt.json").write_bytes(orjson.dumps({"images": imgs, "annotations": anns, "categories": cats}))
    return root / "gt.json", root / "results.json"


def _lvis_val_image(rng: np.random.Generator, im: int, weight: np.ndarray, objects: float, dets: int, size: float,
                    first_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One image of :func:`write_lvis_val_like`: its record, its objects and its detections (numpy per image)."""
    n_cats = len(weight)
    k = int(rng.poisson(objects))
    labels = rng.choice(n_cats, k, p=weight) + 1
    pos = set(labels.tolist())
    neg = sorted(set((rng.choice(n_cats, int(rng.integers(0, 8))) + 1).tolist()) - pos)
    nel = [c for c in sorted(pos) if rng.random() < 0.15]
    img = {"id": im, "file_name": f"{im:012d}.jpg", "height": int(size), "width": int(size),
           "neg_category_ids": neg, "not_exhaustive_category_ids": nel}
    wh = np.exp(rng.uniform(np.log(4), np.log(size * 0.6), (k, 2)))
    xy = rng.uniform(0, size - wh)
    ign = rng.random(k) < 0.02
    objs = []
    for j in range(k):
        a: dict[str, Any] = {"id": first_id + j + 1, "image_id": im, "category_id": int(labels[j]),
                             "bbox": _r([*xy[j], *wh[j]]), "area": round(float(wh[j].prod() * 0.8), 2)}
        if ign[j]:
            a["ignore"] = 1
        objs.append(a)
    copy = (rng.random(dets) < 0.5) & (k > 0)
    src = rng.integers(0, max(k, 1), dets)
    box = np.column_stack([rng.uniform(0, size * 0.8, (dets, 2)), rng.uniform(4, size * 0.4, (dets, 2))])
    lab = rng.integers(1, n_cats + 1, dets)
    if neg:
        on_neg = rng.random(dets) < 0.5
        lab[on_neg] = rng.choice(neg, int(on_neg.sum()))
    if k:
        c = np.flatnonzero(copy)
        s = src[c]
        box[c, :2] = xy[s] + rng.normal(0, 1, (len(c), 2)) * wh[s] * 0.08
        box[c, 2:] = wh[s] * rng.uniform(0.8, 1.25, (len(c), 2))
        keep = rng.random(len(c)) < 0.8
        lab[c[keep]] = labels[s[keep]]
    box = np.round(box, 2).tolist()
    score = np.round(rng.random(dets), 3).tolist()
    res = [{"image_id": im, "category_id": c, "bbox": b, "score": sc} for c, b, sc in zip(lab.tolist(), box, score)]
    return img, objs, res


# ------------------------------------------------------------------------------------------ keypoints
def keypoints_data(seed: int, images: int, *, k: int = 17, objects: float = 3.0, size: float = 640.0,
                   box_results: bool = False) -> dict[str, Any]:
    """A COCO keypoints ground truth (``K`` keypoints, each labelled visible / occluded / not with fixed odds,
    ``num_keypoints`` the labelled count -- some 0 --, ~3 % crowd) and keypoint results: noisy copies of the
    people (the third value of each triple a confidence), duplicates and false people. ``box_results``: the
    results carry boxes too (then the areas are the boxes')."""
    rng = np.random.default_rng(seed)
    cats = [{"id": 1, "name": "person", "supercategory": "person",
             "keypoints": [f"kp{i}" for i in range(k)], "skeleton": [[1, 2]]}]
    imgs, anns, res = [], [], []
    for im in range(1, images + 1):
        imgs.append({"id": im, "file_name": f"{im:012d}.jpg", "height": int(size), "width": int(size)})
        n = int(rng.poisson(objects))
        wh = np.exp(rng.uniform(np.log(8), np.log(size * 0.6), (n, 2)))
        xy = rng.uniform(0, size - wh)
        for j in range(n):
            pts = xy[j] + rng.uniform(0, 1, (k, 2)) * wh[j]
            v = rng.choice([0, 1, 2], k, p=[0.3, 0.2, 0.5]) if rng.random() > 0.1 else np.zeros(k, int)
            kp = np.column_stack([np.where((v > 0)[:, None], np.round(pts), 0), v]).astype(int)
            crowd = int(rng.random() < 0.03)
            anns.append({"id": len(anns) + 1, "image_id": im, "category_id": 1, "bbox": _r([*xy[j], *wh[j]]),
                         "area": round(float(wh[j].prod() * 0.6), 2), "iscrowd": crowd,
                         "num_keypoints": int((v > 0).sum()), "keypoints": kp.reshape(-1).tolist()})
            for _ in range(int(rng.integers(0, 3))):
                dp = pts + rng.normal(0, wh[j].mean() * rng.uniform(0.01, 0.15), (k, 2))
                res.append(_kp_result(rng, im, dp, box_results))
        for _ in range(int(rng.integers(0, 3))):
            c = rng.uniform(0, size, 2)
            res.append(_kp_result(rng, im, c + rng.normal(0, 30, (k, 2)), box_results))
    return {"gt": {"images": imgs, "annotations": anns, "categories": cats}, "results": res}


def _kp_result(rng: np.random.Generator, im: int, pts: np.ndarray, box: bool) -> dict[str, Any]:
    conf = rng.random(len(pts))
    out: dict[str, Any] = {"image_id": im, "category_id": 1,
                           "keypoints": np.column_stack([np.round(pts, 2), np.round(conf, 3)]).reshape(-1).tolist(),
                           "score": round(float(rng.random()), 2)}
    if box:
        lo, hi = pts.min(0), pts.max(0)
        out["bbox"] = _r([*(lo - 3), *(hi - lo + 6)])
    return out


# ------------------------------------------------------------------------------------------ rotated
def rotated_data(seed: int, images: int, *, n_cats: int = 5, objects: float = 8.0, size: float = 800.0
                 ) -> dict[str, Any]:
    """A COCO-style ground truth with ``"rbox": [cx, cy, w, h, angle]`` (``bbox`` its hull; ``area`` given on
    most, left out on ~20 %; ~3 % crowd) and rotated results (``rbox`` only, no ``bbox``): noisy copies, duplicates,
    confused categories and background boxes."""
    rng = np.random.default_rng(seed)
    cats = [{"id": i + 1, "name": f"class{i + 1}"} for i in range(n_cats)]
    imgs, anns, res = [], [], []
    for im in range(1, images + 1):
        imgs.append({"id": im, "file_name": f"{im:06d}.png", "height": int(size), "width": int(size)})
        n = int(rng.poisson(objects))
        rb = np.column_stack([rng.uniform(0, size, (n, 2)), np.exp(rng.uniform(np.log(4), np.log(200), (n, 2))),
                              rng.uniform(-np.pi, np.pi, n)])
        lab = rng.integers(1, n_cats + 1, n)
        for j in range(n):
            a: dict[str, Any] = {"id": len(anns) + 1, "image_id": im, "category_id": int(lab[j]),
                                 "bbox": _hull(rb[j]), "rbox": _r(rb[j], 3), "iscrowd": int(rng.random() < 0.03)}
            if rng.random() > 0.2:
                a["area"] = round(float(rb[j, 2] * rb[j, 3] * 0.9), 2)
            anns.append(a)
            for _ in range(int(rng.integers(0, 3))):
                d = rb[j] + np.r_[rng.normal(0, rb[j, 2:4].mean() * 0.08, 2), rng.normal(0, rb[j, 2:4] * 0.08),
                                  rng.normal(0, 0.1)]
                d[2:4] = np.abs(d[2:4]) + 0.5
                c = int(lab[j]) if rng.random() < 0.9 else int(rng.integers(1, n_cats + 1))
                res.append({"image_id": im, "category_id": c, "rbox": _r(d, 3), "score": round(float(rng.random()), 2)})
        for _ in range(int(rng.integers(0, 4))):
            d = np.r_[rng.uniform(0, size, 2), rng.uniform(4, 150, 2), rng.uniform(-np.pi, np.pi)]
            res.append({"image_id": im, "category_id": int(rng.integers(1, n_cats + 1)), "rbox": _r(d, 3),
                        "score": round(float(rng.random()), 2)})
    return {"gt": {"images": imgs, "annotations": anns, "categories": cats}, "results": res}


def _hull(rb: np.ndarray) -> list[float]:
    cx, cy, w, h, a = (float(v) for v in rb)
    hw = abs(w / 2 * np.cos(a)) + abs(h / 2 * np.sin(a))
    hh = abs(w / 2 * np.sin(a)) + abs(h / 2 * np.cos(a))
    return _r([cx - hw, cy - hh, 2 * hw, 2 * hh])


# ------------------------------------------------------------------------------------------ VOC
VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


def voc_data(seed: int, images: int, *, objects: float = 2.5, size: int = 500, score_digits: int | None = 3
             ) -> dict[str, Any]:
    """VOC-like ground truth in the devkit's numbers (1-based inclusive integer pixels, ~10 % difficult) and
    detections per class in the devkit's result layout (``image score xmin ymin xmax ymax``, floats); scores rounded
    to ``score_digits`` (ties), or not rounded (None: no ties, for references that sort unstably)."""

    def score() -> float:
        v = float(rng.random())
        return v if score_digits is None else round(v, score_digits)

    rng = np.random.default_rng(seed)
    objs: list[list[tuple[str, list[int], int]]] = []
    dets: dict[str, list[tuple[str, float, list[float]]]] = {c: [] for c in VOC_CLASSES}
    for im in range(images):
        n = max(1, int(rng.poisson(objects)))
        here = []
        for _ in range(n):
            w, h = (int(v) for v in np.exp(rng.uniform(np.log(6), np.log(size * 0.7), 2)))
            x, y = int(rng.integers(1, size - w)), int(rng.integers(1, size - h))
            c = VOC_CLASSES[int(rng.integers(0, len(VOC_CLASSES)))]
            box = [x, y, x + w - 1, y + h - 1]
            here.append((c, box, int(rng.random() < 0.1)))
            for _ in range(int(rng.integers(0, 4))):
                d = np.array(box, float) + rng.normal(0, max(w, h) * 0.06, 4)
                d[2:] = np.maximum(d[2:], d[:2] + 1)  # a box, not an inverted one
                cc = c if rng.random() < 0.85 else VOC_CLASSES[int(rng.integers(0, len(VOC_CLASSES)))]
                dets[cc].append((f"{im:06d}", score(), _r(d, 1)))
        objs.append(here)
        for _ in range(int(rng.integers(0, 5))):
            x, y = rng.uniform(1, size * 0.8, 2)
            w, h = rng.uniform(5, size * 0.3, 2)
            dets[VOC_CLASSES[int(rng.integers(0, len(VOC_CLASSES)))]].append(
                (f"{im:06d}", score(), _r([x, y, x + w, y + h], 1)))
    return {"objects": objs, "dets": dets, "size": size}


def write_voc(root: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """``root/VOC/Annotations/*.xml`` + ``ImageSets/Main/test.txt`` and ``root/results/comp4_det_test_<cls>.txt``."""
    ann = root / "VOC" / "Annotations"
    sets = root / "VOC" / "ImageSets" / "Main"
    out = root / "results"
    for d in (ann, sets, out):
        d.mkdir(parents=True, exist_ok=True)
    s = data["size"]
    names = []
    for i, objs in enumerate(data["objects"]):
        name = f"{i:06d}"
        names.append(name)
        body = "".join(f"<object><name>{c}</name><pose>Unspecified</pose><truncated>0</truncated>"
                       f"<difficult>{d}</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                       f"<ymax>{b[3]}</ymax></bndbox></object>" for c, b, d in objs)
        (ann / f"{name}.xml").write_text(f"<annotation><folder>VOC</folder><filename>{name}.jpg</filename><size>"
                                         f"<width>{s}</width><height>{s}</height><depth>3</depth></size>"
                                         f"<segmented>0</segmented>{body}</annotation>")
    (sets / "test.txt").write_text("\n".join(names) + "\n")
    for c, rows in data["dets"].items():
        (out / f"comp4_det_test_{c}.txt").write_text(
            "".join(f"{im} {sc!r} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}\n" for im, sc, b in rows))
    return root / "VOC", out


def write_voc_as_dota(root: Path, data: dict[str, Any]) -> Path:
    """The ground truth of :func:`voc_data` as DOTA label files (``root/labelTxt/<image>.txt``: the box's four
    corners, class, difficult), what the DOTA devkit's horizontal-box evaluation (``dota_evaluation_task2``, the VOC
    devkit's ``voc_eval`` on DOTA's files) reads; the detections are the VOC result files as they are."""
    out = root / "labelTxt"
    out.mkdir(parents=True, exist_ok=True)
    for i, objs in enumerate(data["objects"]):
        (out / f"{i:06d}.txt").write_text("".join(f"{x0} {y0} {x1} {y0} {x1} {y1} {x0} {y1} {c} {d}\n"
                                                  for c, (x0, y0, x1, y1), d in objs))
    return out


def write_json_pair(root: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """``root/gt.json`` and ``root/results.json``."""
    root.mkdir(parents=True, exist_ok=True)
    g, p = root / "gt.json", root / "results.json"
    g.write_text(json.dumps(data["gt"]))
    p.write_text(json.dumps(data["results"]))
    return g, p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("protocol", choices=["lvis", "lvis-val", "keypoints", "rotated", "voc"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.protocol == "voc":
        print(*write_voc(a.out, voc_data(a.seed, a.images)))
        return
    if a.protocol == "lvis-val":
        print(*write_lvis_val_like(a.out, a.seed, a.images))
        return
    make = {"lvis": lvis_data, "keypoints": keypoints_data, "rotated": rotated_data}[a.protocol]
    print(*write_json_pair(a.out, make(a.seed, a.images)))


if __name__ == "__main__":
    main()
