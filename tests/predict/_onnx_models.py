"""Tiny ONNX graphs built with onnx.helper, for testing the onnx backend's plumbing (private test helper)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _save(graph, path: Path, metadata: dict[str, str] | None = None) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def identity_model(path: Path, hw: tuple[int, int] | None = None, metadata: dict | None = None, *,
                   symbolic_channels: bool = False) -> Path:
    """Output ``x`` = the input tensor, so a test sees exactly what preprocessing fed the network (declared with
    a symbolic channel count ``C`` when ``symbolic_channels``)."""
    from onnx import TensorProto, helper

    c: int | str = "C" if symbolic_channels else 3
    shape = ["N", c, hw[0], hw[1]] if hw else ["N", c, "H", "W"]
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    out = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    g = helper.make_graph([helper.make_node("Identity", ["input"], ["x"])], "identity", [inp], [out])
    meta = {"annokit": json.dumps(metadata)} if metadata is not None else None
    return _save(g, path, meta)


def mean_color_classifier(path: Path, metadata: dict[str, str]) -> Path:
    """``logits (N, 3)`` = 10 * channel means of the input: the reddest image scores class 0 highest."""
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 16, 16])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])
    ten = helper.make_tensor("ten", TensorProto.FLOAT, [], [10.0])
    nodes = [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("Mul", ["flat", "ten"], ["logits"])]
    g = helper.make_graph(nodes, "meancolor", [inp], [out], initializer=[ten])
    return _save(g, path, metadata)


def constant_yolo(path: Path, raw: np.ndarray, size: tuple[int, int], metadata: dict[str, str]) -> Path:
    """A detector whose output is always ``raw`` (1, 4 + C, A) broadcast over the batch."""
    from onnx import TensorProto, helper, numpy_helper

    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size[0], size[1]])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", raw.shape[1], raw.shape[2]])
    const = numpy_helper.from_array(raw.astype(np.float32), "raw")
    zero = numpy_helper.from_array(np.array(0, np.float32), "zero")
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=0),  # (N,)
             helper.make_node("Unsqueeze", ["m", "a12"], ["m3"]),  # (N, 1, 1)
             helper.make_node("Mul", ["m3", "zero"], ["z"]),
             helper.make_node("Add", ["z", "raw"], ["output0"])]  # (N, K, A)
    a12 = numpy_helper.from_array(np.array([1, 2], np.int64), "a12")
    g = helper.make_graph(nodes, "yolo", [inp], [out], initializer=[const, zero, a12])
    return _save(g, path, metadata)


def failing_model(path: Path) -> Path:
    """Fails at run time on any input whose height is not 8 (a Reshape to a fixed size)."""
    from onnx import TensorProto, helper, numpy_helper

    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])
    shape = numpy_helper.from_array(np.array([-1, 3, 8, 8], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["logits"], axis=1)]
    g = helper.make_graph(nodes, "failing", [inp], [out], initializer=[shape])
    meta = {"tasks": {"classification": {"labels": {"names": ["r", "g", "b"]}}}}
    return _save(g, path, {"annokit": json.dumps(meta)})


def tiny_yolov8(path: Path, size: int = 64, cell: int = 8, box: float = 16.0) -> Path:
    """A YOLOv8-shaped detector (input ``images`` ``(N, 3, size, size)``, output ``output0`` ``(N, 4 + 2, A)`` as
    ultralytics exports it) that really looks at the image: one anchor per ``cell`` x ``cell`` cell, scoring class
    0 by the cell's mean of red - (green + blue) / 2 and class 1 by green - (red + blue) / 2 (inputs in 0..1: grey,
    the letterbox padding included, scores 0), each proposing a ``box`` x ``box``
    square centred on the cell -- so a coloured square covering several cells gives several overlapping
    candidates that NMS must reduce to one."""
    from onnx import TensorProto, helper, numpy_helper

    g = size // cell
    a = g * g
    weights = np.zeros((2, 3, cell, cell), np.float32)
    weights[0] = np.array([1.0, -0.5, -0.5])[:, None, None] / (cell * cell)  # class 0: red
    weights[1] = np.array([-0.5, 1.0, -0.5])[:, None, None] / (cell * cell)  # class 1: green
    cy, cx = np.divmod(np.arange(a), g)
    boxes = np.stack([(cx + 0.5) * cell, (cy + 0.5) * cell, np.full(a, box), np.full(a, box)])[None]
    inits = [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(boxes.astype(np.float32), "anchors"),
             numpy_helper.from_array(np.array([0, 2, a], np.int64), "flat"),
             numpy_helper.from_array(np.array(0, np.float32), "zero")]
    nodes = [helper.make_node("Conv", ["images", "w"], ["cells"], kernel_shape=[cell, cell], strides=[cell, cell]),
             helper.make_node("Reshape", ["cells", "flat"], ["scores"]),  # (N, 2, A)
             helper.make_node("ReduceMean", ["scores"], ["m"], axes=[1], keepdims=1),  # (N, 1, A)
             helper.make_node("Mul", ["m", "zero"], ["z"]),
             helper.make_node("Add", ["z", "anchors"], ["xywh"]),  # (N, 4, A)
             helper.make_node("Concat", ["xywh", "scores"], ["output0"], axis=1)]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, a])
    graph = helper.make_graph(nodes, "tiny_yolov8", [inp], [out], initializer=inits)
    return _save(graph, path, {"task": "detect", "imgsz": f"[{size}, {size}]"})
