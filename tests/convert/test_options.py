"""Typed options: each format's read and write options are a model; a misspelt or misplaced name is an error that
names the valid ones; the public call shapes (names as keywords, mappings) keep working."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import annokit.convert.options
from annokit.convert import FORMATS, convert, get_format, read_dataset, write_dataset
from annokit.convert.options import FormatOptions, VocReadOptions, YoloWriteOptions, parse_options
from annokit.errors import FormatError


def test_every_format_has_typed_options() -> None:
    for spec in FORMATS.values():
        for model in (spec.read_options, spec.write_options):
            assert issubclass(model, FormatOptions) and model.model_config.get("extra") == "forbid"
            assert all(f.description for f in model.model_fields.values()), model  # each option says what it does
    assert get_format("yolo").options == ("no_exif", "skip_missing_splits", "split", "precision", "images")


def test_examples_in_docstrings() -> None:
    assert doctest.testmod(annokit.convert.options, optionflags=doctest.ELLIPSIS).failed == 0


def test_misspelt_option_names_the_valid_ones(refdata, tmp_path: Path) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    ds = read_dataset(src, "coco")
    with pytest.raises(FormatError, match=r"option 'precison': not a write option of yolo \(did you mean "
                                          r"'precision'\?; its write options: split, precision, images\)"):
        write_dataset(ds, tmp_path / "y", "yolo", precison=3)
    with pytest.raises(FormatError, match="not a read option of coco.*its read options: fixed"):
        read_dataset(src, "coco", zero_based=True)
    with pytest.raises(FormatError, match="it takes no write option"):
        convert(src, tmp_path / "c.json", src_format="coco", dst_format="coco", write_options={"split": "x"})
    with pytest.raises(FormatError, match=r"option 'precision'.*less than or equal to 20"):
        write_dataset(ds, tmp_path / "y", "yolo", precision=99)
    with pytest.raises(FormatError, match="are not the write options of voc"):
        write_dataset(ds, tmp_path / "v", "voc", options=YoloWriteOptions(precision=3))
    assert not (tmp_path / "y").exists() and not (tmp_path / "v").exists()


def test_options_by_model_or_by_name(tmp_path: Path) -> None:
    (tmp_path / "v" / "Annotations").mkdir(parents=True)
    (tmp_path / "v" / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height></size><object>"
        "<name>c</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>"
        "</annotation>")
    by_name = read_dataset(tmp_path / "v", "voc", zero_based=True)
    by_model = read_dataset(tmp_path / "v", "voc", options=VocReadOptions(zero_based=True))
    assert by_name.annotations.boxes.tolist() == by_model.annotations.boxes.tolist() == [[1, 2, 3, 4]]
    report = convert(tmp_path / "v", tmp_path / "y", src_format="voc", dst_format="yolo",
                     read_options=VocReadOptions(zero_based=True), write_options={"split": "val", "precision": 4})
    assert (tmp_path / "y" / "labels" / "val" / "a.txt").read_text() == "0 0.2222 0.3333 0.2222 0.2222\n"
    assert not report.lossless  # 4 decimals cannot hold these boxes exactly (counted)


def test_a_command_lines_flags_are_picked_per_format() -> None:
    flags = {"fixed": False, "zero_based": True, "split": None, "precision": 3, "images": None}
    assert get_format("voc").pick("read", flags) == {"zero_based": True}
    assert get_format("yolo").pick("write", flags) == {"split": None, "precision": 3, "images": None}
    assert get_format("coco").pick("write", flags) == {}
    assert parse_options(get_format("yolo"), "write", get_format("yolo").pick("write", flags)) == \
        YoloWriteOptions(precision=3)
