"""How close a Python evaluator of COCO masks can come to hotcoco: a lower bound of annokit's segm time, from the
parts no such evaluator can skip, against hotcoco's whole run, measured side by side (issue 11).

The bound is generous. Each part is the cheapest call found in the libraries the issue allows (numpy, orjson,
pycocotools' C code) that does that part's work, timed on the CPU clock in a fresh process with the collector off;
the bound assumes the parts split perfectly over every core with nothing around them:

* **start**: a fresh interpreter that imports numpy, orjson and pycocotools' C module (wall clock, whole process);
* **parse**: ``orjson.loads`` of the results file, in blocks of ~2 MB cut between records (faster than the whole
  file at once);
* **areas**: pycocotools' ``area`` of every result mask (COCO's area ranges need every detection's), 255 at a call
  (pycocotools 2.0.11 under numpy 2 fails on a longer list: "out of bounds for uint8"); it does not check the
  strings;
* **gt parse**: ``orjson.loads`` of the ground truth file;
* **gt masks**: pycocotools' ``frPyObjects`` (+ ``merge``) of the ground truth's polygons and RLEs;
* **IoU**: pycocotools' ``iou`` of the detections against the ground truth of each image, those that make pairs
  (a detection and a ground truth object of one category), one call per image (annokit's way; one call per
  (image, category) costs more here).

bound = start + (parse + areas + gt parse + gt masks + IoU) / cores. Not counted: matching, accumulation, the
summary, moving data between processes, checking anything. A second bound puts annokit's check of the counts
strings (``annokit.core.rle_check.counts_areas``, which gives the areas too) in place of the unchecked ``area``: on
a string whose runs do not add up to height x width, pycocotools' ``iou`` loops without end and its ``decode``
leaves pixels unset, so annokit checks every string it reads. numba, the one compiler the issue allows, is timed
too: its import, and the first call of a trivial cached ``@njit`` function, in a fresh process.

    python benchmarks/bench_segm_floor.py                    # 1,000 images (bench_coco_eval.py's segm set)
    python benchmarks/bench_segm_floor.py --repeat 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peers import run_fresh
from bench_coco_eval import ensure_data, run_one

START = "import numpy, orjson\nfrom pycocotools import _mask\nprint('{}')\n"

PARTS = r"""
import gc, json, sys, time
from collections import defaultdict
import orjson
gc.disable()  # no collections during the parts (annokit reads with the collector off too)
from pycocotools import mask as M
gt_path, dt_path = sys.argv[1], sys.argv[2]
out = {}
def clock(name, f):
    c = time.process_time(); v = f(); out[name] = time.process_time() - c; return v
raw = open(dt_path, "rb").read()
cuts = [0]  # blocks of ~2 MB cut between records: orjson parses them faster than the whole file at once
while cuts[-1] < len(raw) - 1:
    j = raw.find(b"},{", cuts[-1] + (2 << 20))
    cuts.append(len(raw) - 1 if j < 0 else j + 1)
blocks = [b"[" + raw[a + 1:b] + b"]" for a, b in zip(cuts[:-1], cuts[1:])]
dt = [r for blk in clock("parse", lambda: [orjson.loads(b) for b in blocks]) for r in blk]
segs = [d["segmentation"] for d in dt]
clock("areas", lambda: [M.area(segs[i:i + 255]) for i in range(0, len(segs), 255)])  # (no more at once)
from annokit.core.rle_check import counts_areas  # annokit's check of the strings (runs >= 0, adding up to h x w)
clock("check", lambda: counts_areas([s["counts"] for s in segs], [s["size"][0] * s["size"][1] for s in segs]))
raw = open(gt_path, "rb").read()
gt = clock("gt parse", lambda: orjson.loads(raw))
hw = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
def gt_masks():
    res = {}
    for a in gt["annotations"]:
        h, w = hw[a["image_id"]]
        s = a["segmentation"]
        if isinstance(s, list):
            r = M.merge(M.frPyObjects(s, h, w))
        elif isinstance(s["counts"], list):
            r = M.frPyObjects(s, h, w)
        else:
            r = s
        res[a["id"]] = r
    return res
g_rle = clock("gt masks", gt_masks)
by_gt = defaultdict(list); by_dt = defaultdict(list)
for a in gt["annotations"]:
    by_gt[a["image_id"], a["category_id"]].append(a)
for d in dt:
    by_dt[d["image_id"], d["category_id"]].append(d)
per_image = defaultdict(lambda: ([], []))  # the detections and ground truth of an image that make pairs
for key, ds in by_dt.items():
    gs = by_gt.get(key)
    if gs:
        per_image[key[0]][0].extend(ds)
        per_image[key[0]][1].extend(gs)
n_pairs = sum(len(ds) * len(by_gt[key]) for key, ds in by_dt.items() if key in by_gt)
def ious():  # one call per image (fewer calls than one per (image, category); the extra pairs cost less)
    for ds, gs in per_image.values():
        M.iou([d["segmentation"] for d in ds], [g_rle[g["id"]] for g in gs], [g["iscrowd"] for g in gs])
    return n_pairs
out["pairs"] = clock("IoU", ious)
print(json.dumps(out))
"""

NUMBA = r"""
import json, sys, time
c = time.process_time(); w = time.perf_counter()
import numba
out = {"import_cpu": time.process_time() - c, "import_wall": time.perf_counter() - w}
sys.path.insert(0, sys.argv[1])
c = time.process_time(); w = time.perf_counter()
import segm_floor_kernel
segm_floor_kernel.add(1, 2)
out["first_call_cpu"] = time.process_time() - c; out["first_call_wall"] = time.perf_counter() - w
print(json.dumps(out))
"""

KERNEL = "from numba import njit\n\n@njit(cache=True)\ndef add(a, b):\n    return a + b\n"


def fresh(code: str, *args: str) -> dict:
    """``code`` in a fresh interpreter (:func:`_peers.run_fresh`): its JSON record, and its ``wall`` seconds."""
    t = time.perf_counter()
    rec = run_fresh(code, args, "part", 600)
    wall = time.perf_counter() - t
    if rec is None:
        sys.exit("a part did not run (the line above says why)")
    rec["wall"] = wall
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=None, help="folder with gt.json and dt.json (default: generated)")
    a = ap.parse_args()
    folder = ensure_data("coco", "segm", a.images, a.data)
    gt, dt = folder / "gt.json", folder / "dt.json"
    cores = os.cpu_count() or 1
    runs: dict[str, list] = {"start": [], "parts": [], "hotcoco": [], "annokit": [], "numba": []}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "segm_floor_kernel.py").write_text(KERNEL)
        fresh(NUMBA, tmp)  # compiles the kernel into numba's cache: the runs below load it
        for _ in range(a.repeat):
            runs["start"].append(fresh(START)["wall"])
            runs["parts"].append(fresh(PARTS, str(gt), str(dt)))
            runs["numba"].append(fresh(NUMBA, tmp))
            for tool in ("hotcoco", "annokit"):
                res = run_one(tool, gt, dt, "segm", 600)
                if res is not None:
                    runs[tool].append(res["seconds"])
    med = statistics.median
    start = med(runs["start"])
    names = ("parse", "areas", "gt parse", "gt masks", "IoU")
    parts = {k: med(r[k] for r in runs["parts"]) for k in names}
    bound = start + sum(parts.values()) / cores
    check = med(r["check"] for r in runs["parts"])
    checked = bound + (check - parts["areas"]) / cores  # the check gives the areas too: it replaces that part
    print(f"COCO segm, {a.images} images ({dt.stat().st_size / 1e6:.1f} MB of results, "
          f"{runs['parts'][0]['pairs']:,} IoU pairs); medians of {a.repeat} fresh processes each; {cores} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"  start (interpreter + numpy, orjson, pycocotools imports), wall  {start:6.3f} s")
    for k in names:
        print(f"  {k:<10} CPU {parts[k]:6.3f} s")
    print(f"  bound = start + parts / {cores} cores                     {bound:6.3f} s")
    hc = med(runs["hotcoco"]) if runs["hotcoco"] else float("nan")
    print(f"hotcoco, whole run: {hc:.3f} s -> the bound is {hc / bound:.2f}x hotcoco's speed (1.0 needed)")
    print(f"  + the counts strings checked (annokit.core.rle_check.counts_areas, which gives the areas too, in place"
          f" of 'areas'): CPU {check:.3f} s -> bound {checked:.3f} s, {hc / checked:.2f}x hotcoco's speed")
    if runs["annokit"]:
        print(f"annokit eval, whole run: {med(runs['annokit']):.3f} s")
    nb = runs["numba"]
    print(f"numba: import {med(r['import_wall'] for r in nb):.3f} s wall ({med(r['import_cpu'] for r in nb):.3f} CPU),"
          f" first call of a cached trivial @njit function {med(r['first_call_wall'] for r in nb):.3f} s wall "
          f"({med(r['first_call_cpu'] for r in nb):.3f} CPU)")


if __name__ == "__main__":
    main()
