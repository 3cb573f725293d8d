"""``annokit eval`` for classification, semantic, panoptic and localization: JSON shape, keys, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_import_cli_registers_every_task_without_cycles():
    code = ("import annokit.cli.eval, annokit.cli._eval_tasks_more, annokit.cli._eval_tasks as t; "
            "print(sorted(t.RUNNERS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    for task in ("classification", "localization", "semantic", "panoptic"):
        assert task in out.stdout


def test_classification_scores_csv(tmp_path, capsys):
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    classes = ["cat", "dog", "fox", "owl"]
    y = rng.integers(0, 4, 40)
    p = rng.dirichlet(np.ones(4), 40)
    (tmp_path / "gt.csv").write_text("file,label\n" + "".join(f"im{i}.jpg,{classes[c]}\n" for i, c in enumerate(y)))
    (tmp_path / "pred.csv").write_text("file," + ",".join(classes) + "\n" + "".join(
        f"im{i}.jpg," + ",".join(repr(float(v)) for v in row) + "\n" for i, row in enumerate(p)))
    code, out, err = run(["eval", "--task", "classification", "--gt", str(tmp_path / "gt.csv"), "--pred",
                          str(tmp_path / "pred.csv"), "--top-k", "2", "--json", str(tmp_path / "o.json")], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "o.json").read_text())
    m = data["metrics"]
    for key in ("accuracy", "top2", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
                "weighted_f1", "kappa", "mcc", "log_loss", "ece"):
        assert key in m
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p.argmax(1)), abs=1e-12)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p, labels=range(4)), abs=1e-9)
    assert set(data["per_class"]) == set(classes)


def test_classification_label_csv_and_errors(tmp_path, capsys):
    (tmp_path / "gt.csv").write_text("file,label\na,1\nb,2\nc,2\n")
    (tmp_path / "pred.csv").write_text("file,label\na,1\nb,2\nc,1\n")
    code, out, err = run(["eval", "--task", "classification", "--gt", str(tmp_path / "gt.csv"), "--pred",
                          str(tmp_path / "pred.csv"), "--json", str(tmp_path / "o.json")], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "o.json").read_text())["metrics"]
    assert m["accuracy"] == pytest.approx(2 / 3) and m["log_loss"] is None and m["top5"] is None
    (tmp_path / "bad.csv").write_text("file,label\na,1\n")
    code, out, err = run(["eval", "--task", "classification", "--gt", str(tmp_path / "gt.csv"), "--pred",
                          str(tmp_path / "bad.csv")], capsys)
    assert code == 2 and "no prediction for 2 file(s)" in err and "Traceback" not in err


def _png(path: Path, arr) -> None:
    Image.fromarray(np.asarray(arr, np.uint8), mode="L").save(path)


def test_semantic_dirs(tmp_path, capsys):
    (tmp_path / "gt").mkdir(), (tmp_path / "pred").mkdir()
    _png(tmp_path / "gt" / "a.png", [[0, 0, 1, 1], [0, 255, 1, 7]])
    _png(tmp_path / "pred" / "a.png", [[0, 1, 1, 1], [3, 0, 9, 0]])
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred"), "--num-classes", "4", "--json", str(tmp_path / "o.json")], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "o.json").read_text())
    m = data["metrics"]
    assert m["mIoU"] == pytest.approx(0.25) and m["aAcc"] == pytest.approx(0.5)
    for k in ("aAcc", "mIoU", "mAcc", "mDice", "mFscore", "fwIoU"):
        assert k in m
    assert data["per_class"]["2"]["IoU"] is None and set(data["per_class"]["0"]) >= {
        "IoU", "Acc", "Dice", "Precision", "Recall", "Fscore"}
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred")], capsys)
    assert code == 2 and "--num-classes" in err
    Image.fromarray(np.zeros((2, 4, 3), np.uint8), mode="RGB").save(tmp_path / "pred" / "a.png")
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred"), "--num-classes", "4"], capsys)
    assert code == 2 and "a.png" in err and "palette or grayscale" in err


def test_semantic_folder_is_shared_with_forked_workers(tmp_path, capsys, monkeypatch):
    """60 pairs: the command counts them through accumulate_label_pairs (forked workers on Linux), the numbers
    of the API's one pass; a ground truth without a prediction after a bad pair: the bad pair's error first."""
    from annokit._internal import forked
    from annokit.api import evaluate_semantic_folders

    rng = np.random.default_rng(5)
    for sub in ("gt", "pred"):
        (tmp_path / sub).mkdir()
        for i in range(60):
            _png(tmp_path / sub / f"{i:03d}.png", rng.integers(0, 6, (9, 13)).tolist())
    calls: list = []
    real = forked.fork_pull
    monkeypatch.setattr(forked, "fork_pull", lambda *a, **k: calls.append(1) or real(*a, **k))
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred"), "--num-classes", "5", "--json", str(tmp_path / "o.json")], capsys)
    assert code == 0, err
    want = evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred", 5, threads=0).metrics_dict()
    got = json.loads((tmp_path / "o.json").read_text())["metrics"]
    assert got["mIoU"] == want["mIoU"] and got["aAcc"] == want["aAcc"] and got["n_images"] == 60
    assert calls == ([1] if forked.fork_available() else [])
    (tmp_path / "pred" / "050.png").unlink()
    _png(tmp_path / "pred" / "030.png", [[0, 1]])
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred"), "--num-classes", "5"], capsys)
    assert code == 2 and "030.png: size 2x1 differs" in err, err


def test_panoptic_refdata(refdata, tmp_path, capsys):
    base = refdata.path("panoptic")
    code, out, err = run(["eval", "--task", "panoptic", "--gt", str(base / "panopticapi_sample/panoptic_examples.json"),
                          "--pred", str(base / "pq_sample_perturbed/pred.json"), "--json", str(tmp_path / "o.json")],
                         capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "o.json").read_text())
    assert list(data["metrics"]) == ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st", "n",
                                     "n_th", "n_st"]
    assert data["metrics"]["PQ"] == pytest.approx(0.5250088335, abs=1e-9)
    assert data["per_class"]["person"]["tp"] == 23 and set(data["per_class"]["person"]) >= {
        "PQ", "SQ", "RQ", "tp", "fp", "fn"}


def test_localization(tmp_path, capsys):
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "height": 20, "width": 20},
                     {"id": 2, "file_name": "b.jpg", "height": 20, "width": 20}],
          "categories": [{"id": 1, "name": "bird"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100,
                           "iscrowd": 0},
                          {"id": 2, "image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    pred = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 5], "score": 0.9},
            {"image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.8}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    code, out, err = run(["eval", "--task", "localization", "--gt", str(tmp_path / "gt.json"), "--pred",
                          str(tmp_path / "pred.json"), "--json", str(tmp_path / "o.json")], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "o.json").read_text())["metrics"]
    assert m["mean_iou"] == pytest.approx(0.25) and m["corloc"] == 0.5 and m["acc@0.5"] == 0.5


def test_semantic_cityscapes_preset_finds_instances(tmp_path, capsys):
    from annokit.metrics.semantic import SemanticAccumulator
    gt_dir = tmp_path / "gtFine" / "val" / "city"
    gt_dir.mkdir(parents=True)
    (tmp_path / "pred").mkdir()
    rng = np.random.default_rng(0)
    acc = SemanticAccumulator.preset("cityscapes")
    for k in range(2):
        g = rng.choice([7, 8, 11, 24, 26, 0], size=(12, 16)).astype(np.uint8)
        g[:4, :4] = 26
        inst = g.astype(np.uint16)
        inst[:4, :4] = 26000 + k
        p = np.where(rng.random(g.shape) < 0.7, g, 7).astype(np.uint8)
        stem = f"city_000000_{k:06d}"
        _png(gt_dir / f"{stem}_gtFine_labelIds.png", g)
        Image.fromarray(inst).save(gt_dir / f"{stem}_gtFine_instanceIds.png")
        _png(tmp_path / "pred" / f"{stem}_leftImg8bit.png", p)
        acc.update(g, p, gt_instances=inst)
    want = acc.compute()
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gtFine"), "--pred",
                          str(tmp_path / "pred"), "--preset", "cityscapes", "--json", str(tmp_path / "o.json")], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["metrics"]["mIoU"] == pytest.approx(want.mIoU, abs=1e-12)
    assert data["metrics"]["iIoU"] == pytest.approx(want.iIoU, abs=1e-12) and data["metrics"]["n_images"] == 2
    assert "car" in data["per_class"] and "iIoU" in data["per_class"]["car"]


def test_semantic_bad_options_are_usage_errors(tmp_path, capsys):
    (tmp_path / "gt").mkdir(), (tmp_path / "pred").mkdir()
    _png(tmp_path / "gt" / "a.png", [[0, 1]])
    _png(tmp_path / "pred" / "a.png", [[0, 1]])
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred"), "--num-classes", "3", "--ignore-index", "1"], capsys)
    assert code == 2 and "ignore_index 1 is a class index" in err and "Traceback" not in err
    _png(tmp_path / "pred" / "a.png", [[0, 1, 1]])
    code, out, err = run(["eval", "--task", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                          str(tmp_path / "pred"), "--num-classes", "3"], capsys)
    assert code == 2 and "differs from the ground truth's" in err
