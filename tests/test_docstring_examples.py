"""The Examples sections of the docstrings run and print what they show (doctest), for the modules whose
examples need nothing but annokit and sample_data/."""

from __future__ import annotations

import doctest
import importlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "annokit",
    "annokit.core.instances",
    "annokit.core.dataset",
    "annokit.core.labels",
    "annokit.core.semantic",
    "annokit.core.boxes",
    "annokit.core.losses",
    "annokit.core.rotated",
    "annokit._internal.arrays",
    "annokit.io.detect",
    "annokit.io.coco",
    "annokit.io.coco_schema",
    "annokit.metrics.panoptic",
    "annokit.metrics.semantic",
    "annokit.analysis.tide",
    "annokit.analysis.confusion",
    "annokit.analysis.breakdown",
    "annokit.metrics.classification",
    "annokit.metrics.localization",
    "annokit.metrics.objseg",
    "annokit.metrics.imageseg",
    "annokit.viz.overlay",
    "annokit.report.build",
    "annokit._internal.progress",
    "annokit._internal.jsonnum",
    "annokit.metrics.coco",
    "annokit.metrics.voc",
    "annokit.api",
    "annokit.analysis.protocols",
    "annokit.metrics.keypoints",
    "annokit.metrics.lvis",
    "annokit.metrics.rotated",
    "annokit.io.rotated",
    "annokit.io.coco_keypoints",
    "annokit.distributed._cluster",
    "annokit._internal.shards",
    "annokit.distributed.coco",
    "annokit.convert._parts",
    "annokit.compat",
    "annokit.compat.errors",
    "annokit.compat.pycocotools",
    "annokit.compat.pycocotools.coco",
    "annokit.compat.pycocotools.cocoeval",
    "annokit.compat.pycocotools.mask",
    "annokit.io.darknet",
    "annokit.io.kitti",
    "annokit.io._writing",
    "annokit.io.rotated",
    "annokit.io.dota",
    "annokit.io.openimages",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (ROOT / "sample_data" / "scenes" / "pred.json").exists():
        pytest.skip("sample_data/scenes is absent (sample data not generated in this checkout)")
    monkeypatch.chdir(ROOT)  # the examples read sample_data/ relative to the repository
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples failed in {name} (run: python -m doctest)"
    assert res.attempted > 0 or name.endswith("breakdown")
    assert os.getcwd() == str(ROOT)
