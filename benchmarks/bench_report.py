"""Time ``annokit report`` end to end, as a user runs it: the 48-image sample set and the 5,000-image benchmark set.

Each run is the command line in a fresh process (Python start-up, reading, analysis, drawing, writing), timed by
wall clock and by the child's user + system CPU time (the machine may be shared: CPU time is the steadier
figure). Runs are interleaved (sample, 5k, sample, 5k, ...) and the medians reported with their spread. With
``--baseline PYTHON`` (another checkout's interpreter, e.g. the main branch's venv) the same commands run with it
in the same rounds, and the ratios are printed.

The 5,000-image data come from ``benchmarks/make_coco_data.py`` (5,000 images, ~35k ground-truth boxes, 500k
detections), generated into ``--data`` when absent. Targets (issue 13): <= 2 s for the sample, <= 15 s for 5k.

    python benchmarks/bench_report.py
    python benchmarks/bench_report.py --repeats 5 --baseline /work/main/.venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_data" / "scenes"


def _run(python: str, gt: Path, pred: Path, out: Path) -> tuple[float, float]:
    """One ``annokit report`` in a fresh process; returns (wall seconds, CPU seconds of the child)."""
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([python, "-m", "annokit", "report", "--gt", str(gt), "--pred", str(pred), "--out", str(out),
                    "--overwrite", "-q"], check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, cwd=out.parent)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _summary(vals: list[float]) -> str:
    return f"{statistics.median(vals):6.2f} s (min {min(vals):.2f}, max {max(vals):.2f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "coco_bbox",
                    help="folder with gt.json and dt.json (generated when absent)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds (each runs every command once)")
    ap.add_argument("--baseline", default=None, help="another Python whose annokit runs the same commands")
    a = ap.parse_args()
    gt5k, dt5k = a.data / "gt.json", a.data / "dt.json"
    if not (gt5k.exists() and dt5k.exists()):
        print(f"generating benchmark data into {a.data} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_coco_data.py"), "--out", str(a.data)], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="annokit_bench_report_"))
    sets = {"sample (48 images)": (SAMPLE / "gt.json", SAMPLE / "pred.json"),
            "5k images": (gt5k.resolve(), dt5k.resolve())}
    pythons = {"this": sys.executable, **({"baseline": a.baseline} if a.baseline else {})}
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    n = 0
    for _ in range(a.repeats):
        for name, (gt, pred) in sets.items():
            for who, py in pythons.items():
                n += 1
                res.setdefault((name, who), []).append(_run(py, gt, pred, tmp / f"{who}_{n}"))
    for (name, who), runs in res.items():
        print(f"{name:20s} {who:9s} wall {_summary([w for w, _ in runs])}   CPU {_summary([c for _, c in runs])}")
        if who == "baseline":
            theirs = statistics.median(c for _, c in runs)
            ours = statistics.median(c for _, c in res[(name, "this")])
            print(f"{'':30s}median CPU: this checkout x{theirs / ours:.1f} faster")
    for k, name in enumerate(sets):  # the stage timings of this checkout's last run of each set
        last = tmp / f"this_{n - len(sets) * len(pythons) + 1 + k * len(pythons)}" / "report.json"
        stages = json.loads(last.read_text())["timings_s"]
        print(f"stages, {name} (wall, s): " + ", ".join(f"{key} {v:.2f}" for key, v in stages.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
