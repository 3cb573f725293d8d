"""Open Images V6 CSV: the official layout (fixtures built from the documented columns), the evaluation's fields,
datumaro as an oracle both ways, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit import FormatError
from annokit.convert import LossRecorder, convert, detect_format, read_dataset, validate
from annokit.io.openimages import group_of_from_coco, image_labels_from_coco
from tests.io._oracles import datumaro_boxes, datumaro_export

SCENES = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"
CLASSES = "LabelName,DisplayName\n/m/01g317,Person\n/m/0199g,Bicycle\n/m/014j1m,Apple\n"
BOXES = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,"
         "IsInside\n"
         "000002b66c9c498e,xclick,/m/01g317,1,0.012500,0.195312,0.148438,0.587500,0,1,0,0,0\n"
         "000002b66c9c498e,xclick,/m/01g317,1,0.025000,0.276563,0.714063,0.948438,0,1,1,0,0\n"
         "000002b97e5471a0,activemil,/m/0199g,1,0.153,0.9,0.2,0.75,-1,-1,0,-1,-1\n")
LABELS = ("ImageID,Source,LabelName,Confidence\n000002b66c9c498e,verification,/m/01g317,1\n"
          "000002b66c9c498e,verification,/m/014j1m,0\n000002b97e5471a0,crowdsource-verification,/m/0199g,1\n")


def _oi(tmp_path: Path, boxes: str = BOXES, images: bool = True) -> Path:
    root = tmp_path / "oi"
    ann = root / "annotations"
    ann.mkdir(parents=True)
    (ann / "oidv6-class-descriptions.csv").write_text(CLASSES)
    (ann / "validation-annotations-bbox.csv").write_text(boxes)
    (ann / "validation-annotations-human-imagelabels-boxable.csv").write_text(LABELS)
    if images:
        (root / "images" / "validation").mkdir(parents=True)
        for name, wh in (("000002b66c9c498e", (1024, 683)), ("000002b97e5471a0", (800, 600)),
                         ("0000aaaa00000000", (64, 48))):
            Image.new("L", wh).save(root / "images" / "validation" / f"{name}.jpg")
    return root


def test_reads_the_official_layout(tmp_path: Path) -> None:
    root = _oi(tmp_path)
    assert detect_format(root) == "openimages"
    ds = read_dataset(root, "openimages")
    assert ds.categories.names == ["/m/01g317", "/m/0199g", "/m/014j1m"]
    assert ds.categories.extras[0] == {"display_name": "Person"}
    assert ds.images.file_names == ["images/validation/000002b66c9c498e.jpg",
                                    "images/validation/000002b97e5471a0.jpg",
                                    "images/validation/0000aaaa00000000.jpg"]  # no CSV row: an empty image
    a = ds.annotations
    assert a.boxes[0].tolist() == [0.0125 * 1024, 0.148438 * 683, 0.195312 * 1024, 0.5875 * 683]
    assert a.extras[1] == {"source": "xclick", "confidence": 1.0, "isoccluded": 0, "istruncated": 1,
                           "isgroupof": 1, "isdepiction": 0, "isinside": 0}
    # the Open Images evaluation reads these fields as they are
    assert group_of_from_coco(ds).tolist() == [False, True, False]
    lab = image_labels_from_coco(ds)
    assert list(zip(lab.image_ids.tolist(), lab.labels.tolist(), lab.positive.tolist())) == [
        (1, 1, True), (1, 3, False), (2, 2, True)]
    assert ds.images.extras[1]["pos_sources"] == ["crowdsource-verification"]
    by_display = read_dataset(root, "openimages", display_names=True)
    assert by_display.categories.names == ["Person", "Bicycle", "Apple"]


def test_openimages_coco_openimages_is_exact(tmp_path: Path) -> None:
    root = _oi(tmp_path)
    convert(root, tmp_path / "oi.json", src_format="openimages", dst_format="coco")
    rep = convert(tmp_path / "oi.json", tmp_path / "back", src_format="coco", dst_format="openimages",
                  sidecar=False)
    assert rep.count("box edge not exactly") == 0
    a, b = read_dataset(root, "openimages"), read_dataset(tmp_path / "back", "openimages", sidecar=False)
    assert b.annotations == a.annotations and b.categories == a.categories
    assert b.images.extras == a.images.extras and b.images.heights.tolist() == a.images.heights.tolist()


def test_boxes_need_sizes_unless_normalized(tmp_path: Path) -> None:
    root = _oi(tmp_path, images=False)
    with pytest.raises(FormatError, match="--oi-normalized") as e:
        read_dataset(root, "openimages")
    assert e.value.where == "line 2" and e.value.path.endswith("validation-annotations-bbox.csv")
    rec = LossRecorder()
    ds = read_dataset(root, "openimages", normalized=True, recorder=rec)
    assert ds.annotations.boxes[2].tolist() == [0.153, 0.2, 0.9, 0.75]
    assert rec.report().count("image size unknown: boxes kept normalised") == 2


@pytest.mark.parametrize("row,where,needle", [
    ("x,xclick,/m/01g317,1,0.1,0.2,0.3\n", "line 2", "7 fields, the header has 13"),
    ("x,xclick,/m/01g317,1,0.1,nope,0.3,0.4,0,0,0,0,0\n", "line 2", "XMax is not a number"),
    ("x,xclick,/m/01g317,1,0.1,0.2,0.3,inf,0,0,0,0,0\n", "line 2", "YMax is not finite"),
    ("x,xclick,/m/01g317,1,0.3,0.2,0.3,0.4,0,0,0,0,0\n", "line 2", "XMax < XMin"),
    ("x,xclick,/m/01g317,1,0.1,0.2,0.3,0.4,0,0,2,0,0\n", "line 2", "IsGroupOf must be 0, 1 or -1"),
    ("x,xclick,/m/09xyz,1,0.1,0.2,0.3,0.4,0,0,0,0,0\n", "line 2", "not in the class descriptions"),
])
def test_bad_rows(tmp_path: Path, row: str, where: str, needle: str) -> None:
    root = _oi(tmp_path, boxes=BOXES.splitlines()[0] + "\n" + row)
    with pytest.raises(FormatError, match=needle) as e:
        read_dataset(root, "openimages")
    assert e.value.where == where
    assert [p.where for p in validate(root, "openimages") if p.level == "error"] == [where]


def test_header_without_a_column(tmp_path: Path) -> None:
    root = _oi(tmp_path, boxes="ImageID,LabelName,XMin,XMax,YMin\nx,/m/01g317,0.1,0.2,0.3\n")
    with pytest.raises(FormatError, match="lacks the column 'YMax'"):
        read_dataset(root, "openimages")


def test_masks_file_is_counted_as_not_read(tmp_path: Path) -> None:
    root = _oi(tmp_path)
    (root / "annotations" / "validation-annotations-object-segmentation.csv").write_text(
        "MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks\n"
        "a.png,000002b66c9c498e,/m/01g317,1,0.1,0.2,0.3,0.4,0.9,\n")
    rec = LossRecorder()
    read_dataset(root, "openimages", recorder=rec)
    assert rec.report().count("rows of validation-annotations-object-segmentation.csv not read") == 1


def test_datumaro_reads_annokit_output_and_back(tmp_path: Path) -> None:
    rep = convert(SCENES / "gt.json", tmp_path / "oi", src_format="coco", dst_format="openimages",
                  write_options={"images": SCENES / "images", "split": "validation"})
    assert rep.count("crowd flag written as IsGroupOf") == 2
    dm = datumaro_boxes(tmp_path / "oi", "open_images")
    ours = read_dataset(tmp_path / "oi", "openimages", sidecar=False)
    for i, fn in zip(ours.images.ids, ours.images.file_names):
        a = ours.annotations.for_image(int(i))
        got = dm[Path(fn).stem]
        np.testing.assert_allclose(np.reshape([[x, y, x + w, y + h] for _, (x, y, w, h), _ in got], (-1, 4)),
                                   a.boxes, atol=0.01)
        assert [at.get("is_group_of", False) for _, _, at in got] == [bool(e["isgroupof"]) for e in a.extras]
    datumaro_export(SCENES / "gt.json", SCENES / "images", tmp_path / "dm", "open_images")
    back = read_dataset(tmp_path / "dm", "openimages")
    gt = read_dataset(SCENES / "gt.json", "coco")
    assert len(back) == len(gt) and len(back.annotations) == len(gt.annotations)


def test_overflowing_coordinate_is_one_line(tmp_path: Path) -> None:
    root = _oi(tmp_path, boxes=BOXES.splitlines()[0] + "\n000002b66c9c498e,xclick,/m/01g317,1,0.1,1e308,0.3,0.4,0,0,0,"
                                                        "0,0\n")
    with pytest.raises(FormatError, match="not finite") as e:
        read_dataset(root, "openimages")
    assert e.value.where == "line 2"


def test_csv_link_leading_outside_is_refused(tmp_path: Path) -> None:
    root = _oi(tmp_path)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(BOXES)
    (root / "annotations" / "validation-annotations-bbox.csv").unlink()
    (root / "annotations" / "validation-annotations-bbox.csv").symlink_to(outside)
    with pytest.raises(FormatError, match="outside the dataset"):
        read_dataset(root, "openimages")


def test_csv_to_coco_then_the_openimages_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import orjson

    from annokit.cli import cli
    from annokit.cli._common import run_cli

    root = _oi(tmp_path)
    convert(root, tmp_path / "gt.json", src_format="openimages", dst_format="coco")
    gt = read_dataset(tmp_path / "gt.json", "coco")
    dets = [{"image_id": int(i), "category_id": int(c), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
             "score": 0.9} for i, c, b in zip(gt.annotations.image_ids, gt.annotations.labels,
                                               gt.annotations.boxes.tolist())]
    (tmp_path / "dt.json").write_bytes(orjson.dumps(dets))
    assert run_cli(cli, ["eval", "--protocol", "openimages", "--gt", str(tmp_path / "gt.json"), "--pred",
                         str(tmp_path / "dt.json"), "--json", str(tmp_path / "r.json")]) == 0
    res = orjson.loads((tmp_path / "r.json").read_bytes())
    assert res["metrics"]["AP50"] == 1.0, res
