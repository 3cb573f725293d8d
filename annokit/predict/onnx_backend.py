"""The ``onnx`` backend: any ONNX model on onnxruntime (CPU by default), with a preprocessing spec and a decoder.

What the backend needs is read from the model when it is there, and given as options otherwise (options win):

* metadata key ``annokit`` (JSON): ``preprocess`` (a :class:`~annokit.predict.preprocess.Preprocess`),
  ``tasks`` ``{task: {"decoder", "outputs": {role: output name}, "labels": {"ids", "names"}, "options"}}`` and
  ``default_task`` -- what ``sample_data/model/train.py`` writes;
* the keys ultralytics exports write: ``names`` (``{0: 'person', ...}``), ``imgsz`` (``[640, 640]``) and
  ``task`` (``detect`` / ``segment`` / ``classify``);
* the input's static shape (for the input size).

onnxruntime is imported when a predictor is built, never by ``import annokit``.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.gc import no_gc
from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError
from annokit.predict.base import Prediction, Task, check_images
from annokit.predict.decoders import DECODER_TASKS, DECODERS
from annokit.predict.preprocess import Preprocess, preprocess_batch

__all__ = ["OnnxPredictor", "read_onnx_metadata"]

_DEFAULT_DECODER = {Task.CLASSIFICATION: "softmax", Task.SEMANTIC: "segmentation", Task.DETECTION: "yolo"}
_ULTRA_TASKS = {"detect": Task.DETECTION, "classify": Task.CLASSIFICATION, "segment": Task.INSTANCE}


class OnnxBackendError(AnnokitError):
    """The model or the options given for it cannot work together."""


def read_onnx_metadata(session: Any) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict (empty when it has none)."""
    meta = session.get_modelmeta()
    return dict(meta.custom_metadata_map or {})


def _labels_from(spec: Any, where: str) -> LabelSet:
    if isinstance(spec, LabelSet):
        return spec
    if isinstance(spec, Mapping) and "names" in spec:
        names = list(spec["names"])
        return LabelSet(ids=spec.get("ids", list(range(len(names)))), names=names)
    if isinstance(spec, Mapping):  # {0: "person", 1: "bicycle"} (ultralytics)
        items = sorted((int(k), str(v)) for k, v in spec.items())
        return LabelSet(ids=[k for k, _ in items], names=[v for _, v in items])
    if isinstance(spec, (list, tuple)):
        return LabelSet(ids=list(range(len(spec))), names=[str(s) for s in spec])
    if isinstance(spec, (str, os.PathLike)) and Path(spec).is_file():  # a text file, one name per line
        names = [ln.strip() for ln in Path(spec).read_text().splitlines() if ln.strip()]
        return LabelSet(ids=list(range(len(names))), names=names)
    raise OnnxBackendError(f"{where}: labels must be a list of names, a {{id: name}} dict or a file of names")


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text


class OnnxPredictor:
    """A :class:`~annokit.predict.base.Predictor` over an ONNX model.

    Parameters
    ----------
    model : path to the ``.onnx`` file
    task : ``classification`` | ``detection`` | ``instance`` | ``semantic``; default: the model's
        ``default_task`` (or its only task)
    decoder : a name of :data:`annokit.predict.decoders.DECODERS`; default: the model's, else by task
    outputs : ``{role: output name}``; default: the model's, else the model's outputs in order
    labels : names (list), ``{id: name}``, ``{"ids": [...], "names": [...]}``, a text file or a LabelSet
    preprocess : a :class:`Preprocess` or a dict of its fields, merged over the model's
    batch_size : preferred batch size; threads : onnxruntime intra-op threads (default: its own choice)
    providers : onnxruntime execution providers (default ``["CPUExecutionProvider"]``)
    **decoder_options : passed to the decoder (``score_threshold``, ``iou_threshold``, ``max_detections``, ...)

    >>> p = OnnxPredictor("sample_data/model/scenes_cnn.onnx", task="detection")  # doctest: +SKIP
    >>> preds = p.predict([image])  # doctest: +SKIP
    """

    requires = ("onnxruntime",)

    def __init__(self, model: str | os.PathLike[str], *, task: str | Task | None = None, decoder: str | None = None,
                 outputs: Mapping[str, str] | None = None, labels: Any = None,
                 preprocess: Preprocess | Mapping[str, Any] | None = None, batch_size: int = 8,
                 threads: int | None = None, providers: Sequence[str] | None = None,
                 **decoder_options: Any) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise OnnxBackendError("the onnx backend needs onnxruntime: pip install 'annokit[onnx]'") from None
        self.model_path = Path(model)
        if not self.model_path.is_file():
            raise OnnxBackendError(f"{self.model_path}: no such model file")
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(self.model_path), sess_options=so,
                                                providers=list(providers or ["CPUExecutionProvider"]))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise OnnxBackendError(f"{self.model_path}: onnxruntime cannot load it: {exc}") from None
        where = str(self.model_path)
        meta = read_onnx_metadata(self.session)
        ak = _literal(meta["annokit"]) if "annokit" in meta else {}
        if not isinstance(ak, dict):
            raise OnnxBackendError(f"{where}: metadata 'annokit' is not a JSON object")
        tasks_meta: dict[str, Any] = ak.get("tasks", {})

        # task
        if task is None:
            task = ak.get("default_task")
            if task is None and len(tasks_meta) == 1:
                task = next(iter(tasks_meta))
            if task is None and meta.get("task") in _ULTRA_TASKS:
                task = _ULTRA_TASKS[meta["task"]]
            if task is None:
                raise OnnxBackendError(f"{where}: the model does not say its task; pass task=...")
        try:
            self.task = Task(task)
        except ValueError:
            raise OnnxBackendError(f"unknown task {task!r}; one of {', '.join(t.value for t in Task)}") from None
        tmeta = tasks_meta.get(self.task.value, {})
        if tasks_meta and not tmeta:
            raise OnnxBackendError(f"{where}: the model has no {self.task.value} head "
                                   f"(it has: {', '.join(sorted(tasks_meta))})")

        # decoder
        self.decoder = decoder or tmeta.get("decoder") or _DEFAULT_DECODER.get(self.task)
        if self.decoder not in DECODERS:
            raise OnnxBackendError(f"unknown decoder {self.decoder!r}; known: {', '.join(sorted(DECODERS))}")
        if self.task not in DECODER_TASKS[self.decoder]:
            raise OnnxBackendError(f"decoder {self.decoder!r} does not make {self.task.value} predictions")

        # outputs by role
        out_names = [o.name for o in self.session.get_outputs()]
        roles = dict(outputs or tmeta.get("outputs") or {})
        if not roles:
            default_roles = {"softmax": ["logits"], "segmentation": ["scores"], "yolo": ["boxes"],
                             "centernet": ["heatmap", "wh", "offset"]}[self.decoder]
            roles = dict(zip(default_roles, out_names))
        for role, name in roles.items():
            if name not in out_names:
                raise OnnxBackendError(f"{where}: no output named {name!r} (for {role!r}); outputs: {out_names}")
        self._roles = list(roles)
        self._fetch = [roles[r] for r in self._roles]

        # labels
        if labels is not None:
            self.labels = _labels_from(labels, "labels")
        elif "labels" in tmeta:
            self.labels = _labels_from(tmeta["labels"], f"{where}: metadata")
        elif "names" in meta:
            self.labels = _labels_from(_literal(meta["names"]), f"{where}: metadata 'names'")
        else:
            raise OnnxBackendError(f"{where}: the model has no class names in its metadata; pass labels=...")

        # preprocessing and input
        inp = self.session.get_inputs()
        if len(inp) != 1:
            raise OnnxBackendError(f"{where}: expected one input, the model has {len(inp)}")
        self.input_name = inp[0].name
        pre: dict[str, Any] = dict(ak.get("preprocess", {}))
        if "imgsz" in meta and "size" not in pre:
            sz = _literal(meta["imgsz"])
            if isinstance(sz, list) and len(sz) == 2:
                pre.update(size=sz, resize="letterbox")
        if isinstance(preprocess, Preprocess):
            pre.update(preprocess.model_dump(exclude_unset=True))
        elif preprocess:
            pre.update(preprocess)
        layout = pre.get("layout", "NCHW")
        if "size" not in pre:
            shape = inp[0].shape
            hw = shape[2:4] if layout == "NCHW" else shape[1:3]
            if all(isinstance(d, int) and d > 0 for d in hw):
                pre["size"] = list(hw)
        if "dtype" not in pre and inp[0].type == "tensor(float16)":
            pre["dtype"] = "float16"
        try:
            self.preprocess = Preprocess(**pre)
        except Exception as exc:
            raise OnnxBackendError(f"{where}: bad preprocessing spec: {exc}") from None
        self.batch_size = int(batch_size)
        self.decoder_options = {**tmeta.get("options", {}), **decoder_options}
        if self.decoder == "centernet":
            self.decoder_options.setdefault("task", self.task)
        self._decode = DECODERS[self.decoder]

    def __repr__(self) -> str:
        return f"OnnxPredictor({str(self.model_path)!r}, task={self.task.value!r}, decoder={self.decoder!r})"

    def raw(self, images: Sequence[np.ndarray]) -> tuple[dict[str, np.ndarray], list[Any], tuple[int, int]]:
        """Preprocess and run: the raw outputs by role, the per-image transforms and the network input size."""
        ims = check_images(images)
        x, tfs = preprocess_batch(ims, self.preprocess)
        hw = (x.shape[2], x.shape[3]) if self.preprocess.layout == "NCHW" else (x.shape[1], x.shape[2])
        res = self.session.run(self._fetch, {self.input_name: x})
        return dict(zip(self._roles, res)), tfs, hw

    def predict(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """``images``: each ``(H, W, 3)`` uint8 RGB -> one :class:`Prediction` each, in original pixels."""
        if len(images) == 0:
            return []
        outs, tfs, hw = self.raw(images)
        with no_gc():  # per-object results (masks) are many small objects
            return self._decode(outs, tfs, hw, self.labels, **self.decoder_options)

    def warmup(self) -> None:
        """One run on a blank image, so the first timed batch does not pay for onnxruntime's set-up."""
        size = self.preprocess.size or (32, 32)
        self.predict([np.zeros((int(size[0]), int(size[1]), 3), np.uint8)])

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]

