"""What the predictor benchmarks share: the shipped model and sample images as defaults, and interleaved timing."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def model_arguments(ap: argparse.ArgumentParser, *, task: str, repeat: int, threads: int | None) -> None:
    """``--model --images --task --batch --repeat --threads``, defaulting to the shipped model on the samples."""
    ap.add_argument("--model", type=Path, default=ROOT / "sample_data" / "model" / "scenes_cnn.onnx")
    ap.add_argument("--images", type=Path, default=ROOT / "sample_data" / "scenes" / "images")
    ap.add_argument("--task", default=task)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=repeat)
    ap.add_argument("--threads", type=int, default=threads,
                    help=f"onnxruntime threads (default: {threads if threads else 'its own choice'})")


def interleaved_medians(sides: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Seconds per call of each side: one warm-up call each, then ``repeat`` rounds calling every side in turn
    (so a slow moment of the machine touches all of them), median per side."""
    for fn in sides.values():
        fn()
    t: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(repeat):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            fn()
            t[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in t.items()}
