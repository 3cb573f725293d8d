"""Typed core models: label sets, ltrb boxes, RLE masks, semantic maps, instances and datasets.

The names below load their modules on first use, so that importing a light submodule (``annokit.core.arrays``,
``annokit.core.coco_results``) does not import pydantic and build every model: ``annokit eval`` on COCO files
reads them into columns without the models (docs/coco-eval.md, "Start-up").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from annokit.core.arrays import BoolArray, FloatArray, IntArray
    from annokit.core.boxes import box_area, box_iou, box_iou_matched, clip_boxes, ltrb_to_xywh, xywh_to_ltrb
    from annokit.core.dataset import Dataset, ImageRecord, ImageTable
    from annokit.core.instances import Instances, Segmentation
    from annokit.core.labels import LabelSet
    from annokit.core.model import FrozenModel
    from annokit.core.semantic import SemanticMap

_WHERE = {
    "BoolArray": "arrays", "FloatArray": "arrays", "IntArray": "arrays",
    "box_area": "boxes", "box_iou": "boxes", "box_iou_matched": "boxes", "clip_boxes": "boxes",
    "ltrb_to_xywh": "boxes", "xywh_to_ltrb": "boxes",
    "Dataset": "dataset", "ImageRecord": "dataset", "ImageTable": "dataset",
    "Instances": "instances", "Segmentation": "instances",
    "LabelSet": "labels",
    "FrozenModel": "model",
    "SemanticMap": "semantic",
}

__all__ = [
    "BoolArray",
    "Dataset",
    "FloatArray",
    "FrozenModel",
    "ImageRecord",
    "ImageTable",
    "Instances",
    "IntArray",
    "LabelSet",
    "Segmentation",
    "SemanticMap",
    "box_area",
    "box_iou",
    "box_iou_matched",
    "clip_boxes",
    "ltrb_to_xywh",
    "xywh_to_ltrb",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"annokit.core.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'annokit.core' has no attribute {name!r}")
