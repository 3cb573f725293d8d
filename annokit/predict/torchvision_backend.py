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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError
from annokit.predict.adapters import (
    from_torchvision_classification,
    from_torchvision_detection,
    from_torchvision_segmentation,
)
from annokit.predict.base import Prediction, Task, check_images
from annokit.predict.options import Options, labels_from, parse_options
from annokit.predict.preprocess import Preprocess, preprocess_batch

__all__ = ["TorchvisionPredictor", "TorchvisionOptions", "torchvision_task"]

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


def _build_net(o: TorchvisionOptions, task: Task) -> Any:
    """The torchvision model, built locally, with the state dict of ``o.weights`` loaded."""
    import torch
    import torchvision

    kwargs = dict(o.model_options)
    if o.num_classes is not None:
        kwargs["num_classes"] = o.num_classes
    if task in (Task.DETECTION, Task.INSTANCE, Task.SEMANTIC):
        kwargs.setdefault("weights_backbone", None)
    try:
        net = torchvision.models.get_model(o.model, weights=None, **kwargs)
    except Exception as exc:
        raise TorchvisionBackendError(f"torchvision cannot build {o.model!r}: {exc}") from None
    if o.weights is not None:
        if not o.weights.is_file():
            raise TorchvisionBackendError(f"{o.weights}: no such weights file")
        state = torch.load(str(o.weights), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        try:
            net.load_state_dict(state)
        except Exception as exc:
            raise TorchvisionBackendError(f"{o.weights}: does not fit {o.model!r}: {exc}") from None
    return net


class TorchvisionOptions(Options):
    """The options of the ``torchvision`` backend (see :class:`TorchvisionPredictor`)."""

    model: str
    weights: Path | None = None
    labels: Any = None
    num_classes: Annotated[int | None, Field(ge=1)] = None
    task: Task | None = None
    preprocess: dict[str, Any] | None = None
    score_threshold: Annotated[float, Field(allow_inf_nan=False)] = 0.05
    device: str = "cpu"
    batch_size: Annotated[int, Field(ge=1)] = 4
    model_options: dict[str, Any] = {}


class TorchvisionPredictor:
    """A :class:`~annokit.predict.base.Predictor` over a torchvision model built locally.

    Parameters
    ----------
    model : torchvision model name (``torchvision.models.list_models()``)
    weights : path of a state dict (``torch.save(model.state_dict(), path)``); None keeps random weights
    labels : class names (list, a file of one name per line) or a LabelSet; default: the names of the model's
        torchvision weights enum (read from torchvision's tables, nothing downloaded); label ids are the output
        indices
    num_classes : passed to the constructor when the head is not the default size
    task : inferred from the name
    preprocess : classification / semantic input spec (default 224x224 stretch / own size, ImageNet mean, std)
    score_threshold : detection: drop detections below it
    device : torch device (default ``cpu``); batch_size : preferred batch size
    model_options : more keyword arguments of ``torchvision.models.get_model``
    """

    requires = ("torch", "torchvision")
    Options = TorchvisionOptions

    def __init__(self, model: str, *, weights: str | os.PathLike[str] | None = None, labels: Any = None,
                 num_classes: int | None = None, task: str | Task | None = None,
                 preprocess: Preprocess | Mapping[str, Any] | None = None, score_threshold: float = 0.05,
                 device: str = "cpu", batch_size: int = 4, model_options: Mapping[str, Any] | None = None) -> None:
        if isinstance(preprocess, Preprocess):
            preprocess = preprocess.model_dump(exclude_unset=True)
        values = {"model": model, "weights": weights, "labels": labels, "num_classes": num_classes, "task": task,
                  "preprocess": preprocess, "score_threshold": score_threshold, "device": device,
                  "batch_size": batch_size, "model_options": dict(model_options or {})}
        o = parse_options(TorchvisionOptions, values, where="backend 'torchvision'")
        try:
            import torch
        except ImportError:
            raise TorchvisionBackendError("the torchvision backend needs torch and torchvision installed") from None
        self._torch = torch
        self.task = o.task if o.task is not None else torchvision_task(o.model)
        self.device = torch.device(o.device)
        self.net = _build_net(o, self.task).eval().to(self.device)
        self.labels = self._labels(o.model, o.labels, o.num_classes)
        self.score_threshold = o.score_threshold
        self.batch_size = o.batch_size
        if o.preprocess is not None:
            self.preprocess = Preprocess(**o.preprocess)
        else:
            size = (224, 224) if self.task == Task.CLASSIFICATION else None
            self.preprocess = Preprocess(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)

    def _labels(self, model: str, labels: Any, num_classes: int | None) -> LabelSet:
        if labels is not None:
            return labels_from(labels, "backend 'torchvision': option 'labels'")
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
        return LabelSet(ids=np.arange(len(names)), names=names)

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
        """Drop the network."""
        self.net = None
