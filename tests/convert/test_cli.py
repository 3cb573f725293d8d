"""The CLI: convert / formats / validate / stats, one-line errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annokit.cli import cli
from annokit.cli._common import run_cli


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = run_cli(cli, args)
    except SystemExit as exc:  # validate's exit status 1 (main() passes it to sys.exit)
        rc = int(exc.code)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_every_command_has_an_example() -> None:
    for name in ("convert", "formats", "validate", "stats"):
        res = CliRunner().invoke(cli, [name, "--help"])
        assert res.exit_code == 0 and "annokit " + name in res.output


def test_formats_lists_read_and_write(capsys) -> None:
    rc, out, _ = _run(["formats"], capsys)
    assert rc == 0
    for fmt in ("coco", "voc", "yolo", "yolo-seg", "png", "cityscapes", "class-folders", "class-csv"):
        assert fmt in out


def test_convert_prints_and_writes_the_report(tmp_path: Path, refdata, capsys) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    rc, out, err = _run(["convert", "--from", "coco", "--to", "voc", str(src), str(tmp_path / "v"), "--no-sidecar",
                         "--json", str(tmp_path / "r.json")], capsys)
    assert rc == 0, err
    assert "polygon stored as SegmentationObject pixels" in out and "830" in out and "839" in out
    rep = orjson.loads((tmp_path / "r.json").read_bytes())
    assert rep["source"] == "coco" and rep["target"] == "voc" and not rep["lossless"]


def test_strict_is_a_one_line_error_and_writes_nothing(tmp_path: Path, refdata, capsys) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    rc, _, err = _run(["convert", "--from", "coco", "--to", "yolo", str(src), str(tmp_path / "y"), "--strict",
                       "--no-sidecar", "--json", str(tmp_path / "r.json")], capsys)
    assert rc == 2 and err.startswith("annokit: error: strict conversion") and "Traceback" not in err
    assert not (tmp_path / "y").exists()
    assert orjson.loads((tmp_path / "r.json").read_bytes())["lossless"] is False  # what it would have lost


def test_hostile_input_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "v" / "Annotations").mkdir(parents=True)
    (tmp_path / "v" / "Annotations" / "a.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><annotation><filename>&a;</filename></annotation>')
    rc, _, err = _run(["convert", "--from", "voc", "--to", "coco", str(tmp_path / "v"), str(tmp_path / "o.json")],
                      capsys)
    assert rc == 2 and "a.xml" in err and "DOCTYPE" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


def test_validate_reports_every_problem(tmp_path: Path, capsys) -> None:
    bad = {"images": [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 10},
                      {"id": 1, "file_name": "../b.jpg", "height": 10, "width": 10}],
           "categories": [{"id": 1, "name": "x"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 2]},
                           {"id": 1, "image_id": 7, "category_id": 9, "bbox": [5, 5, 10, 10]},
                           {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                            "segmentation": [[0, 0, 1]]}]}
    p = tmp_path / "bad.json"
    p.write_bytes(orjson.dumps(bad))
    rc, out, _ = _run(["validate", str(p)], capsys)
    assert rc == 1
    for needle in ("images[1].id: duplicate image id", "images[1].file_name", "annotations[0].bbox: width is negative",
                   "annotations[1].id: duplicate", "annotations[1].image_id: unknown image id 7",
                   "annotations[1].category_id: unknown category id 9", "annotations[2].segmentation[0]"):
        assert needle in out, needle


def test_validate_voc_and_yolo(tmp_path: Path, refdata, capsys) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>5</width><height>5</height></size>"
        "<object><name>c</name><bndbox><xmin>4</xmin><ymin>1</ymin><xmax>2</xmax><ymax>9</ymax></bndbox></object>"
        "<object><bndbox><xmin>x</xmin><ymin>1</ymin><xmax>2</xmax><ymax>3</ymax></bndbox></object></annotation>")
    rc, out, _ = _run(["validate", str(tmp_path), "--from", "voc"], capsys)
    assert rc == 1 and "object[0].bndbox: xmax < xmin" in out and "object[1]: object without <name>" in out
    assert "object[1].bndbox.xmin: not a number" in out
    rc, out, _ = _run(["validate", str(refdata.path("formats", "cvat-datumaro", "yolov8_segmentation"))],
                      capsys)
    assert rc == 0 and "0 errors" in out


def test_stats(tmp_path: Path, refdata, capsys) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    rc, out, _ = _run(["stats", str(src), "--json", str(tmp_path / "s.json")], capsys)
    assert rc == 0 and "100 images, 839 objects (9 crowd)" in out
    s = orjson.loads((tmp_path / "s.json").read_bytes())
    assert s["per_class"]["person"]["objects"] == 256
    assert sum(s["box_sizes"].values()) == 839


def test_remap_by_name_and_mapping_file(tmp_path: Path, refdata, capsys) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    (tmp_path / "m.txt").write_text("person 100\ncar -\n")
    rc, out, err = _run(["convert", "--from", "coco", "--to", "coco", str(src), str(tmp_path / "o.json"),
                         "--remap", str(tmp_path / "m.txt")], capsys)
    assert rc == 0, err
    d = orjson.loads((tmp_path / "o.json").read_bytes())
    assert {c["id"] for c in d["categories"] if c["name"] == "person"} == {100}
    assert "car" not in {c["name"] for c in d["categories"]}
    assert "objects dropped: their category is mapped to nothing" in out and " 19 " in out


def test_validate_png_and_cityscapes(tmp_path: Path, capsys) -> None:
    import numpy as np

    from annokit.io.png import write_label_png

    (tmp_path / "p" / "masks").mkdir(parents=True)
    (tmp_path / "p" / "instances").mkdir()
    (tmp_path / "p" / "classes.txt").write_text("1 cat\n")
    write_label_png(tmp_path / "p" / "masks" / "a.png", np.array([[0, 1, 7]]))
    write_label_png(tmp_path / "p" / "instances" / "a.png", np.array([[0, 1]]), palette=False)
    write_label_png(tmp_path / "p" / "instances" / "b.png", np.array([[0, 1]]), palette=False)
    rc, out, _ = _run(["validate", str(tmp_path / "p"), "--from", "png"], capsys)
    assert rc == 1 and "values [7] are not in the class list" in out and "differs from masks/a.png" in out
    assert "b.png: instance map without its masks/" in out
    gt = tmp_path / "c" / "gtFine" / "train" / "x"
    gt.mkdir(parents=True)
    (gt / "x_0_0_gtFine_polygons.json").write_text(
        '{"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "unicorn", "polygon": [[0, 0], [1, 0], [1, 1]]},'
        '{"label": "car", "polygon": [[0, 0], [1, 0]]}]}')
    rc, out, _ = _run(["validate", str(tmp_path / "c")], capsys)
    assert rc == 1 and "objects[0].label: 'unicorn' is not a Cityscapes label" in out
    assert "objects[1].polygon: fewer than 3 points" in out


def test_validate_and_stats_take_the_format_before_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    """``annokit validate FORMAT PATH`` (annokit's first form) is ``validate PATH --from FORMAT``; a misspelt
    format, or two formats that differ, is one usage line (exit 2)."""
    gt = "sample_data/scenes/gt.json"
    assert run_cli(cli, ["validate", "coco", gt]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert run_cli(cli, ["stats", "coco", gt, "-q", "--json", "-"]) == 0
    assert orjson.loads(capsys.readouterr().out)["images"] == 48
    assert run_cli(cli, ["validate", "cooc", gt]) == 2
    assert "did you mean 'coco'" in capsys.readouterr().err
    assert run_cli(cli, ["validate", "voc", gt, "--from", "coco"]) == 2
    assert "named twice" in capsys.readouterr().err
    assert run_cli(cli, ["validate", "coco", "no/such/file.json"]) == 2
    assert "does not exist" in capsys.readouterr().err
