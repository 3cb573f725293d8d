"""Typed core models: label sets, ltrb boxes, RLE masks, semantic maps, instances and datasets."""

from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.boxes import box_area, box_iou, box_iou_matched, clip_boxes, ltrb_to_xywh, xywh_to_ltrb
from annokit.core.dataset import Dataset, ImageRecord, ImageTable
from annokit.core.instances import Instances, Segmentation
from annokit.core.labels import LabelSet
from annokit.core.model import FrozenModel
from annokit.core.semantic import SemanticMap

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
