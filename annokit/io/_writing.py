"""Helpers of the writers of :mod:`annokit.io` (private): whether a format that numbers images and objects in file
order gives the same ids back (then dropping the ids loses nothing, and the report says so), object-level loss
counts, image copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annokit.core.arrays import IntArray
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder

__all__ = ["add_rows", "copy_image", "ids_read_back", "rank_of", "rows_by_image"]


def ids_read_back(ds: Dataset, image_rank: IntArray, object_rank: IntArray | None = None) -> tuple[bool, bool]:
    """``(image ids, annotation ids)``: whether reading the written files back gives them again.

    Reading numbers the images 1..N in the stable order of ``image_rank`` (one sort key per image) and the objects
    1..M in the stable order of ``object_rank`` (one key per object; default: the rank of the object's image, so
    an image's objects in their order).

    >>> from annokit.core.dataset import ImageTable
    >>> from annokit.core.instances import Instances
    >>> from annokit.core.labels import LabelSet
    >>> ds = Dataset(images=ImageTable(ids=[1, 2], file_names=["a", "b"], heights=[1, 1], widths=[1, 1]),
    ...              categories=LabelSet.from_names(["x"]),
    ...              annotations=Instances(image_ids=[2, 1], boxes=[[0, 0, 1, 1]] * 2, labels=[1, 1], ids=[2, 1]))
    >>> ids_read_back(ds, np.array([0, 1]))
    (True, True)
    """
    im, a = ds.images, ds.annotations
    order = np.argsort(image_rank, kind="stable")
    img_ok = bool(np.array_equal(im.ids[order], np.arange(1, len(im) + 1)))
    if object_rank is None:
        object_rank = np.asarray(image_rank)[im.index_of(a.image_ids)] if len(a) else np.zeros(0, np.int64)
    ann_ok = bool(np.array_equal(a.ids[np.argsort(object_rank, kind="stable")], np.arange(1, len(a) + 1)))
    return img_ok, ann_ok


def rank_of(keys: list[tuple[object, ...]]) -> IntArray:
    """Each item's position once ``keys`` are sorted (the order a reader meets the files in).

    >>> rank_of([("b",), ("a",), ("c",)]).tolist()
    [1, 0, 2]
    """
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    return rank


def add_rows(rec: LossRecorder, kind: str, rows: np.ndarray | list[bool], ds: Dataset, kept_in: str | None) -> None:
    """Count the objects where ``rows`` (a boolean mask) is true under ``kind``, the first ones named by id."""
    mask = np.asarray(rows, dtype=bool).reshape(-1)
    where = np.flatnonzero(mask)
    rec.add_many(kind, len(where), [f"annotation id {int(ds.annotations.ids[k])}" for k in where[:5]],
                 kept_in=kept_in)


def copy_image(images: Path | None, file_name: str, dest_dir: Path, stem: str, rec: LossRecorder) -> None:
    """Hard-link (else copy) ``images / file_name`` to ``dest_dir / (stem + its suffix)``; one missing is counted,
    not copied."""
    if images is None:
        return
    from annokit._internal.files import link_or_copy
    from annokit._internal.paths import safe_join

    src = safe_join(images, file_name)
    if not src.is_file():
        rec.add("image not found in the --images folder: not copied", file_name)
        return
    link_or_copy([(src, dest_dir / f"{stem}{src.suffix}")], threads=1)


def rows_by_image(ds: Dataset) -> list[IntArray]:
    """The object rows of each image, in image order (an image's objects in their order)."""
    pos = ds.images.index_of(ds.annotations.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(ds.images) + 1))
    return [order[starts[i]:starts[i + 1]] for i in range(len(ds.images))]
