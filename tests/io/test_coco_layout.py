"""COCO dataset folders (``annotations/<task>_<split>.json``, datumaro's and MMDetection's layouts): each split read
with its name kept, the other task files named as not read, and image files no JSON lists counted as warnings.
Checked on datumaro's own test folders (refdata) and on a small folder made here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import read_dataset, validate
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io.detect import detect_format


def _coco_dataset(refdata, name: str) -> Path:
    return refdata.path("formats", "datumaro", "coco_dataset", name)


@pytest.mark.parametrize("name", ["coco", "coco_instances", "mmdet_coco", "coco_person_keypoints", "coco_stuff",
                                  "coco_image_info"])
def test_datumaro_coco_folders_are_read_with_their_splits(refdata, name: str) -> None:
    root = _coco_dataset(refdata, name)
    assert detect_format(root) == "coco"
    rec = LossRecorder()
    ds = read_dataset(root, "coco", recorder=rec)
    assert ds.images.file_names == ["train/a.jpg", "val/b.jpg"]
    assert [e["split"] for e in ds.images.extras] == ["train", "val"]
    assert ds.images.ids.tolist() == [5, 40]  # the files' own ids: they do not collide across the splits
    task = "instances" if name in ("coco", "mmdet_coco") else name.removeprefix("coco_")
    one = read_dataset(root / "annotations" / f"{task}_val.json", "coco")
    got = ds.annotations.for_image(40)
    assert got.boxes.tolist() == one.annotations.boxes.tolist()
    assert got.labels.tolist() == one.annotations.labels.tolist()
    assert not [p for p in validate(root, "coco") if p.level == "error"]


def test_the_other_task_files_are_named_as_not_read(refdata) -> None:
    rec = LossRecorder()
    read_dataset(_coco_dataset(refdata, "coco"), "coco", recorder=rec)
    rep = rec.report()
    (entry,) = [e for e in rep.entries if e.kind.startswith("COCO task files not read")]
    assert entry.count == 10 and entry.kept_in is None  # captions, labels, panoptic, person_keypoints, stuff x 2
    assert any("panoptic_train.json (panoptic: convert the file on its own with --from coco-panoptic)" in x
               for x in entry.examples)
    # image_info lists the instances' images again: not read, and not a loss
    assert any("image_info_train.json" in w and "no image" in w for w in rep.warnings)


@pytest.mark.parametrize("name", ["coco_captions", "coco_labels", "coco_panoptic"])
def test_a_folder_with_nothing_annokit_reads_is_one_error_naming_the_files(refdata, name: str) -> None:
    with pytest.raises(FormatError, match=r"no split has an instances.*annotations/\w+_train.json"):
        read_dataset(_coco_dataset(refdata, name), "coco")


def _folder(root: Path, images_in: str) -> Path:
    """A two-split COCO folder whose images are in ``images_in`` (``images/<split>`` or ``<split>``)."""
    (root / "annotations").mkdir(parents=True)
    for k, split in enumerate(["train", "val"]):
        d = root / images_in.format(split=split)
        d.mkdir(parents=True)
        Image.new("RGB", (8, 6)).save(d / f"{split}.jpg")
        data = {"images": [{"id": 1, "file_name": f"{split}.jpg", "height": 6, "width": 8}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2 + k], "area": 4,
                                 "iscrowd": 0}],
                "categories": [{"id": 1, "name": "cat"}]}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    return root


@pytest.mark.parametrize("images_in", ["images/{split}", "{split}"])
def test_image_files_the_json_does_not_list_are_warnings(tmp_path: Path, images_in: str) -> None:
    root = _folder(tmp_path / "c", images_in)
    val = root / images_in.format(split="val")
    for name in ("x.jpg", "y.png", "sub/z.jpg"):
        (val / name).parent.mkdir(exist_ok=True)
        shutil.copy(val / "val.jpg", val / name)
    (val / "notes.txt").write_text("not an image")
    rec = LossRecorder()
    ds = read_dataset(root, "coco", recorder=rec)
    assert ds.images.file_names == ["train/train.jpg", "val/val.jpg"]
    assert ds.images.ids.tolist() == [1, 2] and rec.report().count("image ids renumbered") == 1  # ids collide
    (w,) = rec.report().warnings
    assert w == (f"{val}: 3 image files not listed in instances_val.json (e.g. sub/z.jpg, x.jpg, y.png): not read "
                 "(a COCO dataset has the images its JSON lists)")
    assert [str(p) for p in validate(root, "coco")] == [f"warning: {w}"]


def test_roboflow_coco_split_images_not_listed_are_warnings(tmp_path: Path) -> None:
    from tests.io.test_roboflow import _coco

    root = _coco(tmp_path / "export")
    shutil.copy(root / "train" / "train_001.jpg", root / "train" / "extra.jpg")
    rec = LossRecorder()
    read_dataset(root, "coco", recorder=rec)
    assert rec.report().warnings == [f"{root / 'train'}: 1 image file not listed in _annotations.coco.json (e.g. "
                                     "extra.jpg): not read (a COCO dataset has the images its JSON lists)"]


def test_cli_converts_a_coco_folder_to_yolo_with_its_splits(refdata, tmp_path: Path, capsys) -> None:
    root = _coco_dataset(refdata, "coco_instances")
    capsys.readouterr()
    assert run_cli(cli, ["convert", str(root), str(tmp_path / "y"), "--to", "yolo", "--no-sidecar",
                         "--images", str(root / "images")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("coco -> yolo:") and "Traceback" not in out
    assert sorted(p.name for p in (tmp_path / "y" / "labels").iterdir()) == ["train", "val"]
    assert [p.name for p in (tmp_path / "y" / "images" / "val").rglob("*.jpg")] == ["b.jpg"]
