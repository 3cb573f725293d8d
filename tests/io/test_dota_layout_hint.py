"""A data.yaml dataset whose labels are DOTA's labelTxt/ (as Roboflow's "YOLO OBB" export writes them): the YOLO and
YOLO-OBB readers refuse it naming the folder and the reader that reads it -- dota, not themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from annokit.convert import read_dataset
from annokit.errors import FormatError


@pytest.mark.parametrize("fmt", ["yolo", "yolo-obb"])
def test_labeltxt_under_data_yaml_points_at_dota(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "train" / "images").mkdir(parents=True)
    (tmp_path / "train" / "labelTxt").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "images" / "a.jpg")
    (tmp_path / "train" / "labelTxt" / "a.txt").write_text("0 0 0 2 2 2 2 0 label_0 0\n")
    (tmp_path / "data.yaml").write_text("train: train/images\nnames: ['label_0']\n")
    with pytest.raises(FormatError) as ei:
        read_dataset(tmp_path, fmt)
    msg = str(ei.value)
    assert "labelTxt" in msg and "read this dataset as dota" in msg and "as yolo-obb" not in msg


def test_a_darknet_folder_read_as_voc_is_named(tmp_path: Path) -> None:
    """datumaro's loose Darknet export (obj.names, Annotations/*.txt) given as voc: the error says what it is."""
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "1.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "obj.names").write_text("cat\n")
    with pytest.raises(FormatError) as ei:
        read_dataset(tmp_path, "voc")
    assert "no Annotations/*.xml found" in str(ei.value) and "read it as darknet" in str(ei.value)
