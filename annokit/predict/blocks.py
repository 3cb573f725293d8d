"""Building blocks for predictor plug-ins: annokit's own preprocessing, decoding and mask encoding, documented.

A plug-in (see ``docs/predict.md``, "Writing a backend") turns images into a network input, runs its framework,
and turns the raw outputs into :class:`~annokit.predict.base.Prediction` objects in the images' own pixels. These
are the pieces annokit's ``onnx`` backend is made of:

Preprocessing (each returns the :class:`Transform` that maps the network input back to the image)
    :func:`letterbox` (keep the aspect ratio, pad), :func:`resize` (stretch), :func:`preprocess_batch` (a whole
    batch by a :class:`Preprocess` spec: resize, channel order, scale / mean / std, layout, dtype).
Back to the image
    :func:`boxes_to_original` (one image's boxes), :func:`detections_to_original` (a batch's),
    :func:`resize_scores` (score maps -> the image's size, bilinear, padding cut off), :func:`upsampled_argmax`
    (the label map of those scores without resampling every channel).
Detection decoding
    :func:`nms` (greedy, class-aware or agnostic), :func:`yolo_detections` (YOLO rows: threshold, NMS),
    :func:`centernet_detections` (CenterNet heat-map peaks), each giving :class:`Detections` in network pixels.
Results
    :meth:`Instances.for_one_image <annokit.core.instances.Instances.for_one_image>` (one image's detections, no
    ``image_ids`` to build), :func:`bitmap_to_rle` (a boolean mask -> COCO compressed RLE), :class:`Prediction`,
    :func:`labels_from` (class names from a list, a mapping or a file of one name per line).

>>> import numpy as np
>>> from annokit.predict.blocks import letterbox, boxes_to_original
>>> x, tf = letterbox(np.zeros((100, 200, 3), np.uint8), (64, 64))
>>> boxes_to_original(np.array([[0, 16, 64, 48]]), tf).tolist()
[[0.0, 0.0, 200.0, 100.0]]
"""

from annokit.core.instances import Instances
from annokit.core.masks import bitmap_to_rle
from annokit.predict.base import Prediction, Task
from annokit.predict.decoders import (
    CenterNetOptions,
    Detections,
    YoloOptions,
    centernet_detections,
    detections_to_original,
    nms,
    yolo_detections,
)
from annokit.predict.options import labels_from
from annokit.predict.preprocess import (
    Preprocess,
    Transform,
    boxes_to_original,
    letterbox,
    preprocess_batch,
    resize,
    resize_scores,
    upsampled_argmax,
)

__all__ = [
    "CenterNetOptions",
    "Detections",
    "Instances",
    "Prediction",
    "Preprocess",
    "Task",
    "Transform",
    "YoloOptions",
    "bitmap_to_rle",
    "labels_from",
    "boxes_to_original",
    "centernet_detections",
    "detections_to_original",
    "letterbox",
    "nms",
    "preprocess_batch",
    "resize",
    "resize_scores",
    "upsampled_argmax",
    "yolo_detections",
]
