"""Hypothesis strategies and helpers for the dataset operations' tests: small datasets built as columns, with the
optional columns (segmentations, extras, ignore flags, image extras) some of the time."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from annokit import Dataset, ImageTable, Instances, LabelSet

NAMES = ["person", "car", "dog", "cat", "tree", "bus", "sign", "cup"]


@st.composite
def datasets(draw: Any, *, max_images: int = 12, max_objects: int = 6, single_class_images: bool = False,
             scores: bool = False, extras: bool = True, min_images: int = 1) -> Dataset:
    """A dataset of up to ``max_images`` images with unique file names; ``single_class_images``: the objects of an
    image are all of one class."""
    n_img = draw(st.integers(min_images, max_images))
    img_ids = draw(st.lists(st.integers(1, 500), min_size=n_img, max_size=n_img, unique=True))
    n_cat = draw(st.integers(1, 5))
    cat_ids = draw(st.lists(st.integers(1, 90), min_size=n_cat, max_size=n_cat, unique=True))
    names = draw(st.permutations(NAMES))[:n_cat]
    hw = [(draw(st.integers(8, 64)), draw(st.integers(8, 64))) for _ in img_ids]
    rows: list[tuple[int, int, list[float]]] = []
    for i, (h, w) in zip(img_ids, hw):
        n = draw(st.integers(0, max_objects))
        one = draw(st.sampled_from(cat_ids))
        for _ in range(n):
            l, t = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
            box = [float(l), float(t), float(draw(st.integers(l, w))), float(draw(st.integers(t, h)))]
            rows.append((i, one if single_class_images else draw(st.sampled_from(cat_ids)), box))
    n = len(rows)
    with_extras = extras and draw(st.booleans())
    first_ann = draw(st.integers(1, 1000))
    inst = Instances(
        image_ids=np.array([r[0] for r in rows], dtype=np.int64),
        boxes=np.array([r[2] for r in rows], dtype=np.float64).reshape(-1, 4),
        labels=np.array([r[1] for r in rows], dtype=np.int64),
        scores=np.array([draw(st.floats(0, 1)) for _ in rows]) if scores else None,
        iscrowd=np.array([draw(st.booleans()) for _ in rows], dtype=bool) if draw(st.booleans()) else None,
        ids=np.arange(first_ann, first_ann + n),
        segmentations=[[[r[2][0], r[2][1], r[2][2], r[2][1], r[2][2], r[2][3]]] if k % 2 else None
                       for k, r in enumerate(rows)] if with_extras else None,
        extras=[{"note": k} if k % 3 == 0 else {} for k in range(n)] if with_extras else None,
    )
    images = ImageTable(ids=img_ids, file_names=[f"d{k % 3}/img_{i}.jpg" for k, i in enumerate(img_ids)],
                        heights=[h for h, _ in hw], widths=[w for _, w in hw],
                        extras=[{"video": k % 4} for k in range(n_img)] if with_extras else None)
    cats = LabelSet(ids=cat_ids, names=names, supercategories=["thing"] * n_cat)
    return Dataset(images=images, categories=cats, annotations=inst, info={"description": "hypothesis"})


def canonical(ds: Dataset) -> Dataset:
    """``ds`` with images sorted by id and objects by id (for comparing datasets up to row order)."""
    from annokit.ops._common import rebuild, take_images

    return rebuild(ds, images=take_images(ds.images, np.argsort(ds.images.ids, kind="stable")),
                   annotations=ds.annotations[np.argsort(ds.annotations.ids, kind="stable")])


def content(ds: Dataset) -> dict[tuple[str, int, int], list[tuple[str, tuple[float, ...], bool]]]:
    """Per image (file name, height, width): its objects as (class name, box, crowd), sorted -- a dataset's content
    with every id forgotten."""
    names = dict(zip(ds.categories.ids.tolist(), ds.categories.names))
    out: dict[tuple[str, int, int], list[tuple[str, tuple[float, ...], bool]]] = {}
    for im in ds:
        a = im.annotations
        out[(im.file_name, im.height, im.width)] = sorted(
            (names[int(c)], tuple(b), bool(z)) for c, b, z in zip(a.labels, a.boxes.tolist(), a.iscrowd))
    return out
