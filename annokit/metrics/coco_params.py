"""COCO evaluation parameters (:class:`COCOParams`, as ``COCOeval.params``), apart from the evaluation.

:mod:`annokit.metrics.coco` re-exports them (``from annokit.metrics.coco import COCOParams`` is the documented
import). They live here so that ``annokit eval`` can check its parameter options before it reads the files without
importing the evaluation engine, which it then imports after reading (docs/coco-eval.md, "Start-up").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from annokit.errors import ValidationError

__all__ = ["COCOParams", "IouType"]

IouType = Literal["bbox", "segm", "keypoints", "rotated"]
"""What a detection is compared with: boxes, masks, keypoints (OKS) or rotated boxes (polygon IoU)."""
_IOU_TYPES = ("bbox", "segm", "keypoints", "rotated")


def _default_iou_thrs() -> np.ndarray:
    return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def _default_rec_thrs() -> np.ndarray:
    return np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


_DET_AREAS = ((0.0, 1e5**2), (0.0, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
_KPT_AREAS = ((0.0, 1e5**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))


@dataclass(frozen=True)
class COCOParams:
    """Evaluation parameters, as ``COCOeval.params`` (defaults equal pycocotools' for the ``iou_type``).

    ``area_rng`` and ``area_labels`` go together; the first range is normally ``all``. ``img_ids`` / ``cat_ids``
    restrict the evaluation (default: every image and category of the ground truth). Left empty, ``max_dets``,
    ``area_rng`` / ``area_labels`` and ``kpt_oks_sigmas`` take pycocotools' defaults: ``(1, 10, 100)`` and
    all / small / medium / large for boxes, masks and rotated boxes; ``(20,)``, all / medium / large and COCO's 17
    person sigmas for ``"keypoints"`` (``Params(iouType="keypoints")``).
    """

    iou_type: IouType = "bbox"
    iou_thrs: tuple[float, ...] = tuple(_default_iou_thrs().tolist())
    rec_thrs: tuple[float, ...] = tuple(_default_rec_thrs().tolist())
    max_dets: tuple[int, ...] = ()
    area_rng: tuple[tuple[float, float], ...] = ()
    area_labels: tuple[str, ...] = ()
    img_ids: tuple[int, ...] | None = None
    cat_ids: tuple[int, ...] | None = None
    kpt_oks_sigmas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.iou_type not in _IOU_TYPES:
            raise ValidationError(f"iou_type must be one of {', '.join(_IOU_TYPES)}; got {self.iou_type!r}")
        kpt = self.iou_type == "keypoints"
        if not self.max_dets:
            object.__setattr__(self, "max_dets", (20,) if kpt else (1, 10, 100))
        if not self.area_rng and not self.area_labels:
            object.__setattr__(self, "area_rng", _KPT_AREAS if kpt else _DET_AREAS)
            object.__setattr__(self, "area_labels", ("all", "medium", "large") if kpt else
                               ("all", "small", "medium", "large"))
        if kpt and self.kpt_oks_sigmas is None:
            from annokit.metrics.keypoints import COCO_PERSON_SIGMAS

            object.__setattr__(self, "kpt_oks_sigmas", COCO_PERSON_SIGMAS)
        if self.kpt_oks_sigmas is not None and not (len(self.kpt_oks_sigmas) and
                                                    all(s > 0 for s in self.kpt_oks_sigmas)):
            raise ValidationError("kpt_oks_sigmas must be positive numbers, one per keypoint")
        if len(self.area_rng) != len(self.area_labels):
            raise ValidationError("area_rng and area_labels must have the same length")
        if not self.iou_thrs or not self.max_dets:
            raise ValidationError("iou_thrs and max_dets must not be empty")
        if any(m <= 0 for m in self.max_dets):
            raise ValidationError("max_dets must be positive")

    @classmethod
    def build(
        cls,
        *,
        iou_type: str = "bbox",
        iou_thrs: Sequence[float] | None = None,
        max_dets: Sequence[int] | None = None,
        area_rng: Sequence[str] | dict[str, tuple[float, float]] | None = None,
        kpt_oks_sigmas: Sequence[float] | None = None,
    ) -> COCOParams:
        """Parameters from CLI-style values; ``area_rng`` as ``["nano=0:64", ...]`` or ``{"nano": (0, 64)}``.

        Named ranges replace small/medium/large; ``all = [0, 1e10]`` stays first unless named.
        """
        kw: dict[str, Any] = {"iou_type": iou_type}
        if kpt_oks_sigmas is not None:
            kw["kpt_oks_sigmas"] = tuple(float(x) for x in kpt_oks_sigmas)
        if iou_thrs:
            kw["iou_thrs"] = tuple(float(x) for x in iou_thrs)
        if max_dets:
            kw["max_dets"] = tuple(int(x) for x in max_dets)
        if area_rng:
            items: list[tuple[str, tuple[float, float]]] = []
            if isinstance(area_rng, dict):
                items = [(k, (float(v[0]), float(v[1]))) for k, v in area_rng.items()]
            else:
                for spec in area_rng:
                    try:
                        name, rng = spec.split("=", 1)
                        lo, hi = rng.split(":", 1)
                        items.append((name.strip(), (float(lo), float(hi))))
                    except ValueError:
                        raise ValidationError(f"area range {spec!r}: expected NAME=LO:HI") from None
            if "all" not in [n for n, _ in items]:
                items.insert(0, ("all", (0.0, 1e5**2)))
            kw["area_rng"] = tuple(r for _, r in items)
            kw["area_labels"] = tuple(n for n, _ in items)
        return cls(**kw)
