"""Instances: struct-of-arrays of boxes, labels, scores, crowd flags, areas, ids and masks.

One :class:`Instances` holds the objects of a whole dataset (or of one image): each column is a numpy array with
one row per object and ``image_ids`` says which image a row belongs to. Ground truth and predictions are the same
model; predictions carry ``scores``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from annokit.core._arrays import as_array, check_len, first_bad
from annokit.core.boxes import box_area
from annokit.errors import ValidationError

__all__ = ["Instances"]


class Instances(BaseModel):
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
        COCO crowd regions.
    area : (N,) float64
        The object's area as the source states it (COCO ``area``; the box area when the source has none).
    ids : (N,) int64
        Annotation ids (1..N when the source has none).
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

    >>> inst = Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [5, 5, 8, 9]], labels=[3, 3], scores=[0.9, 0.2])
    >>> len(inst[inst.scores > 0.5])
    1
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    image_ids: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None = None
    iscrowd: np.ndarray | None = None
    area: np.ndarray | None = None
    ids: np.ndarray | None = None
    segmentations: list[Any] | None = None
    ignore: np.ndarray | None = None
    extras: list[dict[str, Any]] | None = None
    source_wh: np.ndarray | None = None

    @field_validator("image_ids", "labels", mode="before")
    @classmethod
    def _int_col(cls, v: Any, info: Any) -> np.ndarray:
        return as_array(v, info.field_name, np.int64, 1)

    @field_validator("boxes", mode="before")
    @classmethod
    def _boxes(cls, v: Any) -> np.ndarray:
        return as_array(v, "boxes", np.float64, 2, width=4)

    @field_validator("source_wh", mode="before")
    @classmethod
    def _wh(cls, v: Any) -> np.ndarray | None:
        return None if v is None else as_array(v, "source_wh", np.float64, 2, width=2)

    @field_validator("scores", "area", mode="before")
    @classmethod
    def _float_col(cls, v: Any, info: Any) -> np.ndarray | None:
        return None if v is None else as_array(v, info.field_name, np.float64, 1)

    @field_validator("iscrowd", "ignore", mode="before")
    @classmethod
    def _bool_col(cls, v: Any, info: Any) -> np.ndarray | None:
        return None if v is None else as_array(v, info.field_name, bool, 1)

    @field_validator("ids", mode="before")
    @classmethod
    def _ids(cls, v: Any) -> np.ndarray | None:
        return None if v is None else as_array(v, "ids", np.int64, 1)

    @model_validator(mode="after")
    def _check(self) -> "Instances":
        n = len(self.image_ids)
        check_len(self.boxes, n, "boxes")
        check_len(self.labels, n, "labels")
        for name in ("scores", "iscrowd", "area", "ids", "segmentations", "ignore", "extras", "source_wh"):
            col = getattr(self, name)
            if col is not None:
                check_len(col, n, name)
        b = self.boxes
        bad = ~np.isfinite(b).all(axis=1)
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
        if self.area is not None and not (np.isfinite(self.area) & (self.area >= 0)).all():
            i = first_bad(~(np.isfinite(self.area) & (self.area >= 0)))
            raise ValidationError(f"area[{i}]: must be finite and >= 0 ({self.area[i]})")
        # fill defaults (frozen model: set through __dict__ once, at construction)
        if self.iscrowd is None:
            self.__dict__["iscrowd"] = np.zeros(n, dtype=bool)
        if self.area is None:
            self.__dict__["area"] = box_area(b)
        if self.ids is None:
            self.__dict__["ids"] = np.arange(1, n + 1, dtype=np.int64)
        return self

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def has_scores(self) -> bool:
        return self.scores is not None

    def __getitem__(self, index: Any) -> "Instances":
        """Rows selected by a boolean mask, an index array or a slice (a new object; nothing is mutated)."""
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)

        def take(col: Any) -> Any:
            if col is None:
                return None
            if isinstance(col, np.ndarray):
                return col[idx]
            return [col[i] for i in idx]

        return Instances.model_construct(**{name: take(getattr(self, name)) for name in type(self).model_fields})

    def widths_heights(self) -> np.ndarray:
        """``(N, 2)`` box widths and heights: ``source_wh`` where it still agrees with ``boxes``, else ``r - l``."""
        b = self.boxes
        wh = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
        if self.source_wh is not None:
            s = self.source_wh
            ok = ((b[:, 0] + s[:, 0]) == b[:, 2]) & ((b[:, 1] + s[:, 1]) == b[:, 3])
            wh[ok] = s[ok]
        return wh

    def for_image(self, image_id: int) -> "Instances":
        return self[self.image_ids == image_id]

    @classmethod
    def empty(cls, *, with_scores: bool = False) -> "Instances":
        return cls(
            image_ids=np.zeros(0, np.int64),
            boxes=np.zeros((0, 4)),
            labels=np.zeros(0, np.int64),
            scores=np.zeros(0) if with_scores else None,
        )

    @classmethod
    def concat(cls, parts: list["Instances"]) -> "Instances":
        """Rows of all ``parts`` in order (optional columns kept only where every part has them)."""
        if not parts:
            return cls.empty()
        out: dict[str, Any] = {}
        for name in cls.model_fields:
            cols = [getattr(p, name) for p in parts]
            if any(c is None for c in cols):
                out[name] = None
            elif isinstance(cols[0], np.ndarray):
                out[name] = np.concatenate(cols)
            else:
                out[name] = [x for c in cols for x in c]
        return cls(**out)

    def replace(self, **changes: Any) -> "Instances":
        """A validated copy with some columns replaced."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes)
        return Instances(**data)


