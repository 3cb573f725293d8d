"""The predictor protocol: what a backend is, and what it returns.

A :class:`Predictor` turns a batch of images (each ``(H, W, 3)`` uint8 RGB, sizes may differ) into one
:class:`Prediction` per image, in the image's own pixel coordinates. Backends are found by name through the
entry-point group ``annokit.predictors`` (see :mod:`annokit.predict.registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import ConfigDict, field_validator, model_validator

from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.model import FrozenModel
from annokit.errors import AnnokitError, ValidationError

__all__ = ["Task", "Prediction", "Predictor", "PredictionError", "check_images"]


class Task(str, Enum):
    """What a predictor predicts."""

    CLASSIFICATION = "classification"  #: class scores per image
    DETECTION = "detection"  #: boxes, labels, scores
    INSTANCE = "instance"  #: boxes, labels, scores and a mask per object
    SEMANTIC = "semantic"  #: a label map per image


class PredictionError(AnnokitError):
    """A backend failed on an image; the message names the image and says why."""

    def __init__(self, image: str, message: str) -> None:
        self.image = image
        self.reason = message
        super().__init__(f"{image}: {message}")


class Prediction(FrozenModel):
    """One image's prediction, in that image's pixel coordinates.

    Attributes
    ----------
    task : Task
    image_hw : (int, int)
        Height and width of the image the prediction belongs to.
    instances : Instances or None
        detection / instance: ltrb boxes (continuous pixel-edge coordinates, clipped to the image), ``labels``
        (category ids of the predictor's :class:`LabelSet`), ``scores``; for ``instance`` also
        ``segmentations`` (compressed RLE dicts of size ``image_hw``). ``image_ids`` are 0 (a runner sets them).
    label_map : (H, W) integer array or None
        semantic: a label id (of the predictor's :class:`LabelSet`) per pixel.
    class_scores : (C,) float64 or None
        classification: one score per label, in the order of the predictor's :class:`LabelSet`.

    >>> p = Prediction(task="classification", image_hw=(2, 3), class_scores=[0.9, 0.1])
    >>> p.class_scores.dtype.name
    'float64'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    task: Task
    image_hw: tuple[int, int]
    instances: Instances | None = None
    label_map: np.ndarray | None = None
    class_scores: np.ndarray | None = None

    @field_validator("class_scores", mode="before")
    @classmethod
    def _scores(cls, v: Any) -> np.ndarray | None:
        if v is None:
            return None
        a = np.asarray(v, dtype=np.float64)
        if a.ndim != 1:
            raise ValidationError(f"class_scores: expected shape (C,), got {a.shape}")
        return a

    @field_validator("label_map", mode="before")
    @classmethod
    def _label_map(cls, v: Any) -> np.ndarray | None:
        if v is None:
            return None
        a = np.asarray(v)
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
            raise ValidationError(f"label_map: expected an (H, W) integer array, got {a.shape} {a.dtype}")
        return a

    @model_validator(mode="after")
    def _check(self) -> Prediction:
        need = {Task.CLASSIFICATION: "class_scores", Task.DETECTION: "instances", Task.INSTANCE: "instances",
                Task.SEMANTIC: "label_map"}[self.task]
        if getattr(self, need) is None:
            raise ValidationError(f"a {self.task.value} prediction needs {need}")
        if self.label_map is not None and self.label_map.shape != tuple(self.image_hw):
            raise ValidationError(f"label_map: shape {self.label_map.shape} is not the image's {tuple(self.image_hw)}")
        if self.instances is not None and self.instances.scores is None:
            raise ValidationError("instances: predictions need scores")
        return self


@runtime_checkable
class Predictor(Protocol):
    """What every backend provides.

    Required: ``task`` (:class:`Task`), ``labels`` (:class:`LabelSet`) and ``predict``. Optional: ``batch_size``
    (preferred batch size, int), ``warmup()`` and ``close()``; runners call them when present.
    """

    task: Task
    labels: LabelSet

    def predict(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """``images``: each ``(H, W, 3)`` uint8 RGB; returns one :class:`Prediction` per image, in order."""
        ...


def check_images(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Validate a batch: each ``(H, W, 3)`` uint8 with ``H, W >= 1``; raises :class:`ValidationError` naming it."""
    out = []
    for i, im in enumerate(images):
        a = np.asarray(im)
        if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValidationError(f"images[{i}]: expected (H, W, 3) RGB, got shape {a.shape}")
        if a.dtype != np.uint8:
            raise ValidationError(f"images[{i}]: expected uint8, got {a.dtype}")
        out.append(a)
    return out
