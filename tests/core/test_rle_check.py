"""annokit.core.rle_check: compressed RLE strings checked (and their areas counted) in numpy passes, equal to a
plain decoder of pycocotools' rules on valid and corrupted strings; and a string that is not an RLE of its image
is refused with one line by the results reader, the command and the pycocotools drop-in (pycocotools' ``iou``
loops without end on one)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as cmask

import annokit.core.rle_check as rc
from annokit.core.masks import rle_area
from annokit.core.rle_check import rle_areas, rle_strings_ok
from annokit.errors import FormatError, ValidationError
from tests.conftest import ROOT


def _decode(s: bytes, total: int) -> tuple[bool, int]:
    """(valid, area) by pycocotools' rules, one character at a time."""
    if any(ch < 48 or ch > 111 for ch in s):
        return False, 0
    runs: list[int] = []
    p = 0
    while p < len(s):
        x = k = 0
        more = True
        while more:
            if p >= len(s):
                return False, 0
            c = s[p] - 48
            x |= (c & 0x1F) << 5 * k
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << 5 * k
        if k > rc._MAX_CHARS:
            return False, 0
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    ok = all(r >= 0 for r in runs) and sum(runs) == total
    return ok, sum(runs[1::2])


def _strings(seed: int, n: int) -> tuple[list[bytes], list[int]]:
    rng = random.Random(seed)
    out, totals = [], []
    for i in range(n):
        h, w = rng.randint(1, 40), rng.randint(1, 40)
        m = np.asfortranarray(np.random.default_rng(seed * 1000 + i).random((h, w)) < rng.random())
        s, t = cmask.encode(m)["counts"], h * w
        kind = rng.random()
        if kind < 0.25 and s:  # a character changed (possibly outside '0'..'o')
            b = bytearray(s)
            b[rng.randrange(len(b))] = rng.randrange(32, 127)
            s = bytes(b)
        elif kind < 0.35:  # cut short
            s = s[: rng.randrange(len(s) + 1)]
        elif kind < 0.4:  # the wrong image size
            t += rng.choice([-1, 1, h])
        elif kind < 0.45:  # characters added
            s += bytes(rng.randrange(48, 112) for _ in range(rng.randrange(1, 15)))
        elif kind < 0.47:  # a number of many characters
            s = b"PPPPPPPP0" + s
        out.append(s)
        totals.append(t)
    return out, totals


@pytest.mark.parametrize("chunk", [1 << 16, 37])
@pytest.mark.parametrize("seed", range(3))
def test_the_check_equals_a_plain_decoder(monkeypatch: pytest.MonkeyPatch, seed: int, chunk: int) -> None:
    monkeypatch.setattr(rc, "_CHUNK", chunk)
    strings, totals = _strings(seed, 800)
    want = [_decode(s, t) for s, t in zip(strings, totals)]
    ok, area = rle_areas(b"".join(strings), np.array([len(s) for s in strings]), totals)
    assert ok.tolist() == [w[0] for w in want] and 0 < sum(ok) < len(ok)
    assert [int(a) for a, v in zip(area, ok) if v] == [w[1] for w in want if w[0]]
    valid = [{"size": [1, t], "counts": s} for s, t, v in zip(strings, totals, ok) if v]
    assert area[ok].tolist() == rle_area(valid).tolist()  # pycocotools' area of the valid ones (in chunks)
    assert rle_strings_ok(strings, totals).tolist() == ok.tolist()


def test_empty_strings_and_sizes() -> None:
    assert rle_strings_ok([b"", b""], [0, 1]).tolist() == [True, False]
    assert rle_strings_ok([], []).tolist() == []
    assert rle_strings_ok([b"", b"0`h9", b""], [0, 10000, 5]).tolist() == [True, True, False]


def _gt_and_results(tmp_path: Path, counts: list) -> tuple[Path, Path]:
    h, w = 10, 12
    gt = {"images": [{"id": i, "height": h, "width": w, "file_name": f"{i}.jpg"} for i in (1, 2)],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": i, "image_id": i, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0,
                           "segmentation": [[0, 0, 5, 0, 5, 5, 0, 5]]} for i in (1, 2)]}
    good = cmask.encode(np.asfortranarray(np.ones((h, w), bool)))["counts"].decode()
    dets = [{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [h, w], "counts": good}}]
    dets += [{"image_id": 2, "category_id": 1, "score": 0.4, "segmentation": {"size": [h, w], "counts": c}}
             for c in counts]
    g, d = tmp_path / "gt.json", tmp_path / "dt.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps(dets))
    return g, d


@pytest.mark.parametrize("counts", ["0`0", "\\\\", "0`h9", [-5, 125], "o"])
def test_the_results_reader_refuses_a_string_that_is_not_an_rle_of_its_image(tmp_path: Path, counts: object) -> None:
    from annokit.io.coco import read_instance_columns, read_result_objects

    g, d = _gt_and_results(tmp_path, [counts])
    with pytest.raises(FormatError, match=r"\[1\]\.segmentation\.counts"):
        read_result_objects(d, read_instance_columns(g))


def test_box_results_with_masks_and_the_per_record_path_check_strings_too(tmp_path: Path) -> None:
    """A box results file whose records also carry masks, and a mask file read record by record (an uncompressed
    RLE among compressed ones): a bad string is refused there too, named by its record."""
    from annokit.io.coco import read_instance_columns, read_result_objects

    g, d = _gt_and_results(tmp_path, ["0`0"])
    dets = json.loads(d.read_text())
    for r in dets:
        r["bbox"] = [0, 0, 3, 3]
    d.write_text(json.dumps(dets))
    with pytest.raises(FormatError, match=r"\[1\]\.segmentation\.counts: compressed counts are not"):
        read_result_objects(d, read_instance_columns(g))
    g, d = _gt_and_results(tmp_path, [[0, 120], "0`0"])
    with pytest.raises(FormatError, match=r"\[2\]\.segmentation\.counts: compressed counts are not"):
        read_result_objects(d, read_instance_columns(g))


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_command_says_so_in_one_line_instead_of_hanging(tmp_path: Path, threads: str) -> None:
    """pycocotools' iou loops without end on "0`0" as a 10 x 12 mask; annokit eval stops at reading (exit 2),
    on one thread or two."""
    g, d = _gt_and_results(tmp_path, ["0`0"])
    res = subprocess.run([sys.executable, "-m", "annokit", "eval", "--gt", str(g), "--pred", str(d), "--iou-type",
                          "segm"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "ANNOKIT_THREADS": threads})
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "dt.json: [1].segmentation.counts: compressed counts are not a valid" \
        in res.stderr and "Traceback" not in res.stderr


def test_the_drop_in_raises_where_pycocotools_would_loop(tmp_path: Path) -> None:
    code = f"""
import contextlib, io, sys
from annokit.compat.pycocotools import COCO, COCOeval
from annokit.errors import ValidationError
with contextlib.redirect_stdout(io.StringIO()):
    g = COCO({str(_gt_and_results(tmp_path, [])[0])!r})
    d = g.loadRes([{{"image_id": 2, "category_id": 1, "score": 0.5,
                     "segmentation": {{"size": [10, 12], "counts": "0`0"}}}}])
    e = COCOeval(g, d, "segm")
    try:
        e.evaluate()
    except ValidationError as exc:
        print("REFUSED", exc, file=sys.stderr)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert "REFUSED mask dt[0]: compressed counts are not a valid RLE string" in res.stderr, res.stderr
    from annokit.compat.pycocotools import mask

    with pytest.raises(ValidationError, match=r"rle\[0\]"):
        mask.decode({"size": [10, 12], "counts": "0`0"})  # pycocotools: 16 pixels set, 104 left unset
    with pytest.raises(ValidationError, match=r"gt\[1\]"):
        mask.iou([{"size": [1, 2], "counts": "02"}], [{"size": [1, 2], "counts": "02"},
                                                       {"size": [1, 2], "counts": "0"}], [0, 0])
