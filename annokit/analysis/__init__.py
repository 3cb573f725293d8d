"""Error analysis: TIDE-style error decomposition, per-object TP / FP / FN tags, COCO-style PR breakdown."""

from annokit.analysis.confusion import detection_confusion
from annokit.analysis.tide import ERROR_TYPES, SPECIAL_ERROR_TYPES, ObjectTags, TideResult, tide, tide_ap

__all__ = ["detection_confusion", "ERROR_TYPES", "SPECIAL_ERROR_TYPES", "ObjectTags", "TideResult", "tide", "tide_ap"]
