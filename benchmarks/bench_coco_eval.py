"""COCO evaluation end to end, annokit against the other evaluators, each run in a fresh process.

Every run is a new Python process that imports the tool, reads the two files and computes the 12 numbers; the clock
runs around the whole process (interpreter start and imports included) and the process reports its peak RSS and its
own split (import / read / evaluate). The tools take turns (round robin, ``--repeat`` rounds), so load from other
work on the machine falls on all of them alike; the table shows medians, the min-max spread, the ratio of each
tool's median to annokit's (above 1: slower than annokit) and the largest difference of its 12 numbers from
annokit's. annokit runs as the ``annokit eval`` command.

    python benchmarks/bench_coco_eval.py                                   # bbox, 5,000 images (data made if missing)
    python benchmarks/bench_coco_eval.py --iou-type segm --images 1000
    python benchmarks/bench_coco_eval.py --tools annokit,hotcoco,ultrafast-pycocotools,faster-coco-eval,pycocotools
    python benchmarks/bench_coco_eval.py --tools annokit,annokit-compat,ultrafast-pycocotools --with-pycocotools
    python benchmarks/bench_coco_eval.py --scaling 5000,10000,20000,40000,80000 --tools annokit,hotcoco
    python benchmarks/bench_coco_eval.py --baseline /tmp/main   # and annokit of another tree, interleaved
    python benchmarks/bench_coco_eval.py --tools annokit,annokit-1thread,hotcoco   # and annokit on one thread

annokit's sources are byte-compiled first (``compileall``), as an installed copy is (see ``_compile_sources``).
Besides the wall clock, each run reports its CPU seconds (user + system, all threads, and its forked children's):
on a shared machine they move less with the load than the wall clock does. Peak MB is the process's peak RSS plus
its largest child's (annokit forks one to read half of a large results file): an upper bound of what the two held
at once, as their peaks need not coincide and pages they share are counted in both. Tree MB is the largest sum of
the process's and its children's RSS seen at one moment (sampled every 5 ms; shared pages still counted twice).
``--pss`` adds one untimed run of each tool whose process tree's PSS is sampled (every 2 ms): pages shared by the
parent and its forked child count once in all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peers import check_tools

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

PRELUDE = """
import contextlib, io, json, resource, sys, time
t0 = time.perf_counter()
GT, DT, IOU, OUT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
"""
PYCOCO_API = """
t1 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    g = COCO(GT); d = g.loadRes(DT)
    t2 = time.perf_counter()
    e = COCOeval(g, d, IOU); e.evaluate(); e.accumulate(); e.summarize()
stats = [float(x) for x in e.stats[:12]]
"""  # the pycocotools interface (its drop-in replacements share it)
RUNNERS = {
    # the ``annokit`` script's entry point, as the command runs it: it ends the process itself once the command has
    # returned (annokit.cli._common.leave: os._exit, without the interpreter's teardown), so the report is printed
    # at that exit (an older tree's SystemExit: the same report)
    "annokit": """
import os
from annokit.cli import main
t1 = t2 = time.perf_counter()
_exit = os._exit
def _report(code):
    assert code == 0, code
    m = json.load(open(OUT))["metrics"]
    stats = [-1.0 if m[k] is None else m[k] for k in KEYS]
@EPILOGUE@
    sys.stdout.flush()
    _exit(code)
os._exit = _report
sys.argv = ["annokit", "eval", "--gt", GT, "--pred", DT, "--iou-type", IOU, "-q", "--json", OUT]
try:
    main()
except SystemExit as exc:
    _report(exc.code or 0)
""",
    "hotcoco": """
from hotcoco import COCO, COCOeval
t1 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    g = COCO(GT); d = g.load_res(DT)
    t2 = time.perf_counter()
    e = COCOeval(g, d, IOU); e.evaluate(); e.accumulate(); e.summarize()
stats = [float(x) for x in e.stats[:12]]
""",
    "ultrafast-pycocotools": "from ultrafast_pycocotools import COCO, COCOeval\n" + PYCOCO_API,
    "faster-coco-eval": "from faster_coco_eval import COCO, COCOeval_faster as COCOeval\n" + PYCOCO_API,
    "pycocotools": "from pycocotools.coco import COCO\nfrom pycocotools.cocoeval import COCOeval\n" + PYCOCO_API,
    # annokit's pycocotools drop-in, through the same unmodified pycocotools script
    "annokit-compat": "from annokit.compat.pycocotools import COCO, COCOeval\n" + PYCOCO_API,
}
# --baseline DIR: annokit's command again, from another source tree (``git archive main annokit | tar -x -C DIR``),
# ahead of the installed one: before / after in the same interleaved run
BASELINE = """
import os
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, os.environ["ANNOKIT_BASELINE"])
""" + RUNNERS["annokit"]
EPILOGUE = """
t3 = time.perf_counter()
ru = resource.getrusage(resource.RUSAGE_SELF)
rc = resource.getrusage(resource.RUSAGE_CHILDREN)  # forked children (annokit's split read), reaped by now
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "evaluate": t3 - t2, "stats": stats,
                  "peak_mb": (ru.ru_maxrss + rc.ru_maxrss) / 1024, "child_mb": rc.ru_maxrss / 1024,
                  "cpu": ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime}))
"""

RUNNERS["annokit"] = RUNNERS["annokit"].replace("@EPILOGUE@", textwrap.indent(EPILOGUE.strip("\n"), "    "))
# annokit's command on one thread (ANNOKIT_THREADS=1: what the threads give, in the same round robin)
RUNNERS["annokit-1thread"] = 'import os\nos.environ["ANNOKIT_THREADS"] = "1"\n' + RUNNERS["annokit"]
BASELINE = BASELINE.replace("@EPILOGUE@", textwrap.indent(EPILOGUE.strip("\n"), "    "))


def run_one(name: str, gt: Path, dt: Path, iou: str, timeout: float, pss: bool = False) -> dict | None:
    """One fresh process; ``seconds`` is its wall time from start to exit, ``tree_mb`` the largest sum of the RSS of
    the process and its children seen by :class:`TreeRSS` (with ``pss``: of their PSS, ``tree_pss_mb``; a run for
    its memory only, as reading PSS costs the sampler CPU)."""
    code = f"KEYS = {KEYS!r}\n" + PRELUDE + (BASELINE if name == "annokit-baseline" else RUNNERS[name]) + EPILOGUE
    with tempfile.TemporaryDirectory() as tmp, \
            open(Path(tmp) / "out", "w+") as so, open(Path(tmp) / "err", "w+") as se:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, str(gt), str(dt), iou, str(Path(tmp) / "m.json")],
                                stdout=so, stderr=se, text=True)
        # a blocking wait: Popen.wait(timeout=...) polls, every 50 ms once past the first 0.1 s, which rounded
        # every time up by 0-50 ms (the timer kills a run that takes too long instead)
        killed = threading.Event()
        killer = threading.Timer(timeout, lambda: (killed.set(), proc.kill()))
        with TreeRSS(proc.pid, pss=pss) as tree:
            killer.start()
            try:
                proc.wait()
            finally:
                killer.cancel()
            wall = time.perf_counter() - t
        if killed.is_set():
            print(f"  {name}: over {timeout:.0f} s, stopped")
            return None
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read(), se.read()
    if proc.returncode != 0:
        last = (stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {name}: not run ({last})")
        return None
    res: dict = json.loads(stdout.strip().splitlines()[-1])
    res["seconds"] = wall
    res["tree_mb"] = tree.peak / 1024
    if pss:
        res["tree_pss_mb"] = tree.peak_pss / 1024
    return res


class TreeRSS:
    """The largest sum of VmRSS (kB) over a process and its children, read from /proc every 5 ms on a thread while
    the block runs (Linux; 0 elsewhere). Pages the processes share (a forked child's copy-on-write pages, shared
    libraries) count once per process, so for a parent and a forked child it is still an upper bound, but of what
    they held at the same moment rather than of their two peaks.

    With ``pss``, also the largest sum of their PSS (``/proc/PID/smaps_rollup``: a page shared by n processes counts
    1/n in each, so the sum is what the tree holds, shared libraries shared out with the rest of the system), read
    every 2 ms; reading it walks the page tables (~0.7 ms for 160 MB), so such a run is for memory only."""

    def __init__(self, pid: int, *, pss: bool = False) -> None:
        import threading

        self.pid, self.peak, self.peak_pss, self._stop = pid, 0, 0, threading.Event()
        self._pss = pss
        self._thread = threading.Thread(target=self._run, daemon=True)


    @staticmethod
    def _kb(pid: int, name: str, key: str) -> int:
        """The kB of line ``key`` of ``/proc/PID/name`` (0 when the process is gone)."""
        try:
            with open(f"/proc/{pid}/{name}") as f:
                return next((int(line.split()[1]) for line in f if line.startswith(key)), 0)
        except OSError:
            return 0

    def _rss(self, pid: int) -> int:
        return self._kb(pid, "status", "VmRSS:")

    def _pss_of(self, pid: int) -> int:
        return self._kb(pid, "smaps_rollup", "Pss:")

    def _children(self) -> list[int]:
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def _run(self) -> None:
        while not self._stop.is_set():
            kids = self._children()
            self.peak = max(self.peak, self._rss(self.pid) + sum(self._rss(k) for k in kids))
            if self._pss:
                self.peak_pss = max(self.peak_pss, self._pss_of(self.pid) + sum(self._pss_of(k) for k in kids))
            self._stop.wait(0.002 if self._pss else 0.005)

    def __enter__(self) -> TreeRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ensure_data(kind: str, iou: str, images: int, data: Path | None) -> Path:
    """The data folder (made with make_coco_data.py when missing)."""
    folder = data or HERE / "data" / (f"coco_{iou}_{images}" if kind == "coco" else f"o365_{images}")
    if not (folder / "gt.json").exists():
        sys.path.insert(0, str(HERE))
        import orjson
        from make_coco_data import make, write_o365

        print(f"generating {folder} ...", flush=True)
        if kind == "objects365":
            write_o365(folder, images)
        else:
            g, d = make(images, seed=0, masks=iou == "segm")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "gt.json").write_bytes(orjson.dumps(g))
            (folder / "dt.json").write_bytes(orjson.dumps(d))
    return folder


def measure(tools: list[str], folder: Path, iou: str, repeat: int, timeout: float, slow_once: set[str],
            pss: bool = False) -> dict[str, list[dict]]:
    """Round robin: every tool once per round (those in ``slow_once`` in the first round only); with ``pss``, one
    more run of each for its PSS (``tree_pss_mb`` of its first run)."""
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    dead: set[str] = set()
    for r in range(repeat):
        for name in tools:
            if name in dead or (r > 0 and name in slow_once):
                continue
            res = run_one(name, folder / "gt.json", folder / "dt.json", iou, timeout)
            if res is None:
                dead.add(name)
            else:
                runs[name].append(res)
    for name in tools if pss else []:
        if runs[name] and name not in slow_once:
            res = run_one(name, folder / "gt.json", folder / "dt.json", iou, timeout, pss=True)
            if res is not None:
                runs[name][0]["tree_pss_mb"] = res["tree_pss_mb"]
    return {k: v for k, v in runs.items() if v}


def table(runs: dict[str, list[dict]]) -> None:
    base = runs["annokit"]
    b_med = statistics.median(r["seconds"] for r in base)
    b_cpu = statistics.median(r["cpu"] for r in base)
    print(f"{'tool':<23}{'median s':>9}{'min-max s':>14}{'x annokit':>10}{'cpu s':>7}{'x cpu':>7}{'peak MB':>9}"
          f"{'tree MB':>8}{'runs':>5}{'import':>8}{'read':>7}{'eval':>7}  max |stats - annokit|")
    for name, rs in runs.items():
        sec = [r["seconds"] for r in rs]
        med, cpu = statistics.median(sec), statistics.median(r["cpu"] for r in rs)
        diff = max(abs(x - y) for x, y in zip(rs[0]["stats"], base[0]["stats"]))
        split = [statistics.median(r[k] for r in rs) for k in ("import", "read", "evaluate")]
        peak, tree = max(r["peak_mb"] for r in rs), max(r["tree_mb"] for r in rs)
        print(f"{name:<23}{med:>9.2f}{min(sec):>7.2f}-{max(sec):<6.2f}{med / b_med:>10.2f}{cpu:>7.2f}"
              f"{cpu / b_cpu:>7.2f}{peak:>9.0f}{tree:>8.0f}{len(rs):>5}{split[0]:>8.2f}{split[1]:>7.2f}"
              f"{split[2]:>7.2f}  {diff:.1e}")
    print("stats (annokit):", [round(x, 4) for x in base[0]["stats"]])
    forked = {name: sum(r["child_mb"] > 0 for r in rs) for name, rs in runs.items() if name.startswith("annokit")}
    print("runs with a forked child (annokit's split read / mask IoU; none: it ran in one process): "
          + ", ".join(f"{name} {k} of {len(runs[name])}" for name, k in forked.items()))
    pss = {name: rs[0]["tree_pss_mb"] for name, rs in runs.items() if "tree_pss_mb" in rs[0]}
    if pss:
        print("tree PSS MB (one more run each, sampled every 2 ms; shared pages shared out): "
              + ", ".join(f"{name} {v:.0f}" for name, v in pss.items()))


def scaling(sizes: list[int], tools: list[str], repeat: int, timeout: float) -> None:
    """Objects365-scale sets of growing size: time and peak RSS per tool, and the growth from the smallest."""
    rows = []
    for n in sizes:
        folder = ensure_data("objects365", "bbox", n, None)
        runs = measure(tools, folder, "bbox", repeat, timeout, set())
        rows.append((n, runs))
        print(f"{n} images: " + ", ".join(f"{t} {statistics.median(r['seconds'] for r in rs):.1f} s / "
                                          f"{max(r['peak_mb'] for r in rs):.0f} MB" for t, rs in runs.items()),
              flush=True)
    print(f"\n{'images':>7}" + "".join(f"{t + ' s':>16}{t + ' MB':>17}" for t in tools) + f"{'ratio s':>10}")
    for n, runs in rows:
        cells = ""
        for t in tools:
            rs = runs.get(t)
            cells += (f"{statistics.median(r['seconds'] for r in rs):>16.2f}{max(r['peak_mb'] for r in rs):>17.0f}"
                      if rs else f"{'-':>16}{'-':>17}")
        ratio = ""
        if len(tools) > 1 and all(t in runs for t in tools[:2]):
            slow, fast = (statistics.median(r["seconds"] for r in runs[t]) for t in tools[1::-1])
            ratio = f"{slow / fast:>10.2f}"
        print(f"{n:>7}{cells}{ratio}")


def _compile_sources(trees: list[Path]) -> None:
    """Byte-compile annokit's sources once, as an install does (``pip install`` writes the ``.pyc`` files; the
    other tools' packages have theirs). Without this, an editable checkout run with ``PYTHONDONTWRITEBYTECODE``
    set (as on the machine these figures were measured on) compiles every imported module in every run:
    0.1-0.15 s of CPU that no installed copy spends."""
    import compileall

    for tree in trees:
        if tree.is_dir():
            compileall.compile_dir(str(tree), quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iou-type", choices=["bbox", "segm"], default="bbox")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tools", default="annokit,hotcoco,ultrafast-pycocotools,faster-coco-eval")
    ap.add_argument("--with-pycocotools", action="store_true", help="also pycocotools (slow: one run)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--data", type=Path, default=None, help="folder with gt.json and dt.json (default: generated)")
    ap.add_argument("--scaling", default=None, help="comma-separated image counts of Objects365-scale sets")
    ap.add_argument("--pss", action="store_true",
                    help="one more run of each tool for the PSS of its process tree (not timed)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="also annokit from this source tree (a folder holding annokit/), as annokit-baseline")
    a = ap.parse_args()
    tools = a.tools.split(",") + (["pycocotools"] if a.with_pycocotools else [])
    check_tools(ap, tools, RUNNERS)
    if a.baseline is not None:
        os.environ["ANNOKIT_BASELINE"] = str(a.baseline.resolve())
        tools.insert(1, "annokit-baseline")
    _compile_sources([HERE.parent / "annokit"] + ([a.baseline / "annokit"] if a.baseline is not None else []))
    if a.scaling:
        scaling([int(x) for x in a.scaling.split(",")], tools, a.repeat, a.timeout)
        return
    folder = ensure_data("coco", a.iou_type, a.images, a.data)
    n_img = len(json.loads((folder / "gt.json").read_text())["images"])
    print(f"COCO {a.iou_type} evaluation, {n_img} images, files {(folder / 'gt.json').stat().st_size / 1e6:.1f} MB"
          f" + {(folder / 'dt.json').stat().st_size / 1e6:.1f} MB; {a.repeat} rounds, each run a fresh process; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    runs = measure(tools, folder, a.iou_type, a.repeat, a.timeout, {"pycocotools"}, pss=a.pss)
    if "annokit" not in runs:
        sys.exit("annokit did not run")
    table(runs)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
