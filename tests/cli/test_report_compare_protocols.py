"""``annokit report`` and ``annokit compare`` with ``--protocol`` / ``--iou-type keypoints|rotated``: report.json
holds exactly ``annokit eval --protocol ... --json``'s metrics and per-class table, every compare delta is exactly
the difference of two eval runs (paired bootstrap intervals for keypoints / rotated; none for the other protocols:
``ci95`` / ``p`` null, said why), the COCO-only sections are listed
as not available on the page, and the usage errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from annokit.cli import cli
from annokit.errors import FormatError
from annokit.report.protocol import NOT_AVAILABLE

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth_protocols import dota_arrays, openimages_data, write_dota, write_openimages
from synth_protocols_more import keypoints_data, lvis_data, rotated_data, write_json_pair


def _model_b_json(pred: Path) -> Path:
    """A second model: every fifth detection dropped, the scores rescaled."""
    res = json.loads(pred.read_text())
    b = [dict(r, score=round(r["score"] * (0.5 + (k % 7) / 10), 4)) for k, r in enumerate(res) if k % 5]
    out = pred.with_name("b.json")
    out.write_text(json.dumps(b))
    return out


def _model_b_dota(task1: Path) -> Path:
    out = task1.with_name("Task1_b")
    out.mkdir()
    for f in task1.glob("Task1_*.txt"):
        (out / f.name).write_text("".join(ln + "\n" for k, ln in enumerate(f.read_text().splitlines()) if k % 4))
    return out


def _case(name: str, root: Path) -> tuple[list[str], Path, Path, Path]:
    """``(options, gt, pred a, pred b)`` of one protocol on a small seeded synthetic set."""
    if name == "dota":
        labels, task1 = write_dota(root, dota_arrays(2, 12))
        return ["--protocol", "dota", "--ap-method", "allpoint"], labels, task1, _model_b_dota(task1)
    if name == "openimages":
        g, p, h = write_openimages(root, openimages_data(1, 25, n_classes=12))
        return ["--protocol", "openimages", "--hierarchy", str(h)], g, p, _model_b_json(p)
    data = {"lvis": lambda: lvis_data(0, 15, n_cats=25), "keypoints": lambda: keypoints_data(0, 10),
            "rotated": lambda: rotated_data(0, 10), "voc07": lambda: lvis_data(3, 12, n_cats=10),
            "voc12": lambda: lvis_data(3, 12, n_cats=10)}[name]()
    g, p = write_json_pair(root, data)
    opts = ["--iou-type", name] if name in ("keypoints", "rotated") else ["--protocol", name]
    return opts, g, p, _model_b_json(p)


def _run(argv: list[str]) -> None:
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, (argv, r.output, r.exception)


def _eval(opts: list[str], gt: Path, pred: Path, out: Path) -> dict:
    _run(["eval", *opts, "--gt", str(gt), "--pred", str(pred), "--json", str(out), "-q"])
    return json.loads(out.read_text())


CASES = ["dota", "openimages", "lvis", "keypoints", "rotated", "voc07", "voc12"]


@pytest.mark.parametrize("name", CASES)
def test_report_and_compare_equal_eval(tmp_path: Path, name: str) -> None:
    opts, g, a, b = _case(name, tmp_path / "data")
    ea, eb = _eval(opts, g, a, tmp_path / "ea.json"), _eval(opts, g, b, tmp_path / "eb.json")
    assert ea["metrics"] != eb["metrics"]  # the two models differ: the deltas are not all zero
    _run(["report", *opts, "--gt", str(g), "--pred", str(a), "--out", str(tmp_path / "rep"), "-q"])
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["protocol"] == ea["protocol"]
    assert list(rep["metrics"]) == list(ea["metrics"]) and rep["metrics"] == ea["metrics"]
    assert rep["per_class"] == ea["per_class"]
    assert set(rep["not_available"]) == set(NOT_AVAILABLE)
    page = (tmp_path / "rep" / "report.html").read_text()
    assert 'id="not-available"' in page and all(f"<b>{k}</b>" in page for k in NOT_AVAILABLE)
    _run(["compare", *opts, "--gt", str(g), "--pred", str(a), "--pred", str(b), "--names", "base,new",
          "--bootstrap", "40", "--out", str(tmp_path / "cmp"), "--json", str(tmp_path / "cmp.json"), "-q"])
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp == json.loads((tmp_path / "cmp" / "compare.json").read_text())
    boot = name in ("keypoints", "rotated")  # COCO's accumulator: the paired bootstrap applies
    assert cmp["protocol"] == ea["protocol"] and cmp["bootstrap"]["resamples"] == (40 if boot else 0)
    assert list(cmp["metrics"]) == list(ea["metrics"])
    for key, e in cmp["metrics"].items():
        va, vb = ea["metrics"][key], eb["metrics"][key]
        assert (e["base"], e["new"]) == (va, vb)
        assert e["delta"] == (None if va is None or vb is None else vb - va)
        if not boot:
            assert e["ci95"] is None and e["p"] is None
        elif e["delta"] is not None:
            assert e["ci95"][0] <= e["ci95"][1] and 0 <= e["p"] <= 1
    for cls, row in cmp["per_class"].items():
        for col, e in row.items():
            va, vb = ea["per_class"].get(cls, {}).get(col), eb["per_class"].get(cls, {}).get(col)
            assert (e["base"], e["new"]) == (va, vb)
            assert e["delta"] == (None if va is None or vb is None else vb - va)
    assert "AP" in next(iter(cmp["per_class"].values()))
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert 'id="bootstrap"' in page and ("paired bootstrap" if boot else "no bootstrap intervals") in page
    assert 'id="not-available"' in page


@pytest.mark.parametrize("argv,message", [
    (["--protocol", "voc07", "--iou-type", "segm"], "has no --iou-type"),
    (["--protocol", "lvis", "--iou-type", "keypoints"], "lvis takes --iou-type bbox or segm"),
    (["--iou-type", "keypoints", "--slice-by", "weather"], "COCO bbox / segm page only"),
    (["--protocol", "voc12", "--from", "coco"], "COCO bbox / segm page only"),
])
def test_usage_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    g, p = write_json_pair(tmp_path, rotated_data(0, 3))
    for cmd in (["report"], ["compare", "--pred", str(p)]):
        r = CliRunner().invoke(cli, [*cmd, "--gt", str(g), "--pred", str(p), *argv, "--out", str(tmp_path / "o")])
        assert r.exit_code == 2 and message in r.output, r.output
        assert not (tmp_path / "o").exists()


def test_report_tags_and_a_folder_of_predictions_without_protocol(tmp_path: Path) -> None:
    g, p = write_json_pair(tmp_path, rotated_data(0, 3))
    r = CliRunner().invoke(cli, ["report", "--gt", str(g), "--pred", str(p), "--iou-type", "rotated", "--tags",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--tags" in r.output
    r = CliRunner().invoke(cli, ["report", "--gt", str(g), "--pred", str(tmp_path), "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, FormatError) and "a folder of result files needs --protocol" in str(r.exception)
    r = CliRunner().invoke(cli, ["compare", "--gt", str(g), "--pred", str(p), "--pred", str(tmp_path),
                                 "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, FormatError) and "a folder of result files needs --protocol" in str(r.exception)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------ COCO parameters (as eval's options)
PARAMS = {"keypoints": ["--iou-thrs", "0.5,0.6,0.7", "--max-dets", "5,10", "--area-rng", "big=2000:1e10",
                        "--kpt-sigmas", ",".join(["0.05"] * 17)],
          "rotated": ["--iou-thrs", "0.3,0.55", "--max-dets", "3,50", "--area-rng", "tiny=0:400"]}


@pytest.mark.parametrize("name", ["keypoints", "rotated"])
def test_report_and_compare_take_evals_coco_parameters(tmp_path: Path, name: str) -> None:
    opts, g, a, b = _case(name, tmp_path / "data")
    opts = [*opts, *PARAMS[name]]
    ea, eb = _eval(opts, g, a, tmp_path / "ea.json"), _eval(opts, g, b, tmp_path / "eb.json")
    plain = _eval(opts[:2], g, a, tmp_path / "plain.json")
    assert ea["metrics"] != plain["metrics"]  # the options change the numbers ...
    _run(["report", *opts, "--gt", str(g), "--pred", str(a), "--out", str(tmp_path / "rep"), "-q"])
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["metrics"] == ea["metrics"] and rep["per_class"] == ea["per_class"]  # ... and report has eval's
    _run(["compare", *opts, "--gt", str(g), "--pred", str(a), "--pred", str(b), "--bootstrap", "20",
          "--out", str(tmp_path / "cmp"), "--json", str(tmp_path / "cmp.json"), "-q"])
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert {k: (e["a"], e["b"]) for k, e in cmp["metrics"].items()} == \
        {k: (ea["metrics"][k], eb["metrics"][k]) for k in ea["metrics"]}


def test_compare_coco_page_takes_the_coco_parameters(tmp_path: Path) -> None:
    g, a = write_json_pair(tmp_path, lvis_data(3, 12, n_cats=10))
    b = _model_b_json(a)
    opts = ["--iou-thrs", "0.5,0.75", "--max-dets", "1,5,50", "--area-rng", "s=0:1024", "--area-rng", "l=1024:1e10"]
    ea, eb = _eval(opts, g, a, tmp_path / "ea.json"), _eval(opts, g, b, tmp_path / "eb.json")
    _run(["compare", *opts, "--gt", str(g), "--pred", str(a), "--pred", str(b), "--bootstrap", "0",
          "--out", str(tmp_path / "cmp"), "--json", str(tmp_path / "cmp.json"), "-q"])
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    got = {k: (e["a"], e["b"]) for k, e in cmp["metrics"].items()}
    assert got == {k: (ea["metrics"][k], eb["metrics"][k]) for k in ea["metrics"]}
    assert "AP_s" in got and "AR_l" in got  # the named ranges: the options reached the evaluation


@pytest.mark.parametrize("cmd,argv,message", [
    ("both", ["--iou-type", "keypoints", "--iou-thrs", "0.5,1.5"], "IoU thresholds are numbers in [0, 1]"),
    ("both", ["--iou-type", "keypoints", "--max-dets", "0"], "maxDets are integers >= 1"),
    ("both", ["--iou-type", "keypoints", "--kpt-sigmas", "0.1,x"], "expected comma-separated floats"),
    ("both", ["--iou-type", "rotated", "--kpt-sigmas", "0.1"], "--kpt-sigmas goes with --iou-type keypoints"),
    ("both", ["--protocol", "lvis", "--max-dets", "100"], "--max-dets: COCO's parameters; --protocol lvis has its own"),
    ("report", ["--iou-thrs", "0.5"], "--iou-thrs: the pages of --iou-type keypoints and rotated"),
])
def test_coco_parameter_usage_errors(tmp_path: Path, cmd: str, argv: list[str], message: str) -> None:
    g, p = write_json_pair(tmp_path, keypoints_data(0, 3))
    cmds = [["report"], ["compare", "--pred", str(p)]] if cmd == "both" else [[cmd]]
    for c in cmds:
        r = CliRunner().invoke(cli, [*c, "--gt", str(g), "--pred", str(p), *argv, "--out", str(tmp_path / "o")])
        assert r.exit_code == 2 and message in r.output, r.output
        assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv,message", [
    (["--protocol", "lvis", "--max-dets", "100"], "--max-dets: COCO's parameters; --protocol lvis has its own"),
    (["--protocol", "voc07", "--iou-thrs", "0.5"], "--iou-thrs: COCO's parameters; --protocol voc07 has its own"),
    (["--kpt-sigmas", "0.1"], "--kpt-sigmas goes with --iou-type keypoints"),
])
def test_eval_refuses_coco_parameters_a_protocol_does_not_read(tmp_path: Path, argv: list[str], message: str) -> None:
    """eval takes the COCO parameters for COCO only: with another protocol they were silently ignored."""
    g, p = write_json_pair(tmp_path, keypoints_data(0, 3))
    r = CliRunner().invoke(cli, ["eval", "--gt", str(g), "--pred", str(p), *argv])
    assert r.exit_code == 2 and message in r.output, r.output
