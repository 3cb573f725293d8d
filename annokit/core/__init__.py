"""Typed core models: label sets, ltrb boxes, RLE masks, semantic maps, instances and datasets."""

from annokit.core.boxes import box_area, box_iou, box_iou_matched, clip_boxes, ltrb_to_xywh, xywh_to_ltrb
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.semantic import SemanticMap

__all__ = [
    "Dataset",
    "ImageTable",
    "Instances",
    "LabelSet",
    "SemanticMap",
    "box_area",
    "box_iou",
    "box_iou_matched",
    "clip_boxes",
    "ltrb_to_xywh",
    "xywh_to_ltrb",
]
