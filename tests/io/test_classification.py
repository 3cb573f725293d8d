"""Classification: folder per class and CSV, real Ultralytics / Roboflow layouts, losses counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from annokit.convert import LossRecorder, convert, read_dataset
from annokit.core import Dataset, ImageTable, Instances, LabelSet
from annokit.errors import FormatError
from annokit.io.classification import read_class_csv, read_class_folders, write_class_csv


def test_ultralytics_classification_folders(refdata) -> None:
    ds = read_class_folders(refdata.path("formats", "cvat-datumaro", "yolov8_classification"))
    assert ds.categories.names == ["label_0", "label_1"] and ds.categories.ids.tolist() == [0, 1]
    assert ds.annotations.labels.tolist() == [0, 0, 1]
    assert ds.images.extras[0] == {"split": "train"}
    assert (ds.annotations.boxes[:, 2] == ds.images.widths).all()


def test_roboflow_one_hot_csv(refdata) -> None:
    ds = read_class_csv(refdata.path("formats", "datumaro", "roboflow_dataset", "multiclass", "train",
                                     "_classes.csv"))
    assert ds.images.file_names == ["train_001.jpg", "train_002.jpg"]
    assert ds.annotations.labels.tolist() == [0, 1] and ds.images.heights.tolist() == [5, 5]


def test_folders_csv_folders_round_trip(tmp_path: Path, refdata) -> None:
    src = refdata.path("formats", "cvat-datumaro", "yolov8_classification")
    convert(src, tmp_path / "c.csv", src_format="class-folders", dst_format="class-csv")
    convert(tmp_path / "c.csv", tmp_path / "f", src_format="class-csv", dst_format="class-folders",
            read_options={"images": src}, write_options={"images": src})
    a, b = read_class_folders(src), read_dataset(tmp_path / "f", "class-folders")
    assert [n.rsplit("/", 1)[-1] for n in a.images.file_names] == [n.rsplit("/", 1)[-1] for n in b.images.file_names]
    assert a.annotations.labels.tolist() == b.annotations.labels.tolist()


def test_csv_multi_label_and_unlabelled(tmp_path: Path) -> None:
    ds = Dataset(images=ImageTable(ids=[1, 2, 3], file_names=["a.jpg", "b.jpg", "c.jpg"], heights=[0, 0, 0],
                                   widths=[0, 0, 0]),
                 categories=LabelSet(ids=[0, 1], names=["cat", "dog"]),
                 annotations=Instances(image_ids=[1, 1, 3], boxes=[[0, 0, 0, 0]] * 3, labels=[0, 1, 1]))
    write_class_csv(ds, tmp_path / "l.csv")
    assert (tmp_path / "l.csv").read_text() == "file,label\na.jpg,cat\na.jpg,dog\nb.jpg,\nc.jpg,dog\n"
    back = read_class_csv(tmp_path / "l.csv")
    assert back.images.file_names == ["a.jpg", "b.jpg", "c.jpg"]
    assert back.annotations.labels.tolist() == [0, 1, 1] and back.annotations.image_ids.tolist() == [1, 1, 3]
    # a folder per class cannot hold two labels or none: counted
    from annokit.io.classification import _single_labels

    rec = LossRecorder()
    _single_labels(ds, rec, None)
    r = rec.report()
    assert r.count("multi-label image") == 1 and r.count("unlabelled image dropped") == 1


def test_hostile_csv_paths(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_text("file,label\n../../etc/passwd,cat\n")
    with pytest.raises(FormatError, match="climbs out"):
        read_class_csv(tmp_path / "l.csv")
