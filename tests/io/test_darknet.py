"""Darknet YOLO 1.1 (datumaro's ``yolo``): datumaro's own files, datumaro as an oracle both ways, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annokit import FormatError
from annokit.convert import LossRecorder, convert, read_dataset, validate, write_dataset
from annokit.io.darknet import read_darknet
from tests.io._oracles import datumaro_boxes, datumaro_export

SCENES = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"


def test_reads_datumaro_strict_export(refdata) -> None:
    root = refdata.path("formats", "datumaro", "yolo_dataset", "strict")
    rec = LossRecorder()
    ds = read_dataset(root, "darknet", recorder=rec)
    assert ds.images.file_names == ["obj_train_data/1.jpg"] and (ds.images.heights[0], ds.images.widths[0]) == (10, 15)
    assert ds.categories.names == [f"label_{i}" for i in range(10)] and ds.categories.ids.tolist() == list(range(10))
    assert ds.annotations.labels.tolist() == [2, 4]
    np.testing.assert_allclose(ds.annotations.boxes, [[0, 2, 4, 4], [3, 3, 5, 6]], atol=1e-4)
    # datumaro's reading of the same files
    dm = datumaro_boxes(root, "yolo")["1"]
    np.testing.assert_allclose([[x, y, x + w, y + h] for _, (x, y, w, h), _ in dm], ds.annotations.boxes, atol=0.01)
    assert [n for n, _, _ in dm] == ["label_2", "label_4"]


def test_classes_count_mismatch_is_a_warning(refdata) -> None:
    root = refdata.path("formats", "datumaro", "yolo_dataset", "strict")
    (root / "obj.data").read_text()  # classes = 10 there, and 10 names: make a mismatch in a copy
    import shutil

    tmp = Path(pytest.importorskip("tempfile").mkdtemp())
    shutil.copytree(root, tmp / "d")
    (tmp / "d" / "obj.data").write_text("classes = 3\ntrain = data/train.txt\nnames = data/obj.names\n")
    rec = LossRecorder()
    read_dataset(tmp / "d", "darknet", recorder=rec)
    assert any("classes = 3" in w for w in rec.report().warnings)
    assert any(p.level == "warning" and "classes = 3" in p.message for p in validate(tmp / "d", "darknet"))


def test_annokit_output_is_read_by_datumaro_and_back(tmp_path: Path) -> None:
    rep = convert(SCENES / "gt.json", tmp_path / "dk", src_format="coco", dst_format="darknet",
                  write_options={"images": SCENES / "images"})
    assert rep.count("segmentation dropped") == 135
    ours = read_darknet(tmp_path / "dk")
    dm = datumaro_boxes(tmp_path / "dk", "yolo")
    names = ours.categories.names
    for i, fn in zip(ours.images.ids, ours.images.file_names):
        a = ours.annotations.for_image(int(i))
        got = dm[Path(fn).stem]
        assert [n for n, _, _ in got] == [names[int(c)] for c in a.labels]
        np.testing.assert_allclose(np.reshape([[x, y, x + w, y + h] for _, (x, y, w, h), _ in got], (-1, 4)),
                                   a.boxes, atol=0.01)


def test_datumaro_output_is_read(tmp_path: Path) -> None:
    datumaro_export(SCENES / "gt.json", SCENES / "images", tmp_path / "dm", "yolo")
    ds = read_dataset(tmp_path / "dm", "darknet")
    gt = read_dataset(SCENES / "gt.json", "coco")
    gt = gt.with_annotations(gt.annotations[~gt.annotations.iscrowd])  # datumaro skips crowd regions
    assert len(ds) == len(gt) and len(ds.annotations) == len(gt.annotations)
    stems = {Path(f).stem: int(i) for f, i in zip(ds.images.file_names, ds.images.ids)}
    for i, fn in zip(gt.images.ids, gt.images.file_names):
        a, b = gt.annotations.for_image(int(i)), ds.annotations.for_image(stems[Path(fn).stem])
        np.testing.assert_allclose(a.boxes[np.lexsort(a.boxes.T[::-1])], b.boxes[np.lexsort(b.boxes.T[::-1])],
                                   atol=1e-3)


def test_sizes_survive_without_images_in_images_meta(tmp_path: Path) -> None:
    gt = read_dataset(SCENES / "gt.json", "coco")
    write_dataset(gt, tmp_path / "dk", "darknet", sidecar=False)
    back = read_dataset(tmp_path / "dk", "darknet")
    assert back.images.heights.tolist() == gt.images.heights.tolist()
    np.testing.assert_allclose(back.annotations.boxes, gt.annotations.boxes, atol=1e-9)


def _dk(tmp_path: Path, label: str, data: str = "classes = 1\ntrain = data/train.txt\nnames = data/obj.names\n",
        listing: str = "data/obj_train_data/a.jpg\n") -> Path:
    from PIL import Image

    root = tmp_path / "dk"
    (root / "obj_train_data").mkdir(parents=True)
    (root / "obj.data").write_text(data)
    (root / "obj.names").write_text("thing\n")
    (root / "train.txt").write_text(listing)
    Image.new("L", (10, 8)).save(root / "obj_train_data" / "a.jpg")
    (root / "obj_train_data" / "a.txt").write_text(label)
    return root


@pytest.mark.parametrize("label,data,listing,where,needle", [
    ("0 0.5 0.5 0.2\n", None, None, "line 1", "expected 'class cx cy w h' (5 fields), got 4"),
    ("0 0.5 0.5 0.2 0.2 0.9\n", None, None, "line 1", "(5 fields), got 6"),
    ("1 0.5 0.5 0.2 0.2\n", None, None, "line 1", "class 1 is not in"),
    ("0 0.5 1e308 0.2 0.2\n", None, None, None, "not finite"),
    ("0 0.5 0.5 0.2 0.2\n", "classes = 1\nvalid = data/valid.txt\nnames = data/obj.names\n", None, "valid",
     "split 'valid': its image list (valid.txt) is not found"),
    ("0 0.5 0.5 0.2 0.2\n", None, "data/../../x.jpg\n", "line 1", "climbs out"),
    ("0 0.5 0.5 0.2 0.2\n", "classes = 1\ntrain data/train.txt\n", None, "line 2", "expected 'key = value'"),
])
def test_bad_input_is_one_line(tmp_path: Path, label: str, data: str | None, listing: str | None, where: str | None,
                               needle: str) -> None:
    kw = {k: v for k, v in (("data", data), ("listing", listing)) if v is not None}
    root = _dk(tmp_path, label, **kw)
    with pytest.raises(FormatError) as e:
        read_dataset(root, "darknet")
    assert needle in e.value.message and (where is None or e.value.where == where), str(e.value)
    assert any(needle in p.message for p in validate(root, "darknet") if p.level == "error")


def test_missing_image_without_meta_is_an_error_naming_the_file(tmp_path: Path) -> None:
    root = _dk(tmp_path, "0 0.5 0.5 0.2 0.2\n")
    (root / "obj_train_data" / "a.jpg").unlink()
    with pytest.raises(FormatError, match="images.meta has no size") as e:
        read_dataset(root, "darknet")
    assert e.value.path.endswith("a.txt")
    (root / "images.meta").write_text("a 8 10\n")
    assert read_dataset(root, "darknet").annotations.boxes.tolist() == [[4.0, 3.2, 6.0, 4.8]]


def test_label_link_leading_outside_is_refused(tmp_path: Path) -> None:
    root = _dk(tmp_path, "0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "secret.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "obj_train_data" / "a.txt").unlink()
    (root / "obj_train_data" / "a.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(FormatError, match="outside the dataset"):
        read_dataset(root, "darknet")


@pytest.mark.parametrize("layout,files", [("labels", ["images/train/1.jpg", "images/val/1.jpg"]),
                                          ("annotations", ["Images/1.jpg"])])
def test_reads_datumaro_loose_layouts(refdata, layout: str, files: list[str]) -> None:
    root = refdata.path("formats", "datumaro", "yolo_dataset", layout)
    ds = read_dataset(root, "darknet")
    assert ds.images.file_names == files  # README.txt beside the labels is not an image
    dm = datumaro_boxes(root, "yolo")
    assert sum(len(v) for v in dm.values()) == len(ds.annotations)
    for boxes in dm.values():
        np.testing.assert_allclose([[x, y, x + w, y + h] for _, (x, y, w, h), _ in boxes],
                                   ds.annotations.boxes[:2], atol=0.01)


@pytest.mark.parametrize("listing,needle", [
    (None, "split 'valid': its image list (valid.txt) is not found"),
    ("data/obj_valid_data/b.jpg\n", "split 'valid': valid.txt lists images in obj_valid_data/, which does not exist"),
])
def test_missing_split_is_an_error_or_with_the_flag_a_counted_loss(tmp_path: Path, capsys, listing: str | None,
                                                                    needle: str) -> None:
    """As for YOLO's data.yaml: a split obj.data names whose list or image folder is not there (CVAT names
    ``valid``, the folder is ``obj_val_data/``) is an error naming the split and the path; with
    ``--skip-missing-splits`` it is left out and counted."""
    from annokit.cli import cli
    from annokit.cli._common import run_cli

    root = _dk(tmp_path, "0 0.5 0.5 0.2 0.2\n",
               data="classes = 1\ntrain = data/train.txt\nvalid = data/valid.txt\nnames = data/obj.names\n")
    if listing is not None:
        (root / "valid.txt").write_text(listing)
        (root / "obj_val_data").mkdir()
    with pytest.raises(FormatError) as e:
        read_dataset(root, "darknet")
    assert needle in e.value.message and e.value.where == "valid" and "--skip-missing-splits" in e.value.message
    assert any(needle in p.message for p in validate(root, "darknet") if p.level == "error")
    rec = LossRecorder()
    ds = read_dataset(root, "darknet", recorder=rec, skip_missing_splits=True)
    assert ds.images.file_names == ["obj_train_data/a.jpg"] and rec.report().count("split skipped") == 1
    rc = run_cli(cli, ["convert", str(root), str(tmp_path / "o.json"), "--from", "darknet", "--skip-missing-splits"])
    out = capsys.readouterr().out
    assert rc == 0 and "split skipped" in out and "valid: " in out and "nothing lost" not in out


@pytest.mark.parametrize("layout", ["labels", "annotations"])
def test_loose_layouts_are_recognised_as_darknet(refdata, layout: str) -> None:
    """``obj.names`` without ``obj.data`` (datumaro's loose layouts, with ``labels/`` or ``Annotations/*.txt``) is
    Darknet, not YOLO ("no data.yaml") or VOC ("no Annotations/*.xml")."""
    from annokit.convert import detect_format

    root = refdata.path("formats", "datumaro", "yolo_dataset", layout)
    assert detect_format(root) == "darknet"
    assert len(read_dataset(root, detect_format(root)).annotations) > 0
