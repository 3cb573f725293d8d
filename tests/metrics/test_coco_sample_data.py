"""The sample predictions, scored by the same command users run, equal pycocotools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from coco_oracle import pycocotools_eval

from annokit.cli import cli

SCENES = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"


@pytest.mark.parametrize("iou", ["bbox", "segm"])
def test_sample_scores_equal_pycocotools(tmp_path: Path, iou: str) -> None:
    out = tmp_path / "scores.json"
    r = CliRunner().invoke(cli, ["eval", "--gt", str(SCENES / "gt.json"), "--pred", str(SCENES / "pred.json"),
                                 "--iou-type", iou, "--json", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    got = json.loads(out.read_text())["metrics"]
    ev = pycocotools_eval(json.loads((SCENES / "gt.json").read_text()),
                          json.loads((SCENES / "pred.json").read_text()), iou)
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    want = [None if v == -1 else v for v in ev.stats.tolist()]
    for k, w in zip(keys, want):
        assert (got[k] is None and w is None) or got[k] == pytest.approx(w, abs=1e-9), k
    assert 0.2 < got["AP"] < 0.9  # the sample is a meaningful, imperfect model
