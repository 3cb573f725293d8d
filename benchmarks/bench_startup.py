"""Start-up of the ``annokit`` command: ``annokit --help``, ``annokit eval --help`` and ``annokit eval`` on
sample_data/scenes end to end, next to ``python -c pass``, ``import numpy``, the floor (``import numpy, click,
orjson``, the other packages ``annokit eval`` imports before it starts reading, then ``os._exit`` as the "until"
cases leave) and hotcoco's import.

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

``--split`` adds ``annokit eval`` on the 5,000-image bbox set of bench_coco_eval.py (benchmarks/data/coco_bbox_5000,
made with make_coco_data.py when missing) to the rounds, and a second table: the time from process start (the
parent's clock just before it starts the child) to each stage, split into **import** (to the first byte of the ground
truth read: interpreter, imports, options, format recognition), **read** (from there to the call of
``annokit.metrics.coco.evaluate``: both files read into columns, and whatever is imported on the way), **evaluate**
(from there until ``annokit eval`` has printed its result) and **exit** (from the printed result until the parent
sees the process end: interpreter teardown). CPU per stage is the child's ``time.process_time()`` at each mark (all
its threads, from its start); the stages are marked from an import hook that wraps the two functions when their
modules load, so the wrapper changes no import order.

``--baseline DIR`` times the annokit cases a second time with the annokit package of ``DIR`` (a checkout of another
commit, e.g. ``git archive main | tar -x -C /tmp/base``) first on ``PYTHONPATH``, interleaved in the same rounds.

    python benchmarks/bench_startup.py [--repeat 15] [--seed 0] [--baseline DIR] [--split]
"""

from __future__ import annotations

import argparse
import ast
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
    """One fresh process: wall and CPU seconds; ``marks``: (wall, cpu) seconds from its start at each stage mark
    (split cases only)."""

    wall: float
    cpu: float
    marks: dict[str, tuple[float, float]] | None = None


EVAL_ARGS = ["eval", "--gt", str(SCENES / "gt.json"), "--pred", str(SCENES / "pred.json"), "--iou-type", "bbox"]
_STOP_AT = """import os, sys, {module} as m
m.{name} = lambda *a, **k: os._exit(0)
from annokit.cli import main
main(sys.argv[1:])
"""


# Marks the stages of ``annokit eval`` (--split): a meta-path hook wraps ``annokit.io.coco.read_json_bytes`` and
# ``annokit.metrics.coco.evaluate`` when those modules load (importing nothing early); each mark is the wall time
# since the parent's clock (BENCH_T0) and the CPU time of the process; the marks go to stderr's last line.
_SPLIT = """import os, sys, time
T0 = float(os.environ["BENCH_T0"])
MARKS = {}
def mark(name):
    MARKS.setdefault(name, (time.time() - T0, time.process_time()))
def wrap(fn, name):
    def wrapped(*a, **k):
        mark(name)
        return fn(*a, **k)
    return wrapped
WATCH = {"annokit.io.coco": ("read_json_bytes", "read"), "annokit.metrics.coco": ("evaluate", "evaluate")}
class Hook:
    def find_spec(self, fullname, path, target=None):
        if fullname not in WATCH:
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        attr, name = WATCH[fullname]
        load = spec.loader.exec_module
        def exec_module(module):
            load(module)
            setattr(module, attr, wrap(getattr(module, attr), name))
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Hook())
from annokit.cli import cli
from annokit.cli._common import run_cli
code = run_cli(cli, sys.argv[1:])
sys.stdout.flush()
mark("printed")
print(repr(MARKS), file=sys.stderr)
sys.exit(code)
"""
SPLIT_STAGES = ("import", "read", "evaluate", "exit")
FLOOR = "import os, numpy, click, orjson\nos._exit(0)"


@dataclass(frozen=True)
class Case:
    """One command line; ``root``: the checkout whose annokit it runs (None: the installed one); ``split``: it runs
    ``_SPLIT`` and reports stage marks."""

    argv: list[str]
    root: Path | None = None
    split: bool = False


def split_case(root: Path | None) -> Case:
    """``annokit eval`` on the 5,000-image bbox set, with stage marks (the data made when missing)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_coco_eval import ensure_data

    folder = ensure_data("coco", "bbox", 5000, None)
    argv = ["eval", "--gt", str(folder / "gt.json"), "--pred", str(folder / "dt.json"), "--iou-type", "bbox"]
    return Case([sys.executable, "-c", _SPLIT, *argv], root, split=True)


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


def cases(baseline: Path | None, split: bool) -> dict[str, Case]:
    """The command lines timed, by label (hotcoco's import only where it is installed; with ``split``, the 5k
    bbox ``annokit eval`` with stage marks)."""
    py = sys.executable
    found = {"python -c pass": Case([py, "-c", "pass"]), "python -c 'import numpy'": Case([py, "-c", "import numpy"]),
             # what annokit eval imports from other packages before it reads: the floor under "until reading",
             # which also leaves with os._exit (no interpreter teardown)
             "floor: import numpy, click, orjson; os._exit": Case([py, "-c", FLOOR])}
    if importlib.util.find_spec("hotcoco") is not None:
        found["python -c 'import hotcoco'"] = Case([py, "-c", "import hotcoco"])
    else:
        print("hotcoco is not installed: its import is not timed")
    found.update(annokit_cases(None, ""))
    if baseline is not None:
        found.update(annokit_cases(baseline, " [baseline]"))
    if split:
        found["eval 5k bbox"] = split_case(None)
        if baseline is not None:
            found["eval 5k bbox [baseline]"] = split_case(baseline)
    return found


def run_once(case: Case) -> Run:
    """Run ``case`` to its end (output discarded); its wall time and its own CPU time."""
    argv = case.argv
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # time from bytecode, as installed code runs (the warm-up writes it)
    if case.root is not None:
        env["PYTHONPATH"] = str(case.root)
    env["BENCH_T0"] = repr(time.time())
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=case.root or ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr is not None else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}: {err.strip()[-300:]}")
    cpu = usage.ru_utime + usage.ru_stime
    if not case.split:
        return Run(wall=wall, cpu=cpu)
    marks: dict[str, tuple[float, float]] = ast.literal_eval(err.strip().splitlines()[-1])
    marks["exit"] = (wall, cpu)
    return Run(wall=wall, cpu=cpu, marks=marks)


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


def report_split(runs: dict[str, list[Run]]) -> None:
    """The stage table of the split cases: medians (min-max) of each stage's wall and CPU seconds, and of the
    time from process start to the printed result and to the exit."""
    ends = dict(zip(SPLIT_STAGES, ("read", "evaluate", "printed", "exit")))
    for name, rs in runs.items():
        marks = [r.marks for r in rs if r.marks is not None]
        if not marks:
            continue
        print(f"\n{name}: seconds per stage, median (min-max) of {len(marks)} runs")
        print(f"{'stage':<24}  {'wall':>21}  {'cpu':>21}")
        start: str | None = None
        for stage, end in ends.items():
            walls = [m[end][0] - (m[start][0] if start else 0.0) for m in marks]
            cpus = [m[end][1] - (m[start][1] if start else 0.0) for m in marks]
            print(f"{stage:<24}  {_med(walls)}  {_med(cpus)}")
            start = end
        for label, end in (("start to printed result", "printed"), ("start to exit", "exit")):
            print(f"{label:<24}  {_med([m[end][0] for m in marks])}  {_med([m[end][1] for m in marks])}")


def _med(xs: list[float]) -> str:
    """``median (min-max)`` of ``xs``."""
    return f"{statistics.median(xs):6.3f} ({min(xs):5.3f}-{max(xs):5.3f})"


def main() -> None:
    """Parse the options, measure, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15, help="rounds (one run of every case each)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the order within each round")
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout of another commit, timed alongside")
    ap.add_argument("--split", action="store_true",
                    help="also annokit eval on the 5k bbox set, split into import / read / evaluate / exit")
    args = ap.parse_args()
    if args.baseline is not None:
        check_baseline(args.baseline)
    table = cases(args.baseline, args.split)
    print(f"{args.repeat} interleaved rounds, fresh processes, seconds ({os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start)")
    runs = measure(table, args.repeat, args.seed)
    report(runs)
    report_split(runs)


if __name__ == "__main__":
    main()
