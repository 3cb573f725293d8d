"""Time ``annokit explore`` on the 5,000-image benchmark set: writing the page, and loading and filtering it in a
real headless Chromium (through the DevTools protocol, ``tests/report/_browser.py``).

The data come from ``benchmarks/make_coco_data.py`` (5,000 images, ~35k ground-truth boxes, 100 detections per
image: 500k); they are generated into ``--data`` when absent. Each browser figure is the median of ``--repeats``
fresh page loads; the page reports its own script time (``loadMs``: decoding the data, the first matching, the
counts and the first grid) and the time of each update (``lastUpdateMs``).

    python benchmarks/bench_explore.py
    python benchmarks/bench_explore.py --data /tmp/bench5k --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "report"))


def _build(gt: Path, dt: Path, out: Path) -> tuple[float, float]:
    """Write the page; returns (wall seconds, CPU seconds) of reading and writing."""
    from annokit.io.coco import read_instances
    from annokit.report.explore import build_explorer
    from annokit.report.inputs import read_predictions

    t0, c0 = time.perf_counter(), time.process_time()
    ds = read_instances(gt)
    build_explorer(ds, read_predictions(dt, ds).dets, out, overwrite=True)
    return time.perf_counter() - t0, time.process_time() - c0


def _session(page: Path) -> dict[str, float]:
    """One fresh browser: load the page, then time a slider move, an IoU click, a class and an outcome filter."""
    from _browser import Browser

    out: dict[str, float] = {}
    with Browser.start() as b:
        out["load event (s)"] = b.open(page)
        out["script init (ms)"] = b.eval("annokitExplorer.loadMs")
        steps = {"score slider 0.3 (ms)": "(() => {const r = document.getElementById('f-score'); r.value = '0.3';"
                                          "r.dispatchEvent(new Event('change'));})()",
                 "IoU 0.75 (ms)": "document.querySelector(\"button.iou[data-iou='0.75']\").click()",
                 "class filter (ms)": "(() => {const s = document.getElementById('f-class'); s.value = '3';"
                                      "s.dispatchEvent(new Event('change'));})()",
                 "outcome filter Cls (ms)": "document.getElementById('oc-Cls').click()"}
        for name, js in steps.items():
            b.eval(js)
            out[name] = b.eval("annokitExplorer.lastUpdateMs")
        out["grid cells in the DOM"] = b.eval("document.querySelectorAll('.cell').length")
        out["images shown"] = b.eval("annokitExplorer.counts().images")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "coco_bbox",
                    help="folder with gt.json and dt.json (generated when absent)")
    ap.add_argument("--repeats", type=int, default=3, help="fresh page loads (medians reported)")
    a = ap.parse_args()
    gt, dt = a.data / "gt.json", a.data / "dt.json"
    if not (gt.exists() and dt.exists()):
        print(f"generating benchmark data into {a.data} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_coco_data.py"), "--out", str(a.data)], check=True)
    out = Path(tempfile.mkdtemp(prefix="annokit_explore_")) / "exp"
    wall, cpu = _build(gt, dt, out)
    page = out / "explore.html"
    print(f"wrote {page}: {page.stat().st_size / 1e6:.1f} MB in {wall:.2f} s wall, {cpu:.2f} s CPU")
    runs = [_session(page) for _ in range(a.repeats)]
    for key in runs[0]:
        vals = [r[key] for r in runs]
        print(f"{key:28s} median {statistics.median(vals):10.1f}   (min {min(vals):.1f}, max {max(vals):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
