"""Start-up of the ``annokit`` command: ``annokit --help``, ``annokit eval --help`` and ``annokit eval`` on
sample_data/scenes end to end, next to ``python -c pass``, ``import numpy`` and hotcoco's import.

Every run is a fresh interpreter (``python -m annokit ...``, the same code as the ``annokit`` script); the cases
are interleaved, ``--repeat`` rounds of one run each, in a shuffled order per round (seeded). For each case the
table gives the median wall time and the median CPU time (user + system of the child, from ``os.wait4``'s
resource usage, which load from other processes on the machine inflates less than wall time), the spread
(min-max) of both, and the medians minus ``python -c pass``'s (what annokit adds to the interpreter's own
start-up). hotcoco is skipped with a line when it is not installed.

    python benchmarks/bench_startup.py [--repeat 15] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "sample_data" / "scenes"


@dataclass(frozen=True)
class Run:
    """One fresh process: wall and CPU seconds."""

    wall: float
    cpu: float


def cases() -> dict[str, list[str]]:
    """The command lines timed, by label (hotcoco's import only where it is installed)."""
    py = sys.executable
    found = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import numpy'": [py, "-c", "import numpy"],
        "annokit --help": [py, "-m", "annokit", "--help"],
        "annokit eval --help": [py, "-m", "annokit", "eval", "--help"],
        "annokit eval (scenes, bbox)": [py, "-m", "annokit", "eval", "--gt", str(SCENES / "gt.json"),
                                        "--pred", str(SCENES / "pred.json"), "--iou-type", "bbox"],
    }
    if importlib.util.find_spec("hotcoco") is not None:
        found["python -c 'import hotcoco'"] = [py, "-c", "import hotcoco"]
    else:
        print("hotcoco is not installed: its import is not timed")
    return found


def run_once(argv: list[str]) -> Run:
    """Run ``argv`` to its end (output discarded); its wall time and its own CPU time."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr is not None else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}: {err.strip()[-300:]}")
    return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime)


def measure(table: dict[str, list[str]], repeat: int, seed: int) -> dict[str, list[Run]]:
    """``repeat`` rounds, each case once per round in a shuffled order."""
    rng = random.Random(seed)
    runs: dict[str, list[Run]] = {name: [] for name in table}
    for name in table:  # one warm-up each (file cache), not counted
        run_once(table[name])
    for _ in range(repeat):
        order = list(table)
        rng.shuffle(order)
        for name in order:
            runs[name].append(run_once(table[name]))
    return runs


def report(runs: dict[str, list[Run]]) -> None:
    """The table of medians, spreads and the medians above ``python -c pass``."""
    base_wall = statistics.median(r.wall for r in runs["python -c pass"])
    base_cpu = statistics.median(r.cpu for r in runs["python -c pass"])
    w = max(len(n) for n in runs)
    print(f"{'case':<{w}}  {'wall med':>8}  {'wall min-max':>13}  {'cpu med':>7}  {'cpu min-max':>13}  "
          f"{'wall-pass':>9}  {'cpu-pass':>8}")
    for name, rs in runs.items():
        walls, cpus = [r.wall for r in rs], [r.cpu for r in rs]
        mw, mc = statistics.median(walls), statistics.median(cpus)
        print(f"{name:<{w}}  {mw:8.3f}  {min(walls):6.3f}-{max(walls):6.3f}  {mc:7.3f}  "
              f"{min(cpus):6.3f}-{max(cpus):6.3f}  {mw - base_wall:9.3f}  {mc - base_cpu:8.3f}")


def main() -> None:
    """Parse the options, measure, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15, help="rounds (one run of every case each)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the order within each round")
    args = ap.parse_args()
    table = cases()
    print(f"{args.repeat} interleaved rounds, fresh processes, seconds ({os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start)")
    report(measure(table, args.repeat, args.seed))


if __name__ == "__main__":
    main()
