"""Error analysis: TIDE-style error decomposition, per-object TP / FP / FN tags, semantic and detection confusion
matrices and the COCO-style PR breakdown (:mod:`annokit.analysis.breakdown`, which needs
:mod:`annokit.metrics.coco`). The label confusion matrix is :func:`annokit.metrics.classification.confusion_matrix`.
"""

from annokit.analysis.confusion import detection_confusion, semantic_confusion
from annokit.analysis.tide import ERROR_TYPES, SPECIAL_ERROR_TYPES, ObjectTags, TideResult, tide, tide_ap

__all__ = [
    "ERROR_TYPES",
    "SPECIAL_ERROR_TYPES",
    "ObjectTags",
    "TideResult",
    "detection_confusion",
    "semantic_confusion",
    "tide",
    "tide_ap",
]
