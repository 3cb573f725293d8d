"""LVIS at LVIS v1 val's size: annokit vs ``lvis`` 0.5.3 (``LVISEval``) on a seeded synthetic set of val's shape
(19,809 images, 1,203 categories in v1's r / c / f proportions, ~12.35 objects and exactly 300 detections an image:
~245k objects, ~5.9M detections; ``synth_protocols_more.write_lvis_val_like``).

The reference needs hours for the whole set on a small shared machine, so it runs on the first ``--fraction``
images (the same generator: those images are the whole set's first ones) and its time is extrapolated linearly to
the whole set (its cost is per image and category: linear in images at a fixed density). annokit runs on both, and
the two must agree on every class's AP (1e-12) on the fraction. One round each (``--repeat`` for more).

    python benchmarks/bench_lvis_val.py                          # fraction 2,000 images, whole set 19,809
    python benchmarks/bench_lvis_val.py --fraction 5000 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "metrics")]

from bench_protocols import _lvis_sides, _rounds
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
    times, agree = _rounds(sides, a.repeat)
    ours_part = statistics.median(times["annokit"])
    ref_part = statistics.median(times.get("lvis 0.5.3", [float("nan")]))
    whole_sides = _lvis_sides(whole, a.images, a.seed)
    ours_whole = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        whole_sides["annokit"]()
        ours_whole.append(time.perf_counter() - t0)
    ow = statistics.median(ours_whole)
    ref_whole = ref_part * a.images / a.fraction
    print(f"{'set':<28} {'annokit s':>10} {'lvis 0.5.3 s':>14} {'ratio':>7}  agree")
    print(f"{'first ' + str(a.fraction) + ' images':<28} {ours_part:>10.2f} {ref_part:>14.2f} "
          f"{ref_part / ours_part:>6.1f}x  {agree}")
    print(f"{'all ' + str(a.images) + ' images':<28} {ow:>10.2f} {ref_whole:>13.0f}* {ref_whole / ow:>6.1f}x")
    print(f"* lvis 0.5.3 extrapolated linearly from its {a.fraction}-image run (x {a.images / a.fraction:.2f})")


if __name__ == "__main__":
    main()
