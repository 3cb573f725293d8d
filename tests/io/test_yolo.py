"""YOLO (Ultralytics layout): real files, exact normalized text, header sizes with EXIF, hostile inputs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from annokit.core import Dataset, ImageTable, Instances, LabelSet
from annokit.errors import FormatError
from annokit.io._safe import image_hw
from annokit.io.yolo import ltrb_to_yolo, read_yolo, write_yolo, yolo_to_ltrb


def test_cvat_detection(refdata) -> None:
    ds = read_yolo(refdata.path("formats", "cvat-datumaro", "yolov8_detection"))
    assert ds.categories.names[:3] == ["label_0", "label_1", "label_2"] and ds.categories.ids[0] == 0
    assert ds.annotations.labels.tolist() == [2, 4]
    h, w = ds.images.heights[0], ds.images.widths[0]
    want = yolo_to_ltrb(np.array([[0.133333, 0.3, 0.266667, 0.2], [0.266667, 0.45, 0.133333, 0.3]]),
                        np.array([[h, w], [h, w]]))
    np.testing.assert_array_equal(ds.annotations.boxes, want)


def test_cvat_segmentation(refdata) -> None:
    ds = read_yolo(refdata.path("formats", "cvat-datumaro", "yolov8_segmentation"))
    segs = ds.annotations.segmentations
    w, h = ds.images.widths[0], ds.images.heights[0]
    assert segs[0] == [[0.1 * w, 0.1 * h, 0.4 * w, 0.1 * h, 0.4 * w, 0.5 * h]]
    np.testing.assert_array_equal(ds.annotations.boxes[0], [0.1 * w, 0.1 * h, 0.4 * w, 0.5 * h])


def test_roboflow_relative_split_paths(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "yolo")
    # its data.yaml says val: ../valid/images, but the folder is val/: an error naming the split and the path
    with pytest.raises(FormatError, match=r"data.yaml: val: split 'val': '../valid/images' does not exist, "
                                          r"but 'val/images' does"):
        read_yolo(root)
    ds = read_yolo(root, skip_missing_splits=True)
    assert ds.categories.names == ["label_0", "label_1"]
    # same boxes as the COCO layout of the same dataset: [2, 1, 3, 1] and [0, 0, 2, 4] (xywh) in train
    tr = [int(i) for i, f in zip(ds.images.ids, ds.images.file_names) if "train" in f]
    got = np.concatenate([ds.annotations.for_image(i).boxes for i in tr])
    np.testing.assert_allclose(got, [[2, 1, 5, 2], [0, 0, 2, 4]], atol=1e-12)


def test_normalized_text_round_trips_exactly_where_floats_allow() -> None:
    rng = np.random.default_rng(0)
    hw = np.stack([rng.integers(10, 2000, 500), rng.integers(10, 2000, 500)], axis=1).astype(float)
    l = np.round(rng.uniform(0, 1, 500) * hw[:, 1] * 0.5, 2)
    t = np.round(rng.uniform(0, 1, 500) * hw[:, 0] * 0.5, 2)
    boxes = np.stack([l, t, l + np.round(rng.uniform(0, 5, 500), 2), t + 3.25], axis=1)
    c, exact = ltrb_to_yolo(boxes, hw)
    back = yolo_to_ltrb(np.array([[float(repr(v)) for v in row] for row in c.tolist()]), hw)
    assert ((back == boxes).all(axis=1) == exact).all()
    assert exact.mean() > 0.3
    assert np.abs(back - boxes).max() < 1e-9


def test_write_read_with_images(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "src").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "src" / "a.png")
    Image.new("RGB", (10, 10)).save(tmp_path / "src" / "b.png")
    ds = Dataset(images=ImageTable(ids=[1, 2], file_names=["a.png", "b.png"], heights=[30, 10], widths=[40, 10]),
                 categories=LabelSet(ids=[0, 1], names=["x", "y"]),
                 annotations=Instances(image_ids=[1], boxes=[[1.5, 2, 11.25, 20]], labels=[1]))
    from annokit.convert import LossRecorder

    rec = LossRecorder()
    write_yolo(ds, tmp_path / "y", images=tmp_path / "src", recorder=rec)
    assert (tmp_path / "y" / "labels" / "train" / "b.txt").read_text() == ""  # empty image kept
    back = read_yolo(tmp_path / "y")
    assert back.images.heights.tolist() == [30, 10] and len(back.images) == 2
    # 1.5 / 40 has no float c, w with 40 * (c - w / 2) == 1.5 exactly: it reads back within float rounding at the
    # image's scale (4 units in the last place of 40), which is not a loss
    np.testing.assert_allclose(back.annotations.boxes, ds.annotations.boxes, atol=1e-12)
    moved = np.abs(back.annotations.boxes - ds.annotations.boxes)
    assert (moved <= 4 * np.spacing(40.0)).all()
    assert rec.report().count("box not exactly representable") == 0
    rec = LossRecorder()  # a real change (two decimals) is counted
    write_yolo(ds, tmp_path / "y2", images=tmp_path / "src", recorder=rec, precision=2)
    assert rec.report().count("box not exactly representable") == 1
    assert back.annotations.labels.tolist() == [1]


def _png_header_only(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_decompression_bomb_png_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(100_000, 100_000))  # 10 billion pixels, 100 bytes on disk
    with pytest.raises(FormatError, match="pixel limit|decompression-bomb"):
        image_hw(p)


def test_exif_orientation_swaps_height_and_width(tmp_path: Path) -> None:
    from PIL import Image

    im = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert image_hw(tmp_path / "r.jpg") == (40, 20)
    assert image_hw(tmp_path / "r.jpg", exif=False) == (20, 40)


def _yolo_dir(tmp: Path, label: str, yaml: str = "names: [a, b]\ntrain: images/train\n") -> Path:
    from PIL import Image

    (tmp / "images" / "train").mkdir(parents=True)
    (tmp / "labels" / "train").mkdir(parents=True)
    Image.new("L", (10, 10)).save(tmp / "images" / "train" / "x.png")
    (tmp / "labels" / "train" / "x.txt").write_text(label)
    (tmp / "data.yaml").write_text(yaml)
    return tmp


@pytest.mark.parametrize("label, match", [
    ("5 0.5 0.5 0.1 0.1\n", "class 5 is not"),
    ("0 0.5 0.5 0.1\n", "3 numbers"),
    ("0 0.5 0.5 -0.1 0.1\n", "negative"),
    ("0 a b c d\n", "expected a class index"),
    ("0 0.5 0.5 nan 0.1\n", "finite"),
])
def test_bad_label_lines(tmp_path: Path, label: str, match: str) -> None:
    with pytest.raises(FormatError, match=match) as ei:
        read_yolo(_yolo_dir(tmp_path, label))
    assert "x.txt" in str(ei.value) and "line 1" in str(ei.value)


def test_yaml_paths_outside_root_are_not_followed(tmp_path: Path) -> None:
    root = _yolo_dir(tmp_path / "d", "0 0.5 0.5 0.2 0.2\n", "names: [a]\npath: /etc\ntrain: ../../../etc\n")
    with pytest.raises(FormatError, match="split 'train': '../../../etc' does not exist"):
        read_yolo(root)
    (root / "data.yaml").write_text("names: [a]\ntrain: /etc\n")
    with pytest.raises(FormatError, match="split 'train': '/etc' leads outside the dataset; not followed"):
        read_yolo(root)


def test_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="names"):
        read_yolo(_yolo_dir(tmp_path, "", "train: images/train\n"))


def test_two_images_sharing_a_label_file_is_an_error(tmp_path: Path) -> None:
    from PIL import Image

    root = _yolo_dir(tmp_path, "0 0.5 0.5 0.2 0.2\n")
    Image.new("L", (10, 10)).save(root / "images" / "train" / "x.jpg")
    with pytest.raises(FormatError, match="share the label file"):
        read_yolo(root)


def test_scores_as_a_sixth_column(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "src").mkdir()
    Image.new("L", (64, 48)).save(tmp_path / "src" / "a.png")
    ds = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[48], widths=[64]),
                 categories=LabelSet(ids=[0], names=["x"]),
                 annotations=Instances(image_ids=[1, 1], boxes=[[0, 0, 32, 24], [16, 8, 48, 40]], labels=[0, 0],
                                       scores=[0.25, 0.875]))
    write_yolo(ds, tmp_path / "y", images=tmp_path / "src")
    assert (tmp_path / "y" / "labels" / "train" / "a.txt").read_text() == "0 0.25 0.25 0.5 0.5 0.25\n" \
        "0 0.5 0.5 0.5 0.6666666666666666 0.875\n"
    back = read_yolo(tmp_path / "y")
    assert back.annotations.scores.tolist() == [0.25, 0.875]
    np.testing.assert_array_equal(back.annotations.boxes, ds.annotations.boxes)


def test_pose_datasets_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="pose"):
        read_yolo(_yolo_dir(tmp_path, "0 0.5 0.5 0.2 0.2\n", "names: [a]\nkpt_shape: [17, 3]\ntrain: images/train\n"))


def test_split_folder_in_the_file_name_is_not_nested_twice(tmp_path: Path) -> None:
    from PIL import Image

    for sp in ("train", "val"):
        (tmp_path / "src" / sp).mkdir(parents=True)
        Image.new("RGB", (20, 10)).save(tmp_path / "src" / sp / "a.png")
    ds = Dataset(images=ImageTable(ids=[1, 2], file_names=["train/a.png", "val/a.png"], heights=[10, 10],
                                   widths=[20, 20], extras=[{"split": "train"}, {"split": "val"}]),
                 categories=LabelSet(ids=[0], names=["x"]),
                 annotations=Instances(image_ids=[2], boxes=[[2, 2, 10, 8]], labels=[0]))
    write_yolo(ds, tmp_path / "y", images=tmp_path / "src")
    files = sorted(p.relative_to(tmp_path / "y").as_posix() for p in (tmp_path / "y").rglob("*") if p.is_file())
    assert files == ["data.yaml", "images/train/a.png", "images/val/a.png", "labels/train/a.txt",
                     "labels/val/a.txt"]
    back = read_yolo(tmp_path / "y")
    np.testing.assert_array_equal(back.annotations.boxes, ds.annotations.boxes)


def test_six_decimal_text_read_and_written_gives_the_same_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    c = np.round(rng.uniform(0.2, 0.5, (400, 4)) * [1, 1, 0.5, 0.5], 6)
    hw = rng.integers(1, 4000, (400, 2))
    got, exact = ltrb_to_yolo(yolo_to_ltrb(c, hw), hw)
    assert exact.all()
    np.testing.assert_array_equal(got, c)  # the 6-decimal floats themselves, not a neighbour a few ulps away
    assert max(len(repr(x)) for x in got.ravel().tolist()) <= 8


def test_a_missing_split_names_the_folder_spelled_another_way(tmp_path: Path) -> None:
    root = _yolo_dir(tmp_path, "0 0.5 0.5 0.2 0.2\n", "names: [a]\ntrain: images/train\nval: images/valid\n")
    (root / "images" / "val").mkdir()
    with pytest.raises(FormatError, match=r"'images/valid' does not exist, but 'images/val' does \(fix the path"):
        read_yolo(root)
    (root / "images" / "val").rmdir()  # nothing near: the plain message
    with pytest.raises(FormatError, match=r"'images/valid' does not exist \(fix the path"):
        read_yolo(root)
