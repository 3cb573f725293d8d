"""Error analysis: TIDE-style error decomposition, per-object TP / FP / FN tags, confusion matrices and the
COCO-style PR breakdown (:mod:`annokit.analysis.breakdown`, which needs :mod:`annokit.metrics.coco`)."""

from annokit.analysis.confusion import confusion_matrix, detection_confusion, semantic_confusion
from annokit.analysis.tide import ERROR_TYPES, SPECIAL_ERROR_TYPES, ObjectTags, TideResult, tide, tide_ap

__all__ = [
    "ERROR_TYPES",
    "SPECIAL_ERROR_TYPES",
    "ObjectTags",
    "TideResult",
    "confusion_matrix",
    "detection_confusion",
    "semantic_confusion",
    "tide",
    "tide_ap",
]
