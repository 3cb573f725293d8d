"""End to end with the shipped model: images -> ``annokit predict`` -> files -> scores, pinned to the figures that
``sample_data/model/train.py`` wrote (``sample_data/model/scenes_cnn.json``).

The tolerance (0.01 absolute on each figure) absorbs float differences between onnxruntime builds and CPUs; a
change in preprocessing, decoding or the writers moves the figures by much more.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx backend needs onnxruntime (pip install 'annokit[onnx]')")

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "sample_data" / "model"
SCENES = ROOT / "sample_data" / "scenes"
TOL = 0.01


@pytest.fixture(scope="module")
def train_mod():
    spec = importlib.util.spec_from_file_location("scenes_train", MODEL_DIR / "train.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["scenes_train"] = mod
    spec.loader.exec_module(mod)  # imports numpy only at the top (torch only inside train/export)
    return mod


@pytest.fixture(scope="module")
def outputs(train_mod, tmp_path_factory):
    return train_mod.predict_all(MODEL_DIR / "scenes_cnn.onnx", SCENES, tmp_path_factory.mktemp("pred"))


def test_model_is_small_and_self_describing() -> None:
    import onnxruntime as ort

    path = MODEL_DIR / "scenes_cnn.onnx"
    assert path.stat().st_size < 1_000_000
    meta = json.loads(ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map["annokit"])
    assert set(meta["tasks"]) == {"classification", "semantic", "detection", "instance"}
    assert meta["preprocess"]["size"] == [120, 160]


def test_readme_tables_show_the_figures_file(train_mod) -> None:
    """Both READMEs show the figures of scenes_cnn.json, as train.py writes them."""
    want = train_mod.figures_table(json.loads((MODEL_DIR / "scenes_cnn.json").read_text()))
    for readme in train_mod.README_PATHS:
        text = readme.read_text()
        block = text[text.index(train_mod.TABLE_START) + len(train_mod.TABLE_START):text.index(train_mod.TABLE_END)]
        assert block.strip() == want, readme


def test_figures_match_the_training_script(train_mod, outputs) -> None:
    want = json.loads((MODEL_DIR / "scenes_cnn.json").read_text())
    got = train_mod.figures_from_outputs(outputs, SCENES)
    for key in ("classification_accuracy", "semantic_miou", "bbox_ap", "bbox_ap50", "segm_ap"):
        assert abs(got[key] - want[key]) <= TOL, (key, got[key], want[key])
    # and the model is worth shipping: far better than chance on every task
    assert got["classification_accuracy"] >= 0.7 and got["semantic_miou"] >= 0.6 and got["bbox_ap50"] >= 0.5


def test_outputs_are_what_eval_reads(outputs) -> None:
    from annokit.io.coco import read_instances, read_results

    gt = read_instances(SCENES / "gt.json")
    det = read_results(outputs["detection"], gt)
    inst = read_results(outputs["instance"], gt)
    assert len(det) > 50 and inst.segmentations is not None
    assert sorted(p.name for p in outputs["semantic"].glob("*.png")) == sorted(gt.images.file_names)
    metrics = pytest.importorskip("annokit.metrics.coco", reason="annokit.metrics.coco is not in this tree yet")
    res = metrics.evaluate(gt, det, params=metrics.COCOParams(iou_type="bbox"))
    want = json.loads((MODEL_DIR / "scenes_cnn.json").read_text())
    assert abs(float(np.asarray(res.stats)[0]) - want["bbox_ap"]) <= TOL


def test_annokit_eval_scores_the_predict_output(outputs) -> None:
    pytest.importorskip("annokit.metrics.coco", reason="annokit.metrics.coco is not in this tree yet")
    from click.testing import CliRunner

    from annokit.cli import cli

    r = CliRunner().invoke(cli, ["eval", "--gt", str(SCENES / "gt.json"), "--pred", str(outputs["detection"]),
                                 "--iou-type", "bbox", "--quiet"])
    assert r.exit_code == 0, r.output
