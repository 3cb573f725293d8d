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
