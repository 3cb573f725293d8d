"""DOTA label and Task 1 files: reading, writing back, and one clear line for bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from annokit import FormatError
from annokit.io.dota import read_dota_labels, read_dota_task1, write_dota_labels, write_dota_task1

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
import dota_oracle


def _labels(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "labelTxt"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def test_read_labels_and_task1(tmp_path: Path) -> None:
    d = _labels(tmp_path, {"P2.txt": "imagesource:GoogleEarth\ngsd:0.146\n0 0 10 0 10 5 0 5 plane 1\n"
                                     "1.5 2 8 2 8 9 1.5 9 small-vehicle\n",
                           "P1.txt": "\n"})
    ds = read_dota_labels(d)
    assert ds.images.file_names == ["P1.png", "P2.png"] and ds.images.extras[1] == {"imagesource": "GoogleEarth",
                                                                                    "gsd": "0.146"}
    a = ds.annotations
    assert ds.categories.names == ["plane", "small-vehicle"]
    assert a.image_ids.tolist() == [2, 2] and a.labels.tolist() == [1, 2]
    assert a.corners is not None and a.corners[1].tolist() == [[1.5, 2], [8, 2], [8, 9], [1.5, 9]]
    assert a.boxes.tolist() == [[0, 0, 10, 5], [1.5, 2, 8, 9]]
    assert [e["difficult"] for e in a.extras] == [True, False]
    t = tmp_path / "Task1"
    t.mkdir()
    (t / "Task1_plane.txt").write_text("P2 0.9 0 0 10 0 10 5 0 5\nP1 0.25 1 1 2 1 2 2 1 2\n")
    (t / "Task1_ship.txt").write_text("")
    dt = read_dota_task1(t, ds)
    assert dt.categories.names == ["plane", "small-vehicle", "ship"]
    assert dt.annotations.scores.tolist() == [0.9, 0.25] and dt.annotations.image_ids.tolist() == [2, 1]
    # written back and read again: the same objects
    write_dota_labels(ds, tmp_path / "again")
    write_dota_task1(dt, tmp_path / "again_dt")
    ds2 = read_dota_labels(tmp_path / "again")
    assert ds2.annotations == ds.annotations and ds2.images == ds.images
    assert read_dota_task1(tmp_path / "again_dt", ds2).annotations == dt.annotations


@pytest.mark.parametrize("text,where,needle", [
    ("0 0 10 0 10 5 0 plane\n", "line 1", "expected 8 coordinates, a class name and an optional difficult flag, "
                                          "got 8 fields"),
    ("gsd:1\n0 0 10 0 10 5 0 5 plane 1 extra\n", "line 2", "expected 8 coordinates, a class name and an optional "
                                                            "difficult flag, got 11 fields"),
    ("0 0 10 x 10 5 0 5 plane\n", "line 1", "coordinate 4 is not a number ('x')"),
    ("0 0 10 nan 10 5 0 5 plane\n", "line 1", "coordinate 4 is not finite ('nan')"),
    ("0 0 10 0 10 5 0 5 plane 1.0\n", "line 1", "difficult flag must be an integer, got '1.0'"),
])
def test_bad_label_lines(tmp_path: Path, text: str, where: str, needle: str) -> None:
    d = _labels(tmp_path, {"P0001.txt": text})
    with pytest.raises(FormatError) as e:
        read_dota_labels(d)
    assert str(e.value) == f"{d / 'P0001.txt'}: {where}: {needle}"


def test_bad_label_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no label files"):
        read_dota_labels(_labels(tmp_path, {}))
    (tmp_path / "labelTxt" / "P1.txt").write_bytes(b"\xff\xfe0 0 1")
    with pytest.raises(FormatError, match=r"P1.txt: not UTF-8 text"):
        read_dota_labels(tmp_path / "labelTxt")
    with pytest.raises(FormatError, match="not a folder"):
        read_dota_labels(tmp_path / "missing")


@pytest.mark.parametrize("name,text,needle", [
    ("Task1_plane.txt", "P1 0.9 0 0 1 0 1 1 0\n", "line 1: expected 'image score x1 y1 ... x4 y4' (10 fields), got 9"),
    ("Task1_plane.txt", "P1 0.9 0 0 1 0 1 1 0 1\nP1 high 0 0 1 0 1 1 0 1\n", "line 2: score is not a number ('high')"),
    ("Task1_plane.txt", "P1 inf 0 0 1 0 1 1 0 1\n", "line 1: score is not finite ('inf')"),
    ("Task1_plane.txt", "P9 0.5 0 0 1 0 1 1 0 1\n", "detection 1: image 'P9' has no label file in the ground truth"),
])
def test_bad_task1(tmp_path: Path, name: str, text: str, needle: str) -> None:
    ds = read_dota_labels(_labels(tmp_path, {"P1.txt": "0 0 1 0 1 1 0 1 plane\n"}))
    t = tmp_path / "Task1"
    t.mkdir()
    (t / name).write_text(text)
    with pytest.raises(FormatError) as e:
        read_dota_task1(t, ds)
    assert str(e.value) == f"{t / name}: {needle}"
    with pytest.raises(FormatError, match="no Task1_<class>.txt files"):
        read_dota_task1(tmp_path / "labelTxt", ds)


def test_devkit_sample_labels_parse_as_the_devkit() -> None:
    """The devkit's own example/labelTxt: the same objects, classes and difficult flags as its parse_gt."""
    mod = dota_oracle.load_devkit()
    if mod is None:
        pytest.skip(dota_oracle.REASON)
    d = dota_oracle.DEVKIT / "example" / "labelTxt"
    ds = read_dota_labels(d)
    files = sorted(d.glob("*.txt"))
    ref = [o for p in files for o in mod.parse_gt(str(p))]
    a = ds.annotations
    assert len(a) == len(ref) > 100
    assert np.array_equal(a.corners.reshape(-1, 8), np.array([o["bbox"] for o in ref]))  # type: ignore[union-attr]
    assert [ds.categories.name_of(int(c)) for c in a.labels] == [o["name"] for o in ref]
    assert [e["difficult"] for e in a.extras] == [bool(o["difficult"]) for o in ref]


def test_writer_refuses_class_names_that_are_paths(tmp_path: Path) -> None:
    ds = read_dota_labels(_labels(tmp_path, {"P1.txt": "0 0 1 0 1 1 0 1 ../../evil\n"}))
    dets = ds.with_annotations(ds.annotations.replace(scores=[0.5]))
    with pytest.raises(FormatError, match="class name '../../evil' cannot be part of a file name"):
        write_dota_task1(dets, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil").exists()
