"""LVIS at LVIS v1 val's size: annokit vs ``lvis`` 0.5.3 (``LVISEval``) on a seeded synthetic set of val's shape
(19,809 images, 1,203 categories in v1's r / c / f proportions, ~12.35 objects and exactly 300 detections an image:
~245k objects, ~5.9M detections; ``synth_protocols_more.write_lvis_val_like``).

The reference needs hours for the whole set on a small shared machine, so it runs on the first ``--fraction``
images (the same generator: those images are the whole set's first ones) and its time is extrapolated linearly to
the whole set (its cost is per image and category: linear in images at a fixed density). annokit runs on both, and
the two must agree on every class's AP (1e-12) on the fraction. One round each (``--repeat`` for more); wall and
CPU seconds (the process's, which a shared machine's load disturbs less).

    python benchmarks/bench_lvis_val.py                          # fraction 2,000 images, whole set 19,809
    python benchmarks/bench_lvis_val.py --fraction 5000 --repeat 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "metrics")]

from bench_protocols import _lvis_sides
from synth_protocols_more import LVIS_VAL_IMAGES, write_lvis_val_like


def _set(root: Path, seed: int, images: int) -> Path:
    if not (root / "results.json").is_file():
        t0 = time.perf_counter()
        write_lvis_val_like(root, seed, images)
        print(f"  wrote {root} ({images} images) in {time.perf_counter() - t0:.0f} s")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=LVIS_VAL_IMAGES, help="the whole set (LVIS v1 val: 19,809)")
    ap.add_argument("--fraction", type=int, default=2000, help="images the reference runs on")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=HERE / "data" / "protocols")
    a = ap.parse_args()
    part = _set(a.data / f"lvisval_{a.fraction}_{a.seed}", a.seed, a.fraction)
    whole = _set(a.data / f"lvisval_{a.images}_{a.seed}", a.seed, a.images)
    sides = _lvis_sides(part, a.fraction, a.seed)
    sides["annokit"]()  # warm-up (imports, first-call costs)
    part_t: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
    results: dict[str, dict[str, float]] = {}
    for _ in range(a.repeat):
        for name, fn in sides.items():
            t, results[name] = _timed(fn)
            part_t[name].append(t)
    agree = all(_same(results["annokit"], r) for r in results.values())
    whole_fn = _lvis_sides(whole, a.images, a.seed)["annokit"]
    whole_t = [_timed(whole_fn)[0] for _ in range(a.repeat)]
    ours, ref = _median(part_t["annokit"]), _median(part_t.get("lvis 0.5.3", [(math.nan, math.nan)]))
    ow, scale = _median(whole_t), a.images / a.fraction
    print(f"{'set':<22} {'annokit wall / cpu s':>21} {'lvis 0.5.3 wall / cpu s':>25} {'ratio wall / cpu':>17}  agree")
    print(f"{'first ' + str(a.fraction) + ' images':<22} {ours[0]:>10.1f} / {ours[1]:>7.1f} {ref[0]:>13.1f} / "
          f"{ref[1]:>8.1f} {ref[0] / ours[0]:>8.1f}x / {ref[1] / ours[1]:.1f}x  {agree}")
    print(f"{'all ' + str(a.images) + ' images':<22} {ow[0]:>10.1f} / {ow[1]:>7.1f} {ref[0] * scale:>12.0f}* / "
          f"{ref[1] * scale:>7.0f}* {ref[0] * scale / ow[0]:>8.1f}x / {ref[1] * scale / ow[1]:.1f}x")
    print(f"* lvis 0.5.3 extrapolated linearly from its {a.fraction}-image run (x {scale:.2f}); cpu: the process's "
          "CPU seconds (time.process_time), less sensitive than wall time to a shared machine's load")


def _timed(fn: Callable[[], dict[str, float]]) -> tuple[tuple[float, float], dict[str, float]]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - w, time.process_time() - c), out


def _median(t: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(x[0] for x in t), statistics.median(x[1] for x in t)


def _same(a: dict[str, float], r: dict[str, float]) -> bool:
    return set(a) == set(r) and all((math.isnan(a[c]) and math.isnan(r[c])) or abs(a[c] - r[c]) <= 1e-12 for c in a)


if __name__ == "__main__":
    main()
