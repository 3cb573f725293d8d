"""Roboflow's split-folder exports (Pascal VOC, COCO, multi-label classification): recognised, read split by split
with the split kept, and bad files named. Each layout is checked on Roboflow's own export (refdata) and on a small
copy made here, so that the tests run without refdata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import read_dataset
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io.detect import detect_format

_XML = """<annotation><folder></folder><filename>{name}</filename><path>{name}</path>
<source><database>roboflow.ai</database></source><size><width>10</width><height>5</height><depth>3</depth></size>
<segmented>0</segmented>{objects}</annotation>"""
_OBJ = ("<object><name>{label}</name><truncated>0</truncated><difficult>0</difficult><occluded>0</occluded>"
        "<bndbox><xmin>{l}</xmin><xmax>{r}</xmax><ymin>{t}</ymin><ymax>{b}</ymax></bndbox></object>")
# split -> image -> [(label, left, top, right, bottom)]
_BOXES = {"train": {"train_001.jpg": [("label_0", 2, 1, 5, 2)], "train_002.jpg": [("label_1", 0, 0, 2, 4)]},
          "valid": {"val_001.jpg": [("label_0", 0, 0, 1, 2), ("label_1", 0, 0, 9, 1)]}}
_NAMES = ["label_0", "label_1"]


def _images(d: Path, split: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name in _BOXES[split]:
        Image.new("RGB", (10, 5)).save(d / name)


def _voc(root: Path) -> Path:
    for split, imgs in _BOXES.items():
        _images(root / split, split)
        for name, objs in imgs.items():
            body = "".join(_OBJ.format(label=c, l=x0, t=y0, r=x1, b=y1) for c, x0, y0, x1, y1 in objs)
            (root / split / name.replace(".jpg", ".xml")).write_text(_XML.format(name=name, objects=body))
    return root


def _coco(root: Path) -> Path:
    for split, imgs in _BOXES.items():
        _images(root / split, split)
        images = [{"id": i + 1, "file_name": n, "width": 10, "height": 5} for i, n in enumerate(imgs)]
        objs = [(i + 1, o) for i, os in enumerate(imgs.values()) for o in os]
        anns = [{"id": k, "image_id": i, "category_id": _NAMES.index(c) + 1, "iscrowd": 0,  # ids from 0 per split
                 "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "segmentation": []}
                for k, (i, (c, x0, y0, x1, y1)) in enumerate(objs)]
        cats = [{"id": k + 1, "name": n, "supercategory": "thing"} for k, n in enumerate(_NAMES)]
        data = {"info": {"description": "x"}, "images": images, "annotations": anns, "categories": cats}
        (root / split / "_annotations.coco.json").write_text(json.dumps(data))
    return root


def _multiclass(root: Path) -> Path:
    for split, imgs in _BOXES.items():
        _images(root / split, split)
        rows = ["filename, " + ", ".join(_NAMES)]
        rows += [f"{n}, " + ", ".join("1" if any(o[0] == c for o in objs) else "0" for c in _NAMES)
                 for n, objs in imgs.items()]
        (root / split / "_classes.csv").write_text("\n".join(rows) + "\n")
    return root


_MAKERS = {"voc": _voc, "coco": _coco, "class-csv": _multiclass}


@pytest.mark.parametrize("fmt", sorted(_MAKERS))
def test_the_export_and_each_split_are_recognised(tmp_path: Path, fmt: str) -> None:
    root = _MAKERS[fmt](tmp_path / "export")
    assert detect_format(root) == fmt
    assert detect_format(root / "train") == fmt


@pytest.mark.parametrize(("folder", "fmt"), [("voc", "voc"), ("coco", "coco"), ("multiclass", "class-csv")])
def test_roboflow_exports_are_recognised(refdata, folder: str, fmt: str) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", folder)
    assert detect_format(root) == fmt
    assert detect_format(root / "train") == fmt


def _expected_boxes(splits: list[str]) -> list[tuple[str, str, list[float]]]:
    return [(f"{s}/{n}", c, [x0, y0, x1, y1]) for s in splits for n, objs in _BOXES[s].items()
            for c, x0, y0, x1, y1 in objs]


def _boxes(ds: object) -> list[tuple[str, str, list[float]]]:
    im, a, cats = ds.images, ds.annotations, ds.categories  # type: ignore[attr-defined]
    pos = im.index_of(a.image_ids)
    return [(im.file_names[p], cats.name_of(int(lab)), b.tolist()) for p, lab, b in zip(pos, a.labels, a.boxes)]


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_splits_are_read_and_kept(tmp_path: Path, fmt: str) -> None:
    root = _MAKERS[fmt](tmp_path / "export")
    opts = {"zero_based": True} if fmt == "voc" else {}
    ds = read_dataset(root, fmt, **opts)
    assert _boxes(ds) == _expected_boxes(["train", "valid"])
    assert [e["split"] for e in ds.images.extras] == ["train", "train", "valid"]
    assert ds.images.ids.tolist() == [1, 2, 3] and ds.images.heights.tolist() == [5, 5, 5]
    one = read_dataset(root / "valid", fmt, **opts)
    assert one.images.file_names == ["val_001.jpg"] and len(one.annotations) == 2


def test_coco_splits_keep_categories_and_count_renumbered_ids(tmp_path: Path) -> None:
    rec = LossRecorder()
    ds = read_dataset(_coco(tmp_path / "export"), "coco", recorder=rec)
    assert ds.categories.supercategories == ["thing", "thing"] and ds.info == {"description": "x"}
    assert len(set(ds.annotations.ids.tolist())) == 4
    kinds = {e.kind: e.count for e in rec.report().entries}
    assert kinds["annotation ids renumbered 1..N (the splits' own ids overlap)"] == 4  # 0, 1 twice
    assert kinds["image ids renumbered 1..N across the splits (the file name keeps each image's split)"] == 1


def test_splits_with_different_categories_are_joined_by_name(tmp_path: Path) -> None:
    root = _coco(tmp_path / "export")
    f = root / "valid" / "_annotations.coco.json"
    data = json.loads(f.read_text())
    data["categories"] = [{"id": 7, "name": "label_1"}, {"id": 3, "name": "label_0"}]
    for a in data["annotations"]:
        a["category_id"] = {1: 3, 2: 7}[a["category_id"]]
    f.write_text(json.dumps(data))
    ds = read_dataset(root, "coco")
    assert _boxes(ds) == _expected_boxes(["train", "valid"])


def test_multilabel_csv_splits(tmp_path: Path) -> None:
    ds = read_dataset(_multiclass(tmp_path / "export"), "class-csv")
    labels = {(f, c) for f, c, _ in _boxes(ds)}
    assert labels == {("train/train_001.jpg", "label_0"), ("train/train_002.jpg", "label_1"),
                      ("valid/val_001.jpg", "label_0"), ("valid/val_001.jpg", "label_1")}
    assert [e["split"] for e in ds.images.extras] == ["train", "train", "valid"]
    assert ds.images.widths.tolist() == [10, 10, 10]  # read from the images beside each CSV


def test_roboflow_voc_and_coco_exports_give_the_same_boxes(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset")
    voc = read_dataset(root / "voc", "voc", zero_based=True)
    coco = read_dataset(root / "coco", "coco")
    assert _boxes(voc) == _boxes(coco)
    assert [e["split"] for e in voc.images.extras] == ["train", "train", "val"]
    assert voc.images.file_names == ["train/train_001.jpg", "train/train_002.jpg", "val/val_001.jpg"]
    assert len(coco.annotations) == 4


def test_roboflow_multiclass_export(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "multiclass")
    ds = read_dataset(root, "class-csv")
    assert {(f, c) for f, c, _ in _boxes(ds)} == {
        ("train/train_001.jpg", "label_0"), ("train/train_002.jpg", "label_1"),
        ("val/val_001.jpg", "label_0"), ("val/val_001.jpg", "label_1")}


def test_cli_converts_and_validates_without_naming_the_format(tmp_path: Path, capsys) -> None:
    for fmt, make in _MAKERS.items():
        root = make(tmp_path / fmt)
        assert run_cli(cli, ["convert", str(root), str(tmp_path / f"{fmt}.json")]) == 0, fmt
        out = json.loads((tmp_path / f"{fmt}.json").read_text())
        assert [im["split"] for im in out["images"]] == ["train", "train", "valid"], fmt
        assert run_cli(cli, ["validate", str(root)]) == 0, fmt
    capsys.readouterr()


@pytest.mark.parametrize(("fmt", "file", "text", "place"), [
    ("voc", "valid/val_001.xml", "<annotation><object>", "val_001.xml"),
    ("coco", "valid/_annotations.coco.json", '{"images": [', "_annotations.coco.json"),
    ("class-csv", "valid/_classes.csv", "filename, label_0, label_1\nval_001.jpg, 1, 2\n", "line 2"),
])
def test_a_bad_file_is_one_line_naming_it_exit_2(tmp_path: Path, capsys, fmt: str, file: str, text: str,
                                                 place: str) -> None:
    root = _MAKERS[fmt](tmp_path / "export")
    (root / file).write_text(text)
    capsys.readouterr()
    zero: list[str] = []
    assert run_cli(cli, ["convert", str(root), str(tmp_path / "o.json"), *zero]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(root / file) in err[0] and place in err[0], err
    assert "Traceback" not in err[0] and not (tmp_path / "o.json").exists()


def test_a_folder_without_splits_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="no split folder"):
        read_dataset(tmp_path / "empty", "coco")


def test_a_voc_image_without_its_xml_is_kept_without_objects_and_warned(tmp_path: Path) -> None:
    root = _voc(tmp_path / "export")
    Image.new("RGB", (7, 3)).save(root / "valid" / "val_002.jpg")
    rec = LossRecorder()
    ds = read_dataset(root, "voc", zero_based=True, recorder=rec)
    assert ds.images.file_names[-1] == "valid/val_002.jpg" and ds.images.extras[-1]["split"] == "valid"
    assert (ds.images.heights[-1], ds.images.widths[-1]) == (3, 7)
    assert not (ds.annotations.image_ids == ds.images.ids[-1]).any()
    assert any("val_002.jpg" in w and "no XML" in w for w in rec.report().warnings)


def test_a_tfrecord_export_is_named_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "export" / "train").mkdir(parents=True)
    (tmp_path / "export" / "train" / "label_map.pbtxt").write_text("item { name: 'a' id: 1 }\n")
    with pytest.raises(FormatError, match="TFRecord"):
        detect_format(tmp_path / "export")


# --- the zero-based convention of Roboflow's VOC export, decided from the files (never silently)
def _plain_voc(root: Path, database: str) -> Path:
    """The VOC export made here, its ``<source>`` named ``database`` and no coordinate below 1 in ``train/``."""
    _voc(root)
    for f in root.rglob("*.xml"):
        f.write_text(f.read_text().replace("roboflow.ai", database))
    return root


def test_roboflow_voc_is_read_zero_based_by_default_and_the_report_says_why(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset")
    rec = LossRecorder()
    voc = read_dataset(root / "voc", "voc", recorder=rec)
    assert _boxes(voc) == _boxes(read_dataset(root / "coco", "coco"))  # xmin equals Roboflow's COCO x
    (w,) = rec.report().warnings
    assert "read as zero-based" in w and "3 boxes have xmin or ymin 0" in w and "train/train_002.xml" in w
    assert "Roboflow" in w and "--voc-one-based" in w
    shifted = read_dataset(root / "voc", "voc", zero_based=False)  # the devkit's shift, when asked
    assert [b for *_, b in _boxes(shifted)] == [[b[0] - 1, b[1] - 1, b[2], b[3]] for *_, b in _boxes(voc)]


def test_zero_coordinates_alone_decide_for_every_split(tmp_path: Path) -> None:
    root = _plain_voc(tmp_path / "export", "mine")  # not Roboflow: the 0 coordinates are the evidence
    (root / "valid" / "val_001.xml").write_text(
        (root / "valid" / "val_001.xml").read_text().replace("<xmin>0</xmin>", "<xmin>1</xmin>")
        .replace("<ymin>0</ymin>", "<ymin>1</ymin>"))
    rec = LossRecorder()
    ds = read_dataset(root, "voc", recorder=rec)
    # valid/ alone has no evidence, but it is read as the export's other split is
    want = [(f, c, [1.0 if f.startswith("valid") and k < 2 else v for k, v in enumerate(b)])
            for f, c, b in _expected_boxes(["train", "valid"])]
    assert _boxes(ds) == want
    (w,) = rec.report().warnings
    assert "1 box has xmin or ymin 0" in w and "train/train_002.xml: object[0]" in w and "Roboflow" not in w


def test_a_devkit_file_without_evidence_keeps_the_shift(tmp_path: Path) -> None:
    root = _plain_voc(tmp_path / "export", "The VOC2007 Database")
    for f in root.rglob("*.xml"):
        f.write_text(f.read_text().replace("<xmin>0</xmin>", "<xmin>1</xmin>").replace("<ymin>0</ymin>",
                                                                                        "<ymin>1</ymin>"))
    rec = LossRecorder()
    ds = read_dataset(root, "voc", recorder=rec)
    assert ds.annotations.boxes[:, :2].min() == 0 and not rec.report().warnings  # 1 -> 0: the devkit's shift


def test_cli_says_it_once_and_validate_names_the_folder_once(refdata, tmp_path: Path, capsys) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "voc")
    capsys.readouterr()
    assert run_cli(cli, ["convert", str(root), str(tmp_path / "o.json")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.count("read as zero-based") == 1, (out, err)
    assert json.loads((tmp_path / "o.json").read_text())["annotations"][1]["bbox"] == [0, 0, 2, 4]
    assert run_cli(cli, ["validate", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"warning: {root}: coordinates read as zero-based"), lines
    assert lines[0].count(str(root)) == 1 and lines[1] == f"{root}: 0 errors, 1 warning"
    assert run_cli(cli, ["convert", str(root), str(tmp_path / "s.json"), "--voc-one-based"]) == 0
    out = capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["annotations"][1]["bbox"] == [-1, -1, 3, 5]
    assert "look zero-based" in out and "--voc-zero-based" in out
