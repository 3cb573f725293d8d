"""Write ``protocols.json``: the references' own numbers on the seeded synthetic sets of
``benchmarks/synth_protocols.py``, so that the tests check exactness where the oracles are absent.

    python tests/metrics/golden/make_protocols_golden.py --seeds 20

Needs the DOTA devkit (``$ANNOKIT_DOTA_DEVKIT``) and the TF Object Detection API numpy code (``$ANNOKIT_TF_OD``);
see ``tests/metrics/dota_oracle.py`` and ``tests/metrics/oid_oracle.py``. Each entry carries a fingerprint of its
input so that a test can tell a changed random stream (a new numpy) from a wrong number.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[2] / "benchmarks")]

from dota_oracle import devkit_eval, load_devkit
from oid_oracle import load_oracle, oracle_eval
from synth_protocols import DOTA_CLASSES, dota_arrays, openimages_data, write_dota

DOTA_IMAGES = 30
OID_IMAGES = 40
OID_CONFIGS = {"hierarchy+expand": (True, True), "hierarchy": (True, False), "flat": (False, False)}


def dota_fingerprint(a: dict[str, Any]) -> list[float]:
    return [int(len(a["gt_img"])), int(len(a["dt_img"])), round(float(a["scores"].sum()), 6),
            round(float(a["dt_quads"].sum()), 3)]


def oid_fingerprint(d: dict[str, Any]) -> list[float]:
    return [len(d["gt"]["annotations"]), len(d["results"]), round(sum(r["score"] for r in d["results"]), 6)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    a = ap.parse_args()
    devkit, tf = load_devkit(), load_oracle()
    if devkit is None or tf is None:
        sys.exit("both oracles are needed")
    out: dict[str, Any] = {"dota": {}, "openimages": {}}
    for seed in range(a.seeds):
        arrays = dota_arrays(seed, DOTA_IMAGES)
        with tempfile.TemporaryDirectory() as tmp:
            labels, dets = write_dota(Path(tmp), arrays)
            out["dota"][str(seed)] = {
                "fingerprint": dota_fingerprint(arrays),
                "11point": devkit_eval(devkit, labels, dets, DOTA_CLASSES, use_07_metric=True),
                "allpoint": devkit_eval(devkit, labels, dets, DOTA_CLASSES, use_07_metric=False)}
        data = openimages_data(seed, OID_IMAGES)
        entry: dict[str, Any] = {"fingerprint": oid_fingerprint(data)}
        for name, (hier, expand) in OID_CONFIGS.items():
            entry[name] = oracle_eval(tf, data["gt"], data["results"], data["hierarchy"] if hier else None,
                                      expand_detections=expand)
        out["openimages"][str(seed)] = entry
    (HERE / "protocols.json").write_text(json.dumps(out, indent=1, allow_nan=True) + "\n")


if __name__ == "__main__":
    main()
