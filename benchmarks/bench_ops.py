"""Dataset operations at scale: annokit's split vs datumaro's, and how the cost of every operation grows.

Generates (once, seeded, with ``make_coco_data.make``) a COCO instances file of the largest size (default 100,000
images, ~7 objects each, 80 categories) under ``benchmarks/data/`` (git-ignored) and its prefixes for the smaller
sizes. Each measurement runs in a fresh process, annokit and datumaro alternating, ``--repeat`` times; the tables
give medians and the spread (min-max). Times are of the operation alone (the dataset already loaded), and the load.

* annokit: ``split_dataset`` (stratified by class, and not), ``filter_dataset``, ``merge_datasets`` (the two
  splits back into one), ``sample_dataset`` (random, class-balanced), ``remap_dataset``, ``dedupe_dataset``.
* datumaro: ``Dataset.transform("split", task="detection", splits=[("train", 0.8), ("val", 0.2)])``, forced to
  run by asking each subset's length. datumaro needs its own environment (it pins pandas 2 and pillow 12):
  ``python -m venv .venv-datumaro && .venv-datumaro/bin/pip install datumaro``; ``--datumaro-python`` names its
  interpreter (default ``.venv-datumaro/bin/python`` when present). Without it the script says so and times
  annokit alone.

``--quality`` also prints how close each split's class shares come to their targets: annokit, Sechidis et al.'s
original order (labels rarest first, each example by that label's need alone; written here for the comparison),
and datumaro.

    python benchmarks/bench_ops.py [--sizes 10000,50000,100000] [--repeat 3] [--quality]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RATIOS = {"train": 0.8, "val": 0.2}

ANNOKIT_WORKER = r"""
import json, sys, time
import numpy as np
from annokit.convert import read_dataset
from annokit.ops import (dedupe_dataset, filter_dataset, merge_datasets, remap_dataset, sample_dataset,
                         split_dataset)
t = time.perf_counter(); ds = read_dataset(sys.argv[1], "coco"); out = {"load": time.perf_counter() - t}
def timed(name, fn):
    t = time.perf_counter(); r = fn(); out[name] = time.perf_counter() - t; return r
ratios = {"train": 0.8, "val": 0.2}
res = timed("split", lambda: split_dataset(ds, ratios, seed=0))
timed("split (none)", lambda: split_dataset(ds, ratios, stratify="none", seed=0))
names = ds.categories.names
timed("filter", lambda: filter_dataset(ds, classes=names[: len(names) // 2], min_area=100, drop_empty_images=True))
timed("merge", lambda: merge_datasets(list(res.datasets.values())))
timed("sample (random)", lambda: sample_dataset(ds, len(ds) // 10, seed=0))
timed("sample (class-balanced)", lambda: sample_dataset(ds, len(ds) // 10, by="class-balanced", seed=0))
timed("remap", lambda: remap_dataset(ds, {names[0]: names[1], names[2]: None}))
timed("dedupe", lambda: dedupe_dataset(ds))
lab = {c: i for i, c in enumerate(ds.categories.ids.tolist())}
out["counts"] = {s: np.bincount([lab[x] for x in d.annotations.labels.tolist()], minlength=len(lab)).tolist()
                 for s, d in res.datasets.items()}
out["images"] = {s: len(d) for s, d in res.datasets.items()}
print(json.dumps(out))
"""

DATUMARO_WORKER = r"""
import json, logging, sys, time
logging.disable(logging.WARNING)
import datumaro as dm
t = time.perf_counter(); ds = dm.Dataset.import_from(sys.argv[1], "coco_instances"); n = len(ds)
out = {"load": time.perf_counter() - t}
t = time.perf_counter()
res = ds.transform("split", task="detection", splits=[("train", 0.8), ("val", 0.2)], seed=0)
out["images"] = {s: len(res.get_subset(s)) for s in ("train", "val")}
out["split"] = time.perf_counter() - t
cats = res.categories()[dm.AnnotationType.label]
counts = {}
for s in ("train", "val"):
    c = [0] * len(cats)
    for item in res.get_subset(s):
        for a in item.annotations:
            if a.label is not None:
                c[a.label] += 1
    counts[s] = c
out["counts"] = counts
out["version"] = dm.__version__
print(json.dumps(out))
"""


# ---------------------------------------------------------------------------------------------- data
def dataset(n: int, largest: int) -> Path:
    """The COCO file of the first ``n`` images of the seeded ``largest``-image set (made once)."""
    path = DATA / f"ops_coco_{n}.json"
    if path.exists():
        return path
    full = DATA / f"ops_coco_{largest}.json"
    if not full.exists():
        sys.path.insert(0, str(HERE))
        from make_coco_data import make

        print(f"generating {full} (once; a few minutes) ...", flush=True)
        DATA.mkdir(parents=True, exist_ok=True)
        full.write_bytes(orjson.dumps(make(largest, seed=0, dets_per_image=0)[0]))
    if n != largest:
        d = orjson.loads(full.read_bytes())
        d["images"] = d["images"][:n]
        keep = {im["id"] for im in d["images"]}
        d["annotations"] = [a for a in d["annotations"] if a["image_id"] in keep]
        path.write_bytes(orjson.dumps(d))
    return path


def datumaro_layout(coco: Path) -> Path:
    """datumaro's COCO layout for ``coco``: ``annotations/instances_default.json`` (a link) and ``images/``."""
    root = DATA / f"{coco.stem}_datumaro"
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    link = root / "annotations" / "instances_default.json"
    if not link.exists():
        link.symlink_to(coco.resolve())
    return root


# ---------------------------------------------------------------------------------------------- runs
def run(python: str, code: str, path: Path, timeout: float) -> dict[str, Any] | None:
    try:
        done = subprocess.run([python, "-c", code, str(path)], capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        print(f"  ({python}: over {timeout:.0f} s, stopped)", flush=True)
        return None
    if done.returncode:
        print(f"  ({python} failed: {done.stderr.strip().splitlines()[-1:]})", flush=True)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.2f} ({min(xs):.2f}-{max(xs):.2f})" if xs else "      -"


def measure(sizes: list[int], repeat: int, dm_python: str | None, timeout: float) -> dict[int, Any]:
    """Per size: the annokit runs and the datumaro runs, alternating."""
    out: dict[int, Any] = {}
    for n in sizes:
        path = dataset(n, max(sizes))
        ak: list[dict[str, Any]] = []
        dmr: list[dict[str, Any]] = []
        for k in range(repeat):
            print(f"{n} images, run {k + 1}/{repeat} ...", flush=True)
            r = run(sys.executable, ANNOKIT_WORKER, path, timeout)
            ak += [r] if r else []
            if dm_python:
                r = run(dm_python, DATUMARO_WORKER, datumaro_layout(path), timeout)
                dmr += [r] if r else []
        out[n] = {"annokit": ak, "datumaro": dmr}
        report(out)  # as it goes: the tables so far
        (DATA / "bench_ops_results.json").write_text(json.dumps({str(k): v for k, v in out.items()}))
    return out


def report(results: dict[int, Any]) -> None:
    ops = [k for k in results[min(results)]["annokit"][0] if k not in ("counts", "images")]
    print("\nannokit, seconds: median (min-max); per 1,000 images in the last column of each size")
    print(f"{'operation':<26}" + "".join(f"{n:>26,}" for n in results))
    for op in ops:
        cells = []
        for n, r in results.items():
            xs = [x[op] for x in r["annokit"]]
            cells.append(f"{med(xs)} {1000 * statistics.median(xs) / n:6.3f}" if xs else f"{'-':>26}")
        print(f"{op:<26}" + "".join(f"{c:>26}" for c in cells))
    print("\nsplit: annokit vs datumaro (same machine, alternating runs)")
    print(f"{'images':>8} {'annokit split':>22} {'datumaro split':>22} {'x':>6} {'annokit load':>22} "
          f"{'datumaro load':>22} {'x (load+split)':>15}")
    for n, r in results.items():
        a_s = [x["split"] for x in r["annokit"]]
        d_s = [x["split"] for x in r["datumaro"]]
        a_l = [x["load"] for x in r["annokit"]]
        d_l = [x["load"] for x in r["datumaro"]]
        ratio = f"{statistics.median(d_s) / statistics.median(a_s):6.1f}" if d_s else "     -"
        both = (f"{(statistics.median(d_s) + statistics.median(d_l)) / (statistics.median(a_s) + statistics.median(a_l)):15.1f}"  # noqa: E501
                if d_s else f"{'-':>15}")
        print(f"{n:>8,} {med(a_s):>22} {med(d_s):>22} {ratio} {med(a_l):>22} {med(d_l):>22} {both}")


# ---------------------------------------------------------------------------------------------- quality
def sechidis(units: Any, r: np.ndarray, seed: int = 0) -> np.ndarray:
    """Sechidis et al.'s iterative stratification on object counts, in their order: the label with the fewest
    unassigned examples first; each of its examples to the subset lacking most of that label (ties: most lacking
    images, then random)."""
    rng = np.random.default_rng(seed)
    n, s_count = len(units.sizes), len(r)
    rows = np.repeat(np.arange(n), np.diff(units.indptr))
    k_count = int(units.classes.max()) + 1
    totals = np.bincount(units.classes, weights=units.counts, minlength=k_count)
    need = [(r * t).tolist() for t in totals]
    need_img = (r * n).tolist()
    left = np.bincount(units.classes, minlength=k_count).tolist()
    by_class = np.lexsort((rng.permutation(len(rows)), units.classes))
    starts = np.searchsorted(units.classes[by_class], np.arange(k_count + 1)).tolist()
    unit_of = rows[by_class].tolist()
    ip, cl, ct = units.indptr.tolist(), units.classes.tolist(), units.counts.tolist()
    ties = rng.random((n, s_count)).tolist()
    out = [-1] * n
    while any(left):
        k = min((c, j) for j, c in enumerate(left) if c > 0)[1]
        for i in unit_of[starts[k]:starts[k + 1]]:
            if out[i] >= 0:
                continue
            s = max(range(s_count), key=lambda q: (need[k][q], need_img[q], ties[i][q]))
            out[i] = s
            need_img[s] -= 1
            for p in range(ip[i], ip[i + 1]):
                need[cl[p]][s] -= ct[p]
                left[cl[p]] -= 1
    for i in range(n):
        if out[i] < 0:
            s = max(range(s_count), key=lambda q: (need_img[q], ties[i][q]))
            out[i] = s
            need_img[s] -= 1
    return np.asarray(out)


def closeness(counts: np.ndarray, most: np.ndarray, r: np.ndarray) -> str:
    """``counts`` (splits x classes): share of classes within one image of target, worst and mean deviation in
    images (``|A - T| / m_k``)."""
    total = counts.sum(axis=0)
    dev = (np.abs(counts - r[:, None] * total[None, :]).max(axis=0) / np.maximum(most, 1))[total > 0]
    return f"{100 * (dev < 1).mean():5.1f} % within one image, worst {dev.max():6.2f}, mean {dev.mean():5.2f}"


def quality(path: Path, dm: dict[str, Any] | None) -> None:
    import annokit
    from annokit.core.losses import LossRecorder
    from annokit.ops import split_dataset
    from annokit.ops.split import _units

    ds = annokit.load(path)
    r = np.array(list(RATIOS.values()))
    units = _units(ds, None, LossRecorder())
    k_count = len(ds.categories)
    most = np.zeros(k_count, dtype=np.int64)
    np.maximum.at(most, units.classes, units.counts)
    rows = np.repeat(np.arange(len(units.sizes)), np.diff(units.indptr))

    def counts_of(assign: np.ndarray) -> np.ndarray:
        c = np.zeros((len(r), k_count))
        np.add.at(c, (assign[rows], units.classes), units.counts)
        return c

    print(f"\nsplit quality on {path.name} ({len(ds)} images, {len(ds.annotations)} objects, {k_count} classes; "
          "deviation |actual - target| in units of the most objects of the class in one image)")
    res = split_dataset(ds, RATIOS, seed=0)
    img = np.bincount(res.assignment, minlength=len(r))
    print(f"  annokit            {closeness(counts_of(res.assignment), most, r)}; images {img.tolist()}")
    t = time.perf_counter()
    sech = sechidis(units, r)
    print(f"  Sechidis order     {closeness(counts_of(sech), most, r)}; images "
          f"{np.bincount(sech, minlength=len(r)).tolist()} ({time.perf_counter() - t:.1f} s)")
    if dm is not None:
        c = np.array([dm["counts"][s] for s in RATIOS], dtype=np.float64)
        print(f"  datumaro           {closeness(c, most, r)}; images {[dm['images'][s] for s in RATIOS]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--datumaro-python", default=None)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--quality", action="store_true")
    a = ap.parse_args(argv)
    sizes = sorted(int(x) for x in a.sizes.split(","))
    dm_python = a.datumaro_python
    if dm_python is None and (ROOT / ".venv-datumaro" / "bin" / "python").exists():
        dm_python = str(ROOT / ".venv-datumaro" / "bin" / "python")
    if dm_python is None:
        print("datumaro: no interpreter (see the docstring): timing annokit alone")
    results = measure(sizes, a.repeat, dm_python, a.timeout)
    if dm_python and results[max(sizes)]["datumaro"]:
        print(f"(datumaro {results[max(sizes)]['datumaro'][0]['version']})")
    if a.quality:
        last = results[max(sizes)]["datumaro"]
        quality(dataset(max(sizes), max(sizes)), last[0] if last else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
