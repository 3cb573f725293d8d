"""Shared helpers of the protocol tests: the seeded synthetic sets, their golden numbers, and seed counts."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE / "golden"))

from make_protocols_golden import dota_fingerprint, oid_fingerprint  # noqa: F401

GOLDEN = json.loads((HERE / "golden" / "protocols.json").read_text())
# live differential runs against the oracles (marked slow; a small version by default):
# ANNOKIT_PROTOCOL_SEEDS=50 python -m pytest -m slow tests/metrics/test_dota.py tests/metrics/test_openimages.py
SEEDS = int(os.environ.get("ANNOKIT_PROTOCOL_SEEDS", "3"))
# golden numbers checked without the oracles: the first 8 seeded sets by default, up to all 20 committed
GOLDEN_SEEDS = min(int(os.environ.get("ANNOKIT_PROTOCOL_GOLDEN", "8")), len(GOLDEN["dota"]))


def same(a: float, b: float, tol: float = 1e-12) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def check_fingerprint(kind: str, seed: int, got: list[float]) -> dict[str, Any]:
    entry: dict[str, Any] = GOLDEN[kind][str(seed)]
    if entry["fingerprint"] != got:
        pytest.skip(f"the seeded {kind} set {seed} differs from the one the goldens were made from (numpy's random "
                    "stream changed?): rerun tests/metrics/golden/make_protocols_golden.py")
    return entry
