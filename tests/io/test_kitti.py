"""KITTI object detection: the devkit readme's lines, all 15 fields kept, datumaro's export read, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annokit import FormatError
from annokit.convert import convert, detect_format, read_dataset, validate, write_dataset
from tests.io._oracles import datumaro_export

SCENES = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"
# label lines in the devkit's layout (values as the KITTI training labels write them: %.2f, DontCare's -1 / -10 /
# -1000), built from the readme's field list
LINES = ("Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n"
         "Car 0.88 3 -0.69 0.00 192.37 402.31 374.00 1.60 1.57 3.23 -2.70 1.74 3.68 -1.29\n"
         "DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n")


def _kitti(tmp_path: Path, text: str = LINES, name: str = "000000") -> Path:
    d = tmp_path / "kitti" / "training" / "label_2"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.txt").write_text(text)
    return tmp_path / "kitti"


def test_reads_every_field(tmp_path: Path) -> None:
    root = _kitti(tmp_path)
    assert detect_format(root) == "kitti"
    ds = read_dataset(root, "kitti")
    assert ds.categories.names == ["Car", "DontCare", "Pedestrian"]
    assert ds.images.file_names == ["training/image_2/000000.png"] and ds.images.extras == [{"split": "training"}]
    a = ds.annotations
    assert a.boxes[0].tolist() == [712.40, 143.00, 810.73, 307.92] and a.scores is None
    assert a.extras[1] == {"truncated": 0.88, "occluded": 3, "alpha": -0.69, "dimensions": [1.60, 1.57, 3.23],
                           "location": [-2.70, 1.74, 3.68], "rotation_y": -1.29}


def test_kitti_coco_kitti_gives_the_same_numbers(tmp_path: Path) -> None:
    root = _kitti(tmp_path, LINES + "Cyclist 0.00 1 1.94 1055.04 138.25 1179.56 358.76 1.88 0.58 1.77 5.32 1.61 "
                                    "5.77 2.66\n", "000001")
    _kitti(tmp_path)
    convert(root, tmp_path / "k.json", src_format="kitti", dst_format="coco")
    convert(tmp_path / "k.json", tmp_path / "back", src_format="coco", dst_format="kitti", sidecar=False)
    for p in sorted(root.rglob("*.txt")):
        want = [[float(v) if i else v for i, v in enumerate(ln.split())] for ln in p.read_text().splitlines()]
        got = [[float(v) if i else v for i, v in enumerate(ln.split())]
               for ln in (tmp_path / "back" / p.relative_to(root)).read_text().splitlines()]
        assert got == want, p
    # the devkit's two-decimal look is kept where the numbers allow it
    assert (tmp_path / "back" / "training/label_2/000000.txt").read_text().splitlines()[0] == LINES.splitlines()[0]


def test_reads_datumaro_export(tmp_path: Path) -> None:
    datumaro_export(SCENES / "gt.json", SCENES / "images", tmp_path / "dm", "kitti_detection")
    ds = read_dataset(tmp_path / "dm", "kitti")
    gt = read_dataset(SCENES / "gt.json", "coco")
    assert len(ds) == len(gt) and len(ds.annotations) == len(gt.annotations)
    assert ds.annotations.scores is not None and (ds.annotations.scores == 1).all()  # datumaro writes a 16th column
    stems = {Path(f).stem: int(i) for f, i in zip(ds.images.file_names, ds.images.ids)}
    for i, fn in zip(gt.images.ids, gt.images.file_names):
        a, b = gt.annotations.for_image(int(i)), ds.annotations.for_image(stems[Path(fn).stem])
        order = np.lexsort(b.boxes.T[::-1])  # datumaro writes an image's objects in its own order
        np.testing.assert_allclose(a.boxes[np.lexsort(a.boxes.T[::-1])], b.boxes[order], atol=1e-4)  # float32
        assert [e["truncated"] for e in b.extras] == [0.0] * len(b)


def test_objects_from_elsewhere_get_the_devkit_unknown_values(tmp_path: Path) -> None:
    gt = read_dataset(SCENES / "gt.json", "coco")
    rep = write_dataset(gt, tmp_path / "k", "kitti", split="training", sidecar=False)
    assert any("unknown values" in w for w in rep.warnings)
    line = (tmp_path / "k" / "training" / "label_2" / "scene_001.txt").read_text().splitlines()[0].split()
    assert line[1:4] == ["0.00", "0", "-10.00"] and line[8:] == ["-1.00"] * 3 + ["-1000.00"] * 3 + ["-10.00"]
    assert rep.count("crowd flag dropped") == 2 and rep.count("segmentation dropped") == 135


@pytest.mark.parametrize("text,where,needle", [
    ("Car 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41\n", "line 1", "got 14"),
    ("Car 0.00 0 x 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n", "line 1",
     "alpha is not a number"),
    ("Car 0.00 0.5 -0.2 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n", "line 1",
     "occluded must be an integer"),
    ("Car 0.00 0 -0.2 712.40 143.00 700.00 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n", "line 1", "right < left"),
    ("Car 0.00 0 -0.2 712.40 143.00 810.73 1e999 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n", "line 1", "not finite"),
    (LINES.splitlines()[0] + " 0.9\n" + LINES.splitlines()[1] + "\n", "line 2", "some lines have a score"),
])
def test_bad_input(tmp_path: Path, text: str, where: str, needle: str) -> None:
    root = _kitti(tmp_path, text)
    with pytest.raises(FormatError, match=needle) as e:
        read_dataset(root, "kitti")
    assert e.value.where == where and e.value.path.endswith("000000.txt")
    assert [p.where for p in validate(root, "kitti") if p.level == "error"] == [where]


def test_scores_are_the_16th_field(tmp_path: Path) -> None:
    root = _kitti(tmp_path, "".join(ln + " 0.75\n" for ln in LINES.splitlines()))
    ds = read_dataset(root, "kitti")
    assert ds.annotations.scores.tolist() == [0.75] * 3
    write_dataset(ds, tmp_path / "again", "kitti", sidecar=False)
    assert (tmp_path / "again" / "training/label_2/000000.txt").read_text().splitlines()[0].endswith(" 0.75")


def test_label_link_leading_outside_is_refused(tmp_path: Path) -> None:
    root = _kitti(tmp_path)
    (tmp_path / "secret.txt").write_text(LINES)
    (root / "training" / "label_2" / "000001.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(FormatError, match="outside the dataset") as e:
        read_dataset(root, "kitti")
    assert e.value.path.endswith("000001.txt")
