"""Start-up of the ``annokit`` command: ``annokit --help``, ``annokit eval --help`` and ``annokit eval`` on
sample_data/scenes end to end, next to ``python -c pass``, ``import numpy`` and hotcoco's import.

Every run is a fresh interpreter (``python -m annokit ...``, the same code as the ``annokit`` script); the cases
are interleaved, ``--repeat`` rounds of one run each, in a shuffled order per round (seeded). For each case the
table gives the median wall time and the median CPU time (user + system of the child, from ``os.wait4``'s
resource usage, which load from other processes on the machine inflates less than wall time), the spread
(min-max) of both, and the medians minus ``python -c pass``'s (what annokit adds to the interpreter's own
start-up). hotcoco is skipped with a line when it is not installed.

``annokit eval`` on sample_data/scenes (bbox) is timed three ways: to the first byte of the ground truth read
("until reading": imports, option parsing, format recognition), to the call of the evaluation
(``annokit.metrics.coco.evaluate``: the two files read too), and end to end. The first two stop the process there
(``os._exit``) from a wrapper that imports the module it patches first, which the command imports anyway.

``--baseline DIR`` times the annokit cases a second time with the annokit package of ``DIR`` (a checkout of another
commit, e.g. ``git archive main | tar -x -C /tmp/base``) first on ``PYTHONPATH``, interleaved in the same rounds.

    python benchmarks/bench_startup.py [--repeat 15] [--seed 0] [--baseline DIR]
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


EVAL_ARGS = ["eval", "--gt", str(SCENES / "gt.json"), "--pred", str(SCENES / "pred.json"), "--iou-type", "bbox"]
_STOP_AT = """import os, sys, {module} as m
m.{name} = lambda *a, **k: os._exit(0)
from annokit.cli import main
main(sys.argv[1:])
"""


@dataclass(frozen=True)
class Case:
    """One command line; ``root``: the checkout whose annokit it runs (None: the installed one)."""

    argv: list[str]
    root: Path | None = None


def annokit_cases(root: Path | None, tag: str) -> dict[str, Case]:
    """The annokit command lines, labelled with ``tag``."""
    py = sys.executable
    return {
        f"annokit --help{tag}": Case([py, "-m", "annokit", "--help"], root),
        f"annokit eval --help{tag}": Case([py, "-m", "annokit", "eval", "--help"], root),
        f"eval: until reading{tag}": Case([py, "-c", _STOP_AT.format(module="annokit.io.coco", name="read_json_bytes"),
                                          *EVAL_ARGS], root),
        f"eval: until evaluating{tag}": Case([py, "-c", _STOP_AT.format(module="annokit.metrics.coco",
                                                                       name="evaluate"), *EVAL_ARGS], root),
        f"eval: end to end{tag}": Case([py, "-m", "annokit", *EVAL_ARGS], root),
    }


def cases(baseline: Path | None) -> dict[str, Case]:
    """The command lines timed, by label (hotcoco's import only where it is installed)."""
    py = sys.executable
    found = {"python -c pass": Case([py, "-c", "pass"]), "python -c 'import numpy'": Case([py, "-c", "import numpy"])}
    if importlib.util.find_spec("hotcoco") is not None:
        found["python -c 'import hotcoco'"] = Case([py, "-c", "import hotcoco"])
    else:
        print("hotcoco is not installed: its import is not timed")
    found.update(annokit_cases(None, ""))
    if baseline is not None:
        found.update(annokit_cases(baseline, " [baseline]"))
    return found


def run_once(case: Case) -> Run:
    """Run ``case`` to its end (output discarded); its wall time and its own CPU time."""
    argv = case.argv
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # time from bytecode, as installed code runs (the warm-up writes it)
    if case.root is not None:
        env["PYTHONPATH"] = str(case.root)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=case.root or ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr is not None else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}: {err.strip()[-300:]}")
    return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime)


def check_baseline(root: Path) -> None:
    """The baseline's annokit is the one imported with ``root`` on ``PYTHONPATH`` and as the working directory
    (``python -c`` and ``-m`` put the working directory first on ``sys.path``)."""
    out = subprocess.run([sys.executable, "-c", "import annokit; print(annokit.__file__)"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(root)}, cwd=root, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"--baseline {root}: python imports annokit from {out}, not from there")


def measure(table: dict[str, Case], repeat: int, seed: int) -> dict[str, list[Run]]:
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
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout of another commit, timed alongside")
    args = ap.parse_args()
    if args.baseline is not None:
        check_baseline(args.baseline)
    table = cases(args.baseline)
    print(f"{args.repeat} interleaved rounds, fresh processes, seconds ({os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start)")
    report(measure(table, args.repeat, args.seed))


if __name__ == "__main__":
    main()
