"""COCO-layout files whose annotations are not objects (captions, image-level labels, panoptic segments) are named
for what they are in one line, by the reader and by the validator; a category's empty keypoint-name list (as
datumaro writes it) does not fix K at 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from annokit.errors import FormatError
from annokit.io.coco import read_instances, validate_coco

IMAGES = [{"id": 5, "file_name": "a.jpg", "height": 10, "width": 10}]
CATS = [{"id": 1, "name": "a"}]


def _write(tmp_path: Path, anns: list[dict[str, Any]], cats: list[dict[str, Any]] = CATS) -> Path:
    p = tmp_path / "ann.json"
    p.write_bytes(orjson.dumps({"images": IMAGES, "categories": cats, "annotations": anns}))
    return p


@pytest.mark.parametrize("ann, says", [
    ({"id": 1, "image_id": 5, "category_id": 0, "caption": "a cat"}, "a COCO captions file"),
    ({"id": 1, "image_id": 5, "category_id": 1}, "image-level labels"),
    ({"image_id": 5, "file_name": "a.png", "segments_info": []}, "read it as coco-panoptic"),
])
def test_other_kinds_are_named_in_one_line(tmp_path: Path, ann: dict[str, Any], says: str) -> None:
    p = _write(tmp_path, [ann])
    with pytest.raises(FormatError, match=says) as e:
        read_instances(p)
    assert e.value.where == "annotations[0]"
    probs = validate_coco(p)
    assert len(probs) == 1 and says in probs[0].message and probs[0].where == "annotations[0]"


def test_object_annotations_without_a_box_keep_the_schema_errors(tmp_path: Path) -> None:
    p = _write(tmp_path, [{"id": 1, "image_id": 5, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]}])
    assert any("bbox" in pr.message for pr in validate_coco(p))


def test_an_empty_keypoint_name_list_does_not_fix_k(tmp_path: Path) -> None:
    cats = [{"id": 1, "name": "a", "keypoints": [], "skeleton": [[0, 1]]}]
    ann = {"id": 1, "image_id": 5, "category_id": 1, "bbox": [2, 2, 3, 1], "area": 3, "iscrowd": 0,
           "keypoints": [0, 0, 0, 0, 2, 1, 4, 1, 2], "num_keypoints": 2}
    p = _write(tmp_path, [ann], cats)
    ds = read_instances(p)
    assert ds.annotations.keypoints is not None and ds.annotations.keypoints.shape == (1, 3, 3)
    assert validate_coco(p) == []
    cats[0]["keypoints"] = ["nose", "eye"]  # a list that names keypoints still fixes K
    with pytest.raises(FormatError, match="expected 6"):
        read_instances(_write(tmp_path, [ann], cats))


@pytest.mark.parametrize("fmt", ["voc", "yolo", "labelme"])
def test_keypoints_a_format_cannot_hold_are_counted_as_lost(tmp_path: Path, fmt: str) -> None:
    from annokit.convert import convert

    ann = {"id": 7, "image_id": 5, "category_id": 1, "bbox": [2, 2, 3, 1], "area": 3, "iscrowd": 0,
           "keypoints": [0, 0, 0, 2, 2, 2], "num_keypoints": 1}
    src = _write(tmp_path, [ann])
    rep = convert(src, tmp_path / fmt, src_format="coco", dst_format=fmt)
    entry = next(e for e in rep.entries if e.kind.startswith("keypoints dropped"))
    assert entry.count == 1 and entry.kept_in is None and "annotation id 7" in entry.examples
    assert not any(e.kind.startswith("keypoints") for e in
                   convert(src, tmp_path / "back.json", src_format="coco", dst_format="coco").entries)
