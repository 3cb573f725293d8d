"""COCO -> VOC -> COCO round trip: annokit vs globox, side by side in one run.

Generates (once, seeded) a COCO instances file of 5,000 images and about 36,000 boxes under
``benchmarks/data/`` (git-ignored), then times each tool's full round trip (read COCO, write VOC XML, read the
XML, write COCO) ``--repeat`` times and prints the medians and the ratio. globox is a benchmark-only peer
(``pip install globox``); without it the script says so and times annokit alone. annokit's result is checked to
equal the input exactly.

    python benchmarks/bench_convert.py [--repeat 3] [--images 5000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def make_dataset(path: Path, n_images: int, seed: int = 0) -> None:
    """A COCO-like instances file: sparse category ids 1..90 (80 used), 0-30 boxes an image (mean ~7.2), boxes
    with two decimals, a few images without objects."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(rng.choice(np.arange(1, 91), size=80, replace=False).tolist())
    cats = [{"id": c, "name": f"class_{c}", "supercategory": f"super_{c % 7}"} for c in cat_ids]
    images, anns = [], []
    aid = 1
    for i in range(n_images):
        w, h = int(rng.integers(320, 1025)), int(rng.integers(240, 1025))
        images.append({"id": 100000 + i, "file_name": f"{100000 + i:012d}.jpg", "height": h, "width": w})
        k = int(rng.poisson(7.2)) if rng.random() > 0.02 else 0
        for _ in range(k):
            bw = round(float(rng.uniform(2, w / 2)), 2)
            bh = round(float(rng.uniform(2, h / 2)), 2)
            x = round(float(rng.uniform(0, w - bw)), 2)
            y = round(float(rng.uniform(0, h - bh)), 2)
            anns.append({"id": aid, "image_id": 100000 + i, "category_id": int(rng.choice(cat_ids)),
                         "bbox": [x, y, bw, bh], "area": round(bw * bh, 4), "iscrowd": 0})
            aid += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"images": images, "annotations": anns, "categories": cats}))


def run_annokit(src: Path, work: Path) -> Path:
    from annokit.convert import convert

    convert(src, work / "voc", src_format="coco", dst_format="voc")
    convert(work / "voc", work / "back.json", src_format="voc", dst_format="coco")
    return work / "back.json"


def run_globox(src: Path, work: Path) -> Path:
    from globox import AnnotationSet

    a = AnnotationSet.from_coco(src)
    a.save_pascal_voc(work / "voc")
    b = AnnotationSet.from_pascal_voc(work / "voc")
    b.save_coco(work / "back.json", auto_ids=True)
    return work / "back.json"


def timed(fn, src: Path, repeat: int, workdir: Path | None = None) -> tuple[list[float], Path | None]:
    times = []
    out = None
    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="bench_convert_", dir=workdir))
        t0 = time.perf_counter()
        res = fn(src, work)
        times.append(time.perf_counter() - t0)
        if out is None:
            keep = Path(tempfile.mkdtemp(prefix="bench_convert_out_")) / "back.json"
            shutil.copy(res, keep)
            out = keep
        shutil.rmtree(work, ignore_errors=True)
    return times, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--workdir", type=Path, default=None,
                    help="folder for the outputs (default: the system temp folder; /dev/shm times the CPU work "
                         "without the disk)")
    args = ap.parse_args(argv)
    src = DATA / f"coco_{args.images}.json"
    if not src.exists():
        make_dataset(src, args.images)
    data = orjson.loads(src.read_bytes())
    where = args.workdir or Path(tempfile.gettempdir())
    print(f"outputs under {where}; each tool reads COCO, writes 5,000 XML files, reads them, writes COCO")
    print(f"dataset: {src} ({len(data['images'])} images, {len(data['annotations'])} boxes, "
          f"{len(data['categories'])} categories)")
    try:
        import globox  # noqa: F401

        have_globox = True
    except ImportError:
        have_globox = False
        print("globox   not installed (pip install globox): timing annokit alone")
    # alternate the two tools run by run, so that both see the same machine load
    t_ak: list[float] = []
    t_gb: list[float] = []
    out = None
    for _ in range(args.repeat):
        t, o = timed(run_annokit, src, 1, args.workdir)
        t_ak += t
        out = out or o
        if have_globox:
            t_gb += timed(run_globox, src, 1, args.workdir)[0]
    back = orjson.loads(out.read_bytes())
    exact = back == data
    print(f"annokit  COCO->VOC->COCO: median {statistics.median(t_ak):.3f} s  (runs: "
          f"{', '.join(f'{t:.3f}' for t in t_ak)}); round trip exact: {exact}")
    if have_globox:
        print(f"globox   COCO->VOC->COCO: median {statistics.median(t_gb):.3f} s  (runs: "
              f"{', '.join(f'{t:.3f}' for t in t_gb)})")
        ratios = [g / a for a, g in zip(t_ak, t_gb)]
        print(f"ratio globox / annokit: {statistics.median(t_gb) / statistics.median(t_ak):.2f}x of the medians, "
              f"{statistics.median(ratios):.2f}x median of the run pairs")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
