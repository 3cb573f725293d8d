"""The VOC devkit's result files (``<prefix>_<class>.txt``: ``image score xmin ymin xmax ymax`` per line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annokit.errors import FormatError
from annokit.io.voc_results import _checked_rows, _read_file

IMAGES = {"a": 1, "b": 2, "000005": 3}


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "comp4_det_test_cat.txt"
    f.write_text(text, encoding="utf-8")
    return f


def test_plain_files_read_all_at_once_equal_line_by_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = list(IMAGES)
    lines = []
    for _ in range(500):
        l, t = rng.uniform(0, 500, 2)
        w, h = rng.uniform(0, 80, 2)
        lines.append(f"{names[rng.integers(3)]} {rng.random():.6f} {l:.1f} {t} {l + w:.3f} {t + h:.0f}")
    lines[7] = "b 0.5 10 10 9 9"  # the devkit's +1: a one-pixel box written as xmax = xmin - 1 is still a box
    f = _write(tmp_path, "\n".join(lines[:250]) + "\n\n  \n" + "\n".join(lines[250:]) + "\n")
    got = _read_file(f, IMAGES)
    want = _checked_rows(f, [ln.split() for ln in f.read_text().splitlines()], IMAGES)
    assert all(np.array_equal(a, b) for a, b in zip(got, want)) and len(got[0]) == 500


@pytest.mark.parametrize("text,where,needle", [
    ("a 0.9 1 2 3 4\nb 0.8 1 2 3\n", "line 2", "got 5 fields"),
    ("a 0.9 1 2 3 4\n\nzz 0.8 1 2 3 4\n", "line 3", "image 'zz' is not in the ground truth"),
    ("a 0.9 1 2 3 4\nb 0.8 1 x 3 4\n", "line 2", "must be numbers"),
    ("a 0.9 1 2 3 4\nb 0.8 1 2 3 inf\n", "line 2", "not a box"),
    ("a 0.9 1 2 3 4\nb nan 1 2 3 4\n", "line 2", "not a box"),
    ("a 0.9 10 2 3 4\n", "line 1", "not a box"),
])
def test_the_first_bad_line_is_named(tmp_path: Path, text: str, where: str, needle: str) -> None:
    f = _write(tmp_path, text)
    with pytest.raises(FormatError) as ei:
        _read_file(f, IMAGES)
    assert str(f) in str(ei.value) and where in str(ei.value) and needle in str(ei.value)
