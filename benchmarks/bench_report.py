"""Time ``annokit report`` on the 5,000-image benchmark set (target: under 60 s end to end).

The data come from ``benchmarks/make_coco_data.py`` (5,000 images, ~35k ground-truth boxes, 500k detections);
they are generated into ``--data`` when absent.

    python benchmarks/bench_report.py                       # generate (once) and time
    python benchmarks/bench_report.py --data /tmp/bench5k --out /tmp/bench5k/report
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "coco_bbox",
                    help="folder with gt.json and dt.json (generated when absent)")
    ap.add_argument("--out", type=Path, default=None, help="report folder (default: a temporary one)")
    ap.add_argument("--limit", type=float, default=60.0, help="fail (exit 1) above this many seconds")
    a = ap.parse_args()
    gt, dt = a.data / "gt.json", a.data / "dt.json"
    if not (gt.exists() and dt.exists()):
        print(f"generating benchmark data into {a.data} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_coco_data.py"), "--out", str(a.data)], check=True)

    from annokit.io.coco import read_instances, read_results
    from annokit.report.build import analyse, write_report

    out = a.out or Path(tempfile.mkdtemp(prefix="annokit_report_"))
    t0 = time.perf_counter()
    ds = read_instances(gt)
    dets = read_results(dt, ds)
    t_read = time.perf_counter() - t0
    data = analyse(ds, dets, title="benchmark")
    path = write_report(ds, dets, data, out, overwrite=True)
    total = time.perf_counter() - t0
    timings = json.loads((out / "report.json").read_text())["timings_s"]
    print(f"images {len(ds.images)}  ground truth {len(ds.annotations)}  detections {len(dets)}")
    print(f"read {t_read:.2f} s; " + "; ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    print(f"total {total:.2f} s (limit {a.limit:.0f} s) -> {path}")
    return 0 if total <= a.limit else 1


if __name__ == "__main__":
    sys.exit(main())
