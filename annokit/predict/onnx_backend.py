"""The ``onnx`` backend: any ONNX model on onnxruntime (CPU by default), with a preprocessing spec and a decoder.

What the backend needs is read from the model when it is there, and given as options otherwise (options win):

* metadata key ``annokit`` (JSON): ``preprocess`` (a :class:`~annokit.predict.preprocess.Preprocess`),
  ``tasks`` ``{task: {"decoder", "outputs": {role: output name}, "labels": {"ids", "names"}, "options"}}`` and
  ``default_task`` -- what ``sample_data/model/train.py`` writes;
* the keys ultralytics exports write: ``names`` (``{0: 'person', ...}``), ``imgsz`` (``[640, 640]``) and
  ``task`` (``detect`` / ``segment`` / ``classify``);
* the input's static shape (for the input size), the class axis of the outputs (for index names when no names
  are given).

Options are a typed model (:class:`OnnxOptions`): a misspelt or inapplicable option, or a bad value, is a one-line
:class:`~annokit.predict.options.OptionError` naming it. onnxruntime is imported when a predictor is built, never
by ``import annokit``.
"""

from __future__ import annotations

import ast
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pydantic
from pydantic import Field

from annokit._internal.gc import no_gc
from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError, AnnokitWarning
from annokit.predict.base import Prediction, Task, check_images
from annokit.predict.decoders import DECODERS, DecoderSpec, decoder_options
from annokit.predict.options import (
    OptionError,
    Options,
    check_option_names,
    labels_from,
    option_error_text,
    parse_options,
)
from annokit.predict.preprocess import Preprocess, Transform, preprocess_batch

__all__ = ["OnnxPredictor", "OnnxOptions", "OnnxBackendError", "read_onnx_metadata"]

_DEFAULT_DECODER = {Task.CLASSIFICATION: "softmax", Task.SEMANTIC: "segmentation", Task.DETECTION: "yolo"}
_ULTRA_TASKS = {"detect": Task.DETECTION, "classify": Task.CLASSIFICATION, "segment": Task.INSTANCE}
_WHERE = "backend 'onnx'"


class OnnxBackendError(AnnokitError):
    """The model or the options given for it cannot work together."""


class OnnxOptions(Options):
    """The options of the ``onnx`` backend (see :class:`OnnxPredictor`); the decoder's own options are checked
    against the chosen decoder's options model."""

    model: Path
    task: Task | None = None
    decoder: str | None = None
    outputs: dict[str, str] | None = None
    labels: Any = None
    preprocess: dict[str, Any] | None = None
    batch_size: Annotated[int, Field(ge=1)] = 8
    threads: Annotated[int | None, Field(ge=1)] = None
    providers: list[str] | None = None
    # the decoders' options (None: the model's, else the decoder's default)
    score_threshold: float | None = None
    iou_threshold: float | None = None
    max_detections: int | None = None
    activation: str | None = None
    channels_last: bool | None = None
    heatmap_activation: str | None = None
    mask_labels: list[int] | None = None
    objectness: bool | None = None
    box_format: str | None = None
    class_agnostic: bool | None = None


_BACKEND_FIELDS = ("model", "task", "decoder", "outputs", "labels", "preprocess", "batch_size", "threads",
                   "providers")


def read_onnx_metadata(session: Any) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict (empty when it has none)."""
    meta = session.get_modelmeta()
    return dict(meta.custom_metadata_map or {})


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text


@dataclass(frozen=True)
class _ModelInfo:
    """What the model says about itself: its file, metadata, annokit's task table, inputs and outputs."""

    where: str
    meta: dict[str, str]
    tasks: dict[str, Any]
    annokit: dict[str, Any]
    input_name: str
    input_shape: list[Any]
    input_type: str
    output_shapes: dict[str, list[Any]]


def _open_session(o: OnnxOptions) -> Any:
    """Stage 1: an onnxruntime session on the model file."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise OnnxBackendError("the onnx backend needs onnxruntime: pip install 'annokit[onnx]'") from None
    if not o.model.is_file():
        raise OnnxBackendError(f"{o.model}: no such model file")
    so = ort.SessionOptions()
    if o.threads:
        so.intra_op_num_threads = o.threads
    try:
        return ort.InferenceSession(str(o.model), sess_options=so,
                                    providers=list(o.providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OnnxBackendError(f"{o.model}: onnxruntime cannot load it: {exc}") from None


def _model_info(session: Any, where: str) -> _ModelInfo:
    """Stage 2: the model's metadata, its single input and its outputs' shapes."""
    meta = read_onnx_metadata(session)
    ak = _literal(meta["annokit"]) if "annokit" in meta else {}
    if not isinstance(ak, dict):
        raise OnnxBackendError(f"{where}: metadata 'annokit' is not a JSON object")
    inp = session.get_inputs()
    if len(inp) != 1:
        raise OnnxBackendError(f"{where}: expected one input, the model has {len(inp)}")
    outs = {o.name: list(o.shape) for o in session.get_outputs()}
    return _ModelInfo(where, meta, dict(ak.get("tasks", {})), ak, inp[0].name, list(inp[0].shape), inp[0].type,
                      outs)


def _choose_task(task: Task | None, info: _ModelInfo) -> tuple[Task, dict[str, Any]]:
    """Stage 3: the task (given, the model's default, its only one, or ultralytics' ``task``) and its metadata."""
    chosen: Any = task
    if chosen is None:
        chosen = info.annokit.get("default_task")
        if chosen is None and len(info.tasks) == 1:
            chosen = next(iter(info.tasks))
        if chosen is None and info.meta.get("task") in _ULTRA_TASKS:
            chosen = _ULTRA_TASKS[info.meta["task"]]
        if chosen is None:
            raise OnnxBackendError(f"{info.where}: the model does not say its task; pass task=...")
    try:
        t = Task(chosen)
    except ValueError:
        raise OnnxBackendError(f"{info.where}: unknown task {chosen!r} in the model's metadata") from None
    tmeta = info.tasks.get(t.value, {})
    if info.tasks and not tmeta:
        raise OnnxBackendError(f"{info.where}: the model has no {t.value} head "
                               f"(it has: {', '.join(sorted(info.tasks))})")
    return t, dict(tmeta)


def _choose_decoder(decoder: str | None, task: Task, tmeta: Mapping[str, Any]) -> DecoderSpec:
    """Stage 4: the decoder (given, the model's, or the task's default) that makes this task."""
    name = decoder or tmeta.get("decoder") or _DEFAULT_DECODER.get(task)
    if name is None:
        raise OnnxBackendError(f"no default decoder for {task.value} predictions; pass decoder=... "
                               f"(one of {', '.join(sorted(DECODERS))})")
    if name not in DECODERS:
        raise OptionError(f"{_WHERE}: option 'decoder': unknown decoder {name!r}; known: {', '.join(sorted(DECODERS))}")
    spec = DECODERS[name]
    if task not in spec.tasks:
        raise OnnxBackendError(f"decoder {name!r} does not make {task.value} predictions")
    return spec


def _choose_outputs(outputs: Mapping[str, str] | None, tmeta: Mapping[str, Any], spec: DecoderSpec,
                    info: _ModelInfo) -> dict[str, str]:
    """Stage 5: the output name of each role the decoder reads (given, the model's, or the outputs in order)."""
    roles = dict(outputs or tmeta.get("outputs") or {})
    if not roles:
        roles = dict(zip(spec.roles, info.output_shapes))
    names = list(info.output_shapes)
    for role, name in roles.items():
        if name not in names:
            raise OnnxBackendError(f"{info.where}: no output named {name!r} (for {role!r}); outputs: {names}")
    return roles


def _class_count(spec: DecoderSpec, roles: Mapping[str, str], info: _ModelInfo, dec: Options) -> int | None:
    """The number of classes the outputs' static shapes give (``None`` when a dimension is dynamic)."""
    shape = info.output_shapes.get(roles.get(spec.class_role, ""), [])
    if spec.name == "yolo" and len(shape) == 3 and all(isinstance(d, int) for d in shape[1:]):
        return int(min(shape[1], shape[2])) - 4 - int(bool(getattr(dec, "objectness", False)))
    axis = 3 if getattr(dec, "channels_last", False) else 1
    if len(shape) > axis and isinstance(shape[axis], int):
        return int(shape[axis])
    return None


def _choose_labels(labels: Any, tmeta: Mapping[str, Any], info: _ModelInfo, count: int | None) -> LabelSet:
    """Stage 6: class names: given, the model's (annokit's or ultralytics' metadata), else index names ``0..C-1``
    with a warning when the outputs say how many classes there are."""
    if labels is not None:
        return labels_from(labels, f"{_WHERE}: option 'labels'")
    if "labels" in tmeta:
        return labels_from(tmeta["labels"], f"{info.where}: metadata")
    if "names" in info.meta:
        return labels_from(_literal(info.meta["names"]), f"{info.where}: metadata 'names'")
    if count is not None and count > 0:
        warnings.warn(f"{info.where}: no class names in the model or the options: the {count} classes are named "
                      f"by index 0..{count - 1} (pass labels=FILE, one name per line, or a list)", AnnokitWarning,
                      stacklevel=4)
        return LabelSet(ids=np.arange(count), names=[str(i) for i in range(count)])
    raise OnnxBackendError(f"{info.where}: the model has no class names in its metadata and its outputs do not say "
                           "how many classes; pass labels=FILE (one name per line) or a list")


def _choose_preprocess(given: Mapping[str, Any] | None, info: _ModelInfo) -> Preprocess:
    """Stage 7: the model's preprocessing, ultralytics' ``imgsz`` (letterbox), the input's static size and dtype,
    with the given fields on top."""
    pre: dict[str, Any] = dict(info.annokit.get("preprocess", {}))
    if "imgsz" in info.meta and "size" not in pre:
        sz = _literal(info.meta["imgsz"])
        if isinstance(sz, list) and len(sz) == 2:
            pre.update(size=sz, resize="letterbox")
    check_option_names(given or {}, Preprocess.model_fields, where=f"{_WHERE}: option 'preprocess'")
    pre.update(given or {})
    if "size" not in pre:
        hw = info.input_shape[2:4] if pre.get("layout", "NCHW") == "NCHW" else info.input_shape[1:3]
        if all(isinstance(d, int) and d > 0 for d in hw):
            pre["size"] = list(hw)
    if "dtype" not in pre and info.input_type == "tensor(float16)":
        pre["dtype"] = "float16"
    try:
        return Preprocess(**pre)
    except AnnokitError as exc:
        cause = exc.__cause__
        text = option_error_text(cause) if isinstance(cause, pydantic.ValidationError) else str(exc)
        raise OptionError(f"{_WHERE}: option 'preprocess': {text.removeprefix('option ')}") from None


def _choose_decoder_options(o: OnnxOptions, spec: DecoderSpec, tmeta: Mapping[str, Any]) -> Options:
    """Stage 8: the decoder's options: the model's, with the given ones on top; one not of this decoder is an
    error that lists the decoder's options."""
    given = {k: v for k, v in o.model_dump(exclude=set(_BACKEND_FIELDS)).items() if v is not None}
    valid = sorted(spec.options.model_fields)
    for name in given:
        if name not in valid:
            raise OptionError(f"{_WHERE}: option {name!r} does not apply to decoder {spec.name!r} (its options: "
                              f"{', '.join(valid) or 'none'})")
    merged = {**dict(tmeta.get("options", {})), **given}
    try:
        return decoder_options(spec.name, merged)
    except OptionError as exc:
        raise OptionError(f"{_WHERE}, {exc}") from None


class OnnxPredictor:
    """A :class:`~annokit.predict.base.Predictor` over an ONNX model.

    Parameters
    ----------
    model : path to the ``.onnx`` file
    task : ``classification`` | ``detection`` | ``instance`` | ``semantic``; default: the model's
        ``default_task`` (or its only task)
    decoder : a name of :data:`annokit.predict.decoders.DECODERS`; default: the model's, else by task
    outputs : ``{role: output name}``; default: the model's, else the model's outputs in order
    labels : names (list), ``{id: name}``, ``{"ids": [...], "names": [...]}``, a text file (one name per line) or a
        LabelSet; default: the model's, else index names ``0..C-1`` (with a warning) when the outputs' shapes give C
    preprocess : a :class:`Preprocess` or a dict of its fields, merged over the model's
    batch_size : preferred batch size; threads : onnxruntime intra-op threads (default: its own choice)
    providers : onnxruntime execution providers (default ``["CPUExecutionProvider"]``)
    score_threshold, iou_threshold, max_detections, activation, channels_last, heatmap_activation, mask_labels,
    objectness, box_format, class_agnostic
        The decoder's options (:mod:`annokit.predict.decoders`); one the decoder does not have is an error.

    >>> p = OnnxPredictor("sample_data/model/scenes_cnn.onnx", task="detection")  # doctest: +SKIP
    >>> preds = p.predict([image])  # doctest: +SKIP
    """

    requires = ("onnxruntime",)
    Options = OnnxOptions

    def __init__(self, model: str | os.PathLike[str], *, task: str | Task | None = None, decoder: str | None = None,
                 outputs: Mapping[str, str] | None = None, labels: Any = None,
                 preprocess: Preprocess | Mapping[str, Any] | None = None, batch_size: int = 8,
                 threads: int | None = None, providers: Sequence[str] | None = None,
                 score_threshold: float | None = None, iou_threshold: float | None = None,
                 max_detections: int | None = None, activation: str | None = None, channels_last: bool | None = None,
                 heatmap_activation: str | None = None, mask_labels: Sequence[int] | None = None,
                 objectness: bool | None = None, box_format: str | None = None,
                 class_agnostic: bool | None = None) -> None:
        if isinstance(preprocess, Preprocess):
            preprocess = preprocess.model_dump(exclude_unset=True)
        values = {"model": model, "task": task, "decoder": decoder, "outputs": outputs, "labels": labels,
                  "preprocess": preprocess, "batch_size": batch_size, "threads": threads, "providers": providers,
                  "score_threshold": score_threshold, "iou_threshold": iou_threshold,
                  "max_detections": max_detections, "activation": activation, "channels_last": channels_last,
                  "heatmap_activation": heatmap_activation, "mask_labels": mask_labels, "objectness": objectness,
                  "box_format": box_format, "class_agnostic": class_agnostic}
        self._setup(parse_options(OnnxOptions, values, where=_WHERE))

    def _setup(self, o: OnnxOptions) -> None:
        """The stages, in order: session, model info, task, decoder, outputs, decoder options, labels, input."""
        self.model_path = o.model
        self.session: Any = _open_session(o)
        info = _model_info(self.session, str(o.model))
        self.task, tmeta = _choose_task(o.task, info)
        spec = _choose_decoder(o.decoder, self.task, tmeta)
        self.decoder = spec.name
        roles = _choose_outputs(o.outputs, tmeta, spec, info)
        self.roles = list(roles)  #: the roles fetched, in the order of :attr:`fetch`
        self.fetch = [roles[r] for r in self.roles]  #: the output names ``session.run`` fetches
        self.decoder_options = _choose_decoder_options(o, spec, tmeta)
        self.labels = _choose_labels(o.labels, tmeta, info, _class_count(spec, roles, info, self.decoder_options))
        self.preprocess = _choose_preprocess(o.preprocess, info)
        self.input_name = info.input_name
        b0 = info.input_shape[0] if info.input_shape else None
        self.static_batch = b0 if isinstance(b0, int) and b0 > 0 else None  #: an export's fixed batch size
        self.batch_size = min(o.batch_size, self.static_batch or o.batch_size)
        self._spec = spec

    def __repr__(self) -> str:
        return f"OnnxPredictor({str(self.model_path)!r}, task={self.task.value!r}, decoder={self.decoder!r})"

    def raw(self, images: Sequence[np.ndarray]) -> tuple[dict[str, np.ndarray], list[Transform], tuple[int, int]]:
        """Preprocess and run: the raw outputs by role, the per-image transforms and the network input size."""
        if self.session is None:
            raise OnnxBackendError(f"{self.model_path}: this predictor was closed")
        ims = check_images(images)
        x, tfs = preprocess_batch(ims, self.preprocess)
        hw = (x.shape[2], x.shape[3]) if self.preprocess.layout == "NCHW" else (x.shape[1], x.shape[2])
        if self.static_batch is None or len(x) == self.static_batch:
            res = self.session.run(self.fetch, {self.input_name: x})
        else:
            res = self._run_in_static_batches(x)
        return dict(zip(self.roles, res)), tfs, hw

    def _run_in_static_batches(self, x: np.ndarray) -> list[np.ndarray]:
        """A model exported with a fixed batch size (YOLO exports: 1) runs the batch in chunks of that size, the
        last one padded with zeros, and the outputs are put back together."""
        b0 = int(self.static_batch or 1)
        parts = []
        for i in range(0, len(x), b0):
            chunk = x[i:i + b0]
            if len(chunk) < b0:
                chunk = np.concatenate([chunk, np.zeros((b0 - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            parts.append(self.session.run(self.fetch, {self.input_name: chunk}))
        return [np.concatenate([p[k] for p in parts])[:len(x)] for k in range(len(self.fetch))]

    def decode(self, outputs: Mapping[str, np.ndarray], tfs: Sequence[Transform],
               input_hw: tuple[int, int]) -> list[Prediction]:
        """The decoder on outputs of :meth:`raw`: one :class:`Prediction` per image, in original pixels."""
        with no_gc():  # per-object results (masks) are many small objects
            return self._spec.fn(outputs, tfs, input_hw, self.labels, self.decoder_options, self.task)

    def predict(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """``images``: each ``(H, W, 3)`` uint8 RGB -> one :class:`Prediction` each, in original pixels."""
        if len(images) == 0:
            return []
        return self.decode(*self.raw(images))

    def warmup(self) -> None:
        """One run on a blank image, so the first timed batch does not pay for onnxruntime's set-up."""
        size = self.preprocess.size or (32, 32)
        self.predict([np.zeros((int(size[0]), int(size[1]), 3), np.uint8)])

    def close(self) -> None:
        """Release the onnxruntime session; predicting afterwards is an error."""
        self.session = None

