"""PQ speed: annokit vs hotcoco's ``pq_compute`` (and panopticapi's, when a checkout is given), on the same files.

Each tool runs in its own fresh process per repetition, the tools interleaved; the clock runs from the JSON paths to
the PQ numbers, imports excluded (hotcoco's import brings numpy and its decoder; annokit's entry point is lazy, so
the modules it would import on the first call -- numpy, the panoptic reader and metric, imagecodecs and pyspng -- are
imported before its clock too); peak RSS is the whole process's. Prints medians (and the spread), CPU time, peak
memory, ratios to annokit, and checks that the tools agree on PQ / SQ / RQ of every split and every class (1e-9) and
on tp / fp / fn.

    python benchmarks/bench_pq.py                        # 500 synthetic 640x480 images, 5 interleaved repeats
    python benchmarks/bench_pq.py --images 100 --repeat 1
    python benchmarks/bench_pq.py --stages               # where annokit's time goes, one thread, per stage

The data (benchmarks/synth_panoptic.py, seeded) is made once under ``--data``. panopticapi is not on PyPI: point
``PANOPTICAPI_DIR`` at a checkout to add it (single process, so slow).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peers import PEAK_MB, check_tools, interleaved, print_table, run_fresh

RUNNERS = {
    "annokit": """
from annokit.api import evaluate_panoptic_files
import annokit.io.coco_panoptic, annokit.metrics.panoptic  # what it imports lazily (numpy among them): imports excluded
try:
    import imagecodecs, pyspng  # annokit[fast]'s decoders, imported at the first PNG
except ImportError:
    pass
t0 = time.perf_counter(); c0 = time.process_time()
r = evaluate_panoptic_files(GT, PRED)
m = r.metrics_dict()
splits = {"All": (m["PQ"], m["SQ"], m["RQ"]), "Things": (m["PQ_th"], m["SQ_th"], m["RQ_th"]),
          "Stuff": (m["PQ_st"], m["SQ_st"], m["RQ_st"])}
per_class = {str(v["id"]): (v["PQ"], v["SQ"], v["RQ"], v["tp"], v["fp"], v["fn"]) for v in r.per_class_dict().values()}
""",
    "hotcoco": """
from hotcoco.panoptic import pq_compute
t0 = time.perf_counter(); c0 = time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    r = pq_compute(GT, PRED)
splits = {k: (r[k]["pq"], r[k]["sq"], r[k]["rq"]) for k in ("All", "Things", "Stuff")}
per_class = {str(k): (v["pq"], v["sq"], v["rq"], v["tp"], v["fp"], v["fn"]) for k, v in r["per_class"].items()
             if v["tp"] + v["fp"] + v["fn"]}
""",
    "panopticapi": """
sys.path.insert(0, os.environ["PANOPTICAPI_DIR"])
from panopticapi.evaluation import pq_compute
t0 = time.perf_counter(); c0 = time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    r = pq_compute(GT, PRED)
splits = {k: (r[k]["pq"], r[k]["sq"], r[k]["rq"]) for k in ("All", "Things", "Stuff")}
per_class = {str(k): (v["pq"], v["sq"], v["rq"]) for k, v in r["per_class"].items()}
""",
}

PRELUDE = """
import contextlib, io, json, os, sys, time
GT, PRED = sys.argv[1], sys.argv[2]
"""
EPILOGUE = PEAK_MB + """
import resource
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # annokit's forked workers (waited for) count too
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "cpu": time.process_time() - c0 + kids.ru_utime + kids.ru_stime,
                  "numbers": {"splits": splits, "per_class": per_class},
                  "self_cpu": time.process_time() - c0, "peak_mb": peak_mb(), "child_peak_mb": kids.ru_maxrss / 1024}))
"""


def agree(a: dict[str, Any], b: dict[str, Any], tol: float = 1e-9) -> str:
    """"yes", or the first difference between two runs' numbers."""
    for k, va in a["splits"].items():
        for x, y in zip(va, b["splits"][k]):
            if x is None or y is None or abs(x - y) > tol:
                return f"no ({k}: {va} vs {b['splits'][k]})"
    if set(a["per_class"]) != set(b["per_class"]):
        return "no (different classes evaluated)"
    for k, va in a["per_class"].items():
        vb = b["per_class"][k]
        n = min(len(va), len(vb))
        if any(abs(x - y) > tol for x, y in zip(va[:n], vb[:n])):
            return f"no (class {k}: {va} vs {vb})"
    return "yes"


def stages(gt: Path, pred: Path) -> None:
    """Where annokit's time goes, one thread: JSON, PNG decoding (the fast path and Pillow), PQ counting."""
    from annokit.io import coco_panoptic as cp
    from annokit.io import labelmap
    from annokit.metrics.panoptic import PanopticCategories, pq_image_stats

    t = time.process_time()
    g = cp.read_panoptic_json(gt)
    p = cp.read_panoptic_json(pred, require_categories=False)
    cats = PanopticCategories.build(g.category_ids, g.isthing, g.category_names)
    jobs = cp.resolve_panoptic_jobs(g, p)
    print(f"  JSON + pairing          {time.process_time() - t:7.3f} s cpu")
    from annokit.io import pngfast

    t = time.process_time()
    for _gj, gp, _pj, pp in jobs:
        cp.read_id_png_rows(gp)
        cp.read_id_png_rows(pp)
    codec = ("libdeflate + libspng (annokit.io.pngfast)" if pngfast.fast_png_available()
             else "imagecodecs" if labelmap.fast_png_codec() else "Pillow")
    print(f"  decode {2 * len(jobs)} PNGs by distinct rows (read_id_png_rows, {codec})  "
          f"{time.process_time() - t:7.3f} s cpu")
    from PIL import Image

    t = time.process_time()
    for _gj, gp, _pj, pp in jobs:
        for f in (gp, pp):
            with Image.open(f) as im:
                im.load()
    print(f"  Pillow alone would take    {time.process_time() - t:7.3f} s cpu (decode every row, no id conversion)")
    t0 = 0.0
    for gj, gp, pj, pp in jobs:
        gi, pi, weights = cp.align_id_rows(cp.read_id_png_rows(gp), cp.read_id_png_rows(pp))
        t = time.process_time()
        pq_image_stats(gi, gj.segment_ids, gj.category_ids, gj.iscrowd, gj.area, pi, pj.segment_ids,
                       pj.category_ids, cats, row_weights=weights)
        t0 += time.process_time() - t
    print(f"  PQ counting (pq_image_stats)  {t0:7.3f} s cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--data", default="/tmp/annokit_pq_bench")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tools", default="annokit,hotcoco,panopticapi")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--baseline", metavar="DIR", help="another annokit checkout (e.g. `git archive main`), run as "
                    "the tool 'baseline' beside this one: before / after in one interleaved run")
    ap.add_argument("--stages", action="store_true", help="time annokit's stages in this process, one thread")
    a = ap.parse_args()
    root = Path(a.data) / f"n{a.images}"
    gt, pred = root / "gt.json", root / "pred.json"
    if not (gt.exists() and pred.exists()):
        from synth_panoptic import make_dataset

        t = time.perf_counter()
        make_dataset(root, images=a.images, height=480, width=640, segments=20, seed=0)
        print(f"generated {a.images} images in {time.perf_counter() - t:.1f} s under {root}")
    if a.stages:
        stages(gt, pred)
        return
    check_tools(ap, a.tools.split(","), RUNNERS)
    tools = [t for t in a.tools.split(",") if t != "panopticapi" or os.environ.get("PANOPTICAPI_DIR")]
    if a.baseline:
        RUNNERS["baseline"] = f"sys.path.insert(0, {str(Path(a.baseline).resolve())!r})" + RUNNERS["annokit"]
        tools.insert(1, "baseline")
    runs = interleaved(tools, a.repeat, lambda name: run_fresh(PRELUDE + RUNNERS[name] + EPILOGUE,
                                                               [str(gt), str(pred)], name, a.timeout))
    print_table(f"PQ of {a.images} images (640x480, ~20 segments), {a.repeat} interleaved runs", runs, agree,
                "numbers")
    for name, rs in runs.items():
        kid = max((r.get("child_peak_mb", 0.0) for r in rs), default=0.0)
        if kid:
            own = statistics.median(r["self_cpu"] for r in rs)
            print(f"{name}: 'cpu s' includes its forked worker's; CPU of the process itself {own:.2f} s, of the worker "
                  f"{statistics.median(r['cpu'] - r['self_cpu'] for r in rs):.2f} s (medians); the worker's peak RSS "
                  f"{kid:.1f} MB is mostly pages shared with the parent (copy-on-write), not in 'peak MB'")

if __name__ == "__main__":
    main()
