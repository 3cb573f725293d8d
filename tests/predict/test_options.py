"""Backend options: a misspelt or inapplicable option is an error naming it (with did-you-mean), a bad value is one
line naming the option, and nothing is silently ignored -- in Python and on the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx backend needs onnxruntime (pip install 'annokit[onnx]')")

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.errors import AnnokitError, AnnokitWarning
from annokit.predict import OptionError, load_image, load_predictor
from annokit.predict.onnx_backend import OnnxPredictor

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_data" / "model" / "scenes_cnn.onnx"
SCENES = ROOT / "sample_data" / "scenes"


def test_a_misspelt_option_is_an_error_that_names_it_and_suggests_the_right_one() -> None:
    with pytest.raises(OptionError) as e:
        load_predictor("onnx", model=MODEL, task="detection", score_treshold=0.3)
    msg = str(e.value)
    assert "unknown option 'score_treshold' (did you mean 'score_threshold'" in msg
    assert "valid options: activation, batch_size, box_format" in msg  # the whole list, sorted


def test_the_threshold_spelt_right_changes_the_result() -> None:
    """The misspelling used to be ignored, so the run kept the default threshold: many more detections."""
    img = load_image(SCENES / "images" / "scene_001.png")
    default = load_predictor("onnx", model=MODEL, task="detection").predict([img])[0].instances
    strict = load_predictor("onnx", model=MODEL, task="detection", score_threshold=0.3).predict([img])[0].instances
    assert len(strict) < len(default) and (strict.scores > 0.3).all()


@pytest.mark.parametrize(("options", "message"), [
    ({"threads": "abc"}, "option 'threads': input should be a valid integer, unable to parse string as an integer "
                         "(got 'abc')"),
    ({"threads": 0}, "option 'threads': input should be greater than or equal to 1 (got 0)"),
    ({"outputs": "heatmap"}, "option 'outputs': input should be a valid dictionary (got 'heatmap')"),
    ({"preprocess": [1, 2]}, "option 'preprocess': input should be a valid dictionary (got [1, 2])"),
    ({"preprocess": {"sise": [8, 8]}}, "option 'preprocess': unknown option 'sise' (did you mean 'size'"),
    ({"preprocess": {"size": "big"}}, "option 'preprocess': 'size': "),
    ({"batch_size": 2.5}, "option 'batch_size': input should be a valid integer, got a number with a fractional"),
    ({"task": "detektion"}, "option 'task': input should be 'classification', 'detection', 'instance' or "
                            "'semantic' (got 'detektion')"),
    ({"decoder": "yolov9"}, "option 'decoder': unknown decoder 'yolov9'; known: centernet, segmentation"),
    ({"iou_threshold": 0.5}, "option 'iou_threshold' does not apply to decoder 'centernet' (its options: "
                             "heatmap_activation, mask_labels, max_detections, score_threshold)"),
    ({"max_detections": 0}, "decoder 'centernet': option 'max_detections': input should be greater than or equal"),
    ({"heatmap_activation": "relu"}, "option 'heatmap_activation': input should be 'none' or 'sigmoid'"),
    ({"labels": "no_such_names.txt"}, "option 'labels': no such file 'no_such_names.txt' (labels=FILE is a text "
                                      "file, one name per line)"),
])
def test_bad_values_are_one_line_naming_the_option(options: dict, message: str) -> None:
    with pytest.raises(OptionError) as e:
        load_predictor("onnx", **{"model": MODEL, "task": "detection", **options})
    text = str(e.value)
    assert text.startswith("backend 'onnx'") and message in text and "\n" not in text, text


def test_decoder_option_values_of_the_yolo_decoder(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="building test graphs needs the onnx package")
    from tests.predict._onnx_models import tiny_yolov8

    model = tiny_yolov8(tmp_path / "y.onnx")
    with pytest.raises(OptionError, match=r"decoder 'yolo': option 'iou_threshold': input should be less than or "
                                          r"equal to 1 \(got 3.0\)"):
        OnnxPredictor(model, labels=["r", "g"], iou_threshold=3)
    with pytest.raises(OptionError, match="option 'box_format': input should be 'cxcywh' or 'ltrb'"):
        OnnxPredictor(model, labels=["r", "g"], box_format="xywh")
    p = OnnxPredictor(model, labels=["r", "g"], iou_threshold=0.3, class_agnostic=True)
    assert p.decoder_options.model_dump()["iou_threshold"] == 0.3


def test_cli_options_errors_are_one_line_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["predict", "--model", str(MODEL), "--task", "detection", "--images", str(ROOT / "sample_data" / "cat")]
    cases = [
        (["--option", "score_treshold=0.3"], "unknown option 'score_treshold' (did you mean 'score_threshold'"),
        (["--option", "threads=abc"], "option 'threads': input should be a valid integer"),
        (["--option", "outputs=heatmap"], "option 'outputs': input should be a valid dictionary (got 'heatmap')"),
        (["--option", "preprocess=[1, 2]"], "option 'preprocess': input should be a valid dictionary (got [1, 2])"),
        (["--image-range", "5:1"], "option 'image_range': LO:HI needs finite numbers with HI > LO"),
        (["--image-range", "bright"], "expected auto, minmax or LO:HI"),
    ]
    for extra, msg in cases:
        out = tmp_path / "p.json"
        assert run_cli(cli, [*base, *extra, "--out", str(out)]) == 2, extra
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()


def test_score_threshold_is_passed_to_the_backend_and_refused_where_it_means_nothing(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="option 'score_threshold' does not apply to decoder 'softmax'"):
        load_predictor("onnx", model=MODEL, task="classification", score_threshold=0.5)
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["predict", "--model", str(MODEL), "--task", "classification", "--images",
                                 str(ROOT / "sample_data" / "cat"), "--score-threshold", "0.5",
                                 "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output  # the runner's flag: classification has no detections to drop


def test_index_names_when_the_model_has_none(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="building test graphs needs the onnx package")
    from tests.predict._onnx_models import identity_model

    model = identity_model(tmp_path / "id.onnx")  # outputs (N, 3, H, W), no names anywhere
    with pytest.warns(AnnokitWarning, match=r"the 3 classes are named by index 0\.\.2 \(pass labels=FILE"):
        p = OnnxPredictor(model, task="semantic")
    assert p.labels.names == ["0", "1", "2"] and p.labels.ids.tolist() == [0, 1, 2]
    names = tmp_path / "names.txt"
    names.write_text("sky\nroad\n\ncar\n")
    p = load_predictor("onnx", model=model, task="semantic", labels=str(names))
    assert p.labels.names == ["sky", "road", "car"]
    dyn = identity_model(tmp_path / "dyn.onnx", symbolic_channels=True)  # (N, C, H, W): no class count
    with pytest.raises(AnnokitError, match="outputs do not say how many classes; pass labels=FILE"):
        OnnxPredictor(dyn, task="semantic")


def test_cli_warns_about_index_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnx", reason="building test graphs needs the onnx package")
    from tests.predict._onnx_models import mean_color_classifier

    model = mean_color_classifier(tmp_path / "cls.onnx", {})
    out = tmp_path / "scores.csv"
    assert run_cli(cli, ["predict", "--model", str(model), "--task", "classification", "--option",
                         'preprocess={"size": [16, 16]}', "--images", str(ROOT / "sample_data" / "cat"),
                         "--out", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert "annokit: warning:" in err and "named by index 0..2" in err
    assert out.read_text().splitlines()[0] == "file,0,1,2"


def test_a_predictor_refuses_to_run_after_close() -> None:
    p = load_predictor("onnx", model=MODEL, task="classification")
    p.close()
    with pytest.raises(AnnokitError, match="closed"):
        p.predict([np.zeros((120, 160, 3), np.uint8)])
