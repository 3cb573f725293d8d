"""Overhead of annokit's ``onnx`` backend over the same work written by hand with numpy and onnxruntime.

    python benchmarks/bench_onnx_overhead.py [--task all] [--threads 1 2] [--repeat 30] [--check]

Both sides start from the same list of ``(H, W, 3)`` uint8 images of **mixed sizes** (the 48 sample scenes rescaled
by random factors 0.5-2 and aspect changes, so every image is resized to the network input and every output goes
back to its own size), batch by batch (16), in one onnxruntime session (the predictor's own), and end with the
**same decoded outputs** in the images' own pixels -- checked equal before anything is timed:

* **annokit**: ``predictor.predict(batch)`` (input checks, resizing, normalisation, the network, the decoder,
  typed :class:`~annokit.predict.base.Prediction` objects);
* **plain**: what a user writes by hand: Pillow bilinear resize of each image, one float pass to normalise,
  ``session.run``, then a straightforward numpy decoding to the same outputs:

  - classification: softmax of the logits;
  - detection (the shipped model's CenterNet head): 3x3 max-pool peaks above the threshold, the best 100 per
    image, boxes from sizes and offsets, mapped back to the image and clipped;
  - detection-yolo (a YOLO-style head added to the shipped network, :func:`_shipped_model.yolo_head_model`):
    per image, best class per anchor, score threshold, cx cy w h -> corners, **the same NMS**
    (:func:`annokit.predict.blocks.nms`), mapped back;
  - semantic: every channel resampled bilinearly to the image's size (half-pixel centres), ``argmax``;
  - instance: the detection decoding, the label map as for semantic, and one bitmap per detection (its box cut
    of the map) encoded by ``pycocotools.mask.encode``.

Also timed, for the split: **network** (``session.run`` alone on prepared inputs) and **direct** (the plain side's
resizing, normalisation and ``session.run`` returning raw tensors, as the previous version of this benchmark
compared against). Sides are interleaved; each of ``--repeat`` rounds runs every side once. The overhead is
``median(annokit) / median(plain) - 1``; its spread is the range (and quartiles) of the per-round ratios
``annokit / plain`` of the same round. ``--clock cpu`` times this process's CPU time instead of wall time (steadier
on a machine other programs load; onnxruntime's spinning threads count). Prints one JSON object per configuration
and a table; ``--check`` exits 1 if any overhead is 10% or more.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _shipped_model import MODEL, ROOT, interleaved_times, mixed_sizes, yolo_head_model

TASKS = ["classification", "detection", "detection-yolo", "semantic", "instance"]


# ------------------------------------------------------------------------------------------- the plain side
class Plain:
    """The hand-written pipeline for one predictor's model: resize, normalise, run, decode with numpy."""

    def __init__(self, pred: Any, task: str) -> None:
        spec = pred.preprocess
        if spec.layout != "NCHW" or spec.channels != "RGB" or spec.dtype != "float32" or spec.resize != "stretch":
            raise SystemExit("the plain side here feeds stretched NCHW float32 RGB")
        self.sess, self.inp, self.fetch = pred.session, pred.input_name, pred.fetch
        self.roles = list(pred.roles)
        self.size = (int(spec.size[0]), int(spec.size[1]))
        std = np.asarray(spec.std, np.float32)
        self.mul = (np.float32(spec.scale) / std).reshape(1, 3, 1, 1)
        self.add = (-np.asarray(spec.mean, np.float32) / std).reshape(1, 3, 1, 1)
        self.ids = np.asarray(pred.labels.ids)
        self.opts = pred.decoder_options
        self.task = task
        self.decode: Callable[[dict[str, np.ndarray], list[tuple[int, int]]], list[Any]] = {
            "classification": self.softmax, "detection": self.centernet, "detection-yolo": self.yolo,
            "semantic": self.semantic, "instance": self.instance}[task]

    def to_input(self, batch: list[np.ndarray]) -> np.ndarray:
        """Resize each image into one uint8 array, then one strided float pass and one in-place pass."""
        from PIL import Image

        H, W = self.size
        u8 = np.empty((len(batch), H, W, 3), np.uint8)
        for i, im in enumerate(batch):
            u8[i] = im if im.shape[:2] == (H, W) else Image.fromarray(im).resize((W, H), Image.Resampling.BILINEAR)
        x = np.empty((len(batch), 3, H, W), np.float32)
        np.multiply(u8.transpose(0, 3, 1, 2), self.mul, out=x)
        x += self.add
        return x

    def direct(self, batch: list[np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.roles, self.sess.run(self.fetch, {self.inp: self.to_input(batch)})))

    def __call__(self, batch: list[np.ndarray]) -> list[Any]:
        return self.decode(self.direct(batch), [im.shape[:2] for im in batch])

    # decoders: each returns per image what annokit's prediction holds
    def softmax(self, outs: dict[str, np.ndarray], hws: list[tuple[int, int]]) -> list[Any]:
        x = outs["logits"].astype(np.float64)
        e = np.exp(x - x.max(1, keepdims=True))
        return list(e / e.sum(1, keepdims=True))

    def _to_image(self, boxes: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        sx, sy = hw[1] / self.size[1], hw[0] / self.size[0]  # original pixels per input pixel
        b = boxes * np.array([sx, sy, sx, sy])
        b[:, 0::2] = b[:, 0::2].clip(0, hw[1])
        b[:, 1::2] = b[:, 1::2].clip(0, hw[0])
        return b

    def centernet(self, outs: dict[str, np.ndarray], hws: list[tuple[int, int]]) -> list[Any]:
        heat, wh, off = outs["heatmap"], outs["wh"], outs["offset"]
        n, c, h, w = heat.shape
        pad = np.pad(heat, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
        pooled = heat.copy()
        for dy in range(3):
            for dx in range(3):
                np.maximum(pooled, pad[:, :, dy:dy + h, dx:dx + w], out=pooled)
        peak = (heat >= pooled) & (heat > self.opts.score_threshold)
        out = []
        for i in range(n):
            cls, y, x = np.nonzero(peak[i])
            score = heat[i, cls, y, x]
            top = np.argsort(-score, kind="stable")[:self.opts.max_detections]
            cls, y, x, score = cls[top], y[top], x[top], score[top]
            cx = (x + off[i, 0, y, x]) * (self.size[1] / w)
            cy = (y + off[i, 1, y, x]) * (self.size[0] / h)
            bw, bh = wh[i, 0, y, x], wh[i, 1, y, x]
            boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1).astype(np.float64)
            out.append((self._to_image(boxes, hws[i]), self.ids[cls], score.astype(np.float64)))
        return out

    def yolo(self, outs: dict[str, np.ndarray], hws: list[tuple[int, int]]) -> list[Any]:
        from annokit.predict.blocks import nms

        o = self.opts
        out = []
        for i, r in enumerate(outs["boxes"].transpose(0, 2, 1)):  # (anchors, 4 + C)
            cls = r[:, 4:].argmax(1)
            score = r[np.arange(len(r)), 4 + cls]
            keep = score > o.score_threshold
            r, cls, score = r[keep].astype(np.float64), cls[keep], score[keep].astype(np.float64)
            boxes = np.concatenate([r[:, :2] - r[:, 2:4] / 2, r[:, :2] + r[:, 2:4] / 2], 1)
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
            sel = nms(boxes, score, o.iou_threshold, None if o.class_agnostic else cls)[:o.max_detections]
            out.append((self._to_image(boxes[sel], hws[i]), self.ids[cls[sel]], score[sel]))
        return out

    def label_maps(self, scores: np.ndarray, hws: list[tuple[int, int]]) -> list[np.ndarray]:
        """Every channel resampled bilinearly to each image's size (half-pixel centres), then argmax."""
        _, _, h, w = scores.shape
        out = []
        for s, (H, W) in zip(scores, hws):
            y0, y1, wy = _axis(H, h)
            x0, x1, wx = _axis(W, w)
            a = s[:, y0]
            a = a + (s[:, y1] - a) * wy[:, None]
            b = a[..., x0]
            b = b + (a[..., x1] - b) * wx
            out.append(b.argmax(0))
        return out

    def semantic(self, outs: dict[str, np.ndarray], hws: list[tuple[int, int]]) -> list[Any]:
        return [self.ids[m] for m in self.label_maps(outs["scores"], hws)]

    def instance(self, outs: dict[str, np.ndarray], hws: list[tuple[int, int]]) -> list[Any]:
        from pycocotools import mask as cmask

        dets = self.centernet(outs, hws)
        out = []
        for (boxes, labels, _), lab, (H, W) in zip(dets, self.label_maps(outs["masks_from"], hws), hws):
            edges = np.floor(boxes + 0.5).astype(int)
            m = np.zeros((H, W, len(edges)), np.uint8, order="F")
            for k, ((x0, y0, x1, y1), c) in enumerate(zip(edges, labels)):
                m[y0:y1, x0:x1, k] = lab[y0:y1, x0:x1] == c
            out.append(cmask.encode(m))
        return out


def _axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (pos - i0).astype(np.float32)


def _same(task: str, got: Any, p: Any) -> bool:
    """The plain side's output for one image equals annokit's prediction."""
    if task == "classification":
        return bool(np.allclose(got, p.class_scores, rtol=1e-12, atol=0))
    if task == "semantic":
        return bool(np.array_equal(got, p.label_map))
    if task == "instance":
        return list(got) == list(p.instances.segmentations)
    boxes, labels, scores = got
    inst = p.instances
    return (boxes.shape == inst.boxes.shape and np.allclose(boxes, inst.boxes, rtol=1e-9, atol=1e-9)
            and np.array_equal(labels, inst.labels) and np.allclose(scores, inst.scores, rtol=1e-12, atol=0))


# ------------------------------------------------------------------------------------------- one configuration
def measure(task: str, threads: int, images: list[np.ndarray], batch: int, repeat: int, model: Path,
            tmp: Path, clock: str = "wall") -> dict[str, Any]:
    from annokit.predict import load_predictor

    if task == "detection-yolo":
        model = yolo_head_model(tmp / "scenes_yolo.onnx", model)
    pred = load_predictor("onnx", model=model, task="detection" if task.startswith("detection") else task,
                          threads=threads)
    plain = Plain(pred, task)
    batches = [images[i:i + batch] for i in range(0, len(images), batch)]
    for b in batches:  # the comparison means nothing unless both sides give the same outputs
        for i, (g, p) in enumerate(zip(plain(b), pred.predict(b))):
            if not _same(task, g, p):
                raise SystemExit(f"{task}: the plain decoding differs from annokit's (image {i} of a batch)")
    xs = [plain.to_input(b) for b in batches]
    sides = {
        "annokit": lambda: [pred.predict(b) for b in batches],
        "plain": lambda: [plain(b) for b in batches],
        "direct": lambda: [plain.direct(b) for b in batches],
        "network": lambda: [plain.sess.run(plain.fetch, {plain.inp: x}) for x in xs],
    }
    t = interleaved_times(sides, repeat, clock=time.process_time if clock == "cpu" else time.perf_counter)
    n = len(images)
    med = {k: statistics.median(v) for k, v in t.items()}
    ratios = sorted(a / b - 1 for a, b in zip(t["annokit"], t["plain"]))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    dets = (round(sum(len(p.instances) for b in batches for p in pred.predict(b)) / n, 1)
            if pred.task.value in ("detection", "instance") else None)
    return {
        "task": task, "threads": threads, "images": n, "batch": batch, "repeat": repeat, "clock": clock,
        "ms_per_image": {k: round(1000 * v / n, 4) for k, v in med.items()},
        "overhead_vs_plain": round(med["annokit"] / med["plain"] - 1, 4),
        "overhead_per_round": {"min": round(ratios[0], 4), "q1": round(q[0], 4), "median": round(q[1], 4),
                               "q3": round(q[2], 4), "max": round(ratios[-1], 4)},
        "overhead_vs_direct_raw": round(med["annokit"] / med["direct"] - 1, 4),
        **({"detections_per_image": dets} if dets is not None else {}),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("| task | threads | network | direct (raw) | plain | annokit | overhead vs plain | per-round range "
            "(quartiles) |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        ms, q = r["ms_per_image"], r["overhead_per_round"]
        lines.append(f"| {r['task']} | {r['threads']} | {ms['network']:.3f} | {ms['direct']:.3f} | "
                     f"{ms['plain']:.3f} | {ms['annokit']:.3f} | **{100 * r['overhead_vs_plain']:+.1f}%** | "
                     f"{100 * q['min']:+.1f}% .. {100 * q['max']:+.1f}% ({100 * q['q1']:+.1f}% .. "
                     f"{100 * q['q3']:+.1f}%) |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--images", type=Path, default=ROOT / "sample_data" / "scenes" / "images")
    ap.add_argument("--task", nargs="+", default=["all"], choices=["all", *TASKS])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="onnxruntime intra-op threads")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--same-size", action="store_true", help="the images at the network's size (no resizing)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall time, or this process's CPU time (steadier when other programs load the machine)")
    ap.add_argument("--check", action="store_true", help="exit 1 when an overhead is 10%% or more")
    args = ap.parse_args()

    from annokit.predict import images_from_dir, load_image

    images = [load_image(it.path) for it in images_from_dir(args.images)]
    if not args.same_size:
        images = mixed_sizes(images)
    tasks = TASKS if "all" in args.task else args.task
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            for threads in args.threads:
                row = measure(task, threads, images, args.batch, args.repeat, args.model, Path(tmp), args.clock)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(_table(rows))
    return 1 if args.check and any(r["overhead_vs_plain"] >= 0.10 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
