"""Time model comparison with a paired bootstrap and sliced evaluation against hotcoco 1.3 (the bench extra), on the
5,000-image benchmark set (``benchmarks/make_coco_data.py``) and a second model made from it (10% of the detections
dropped, scores rescaled by U(0.6, 1.2); seeded).

Per tool and repeat (interleaved): the two evaluations (matching), the bootstrap of ``--bootstrap`` resamples (wall
time, and the process's CPU time: on a shared machine the wall time also counts waiting for a core), and
``--slices`` slices of the images (10 equal parts) evaluated from the first model's matches. Medians and spread.
annokit's bootstrap loop is compiled by numba on its first use in an environment and cached; the times here are
with the cache warm (run it twice, or see docs/compare.md for the first run's cost).

    python benchmarks/bench_compare.py --bootstrap 1000
    python benchmarks/bench_compare.py --data /tmp/bench5k --bootstrap 200 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent


def _second_model(dt: Path, out: Path) -> None:
    rng = np.random.default_rng(0)
    dets = orjson.loads(dt.read_bytes())
    keep = [dict(d, score=float(d["score"]) * float(rng.uniform(0.6, 1.2))) for d in dets if rng.random() > 0.1]
    out.write_bytes(orjson.dumps(keep))


def _annokit(gt: Path, preds: list[Path], n: int, n_slices: int) -> dict[str, float]:
    from annokit.analysis.compare import paired_bootstrap
    from annokit.analysis.slices import evaluate_slices
    from annokit.io.coco import read_instances, read_results
    from annokit.metrics.coco import COCOAccumulator

    ds = read_instances(gt)
    dets = [read_results(p, ds) for p in preds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        accs = [COCOAccumulator(ds).update(d) for d in dets]
        [a.compute() for a in accs]
        t1, c1 = time.perf_counter(), time.process_time()
        paired_bootstrap(accs, n, seed=0)
        t2, c2 = time.perf_counter(), time.process_time()
        parts = np.array_split(np.arange(len(ds.images)), n_slices)
        evaluate_slices(accs[0], ds, {f"s{i}": p for i, p in enumerate(parts)})
        t3 = time.perf_counter()
    return {"evaluate both": t1 - t0, "bootstrap": t2 - t1, "bootstrap cpu": c2 - c1, "slices": t3 - t2}


def _hotcoco(gt: Path, preds: list[Path], n: int, n_slices: int) -> dict[str, float]:
    import hotcoco

    g = hotcoco.COCO(str(gt))
    res = [g.load_res(str(p)) for p in preds]
    t0 = time.perf_counter()
    evs = []
    for r in res:
        ev = hotcoco.COCOeval(g, r, "bbox")
        ev.evaluate()
        ev.accumulate()
        evs.append(ev)
    t1, c1 = time.perf_counter(), time.process_time()
    hotcoco.compare(evs[0], evs[1], n_bootstrap=n, seed=0)
    t2, c2 = time.perf_counter(), time.process_time()
    ids = sorted(g.get_img_ids())
    evs[0].slice_by({f"s{i}": [int(x) for x in p] for i, p in enumerate(np.array_split(np.array(ids), n_slices))})
    t3 = time.perf_counter()
    return {"evaluate both": t1 - t0, "bootstrap": t2 - t1, "bootstrap cpu": c2 - c1, "slices": t3 - t2}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "coco_bbox",
                    help="folder with gt.json and dt.json (generated when absent)")
    ap.add_argument("--bootstrap", type=int, default=200, help="resamples")
    ap.add_argument("--slices", type=int, default=10, help="equal slices of the images")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats per tool (medians reported)")
    ap.add_argument("--tools", default="annokit,hotcoco", help="comma-separated: annokit, hotcoco (hotcoco's "
                                                              "bootstrap takes about 3 s per resample here)")
    a = ap.parse_args()
    gt, dt = a.data / "gt.json", a.data / "dt.json"
    if not (gt.exists() and dt.exists()):
        print(f"generating benchmark data into {a.data} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_coco_data.py"), "--out", str(a.data)], check=True)
    second = a.data / "dt_second_model.json"
    if not second.exists():
        _second_model(dt, second)
    wanted = a.tools.split(",")
    tools: dict[str, Any] = {"annokit": _annokit} if "annokit" in wanted else {}
    try:
        import hotcoco  # noqa: F401

        if "hotcoco" in wanted:
            tools["hotcoco"] = _hotcoco
    except ImportError:
        print("hotcoco not installed (pip install -e '.[bench]'): annokit alone", file=sys.stderr)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in tools}
    for _ in range(a.repeats):
        for name, fn in tools.items():
            runs[name].append(fn(gt, [dt, second], a.bootstrap, a.slices))
    print(f"{a.bootstrap} resamples, {a.slices} slices; medians of {a.repeats} interleaved repeats (min-max), s")
    for name, rs in runs.items():
        cells = [f"{k} {statistics.median(r[k] for r in rs):.2f} ({min(r[k] for r in rs):.2f}-"
                 f"{max(r[k] for r in rs):.2f})" for k in rs[0]]
        print(f"  {name:8s} " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
