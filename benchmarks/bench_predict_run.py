"""Time ``run_predictor`` (what ``annokit predict`` runs) against its two parts done one after the other.

    python benchmarks/bench_predict_run.py [--task instance] [--batch 16] [--repeat 5] [--threads N]

On the 48 sample images with the shipped model, medians of ``--repeat`` rounds, ms per image:

* **read**: ``load_image`` of every file (PNG decoding), one after another;
* **predict**: ``predictor.predict`` over the already-read batches;
* **run**: ``run_predictor`` end to end, which reads the next batch on a second thread while the model runs;
* **read + predict**: what the run would cost without that overlap.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys

from _shipped_model import interleaved_medians, model_arguments


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model_arguments(ap, task="instance", repeat=5, threads=None)
    args = ap.parse_args()

    from annokit.predict import images_from_dir, load_image, load_predictor, run_predictor

    pred = load_predictor("onnx", model=args.model, task=args.task, threads=args.threads)
    items = images_from_dir(args.images)
    images = [load_image(it.path) for it in items]
    batches = [images[i:i + args.batch] for i in range(0, len(images), args.batch)]
    sides = {
        "read": lambda: [load_image(it.path) for it in items],
        "predict": lambda: [pred.predict(b) for b in batches],
        "run": lambda: run_predictor(pred, items, batch_size=args.batch, close=False),
    }
    ms = {k: round(1000 * v / len(items), 3) for k, v in interleaved_medians(sides, args.repeat).items()}
    ms["read + predict"] = round(ms["read"] + ms["predict"], 3)
    print(json.dumps({"task": args.task, "images": len(items), "batch": args.batch, "threads": args.threads,
                      "ms_per_image": ms}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
