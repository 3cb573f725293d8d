"""Where the decoding path of semantic mIoU spends its CPU, per 640x480 map or pair of bench_semantic.py's data, in
one process (CPU clock, min over ``--repeat`` passes over the files, the variants alternated within each pass):

* decoding a map (``annokit.io.pngfast.decode_png8``) and finding the byte-pair runs of a pair
  (``annokit.metrics.semantic._byte_pair_runs``), this checkout and, with ``--baseline DIR``, another one's
  modules of the same name (e.g. ``git archive main annokit | tar -x -C DIR``), checked to give the same result;
* ``SemanticAccumulator.update`` of every pair and the count into the table (``_byte_pair_runs`` and the batches
  of runs counted every ``_FLUSH_RUNS``), this checkout and the baseline's, checked to give the same table;
* libspng (pyspng) on the stored PNG pngfast rebuilds (Sub rows already unfiltered) of the first 100 maps of
  each folder: as built, with every "Up" row turned into a None row of the same pixels, and with every Average /
  Paeth row so: what each kind of row costs libspng.

    python benchmarks/bench_semantic_parts.py --baseline /tmp/main_base
    python benchmarks/bench_semantic_parts.py --images 100 --repeat 3

The data is made by bench_semantic.py's generator when missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_semantic import make_dataset

import annokit.io.pngfast as pngfast
import annokit.metrics.semantic as semantic
from annokit.io.labelmap import read_file_bytes


def _module(path: Path, name: str) -> ModuleType:
    """The module file ``path`` loaded as ``name`` (its own imports from this checkout's annokit)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _stored_variants(data: bytes) -> dict[str, bytes]:
    """The stored PNG pngfast hands libspng for ``data`` (a gray or palette map), and the same pixels with the Up
    rows, or the Average / Paeth rows, written as None rows."""
    mods = pngfast._modules()
    assert mods is not None, "imagecodecs and pyspng are needed"
    codec, spng = mods
    png = pngfast._parse(data, (0, 3), 1 << 30)
    assert png is not None
    h, w = png.height, png.width
    raw = pngfast._inflate(codec, png, h * (w + 1))
    assert raw is not None
    raw = raw.copy()
    rows = raw.reshape(h, -1)
    pngfast._unfilter_sub_rows(codec, rows)
    head = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    ihdr = struct.pack(">I", 13) + b"IHDR" + head + struct.pack(">I", zlib.crc32(b"IHDR" + head))
    out = {"as built": pngfast._stored_png(ihdr, raw)}
    pixels = spng.load(out["as built"], "L")
    for name, pick in (("Up rows as None", rows[:, 0] == 2), ("Average / Paeth rows as None", rows[:, 0] >= 3)):
        other = rows.copy()
        other[pick, 1:] = pixels[pick]
        other[pick, 0] = 0
        out[name] = pngfast._stored_png(ihdr, other.reshape(-1))
        assert np.array_equal(spng.load(out[name], "L"), pixels)
    return out


def _each(fn: Callable[[Any], Any], items: list[Any]) -> None:
    """``fn`` on each item, each result dropped before the next (kept, 500 decoded maps would cost page faults)."""
    for x in items:
        fn(x)


def _best(fns: dict[str, Callable[[], Any]], repeat: int, per: int) -> dict[str, float]:
    """Min CPU ms per item of each function (each a pass over ``per`` items), alternated ``repeat`` times."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.process_time()
            fn()
            best[name] = min(best[name], (time.process_time() - t) / per * 1e3)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--classes", type=int, default=19)
    ap.add_argument("--data", default="/tmp/annokit_semantic_bench")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", metavar="DIR", help="another checkout's annokit/ (its pngfast and semantic modules)")
    a = ap.parse_args()
    root = Path(a.data) / f"n{a.images}_c{a.classes}_L"
    if not (root / "pred").is_dir() or len(list((root / "pred").glob("*.png"))) < a.images:
        make_dataset(root, images=a.images, height=480, width=640, classes=a.classes, mode="L")
    if not pngfast.fast_png_available():
        sys.exit("imagecodecs and pyspng are needed (pip install annokit[fast])")
    decoders: dict[str, ModuleType] = {"this": pngfast}
    counters: dict[str, ModuleType] = {"this": semantic}
    if a.baseline:
        base = Path(a.baseline).resolve() / "annokit"
        decoders["baseline"] = _module(base / "io" / "pngfast.py", "baseline_pngfast")
        counters["baseline"] = _module(base / "metrics" / "semantic.py", "baseline_semantic")
    files = {sub: [read_file_bytes(p) for p in sorted((root / sub).glob("*.png"))[:a.images]] for sub in ("gt", "pred")}
    maps = {sub: [pngfast.decode_png8(b) for b in bs] for sub, bs in files.items()}
    for name, mod in decoders.items():
        for sub, bs in files.items():
            assert all(np.array_equal(mod.decode_png8(b), m) for b, m in zip(bs, maps[sub])), (name, sub)
    pairs = list(zip(maps["gt"], maps["pred"]))
    want = [semantic._byte_pair_runs(g, p) for g, p in pairs]
    for name, mod in counters.items():
        for (g, p), (k, n) in zip(pairs, want):
            kk, nn = mod._byte_pair_runs(g, p)
            assert np.array_equal(kk, k) and np.array_equal(nn, n), name
    print(f"{len(pairs)} pairs of {root}, min of {a.repeat} passes, CPU ms; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    for sub, bs in files.items():
        got = _best({name: (lambda m=m, bs=bs: _each(m.decode_png8, bs)) for name, m in decoders.items()},
                    a.repeat, len(bs))
        print(f"decode_png8, {sub} map: " + ", ".join(f"{k} {v:.3f}" for k, v in got.items()))
    got = _best({name: (lambda m=mod: _each(lambda gp, m=m: m._byte_pair_runs(*gp), pairs))
                 for name, mod in counters.items()}, a.repeat, len(pairs))
    print("_byte_pair_runs, pair: " + ", ".join(f"{k} {v:.3f}" for k, v in got.items()))

    def counted(m: ModuleType) -> np.ndarray:  # SemanticAccumulator.update of every pair, then the table
        acc = m.SemanticAccumulator(a.classes)
        for g, p in pairs:
            acc.update(g, p)
        return np.asarray(acc.confusion)

    table = counted(semantic)
    assert all(np.array_equal(counted(m), table) for m in counters.values())
    got = _best({name: (lambda m=mod: counted(m)) for name, mod in counters.items()}, a.repeat, len(pairs))
    print("SemanticAccumulator.update + count into the table, pair: "
          + ", ".join(f"{k} {v:.3f}" for k, v in got.items()))
    mods = pngfast._modules()
    assert mods is not None
    spng = mods[1]
    for sub, bs in files.items():
        variants = [_stored_variants(b) for b in bs[:100]]  # 3 x 300 KB a map: the first 100
        got = _best({k: (lambda k=k, vs=variants: _each(lambda x, k=k: spng.load(x[k], "L"), vs))
                     for k in variants[0]}, a.repeat, len(variants))
        print(f"libspng on the stored PNG, {sub} map: " + ", ".join(f"{k} {v:.3f}" for k, v in got.items()))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
