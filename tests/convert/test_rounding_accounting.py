"""A coordinate a writer moves by no more than float rounding at its scale (4 units in the last place of the
image's side, or of COCO's ``max(|x|, |w|)``) is not a loss; a real change stays counted. Checked on the refdata
YOLO / Darknet datasets whose 1.3e-1 x 15 px boxes once made "1 item lost" out of a 4.4e-16 px difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import convert, read_dataset
from annokit.core.losses import beyond_rounding

_ROUNDED = ("box edge not exactly representable", "box not exactly representable", "coordinates within 1e-6")


@pytest.mark.parametrize("folder", [("cvat-datumaro", "yolov8_detection"), ("datumaro", "yolo_dataset", "strict"),
                                    ("datumaro", "yolo_dataset", "labels")])
@pytest.mark.parametrize("target", ["coco", "voc", "yolo"])
def test_float_rounding_is_not_a_loss(refdata, tmp_path: Path, folder: tuple[str, ...], target: str) -> None:
    src = refdata.path("formats", *folder)
    fmt = "yolo" if folder[0] == "cvat-datumaro" else "darknet"
    rep = convert(src, tmp_path / "out", src_format=fmt, dst_format=target, sidecar=False)
    assert not any(e.kind.startswith(_ROUNDED) for e in rep.entries), rep.text()
    if target == "coco":
        assert rep.lossless, rep.text()
    if target == "yolo":
        return  # read back, it needs the images
    back = read_dataset(tmp_path / "out", target, sidecar=False)
    a, b = read_dataset(src, fmt).annotations.boxes, back.annotations.boxes
    moved = np.abs(a - b)
    assert moved.max() > 0  # the numbers did move (by 4.4e-16 px) ...
    assert not beyond_rounding(moved, np.maximum(np.abs(a), 15)).any()  # ... by float rounding only


def test_cli_yolo_to_coco_says_nothing_lost(refdata, tmp_path: Path, capsys) -> None:
    src = refdata.path("formats", "cvat-datumaro", "yolov8_detection")
    capsys.readouterr()
    assert run_cli(cli, ["convert", str(src), str(tmp_path / "o.json")]) == 0
    assert capsys.readouterr().out.strip() == "yolo -> coco: nothing lost"


def _coco(tmp_path: Path, bbox: list[float]) -> Path:
    d = {"images": [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 15}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox, "area": 1.0, "iscrowd": 0}],
         "categories": [{"id": 1, "name": "cat"}]}
    (tmp_path / "in.json").write_bytes(orjson.dumps(d))
    return tmp_path / "in.json"


def test_a_real_change_stays_counted(tmp_path: Path) -> None:
    src = _coco(tmp_path, [0.1, 0.2, 2.8999995, 3])  # right edge 2.9999995: snapped to 3, 5e-7 px
    rep = convert(src, tmp_path / "v", src_format="coco", dst_format="voc", sidecar=False)
    assert rep.count("coordinates within 1e-6 of an integer") == 1 and not rep.lossless
    rep = convert(src, tmp_path / "y", src_format="coco", dst_format="yolo", sidecar=False,
                  write_options={"precision": 3})
    assert rep.count("box not exactly representable") == 1


def test_the_rule() -> None:
    assert beyond_rounding([4.4e-16, 7e-15, 7.2e-15, 1e-12], 15.0).tolist() == [False, False, True, True]
    assert beyond_rounding(np.zeros(3), [0.0, 1.0, 1e9]).tolist() == [False, False, False]


def test_images_without_size_are_one_line_that_counts_them(refdata, tmp_path: Path, capsys) -> None:
    src = refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset2")  # no <size>, no JPEGImages/
    capsys.readouterr()
    assert run_cli(cli, ["convert", str(src), str(tmp_path / "y"), "--to", "yolo"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == ("annokit: error: images[1]: image 'a.jpg' has no size (and 3 more images with objects); YOLO "
                    "coordinates are normalized by it: give the sizes in the source, or put the images where its "
                    "reader finds them")
