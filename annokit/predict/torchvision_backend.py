"""The ``torchvision`` backend (optional: ``pip install torch torchvision``).

Builds a torchvision model by name, locally (``torchvision.models.get_model(name, weights=None, ...)``), loads a
state dict from a local file (nothing is downloaded) and converts its outputs with :mod:`annokit.predict.adapters`:

* classifiers (``resnet18``, ``mobilenet_v3_small``, ...): softmax over the logits;
* detectors (``fasterrcnn_resnet50_fpn``, ``retinanet_resnet50_fpn``, ``fcos_resnet50_fpn``, ``ssdlite320...``):
  boxes in the image's pixels (the model resizes and maps back itself);
* ``maskrcnn_*``: boxes and masks (thresholded at 0.5);
* segmentation (``deeplabv3_*``, ``fcn_*``, ``lraspp_*``): the ``out`` scores, resampled to the image, arg-max.

torch and torchvision are imported when a predictor is built.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError
from annokit.predict.adapters import (
    from_torchvision_classification,
    from_torchvision_detection,
    from_torchvision_segmentation,
)
from annokit.predict.base import Prediction, Task, check_images
from annokit.predict.preprocess import Preprocess, preprocess_batch

__all__ = ["TorchvisionPredictor", "torchvision_task"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TorchvisionBackendError(AnnokitError):
    """The torchvision model cannot be built or loaded."""


def torchvision_task(name: str) -> Task:
    """The task of torchvision model ``name``, from the module torchvision files it under."""
    import torchvision

    if name in torchvision.models.list_models(module=torchvision.models.segmentation):
        return Task.SEMANTIC
    if name in torchvision.models.list_models(module=torchvision.models.detection):
        if name.startswith("keypointrcnn"):
            raise TorchvisionBackendError(f"{name}: keypoint models are not supported")
        return Task.INSTANCE if name.startswith("maskrcnn") else Task.DETECTION
    if name in torchvision.models.list_models(module=torchvision.models):
        return Task.CLASSIFICATION
    raise TorchvisionBackendError(f"torchvision has no model named {name!r}")


class TorchvisionPredictor:
    """A :class:`~annokit.predict.base.Predictor` over a torchvision model built locally.

    Parameters
    ----------
    model : torchvision model name (``torchvision.models.list_models()``)
    weights : path of a state dict (``torch.save(model.state_dict(), path)``); None keeps random weights
    labels : class names (list) or a LabelSet; default: the names of the model's torchvision weights enum
        (read from torchvision's tables, nothing downloaded); label ids are the output indices
    num_classes : passed to the constructor when the head is not the default size
    task : inferred from the name
    preprocess : classification / semantic input spec (default 224x224 stretch / own size, ImageNet mean, std)
    score_threshold : detection: drop detections below it
    device : torch device (default ``cpu``); batch_size : preferred batch size
    """

    requires = ("torch", "torchvision")

    def __init__(self, model: str, *, weights: str | os.PathLike[str] | None = None, labels: Any = None,
                 num_classes: int | None = None, task: str | Task | None = None,
                 preprocess: Preprocess | dict | None = None, score_threshold: float = 0.05,
                 device: str = "cpu", batch_size: int = 4, **model_kwargs: Any) -> None:
        try:
            import torch
            import torchvision
        except ImportError:
            raise TorchvisionBackendError("the torchvision backend needs torch and torchvision installed") from None
        self._torch = torch
        self.task = Task(task) if task is not None else torchvision_task(model)
        kwargs = dict(model_kwargs)
        if num_classes is not None:
            kwargs["num_classes"] = int(num_classes)
        if self.task in (Task.DETECTION, Task.INSTANCE, Task.SEMANTIC):
            kwargs.setdefault("weights_backbone", None)
        try:
            net = torchvision.models.get_model(model, weights=None, **kwargs)
        except Exception as exc:
            raise TorchvisionBackendError(f"torchvision cannot build {model!r}: {exc}") from None
        if weights is not None:
            wp = Path(weights)
            if not wp.is_file():
                raise TorchvisionBackendError(f"{wp}: no such weights file")
            state = torch.load(str(wp), map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
                state = state["state_dict"]
            try:
                net.load_state_dict(state)
            except Exception as exc:
                raise TorchvisionBackendError(f"{wp}: does not fit {model!r}: {exc}") from None
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.labels = self._labels(model, labels, num_classes)
        self.score_threshold = float(score_threshold)
        self.batch_size = int(batch_size)
        if isinstance(preprocess, dict):
            preprocess = Preprocess(**preprocess)
        if preprocess is None:
            size = (224, 224) if self.task == Task.CLASSIFICATION else None
            preprocess = Preprocess(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        self.preprocess = preprocess

    def _labels(self, model: str, labels: Any, num_classes: int | None) -> LabelSet:
        if isinstance(labels, LabelSet):
            return labels
        if labels is not None:
            names = [str(n) for n in labels]
        else:
            import torchvision

            try:
                enum = torchvision.models.get_model_weights(model)
                names = list(next(iter(enum)).meta["categories"])
            except Exception:  # no weights table for this model
                names = []
            if num_classes is not None and len(names) != num_classes:
                names = [str(i) for i in range(num_classes)]  # a custom head: numbered classes
            if not names:
                raise TorchvisionBackendError(f"{model}: no class names known; pass labels=[...]")
        return LabelSet(ids=list(range(len(names))), names=names)

    def predict(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """``images``: each ``(H, W, 3)`` uint8 RGB -> one :class:`Prediction` each, in original pixels."""
        torch = self._torch
        ims = check_images(images)
        if not ims:
            return []
        with torch.inference_mode():
            if self.task in (Task.DETECTION, Task.INSTANCE):
                xs = [torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))).to(self.device).float() / 255
                      for im in ims]
                outs = self.net(xs)
                return [from_torchvision_detection(o, im.shape[:2], score_threshold=self.score_threshold,
                                                   task=self.task) for o, im in zip(outs, ims)]
            if self.task == Task.CLASSIFICATION:
                x, _ = preprocess_batch(ims, self.preprocess)
                logits = self.net(torch.from_numpy(x).to(self.device))
                return [from_torchvision_classification(logits[i], im.shape[:2]) for i, im in enumerate(ims)]
            preds = []
            for im in ims:  # segmentation: each image at its own size unless a size is set
                x, _ = preprocess_batch([im], self.preprocess)
                out = self.net(torch.from_numpy(x).to(self.device))
                preds.append(from_torchvision_segmentation({"out": out["out"][0]}, im.shape[:2],
                                                           label_ids=self.labels.ids))
            return preds

    def close(self) -> None:
        self.net = None
