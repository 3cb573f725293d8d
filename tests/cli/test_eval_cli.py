"""``annokit eval`` end to end: summary, --json shape, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annokit.cli import cli
from annokit.cli._common import run_cli

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def _tiny(tmp_path: Path) -> tuple[Path, Path]:
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 100}],
          "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400,
                           "iscrowd": 0}]}
    pred = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
            {"image_id": 1, "category_id": 2, "bbox": [50, 50, 20, 20], "score": 0.8}]
    g, p = tmp_path / "gt.json", tmp_path / "pred.json"
    g.write_bytes(orjson.dumps(gt))
    p.write_bytes(orjson.dumps(pred))
    return g, p


def test_eval_prints_summary_and_writes_json(tmp_path: Path) -> None:
    g, p = _tiny(tmp_path)
    out = tmp_path / "scores.json"
    r = CliRunner().invoke(cli, ["eval", "--gt", str(g), "--pred", str(p), "--iou-type", "bbox", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000" in r.output
    data = json.loads(out.read_text())
    assert list(data) == ["metrics", "per_class"]
    assert list(data["metrics"])[:12] == KEYS
    assert data["metrics"]["AP"] == pytest.approx(1.0)
    assert data["metrics"]["APs"] == pytest.approx(1.0) and data["metrics"]["APm"] is None  # area 400: small
    assert data["per_class"]["cat"]["AP"] == pytest.approx(1.0)
    assert data["per_class"]["dog"]["AP"] is None  # no ground truth: null, as pycocotools' -1


@pytest.mark.parametrize(
    "gt_patch,pred,needle",
    [
        ({"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -3, 4], "area": 1}]}, None,
         "annotations[0].bbox: width is negative (-3.0)"),
        ({"annotations": [{"id": 1, "image_id": 9, "category_id": 1, "bbox": [0, 0, 3, 4], "area": 1}]}, None,
         "annotations[0].image_id: unknown image id 9"),
        ({"annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [0, 0, 3, 4], "area": 1}]}, None,
         "annotations[0].category_id: unknown category id 7"),
        ({"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 3, 4], "area": 1,
                           "segmentation": [[0, 0, 1, 1]]}]}, None, "polygon has fewer than 3 points"),
        ({"annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 3, 4], "area": 1}]}, None,
         "annotations[0]: missing key 'id'"),
        (None, {"not": "a list"}, "a results file must be a JSON list"),
        (None, [{"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}], "[0].image_id"),
        (None, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"}], "[0].score"),
    ],
)
def test_bad_input_one_line_error(tmp_path: Path, capsys, gt_patch, pred, needle) -> None:
    g, p = _tiny(tmp_path)
    if gt_patch:
        d = json.loads(g.read_text())
        d.update(gt_patch)
        g.write_text(json.dumps(d))
    if pred is not None:
        p.write_text(json.dumps(pred))
    code = run_cli(cli, ["eval", "--gt", str(g), "--pred", str(p)])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert str(g if gt_patch else p) in err  # the message names the file


def test_nan_in_json_is_a_clear_error(tmp_path: Path, capsys) -> None:
    g, p = _tiny(tmp_path)
    p.write_text('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, NaN, 1], "score": 1}]')
    assert run_cli(cli, ["eval", "--gt", str(g), "--pred", str(p)]) == 2
    err = capsys.readouterr().err
    assert "invalid JSON" in err and "line 1" in err


def test_help_shows_examples() -> None:
    for args in (["--help"], ["eval", "--help"]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0 and "Example" in r.output and "annokit eval" in r.output


def test_import_is_light() -> None:
    code = ("import sys, annokit, annokit.core, annokit.io.coco, annokit.metrics.coco; "
            "print([m for m in ('matplotlib', 'torch', 'onnxruntime') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_annokit_alone_needs_neither_numpy_nor_pydantic() -> None:
    code = ("import sys, annokit; print([m for m in ('numpy', 'pydantic') if m in sys.modules]); "
            "print(annokit.Instances.__name__, annokit.load.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "Instances load"]


@pytest.mark.parametrize("extra, needle", [
    (["--iou-thrs", "abc"], "expected comma-separated floats"),
    (["--iou-thrs", "0.5,1.5"], "numbers in [0, 1]"),
    (["--max-dets", "1.5"], "expected comma-separated ints"),
    (["--max-dets", "0"], "integers >= 1"),
    (["--top-k", "0"], "--top-k"),
])
def test_bad_option_values_are_usage_errors(tmp_path: Path, capsys, extra, needle) -> None:
    g, p = _tiny(tmp_path)
    assert run_cli(cli, ["eval", "--gt", str(g), "--pred", str(p), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_iou_thrs_and_max_dets_reach_the_evaluation(tmp_path: Path) -> None:
    g, p = _tiny(tmp_path)
    out = tmp_path / "s.json"
    r = CliRunner().invoke(cli, ["eval", "--gt", str(g), "--pred", str(p), "--iou-thrs", "0.5,0.75", "--max-dets",
                                 "1,10,100", "--json", str(out), "-q"])
    assert r.exit_code == 0 and r.stdout == ""
    m = json.loads(out.read_text())["metrics"]
    assert m["AP"] == pytest.approx(1.0) and m["AP50"] == pytest.approx(1.0)
    p.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 26], "score": 0.9}]))  # IoU 0.77
    r = CliRunner().invoke(cli, ["eval", "--gt", str(g), "--pred", str(p), "--iou-thrs", "0.8", "--json", "-", "-q"])
    assert json.loads(r.stdout)["metrics"]["AP"] == pytest.approx(0.0)  # the threshold reached the evaluation
