"""COCO evaluation of sharded results: in this process against a dask LocalCluster of N worker processes.

The results file is cut into ``--shards`` files (consecutive records; or ``--pred`` names a glob of existing shards).
One cluster is started (its start-up time is printed apart: a user pays it once per ``--scheduler local:N`` run),
warmed up by one evaluation, then in-process and cluster runs take turns (``--repeat`` rounds) so that load from
other work falls on both; printed: medians, min-max spread, the ratio, the peak RSS of each worker process, of this
process (the client; a LocalCluster's scheduler runs in it too) and of the in-process runs (each in a child process
of its own, so that the client's peak is its own), and whether every number of the two results is the same (it
must be).

    python benchmarks/bench_scaleout.py                                 # 5,000 images (made if missing), local:2
    python benchmarks/bench_scaleout.py --workers 4 --shards 8 --repeat 5
    python benchmarks/bench_scaleout.py --gt benchmarks/data/o365_100000_s20/gt.json \\
        --pred 'benchmarks/data/o365_100000_s20/dt/part-*.json' --repeat 1
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent


def _split(dt: Path, n: int, out: Path) -> str:
    """``dt``'s records in ``n`` files of consecutive records; returns their glob."""
    recs = orjson.loads(dt.read_bytes())
    cuts = np.linspace(0, len(recs), n + 1).astype(int)
    for i in range(n):
        (out / f"part-{i:05d}.json").write_bytes(orjson.dumps(recs[cuts[i]:cuts[i + 1]]))
    return str(out / "part-*.json")


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the process that spawned
    it)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


_CHILD = """
import pickle, sys, time
from annokit.distributed import evaluate_coco
t = time.perf_counter()
r = evaluate_coco(sys.argv[1], sys.argv[2])
t = time.perf_counter() - t
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
with open(sys.argv[3], "wb") as f:
    pickle.dump((t, hwm, {k: getattr(r, k) for k in ("precision", "recall", "scores", "stats")}), f)
"""


def _in_process(gt: Path, pred: str, out: Path) -> tuple[float, float, Any]:
    """One in-process evaluation in a child process: its time, its peak RSS (MB) and its arrays."""
    subprocess.run([sys.executable, "-c", _CHILD, str(gt), pred, str(out)], check=True)
    with open(out, "rb") as f:
        return pickle.load(f)  # type: ignore[no-any-return]


def _same(a: Any, b: Any) -> bool:
    return all(np.asarray(a[k]).tobytes() == np.asarray(getattr(b, k)).tobytes()
               for k in ("precision", "recall", "scores", "stats"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", type=Path, default=HERE / "data" / "coco_bbox" / "gt.json")
    ap.add_argument("--pred", default=None, help="a glob of results shards (default: --shards cuts of dt.json)")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if not a.gt.exists():
        subprocess.run([sys.executable, str(HERE / "make_coco_data.py"), "--out", str(a.gt.parent)], check=True)
    from annokit.distributed import connect, evaluate_coco

    with tempfile.TemporaryDirectory() as tmp:
        pred = a.pred or _split(a.gt.parent / "dt.json", a.shards, Path(tmp))
        t_start = time.perf_counter()
        with connect(f"local:{a.workers}") as client:  # what --scheduler local:N starts
            startup = time.perf_counter() - t_start
            warm, _ = _timed(lambda: evaluate_coco(a.gt, pred, scheduler=client))
            runs: dict[str, list[float]] = {"in-process": [], f"local:{a.workers}": []}
            same, child_peak = True, 0.0
            for _ in range(a.repeat):
                t1, peak, r1 = _in_process(a.gt, pred, Path(tmp) / "in_process.pickle")
                t2, r2 = _timed(lambda: evaluate_coco(a.gt, pred, scheduler=client))
                runs["in-process"].append(t1)
                runs[f"local:{a.workers}"].append(t2)
                same, child_peak = same and _same(r1, r2), max(child_peak, peak)
            workers = client.run(_peak_rss_mb)
            scheduler_here = client.run_on_scheduler(os.getpid) == os.getpid()
    print(f"{a.gt} with {pred}: cluster start {startup:.1f} s, first (warm-up) cluster run {warm:.1f} s")
    base = statistics.median(runs["in-process"])
    for name, ts in runs.items():
        med = statistics.median(ts)
        print(f"{name:<12} median {med:7.2f} s  (min {min(ts):.2f}, max {max(ts):.2f}, n={len(ts)})  "
              f"in-process / this = {base / med:.2f}")
    rss = ", ".join(f"{v:.0f} MB" for v in workers.values())
    where = " and the scheduler" if scheduler_here else ""
    print(f"peak RSS: client{where} (this process) {_peak_rss_mb():.0f} MB; workers {rss}; "
          f"in-process run (a child process) {child_peak:.0f} MB")
    print("numbers identical:", same)

if __name__ == "__main__":
    main()
