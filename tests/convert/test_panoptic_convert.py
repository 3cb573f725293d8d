"""COCO panoptic <-> instance masks, and <-> things instances + stuff semantic maps: exact round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annokit.convert import convert
from annokit.core.losses import LossRecorder
from annokit.io.coco_panoptic import read_id_png, write_id_png
from annokit.io.panoptic_convert import (
    merge_things_stuff,
    read_panoptic_dataset,
    split_things_stuff,
    write_panoptic_dataset,
)

CATS = [{"id": 1, "name": "person", "supercategory": "p", "isthing": 1, "color": [1, 2, 3]},
        {"id": 7, "name": "car", "supercategory": "v", "isthing": 1, "color": [4, 5, 6]},
        {"id": 120, "name": "sky", "supercategory": "s", "isthing": 0, "color": [7, 8, 9]},
        {"id": 130, "name": "road", "supercategory": "s", "isthing": 0, "color": [9, 9, 9]}]


@st.composite
def panoptic_sets(draw):
    """Random id maps painted with rectangles; one segment per stuff class per image (the panoptic convention)."""
    images, anns, pngs = [], [], {}
    for i in range(draw(st.integers(1, 3))):
        h, w = draw(st.integers(4, 30)), draw(st.integers(4, 30))
        ids = np.zeros((h, w), np.uint32)
        segs = []
        used: set[int] = set()
        stuff_done: set[int] = set()
        for _ in range(draw(st.integers(0, 6))):
            cat = draw(st.sampled_from(CATS))
            if not cat["isthing"] and cat["id"] in stuff_done:
                continue
            sid = draw(st.integers(1, (1 << 24) - 1).filter(lambda v, used=used: v not in used))
            y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
            ids[y0:y1, x0:x1] = sid
            used.add(sid)
            if not cat["isthing"]:
                stuff_done.add(cat["id"])
            segs.append({"id": sid, "category_id": cat["id"], "iscrowd": int(draw(st.booleans()) and cat["isthing"])})
        info = []
        for s in segs:  # areas and boxes as panopticapi computes them (a fully covered segment keeps area 0)
            ys, xs = np.nonzero(ids == s["id"])
            if len(ys) == 0:
                continue
            s["area"] = int(len(ys))
            s["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            info.append(s)
        name = f"{100 + i:012d}.png"
        images.append({"id": 100 + i, "file_name": name.replace(".png", ".jpg"), "height": h, "width": w})
        anns.append({"image_id": 100 + i, "file_name": name, "segments_info": info})
        pngs[name] = ids
    return {"info": {"v": 1}, "images": images, "annotations": anns, "categories": CATS}, pngs


def _write_set(root: Path, data: dict, pngs: dict) -> Path:
    (root / "pan").mkdir(parents=True, exist_ok=True)
    for name, ids in pngs.items():
        write_id_png(root / "pan" / name, ids)
    (root / "pan.json").write_text(json.dumps(data))
    return root / "pan.json"


def _same(a_json: Path, b_json: Path, *, sort_segments: bool = False) -> None:
    a, b = json.loads(a_json.read_text()), json.loads(b_json.read_text())
    if sort_segments:
        for d in (a, b):
            for ann in d["annotations"]:
                ann["segments_info"].sort(key=lambda s: s["id"])
    assert a == b
    for ann in a["annotations"]:
        pa = read_id_png(a_json.with_suffix("") / ann["file_name"])
        pb = read_id_png(b_json.with_suffix("") / ann["file_name"])
        assert (pa == pb).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(panoptic_sets())
def test_panoptic_round_trip_exact(tmp_path_factory, case) -> None:
    root = tmp_path_factory.mktemp("pan")
    src = _write_set(root / "src", *case)
    ds = read_panoptic_dataset(src)
    rec = LossRecorder()
    write_panoptic_dataset(ds, root / "out" / "pan.json", recorder=rec)
    assert rec.report().lossless
    _same(src, root / "out" / "pan.json")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(panoptic_sets())
def test_panoptic_things_plus_semantic_round_trip(tmp_path_factory, case) -> None:
    root = tmp_path_factory.mktemp("pan")
    src = _write_set(root / "src", *case)
    ds = read_panoptic_dataset(src)
    things, sem = split_things_stuff(ds)
    stuff = ds.annotations[np.isin(ds.annotations.labels, [120, 130])]
    seg_ids = [int(e.get("segment_id", i)) for e, i in zip(stuff.extras or [{}] * len(stuff), stuff.ids.tolist())]
    orig = {(int(i), int(c)): s for i, c, s in zip(stuff.image_ids, stuff.labels, seg_ids)}
    # with the stuff ids supplied, nothing is lost
    rec = LossRecorder()
    merged = merge_things_stuff(things, sem, recorder=rec, original_ids=orig)
    write_panoptic_dataset(merged, root / "a" / "pan.json", recorder=rec)
    assert rec.report().lossless
    _same(src, root / "a" / "pan.json", sort_segments=True)
    # without them, every stuff id that changes is counted, and the pixels still agree
    rec = LossRecorder()
    merged = merge_things_stuff(things, sem, recorder=rec)
    write_panoptic_dataset(merged, root / "b" / "pan.json", recorder=rec)
    changed = sum(1 for (i, c), s in orig.items() if s != c * 1000)
    counted = {e.kind: e.count for e in rec.report().entries}
    assert counted.get("stuff segment ids not kept: a semantic map has no ids (renumbered)", 0) == changed


def test_panoptic_to_coco_instances_and_back(tmp_path: Path, refdata) -> None:
    src = refdata.path("panoptic", "panopticapi_sample", "panoptic_examples.json")
    r1 = convert(src, tmp_path / "inst.json", src_format="coco-panoptic", dst_format="coco")
    assert r1.lossless
    r2 = convert(tmp_path / "inst.json", tmp_path / "back", src_format="coco", dst_format="coco-panoptic",
                 write_options={"name": "panoptic_examples"})
    assert r2.lossless
    _same(src, tmp_path / "back" / "panoptic_examples.json")


def test_losses_are_counted(tmp_path: Path) -> None:
    from annokit.core import Dataset, ImageTable, Instances, LabelSet
    from annokit.core.masks import bitmap_to_rle

    m1 = np.zeros((10, 10), bool)
    m1[:5] = True
    m2 = np.zeros((10, 10), bool)
    m2[3:8] = True
    inst = Instances(image_ids=[1, 1, 1], boxes=[[0, 0, 10, 5], [0, 3, 10, 8], [1, 1, 2, 2]], labels=[1, 1, 1],
                     scores=[0.9, 0.8, 0.7], area=[50, 50, 1.5], ids=[1, 2, 3],
                     segmentations=[bitmap_to_rle(m1), bitmap_to_rle(m2), None])
    ds = Dataset(images=ImageTable(ids=[1], file_names=["a.jpg"], heights=[10], widths=[10]),
                 categories=LabelSet(ids=[1], names=["a"]), annotations=inst)
    rec = LossRecorder()
    write_panoptic_dataset(ds, tmp_path / "p.json", recorder=rec)
    got = {e.kind: e.count for e in rec.report().entries}
    assert got["scores dropped: COCO panoptic has no score"] == 3
    assert got["objects without a mask dropped: COCO panoptic stores pixels"] == 1
    assert got["pixels claimed by two objects: the later one keeps them (panoptic segments cannot overlap)"] == 1
    assert got["categories without 'isthing': written as things (isthing = 1)"] == 1
    ids = read_id_png(tmp_path / "p" / "a.png")
    assert (ids[:3] == 1).all() and (ids[3:8] == 2).all() and (ids[8:] == 0).all()


def test_unknown_png_segment_is_an_error(tmp_path: Path) -> None:
    from annokit.errors import FormatError

    ids = np.zeros((4, 4), np.uint32)
    ids[0, 0] = 5
    data = {"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}],
            "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": []}], "categories": CATS}
    src = _write_set(tmp_path, data, {"a.png": ids})
    with pytest.raises(FormatError, match="segment id 5 is in the PNG"):
        read_panoptic_dataset(src)


@pytest.mark.parametrize("png_hw,kept,dropped", [((3, 6), 6, 12), ((2, 2), 4, 0)])
def test_png_of_another_size_than_its_image_is_read_top_left_and_counted(tmp_path: Path, png_hw, kept: int,
                                                                          dropped: int) -> None:
    """A PNG larger or smaller than its image record is laid on the image from the top-left corner (as datumaro
    reads it), the pixels beyond the image dropped and the rest void, and the image is counted with both sizes."""
    from annokit.core.masks import rle_to_bitmap
    from annokit.errors import AnnokitWarning

    ids = np.full(png_hw, 5, np.uint32)
    data = {"images": [{"id": 1, "file_name": "a.jpg", "height": 2, "width": 3}],
            "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [
                {"id": 5, "category_id": 1, "iscrowd": 0}]}], "categories": CATS}
    src = _write_set(tmp_path, data, {"a.png": ids})
    rec = LossRecorder()
    ds = read_panoptic_dataset(src, recorder=rec)
    mask = rle_to_bitmap(ds.annotations.segmentations[0])
    expect = np.zeros((2, 3), bool)
    expect[:min(2, png_hw[0]), :min(3, png_hw[1])] = True
    assert mask.shape == (2, 3) and (mask == expect).all() and ds.annotations.area[0] == kept
    [entry] = rec.report().entries
    tail = f", {dropped} segment pixels beyond the image dropped" if dropped else ""
    assert entry.count == 1 and entry.examples == [f"a.png: PNG {png_hw[1]}x{png_hw[0]}, image 3x2{tail}"]
    with pytest.warns(AnnokitWarning, match="a.png: PNG"):  # no recorder: said as a warning
        read_panoptic_dataset(src)


def test_datumaro_panoptic_png_of_another_size(tmp_path: Path, refdata, capsys) -> None:
    """datumaro's coco_panoptic sample: a.png is 5x5, its image record (and a.jpg) 10 wide, 5 high. Read as
    datumaro reads it (the 25 pixels of segment 460551 at the top-left), counted, shown by validate, refused by
    --strict."""
    from annokit.cli import cli
    from annokit.cli._common import run_cli
    from annokit.convert import LossError, read_dataset, validate
    from annokit.core.masks import rle_to_bitmap

    src = refdata.path("formats", "datumaro", "coco_dataset", "coco_panoptic", "annotations", "panoptic_train.json")
    rec = LossRecorder()
    ds = read_dataset(src, "coco-panoptic", recorder=rec)
    mask = rle_to_bitmap(ds.annotations.segmentations[0])
    assert mask.shape == (5, 10) and mask[:, :5].all() and not mask[:, 5:].any()
    assert int(ds.annotations.ids[0]) == 460551 and rec.report().count("panoptic PNG of another size") == 1
    assert [p.message for p in validate(src, "coco-panoptic")] == [
        "panoptic PNG of another size than its image record: laid on the image from the top-left corner: a.png: PNG "
        "5x5, image 10x5"]
    with pytest.raises(LossError):
        convert(src, tmp_path / "s.json", src_format="coco-panoptic", dst_format="coco", strict=True)
    rc = run_cli(cli, ["convert", "--from", "coco-panoptic", str(src), str(tmp_path / "o.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "1 item lost" in out and "a.png: PNG 5x5, image 10x5" in out
