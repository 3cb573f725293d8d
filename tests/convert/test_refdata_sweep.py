"""What the sweep of `annokit validate` / `convert` over refdata/formats showed wrong or misleading, fixed: each
case on the dataset that showed it."""

from __future__ import annotations

from pathlib import Path

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import convert, read_dataset


def test_dota_difficult_flags_are_written_as_voc_difficult(refdata, tmp_path: Path) -> None:
    src = refdata.path("formats", "datumaro", "roboflow_dataset", "yolo_obb")  # difficult: False (a bool)
    rep = convert(src, tmp_path / "v", src_format="dota", dst_format="voc", sidecar=False)
    assert rep.count("object field dropped") == 0, rep.text()  # was: 4 "object field dropped: no XML form"
    assert "<difficult>0</difficult>" in (tmp_path / "v" / "Annotations" / "val_001.xml").read_text()
    back = read_dataset(tmp_path / "v", "voc", sidecar=False)
    assert back.annotations.extras == read_dataset(src, "dota").annotations.extras  # 0 == False


def test_validate_lists_what_the_reader_leaves_out(refdata, capsys) -> None:
    src = refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1")
    capsys.readouterr()
    assert run_cli(cli, ["validate", str(src)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the reader's warning and what it leaves unread are listed (validate said "0 errors, 0 warnings")
    assert lines == [f"warning: {src}: 1 image in JPEGImages/ or ImageSets/ has no XML (e.g. 2007_000002): kept as "
                     "images without objects",
                     f"warning: {src}: SegmentationClass PNG not kept: it has class pixels that no object in "
                     "SegmentationObject and the XML gives: SegmentationClass/2007_000001.png",
                     f"{src}: 0 errors, 2 warnings"]


def test_validate_counts_in_the_singular_and_without_a_false_more(refdata, capsys) -> None:
    src = refdata.path("formats", "datumaro", "coco_dataset", "coco")
    capsys.readouterr()
    assert run_cli(cli, ["validate", str(src)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].endswith("COCO task files not read: one task file is read per split: 5 more")
    assert lines[-1] == f"{src}: 0 errors, 7 warnings"
    src = refdata.path("formats", "datumaro", "roboflow_dataset", "voc")
    assert run_cli(cli, ["validate", str(src)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{src}: 0 errors, 1 warning"  # was "1 warnings"


def test_annokit_voc_with_a_box_at_minus_one_round_trips_exactly(tmp_path: Path) -> None:
    import orjson

    d = {"images": [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 15}],
         "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [-1, -1, 4, 5], "area": 20, "iscrowd": 0},
                         {"id": 9, "image_id": 1, "category_id": 1, "bbox": [3, 2, 4, 5], "area": 20, "iscrowd": 0}],
         "categories": [{"id": 1, "name": "cat"}]}
    (tmp_path / "in.json").write_bytes(orjson.dumps(d))
    convert(tmp_path / "in.json", tmp_path / "v", src_format="coco", dst_format="voc")
    assert "<xmin>0</xmin>" in (tmp_path / "v" / "Annotations" / "a.xml").read_text()  # l = -1, 1-based
    assert (tmp_path / "v" / "annokit.json").is_file()  # the ids 7, 9 are kept there
    rep = convert(tmp_path / "v", tmp_path / "back.json", src_format="voc", dst_format="coco")
    assert not rep.warnings, rep.text()  # beside its sidecar, not taken for a zero-based export
    assert orjson.loads((tmp_path / "back.json").read_bytes()) == d
