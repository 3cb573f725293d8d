"""Time COCO evaluation end to end (files in -> 12 numbers out): annokit vs faster-coco-eval vs pycocotools.

Each tool runs in its own fresh process per repetition (so peak memory is its own); the clock runs from reading the
two files to having ``stats``, imports excluded. Prints medians, ratios to annokit, peak RSS, and checks that the
three agree on every number.

    python benchmarks/bench_coco_eval.py                       # bbox, 5,000 images (makes the data if missing)
    python benchmarks/bench_coco_eval.py --iou-type segm --images 1000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNNERS = {
    "annokit": """
from annokit.api import evaluate_coco_files as evaluate_files
from annokit.metrics.coco import COCOParams
t0 = time.perf_counter()
stats = evaluate_files(GT, DT, params=COCOParams(iou_type=IOU)).stats.tolist()
""",
    "faster-coco-eval": """
from faster_coco_eval import COCO, COCOeval_faster
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    g = COCO(GT); d = g.loadRes(DT)
    e = COCOeval_faster(g, d, IOU); e.evaluate(); e.accumulate(); e.summarize()
stats = [float(x) for x in e.stats[:12]]
""",
    "pycocotools": """
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    g = COCO(GT); d = g.loadRes(DT)
    e = COCOeval(g, d, IOU); e.evaluate(); e.accumulate(); e.summarize()
stats = [float(x) for x in e.stats]
""",
}

PRELUDE = """
import contextlib, io, json, resource, sys, time
GT, DT, IOU = sys.argv[1], sys.argv[2], sys.argv[3]
"""
EPILOGUE = """
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "stats": stats,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_one(name: str, gt: Path, dt: Path, iou: str, timeout: float) -> dict | None:
    code = PRELUDE + RUNNERS[name] + EPILOGUE
    try:
        out = subprocess.run([sys.executable, "-c", code, str(gt), str(dt), iou], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {name}: over {timeout:.0f} s, stopped")
        return None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {name}: not run ({last})")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iou-type", choices=["bbox", "segm"], default="bbox")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tools", default="annokit,faster-coco-eval,pycocotools")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--data", type=Path, default=None, help="folder with gt.json and dt.json (default: generated)")
    a = ap.parse_args()
    data = a.data or HERE / "data" / f"coco_{a.iou_type}_{a.images}"
    gt, dt = data / "gt.json", data / "dt.json"
    if not gt.exists():
        sys.path.insert(0, str(HERE))
        import orjson
        from make_coco_data import make

        print(f"generating {data} ...")
        g, d = make(a.images, seed=0, masks=a.iou_type == "segm")
        data.mkdir(parents=True, exist_ok=True)
        gt.write_bytes(orjson.dumps(g))
        dt.write_bytes(orjson.dumps(d))
    n_img = len(json.loads(gt.read_text())["images"])
    print(f"COCO {a.iou_type} evaluation, {n_img} images, files {gt.stat().st_size / 1e6:.1f} MB + "
          f"{dt.stat().st_size / 1e6:.1f} MB, median of {a.repeat}, each run in a fresh process")
    results: dict[str, dict] = {}
    for name in a.tools.split(","):
        runs = []
        for _ in range(a.repeat if name != "pycocotools" else max(1, min(a.repeat, 1))):
            r = run_one(name, gt, dt, a.iou_type, a.timeout)
            if r is None:
                break
            runs.append(r)
        if runs:
            results[name] = {"seconds": statistics.median(r["seconds"] for r in runs),
                             "peak_mb": max(r["peak_mb"] for r in runs), "stats": runs[0]["stats"], "n": len(runs)}
    if "annokit" not in results:
        sys.exit("annokit did not run")
    base = results["annokit"]
    print(f"{'tool':<18}{'median s':>10}{'x annokit':>11}{'peak MB':>10}{'runs':>6}  max |stats - annokit|")
    for name, r in results.items():
        diff = max(abs(x - y) for x, y in zip(r["stats"], base["stats"]))
        print(f"{name:<18}{r['seconds']:>10.2f}{r['seconds'] / base['seconds']:>11.2f}{r['peak_mb']:>10.0f}"
              f"{r['n']:>6}  {diff:.1e}")
    print("stats (annokit):", [round(x, 4) for x in base["stats"]])


if __name__ == "__main__":
    main()
