"""CreateML JSON: Roboflow's export (refdata) read against the COCO export of the same boxes, centres by default
and corners as datumaro reads them, round trips, bad files refused with the file and the place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import convert, read_dataset, validate, write_dataset
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io.coco import read_instances
from annokit.io.createml import read_createml, read_createml_keyed


def test_roboflow_createml_read_as_datumaro_reads_it_equals_the_coco_export(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset")
    ds, keys = read_createml_keyed(root / "createml", corner=True)
    assert keys == ["train/train_001.jpg", "train/train_002.jpg", "val/val_001.jpg"]
    for split in ("train", "val"):
        coco = read_instances(root / "coco" / split / "_annotations.coco.json")
        for i, fn in zip(coco.images.ids.tolist(), coco.images.file_names):
            k = ds.images.file_names.index(f"{split}/{fn}")
            assert ds.images.hw_of(int(ds.images.ids[k])) == coco.images.hw_of(i)  # sizes from the images
            ours = ds.annotations.for_image(int(ds.images.ids[k]))
            theirs = coco.annotations.for_image(i)
            assert np.array_equal(ours.boxes, theirs.boxes)
            assert [ds.categories.name_of(int(c)) for c in ours.labels] == \
                [coco.categories.name_of(int(c)) for c in theirs.labels]


def test_centres_by_default_and_a_hint_when_boxes_leave_the_image(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "createml")
    rec = LossRecorder()
    ds = read_createml(root / "train" / "_annotations.createml.json", recorder=rec)
    assert ds.annotations.boxes.tolist()[0] == [0.5, 0.5, 3.5, 1.5]  # x 2, y 1, 3 x 1 about the centre
    assert any("corner=True" in w for w in rec.report().warnings)


def _write(tmp: Path, records: object, name: str = "_annotations.createml.json") -> Path:
    p = tmp / name
    p.write_text(json.dumps(records))
    return p


def test_createml_to_coco_to_createml_gives_the_same_file(tmp_path: Path) -> None:
    recs = [{"image": "a.jpg", "annotations": [
        {"label": "cat", "coordinates": {"x": 10.5, "y": 7.25, "width": 5.0, "height": 3.5}},
        {"label": "dog", "coordinates": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.7}, "confidence": 0.5}]},
        {"image": "b.jpg", "annotations": [], "split": "val"}]
    (tmp_path / "src").mkdir()
    _write(tmp_path / "src", recs)
    Image.new("RGB", (32, 24)).save(tmp_path / "src" / "a.jpg")
    Image.new("RGB", (16, 8)).save(tmp_path / "src" / "b.jpg")
    convert(tmp_path / "src", tmp_path / "c.json", src_format="createml", dst_format="coco")
    coco = json.loads((tmp_path / "c.json").read_text())
    assert [(i["height"], i["width"]) for i in coco["images"]] == [(24, 32), (8, 16)]
    rep = convert(tmp_path / "c.json", tmp_path / "back", src_format="coco", dst_format="createml", sidecar=False)
    assert json.loads((tmp_path / "back" / "_annotations.createml.json").read_text()) == recs
    assert rep.count("image sizes") == 2  # named: CreateML has none


def test_coco_masks_scores_and_ids_are_counted(tmp_path: Path) -> None:
    d = {"images": [{"id": 5, "file_name": "a.jpg", "height": 20, "width": 20}],
         "categories": [{"id": 3, "name": "c"}],
         "annotations": [{"id": 9, "image_id": 5, "category_id": 3, "bbox": [1, 1, 6, 6], "area": 20, "iscrowd": 0,
                          "segmentation": [[1, 1, 7, 1, 7, 7]]}]}
    (tmp_path / "c.json").write_text(json.dumps(d))
    rep = convert(tmp_path / "c.json", tmp_path / "m", src_format="coco", dst_format="createml", sidecar=False)
    assert rep.count("masks and polygons") == 1 and rep.count("category ids") == 1 and not rep.lossless
    back = read_dataset(tmp_path / "m", "createml")
    assert back.annotations.boxes.tolist() == [[1, 1, 7, 7]]


@pytest.mark.parametrize(("records", "where", "message"), [
    ({"image": "a.jpg"}, "", "a list"),
    ([{"annotations": []}], "[0]", "missing key 'image'"),
    ([{"image": "a.jpg", "annotations": [{"label": "c", "coordinates": {"x": 1, "y": 1, "width": -2, "height": 1}}]}],
     "[0].annotations[0].coordinates.width", "greater than or equal"),
    ([{"image": "a.jpg", "annotations": [{"label": "c", "coordinates": {"x": True, "y": 1, "width": 2,
                                                                        "height": 1}}]}],
     "[0].annotations[0].coordinates.x", "finite number"),
    ([{"image": "a.jpg", "annotations": [{"coordinates": {"x": 1, "y": 1, "width": 2, "height": 1}}]}],
     "[0].annotations[0]", "label"),
    ([{"image": "../../etc/a.jpg", "annotations": []}], "[0].image", "climbs out"),
    ([{"image": "a.jpg", "annotations": []}, {"image": "a.jpg", "annotations": []}], "[1].image", "twice"),
])
def test_bad_files_are_one_format_error_naming_file_and_place(tmp_path: Path, records: object, where: str,
                                                              message: str) -> None:
    p = _write(tmp_path, records, "bad.createml.json")
    with pytest.raises(FormatError) as exc:
        read_dataset(p, "createml")
    assert exc.value.path is not None and exc.value.path.endswith("bad.createml.json")
    assert (exc.value.where or "").startswith(where), exc.value
    assert message in str(exc.value), exc.value
    assert any(pr.level == "error" and pr.where == (exc.value.where or "") for pr in validate(p, "createml"))


def test_cli_convert_with_corner_flag(tmp_path: Path, refdata, capsys) -> None:
    src = refdata.path("formats", "datumaro", "roboflow_dataset", "createml")
    shutil.copytree(src, tmp_path / "cm")
    assert run_cli(cli, ["convert", "--from", "createml", str(tmp_path / "cm"), str(tmp_path / "o.json"),
                         "--createml-corner"]) == 0
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["annotations"][0]["bbox"] == [2, 1, 3, 1]
    assert run_cli(cli, ["convert", str(tmp_path / "o.json"), str(tmp_path / "back"), "--to", "createml",
                         "--createml-corner"]) == 0
    capsys.readouterr()
    assert run_cli(cli, ["validate", "--from", "createml", str(tmp_path / "cm")]) == 0
    ds = write_dataset(read_dataset(tmp_path / "back", "createml", corner=True), tmp_path / "again", "createml")
    assert ds.lossless or all(e.kept_in for e in ds.entries)
