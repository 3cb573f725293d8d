"""Label-map and COCO panoptic readers: modes, bomb guard, errors that name the file and the place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from annokit.errors import FormatError
from annokit.io.coco_panoptic import read_id_png, read_panoptic_json, write_id_png
from annokit.io.labelmap import read_label_map


def test_label_map_modes(tmp_path):
    idx = np.array([[0, 1], [2, 255]], np.uint8)
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette([v for i in range(256) for v in (i, 255 - i, 7)])
    pal.save(tmp_path / "p.png")
    assert read_label_map(tmp_path / "p.png").tolist() == idx.tolist()
    Image.fromarray(np.array([[0, 300], [65535, 2]], np.uint16)).save(tmp_path / "i16.png")
    assert read_label_map(tmp_path / "i16.png").tolist() == [[0, 300], [65535, 2]]
    Image.fromarray(np.zeros((2, 2, 3), np.uint8), mode="RGB").save(tmp_path / "rgb.png")
    with pytest.raises(FormatError, match=r"rgb.png: label maps must be palette or grayscale PNGs, got mode RGB"):
        read_label_map(tmp_path / "rgb.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(FormatError, match="bad.png: not a readable image"):
        read_label_map(tmp_path / "bad.png")


def test_bomb_guard_refuses_before_decoding(tmp_path):
    Image.fromarray(np.zeros((64, 64), np.uint8), mode="L").save(tmp_path / "big.png")
    with pytest.raises(FormatError, match=r"64x64 = 4096 pixels, over the 1000-pixel limit"):
        read_label_map(tmp_path / "big.png", max_pixels=1000)
    write_id_png(tmp_path / "ids.png", np.ones((64, 64), np.uint32))
    with pytest.raises(FormatError, match="over the 1000-pixel limit"):
        read_id_png(tmp_path / "ids.png", max_pixels=1000)


def test_id_png_round_trip_and_reuse(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1 << 24, (7, 9)).astype(np.uint32)
    write_id_png(tmp_path / "a.png", ids)
    buf = np.zeros((7, 9), np.uint32)
    out = read_id_png(tmp_path / "a.png", out=buf)
    assert out is buf and np.array_equal(out, ids)
    assert np.array_equal(read_id_png(tmp_path / "a.png", out=np.zeros((3, 3), np.uint32)), ids)
    Image.fromarray(np.zeros((2, 2), np.uint8), mode="L").save(tmp_path / "gray.png")
    with pytest.raises(FormatError, match="expected an RGB id PNG, got mode L"):
        read_id_png(tmp_path / "gray.png")


@pytest.mark.parametrize("doc,where", [
    ({"annotations": {}}, "annotations"),
    ({"annotations": [], "categories": [{"name": "x"}]}, r"categories\[0\]"),
    ({"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 3, "category_id": "x"}]}],
      "categories": []}, r"annotations\[0\]\.segments_info\[0\]\.category_id"),
    ({"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [
        {"id": 3, "category_id": 1}, {"id": 3, "category_id": 1}]}], "categories": []},
     r"annotations\[0\]\.segments_info\[1\]\.id: duplicate segment id 3"),
    ({"annotations": [{"image_id": 1, "file_name": "../a.png"}], "categories": []}, r"annotations\[0\]\.file_name"),
    ({"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [
        {"id": 3, "category_id": 1, "iscrowd": 2}]}], "categories": []},
     r"annotations\[0\]\.segments_info\[0\]\.iscrowd"),
])
def test_panoptic_json_errors_name_the_place(tmp_path, doc, where):
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=rf"x.json: {where}"):
        read_panoptic_json(tmp_path / "x.json")


def test_panoptic_json_reads_refdata(refdata):
    f = read_panoptic_json(refdata.path("panoptic", "panopticapi_sample", "panoptic_examples.json"))
    assert len(f.images) == 2 and f.category_ids.size == 133 and f.isthing.sum() == 80
    assert f.images[0].iscrowd.sum() == 1 and (f.images[0].area > 0).all()


def test_palette_id_png_is_read_through_its_colours(tmp_path):
    ids = np.array([[0, 1, 2], [256, 65536, 1]], np.uint32)
    colours = [(0, 0, 0), (1, 0, 0), (2, 0, 0), (0, 1, 0), (0, 0, 1)]
    index = np.array([[0, 1, 2], [3, 4, 1]], np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette([c for rgb in colours for c in rgb] + [0] * (768 - 15))
    img.save(tmp_path / "p.png")
    assert np.array_equal(read_id_png(tmp_path / "p.png"), ids)
    assert np.array_equal(read_id_png(tmp_path / "p.png", out=np.full((2, 3), 7, np.uint32)), ids)


@pytest.mark.parametrize("seg,where", [
    ({"id": 3, "category_id": 1, "area": 5}, r"segments_info\[1\]\.id: duplicate segment id 3"),
    ({"id": 0, "category_id": 1, "area": 5}, r"segments_info\[1\]\.id: expected an integer in 1..16777215"),
    ({"id": 1 << 24, "category_id": 1, "area": 5}, r"segments_info\[1\]\.id"),
    ({"id": True, "category_id": 1, "area": 5}, r"segments_info\[1\]\.id"),
    ({"id": 4, "category_id": False, "area": 5}, r"segments_info\[1\]\.category_id"),
    ({"id": 4, "category_id": 1 << 64, "area": 5}, r"segments_info\[1\]\.category_id"),
    ({"id": 4, "category_id": 1, "area": -1}, r"segments_info\[1\]\.area"),
    ({"id": 4, "category_id": 1, "area": 2.5}, r"segments_info\[1\]\.area"),
    ({"id": 4, "category_id": 1, "area": 5, "iscrowd": 3}, r"segments_info\[1\]\.iscrowd"),
    ({"id": 3, "category_id": 1}, r"segments_info\[1\]\.id: duplicate segment id 3"),
    ({"id": 4, "category_id": 1, "area": "5"}, r"segments_info\[1\]\.area"),
])
def test_segments_with_areas_are_checked_as_before(tmp_path, seg, where):
    """The list-speed reading of the usual segments_info leaves every odd value to the checked path."""
    doc = {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [
        {"id": 3, "category_id": 1, "area": 5}, seg]}], "categories": []}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=rf"x.json: annotations\[0\]\.{where}"):
        read_panoptic_json(tmp_path / "x.json")


def test_fast_segment_columns_equal_the_checked_reading(refdata, tmp_path, monkeypatch):
    from annokit.io import coco_panoptic

    doc = {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [
        {"id": 3, "category_id": -2, "area": 0, "iscrowd": True}, {"id": 9, "category_id": 1, "area": 7},
        {"id": 5, "category_id": 1}, {"id": 6, "category_id": 1, "area": None}]}],
        "categories": []}
    (tmp_path / "y.json").write_text(json.dumps(doc))
    paths = [refdata.path("panoptic", "panopticapi_sample", "panoptic_examples.json"), tmp_path / "y.json"]
    fast = [read_panoptic_json(p, require_categories=False) for p in paths]
    assert coco_panoptic._segment_columns(doc["annotations"][0]["segments_info"]) is not None
    monkeypatch.setattr(coco_panoptic, "_segment_columns", lambda segs: None)
    slow = [read_panoptic_json(p, require_categories=False) for p in paths]
    for fa, sl in zip(fast, slow, strict=True):
        for a, b in zip(fa.images, sl.images, strict=True):
            for k in ("segment_ids", "category_ids", "iscrowd", "area"):
                x, y = getattr(a, k), getattr(b, k)
                assert x.dtype == y.dtype and np.array_equal(x, y), k
    assert fast[1].images[0].iscrowd.tolist() == [True, False, False, False]
    assert fast[1].images[0].area.tolist() == [0, 7, -1, -1]
