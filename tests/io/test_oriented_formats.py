"""YOLO-OBB and DOTA as dataset formats: corners kept exactly, Roboflow's and datumaro's files, the yolo reader's
refusal of OBB files, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit import FormatError
from annokit.convert import LossRecorder, detect_format, read_dataset, validate, write_dataset
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from tests.io._oracles import datumaro_boxes

CORNERS = np.array([[[10.5, 2.0], [30.25, 8.0], [24.0, 30.0], [4.0, 24.0]],  # a turned rectangle-ish quad
                    [[1.0, 1.0], [9.0, 1.0], [9.0, 5.0], [1.0, 5.0]],
                    [[50.0, 40.0], [60.0, 35.0], [70.0, 50.0], [55.0, 58.0]]])


def _obb_dataset() -> Dataset:
    images = ImageTable(ids=[1, 2], file_names=["a.png", "b.png"], heights=[60, 48], widths=[80, 64])
    ann = Instances(image_ids=[1, 1, 2], boxes=np.column_stack([CORNERS.min(1), CORNERS.max(1)]), labels=[0, 1, 0],
                    corners=CORNERS)
    return Dataset(images=images, categories=LabelSet(ids=[0, 1], names=["plane", "ship"]), annotations=ann)


def _images(ds: Dataset, d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for fn, h, w in zip(ds.images.file_names, ds.images.heights, ds.images.widths):
        Image.new("L", (int(w), int(h))).save(d / fn)
    return d


@pytest.mark.parametrize("fmt", ["yolo-obb", "dota"])
def test_corners_roundtrip_exactly_through_coco(tmp_path: Path, fmt: str) -> None:
    ds = _obb_dataset()
    imgs = _images(ds, tmp_path / "imgs")
    rep = write_dataset(ds, tmp_path / "x", fmt, sidecar=False, images=imgs)
    assert rep.count("corner not exactly") == 0
    x = read_dataset(tmp_path / "x", fmt)
    np.testing.assert_array_equal(x.annotations.corners, CORNERS)
    write_dataset(x, tmp_path / "c.json", "coco")
    c = read_dataset(tmp_path / "c.json", "coco")
    np.testing.assert_array_equal(c.annotations.corners, CORNERS)
    write_dataset(c, tmp_path / "y", fmt, sidecar=False, images=imgs)
    for p in sorted((tmp_path / "x").rglob("*.txt")):  # X -> COCO -> X: the same files
        assert p.read_text() == (tmp_path / "y" / p.relative_to(tmp_path / "x")).read_text(), p


def test_yolo_obb_lines_are_normalised_corners(tmp_path: Path) -> None:
    ds = _obb_dataset()
    write_dataset(ds, tmp_path / "o", "yolo-obb", sidecar=False, images=_images(ds, tmp_path / "imgs"))
    first = (tmp_path / "o" / "labels" / "train" / "a.txt").read_text().splitlines()[0].split()
    assert first[0] == "0" and np.allclose([float(v) for v in first[1:]], (CORNERS[0] / [80, 60]).reshape(-1))


def test_yolo_reader_refuses_obb_and_names_yolo_obb(tmp_path: Path) -> None:
    ds = _obb_dataset()
    write_dataset(ds, tmp_path / "o", "yolo-obb", sidecar=False, images=_images(ds, tmp_path / "imgs"))
    with pytest.raises(FormatError, match="yolo-obb") as e:
        read_dataset(tmp_path / "o", "yolo")
    assert e.value.path.endswith("a.txt") and e.value.where == "line 1"
    seg = read_dataset(tmp_path / "o", "yolo-seg")  # the other way out: 4-point polygons
    assert len(seg.annotations) == 3 and seg.annotations.corners is None


def test_yolo_obb_missing_split_is_an_error_or_with_the_flag_a_counted_loss(tmp_path: Path, capsys) -> None:
    """As for YOLO: a split data.yaml names that is not there (Roboflow's ``val: ../valid/images``) is an error
    naming the split and the path; ``--skip-missing-splits`` leaves it out and counts it."""
    from annokit.cli import cli
    from annokit.cli._common import run_cli

    ds = _obb_dataset()
    write_dataset(ds, tmp_path / "o", "yolo-obb", sidecar=False, images=_images(ds, tmp_path / "imgs"))
    yml = tmp_path / "o" / "data.yaml"
    yml.write_text(yml.read_text() + "val: ../valid/images\n")
    with pytest.raises(FormatError, match=r"split 'val': '../valid/images' does not exist") as e:
        read_dataset(tmp_path / "o", "yolo-obb")
    assert "--skip-missing-splits" in e.value.message
    rec = LossRecorder()
    back = read_dataset(tmp_path / "o", "yolo-obb", recorder=rec, skip_missing_splits=True)
    np.testing.assert_array_equal(back.annotations.corners, CORNERS)
    assert rec.report().count("split skipped") == 1
    rc = run_cli(cli, ["convert", "--from", "yolo-obb", str(tmp_path / "o"), str(tmp_path / "c.json"),
                       "--skip-missing-splits"])
    out = capsys.readouterr().out
    assert rc == 0 and "split skipped" in out and "val: ../valid/images" in out


@pytest.mark.parametrize("line,needle", [("0 0.1 0.2 0.3 0.4", "9 fields"), ("0 0.1 0.2 0.3 0.4 0.5 0.6", "9 fields")])
def test_yolo_obb_refuses_other_lines(tmp_path: Path, line: str, needle: str) -> None:
    ds = _obb_dataset()
    write_dataset(ds, tmp_path / "o", "yolo-obb", sidecar=False, images=_images(ds, tmp_path / "imgs"))
    lab = tmp_path / "o" / "labels" / "train" / "b.txt"
    lab.write_text(lab.read_text() + line + "\n")
    with pytest.raises(FormatError, match=needle) as e:
        read_dataset(tmp_path / "o", "yolo-obb")
    assert e.value.path.endswith("b.txt") and e.value.where == "line 2"
    assert [p.where for p in validate(tmp_path / "o", "yolo-obb") if p.level == "error"] == ["line 2"]


def test_reads_roboflow_obb_export_as_dota(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "yolo_obb")
    assert detect_format(root) == "dota"
    ds = read_dataset(root, "dota")
    assert ds.categories.names == ["label_0", "label_1"] and ds.categories.ids.tolist() == [0, 1]  # data.yaml's
    assert ds.images.file_names == ["train/images/train_001.jpg", "train/images/train_002.jpg",
                                    "val/images/val_001.jpg"]
    assert ds.annotations.corners[3].tolist() == [[1, 2], [1, 5], [10, 5], [10, 2]]
    dm = datumaro_boxes(root, "roboflow_yolo_obb")
    assert sum(len(v) for v in dm.values()) == len(ds.annotations)
    hulls = sorted(tuple(np.round([x, y, x + w, y + h], 2)) for v in dm.values() for _, (x, y, w, h), _ in v)
    assert hulls == sorted(tuple(b) for b in ds.annotations.boxes.tolist())


def test_dota_written_is_read_by_datumaro(tmp_path: Path) -> None:
    from annokit.core.rotated import corners_to_ltrb, rbox_to_corners

    rects = rbox_to_corners(np.array([[20, 16, 20, 10, 0.3], [5, 3, 8, 4, 0.0], [60, 46, 14, 9, -0.7]]))
    images = ImageTable(ids=[1, 2], file_names=["a.png", "b.png"], heights=[60, 48], widths=[80, 64],
                        extras=[{"split": "train"}, {"split": "train"}])
    ds = Dataset(images=images, categories=LabelSet(ids=[1, 2], names=["plane", "ship"]),
                 annotations=Instances(image_ids=[1, 1, 2], boxes=corners_to_ltrb(rects), labels=[1, 2, 1],
                                       corners=rects))
    write_dataset(ds, tmp_path / "d", "dota", images=_images(ds, tmp_path / "imgs"))
    ours = read_dataset(tmp_path / "d", "dota")
    np.testing.assert_array_equal(ours.annotations.corners, rects)
    dm = datumaro_boxes(tmp_path / "d", "dota")  # datumaro fits a rotated rectangle (float32, 2 decimals)
    for i, fn in zip(ours.images.ids, ours.images.file_names):
        a = ours.annotations.for_image(int(i))
        got = dm[Path(fn).stem]
        assert [n for n, _, _ in got] == [ours.categories.names[int(c) - 1] for c in a.labels]
        np.testing.assert_allclose([[x, y, x + w, y + h] for _, (x, y, w, h), _ in got], a.boxes, atol=0.02)


def test_dota_header_and_difficult_kept(tmp_path: Path) -> None:
    d = tmp_path / "labelTxt"
    d.mkdir()
    (d / "P1.txt").write_text("imagesource:GoogleEarth\ngsd:0.146\n0 0 4 0 4 2 0 2 plane 1\n1 1 3 1 3 3 1 3 "
                              "container-crane 0\n")
    rec = LossRecorder()
    ds = read_dataset(tmp_path, "dota", recorder=rec)
    assert ds.images.extras[0] == {"imagesource": "GoogleEarth", "gsd": "0.146"}
    assert ds.categories.names == ["container-crane", "plane"]  # DOTA v1.5's class is read like the others
    assert rec.report().count("image size unknown") == 1
    write_dataset(ds, tmp_path / "again", "dota", sidecar=False)
    assert (tmp_path / "again" / "labelTxt" / "P1.txt").read_text() == (d / "P1.txt").read_text()


@pytest.mark.parametrize("text,where,needle", [
    ("0 0 4 0 4 2 0 2\n", "line 1", "got 8 fields"),
    ("0 0 4 0 4 x 0 2 plane 0\n", "line 1", "coordinate 6 is not a number"),
    ("0 0 4 0 4 1e999 0 2 plane 0\n", "line 1", "not finite"),
    ("0 0 4 0 4 2 0 2 plane yes\n", "line 1", "difficult flag must be an integer"),
])
def test_dota_bad_input(tmp_path: Path, text: str, where: str, needle: str) -> None:
    d = tmp_path / "labelTxt"
    d.mkdir()
    (d / "P1.txt").write_text(text)
    with pytest.raises(FormatError, match=needle) as e:
        read_dataset(tmp_path, "dota")
    assert e.value.where == where and e.value.path.endswith("P1.txt")
    assert [p.where for p in validate(tmp_path, "dota") if p.level == "error"] == [where]


def test_dota_class_names_with_spaces_are_one_token(tmp_path: Path) -> None:
    ds = _obb_dataset()
    ds = Dataset(images=ds.images, categories=LabelSet(ids=[1, 2], names=["small vehicle", "ship"]),
                 annotations=ds.annotations.replace(labels=[1, 2, 1]))
    rep = write_dataset(ds, tmp_path / "d", "dota")
    assert rep.count("class name with whitespace written with '_'") == 1 and rep.lossless  # kept in the sidecar
    assert " small_vehicle 0" in (tmp_path / "d" / "labelTxt" / "a.txt").read_text()
    assert read_dataset(tmp_path / "d", "dota").categories.names == ["small vehicle", "ship"]
    assert read_dataset(tmp_path / "d", "dota", sidecar=False).categories.names == ["ship", "small_vehicle"]
    rep = write_dataset(ds, tmp_path / "n", "dota", sidecar=False)
    assert not rep.lossless and rep.count("class name with whitespace") == 1
    bad = Dataset(images=ds.images, categories=LabelSet(ids=[1, 2], names=["small vehicle", "small_vehicle"]),
                  annotations=ds.annotations.replace(labels=[1, 2, 1]))
    with pytest.raises(FormatError, match="would both be written as 'small_vehicle'"):
        write_dataset(bad, tmp_path / "b", "dota")
    assert not (tmp_path / "b").exists()


def test_cli_converts_dota_to_yolo_obb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from click.testing import CliRunner

    from annokit.cli import cli as main

    ds = _obb_dataset()
    write_dataset(ds, tmp_path / "d", "dota", images=_images(ds, tmp_path / "imgs"))
    r = CliRunner().invoke(main, ["convert", str(tmp_path / "d"), str(tmp_path / "o"), "--to", "yolo-obb",
                                  "--images", str(tmp_path / "imgs")])
    assert r.exit_code == 0, r.output
    back = read_dataset(tmp_path / "o", "yolo-obb", sidecar=False)
    np.testing.assert_array_equal(back.annotations.corners, CORNERS)
    from annokit.cli._common import run_cli

    assert run_cli(main, ["convert", str(tmp_path / "o"), str(tmp_path / "y"), "--from", "yolo", "--to", "coco"]) == 2
    err = capsys.readouterr().err
    assert "yolo-obb" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "y").exists()


def test_dota_label_link_leading_outside_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "ds" / "labelTxt"
    d.mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("0 0 4 0 4 2 0 2 plane 0\n")
    (d / "P1.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(FormatError, match="outside the dataset"):
        read_dataset(tmp_path / "ds", "dota")
