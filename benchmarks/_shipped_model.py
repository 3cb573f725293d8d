"""What the predictor benchmarks share: the shipped model and sample images as defaults, images of mixed sizes,
a YOLO-style head on the shipped network, and interleaved timing."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = ROOT / "sample_data" / "model" / "scenes_cnn.onnx"


def model_arguments(ap: argparse.ArgumentParser, *, task: str, repeat: int, threads: int | None) -> None:
    """``--model --images --task --batch --repeat --threads``, defaulting to the shipped model on the samples."""
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--images", type=Path, default=ROOT / "sample_data" / "scenes" / "images")
    ap.add_argument("--task", default=task)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=repeat)
    ap.add_argument("--threads", type=int, default=threads,
                    help=f"onnxruntime threads (default: {threads if threads else 'its own choice'})")


def mixed_sizes(images: list[np.ndarray], seed: int = 0, lo: float = 0.5, hi: float = 2.0) -> list[np.ndarray]:
    """The images rescaled (bilinear) by a random factor in ``lo..hi`` and a random aspect change of up to 25%, so
    every image needs resizing to the network's input and its outputs mapping back to its own size."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for im in images:
        s, a = rng.uniform(lo, hi), rng.uniform(0.8, 1.25)
        h, w = max(8, round(im.shape[0] * s * a ** 0.5)), max(8, round(im.shape[1] * s / a ** 0.5))
        out.append(np.asarray(Image.fromarray(im).resize((w, h), Image.Resampling.BILINEAR)))
    return out


def yolo_head_model(dest: Path, model: Path = MODEL, stride: float = 4.0) -> Path:
    """The shipped network with a YOLO-style output added: ``yolo`` ``(N, 4 + 3, h * w)`` -- per cell the box of
    its CenterNet head (centre ``(cell + offset) * stride``, size ``wh``) and its three class heat-map scores -- so
    the ``yolo`` decoder (score threshold, greedy NMS) runs on a real trained network. Needs the ``onnx``
    package."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(model))
    meta = {p.key: p.value for p in m.metadata_props}
    ak = json.loads(meta["annokit"])
    det = ak["tasks"]["detection"]
    shapes = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in m.graph.output}
    c, h, w = shapes[det["outputs"]["heatmap"]][1:]
    gy, gx = np.divmod(np.arange(h * w), w)
    inits = [numpy_helper.from_array(np.stack([gx, gy])[None].astype(np.float32), "yolo_grid"),
             numpy_helper.from_array(np.array(stride, np.float32), "yolo_stride"),
             numpy_helper.from_array(np.array([0, 2, h * w], np.int64), "yolo_two"),
             numpy_helper.from_array(np.array([0, c, h * w], np.int64), "yolo_classes")]
    o = det["outputs"]
    nodes = [helper.make_node("Reshape", [o["offset"], "yolo_two"], ["yolo_off"]),
             helper.make_node("Add", ["yolo_off", "yolo_grid"], ["yolo_cells"]),
             helper.make_node("Mul", ["yolo_cells", "yolo_stride"], ["yolo_cxcy"]),
             helper.make_node("Reshape", [o["wh"], "yolo_two"], ["yolo_wh"]),
             helper.make_node("Reshape", [o["heatmap"], "yolo_classes"], ["yolo_scores"]),
             helper.make_node("Concat", ["yolo_cxcy", "yolo_wh", "yolo_scores"], ["yolo"], axis=1)]
    m.graph.node.extend(nodes)
    m.graph.initializer.extend(inits)
    m.graph.output.append(helper.make_tensor_value_info("yolo", TensorProto.FLOAT, ["batch", 4 + c, h * w]))
    ak["tasks"] = {"detection": {"decoder": "yolo", "outputs": {"boxes": "yolo"}, "labels": det["labels"]}}
    ak["default_task"] = "detection"
    for p in m.metadata_props:
        if p.key == "annokit":
            p.value = json.dumps(ak)
    onnx.checker.check_model(m)
    onnx.save(m, str(dest))
    return dest


def interleaved_medians(sides: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Seconds per call of each side (median of :func:`interleaved_times`)."""
    return {k: statistics.median(v) for k, v in interleaved_times(sides, repeat).items()}


def interleaved_times(sides: dict[str, Callable[[], object]], repeat: int, *,
                      clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds of each call of each side: one warm-up call each, then ``repeat`` rounds calling every side in turn
    (so a slow moment of the machine touches all of them). ``clock``: wall time by default; ``time.process_time``
    counts this process's CPU time only (steadier on a busy machine, but it also counts idle spinning threads)."""
    for fn in sides.values():
        fn()
    t: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(repeat):
        for name, fn in sides.items():
            t0 = clock()
            fn()
            t[name].append(clock() - t0)
    return t
