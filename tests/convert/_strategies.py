"""Hypothesis strategies: small COCO datasets with the features converters lose (shared by the round-trip tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

NAMES = ["person", "car", "dog", "cat", "tree", "bus", "sign", "cup"]


def _coord(max_v: int) -> st.SearchStrategy[float]:
    return st.one_of(st.integers(0, max_v).map(float),
                     st.integers(0, max_v * 100).map(lambda v: round(v / 100, 2)),
                     st.floats(0, max_v, allow_nan=False, allow_infinity=False))


@st.composite
def coco_dicts(draw: Any, *, polygons: bool = True, crowd: bool = True, empty_images: bool = True) -> dict:
    n_img = draw(st.integers(1, 4))
    img_ids = draw(st.lists(st.integers(1, 10_000), min_size=n_img, max_size=n_img, unique=True))
    n_cat = draw(st.integers(1, 4))
    cat_ids = draw(st.lists(st.integers(1, 90), min_size=n_cat, max_size=n_cat, unique=True))
    names = draw(st.permutations(NAMES))[:n_cat]
    images = []
    for k, i in enumerate(img_ids):
        images.append({"id": i, "file_name": f"dir{k % 2}/img_{i}.jpg", "height": draw(st.integers(8, 120)),
                       "width": draw(st.integers(8, 120))})
    anns = []
    aid = draw(st.integers(1, 1000))
    for im in images:
        n = draw(st.integers(0 if empty_images else 1, 4))
        for _ in range(n):
            W, H = im["width"], im["height"]
            x = draw(_coord(W - 2))
            y = draw(_coord(H - 2))
            w = draw(_coord(2)) if draw(st.booleans()) else round(draw(st.floats(0, W - x)), 2)
            h = draw(_coord(2)) if draw(st.booleans()) else round(draw(st.floats(0, H - y)), 2)
            a: dict[str, Any] = {"id": aid, "image_id": im["id"], "category_id": draw(st.sampled_from(cat_ids)),
                                 "bbox": [x, y, w, h], "area": round(w * h, 3), "iscrowd": 0}
            kind = draw(st.sampled_from(["none", "poly", "multi", "rle"] if polygons else ["none"]))
            if kind in ("poly", "multi"):
                parts = []
                for _ in range(1 if kind == "poly" else 2):
                    pts = draw(st.lists(st.tuples(_coord(W), _coord(H)), min_size=3, max_size=6))
                    parts.append([v for p in pts for v in p])
                a["segmentation"] = parts
            elif kind == "rle" and crowd:
                from pycocotools import mask as M

                m = np.zeros((H, W), np.uint8, order="F")
                m[int(y):int(y) + 2, int(x):int(x) + 2] = 1
                r = M.encode(m)
                a["segmentation"] = {"size": [H, W], "counts": r["counts"].decode()}
                a["iscrowd"] = 1
            if draw(st.booleans()):
                a["difficult"] = draw(st.integers(0, 1))
            anns.append(a)
            aid += 1
    cats = [{"id": c, "name": n, "supercategory": "thing"} for c, n in zip(cat_ids, names)]
    return {"info": {"description": "hypothesis"}, "images": images, "annotations": anns, "categories": cats}
