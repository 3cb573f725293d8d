"""``"rbox"`` fields of COCO-style JSON objects."""

from __future__ import annotations

from typing import Any

import pytest

from annokit import FormatError
from annokit.io.coco import dataset_from_coco_dict
from annokit.io.rotated import rboxes_from_records


def test_rboxes_from_coco_annotations() -> None:
    ds = dataset_from_coco_dict({
        "images": [{"id": 1, "file_name": "a.png", "height": 9, "width": 9}],
        "categories": [{"id": 1, "name": "ship"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0,
                         "rbox": [2, 2, 4, 2, 0.25]}]})
    r = rboxes_from_records(ds.annotations.extras or [], path="gt.json")
    assert r.tolist() == [[2, 2, 4, 2, 0.25]]
    assert ds.annotations.replace(rboxes=r).rboxes is not None


@pytest.mark.parametrize("rec,needle", [
    ({}, "missing"),
    ({"rbox": [1, 2, 3, 4]}, "expected [cx, cy, w, h, angle], got [1, 2, 3, 4]"),
    ({"rbox": [1, 2, 3, 4, None]}, "angle is not a finite number (None)"),
    ({"rbox": [1, 2, 3, 4, "nan"]}, "angle is not a finite number ('nan')"),
    ({"rbox": [1, 2, float("inf"), 4, 0]}, "w is not a finite number (inf)"),
    ({"rbox": [1, 2, -3, 4, 0]}, "negative width or height"),
])
def test_bad_rbox(rec: dict[str, Any], needle: str) -> None:
    with pytest.raises(FormatError) as e:
        rboxes_from_records([{"rbox": [0, 0, 1, 1, 0]}, rec], path="gt.json")
    assert str(e.value).startswith(f"gt.json: annotations[1].rbox: {needle}")


# ------------------------------------------------------------------------------ results files: columns and records
def _rotated_pair(tmp_path: Any, case: str) -> tuple[Any, Any]:
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from synth_protocols_more import rotated_data

    d = rotated_data(3, 120 if case == "ok" else 6)
    r = d["results"]
    if case == "null_angle":
        r[2]["rbox"][4] = None
    elif case == "short":
        for x in r:
            x["rbox"] = x["rbox"][:4]
    elif case == "negative":
        for x in r:
            x["rbox"][2] = -abs(x["rbox"][2])
    elif case == "string":
        r[1]["rbox"][0] = "5"
    elif case == "with_boxes":
        for x in r:
            x["bbox"] = [1, 2, 3, 4]
    p = tmp_path / "r.json"
    p.write_text(json.dumps(r, indent=1))
    return dataset_from_coco_dict(d["gt"]), p


@pytest.mark.parametrize("case", ["ok", "with_boxes", "null_angle", "short", "negative", "string"])
def test_rotated_results_columns_equal_records(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    import numpy as np

    import annokit.io._result_records as rr
    from annokit.io.rotated import read_rotated_results, with_rboxes

    gt, p = _rotated_pair(tmp_path, case)
    gt = with_rboxes(gt)
    if case in ("ok", "with_boxes"):
        assert rr.regular_columns(p, gt, "rbox") is not None  # the columnar path is the one taken

    def outcome() -> Any:
        try:
            return read_rotated_results(p, gt)
        except FormatError as exc:
            return str(exc)

    a = outcome()
    with monkeypatch.context() as m:
        m.setattr(rr, "regular_columns", lambda *args: None)
        b = outcome()
    if isinstance(a, str):
        assert a == b and str(p) in a
        return
    for k in ("image_ids", "boxes", "labels", "scores", "area", "ids", "rboxes", "source_wh"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and np.array_equal(x, y), k
