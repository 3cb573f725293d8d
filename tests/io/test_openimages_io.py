"""Open Images evaluation inputs: hierarchy JSON, image-level labels and group-of flags from COCO-style files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annokit import FormatError
from annokit.io.coco import dataset_from_coco_dict
from annokit.io.openimages import group_of_from_coco, image_labels_from_coco, read_hierarchy


def _write(tmp_path: Path, obj: Any) -> Path:
    p = tmp_path / "hierarchy.json"
    p.write_text(json.dumps(obj))
    return p


def test_hierarchy_skips_the_root_and_keeps_two_parents(tmp_path: Path) -> None:
    p = _write(tmp_path, {"LabelName": "/m/0bl9f", "Subcategory": [
        {"LabelName": "animal", "Subcategory": [{"LabelName": "cat"}, {"LabelName": "dog"}]},
        {"LabelName": "pet", "Subcategory": [{"LabelName": "cat", "Subcategory": [{"LabelName": "kitten"}]}]}]})
    h = read_hierarchy(p)
    assert sorted(h.names) == ["animal", "cat", "dog", "kitten", "pet"]  # no root
    assert h.ancestors("kitten") == {"cat", "animal", "pet"}
    assert h.descendants("animal") == {"cat", "dog", "kitten"}  # kitten came under the other mention of cat


@pytest.mark.parametrize("obj,needle", [
    ([1, 2], "(top): a hierarchy node must be an object, got list"),
    ({"LabelName": "r", "Subcategory": [{"Subcategory": []}]}, "Subcategory[0]: a hierarchy node needs a non-empty "
                                                                 "string LabelName"),
    ({"LabelName": "r", "Subcategory": [{"LabelName": "a", "Subcategory": {"LabelName": "b"}}]},
     "Subcategory[0].Subcategory: must be a list, got dict"),
    ({"LabelName": "r", "Subcategory": [{"LabelName": "a", "Subcategory": [{"LabelName": "a"}]}]},
     "Subcategory[0].Subcategory[0]: the hierarchy is not a tree: 'a' is its own parent"),
    ({"LabelName": "r", "Subcategory": [{"LabelName": "a", "Subcategory": [{"LabelName": "b", "Subcategory": [
        {"LabelName": "a"}]}]}]}, "the hierarchy is not a tree: "),
])
def test_bad_hierarchy(tmp_path: Path, obj: Any, needle: str) -> None:
    p = _write(tmp_path, obj)
    with pytest.raises(FormatError) as e:
        read_hierarchy(p)
    assert str(e.value).startswith(f"{p}: {needle}")


def test_hierarchy_cycle_names_the_chain(tmp_path: Path) -> None:
    p = _write(tmp_path, {"LabelName": "r", "Subcategory": [{"LabelName": "a", "Subcategory": [
        {"LabelName": "b", "Subcategory": [{"LabelName": "a"}]}]}]})
    with pytest.raises(FormatError, match="makes '(a|b)' its own ancestor"):
        read_hierarchy(p)
    p.write_text("{")
    with pytest.raises(FormatError, match="invalid JSON"):
        read_hierarchy(p)


def _gt(**image: Any) -> dict[str, Any]:
    return {"images": [{"id": 1, "file_name": "a.jpg", "height": 9, "width": 9, **image}],
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4,
                             "iscrowd": 1}]}


def test_image_labels_and_group_of() -> None:
    ds = dataset_from_coco_dict(_gt(pos_category_ids=[2], neg_category_ids=[1]))
    lab = image_labels_from_coco(ds)
    assert lab.labels.tolist() == [2, 1] and lab.positive.tolist() == [True, False]
    assert group_of_from_coco(ds).tolist() == [True]  # no isgroupof anywhere: iscrowd
    d = _gt()
    d["annotations"][0]["isgroupof"] = 0
    assert group_of_from_coco(dataset_from_coco_dict(d)).tolist() == [False]


@pytest.mark.parametrize("image,needle", [
    ({"pos_category_ids": [7]}, "images[0].pos_category_ids: unknown category id 7"),
    ({"neg_category_ids": "b"}, "images[0].neg_category_ids: must be a list of category ids"),
])
def test_bad_image_labels(image: dict[str, Any], needle: str) -> None:
    with pytest.raises(FormatError) as e:
        image_labels_from_coco(dataset_from_coco_dict(_gt(**image)), path="gt.json")
    assert str(e.value) == f"gt.json: {needle}"


def test_bad_group_of() -> None:
    d = _gt()
    d["annotations"][0]["isgroupof"] = 2
    with pytest.raises(FormatError, match=r"gt.json: annotations\[0\].isgroupof: must be 0, 1, true or false"):
        group_of_from_coco(dataset_from_coco_dict(d), path="gt.json")
