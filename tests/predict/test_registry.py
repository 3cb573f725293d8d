"""Backend discovery: entry points, module:attr specs, and no framework imported that was not asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from annokit.core.labels import LabelSet
from annokit.predict import (
    BackendError,
    OptionError,
    Prediction,
    Predictor,
    Task,
    available_backends,
    load_predictor,
)

ROOT = Path(__file__).resolve().parents[2]


class EchoPredictor:
    """A complete backend in a few lines: classifies by the brightest channel."""

    task = Task.CLASSIFICATION
    batch_size = 2

    def __init__(self, scale: float = 1.0) -> None:
        self.labels = LabelSet(ids=[0, 1, 2], names=["r", "g", "b"])
        self.scale = scale

    def predict(self, images):
        return [Prediction(task=self.task, image_hw=im.shape[:2],
                           class_scores=im.reshape(-1, 3).mean(0) * self.scale) for im in images]


def _run(code: str, extra_path: Path | None = None) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(extra_path or ""), str(ROOT)] if p)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_builtins_are_listed() -> None:
    b = available_backends()
    assert b["onnx"].target == "annokit.predict.onnx_backend:OnnxPredictor"
    assert b["torchvision"].target == "annokit.predict.torchvision_backend:TorchvisionPredictor"


def test_module_attr_spec_loads_an_unregistered_backend() -> None:
    p = load_predictor("tests.predict.test_registry:EchoPredictor", scale=2.0)
    assert isinstance(p, Predictor)
    (pred,) = p.predict([np.full((2, 2, 3), [1, 5, 3], np.uint8)])
    assert pred.class_scores.tolist() == [2.0, 10.0, 6.0]


def test_unknown_backends_and_bad_options_are_clear() -> None:
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        load_predictor("nope")
    with pytest.raises(BackendError, match="cannot import"):
        load_predictor("no_such_module_xyz:Thing")
    with pytest.raises(BackendError, match="has no attribute"):
        load_predictor("tests.predict.test_registry:Missing")
    with pytest.raises(OptionError, match=r"unknown option 'colour'; valid options: scale"):
        load_predictor("tests.predict.test_registry:EchoPredictor", colour="red")
    with pytest.raises(OptionError, match=r"unknown option 'scal' \(did you mean 'scale'\?\)"):
        load_predictor("tests.predict.test_registry:EchoPredictor", scal=2.0)


def test_a_package_registers_a_backend_through_its_entry_point(tmp_path: Path) -> None:
    # a real installed distribution (a dist-info folder on sys.path), as pip would leave it
    dist = tmp_path / "demo_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[annokit.predictors]\necho = tests.predict.test_registry:EchoPredictor\n")
    out = _run("""
        import json, sys
        from annokit.predict import available_backends, load_predictor
        b = available_backends()
        p = load_predictor("echo", scale=3.0)
        print(json.dumps({"source": b["echo"].source, "names": p.labels.names,
                          "onnx": "onnx" in b, "torch": "torch" in sys.modules}))
    """, extra_path=tmp_path)
    got = json.loads(out)
    assert got == {"source": "demo-backend", "names": ["r", "g", "b"], "onnx": True, "torch": False}


def test_import_annokit_and_the_onnx_backend_leave_other_frameworks_alone() -> None:
    out = _run("""
        import json, sys
        import annokit, annokit.predict, annokit.cli
        before = {m: m in sys.modules for m in ("onnxruntime", "torch", "torchvision", "onnx")}
        from annokit.predict.registry import load_backend
        load_backend("onnx"); load_backend("torchvision")
        after = {m: m in sys.modules for m in ("onnxruntime", "torch", "torchvision")}
        print(json.dumps([before, after]))
    """)
    before, after = json.loads(out)
    assert not any(before.values()), before
    assert not any(after.values()), after  # loading a backend's class imports no framework


def test_building_the_onnx_backend_imports_onnxruntime_only() -> None:
    pytest.importorskip("onnxruntime")
    model = ROOT / "sample_data" / "model" / "scenes_cnn.onnx"
    if not model.exists():
        pytest.skip("the shipped model is absent")
    out = _run(f"""
        import json, sys
        from annokit.predict import load_predictor
        load_predictor("onnx", model={str(model)!r}, task="detection")
        print(json.dumps({{m: m in sys.modules for m in ("onnxruntime", "torch", "torchvision")}}))
    """)
    assert json.loads(out) == {"onnxruntime": True, "torch": False, "torchvision": False}
