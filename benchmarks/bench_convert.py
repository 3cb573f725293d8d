"""COCO -> VOC -> COCO and COCO -> YOLO -> COCO round trips: annokit vs globox 2.9, side by side in one run.

Generates (once, seeded) a COCO instances file of 5,000 images and about 36,000 boxes under
``benchmarks/data/`` (git-ignored), with one header-only PNG per image (YOLO coordinates are normalized, so both
tools read each image's size from its header), then times each tool's full round trip (read COCO, write VOC XML /
YOLO labels, read them back, write COCO) ``--repeat`` times, the tools interleaved run by run, and prints the
medians and the ratios. globox is a benchmark-only peer (``pip install -e '.[bench]'``); without it the script
says so and times annokit alone. annokit's round trip is checked to equal the input exactly, and globox's boxes to
equal annokit's (file, class, box to 1e-6). Every run's outputs are kept until all runs are done (see
:func:`timed`); the load average is printed at the start and the end.

    python benchmarks/bench_convert.py [--repeat 5] [--images 5000] [--formats voc yolo] [--workdir DIR]
    python benchmarks/bench_convert.py --images 50000 --repeat 1 --no-peer   # how annokit's cost grows
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def make_dataset(path: Path, n_images: int, seed: int = 0) -> None:
    """A COCO-like instances file: sparse category ids 1..90 (80 used), 0-30 boxes an image (mean ~7.2), boxes
    with two decimals, a few images without objects; the images are PNGs."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(rng.choice(np.arange(1, 91), size=80, replace=False).tolist())
    cats = [{"id": c, "name": f"class_{c}", "supercategory": f"super_{c % 7}"} for c in cat_ids]
    images, anns = [], []
    aid = 1
    for i in range(n_images):
        w, h = int(rng.integers(320, 1025)), int(rng.integers(240, 1025))
        images.append({"id": 100000 + i, "file_name": f"{100000 + i:012d}.png", "height": h, "width": w})
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


def _png_header(w: int, h: int) -> bytes:
    """A PNG that declares ``w`` x ``h`` (its pixels are never decoded: both tools read the header only)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def make_images(data: dict, folder: Path) -> None:
    """One header-only PNG per image of ``data``, of its declared size."""
    if folder.is_dir() and len(list(folder.iterdir())) == len(data["images"]):
        return
    folder.mkdir(parents=True, exist_ok=True)
    for im in data["images"]:
        (folder / im["file_name"]).write_bytes(_png_header(im["width"], im["height"]))


# ---------------------------------------------------------------------------------------------- the round trips
def annokit_voc(src: Path, images: Path, work: Path) -> Path:
    from annokit.convert import convert

    convert(src, work / "voc", src_format="coco", dst_format="voc")
    convert(work / "voc", work / "back.json", src_format="voc", dst_format="coco")
    return work / "back.json"


def globox_voc(src: Path, images: Path, work: Path) -> Path:
    from globox import AnnotationSet

    a = AnnotationSet.from_coco(src)
    a.save_pascal_voc(work / "voc")
    b = AnnotationSet.from_pascal_voc(work / "voc")
    b.save_coco(work / "back.json", auto_ids=True)
    return work / "back.json"


def annokit_yolo(src: Path, images: Path, work: Path) -> Path:
    """COCO -> YOLO (labels, data.yaml, the images hard-linked) -> COCO; the sizes come from the image headers."""
    from annokit.convert import convert

    convert(src, work / "yolo", src_format="coco", dst_format="yolo", write_options={"images": images})
    convert(work / "yolo", work / "back.json", src_format="yolo", dst_format="coco")
    return work / "back.json"


def globox_yolo(src: Path, images: Path, work: Path) -> Path:
    from globox import AnnotationSet

    a = AnnotationSet.from_coco(src)
    names = sorted(a._labels())
    a.save_yolo_v5(work / "yolo", label_to_id={c: i for i, c in enumerate(names)})
    b = AnnotationSet.from_yolo_v5(work / "yolo", image_folder=images, image_extension=".png")
    b = b.map_labels({str(i): c for i, c in enumerate(names)})  # YOLO files hold class indices
    b.save_coco(work / "back.json", auto_ids=True)
    return work / "back.json"


RUNS: dict[str, tuple[Callable[[Path, Path, Path], Path], Callable[[Path, Path, Path], Path]]] = {
    "voc": (annokit_voc, globox_voc), "yolo": (annokit_yolo, globox_yolo)}


def timed(fn: Callable[[Path, Path, Path], Path], src: Path, images: Path, workdir: Path | None,
          kept: list[Path] | None) -> tuple[float, float, dict]:
    """Wall and CPU seconds (the process's, all threads, kernel time included) of one round trip, and its output.

    The run's folder is appended to ``kept`` (deleted by the caller once every run is done) when ``kept`` is not
    None, else deleted at once: on a file system that checks new inodes against recently deleted ones (ext4 without
    a journal, as on this project's machine) deleting 10,000 files makes the next run's file creations scan past
    them (measured: 5,000 creations 0.2 s of kernel time in a quiet folder, 1.5-3.5 s after such deletions)."""
    work = Path(tempfile.mkdtemp(prefix="bench_convert_", dir=workdir))
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn(src, images, work)
        t, c = time.perf_counter() - t0, time.process_time() - c0
        return t, c, orjson.loads(res.read_bytes())
    finally:
        if kept is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            kept.append(work)


def box_set(d: dict) -> list[tuple[str, str, tuple[float, ...]]]:
    """(file, class name, rounded box) of every annotation: what both tools must agree on."""
    names = {c["id"]: c["name"] for c in d["categories"]}
    files = {im["id"]: Path(im["file_name"]).stem for im in d["images"]}
    return sorted((files[a["image_id"]], names[a["category_id"]], tuple(round(v, 6) for v in a["bbox"]))
                  for a in d["annotations"])


def run_format(fmt: str, src: Path, images: Path, data: dict, args: argparse.Namespace, have_globox: bool,
               kept: list[Path] | None) -> bool:
    """Time one round trip of both tools, interleaved ``args.repeat`` times; print the figures; True when both
    outputs are right."""
    ok = True
    ak_fn, gb_fn = RUNS[fmt]
    t_ak: list[float] = []
    t_gb: list[float] = []
    c_ak: list[float] = []
    c_gb: list[float] = []
    back_ak = back_gb = None
    for _ in range(args.repeat):  # interleaved, so that both tools see the same machine load
        t, c, back_ak = timed(ak_fn, src, images, args.workdir, kept)
        t_ak.append(t)
        c_ak.append(c)
        if have_globox:
            t, c, back_gb = timed(gb_fn, src, images, args.workdir, kept)
            t_gb.append(t)
            c_gb.append(c)
    exact = back_ak == data
    ok &= exact
    tag = f"COCO->{fmt.upper()}->COCO"
    print(f"annokit  {tag}: median {statistics.median(t_ak):.3f} s, CPU {statistics.median(c_ak):.3f} s  (runs: "
          f"{', '.join(f'{t:.3f}' for t in t_ak)}); round trip equals the input: {exact}")
    if have_globox and back_gb is not None:
        same = box_set(back_gb) == box_set(data)
        ok &= same
        print(f"globox   {tag}: median {statistics.median(t_gb):.3f} s, CPU {statistics.median(c_gb):.3f} s  "
              f"(runs: {', '.join(f'{t:.3f}' for t in t_gb)}); same boxes as the input: {same}")
        ratios = [g / a for a, g in zip(t_ak, t_gb)]
        cpu = [g / a for a, g in zip(c_ak, c_gb)]
        print(f"  ratio globox / annokit: {statistics.median(t_gb) / statistics.median(t_ak):.2f}x of the "
              f"medians; run pairs {min(ratios):.2f}x .. {max(ratios):.2f}x;  CPU time: "
              f"{statistics.median(c_gb) / statistics.median(c_ak):.2f}x ({min(cpu):.2f}x .. {max(cpu):.2f}x)")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--formats", nargs="+", choices=sorted(RUNS), default=sorted(RUNS))
    ap.add_argument("--no-peer", action="store_true", help="time annokit alone")
    ap.add_argument("--delete-each", action="store_true",
                    help="delete each run's outputs right after it (the next run then pays the file system's cost "
                         "of those deletions); by default every run's outputs are kept until all runs are done")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="folder for the outputs (default: the system temp folder; /dev/shm times the CPU work "
                         "without the disk)")
    args = ap.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    src = DATA / f"coco_png_{args.images}.json"
    if not src.exists():
        make_dataset(src, args.images)
    data = orjson.loads(src.read_bytes())
    images = DATA / f"images_{args.images}"
    make_images(data, images)
    if args.workdir is not None and os.stat(args.workdir).st_dev != os.stat(images).st_dev:
        # images on another file system than the outputs (e.g. --workdir /dev/shm) could only be copied, not
        # hard-linked: put a copy beside the outputs first (not timed), as a user's images usually are
        staged = args.workdir / f"bench_convert_images_{args.images}"
        make_images(data, staged)
        images = staged
    print(f"outputs under {args.workdir or Path(tempfile.gettempdir())}; dataset {src.name}: {len(data['images'])} "
          f"images, {len(data['annotations'])} boxes, {len(data['categories'])} categories")
    have_globox = not args.no_peer
    if have_globox:
        try:
            import globox

            print(f"globox {getattr(globox, '__version__', '2.9')}")
        except ImportError:
            have_globox = False
            print("globox   not installed (pip install -e '.[bench]'): timing annokit alone")
    kept: list[Path] | None = None if args.delete_each else []
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    try:
        results = [run_format(fmt, src, images, data, args, have_globox, kept) for fmt in args.formats]  # every one
    finally:
        for w in kept or []:
            shutil.rmtree(w, ignore_errors=True)
    ok = all(results)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
