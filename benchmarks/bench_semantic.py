"""Semantic mIoU over a folder of label PNGs: annokit vs hotcoco's ``SemanticEval``, side by side on the same files.

Each tool runs in its own fresh process per repetition, the tools interleaved; the clock runs from the two folder
paths to the metrics, imports excluded (hotcoco's import brings numpy and its decoder; annokit's entry point is lazy,
so the modules it would import on the first call — numpy, the label-map reader, the accumulator, imagecodecs,
pyspng and, for folders it counts with its compiled loop, numba — are imported before its clock too; a second
table gives each tool's imports and the whole, imports included); peak RSS is the whole process's (annokit's
forked workers: not added). Prints medians (and the spread), CPU time (forked workers included), peak memory,
ratios to annokit, and checks that both give the same mIoU, aAcc, mAcc, fwIoU and per-class IoU / Acc (1e-9).

    python benchmarks/bench_semantic.py                          # 500 gray 640x480 maps, 19 classes
    python benchmarks/bench_semantic.py --mode P --classes 150   # palette PNGs, ADE20K's class count
    python benchmarks/bench_semantic.py --images 100 --repeat 1
    python benchmarks/bench_semantic.py --images 2000             # COMPILED_FROM_PAIRS a worker: the compiled loop

The data (seeded) is made once under ``--data``: ground truth is a Voronoi partition of the image (computed on an
8-pixel grid) with void (255) specks, the prediction shifts it, relabels some regions and adds noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import PEAK_MB, check_tools, interleaved, print_table, run_fresh

RUNNERS = {
    "annokit": """
from annokit.api import evaluate_semantic_folders
import annokit.io.labelmap, annokit.metrics.semantic  # what it imports lazily (numpy among them): imports excluded
try:  # the compiled counting loop's module (numba's import), where the call will use it
    import os, annokit.io.labelpairs as lp
    n = len(os.listdir(GT))
    if (lp.use_compiled_loop(n, min(4, os.cpu_count() or 1)) if hasattr(lp, "use_compiled_loop")
            else n >= lp.COMPILED_FROM_PAIRS):  # a --baseline checkout before use_compiled_loop
        import annokit.io._labelpairs_kernel
except ImportError:  # a --baseline checkout without it
    pass
try:
    import imagecodecs, pyspng  # annokit[fast]'s decoders, imported at the first PNG
except ImportError:
    pass
t0 = time.perf_counter(); c0 = time.process_time()
r = evaluate_semantic_folders(GT, PRED, C)
out = {"mIoU": r.mIoU, "aAcc": r.aAcc, "mAcc": r.mAcc, "fwIoU": r.fwIoU, "IoU": r.iou.tolist(),
       "Acc": r.acc.tolist()}
""",
    "hotcoco": """
from hotcoco.semantic import SemanticEval
t0 = time.perf_counter(); c0 = time.process_time()
ev = SemanticEval(C)
ev.update_folders(GT, PRED)
r = ev.results()
out = {k: r[k] for k in ("mIoU", "aAcc", "mAcc", "fwIoU")}
out["IoU"] = [c["IoU"] for c in r["per_class"]]
out["Acc"] = [c["Acc"] for c in r["per_class"]]
""",
}

PRELUDE = """
import json, sys, time
i0 = time.perf_counter(); ic0 = time.process_time()
GT, PRED, C = sys.argv[1], sys.argv[2], int(sys.argv[3])
"""
EPILOGUE = PEAK_MB + """
import resource
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # annokit's forked workers (waited for) count too
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0 + kids.ru_utime
                  + kids.ru_stime, "numbers": out, "peak_mb": peak_mb(), "child_peak_mb": kids.ru_maxrss / 1024,
                  "import_s": t0 - i0, "import_cpu": c0 - ic0}))
"""


def make_dataset(root: Path, *, images: int, height: int, width: int, classes: int, mode: str, seed: int = 0
                 ) -> None:
    """``root/gt/*.png`` and ``root/pred/*.png``: 8-bit label maps (gray ``L`` or palette ``P``)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub in ("gt", "pred"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cell = 8
    gh, gw = -(-height // cell), -(-width // cell)
    yy, xx = np.mgrid[0:gh, 0:gw]
    for i in range(images):
        n = int(rng.integers(8, 30))
        seeds = np.stack([rng.integers(0, gh, n), rng.integers(0, gw, n)], axis=1)
        lab = ((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2).argmin(axis=-1)
        cls = rng.integers(0, classes, n)
        coarse = cls[lab]
        gt = np.repeat(np.repeat(coarse, cell, 0), cell, 1)[:height, :width].astype(np.uint8)
        gt[rng.random((height, width)) < 0.002] = 255
        relabel = np.where(rng.random(n) < 0.15, rng.integers(0, classes, n), cls)
        pred = np.repeat(np.repeat(relabel[lab], cell, 0), cell, 1)[:height, :width]
        pred = np.roll(pred, (int(rng.integers(-4, 5)), int(rng.integers(-4, 5))), axis=(0, 1)).astype(np.uint8)
        noise = rng.random((height, width)) < 0.01
        pred[noise] = rng.integers(0, classes, int(noise.sum()))
        for sub, arr in (("gt", gt), ("pred", pred)):
            im = Image.fromarray(arr, mode="L")
            if mode == "P":
                im = im.convert("P")
                im.putpalette(rng.integers(0, 256, 768).tolist())
            im.save(root / sub / f"{i:06d}.png")


def agree(a: dict[str, Any], b: dict[str, Any], tol: float = 1e-9) -> str:
    """"yes", or the first number two runs differ on."""
    for k, va in a.items():
        vb = b[k]
        xs, ys = (va, vb) if isinstance(va, list) else ([va], [vb])
        for x, y in zip(xs, ys, strict=True):
            if (x is None) != (y is None) or (x is not None and y is not None and abs(x - y) > tol):
                return f"no ({k}: {x} vs {y})"
    return "yes"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--classes", type=int, default=19)
    ap.add_argument("--mode", choices=["L", "P"], default="L", help="gray or palette PNGs")
    ap.add_argument("--data", default="/tmp/annokit_semantic_bench")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tools", default="annokit,hotcoco")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--baseline", metavar="DIR", help="another annokit checkout (e.g. `git archive main`), run as "
                    "the tool 'baseline' beside this one: before / after in one interleaved run")
    a = ap.parse_args()
    root = Path(a.data) / f"n{a.images}_c{a.classes}_{a.mode}"
    if not (root / "pred").is_dir() or len(list((root / "pred").glob("*.png"))) < a.images:
        t = time.perf_counter()
        make_dataset(root, images=a.images, height=480, width=640, classes=a.classes, mode=a.mode)
        print(f"generated {a.images} pairs in {time.perf_counter() - t:.1f} s under {root}")
    args = [str(root / "gt"), str(root / "pred"), str(a.classes)]
    tools = a.tools.split(",")
    check_tools(ap, tools, RUNNERS)
    if a.baseline:
        RUNNERS["baseline"] = f"sys.path.insert(0, {str(Path(a.baseline).resolve())!r})" + RUNNERS["annokit"]
        tools.insert(1, "baseline")
    runs = interleaved(tools, a.repeat,
                       lambda name: run_fresh(PRELUDE + RUNNERS[name] + EPILOGUE, args, name, a.timeout))
    print_table(f"mIoU of {a.images} label-map pairs (640x480, {a.classes} classes, mode {a.mode}), {a.repeat} "
                "interleaved runs", runs, agree, "numbers")
    print_imports(runs)


def print_imports(runs: dict[str, list[dict[str, Any]]]) -> None:
    """What the clock leaves out: each tool's imports (median wall and CPU seconds), and the whole (imports +
    clock, medians of the sums), so that a cost moved into an import shows."""
    import statistics

    print(f"{'tool':12s} {'import s':>9s} {'import cpu':>11s} {'whole s':>8s} {'whole cpu':>10s}")
    for name, rs in runs.items():
        if rs:
            med = statistics.median
            print(f"{name:12s} {med(r['import_s'] for r in rs):9.2f} {med(r['import_cpu'] for r in rs):11.2f} "
                  f"{med(r['import_s'] + r['seconds'] for r in rs):8.2f} "
                  f"{med(r['import_cpu'] + r['cpu'] for r in rs):10.2f}")

if __name__ == "__main__":
    main()
