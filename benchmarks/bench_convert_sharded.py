"""``annokit convert`` to the COCO instances target in this process vs by shards on a LocalCluster (interleaved
repeats, medians; the cluster is started once, outside the timings). The outputs are checked equal byte for byte.

    python benchmarks/bench_convert_sharded.py --images 5000 --workers 2 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from make_coco_data import make


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from annokit.convert import convert
    from annokit.distributed import connect, convert_sharded

    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        gt, _ = make(args.images, masks=True, dets_per_image=1)
        src = tmp / "gt.json"
        src.write_bytes(orjson.dumps(gt))
        print(f"{args.images} images, {len(gt['annotations'])} objects (polygons), {src.stat().st_size / 1e6:.1f} MB")
        times: dict[str, list[float]] = {"in-process": [], f"local:{args.workers}": []}
        with connect(f"local:{args.workers}") as client:
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                convert(src, tmp / "a.json", src_format="coco", dst_format="coco", overwrite=True)
                times["in-process"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                convert_sharded(src, tmp / "b.json", src_format="coco", dst_format="coco", overwrite=True,
                                scheduler=client)
                times[f"local:{args.workers}"].append(time.perf_counter() - t0)
                assert (tmp / "a.json").read_bytes() == (tmp / "b.json").read_bytes()
        for name, ts in times.items():
            print(f"{name:<12} median {statistics.median(ts):.2f} s  (min {min(ts):.2f}, max {max(ts):.2f})")
        ratio = statistics.median(times[f"local:{args.workers}"]) / statistics.median(times["in-process"])
        print(f"sharded / in-process: {ratio:.2f}")


if __name__ == "__main__":
    main()
