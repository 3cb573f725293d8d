"""Predictor backends: run a model over images and get annokit predictions back.

* :mod:`~annokit.predict.base`: the :class:`Predictor` protocol, :class:`Prediction`, :class:`Task`;
* :mod:`~annokit.predict.registry`: backends by name (entry-point group ``annokit.predictors``) or ``module:attr``;
* :mod:`~annokit.predict.options`: backends' and decoders' options as typed models (one-line errors);
* :mod:`~annokit.predict.onnx_backend` (``onnx``), :mod:`~annokit.predict.torchvision_backend` (``torchvision``);
* :mod:`~annokit.predict.blocks`: letterbox, resize, NMS, YOLO / CenterNet decoding, RLE -- for plug-in authors;
* :mod:`~annokit.predict.adapters`: torchvision / ultralytics outputs -> predictions, without importing them;
* :mod:`~annokit.predict.images`: image files (any bit depth) and the images of folders and datasets;
* :mod:`~annokit.predict.run`: batches, failures, writers for ``annokit eval``.

Nothing here imports onnxruntime, torch or torchvision until a backend is built.
"""

from annokit.predict.base import Prediction, PredictionError, Predictor, Task, check_images
from annokit.predict.images import (
    ImageItem,
    ImageRange,
    images_from_dataset,
    images_from_dir,
    load_image,
    parse_image_range,
)
from annokit.predict.options import OptionError, Options
from annokit.predict.preprocess import Preprocess
from annokit.predict.registry import BackendError, BackendInfo, available_backends, load_backend, load_predictor
from annokit.predict.run import RunFailed, RunResult, run_predictor, write_predictions

__all__ = [
    "BackendError",
    "BackendInfo",
    "ImageItem",
    "ImageRange",
    "OptionError",
    "Options",
    "Prediction",
    "PredictionError",
    "Predictor",
    "Preprocess",
    "RunFailed",
    "RunResult",
    "Task",
    "available_backends",
    "check_images",
    "images_from_dataset",
    "images_from_dir",
    "load_backend",
    "load_image",
    "load_predictor",
    "parse_image_range",
    "run_predictor",
    "write_predictions",
]
