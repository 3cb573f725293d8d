"""Running a predictor over images: batching, failures that name the image, --skip-failures, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from annokit.cli import cli
from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError, AnnokitWarning
from annokit.predict import (
    Prediction,
    PredictionError,
    Task,
    images_from_dataset,
    images_from_dir,
    run_predictor,
    write_predictions,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


class PickyPredictor:
    """Classifies by mean colour; raises on any image whose top-left pixel is pure red (a real failure mode:
    a backend that cannot handle some input), and records the batch sizes it was given."""

    task = Task.CLASSIFICATION
    batch_size = 3

    def __init__(self) -> None:
        self.labels = LabelSet(ids=[0, 1, 2], names=["r", "g", "b"])
        self.batches: list[int] = []

    def predict(self, images):
        self.batches.append(len(images))
        for im in images:
            if tuple(im[0, 0]) == (255, 0, 0):
                raise ValueError("pure red corner: cannot handle it")
        return [Prediction(task=self.task, image_hw=im.shape[:2], class_scores=im.reshape(-1, 3).mean(0))
                for im in images]


class BoxPredictor:
    """One detection per image, at the image's centre, scored by the mean brightness."""

    task = Task.DETECTION
    labels = LabelSet(ids=[1, 2, 3], names=["circle", "square", "triangle"])

    def __init__(self, **_: object) -> None:
        pass

    def predict(self, images):
        from annokit.core.instances import Instances

        out = []
        for im in images:
            h, w = im.shape[:2]
            inst = Instances(image_ids=[0, 0], boxes=[[w / 4, h / 4, 3 * w / 4, 3 * h / 4], [0, 0, 1, 1]],
                             labels=[1, 2], scores=[im.mean() / 255, 0.01])
            out.append(Prediction(task=self.task, image_hw=(h, w), instances=inst))
        return out


def _folder(tmp_path: Path, n: int = 7, bad: tuple[int, ...] = (), corrupt: tuple[int, ...] = ()) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        im = rng.integers(0, 200, (6 + i, 9, 3), dtype=np.uint8)
        if i in bad:
            im[0, 0] = (255, 0, 0)
        name = d / f"im_{i:02d}.png"
        if i in corrupt:
            name.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        else:
            Image.fromarray(im).save(name)
    return d


def test_batches_and_order(tmp_path: Path) -> None:
    items = images_from_dir(_folder(tmp_path))
    p = PickyPredictor()
    res = run_predictor(p, items)
    assert p.batches == [3, 3, 1]
    assert [it.file_name for it in res.items] == [f"im_{i:02d}.png" for i in range(7)]
    assert [pr.image_hw for pr in res.predictions] == [(6 + i, 9) for i in range(7)]


def test_a_failing_image_is_named_and_skipping_counts_it(tmp_path: Path) -> None:
    items = images_from_dir(_folder(tmp_path, bad=(4,), corrupt=(1,)))
    with pytest.raises(PredictionError, match=r"im_01\.png \(image id 2\): cannot read the image"):
        run_predictor(PickyPredictor(), items)
    with pytest.raises(PredictionError, match=r"im_04\.png \(image id 5\): ValueError: pure red corner"):
        run_predictor(PickyPredictor(), items[2:])
    p = PickyPredictor()
    res = run_predictor(p, items, skip_failures=True)
    assert [it.file_name for it, _ in res.failures] == ["im_01.png", "im_04.png"]
    assert "pure red corner" in res.failures[1][1]
    assert len(res.items) == 5 and "im_04.png" not in [it.file_name for it in res.items]
    assert p.batches == [2, 3, 1, 1, 1, 1]  # the failing batch was retried image by image


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_a_named_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _folder(tmp_path, n=3)  # 6x9, 7x9 and 8x9 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 33)  # only the 8x9 image is over twice the limit: refused
    items = images_from_dir(d)
    with pytest.raises(PredictionError, match=r"im_02\.png \(image id 3\): cannot read the image: .*decompression"):
        run_predictor(PickyPredictor(), items)
    res = run_predictor(PickyPredictor(), items, skip_failures=True)
    assert [it.file_name for it, _ in res.failures] == ["im_02.png"]


def test_images_are_read_one_batch_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the model runs on a batch, the next batch is read (and never one further); results keep their order."""
    import threading
    import time

    from annokit.predict import run as run_mod

    reads: list[str] = []
    lock = threading.Lock()
    real = run_mod.load_image

    def counting_load(path, **kw):
        im = real(path, **kw)
        with lock:
            reads.append(Path(path).name)
        return im

    monkeypatch.setattr(run_mod, "load_image", counting_load)
    seen: list[int] = []

    class Watching(PickyPredictor):
        def predict(self, images):
            k = len(self.batches)  # 0-based number of this batch (3 images each, 7 in all)
            want = min(3 * (k + 2), 7)  # this batch and the next one
            deadline = time.monotonic() + 5
            while len(reads) < want and time.monotonic() < deadline:  # reading only one batch at a time: waits
                time.sleep(0.005)
            seen.append(len(reads))
            return super().predict(images)

    res = run_predictor(Watching(), images_from_dir(_folder(tmp_path)))
    assert seen == [6, 7, 7]
    assert [it.file_name for it in res.items] == [f"im_{i:02d}.png" for i in range(7)]


def test_cli_predict_with_skip_failures_and_a_module_attr_backend(tmp_path: Path) -> None:
    d = _folder(tmp_path, bad=(2,))
    out = tmp_path / "scores.csv"
    args = ["predict", "--backend", "tests.predict.test_run_and_cli:PickyPredictor", "--images", str(d),
            "--out", str(out), "--batch-size", "2"]
    from annokit.cli._common import run_cli

    assert run_cli(cli, args) == 2  # the error names the image, no traceback
    assert not out.exists()
    runner = CliRunner()
    r = runner.invoke(cli, [*args, "--skip-failures", "--max-images", "5"])
    assert r.exit_code == 0, r.output
    assert "1 of 5 images failed" in r.output and "im_02.png" in r.output and "pure red corner" in r.output
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["file", "r", "g", "b"] and [r[0] for r in rows[1:]] == ["im_00.png", "im_01.png",
                                                                                "im_03.png", "im_04.png"]


def test_cli_predict_detection_on_a_coco_dataset(tmp_path: Path) -> None:
    out = tmp_path / "pred.json"
    r = CliRunner().invoke(cli, ["predict", "--backend", "tests.predict.test_run_and_cli:BoxPredictor",
                                 "--dataset", str(SAMPLE / "scenes" / "gt.json"), "--out", str(out),
                                 "--score-threshold", "0.05", "--max-images", "4"])
    assert r.exit_code == 0, r.output
    dets = json.loads(out.read_text())
    assert [d["image_id"] for d in dets] == [1, 2, 3, 4]  # the ground truth's ids; low scores dropped
    assert dets[0]["bbox"] == [40, 30, 80, 60] and dets[0]["category_id"] == 1


def test_semantic_output_is_a_folder_of_pngs(tmp_path: Path) -> None:
    class Half:
        task = Task.SEMANTIC
        labels = LabelSet(ids=[0, 300], names=["bg", "thing"])

        def predict(self, images):
            outs = []
            for im in images:
                m = np.zeros(im.shape[:2], np.int32)
                m[:, im.shape[1] // 2:] = 300
                outs.append(Prediction(task=self.task, image_hw=im.shape[:2], label_map=m))
            return outs

    items = images_from_dir(_folder(tmp_path, n=2))
    written = write_predictions(run_predictor(Half(), items), tmp_path / "sem")
    assert [w.name for w in written] == ["im_00.png", "im_01.png"]
    back = np.asarray(Image.open(written[1]))
    assert back.shape == (7, 9) and back[0, -1] == 300 and back[0, 0] == 0  # 16-bit PNG keeps ids over 255


def test_datasets_by_path_with_the_format_detected_or_named(tmp_path: Path) -> None:
    items, ds = images_from_dataset(SAMPLE / "scenes" / "gt.json")
    assert len(items) == 48 and items[0].path == SAMPLE / "scenes" / "images" / "scene_001.png"
    assert ds is not None and items[5].image_id == 6 and items[0].expected_hw == (120, 160)
    items, _ = images_from_dataset(SAMPLE / "cat" / "labels.csv")
    assert [it.path for it in items] == [SAMPLE / "cat" / "chelsea.png"]
    items, _ = images_from_dataset(SAMPLE / "scenes" / "labels.csv", format="class-csv")
    assert len(items) == 48 and items[0].path == SAMPLE / "scenes" / "images" / "scene_001.png"
    items, none = images_from_dataset(SAMPLE / "scenes" / "images", format="images")
    assert len(items) == 48 and none is None
    with pytest.raises(AnnokitError, match="cannot tell its format"):
        images_from_dataset(SAMPLE / "scenes" / "images")
    with pytest.raises(AnnokitError, match="does not exist"):
        images_from_dataset(tmp_path / "gt.json")


def test_the_old_format_colon_path_form_still_works_with_a_warning() -> None:
    with pytest.warns(AnnokitWarning, match="deprecated.*--dataset .*gt.json --from coco"):
        items, _ = images_from_dataset(f"coco:{SAMPLE / 'scenes' / 'gt.json'}")
    assert len(items) == 48
    with pytest.warns(AnnokitWarning, match="--from class-csv"):
        items, _ = images_from_dataset(f"csv:{SAMPLE / 'cat' / 'labels.csv'}")
    assert [it.path for it in items] == [SAMPLE / "cat" / "chelsea.png"]


def test_a_hostile_file_name_in_a_dataset_is_refused(tmp_path: Path) -> None:
    gt = json.loads((SAMPLE / "scenes" / "gt.json").read_text())
    gt["images"][0]["file_name"] = "../../etc/passwd"
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    with pytest.raises(AnnokitError, match=r"climbs out"):
        images_from_dataset(tmp_path / "gt.json")


def test_predictors_command_lists_the_builtins() -> None:
    r = CliRunner().invoke(cli, ["predictors"])
    assert r.exit_code == 0
    lines = {ln.split()[0]: ln for ln in r.output.splitlines()}
    assert "onnx" in lines and "torchvision" in lines
    assert "annokit.predict.onnx_backend:OnnxPredictor" in lines["onnx"]


def test_cli_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from annokit.cli._common import run_cli

    cases = [
        (["predict", "--model", str(tmp_path / "none.onnx"), "--images", str(SAMPLE / "cat"), "--out", "x.json"],
         "no such model file"),
        (["predict", "--backend", "nope", "--images", str(SAMPLE / "cat"), "--out", "x.json"], "unknown backend"),
        (["predict", "--dataset", "coco", "--out", "x.json"], "coco: does not exist"),
    ]
    for args, msg in cases:
        if "none.onnx" in args[2] and __import__("importlib").util.find_spec("onnxruntime") is None:
            continue
        assert run_cli(cli, args) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_task_option_for_backends_without_one(tmp_path: Path) -> None:
    d = _folder(tmp_path, n=2)
    base = ["predict", "--backend", "tests.predict.test_run_and_cli:PickyPredictor", "--images", str(d)]
    ok = CliRunner().invoke(cli, [*base, "--task", "classification", "--out", str(tmp_path / "a.csv")])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, [*base, "--task", "detection", "--out", str(tmp_path / "b.json")])
    assert bad.exit_code == 2 and "predicts" in bad.output and "not detection" in bad.output


def test_a_factory_that_builds_no_predictor_is_refused() -> None:
    from annokit.predict import BackendError, load_predictor

    with pytest.raises(BackendError, match="not a Predictor"):
        load_predictor("collections:OrderedDict")
