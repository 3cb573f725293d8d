"""Predictor backends: run a model over images and get annokit predictions back.

* :mod:`~annokit.predict.base`: the :class:`Predictor` protocol, :class:`Prediction`, :class:`Task`;
* :mod:`~annokit.predict.registry`: backends by name (entry-point group ``annokit.predictors``) or ``module:attr``;
* :mod:`~annokit.predict.onnx_backend` (``onnx``), :mod:`~annokit.predict.torchvision_backend` (``torchvision``);
* :mod:`~annokit.predict.adapters`: torchvision / ultralytics outputs -> predictions, without importing them;
* :mod:`~annokit.predict.run`: batches over a folder or a dataset, failures, writers for ``annokit eval``.

Nothing here imports onnxruntime, torch or torchvision until a backend is built.
"""

from annokit.predict.base import Prediction, PredictionError, Predictor, Task, check_images
from annokit.predict.preprocess import Preprocess
from annokit.predict.registry import BackendError, BackendInfo, available_backends, load_backend, load_predictor
from annokit.predict.run import (
    ImageItem,
    RunResult,
    images_from_dataset,
    images_from_dir,
    load_image,
    run_predictor,
    write_predictions,
)

__all__ = [
    "BackendError",
    "BackendInfo",
    "ImageItem",
    "Prediction",
    "PredictionError",
    "Predictor",
    "Preprocess",
    "RunResult",
    "Task",
    "available_backends",
    "check_images",
    "images_from_dataset",
    "images_from_dir",
    "load_backend",
    "load_image",
    "load_predictor",
    "run_predictor",
    "write_predictions",
]
