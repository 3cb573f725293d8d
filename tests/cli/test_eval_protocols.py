"""``annokit eval --protocol``: the --json shape with the reference's key names, the same numbers as the Python
API, VOC on the published worked example, and one clear line for bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.io.coco import read_instances, read_results
from annokit.io.openimages import group_of_from_coco, image_labels_from_coco, read_hierarchy
from annokit.metrics.openimages import evaluate_openimages
from annokit.metrics.voc import evaluate_voc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth_protocols import dota_arrays, openimages_data, write_dota, write_openimages


def _eval(args: list[str]) -> dict:
    out = Path(args[args.index("--json") + 1])
    r = CliRunner().invoke(cli, ["eval", *args])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def test_openimages(tmp_path: Path) -> None:
    g, p, h = write_openimages(tmp_path, openimages_data(1, 30))
    data = _eval(["--protocol", "openimages", "--gt", str(g), "--pred", str(p), "--hierarchy", str(h),
                  "--json", str(tmp_path / "o.json")])
    assert list(data) == ["protocol", "metrics", "per_class"] and data["protocol"] == "openimages"
    assert list(data["metrics"]) == ["AP50"]
    ds = read_instances(g)
    res = evaluate_openimages(ds, read_results(p, ds), image_labels=image_labels_from_coco(ds),
                              group_of=group_of_from_coco(ds), hierarchy=read_hierarchy(h))
    assert data["metrics"]["AP50"] == res.mAP
    assert data["per_class"]["/m/c0"]["AP"] == res.per_class[1].ap


def test_dota(tmp_path: Path) -> None:
    labels, dets = write_dota(tmp_path, dota_arrays(2, 20))
    d07 = _eval(["--protocol", "dota", "--gt", str(labels), "--pred", str(dets), "--json", str(tmp_path / "a.json")])
    d12 = _eval(["--protocol", "dota", "--gt", str(labels), "--pred", str(dets), "--ap-method", "allpoint",
                 "--json", str(tmp_path / "b.json")])
    assert d07["protocol"] == "dota" and list(d07["metrics"]) == ["mAP"]
    assert set(d07["per_class"]["ship"]) == {"AP", "n_gt", "n_det"}
    assert d07["metrics"]["mAP"] != d12["metrics"]["mAP"]


def _padilla_coco(root: Path, tmp_path: Path) -> tuple[Path, Path]:
    images, anns, res = [], [], []
    for i, f in enumerate(sorted((root / "groundtruths").glob("*.txt")), 1):
        images.append({"id": i, "file_name": f.stem + ".jpg", "height": 1000, "width": 1000})
        for line in filter(str.strip, f.read_text().splitlines()):
            x, y, w, h = (float(v) for v in line.split()[1:])
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "bbox": [x, y, w, h], "area": w * h,
                         "iscrowd": 0})
        for line in filter(str.strip, (root / "detections" / f.name).read_text().splitlines()):
            s, x, y, w, h = (float(v) for v in line.split()[1:])
            res.append({"image_id": i, "category_id": 1, "bbox": [x, y, w, h], "score": s})
    g, p = tmp_path / "gt.json", tmp_path / "res.json"
    g.write_bytes(orjson.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    p.write_bytes(orjson.dumps(res))
    return g, p


@pytest.mark.parametrize("protocol,expected", [("voc07", 0.0303030303), ("voc12", 0.0222222222)])
def test_voc_on_the_published_example(refdata, tmp_path: Path, protocol: str, expected: float) -> None:
    g, p = _padilla_coco(refdata.path("voc_ap"), tmp_path)
    # Padilla's boxes hold the devkit's inclusive numbers (xmax = left + width): on a COCO --gt the default adds
    # the devkit's +1 (as --iou-mode devkit)
    data = _eval(["--protocol", protocol, "--gt", str(g), "--pred", str(p), "--json", str(tmp_path / "v.json")])
    assert data["protocol"] == protocol and data["metrics"]["mAP"] == pytest.approx(expected, abs=1e-9)
    assert data["per_class"]["person"] == {"AP": data["metrics"]["mAP"], "n_gt": 15}
    assert data == _eval(["--protocol", protocol, "--gt", str(g), "--pred", str(p), "--iou-mode", "devkit",
                          "--json", str(tmp_path / "d.json")])
    cont = _eval(["--protocol", protocol, "--gt", str(g), "--pred", str(p), "--iou-mode", "continuous",
                  "--json", str(tmp_path / "c.json")])
    ds = read_instances(g)
    method = "11point" if protocol == "voc07" else "allpoint"
    ref = evaluate_voc(ds.annotations, read_results(p, ds), method=method, iou_mode="continuous")
    assert cont["metrics"]["mAP"] == ref.mAP


def test_bad_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels, dets = write_dota(tmp_path, dota_arrays(0, 3))
    bad = labels / "P00001.txt"
    bad.write_text("0 0 1 0 1 1 0 plane\n")
    assert run_cli(cli, ["eval", "--protocol", "dota", "--gt", str(labels), "--pred", str(dets)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"annokit: error: {bad}: line 1: expected 8 coordinates, a class name and an optional "
                           "difficult flag, got 8 fields")
    g, p, h = write_openimages(tmp_path / "oi", openimages_data(0, 5))
    h.write_text(json.dumps({"LabelName": "r", "Subcategory": [{"LabelName": "/m/c0", "Subcategory": [
        {"LabelName": "/m/c1", "Subcategory": [{"LabelName": "/m/c0"}]}]}]}))
    out = tmp_path / "never.json"
    assert run_cli(cli, ["eval", "--protocol", "openimages", "--gt", str(g), "--pred", str(p), "--hierarchy", str(h),
                         "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"annokit: error: {h}: the hierarchy is not a tree: ") and "\n" not in err
    assert not out.exists()


# ------------------------------------------------------------------------------------- keypoints, LVIS, rotated
def _json_pair(tmp_path: Path, data: dict) -> tuple[Path, Path]:
    from synth_protocols_more import write_json_pair

    return write_json_pair(tmp_path, data)


def test_keypoints(tmp_path: Path) -> None:
    from synth_protocols_more import keypoints_data

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
    from test_keypoints import oracle

    d = keypoints_data(4, 20)
    g, p = _json_pair(tmp_path, d)
    data = _eval(["--gt", str(g), "--pred", str(p), "--iou-type", "keypoints", "--json", str(tmp_path / "k.json")])
    assert list(data) == ["protocol", "metrics", "per_class"] and data["protocol"] == "coco"
    assert list(data["metrics"]) == ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    ev = oracle(d["gt"], d["results"])
    assert [data["metrics"][k] for k in data["metrics"]] == pytest.approx(ev.stats.tolist(), abs=1e-12)
    assert set(data["per_class"]["person"]) >= {"AP", "AP50", "AP75", "APm", "APl"}
    same = _eval(["--protocol", "coco", "--gt", str(g), "--pred", str(p), "--iou-type", "keypoints",
                  "--json", str(tmp_path / "k2.json")])
    assert same == data


def test_lvis(tmp_path: Path) -> None:
    from synth_protocols_more import lvis_data

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
    from lvis_oracle import load_lvis, lvis_eval

    d = lvis_data(3, 15, n_cats=30, dets=30)
    g, p = _json_pair(tmp_path, d)
    data = _eval(["--protocol", "lvis", "--gt", str(g), "--pred", str(p), "--json", str(tmp_path / "l.json")])
    assert list(data) == ["protocol", "metrics", "per_class"] and data["protocol"] == "lvis"
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "AR@300", "ARs@300", "ARm@300",
            "ARl@300"]
    assert list(data["metrics"]) == keys
    row = data["per_class"]["cat1"]
    assert {"AP", "AP50", "AP75", "AR@300", "frequency", "n_gt"} <= set(row)
    if load_lvis() is None:
        pytest.skip("lvis (the oracle) not importable")
    ev = lvis_eval(d["gt"], d["results"])
    for k in keys:
        assert (data["metrics"][k] is None and ev.results[k] == -1) or abs(data["metrics"][k] - ev.results[k]) < 1e-12


def test_bad_protocol_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from synth_protocols_more import keypoints_data, lvis_data

    d = lvis_data(0, 3, n_cats=5, dets=5)
    del d["gt"]["categories"][2]["frequency"]
    g, p = _json_pair(tmp_path, d)
    assert run_cli(cli, ["eval", "--protocol", "lvis", "--gt", str(g), "--pred", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"annokit: error: {g}: categories[2] (id 3): no 'frequency': LVIS needs 'r', 'c' or 'f' for "
                   "every category")
    k = keypoints_data(0, 4)
    k["results"][1]["keypoints"] = k["results"][1]["keypoints"][:30]
    g, p = _json_pair(tmp_path, k)
    out = tmp_path / "never.json"
    assert run_cli(cli, ["eval", "--gt", str(g), "--pred", str(p), "--iou-type", "keypoints",
                         "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"annokit: error: {p}: [1].keypoints: ") and "\n" not in err and not out.exists()


def test_rotated(tmp_path: Path) -> None:
    from synth_protocols_more import rotated_data

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
    from test_rotated_coco import oracle

    d = rotated_data(4, 10)
    g, p = _json_pair(tmp_path, d)
    data = _eval(["--gt", str(g), "--pred", str(p), "--iou-type", "rotated", "--json", str(tmp_path / "r.json")])
    assert list(data) == ["protocol", "metrics", "per_class"] and data["protocol"] == "coco"
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    assert list(data["metrics"]) == keys
    ev = oracle(d["gt"], d["results"])
    got = [-1.0 if data["metrics"][k] is None else data["metrics"][k] for k in keys]
    assert got == pytest.approx(ev.stats.tolist(), abs=1e-12)
    assert "AP" in data["per_class"]["class1"]


@pytest.mark.parametrize("seed", range(3))
def test_voc_folder_and_devkit_result_files_by_default_are_the_devkit(tmp_path: Path, seed: int) -> None:
    """A VOC folder and the devkit's result files: read as pixel edges, scored by continuous overlap by default --
    the devkit's own overlap (+1) on its own numbers, computed here from the raw numbers with --iou-mode devkit."""
    from synth_protocols_more import voc_data, write_voc

    d = voc_data(seed, 25)
    voc, res = write_voc(tmp_path, d)
    ours = _eval(["--protocol", "voc07", "--gt", str(voc), "--pred", str(res), "--json", str(tmp_path / "a.json")])
    # the devkit's overlap (+1) on its raw numbers: evaluate_voc(iou_mode="devkit"), itself pinned to a port of
    # the devkit's loop in tests/metrics/test_voc.py
    from annokit.core.instances import Instances

    names = sorted({c for objs in d["objects"] for c, _, _ in objs} | {c for c, r in d["dets"].items() if r})
    gt = [(i, b, names.index(c), dif) for i, objs in enumerate(d["objects"]) for c, b, dif in objs]
    dt = [(int(im), sc, b, names.index(c)) for c, rows in d["dets"].items() for im, sc, b in rows]
    raw_gt = Instances(image_ids=[g[0] for g in gt], boxes=[g[1] for g in gt], labels=[g[2] for g in gt],
                       extras=[{"difficult": bool(g[3])} for g in gt])
    raw_dt = Instances(image_ids=[x[0] for x in dt], boxes=[x[2] for x in dt], labels=[x[3] for x in dt],
                       scores=[x[1] for x in dt])
    ref = evaluate_voc(raw_gt, raw_dt, iou_threshold=0.5, method="11point", iou_mode="devkit")
    for k, r in ref.per_class.items():
        got = ours["per_class"][names[k]]["AP"]
        assert (got is None and r.ap != r.ap) or got == pytest.approx(r.ap, abs=1e-12)
    assert ours["metrics"]["mAP"] == pytest.approx(ref.mAP, abs=1e-12)
    twice = _eval(["--protocol", "voc07", "--gt", str(voc), "--pred", str(res), "--iou-mode", "devkit",
                   "--json", str(tmp_path / "b.json")])
    assert ours["metrics"]["mAP"] != twice["metrics"]["mAP"]  # the +1 counted twice differs
