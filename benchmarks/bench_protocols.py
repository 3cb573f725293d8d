"""Time the evaluation protocols end to end (files in -> per-class AP out): annokit vs the reference code, on a
seeded synthetic set per protocol, in the same process and run, interleaved.

* ``dota``: 15 classes (DOTA-v1.0's), ~30 objects an image; ``annokit`` (read_dota_labels + read_dota_task1 +
  evaluate_dota) vs the DOTA devkit's
  ``dota_evaluation_task1.voc_eval`` over every class (``$ANNOKIT_DOTA_DEVKIT``, default /work/peers/dota_devkit,
  with its compiled ``polyiou``).
* ``openimages``: ``annokit`` (read the COCO files, hierarchy, evaluate_openimages) vs the TF Object Detection
  API's expansion tool + ``OpenImagesChallengeEvaluator`` (``$ANNOKIT_TF_OD``, default /work/peers/tf_od), fed from
  the same JSON files.
* ``lvis``, ``keypoints``, ``rotated``: ``annokit`` is ``annokit.evaluate_protocol`` (what ``annokit eval`` runs:
  files in, report out).
* ``lvis``: LVIS-like set (1,203 categories in LVIS v1's frequency proportions, ~12 objects and ~40 detections an
  image, negative / not-exhaustive categories); ``annokit`` (read_lvis + read_results + evaluate_lvis) vs ``lvis``
  0.5.3's ``LVISEval`` (``LVIS(path)``, ``LVISResults``, ``run()``).
* ``keypoints``: COCO-keypoints-like set (17 keypoints, ~3 people an image); ``annokit`` (read_instances +
  read_keypoint_results + evaluate_keypoints) vs pycocotools' ``COCOeval(iouType="keypoints")`` from the files.
* ``voc07``: VOC-like set (20 classes, ~2.5 objects an image, ~10 % difficult, untied scores); ``annokit``
  (read_voc of the VOC folder's XML + the devkit's result files, evaluate_voc, 11-point AP: what ``annokit eval
  --protocol voc07`` runs) vs the VOC devkit's ``voc_eval`` (``+ 1`` pixel overlap) as the DOTA devkit ships it in
  ``dota_evaluation_task2.py`` -- the same loop reading the boxes from DOTA label files (written beside the XML:
  text lines, cheaper to read than the XML annokit reads) and the same result files.
* ``rotated``: rotated-box set (5 classes, ~8 objects an image); ``annokit`` (read_instances + with_rboxes +
  read_rotated_results + evaluate_rotated) vs the test oracle (pycocotools' ``COCOeval`` with shapely polygon IoU:
  there is no published reference implementation of this protocol, so this ratio is against that oracle).

Each round calls every side once (no warm-up round for the slow reference: its imports are done before); the
table gives the median, min and max seconds and the ratio of medians, and checks that the two agree on every
class's AP (1e-12).

    python benchmarks/bench_protocols.py                        # both protocols, 5,000 images, 3 rounds
    python benchmarks/bench_protocols.py --protocols dota --images 1000 --repeat 5
    python benchmarks/bench_protocols.py --sizes 500 1000 2000 5000 --repeat 1   # how the cost grows
    python benchmarks/bench_protocols.py --protocols keypoints rotated voc07 dota openimages lvis --sizes 5000
    python benchmarks/bench_lvis_val.py          # LVIS at LVIS v1 val's size (the reference on a fraction)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "metrics")]

from synth_protocols import DOTA_CLASSES, dota_arrays, openimages_data, write_dota, write_openimages
from synth_protocols_more import (
    VOC_CLASSES,
    keypoints_data,
    lvis_data,
    rotated_data,
    voc_data,
    write_json_pair,
    write_voc,
    write_voc_as_dota,
)

from annokit.api import evaluate_protocol

DOTA_OBJECTS, DOTA_SIZE = 30.0, 2000.0  # objects per image and image size of the DOTA-like set (DOTA-v1.0: ~67 per
# image in images of 800 to 4000 pixels)


def _dota_sides(root: Path, images: int, seed: int) -> dict[str, Callable[[], dict[str, float]]]:
    labels, dets = root / "labelTxt", root / "Task1"
    if not labels.is_dir():
        write_dota(root, dota_arrays(seed, images, objects=DOTA_OBJECTS, size=DOTA_SIZE))

    def ours() -> dict[str, float]:
        from annokit.io.dota import read_dota_labels, read_dota_task1
        from annokit.metrics.dota import evaluate_dota

        gt = read_dota_labels(labels)
        res = evaluate_dota(gt, read_dota_task1(dets, gt))
        return {res.names[c]: r.ap for c, r in res.per_class.items()}

    sides = {"annokit": ours}
    import dota_oracle

    mod = dota_oracle.load_devkit()
    if mod is None:
        print(f"  reference skipped: {dota_oracle.REASON}")
    else:
        sides["DOTA devkit"] = lambda: dota_oracle.devkit_eval(mod, labels, dets, DOTA_CLASSES, use_07_metric=True)
    return sides


def _oid_sides(root: Path, images: int, seed: int) -> dict[str, Callable[[], dict[str, float]]]:
    g, p, h = root / "gt.json", root / "results.json", root / "hierarchy.json"
    if not g.is_file():
        write_openimages(root, openimages_data(seed, images))

    def ours() -> dict[str, float]:
        from annokit.io.coco import read_instances, read_results
        from annokit.io.openimages import group_of_from_coco, image_labels_from_coco, read_hierarchy
        from annokit.metrics.openimages import evaluate_openimages

        ds = read_instances(g)
        res = evaluate_openimages(ds, read_results(p, ds), image_labels=image_labels_from_coco(ds),
                                  group_of=group_of_from_coco(ds), hierarchy=read_hierarchy(h))
        return {res.names[c]: r.ap for c, r in res.per_class.items()}

    sides = {"annokit": ours}
    import oid_oracle

    mods = oid_oracle.load_oracle()
    if mods is None:
        print(f"  reference skipped: {oid_oracle.REASON}")
    else:
        def ref() -> dict[str, float]:
            data = [json.loads(x.read_text()) for x in (g, p, h)]
            return oid_oracle.oracle_eval(mods, data[0], data[1], data[2])["AP"]  # type: ignore[no-any-return]

        sides["TF OD API"] = ref
    return sides


def _masked_mean_ap(precision: Any, names: list[str]) -> dict[str, float]:
    """Per-class AP of a reference's ``precision`` array (``[T, R, K, A(, M)]``, area all, last maxDets): the mean of
    the entries that are not -1 (nan where none), as annokit's per-class table."""
    import numpy as np

    p = precision[..., 0, -1] if precision.ndim == 5 else precision[..., 0]
    out = {}
    for k, name in enumerate(names):
        s = p[:, :, k]
        out[name] = float(np.mean(s[s > -1])) if (s > -1).any() else math.nan
    return out


def _ap_column(per_class: dict[str, dict[str, Any]]) -> dict[str, float]:
    return {n: (math.nan if r["AP"] is None else r["AP"]) for n, r in per_class.items()}


def _quiet_coco(gt_path: Path, res_path: Path, iou_type: str, cls: Any = None) -> Any:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt_path))
        dt = g.loadRes(str(res_path))
        ev = (cls or COCOeval)(g, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return g, ev


def _lvis_sides(root: Path, images: int, seed: int) -> dict[str, Callable[[], dict[str, float]]]:
    g, p = root / "gt.json", root / "results.json"
    if not g.is_file():
        write_json_pair(root, lvis_data(seed, images))

    def ours() -> dict[str, float]:
        return _ap_column(evaluate_protocol("lvis", g, p).per_class)

    sides = {"annokit": ours}
    import lvis_oracle

    if lvis_oracle.load_lvis() is None:
        print(f"  reference skipped: {lvis_oracle.REASON}")
        return sides

    def ref() -> dict[str, float]:
        import contextlib
        import io
        import logging

        from lvis import LVIS, LVISEval, LVISResults

        logging.getLogger("lvis").setLevel(logging.ERROR)
        with lvis_oracle.numpy1_names(), contextlib.redirect_stdout(io.StringIO()):
            gt = LVIS(str(g))
            ev = LVISEval(gt, LVISResults(gt, str(p)), "bbox")
            ev.run()
        names = [c["name"] for c in gt.load_cats(ev.params.cat_ids)]
        return _masked_mean_ap(ev.eval["precision"], names)

    sides["lvis 0.5.3"] = ref
    return sides


def _keypoint_sides(root: Path, images: int, seed: int) -> dict[str, Callable[[], dict[str, float]]]:
    g, p = root / "gt.json", root / "results.json"
    if not g.is_file():
        write_json_pair(root, keypoints_data(seed, images))

    def ours() -> dict[str, float]:
        return _ap_column(evaluate_protocol("coco", g, p, iou_type="keypoints").per_class)

    def ref() -> dict[str, float]:
        gt, ev = _quiet_coco(g, p, "keypoints")
        return _masked_mean_ap(ev.eval["precision"], [c["name"] for c in gt.loadCats(ev.params.catIds)])

    return {"annokit": ours, "pycocotools": ref}


def _rotated_sides(root: Path, images: int, seed: int) -> dict[str, Callable[[], dict[str, float]]]:
    g, p = root / "gt.json", root / "results.json"
    if not g.is_file():
        write_json_pair(root, rotated_data(seed, images))

    def ours() -> dict[str, float]:
        return _ap_column(evaluate_protocol("coco", g, p, iou_type="rotated").per_class)

    def ref() -> dict[str, float]:
        import test_rotated_coco as oracle

        data = [json.loads(x.read_text()) for x in (g, p)]
        ev = oracle.oracle(data[0], data[1])
        return _masked_mean_ap(ev.eval["precision"], [c["name"] for c in data[0]["categories"]])

    return {"annokit": ours, "pycocotools + shapely": ref}


def _voc_sides(root: Path, images: int, seed: int) -> dict[str, Callable[[], dict[str, float]]]:
    voc, res, labels = root / "VOC", root / "results", root / "labelTxt"
    if not voc.is_dir():
        data = voc_data(seed, images, score_digits=None)  # no tied scores: the reference sorts them unstably
        write_voc(root, data)
        write_voc_as_dota(root, data)

    def ours() -> dict[str, float]:
        return _ap_column(evaluate_protocol("voc07", voc, res).per_class)

    sides = {"annokit": ours}
    import dota_oracle

    mod = dota_oracle.load_task2()
    if mod is None:
        print(f"  reference skipped: {dota_oracle.REASON}")
    else:
        sides["VOC devkit voc_eval"] = lambda: dota_oracle.devkit_eval(
            mod, labels, res, VOC_CLASSES, use_07_metric=True, det_name="comp4_det_test_{:s}.txt")
    return sides


_SIDES = {"dota": _dota_sides, "openimages": _oid_sides, "lvis": _lvis_sides, "keypoints": _keypoint_sides,
          "rotated": _rotated_sides, "voc07": _voc_sides}


def _rounds(sides: dict[str, Callable[[], dict[str, float]]], repeat: int) -> tuple[dict[str, list[float]], bool]:
    times: dict[str, list[float]] = {k: [] for k in sides}
    results: dict[str, dict[str, float]] = {}
    sides["annokit"]()  # warm-up (imports, first-call costs)
    for _ in range(repeat):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    a = results["annokit"]
    agree = all(set(a) == set(r) and all((math.isnan(a[c]) and math.isnan(r[c])) or abs(a[c] - r[c]) <= 1e-12
                                         for c in a) for name, r in results.items())
    return times, agree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocols", nargs="+", default=list(_SIDES), choices=list(_SIDES))
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="several set sizes (overrides --images)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=HERE / "data" / "protocols")
    a = ap.parse_args()
    print(f"{'protocol':<11} {'images':>6}  {'side':<21} {'median s':>9} {'min':>8} {'max':>8} {'ratio':>7}  agree")
    for proto in a.protocols:
        for n in a.sizes or [a.images]:
            root = a.data / f"{proto}_{n}_{a.seed}"
            sides = _SIDES[proto](root, n, a.seed)
            times, agree = _rounds(sides, a.repeat)
            base = statistics.median(times["annokit"])
            for name, t in times.items():
                med = statistics.median(t)
                print(f"{proto:<11} {n:>6}  {name:<21} {med:>9.3f} {min(t):>8.3f} {max(t):>8.3f} {med / base:>6.1f}x"
                      f"  {agree if name != 'annokit' else ''}")


if __name__ == "__main__":
    main()
