"""``annokit compare`` end to end on the sample data, and slices in ``eval`` / ``report``: the JSON's shape, deltas
equal to ``annokit eval``'s numbers, reproducible with --seed, each slice equal to an eval of its images alone, the
page's sections, and the usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annokit.errors import ValidationError
from tests.conftest import SAMPLE, run_cli_in

pytestmark = pytest.mark.skipif(not (SAMPLE / "scenes" / "pred.json").exists(),
                                reason=f"{SAMPLE / 'scenes'} is absent (sample data not generated here)")
GT = "sample_data/scenes/gt.json"
PRED = "sample_data/scenes/pred.json"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a second model (the sample predictions, 15% dropped, scores rescaled; seeded) and slices."""
    d = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(0)
    dets = json.loads((SAMPLE / "scenes" / "pred.json").read_text())
    b = [dict(x, score=round(x["score"] * float(rng.uniform(0.6, 1.2)), 3)) for x in dets if rng.random() > 0.15]
    (d / "b.json").write_text(json.dumps(b))
    (d / "slices.json").write_text(json.dumps({"first": list(range(1, 17)), "rest": list(range(17, 49))}))
    return d


def _ok(cwd: Path, argv: list[str]) -> object:
    res = run_cli_in(cwd, argv)
    assert res.exit_code == 0 and res.exception is None, (argv, res.stderr, res.exception)
    return res


def test_compare_json_page_and_deltas_equal_eval(work: Path) -> None:
    _ok(work, ["compare", "--gt", GT, "--pred", PRED, "--pred", "b.json", "--names", "base,new", "--bootstrap", "50",
               "--slices", "slices.json", "--out", "cmp", "-q"])
    data = json.loads((work / "cmp" / "compare.json").read_text())
    assert data["models"] == ["base", "new"] and data["bootstrap"]["resamples"] == 50
    for name, pred in (("base", PRED), ("new", "b.json")):
        _ok(work, ["eval", "--gt", GT, "--pred", pred, "--json", f"eval_{name}.json", "--overwrite", "-q"])
    ea, eb = (json.loads((work / f"eval_{n}.json").read_text()) for n in ("base", "new"))
    for key, e in data["metrics"].items():
        assert e["base"] == ea["metrics"][key] and e["new"] == eb["metrics"][key]
        assert e["delta"] == eb["metrics"][key] - ea["metrics"][key]
        assert e["ci95"][0] <= e["ci95"][1] and 0 <= e["p"] <= 1
    assert set(data["per_class"]) == {"circle", "square", "triangle"}
    assert set(data["per_class"]["circle"]) == {"AP", "AP50"}
    assert data["per_class"]["circle"]["AP"]["delta"] == pytest.approx(
        eb["per_class"]["circle"]["AP"] - ea["per_class"]["circle"]["AP"], abs=1e-15)
    assert set(data["tide"]) >= {"mAP50", "Cls", "Loc", "Miss"} and "delta" in data["tide"]["Loc"]
    assert data["images"] and {"image_id", "change", "tp", "fp", "fn"} <= set(data["images"][0])
    assert list(data["slices"]) == ["first", "rest"] and data["slices"]["first"]["images"] == 16
    page = (work / "cmp" / "compare.html").read_text()
    for section in ("metrics-table", "interval-chart", "per-class-table", "tide-table", "slices-table", "images"):
        assert f'id="{section}"' in page, section
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_compare_is_reproducible_with_the_seed(work: Path) -> None:
    outs = []
    for i, seed in enumerate(("3", "3", "4")):
        _ok(work, ["compare", "--gt", GT, "--pred", PRED, "--pred", "b.json", "--bootstrap", "30", "--seed", seed,
                   "--top-images", "0", "--out", f"seed{i}", "-q"])
        outs.append(json.loads((work / f"seed{i}" / "compare.json").read_text()))
    assert outs[0] == outs[1]
    assert outs[0]["metrics"]["AP"]["ci95"] != outs[2]["metrics"]["AP"]["ci95"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--pred", PRED], "twice or more"),
    (["--pred", PRED, "--pred", "b.json", "--names", "x"], "one per --pred"),
    (["--pred", PRED, "--pred", "b.json", "--slice-by", "height", "--slices", "slices.json"], "one or the other"),
])
def test_compare_usage_errors(work: Path, argv: list[str], message: str) -> None:
    res = run_cli_in(work, ["compare", "--gt", GT, *argv, "--out", "bad"])
    assert res.exit_code == 2 and message in res.stderr and not (work / "bad").exists()


def test_eval_slices_equal_eval_of_each_subset(work: Path) -> None:
    _ok(work, ["eval", "--gt", GT, "--pred", PRED, "--slices", "slices.json", "--json", "sliced.json", "--overwrite",
               "-q"])
    sliced = json.loads((work / "sliced.json").read_text())["slices"]
    gt = json.loads((SAMPLE / "scenes" / "gt.json").read_text())
    dets = json.loads((SAMPLE / "scenes" / "pred.json").read_text())
    for name, ids in json.loads((work / "slices.json").read_text()).items():
        keep = set(ids)
        sub = {**gt, "images": [i for i in gt["images"] if i["id"] in keep],
               "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}
        (work / f"gt_{name}.json").write_text(json.dumps(sub))
        (work / f"pred_{name}.json").write_text(json.dumps([d for d in dets if d["image_id"] in keep]))
        _ok(work, ["eval", "--gt", f"gt_{name}.json", "--pred", f"pred_{name}.json", "--json", f"e_{name}.json",
                   "--overwrite", "-q"])
        alone = json.loads((work / f"e_{name}.json").read_text())["metrics"]
        assert sliced[name]["metrics"] == alone and sliced[name]["images"] == len(ids)


def test_report_with_slices_by_field(work: Path) -> None:
    res = _ok(work, ["report", "--gt", GT, "--pred", PRED, "--slice-by", "height", "--worst", "0", "--out", "rep",
                     "--overwrite", "-q"])
    assert res.exit_code == 0
    data = json.loads((work / "rep" / "report.json").read_text())
    assert data["slices"]["120"]["images"] == 48 and data["slices"]["120"]["metrics"] == data["coco"]
    assert 'id="slices-table"' in (work / "rep" / "report.html").read_text()
    bad = run_cli_in(work, ["report", "--gt", GT, "--pred", PRED, "--slice-by", "weather", "--out", "rep2", "-q"])
    assert isinstance(bad.exception, ValidationError) and "weather" in str(bad.exception)  # exit 2 from main()
    assert not (work / "rep2").exists()


def test_eval_refuses_slices_for_other_tasks(work: Path) -> None:
    res = run_cli_in(work, ["eval", "--task", "classification", "--gt", "sample_data/scenes/labels.csv", "--pred",
                            "sample_data/scenes/pred_labels.csv", "--slice-by", "x"])
    assert res.exit_code == 2 and "detection and instance" in res.stderr


@pytest.mark.slow
def test_the_compare_help_examples_run_on_the_sample_data(tmp_path: Path) -> None:
    """The --help examples on sample_data: the shipped CNN's predictions, then the comparison (200 resamples)."""
    pytest.importorskip("onnxruntime", reason="the example's predict step needs onnxruntime (the onnx extra)")
    from annokit.cli.compare import EPILOG
    from tests.conftest import sample_examples

    examples = sample_examples(EPILOG)
    assert [a[0] for a in examples] == ["predict", "compare"]
    _ok(tmp_path, examples[0])
    res = _ok(tmp_path, [*examples[1], "--bootstrap", "200"])
    data = json.loads((tmp_path / "compare" / "compare.json").read_text())
    assert data["models"] == ["imitation", "cnn"] and "AP50" in res.stdout
    assert data["metrics"]["AP50"]["ci95"][0] > 0  # the CNN's AP50 is better beyond doubt on the sample


def test_a_model_without_predictions(tmp_path: Path) -> None:
    """An empty model compares (AP 0 on every resample) and its page is written; TIDE runs on no predictions."""
    import warnings

    import annokit
    from annokit.io.coco import read_results
    from annokit.report.compare import compare_models, write_comparison

    gt = annokit.load(SAMPLE / "scenes" / "gt.json")
    a = read_results(SAMPLE / "scenes" / "pred.json", gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_models(gt, [a, a[a.scores > 2]], bootstrap=20)
    ap = cmp.to_dict()["metrics"]["AP"]
    assert ap["b"] == 0.0 and ap["delta"] == -ap["a"] and ap["ci95"][1] < 0 and ap["p"] == 0.0
    assert write_comparison(gt, cmp, tmp_path / "c").is_file()
