"""Overhead of annokit's ``onnx`` backend over calling onnxruntime directly on the same batches.

    python benchmarks/bench_onnx_overhead.py [--model M.onnx] [--task detection] [--batch 16] [--repeat 30]

Both sides start from the same list of ``(H, W, 3)`` uint8 images, batch by batch, in one onnxruntime session
(the predictor's own), on one thread:

* **direct**: what a user writes by hand: stack the batch, scale / normalize / transpose with numpy, and
  ``session.run`` the outputs the task needs;
* **annokit**: ``predictor.predict(batch)``: the same work plus input checks, per-image transforms and the
  decoder, returning typed :class:`~annokit.predict.base.Prediction` objects in original pixels.

It also reports ``session.run`` alone (the network), so the split is visible. Timings interleave the two sides
and take the median of ``--repeat`` rounds. The default model is the shipped ``sample_data/model/scenes_cnn.onnx``
on the 48 sample images. Prints one JSON object; exit status 1 if the overhead is 10% or more (``--check``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "sample_data" / "model" / "scenes_cnn.onnx")
    ap.add_argument("--images", type=Path, default=ROOT / "sample_data" / "scenes" / "images")
    ap.add_argument("--task", default="detection")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check", action="store_true", help="exit 1 when the overhead is 10%% or more")
    args = ap.parse_args()

    from annokit.predict import images_from_dir, load_image, load_predictor

    pred = load_predictor("onnx", model=args.model, task=args.task, threads=args.threads)
    images = [load_image(it.path) for it in images_from_dir(args.images)]
    batches = [images[i:i + args.batch] for i in range(0, len(images), args.batch)]
    sess, spec = pred.session, pred.preprocess
    fetch, inp = pred._fetch, pred.input_name
    std = np.asarray(spec.std, np.float32)
    mul = (np.float32(spec.scale) / std).reshape(1, 3, 1, 1)
    add = (-np.asarray(spec.mean, np.float32) / std).reshape(1, 3, 1, 1)
    if spec.size is not None and any(im.shape[:2] != tuple(spec.size) for im in images):
        raise SystemExit("the direct baseline here does not resize: use images of the model's input size")
    if spec.layout != "NCHW" or spec.channels != "RGB" or spec.dtype != "float32":
        raise SystemExit("the direct baseline here feeds NCHW float32 RGB")

    def to_input(batch):  # an efficient hand-written version: one strided cast, two in-place passes
        x = np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2), dtype=np.float32)
        x *= mul
        x += add
        return x

    def direct(batch):
        return sess.run(fetch, {inp: to_input(batch)})

    xs = [to_input(b) for b in batches]

    def network_only():
        for x in xs:
            sess.run(fetch, {inp: x})

    def run_direct():
        for b in batches:
            direct(b)

    def run_annokit():
        for b in batches:
            pred.predict(b)

    for fn in (run_direct, run_annokit, network_only):  # warm-up
        fn()
    t = {"direct": [], "annokit": [], "network": []}
    for _ in range(args.repeat):
        for name, fn in (("direct", run_direct), ("annokit", run_annokit), ("network", network_only)):
            t0 = time.perf_counter()
            fn()
            t[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in t.items()}
    overhead = med["annokit"] / med["direct"] - 1
    n = len(images)
    report = {
        "model": str(args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model),
        "task": args.task, "images": n, "batch": args.batch, "threads": args.threads, "repeat": args.repeat,
        "ms_per_image": {k: round(1000 * v / n, 4) for k, v in med.items()},
        "overhead_vs_direct": round(overhead, 4),
        "overhead_vs_network_only": round(med["annokit"] / med["network"] - 1, 4),
    }
    print(json.dumps(report, indent=2))
    return 1 if args.check and overhead >= 0.10 else 0


if __name__ == "__main__":
    sys.exit(main())
