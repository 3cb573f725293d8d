"""VOC XML parsing: annokit's guard around the stdlib parser vs defusedxml, interleaved in one run.

Writes (once, seeded) the 5,000-image COCO file of bench_convert.py as a VOC folder under ``benchmarks/data/``, then
times, ``--repeat`` times in alternation: parsing every XML with ``xml.etree`` alone, with annokit's
``parse_xml`` (a DOCTYPE / entity / UTF-16 refusal before expat) and with ``defusedxml`` (``forbid_dtd=True``),
and ``read_voc`` of the whole folder with annokit's guard and with defusedxml's parser in its place. Prints medians,
the spread and the ratios. defusedxml is a benchmark-only peer (``pip install defusedxml``).

    python benchmarks/bench_voc_xml.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def _voc_folder(n_images: int) -> Path:
    from bench_convert import make_dataset

    from annokit.convert import convert

    src = DATA / f"coco_{n_images}.json"
    dst = DATA / f"voc_{n_images}"
    if not dst.exists():
        if not src.exists():
            make_dataset(src, n_images)
        convert(src, dst, src_format="coco", dst_format="voc")
    return dst


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--images", type=int, default=5000)
    args = ap.parse_args(argv)
    try:
        import defusedxml.ElementTree as DET
    except ImportError:
        print("defusedxml is not installed (pip install defusedxml): nothing to compare")
        return 0
    import xml.etree.ElementTree as ET

    import annokit.io.voc as voc
    from annokit.io import _safe

    root = _voc_folder(args.images)
    files = sorted((root / "Annotations").glob("*.xml"))
    blobs = [f.read_bytes() for f in files]
    names = [str(f) for f in files]
    guard = voc.parse_xml

    def defused(path: object, data: bytes | None = None) -> object:
        _safe._xml_guard(path, data or b"")  # the UTF-16 refusal stays; defusedxml refuses the DOCTYPE
        return DET.fromstring(data, forbid_dtd=True)

    def each(parse: Callable[[str, bytes], object]) -> Callable[[], object]:
        def run() -> None:  # trees dropped as they come (kept, they would make the collector the cost)
            for n, b in zip(names, blobs):
                parse(n, b)
        return run

    runs: dict[str, Callable[[], object]] = {
        "parse: xml.etree alone": each(lambda n, b: ET.fromstring(b)),
        "parse: annokit parse_xml (guard + xml.etree)": each(guard),
        "parse: defusedxml (forbid_dtd)": each(defused),
    }

    def read_with(parser: Callable[..., object]) -> Callable[[], object]:
        def run() -> object:
            voc.parse_xml = parser  # type: ignore[assignment]  # the benchmark swaps the parser read_voc calls
            try:
                return voc.read_voc(root)
            finally:
                voc.parse_xml = guard
        return run

    runs["read_voc: annokit guard"] = read_with(guard)
    runs["read_voc: defusedxml"] = read_with(defused)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.repeat):
        for k in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            times[k].append(_timed(runs[k]))
    print(f"{len(files)} VOC XML files under {root}; {args.repeat} interleaved runs, medians [min-max]")
    for k, v in times.items():
        print(f"  {k:<46} {statistics.median(v) * 1000:8.1f} ms  [{min(v) * 1000:.0f}-{max(v) * 1000:.0f}]")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"defusedxml / annokit guard: parsing {med['parse: defusedxml (forbid_dtd)'] / med[list(runs)[1]]:.2f}x, "
          f"read_voc {med['read_voc: defusedxml'] / med['read_voc: annokit guard']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
