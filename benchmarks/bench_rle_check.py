"""What checking a mask results file's compressed RLE strings costs: ``annokit.core.rle_check.counts_areas`` (every
string checked to be an RLE of its image, and its area) against pycocotools' ``area`` (which it replaces in the
results reader, and which checks nothing), over every ``counts`` string of the segm benchmark's results file, in
one process (min of ``--repeat`` runs, the two alternated).

    python benchmarks/bench_rle_check.py                 # the 1,000-image segm set of bench_coco_eval.py
    python benchmarks/bench_rle_check.py --images 200 --repeat 3

The data is made by bench_coco_eval.py's generator when missing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_coco_eval import ensure_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from pycocotools import mask as cmask

    from annokit.core.rle_check import counts_areas

    folder = ensure_data("coco", "segm", args.images, None)
    segs = [r["segmentation"] for r in orjson.loads((folder / "dt.json").read_bytes())]
    counts = [s["counts"] for s in segs]
    totals = np.array([s["size"][0] * s["size"][1] for s in segs], np.int64)
    chars = sum(map(len, counts))
    best = {"check": float("inf"), "pycocotools area": float("inf")}
    for _ in range(args.repeat):
        t0 = time.process_time()
        ok, area = counts_areas(counts, totals)
        best["check"] = min(best["check"], time.process_time() - t0)
        t0 = time.process_time()
        ref = np.concatenate([cmask.area(segs[i:i + 255]) for i in range(0, len(segs), 255)])  # 256+: OverflowError
        best["pycocotools area"] = min(best["pycocotools area"], time.process_time() - t0)
    assert ok.all() and np.array_equal(area, ref), "the check's areas differ from pycocotools'"
    print(f"{len(counts):,} strings, {chars:,} characters ({folder}), CPU s, min of {args.repeat}")
    for name, s in best.items():
        print(f"{name:<18} {s:.3f} s   {s / chars * 1e9:.1f} ns a character")


if __name__ == "__main__":
    main()
