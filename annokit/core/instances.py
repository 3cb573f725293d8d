"""Instances: struct-of-arrays of boxes, labels, scores, crowd flags, areas, ids and masks.

One :class:`Instances` holds the objects of a whole dataset (or of one image): each column is a numpy array with
one row per object and ``image_ids`` says which image a row belongs to. Ground truth and predictions are the same
model; predictions carry ``scores``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, field_validator, model_validator

from annokit.core.arrays import BoolArray, FloatArray, IntArray, as_array, check_len, first_bad, frozen
from annokit.core.boxes import box_area
from annokit.core.model import FrozenModel
from annokit.core.rotated import check_corners, check_rboxes
from annokit.errors import ValidationError

__all__ = ["Instances", "Segmentation"]

Segmentation = list[list[float]] | dict[str, Any]
"""One object's mask as the source held it: polygons ``[[x0, y0, x1, y1, ...], ...]`` or a COCO RLE dict."""


def _filled_when_missing() -> Any:
    """A column that may be left out: the model fills it at construction (so its type has no ``None``)."""
    return Field(default=None)


class Instances(FrozenModel):
    """Objects as columns.

    Attributes
    ----------
    image_ids : (N,) int64
        Image each object belongs to.
    boxes : (N, 4) float64
        ltrb boxes in continuous pixel-edge coordinates; finite, ``r >= l`` and ``b >= t``.
    labels : (N,) int64
        Category ids (as in the dataset's :class:`~annokit.core.labels.LabelSet`).
    scores : (N,) float64 or None
        Confidences; ``None`` for ground truth.
    iscrowd : (N,) bool
        COCO crowd regions (all false when not given).
    area : (N,) float64
        The object's area as the source states it (COCO ``area``; the box area when not given).
    ids : (N,) int64
        Annotation ids (1..N when not given).
    segmentations : list or None
        Per object: ``None``, a polygon list ``[[x0, y0, ...], ...]`` or an RLE dict, in the form the source held
        (so that writing back loses nothing); :func:`annokit.core.masks.segmentation_to_rle` makes RLE of any.
    ignore : (N,) bool or None
        COCO's optional ``ignore`` flag.
    extras : list of dict or None
        Other per-object fields of the source, kept for writing back.
    source_wh : (N, 2) float64 or None
        Widths and heights exactly as an xywh source (COCO, YOLO) stated them. ``l + w`` can equal ``r`` for many
        floats ``w``; writers and the COCO evaluator use these where they still agree with ``boxes``, so a file
        round-trips to the last bit and areas equal pycocotools' ``w * h``.
    rboxes : (N, 5) float64 or None
        Oriented boxes ``[cx, cy, w, h, angle]`` (angle in radians; see :mod:`annokit.core.rotated` for the exact
        definition), where the source gives them (COCO-style ``"rbox"``).
    corners : (N, 4, 2) float64 or None
        Four ``(x, y)`` corners of an arbitrary quadrilateral per object, in the source's order (DOTA, YOLO-OBB);
        the primary form of an oriented object: :mod:`annokit.core.rotated` measures polygon IoU on them.
        ``boxes`` is then their axis-aligned hull.
    keypoints : (N, K, 3) float64 or None
        ``K`` keypoints per object as ``(x, y, v)`` (COCO's flat ``[x1, y1, v1, ...]`` reshaped), ``x`` and ``y``
        finite. For ground truth (no ``scores``) ``v`` is COCO's visibility: 0 not labelled, 1 labelled but not
        visible, 2 visible; for predictions it is whatever finite number the predictor wrote there (often a
        per-keypoint confidence), which COCO's evaluation does not read.

    Every array is read-only (a view: the arrays you passed in stay yours); :meth:`replace` makes a changed copy.
    Invalid columns raise :class:`annokit.ValidationError`.

    >>> inst = Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [5, 5, 8, 9]], labels=[3, 3], scores=[0.9, 0.2])
    >>> len(inst[inst.scores > 0.5])
    1
    >>> inst
    Instances(2 objects in 1 image, 1 label, scores)
    """

    image_ids: IntArray
    boxes: FloatArray
    labels: IntArray
    scores: FloatArray | None = None
    iscrowd: BoolArray = _filled_when_missing()
    area: FloatArray = _filled_when_missing()
    ids: IntArray = _filled_when_missing()
    segmentations: list[Segmentation | None] | None = None
    ignore: BoolArray | None = None
    extras: list[dict[str, Any]] | None = None
    source_wh: FloatArray | None = None
    rboxes: FloatArray | None = None
    corners: FloatArray | None = None
    keypoints: FloatArray | None = None

    @field_validator("image_ids", "labels", mode="plain")
    @classmethod
    def _int_col(cls, v: Any, info: Any) -> IntArray:
        return as_array(v, info.field_name, np.int64, 1)

    @field_validator("boxes", mode="plain")
    @classmethod
    def _boxes(cls, v: Any) -> FloatArray:
        return as_array(v, "boxes", np.float64, 2, width=4)

    @field_validator("source_wh", mode="plain")
    @classmethod
    def _wh(cls, v: Any) -> FloatArray | None:
        return None if v is None else as_array(v, "source_wh", np.float64, 2, width=2)

    @field_validator("rboxes", mode="plain")
    @classmethod
    def _rboxes(cls, v: Any) -> FloatArray | None:
        if v is None:
            return None
        arr = as_array(v, "rboxes", np.float64, 2, width=5)
        check_rboxes(arr)
        return arr

    @field_validator("corners", mode="plain")
    @classmethod
    def _corners(cls, v: Any) -> FloatArray | None:
        if v is None:
            return None
        arr = as_array(v, "corners", np.float64, 3)
        if arr.size == 0:
            arr = frozen(arr.reshape(0, 4, 2))
        check_corners(arr)
        return arr

    @field_validator("keypoints", mode="plain")
    @classmethod
    def _keypoints(cls, v: Any) -> FloatArray | None:
        if v is None:
            return None
        if np.ndim(v) == 1 and np.size(v) == 0:  # no objects: (0, 0, 3)
            v = np.zeros((0, 0, 3))
        arr = as_array(v, "keypoints", np.float64, 3)
        if arr.shape[2] != 3:
            raise ValidationError(f"keypoints: expected shape (N, K, 3) [x, y, v], got {arr.shape}")
        bad = ~np.isfinite(arr).all(axis=(1, 2))
        if bad.any():
            i = first_bad(bad)
            raise ValidationError(f"keypoints[{i}]: not finite ({arr[i].reshape(-1).tolist()})")
        return arr

    @field_validator("scores", "area", mode="plain")
    @classmethod
    def _float_col(cls, v: Any, info: Any) -> FloatArray | None:
        return None if v is None else as_array(v, info.field_name, np.float64, 1)

    @field_validator("iscrowd", "ignore", mode="plain")
    @classmethod
    def _bool_col(cls, v: Any, info: Any) -> BoolArray | None:
        return None if v is None else as_array(v, info.field_name, bool, 1)

    @field_validator("ids", mode="plain")
    @classmethod
    def _ids(cls, v: Any) -> IntArray | None:
        return None if v is None else as_array(v, "ids", np.int64, 1)

    @model_validator(mode="after")
    def _check(self) -> Instances:
        n = len(self.image_ids)
        check_len(self.boxes, n, "boxes")
        check_len(self.labels, n, "labels")
        for name in ("scores", "iscrowd", "area", "ids", "segmentations", "ignore", "extras", "source_wh", "rboxes",
                     "corners", "keypoints"):
            col = self.__dict__[name]
            if col is not None:
                check_len(col, n, name)
        b = self.boxes
        bad = np.asarray(~np.isfinite(b).all(axis=1))
        if bad.any():
            i = first_bad(bad)
            raise ValidationError(f"boxes[{i}]: not finite ({b[i].tolist()})")
        bad = (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])
        if bad.any():
            i = first_bad(bad)
            raise ValidationError(f"boxes[{i}]: right < left or bottom < top ({b[i].tolist()}, ltrb)")
        if self.scores is not None and not np.isfinite(self.scores).all():
            i = first_bad(~np.isfinite(self.scores))
            raise ValidationError(f"scores[{i}]: not finite ({self.scores[i]})")
        kp = self.keypoints
        if kp is not None and self.scores is None:
            v = kp[:, :, 2]
            bad = ~((v == 0) | (v == 1) | (v == 2)).all(axis=1)
            if bad.any():
                i = first_bad(bad)
                raise ValidationError(f"keypoints[{i}]: visibility must be 0, 1 or 2 ({v[i].tolist()})")
        area = self.__dict__["area"]
        if area is not None and not (np.isfinite(area) & (area >= 0)).all():
            i = first_bad(~(np.isfinite(area) & (area >= 0)))
            raise ValidationError(f"area[{i}]: must be finite and >= 0 ({area[i]})")
        # fill defaults (frozen model: set through __dict__ once, at construction)
        if self.__dict__["iscrowd"] is None:
            self.__dict__["iscrowd"] = frozen(np.zeros(n, dtype=bool))
        if self.__dict__["area"] is None:
            self.__dict__["area"] = frozen(box_area(b))
        if self.__dict__["ids"] is None:
            self.__dict__["ids"] = frozen(np.arange(1, n + 1, dtype=np.int64))
        return self

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.image_ids)

    def __repr__(self) -> str:
        n, imgs, labs = len(self), len(np.unique(self.image_ids)), len(np.unique(self.labels))
        cols = [c for c in ("scores", "segmentations", "ignore", "extras", "rboxes", "corners", "keypoints")
                if getattr(self, c) is not None]
        crowd = int(self.iscrowd.sum())
        parts = [f"{n} object{'s' * (n != 1)} in {imgs} image{'s' * (imgs != 1)}",
                 f"{labs} label{'s' * (labs != 1)}"] + ([f"{crowd} crowd"] if crowd else []) + cols
        return f"Instances({', '.join(parts)})"

    __str__ = __repr__

    @property
    def has_scores(self) -> bool:
        return self.scores is not None

    def __getitem__(self, index: ArrayLike | slice | int) -> Instances:
        """Rows selected by a boolean mask, an index array, an int or a slice (a new object; nothing is mutated)."""
        idx = np.atleast_1d(np.arange(len(self))[index])  # type: ignore[index]

        def take(col: Any) -> Any:
            if col is None:
                return None
            if isinstance(col, np.ndarray):
                return col[idx]
            return [col[i] for i in idx]

        cols = {name: take(getattr(self, name)) for name in type(self).model_fields}
        return Instances.model_construct(**cols)  # type: ignore[no-any-return]

    def widths_heights(self) -> FloatArray:
        """``(N, 2)`` box widths and heights: ``source_wh`` where it still agrees with ``boxes``, else ``r - l``."""
        b = self.boxes
        wh = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
        if self.source_wh is not None:
            s = self.source_wh
            ok = ((b[:, 0] + s[:, 0]) == b[:, 2]) & ((b[:, 1] + s[:, 1]) == b[:, 3])
            wh[ok] = s[ok]
        return wh

    def for_image(self, image_id: int) -> Instances:
        """The objects of one image."""
        return self[self.image_ids == image_id]

    @classmethod
    def empty(cls, *, with_scores: bool = False) -> Instances:
        """No objects (with an empty ``scores`` column when ``with_scores``)."""
        return cls(
            image_ids=np.zeros(0, np.int64),
            boxes=np.zeros((0, 4)),
            labels=np.zeros(0, np.int64),
            scores=np.zeros(0) if with_scores else None,
        )

    @classmethod
    def for_one_image(cls, boxes: ArrayLike, labels: ArrayLike, scores: ArrayLike | None = None, *,
                      image_id: int = 0, **columns: Any) -> Instances:
        """The objects of a single image, without an ``image_ids`` column to build by hand.

        >>> Instances.for_one_image([[0, 0, 4, 4]], [1], [0.5], image_id=7).image_ids.tolist()
        [7]
        """
        n = len(np.asarray(labels).reshape(-1))
        cols: dict[str, Any] = {"boxes": boxes, "labels": labels, "scores": scores, **columns}
        return cls(image_ids=np.full(n, image_id, np.int64), **cols)

    @classmethod
    def concat(cls, parts: Sequence[Instances]) -> Instances:
        """Rows of all ``parts`` in order (optional columns kept only where every part has them)."""
        if not parts:
            return cls.empty()
        out: dict[str, Any] = {}
        for name in cls.model_fields:
            cols = [getattr(p, name) for p in parts]
            if any(c is None for c in cols):
                out[name] = None
            elif isinstance(cols[0], np.ndarray):
                if len({c.shape[1:] for c in cols}) > 1:
                    raise ValidationError(f"concat: the parts' {name} have different shapes "
                                          f"({sorted({c.shape[1:] for c in cols})})")
                out[name] = np.concatenate(cols)
            else:
                out[name] = [x for c in cols for x in c]
        return cls(**out)

    def replace(self, **changes: Any) -> Instances:
        """A validated copy with some columns replaced."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes)
        return Instances(**data)
