"""Overhead of annokit's ``onnx`` backend over calling onnxruntime directly on the same batches.

    python benchmarks/bench_onnx_overhead.py [--model M.onnx] [--task detection] [--batch 16] [--repeat 30]

Both sides start from the same list of ``(H, W, 3)`` uint8 images, batch by batch, in one onnxruntime session
(the predictor's own), on one thread:

* **direct**: what a user writes by hand: stack the batch, scale / normalize / transpose with numpy, and
  ``session.run`` the outputs the task needs;
* **annokit**: ``predictor.predict(batch)``: the same work plus input checks, per-image transforms and the
  decoder, returning typed :class:`~annokit.predict.base.Prediction` objects in original pixels.

It also reports ``session.run`` alone (the network) and the decoder alone (on the batches' raw outputs), so the
split is visible: ``wrapper_overhead`` is what annokit adds besides decoding. For the segmentation tasks the direct
call's outputs are still raw stride-4 tensors; ``plain`` is the direct call plus a straightforward numpy decoding to
the *same* outputs (every channel resampled bilinearly to full resolution, ``argmax``; for instance masks, one bitmap
per detection encoded by ``pycocotools.mask.encode``), to show what that decoding costs when written plainly.
Timings interleave the sides and take the median of ``--repeat`` rounds. The default model is the shipped
``sample_data/model/scenes_cnn.onnx`` on the 48 sample images. Prints one JSON object; exit status 1 if the
overhead over the direct call is 10% or more (``--check``).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from _shipped_model import ROOT, interleaved_medians, model_arguments


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model_arguments(ap, task="detection", repeat=30, threads=1)
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

    raws = [pred.raw(b) for b in batches]

    def decode_only():
        for outs, tfs, hw in raws:
            pred._decode(outs, tfs, hw, pred.labels, **pred.decoder_options)

    sides = {"direct": run_direct, "annokit": run_annokit, "network": network_only, "decode": decode_only}
    plain = _plain_decoder(pred, args.task)
    if plain is not None:
        def run_plain():
            for b in batches:
                plain(direct(b), (b[0].shape[0], b[0].shape[1]))

        sides["plain"] = run_plain
        # the plain decoding must give what annokit gives, or the comparison means nothing
        for b in batches:
            got, want = plain(direct(b), (b[0].shape[0], b[0].shape[1])), pred.predict(b)
            for g, p in zip(got, want):
                same = (np.array_equal(g, p.label_map) if args.task == "semantic"
                        else list(g) == list(p.instances.segmentations))
                if not same:
                    raise SystemExit("the plain decoding differs from annokit's: no comparison")
    med = interleaved_medians(sides, args.repeat)
    overhead = med["annokit"] / med["direct"] - 1
    n = len(images)
    report = {
        "model": str(args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model),
        "task": args.task, "images": n, "batch": args.batch, "threads": args.threads, "repeat": args.repeat,
        "ms_per_image": {k: round(1000 * v / n, 4) for k, v in med.items()},
        "overhead_vs_direct": round(overhead, 4),
        "overhead_vs_network_only": round(med["annokit"] / med["network"] - 1, 4),
        "wrapper_overhead": round((med["annokit"] - med["decode"]) / med["direct"] - 1, 4),
    }
    if "plain" in med:
        report["overhead_vs_plain"] = round(med["annokit"] / med["plain"] - 1, 4)
    print(json.dumps(report, indent=2))
    return 1 if args.check and overhead >= 0.10 else 0


def _plain_label_maps(scores: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """``(N, C, h, w)`` -> ``(N, H, W)``: every channel resampled bilinearly (half-pixel centres), then argmax."""
    n, c, h, w = scores.shape
    H, W = hw

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        i0 = np.floor(pos).astype(np.int64)
        return i0, np.minimum(i0 + 1, n_in - 1), (pos - i0).astype(np.float32)

    y0, y1, wy = axis(H, h)
    x0, x1, wx = axis(W, w)
    a = scores[:, :, y0]
    a = a + (scores[:, :, y1] - a) * wy[:, None]
    b = a[..., x0]
    b = b + (a[..., x1] - b) * wx
    return b.argmax(1)


def _plain_decoder(pred, task: str):
    """A straightforward numpy decoding of the direct call's outputs to the predictor's outputs, or None."""
    from pycocotools import mask as cmask

    from annokit.predict.decoders import decode

    roles = list(pred._roles)
    if task == "semantic":
        def plain(res, hw):
            return list(_plain_label_maps(res[roles.index("scores")], hw))

        return plain
    if task == "instance":
        from annokit.predict import Task
        from annokit.predict.preprocess import Transform

        opts = {**pred.decoder_options, "task": Task.DETECTION}

        def plain(res, hw):
            outs = dict(zip(roles, res))
            tfs = [Transform(hw, (1.0, 1.0), (0, 0), hw)] * len(res[0])
            dets = decode(pred.decoder, outs, tfs, hw, pred.labels, **opts)
            labs = _plain_label_maps(outs["masks_from"], hw)
            out = []
            for lab, p in zip(labs, dets):
                boxes = np.floor(p.instances.boxes + 0.5).astype(int)
                m = np.zeros((hw[0], hw[1], len(boxes)), np.uint8, order="F")
                for k, ((x0, y0, x1, y1), c) in enumerate(zip(boxes, p.instances.labels)):
                    m[y0:y1, x0:x1, k] = lab[y0:y1, x0:x1] == c
                out.append(cmask.encode(m))
            return out

        return plain
    return None


if __name__ == "__main__":
    sys.exit(main())
