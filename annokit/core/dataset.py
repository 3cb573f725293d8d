"""Image records and datasets."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, PrivateAttr, field_validator, model_validator

from annokit._internal.arrays import index_of
from annokit.core.arrays import IntArray, as_array
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.model import FrozenModel
from annokit.errors import ValidationError

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping, Sequence

    import pandas

    from annokit._internal.progress import Progress
    from annokit.core.losses import LossRecorder
    from annokit.ops import DedupeResult, MergeResult, OnConflict, SampleBy, SplitResult, Stratify

__all__ = ["Dataset", "ImageRecord", "ImageTable", "image_subset"]


class ImageTable(FrozenModel):
    """Images as columns: ``ids`` (int64), ``file_names``, ``heights`` and ``widths`` (sizes are (height, width)).

    >>> t = ImageTable(ids=[7], file_names=["a.jpg"], heights=[480], widths=[640])
    >>> t.hw_of(7)
    (480, 640)
    """

    ids: IntArray
    file_names: list[str]
    heights: IntArray
    widths: IntArray
    extras: list[dict[str, Any]] | None = None

    @field_validator("ids", "heights", "widths", mode="plain")
    @classmethod
    def _col(cls, v: Any, info: Any) -> IntArray:
        return as_array(v, info.field_name, np.int64, 1)

    @model_validator(mode="after")
    def _check(self) -> ImageTable:
        n = len(self.ids)
        for name in ("file_names", "heights", "widths", "extras"):
            col = getattr(self, name)
            if col is not None and len(col) != n:
                raise ValidationError(f"{n} ids but {len(col)} {name}")
        uniq, counts = np.unique(self.ids, return_counts=True)
        if (counts > 1).any():
            raise ValidationError(f"image id {int(uniq[counts > 1][0])} appears more than once")
        if (self.heights < 0).any() or (self.widths < 0).any():
            raise ValidationError("negative image size")
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"ImageTable({len(self)} image{'s' * (len(self) != 1)})"

    __str__ = __repr__

    def index_of(self, image_ids: ArrayLike) -> IntArray:
        """Positions of ``image_ids`` in ``ids`` (-1 where unknown)."""
        return index_of(self.ids, image_ids)

    def hw_of(self, image_id: int) -> tuple[int, int]:
        """``(height, width)`` of one image; :class:`KeyError` for an unknown id."""
        i = int(self.index_of(np.array([image_id]))[0])
        if i < 0:
            raise KeyError(f"unknown image id {image_id}")
        return int(self.heights[i]), int(self.widths[i])


@dataclass(frozen=True)
class ImageRecord:
    """One image of a :class:`Dataset` with its objects (what ``ds[image_id]`` and ``iter(ds)`` give)."""

    id: int
    file_name: str
    height: int
    width: int
    annotations: Instances
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def image_hw(self) -> tuple[int, int]:
        return (self.height, self.width)


class Dataset(FrozenModel):
    """Images, categories and their objects (ground truth, or predictions when ``annotations.scores`` is set).

    A container of images: ``len(ds)`` images, ``ds[image_id]`` one :class:`ImageRecord`, ``for im in ds`` every
    image in order with its objects.

    >>> import annokit
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> ds
    Dataset(48 images, 135 objects, 3 categories)
    >>> ds[ds.images.ids[0]].annotations
    Instances(4 objects in 1 image, 3 labels, segmentations)
    """

    images: ImageTable
    categories: LabelSet
    annotations: Instances
    info: dict[str, Any] | None = None
    licenses: list[Any] | None = None
    extras: dict[str, Any] = Field(default_factory=dict, description="other top-level fields, kept")
    _groups: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> Dataset:
        ann = self.annotations
        if len(ann):
            unknown = self.images.index_of(ann.image_ids) < 0
            if unknown.any():
                i = int(np.flatnonzero(unknown)[0])
                raise ValidationError(f"annotations[{i}]: unknown image id {int(ann.image_ids[i])}")
            unknown = self.categories.index_of(ann.labels) < 0
            if unknown.any():
                i = int(np.flatnonzero(unknown)[0])
                raise ValidationError(f"annotations[{i}]: unknown category id {int(ann.labels[i])}")
        return self

    # ------------------------------------------------------------------ a container of images
    def __len__(self) -> int:
        return len(self.images)

    def _rows_by_image(self) -> tuple[IntArray, IntArray]:
        """Annotation rows sorted by image position (stable), and each image's start in them (computed once)."""
        if self._groups is None:
            pos = self.images.index_of(self.annotations.image_ids)
            order = np.argsort(pos, kind="stable")
            starts = np.searchsorted(pos[order], np.arange(len(self.images) + 1))
            self._groups = (order, starts)
        return cast(tuple[IntArray, IntArray], self._groups)

    def _record(self, i: int) -> ImageRecord:
        order, starts = self._rows_by_image()
        im = self.images
        return ImageRecord(id=int(im.ids[i]), file_name=im.file_names[i], height=int(im.heights[i]),
                           width=int(im.widths[i]), annotations=self.annotations[order[starts[i]:starts[i + 1]]],
                           extras=dict(im.extras[i]) if im.extras is not None else {})

    def __getitem__(self, image_id: int) -> ImageRecord:
        """The image with id ``image_id`` and its objects; :class:`KeyError` for an unknown id."""
        i = int(self.images.index_of(np.array([image_id]))[0])
        if i < 0:
            raise KeyError(f"unknown image id {image_id}")
        return self._record(i)

    def __iter__(self) -> Iterator[ImageRecord]:  # type: ignore[override]
        """Every image in order, with its objects."""
        for i in range(len(self.images)):
            yield self._record(i)

    def __contains__(self, image_id: object) -> bool:
        return isinstance(image_id, (int, np.integer)) and bool(self.images.index_of(np.array([image_id]))[0] >= 0)

    def __repr__(self) -> str:
        n, m, k = len(self), len(self.annotations), len(self.categories)
        what = "detections" if self.annotations.scores is not None else "objects"
        return f"Dataset({n} image{'s' * (n != 1)}, {m} {what}, {k} categor{'ies' if k != 1 else 'y'})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """A small table for notebooks: the counts, then objects per category."""
        cats = self.categories
        counts = np.bincount(cats.index_of(self.annotations.labels), minlength=len(cats)) if len(cats) else ()
        rows = "".join(f"<tr><td>{int(cid)}</td><td>{html.escape(name)}</td><td>{int(c)}</td></tr>"
                       for cid, name, c in zip(cats.ids, cats.names, counts))
        return (f"<div><b>{html.escape(repr(self))}</b><table><thead><tr><th>id</th><th>category</th>"
                f"<th>objects</th></tr></thead><tbody>{rows}</tbody></table></div>")

    def to_pandas(self) -> pandas.DataFrame:
        """One row per object: image id and file name, category id and name, ``l t r b``, area, crowd, id, and the
        score for predictions. Needs pandas (``pip install 'annokit[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ValidationError("to_pandas needs pandas: pip install 'annokit[pandas]'") from None
        a = self.annotations
        img_pos = self.images.index_of(a.image_ids)
        cat_pos = self.categories.index_of(a.labels)
        cols: dict[str, Any] = {
            "image_id": np.asarray(a.image_ids),
            "file_name": [self.images.file_names[i] for i in img_pos],
            "category_id": np.asarray(a.labels),
            "category": [self.categories.names[k] for k in cat_pos],
            "l": a.boxes[:, 0], "t": a.boxes[:, 1], "r": a.boxes[:, 2], "b": a.boxes[:, 3],
            "area": np.asarray(a.area), "iscrowd": np.asarray(a.iscrowd), "id": np.asarray(a.ids),
        }
        if a.scores is not None:
            cols["score"] = np.asarray(a.scores)
        return pd.DataFrame(cols)

    def with_annotations(self, annotations: Instances) -> Dataset:
        """The same images and categories with other objects."""
        return Dataset(
            images=self.images,
            categories=self.categories,
            annotations=annotations,
            info=self.info,
            licenses=self.licenses,
            extras=self.extras,
        )

    # ------------------------------------------------------------------ operations: thin calls of annokit.ops
    def filter(self, *, classes: Iterable[str | int] | None = None,
               exclude_classes: Iterable[str | int] | None = None, min_area: float | None = None,
               max_area: float | None = None, image_ids: ArrayLike | None = None, drop_empty_images: bool = False,
               recorder: LossRecorder | None = None) -> Dataset:
        """The images and objects that match (:func:`annokit.ops.filter_dataset`)."""
        from annokit.ops import filter_dataset

        return filter_dataset(self, classes=classes, exclude_classes=exclude_classes, min_area=min_area,
                              max_area=max_area, image_ids=image_ids, drop_empty_images=drop_empty_images,
                              recorder=recorder)

    def merge(self, *others: Dataset, on_conflict: OnConflict = "error", by_id: bool = False,
              by_content: bool = False, image_roots: Sequence[str | os.PathLike[str]] | None = None,
              names: Sequence[str] | None = None, recorder: LossRecorder | None = None,
              progress: Progress | None = None) -> MergeResult:
        """This dataset and ``others`` merged, with the id mapping (:func:`annokit.ops.merge_datasets`)."""
        from annokit.ops import merge_datasets

        return merge_datasets([self, *others], on_conflict=on_conflict, by_id=by_id, by_content=by_content,
                              image_roots=image_roots, names=names, recorder=recorder, progress=progress)

    def split(self, ratios: Mapping[str, float], *, stratify: Stratify = "class", group_by: str | None = None,
              seed: int = 0, recorder: LossRecorder | None = None, progress: Progress | None = None) -> SplitResult:
        """Reproducible, stratified splits (:func:`annokit.ops.split_dataset`)."""
        from annokit.ops import split_dataset

        return split_dataset(self, ratios, stratify=stratify, group_by=group_by, seed=seed, recorder=recorder,
                             progress=progress)

    def sample(self, n: int, *, by: SampleBy = "random", predictions: Dataset | Instances | None = None,
               seed: int = 0, recorder: LossRecorder | None = None) -> Dataset:
        """``n`` images, at random, class-balanced or least certain (:func:`annokit.ops.sample_dataset`)."""
        from annokit.ops import sample_dataset

        return sample_dataset(self, n, by=by, predictions=predictions, seed=seed, recorder=recorder)

    def remap(self, mapping: Mapping[str | int, Any], *, renumber: bool = False,
              recorder: LossRecorder | None = None) -> Dataset:
        """Categories renamed, merged or dropped (:func:`annokit.ops.remap_dataset`)."""
        from annokit.ops import remap_dataset

        return remap_dataset(self, mapping, renumber=renumber, recorder=recorder)

    def dedupe(self, *, iou: float = 0.95, image_root: str | os.PathLike[str] | None = None,
               recorder: LossRecorder | None = None, progress: Progress | None = None) -> DedupeResult:
        """Duplicate objects and images, found (:func:`annokit.ops.dedupe_dataset`)."""
        from annokit.ops import dedupe_dataset

        return dedupe_dataset(self, iou=iou, image_root=image_root, recorder=recorder, progress=progress)


def image_subset(ds: Dataset, idx: np.ndarray) -> Dataset:
    """The images at positions ``idx`` of ``ds`` (in that order) with every annotation of theirs (in ``ds``'s order),
    every category and the dataset's top-level fields."""
    im = ds.images
    rows = idx.tolist()
    images = ImageTable(ids=im.ids[idx], file_names=[im.file_names[i] for i in rows], heights=im.heights[idx],
                        widths=im.widths[idx], extras=None if im.extras is None else [im.extras[i] for i in rows])
    keep = np.zeros(len(im), dtype=bool)
    keep[idx] = True
    ann = ds.annotations
    return Dataset(images=images, categories=ds.categories, annotations=ann[keep[im.index_of(ann.image_ids)]],
                   info=ds.info, licenses=ds.licenses, extras=ds.extras)
