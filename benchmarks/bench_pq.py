"""PQ speed: annokit vs panopticapi's ``pq_compute`` (single process), side by side on the same files.

    python benchmarks/bench_pq.py [--images 500] [--data /tmp/annokit_pq_bench] [--threads 2]

Generates (once, seeded) ``--images`` synthetic 640x480 images with ~20 segments each (benchmarks/synth_panoptic.py),
times annokit's :func:`annokit.api.evaluate_panoptic_files`, then panopticapi's single-core routine
(``pq_compute_single_core`` + ``pq_average``, what ``pq_compute`` runs per worker) and checks both give the same
numbers. panopticapi is not on PyPI: point ``PANOPTICAPI_DIR`` at a checkout (default ``../peers/panopticapi``
beside the repository); without it the peer is skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synth_panoptic import make_dataset

from annokit.api import evaluate_panoptic_files


def main() -> None:
    ap = argparse.ArgumentParser(description="PQ speed: annokit vs panopticapi")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--data", default="/tmp/annokit_pq_bench")
    ap.add_argument("--threads", type=int, default=None, help="annokit worker threads (default min(4, cpus))")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    root = Path(a.data) / f"n{a.images}"
    gj, pj = root / "gt.json", root / "pred.json"
    if not (gj.exists() and pj.exists()):
        t = time.perf_counter()
        make_dataset(root, images=a.images, height=480, width=640, segments=20, seed=0)
        print(f"generated {a.images} images in {time.perf_counter() - t:.1f} s under {root}")
    best = float("inf")
    cpu = float("inf")
    for _ in range(a.repeat):
        t, c = time.perf_counter(), time.process_time()
        res = evaluate_panoptic_files(gj, pj, threads=a.threads)
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    m = res.metrics_dict()
    threads = a.threads if a.threads is not None else "default"
    print(f"annokit      : {best:7.2f} s  (best of {a.repeat}, threads={threads})  PQ={m['PQ']:.12f} "
          f"SQ={m['SQ']:.12f} RQ={m['RQ']:.12f}  cpu {cpu:.2f} s")
    # where the time goes: PNG decoding alone (Pillow, one thread) bounds any single-thread evaluator from below
    from annokit.io.coco_panoptic import read_id_png
    pngs = sorted((root / "gt").glob("*.png")) + sorted((root / "pred").glob("*.png"))
    t = time.perf_counter()
    buf = None
    for f in pngs:
        buf = read_id_png(f, out=buf)
    dec = time.perf_counter() - t
    t = time.perf_counter()
    evaluate_panoptic_files(gj, pj, threads=0)
    single = time.perf_counter() - t
    print(f"  of which   : {dec:7.2f} s  decoding the {len(pngs)} PNGs alone (one thread); annokit one thread: "
          f"{single:.2f} s, so PQ itself takes {single - dec:.2f} s")
    peer = Path(os.environ.get("PANOPTICAPI_DIR", HERE.parent.parent / "peers" / "panopticapi"))
    if not (peer / "panopticapi" / "evaluation.py").exists():
        print(f"panopticapi  : skipped (no checkout at {peer}; set PANOPTICAPI_DIR)")
        return
    sys.path.insert(0, str(peer))
    from panopticapi.evaluation import pq_compute_single_core  # type: ignore[import-not-found]

    g = json.loads(gj.read_text())
    p = json.loads(pj.read_text())
    cats = {c["id"]: c for c in g["categories"]}
    by_id = {x["image_id"]: x for x in p["annotations"]}
    pairs = [(x, by_id[x["image_id"]]) for x in g["annotations"]]
    t, c = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        stat = pq_compute_single_core(0, pairs, str(root / "gt"), str(root / "pred"), cats)
        ref = stat.pq_average(cats, None)[0]
    peer_t = time.perf_counter() - t
    peer_cpu = time.process_time() - c
    print(f"panopticapi  : {peer_t:7.2f} s  (single process)            PQ={ref['pq']:.12f} "
          f"SQ={ref['sq']:.12f} RQ={ref['rq']:.12f}  cpu {peer_cpu:.2f} s")
    same = all(abs(m[k.upper()] - ref[k]) < 1e-9 for k in ("pq", "sq", "rq"))
    print(f"speed-up     : {peer_t / best:7.1f}x wall, {peer_cpu / cpu:.1f}x cpu   results equal to 1e-9: {same}")


if __name__ == "__main__":
    main()
