"""The report on what real data brought up: TIDE's two means explained, tables worst first, label sets of 10,000
and 20,000 classes (figures capped, page finishes), predictions on images absent from the ground truth, crowded
gallery images."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _data import write_small_dataset  # type: ignore[import-not-found]

from annokit.analysis.tide import tide
from annokit.cli import cli
from annokit.cli._common import run_cli


def _read(gt_path: Path, pred_path: Path) -> tuple[Any, Any]:
    from annokit.io.coco import read_instances, read_results

    gt = read_instances(gt_path)
    return gt, read_results(pred_path, gt)


def test_both_tide_means_are_on_the_page(tmp_path: Path) -> None:
    """Category 5 ('bus') gets predictions but no ground truth: tidecv counts it as AP 0, COCO leaves it out. The
    page gives both means, names the class and the rule used; --tide-mean coco switches the rule."""
    gt_path, pred_path, _ = write_small_dataset(tmp_path, n_img=6, seed=3)
    d = json.loads(gt_path.read_text())
    d["annotations"] = [a for a in d["annotations"] if a["category_id"] != 5]
    gt_path.write_text(json.dumps(d))
    preds = json.loads(pred_path.read_text()) + [{"image_id": 1, "category_id": 5, "bbox": [1, 1, 9, 9],
                                                   "score": 0.7}]
    pred_path.write_text(json.dumps(preds))
    gt, dets = _read(gt_path, pred_path)
    with_zero, without = tide(gt, dets).ap, tide(gt, dets, exclude_classes_without_gt=True).ap
    assert with_zero < without
    for rule, used in (("tidecv", with_zero), ("coco", without)):
        out = tmp_path / rule
        assert run_cli(cli, ["report", "--gt", str(gt_path), "--pred", str(pred_path), "--out", str(out), "-q",
                             "--worst", "0", "--tide-mean", rule]) == 0
        data = json.loads((out / "report.json").read_text())
        assert data["tide"]["ap"] == pytest.approx(used, abs=1e-9)
        assert data["tide_mean"]["tidecv"] == pytest.approx(with_zero, abs=1e-9)
        assert data["tide_mean"]["coco"] == pytest.approx(without, abs=1e-9)
        assert data["tide_mean"]["classes_without_gt"] == ["bus"] and data["tide_mean"]["rule"] == rule
        box = re.search(r'<div class="box" id="tide-mean">(.*?)</div>', (out / "report.html").read_text(), re.S)
        assert box is not None
        text = html.unescape(re.sub(r"<[^>]+>", "", box.group(1)))
        assert f"{with_zero:.2f}" in text and f"{without:.2f}" in text and "bus" in text
        assert ("tidecv's rule" if rule == "tidecv" else "COCO's rule") in text.split("This page uses")[1]


def test_per_class_table_is_worst_first(tmp_path: Path) -> None:
    gt_path, pred_path, _ = write_small_dataset(tmp_path, n_img=8)
    out = tmp_path / "r"
    assert run_cli(cli, ["report", "--gt", str(gt_path), "--pred", str(pred_path), "--out", str(out), "-q"]) == 0
    page = (out / "report.html").read_text()
    table = re.search(r'<table id="per-class-table">(.*?)</table>', page, re.S).group(1)  # type: ignore[union-attr]
    names = re.findall(r'<td class="name">([^<]+)</td>', table)
    data = json.loads((out / "report.json").read_text())
    ap = {r["name"]: r.get("AP") for r in data["per_class"] if r["ground_truth"] or r["predictions"]}
    defined = [n for n in names if ap[n] is not None]
    assert [ap[n] for n in defined] == sorted(ap[n] for n in defined)
    assert names[: len(defined)] == defined  # undefined APs last


def _many_classes(tmp_path: Path, k: int) -> tuple[Path, Path]:
    """A small set (60 images) whose label set has ``k`` classes, about 300 of them used."""
    rng = np.random.default_rng(k)
    cats = [{"id": i + 1, "name": f"class_{i + 1}"} for i in range(k)]
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 480, "width": 640} for i in range(1, 61)]
    anns, dets = [], []
    for im in images:
        for _ in range(5):
            x, y, w, h = *rng.uniform(0, 400, 2).tolist(), *rng.uniform(20, 80, 2).tolist()
            c = int(rng.integers(1, k + 1))
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": c, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
            c2 = c if rng.random() < 0.7 else int(rng.integers(1, k + 1))
            dets.append({"image_id": im["id"], "category_id": c2, "bbox": [x + 2, y + 1, w, h],
                         "score": float(rng.random())})
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps({"images": images, "categories": cats, "annotations": anns}))
    pred_path.write_text(json.dumps(dets))
    return gt_path, pred_path


@pytest.mark.parametrize("k", [10_000, 20_000])
def test_a_huge_label_set_finishes_and_caps_the_figures(tmp_path: Path, k: int) -> None:
    """10,000 and 20,000 classes: the report finishes (the 5k-image timing is benchmarks/bench_report.py), its
    figures show at most 60 bars and 20 classes in the confusion matrix, say so, and report.json keeps every
    class (the confusion matrix as its non-zero cells)."""
    from annokit.report._figures import MAX_CONFUSION, MAX_ROWS
    from annokit.report._page import MAX_TABLE_ROWS

    gt_path, pred_path = _many_classes(tmp_path, k)
    out = tmp_path / "r"
    assert run_cli(cli, ["report", "--gt", str(gt_path), "--pred", str(pred_path), "--out", str(out), "-q",
                         "--worst", "2"]) == 0
    page = (out / "report.html").read_text()
    data = json.loads((out / "report.json").read_text())
    assert len(data["per_class"]) == k
    fig = re.search(r'<figure id="fig-per_class_ap">(.*?)</figure>', page, re.S).group(1)  # type: ignore[union-attr]
    assert 0 < fig.count('fill="#1f5fa8"') <= MAX_ROWS and f"Showing {MAX_ROWS} of" in fig
    conf = re.search(r'<figure id="fig-confusion">(.*?)</figure>', page, re.S).group(1)  # type: ignore[union-attr]
    n_cells = conf.count("<rect ")
    assert n_cells <= (MAX_CONFUSION + 1) ** 2 + 1 and f"Showing {MAX_CONFUSION} of {k} classes" in conf
    table = re.search(r'<table id="per-class-table">(.*?)</table>', page, re.S).group(1)  # type: ignore[union-attr]
    assert table.count("<tr>") == MAX_TABLE_ROWS + 1 and f"Showing the worst {MAX_TABLE_ROWS} of" in page
    cells = data["figures"]["detection_confusion"]["cells"]
    assert sum(n for r, c, n in cells if r == c) == sum(row["tp"] for row in data["per_class"])
    assert len(page) < 3_000_000


def test_predictions_on_images_absent_from_the_ground_truth(tmp_path: Path) -> None:
    """They are unevaluated, not an error: counted on the page, listed in tags.json, left out of the numbers."""
    gt_path, pred_path, _ = write_small_dataset(tmp_path, n_img=3)
    preds = json.loads(pred_path.read_text())
    extra = [{"image_id": 99, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.9},
             {"image_id": 98, "category_id": 2, "bbox": [1, 1, 5, 5], "score": 0.8}]
    (tmp_path / "more.json").write_text(json.dumps(preds[:2] + extra + preds[2:]))
    out, ref = tmp_path / "r", tmp_path / "ref"
    assert run_cli(cli, ["report", "--gt", str(gt_path), "--pred", str(tmp_path / "more.json"), "--out", str(out),
                         "--tags", "-q"]) == 0
    assert run_cli(cli, ["report", "--gt", str(gt_path), "--pred", str(pred_path), "--out", str(ref), "-q"]) == 0
    page = (out / "report.html").read_text()
    assert 'id="unevaluated"' in page and "2 prediction(s) on\n2 image(s)" in page
    tags = json.loads((out / "tags.json").read_text())
    unev = [t for t in tags if t["status"] == "unevaluated"]
    assert [(t["id"], t["image_id"]) for t in unev] == [(3, 99), (4, 98)]  # ids: positions in the file + 1
    got, want = json.loads((out / "report.json").read_text()), json.loads((ref / "report.json").read_text())
    assert got["tide"]["ap"] == want["tide"]["ap"] and got["coco"] == want["coco"]
    assert got["unevaluated"] == {"predictions": 2, "images": 2}


def test_crowded_gallery_tags_only_errors_with_their_type(tmp_path: Path) -> None:
    """On an image with more than 10 boxes drawn, true positives carry no tag; every FP tag names its error type
    and every FN tag why it was missed."""
    from annokit.report import analyse, write_report
    from annokit.report._gallery import CROWDED

    images = [{"id": 1, "file_name": "a.jpg", "height": 300, "width": 300}]
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [20.0 * i, 20.0 * i, 18, 18], "area": 324,
             "iscrowd": 0} for i in range(12)]
    dets = [{"image_id": 1, "category_id": 1, "bbox": [20.0 * i, 20.0 * i, 18, 18], "score": 0.9} for i in range(9)]
    dets += [{"image_id": 1, "category_id": 2, "bbox": [200.0, 20.0, 30, 30], "score": 0.95}]
    (tmp_path / "gt.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": [
        {"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}))
    (tmp_path / "p.json").write_text(json.dumps(dets))
    gt, dt = _read(tmp_path / "gt.json", tmp_path / "p.json")
    data = analyse(gt, dt, worst_n=1, with_coco=False)
    page = write_report(gt, dt, data, tmp_path / "r").read_text()
    item = re.search(r'<figure class="gallery-item">(.*?)</figure>', page, re.S).group(1)  # type: ignore[union-attr]
    tags = re.findall(r"<text [^>]*>(?:<title>[^<]*</title>)?([^<]+)</text>", item)
    assert len(anns) + len(dets) - 9 > CROWDED
    assert not [t for t in tags if t.endswith(" TP")]
    assert "dog 0.95 FP Bkg" in tags and sum(t.startswith("cat FN Miss") for t in tags) == 3
    assert item.count("<title>") >= 12 + 1  # every box keeps a tooltip
