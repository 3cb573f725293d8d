"""A folder of datasets is not taken for class folders; real class folders still are."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from annokit.errors import FormatError
from annokit.io.detect import detect_format


def _voc(root: Path) -> None:
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text("<annotation><filename>a.jpg</filename></annotation>")


def test_a_folder_of_datasets_names_them(tmp_path: Path) -> None:
    _voc(tmp_path / "first")
    _voc(tmp_path / "second")
    (tmp_path / "cats").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "cats" / "x.png")
    with pytest.raises(FormatError, match=r"holds 2 datasets of its own.*first/ \(voc\), second/ \(voc\)"):
        detect_format(tmp_path)


def test_class_folders_with_splits_and_notes_are_still_class_folders(tmp_path: Path) -> None:
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            Image.new("RGB", (4, 4)).save(tmp_path / split / cls / "x.png")
    (tmp_path / "train" / "README.txt").write_text("notes")
    assert detect_format(tmp_path) == "class-folders"


def test_refdata_container_refused(refdata) -> None:
    with pytest.raises(FormatError, match="voc_dataset1/ \\(voc\\)"):
        detect_format(refdata.path("formats", "datumaro", "voc_dataset"))
