"""``filter_dataset``: keep the objects and images that match, count what went, by reason."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from annokit.core.arrays import BoolArray, IntArray
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.ops._common import (
    OpsError,
    category_positions,
    count,
    did_you_mean,
    examples,
    rebuild,
    subset,
    take_labels,
)

__all__ = ["filter_dataset", "read_image_list"]


def filter_dataset(ds: Dataset, *, classes: Iterable[str | int] | None = None,
                   exclude_classes: Iterable[str | int] | None = None, min_area: float | None = None,
                   max_area: float | None = None, image_ids: ArrayLike | None = None,
                   drop_empty_images: bool = False, recorder: LossRecorder | None = None) -> Dataset:
    """The images and objects of ``ds`` that match every condition given; each one that goes is counted in
    ``recorder`` under its reason.

    Parameters
    ----------
    ds : Dataset
        The source (not changed).
    classes, exclude_classes : iterable of str or int, optional
        Keep only these categories / drop these (names, or ids); at most one of the two. Dropped categories leave
        the label set with their objects. An unknown name is an :class:`OpsError` with a did-you-mean.
    min_area, max_area : float, optional
        Keep objects with ``min_area <= area <= max_area``; ``area`` is the object's area as the source states it
        (COCO ``area``: the mask's pixels for COCO masks; the box area where the format has none).
    image_ids : array-like of int, optional
        Keep only these images (see :func:`read_image_list`); an unknown id is an :class:`OpsError`.
    drop_empty_images : bool
        Drop the images left without objects (those empty in the source and those the filter emptied, counted
        apart).
    recorder : LossRecorder, optional
        Receives the counts. An object that fails several conditions is counted once, under the first of: its
        image is not kept, its class is not kept, its area is below ``min_area``, above ``max_area``.

    Returns
    -------
    Dataset
        Images in their order, ids unchanged; equal to ``ds`` when nothing is filtered out.

    Examples
    --------
    >>> import annokit
    >>> from annokit.ops import filter_dataset
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> filter_dataset(ds, classes=["circle"], drop_empty_images=True)
    Dataset(28 images, 38 objects, 1 category)
    """
    rec = recorder if recorder is not None else LossRecorder()
    if classes is not None and exclude_classes is not None:
        raise OpsError("give classes or exclude_classes, not both")
    keep_cats = _kept_categories(ds, classes, exclude_classes)
    keep_img = _kept_images(ds, image_ids)
    a = ds.annotations
    img_ok = keep_img[ds.images.index_of(a.image_ids)]
    cat_ok = keep_cats[ds.categories.index_of(a.labels)]
    gone = ~img_ok
    count(rec, "objects dropped: their image is not kept", gone, a.ids)
    for kind, ok in (("objects dropped: class not kept", cat_ok),
                     (f"objects dropped: area below min_area {min_area}", a.area >= (min_area or 0.0)),
                     (f"objects dropped: area above max_area {max_area}",
                      a.area <= (max_area if max_area is not None else np.inf))):
        count(rec, kind, ~gone & ~ok, a.ids)
        gone |= ~ok
    count(rec, "images dropped: not in the image list", ~keep_img, ds.images.ids, "image id")
    if drop_empty_images:
        keep_img = _drop_empty(ds, keep_img, ~gone, rec)
    out = subset(ds, keep_img, ~gone)
    if not keep_cats.all():
        count(rec, "categories dropped: class not kept", ~keep_cats, ds.categories.names, "category")
        out = rebuild(out, categories=take_labels(ds.categories, np.flatnonzero(keep_cats)))
    return out


def _kept_categories(ds: Dataset, classes: Iterable[str | int] | None,
                     exclude: Iterable[str | int] | None) -> BoolArray:
    keep = np.ones(len(ds.categories), dtype=bool)
    if classes is not None:
        keep[:] = False
        keep[category_positions(ds.categories, classes, option="classes")] = True
    if exclude is not None:
        keep[category_positions(ds.categories, exclude, option="exclude_classes")] = False
    return keep


def _kept_images(ds: Dataset, image_ids: ArrayLike | None) -> BoolArray:
    if image_ids is None:
        return np.ones(len(ds.images), dtype=bool)
    pos = ds.images.index_of(np.asarray(image_ids, dtype=np.int64))
    if (pos < 0).any():
        bad = np.asarray(image_ids)[pos < 0]
        raise OpsError(f"images: {len(bad)} image id(s) not in the dataset ({', '.join(examples('id', bad))})")
    keep = np.zeros(len(ds.images), dtype=bool)
    keep[pos] = True
    return keep


def _drop_empty(ds: Dataset, keep_img: BoolArray, keep_obj: BoolArray, rec: LossRecorder) -> BoolArray:
    pos = ds.images.index_of(ds.annotations.image_ids)
    had = np.bincount(pos, minlength=len(ds.images)) > 0
    has = np.bincount(pos[keep_obj], minlength=len(ds.images)) > 0
    count(rec, "images dropped: no objects in the source", keep_img & ~had, ds.images.ids, "image id")
    count(rec, "images dropped: every object filtered out", keep_img & had & ~has, ds.images.ids, "image id")
    return np.asarray(keep_img & has, dtype=bool)


def read_image_list(path: str | os.PathLike[str], ds: Dataset) -> IntArray:
    """The image ids a list file names, one image a line: its id, or its file name as the dataset has it (``#``
    starts a comment). An entry that names no image is a :class:`FormatError` with the line and a did-you-mean.

    Examples
    --------
    >>> import annokit, tempfile, pathlib
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ids.txt"
    >>> _ = p.write_text("3\\nscene_005.png\\n")
    >>> read_image_list(p, ds).tolist()
    [3, 5]
    """
    p = Path(path)
    by_name = {n: int(i) for n, i in zip(ds.images.file_names, ds.images.ids.tolist())}
    known = set(ds.images.ids.tolist())
    out: list[int] = []
    for k, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        if s in by_name:
            out.append(by_name[s])
        elif s.lstrip("-").isdigit() and int(s) in known:
            out.append(int(s))
        else:
            raise FormatError(p, f"line {k}", f"no image with id or file name {s!r}{did_you_mean(s, by_name)}")
    return np.asarray(out, dtype=np.int64)
