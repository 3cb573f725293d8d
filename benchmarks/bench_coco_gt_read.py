"""Reading a COCO instances file into columns (``annokit eval``'s ground truth): the box annotations straight into
columns (annokit/io/coco_fast_gt.py) against the dicts' reader, in one process, alternating, CPU seconds.

    python benchmarks/bench_coco_gt_read.py                      # the 20,000-image Objects365-scale set
    python benchmarks/bench_coco_gt_read.py --images 5000 --kind coco

The data is made by bench_coco_eval.py's generator when missing. Both readers must give the same columns (checked).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_coco_eval import ensure_data

import annokit.io.coco_fast_gt as fast
from annokit._internal.gc import no_gc
from annokit.io.coco import read_instance_columns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--kind", choices=["objects365", "coco"], default="objects365")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    gt = ensure_data(a.kind, "bbox", a.images, None) / "gt.json"
    limit = fast.FAST_FROM
    times: dict[str, list[float]] = {"columns": [], "dicts": []}
    got = {}
    for _ in range(a.repeat):
        for name, frm in (("columns", limit), ("dicts", 1 << 62)):
            fast.FAST_FROM = frm
            with no_gc():  # as annokit eval reads it
                t = time.process_time()
                got[name] = read_instance_columns(gt)
                times[name].append(time.process_time() - t)
    fast.FAST_FROM = limit
    x, y = got["columns"].annotations, got["dicts"].annotations
    for col in ("ids", "image_ids", "labels", "boxes", "source_wh", "area", "iscrowd"):
        assert np.array_equal(getattr(x, col), getattr(y, col)), col
    assert got["columns"]._source is not None, "the column reader did not take this file"
    print(f"{gt} ({gt.stat().st_size / 1e6:.1f} MB, {len(x)} annotations), CPU s, median of {a.repeat}:")
    for name, ts in times.items():
        print(f"  {name:<8} {statistics.median(ts):.3f}  ({min(ts):.3f}-{max(ts):.3f})")


if __name__ == "__main__":
    main()
