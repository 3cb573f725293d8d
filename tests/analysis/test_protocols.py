"""The Python API of the protocols: ``annokit.evaluate(iou_type="keypoints" | "rotated")`` and
``annokit.evaluate_protocol`` give the references' numbers (checked against the oracles in tests/metrics) and the
``{"protocol", "metrics", "per_class"}`` record the CLI writes."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

import annokit
from annokit.errors import ValidationError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
sys.path.insert(0, str(HERE.parent / "metrics"))
from synth_protocols_more import keypoints_data, lvis_data, rotated_data
from synth_protocols_more import write_json_pair as _files


def test_evaluate_keypoints_and_rotated(tmp_path: Path) -> None:
    from test_keypoints import oracle as kp_oracle
    from test_rotated_coco import oracle as rot_oracle

    d = keypoints_data(11, 12)
    g, p = _files(tmp_path, d)
    res = annokit.evaluate(g, p, iou_type="keypoints")
    assert res.stats.tolist() == pytest.approx(kp_oracle(d["gt"], d["results"]).stats.tolist(), abs=1e-12)
    rep = annokit.evaluate_protocol("coco", g, p, iou_type="keypoints")
    assert rep.metrics == res.metrics_dict() and rep.to_json()["protocol"] == "coco"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        kp_oracle(d["gt"], d["results"], quiet=False)
    assert rep.summary in printed.getvalue()  # pycocotools' summarize() lines
    r = rotated_data(11, 8)
    g, p = _files(tmp_path / "r", r)
    res = annokit.evaluate(g, p, iou_type="rotated")
    assert res.stats.tolist() == pytest.approx(rot_oracle(r["gt"], r["results"]).stats.tolist(), abs=1e-12)


def test_evaluate_protocol_lvis(tmp_path: Path) -> None:
    from lvis_oracle import load_lvis, lvis_eval

    d = lvis_data(12, 10, n_cats=20, dets=20)
    g, p = _files(tmp_path, d)
    rep = annokit.evaluate_protocol("lvis", g, p)
    assert list(rep.to_json()) == ["protocol", "metrics", "per_class"] and rep.protocol == "lvis"
    assert "Average Precision" in rep.summary and "catIds=  r" in rep.summary
    if load_lvis() is None:
        pytest.skip("lvis (the oracle) not importable")
    ev = lvis_eval(d["gt"], d["results"])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ev.print_results()
    assert rep.summary == printed.getvalue().rstrip("\n")  # LVISEval's printout, line for line
    assert all((rep.metrics[k] is None and v == -1) or abs(rep.metrics[k] - v) <= 1e-12  # type: ignore[operator]
               for k, v in ev.results.items())
    with pytest.raises(ValidationError, match="bbox or segm"):
        annokit.evaluate_protocol("lvis", g, p, iou_type="keypoints")
    with pytest.raises(ValidationError, match="unknown protocol"):
        annokit.evaluate_protocol("kitti", g, p)  # type: ignore[arg-type]
