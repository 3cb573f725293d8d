"""Pascal VOC: the devkit convention, exact float shifts, real files from other tools, hostile XML."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit.core import Dataset, ImageTable, Instances, LabelSet
from annokit.errors import AnnokitWarning, FormatError
from annokit.io.coco import read_instances
from annokit.io.voc import _coords_to_texts, _texts_to_coords, read_labelmap, read_voc, voc_colormap, write_voc


def _xml(objs: str, size: str = "<size><width>20</width><height>10</height><depth>3</depth></size>") -> str:
    return f"<annotation><filename>a.jpg</filename>{size}{objs}</annotation>"


def _obj(name: str, box: tuple, extra: str = "") -> str:
    x0, y0, x1, y1 = box
    return (f"<object><name>{name}</name>{extra}<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
            f"<ymax>{y1}</ymax></bndbox></object>")


def _voc(tmp: Path, xml: str, name: str = "a.xml") -> Path:
    (tmp / "Annotations").mkdir(parents=True, exist_ok=True)
    (tmp / "Annotations" / name).write_text(xml)
    return tmp


def test_devkit_convention_one_based_inclusive(tmp_path: Path) -> None:
    ds = read_voc(_voc(tmp_path, _xml(_obj("cat", (1, 2, 3, 4)))))
    np.testing.assert_array_equal(ds.annotations.boxes, [[0, 1, 3, 4]])
    # the devkit's width xmax - xmin + 1 is the ltrb width
    assert ds.annotations.boxes[0, 2] - ds.annotations.boxes[0, 0] == 3 - 1 + 1
    assert ds.categories.names == ["cat"] and ds.categories.ids.tolist() == [8]  # devkit index, no background
    assert (ds.images.heights[0], ds.images.widths[0]) == (10, 20)


def test_zero_based_option(tmp_path: Path) -> None:
    ds = read_voc(_voc(tmp_path, _xml(_obj("cat", (1, 2, 3, 4)))), zero_based=True)
    np.testing.assert_array_equal(ds.annotations.boxes, [[1, 2, 3, 4]])


def test_floats_stay_floats_exactly(tmp_path: Path) -> None:
    ds = read_voc(_voc(tmp_path, _xml(_obj("cat", ("1.1", "2.35", "3.5", "4.25")))))
    assert ds.annotations.boxes[0].tolist() == [0.1, 1.35, 3.5, 4.25]  # decimal shift, not 0.10000000000000009
    write_voc(ds, tmp_path / "out")
    text = (tmp_path / "out" / "Annotations" / "a.xml").read_text()
    assert "<xmin>1.1</xmin>" in text and "<ymin>2.35</ymin>" in text and "<xmax>3.5</xmax>" in text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-1000, 10**6).map(float),
                          st.integers(0, 10**6).map(lambda v: v / 100)), min_size=1, max_size=20))
def test_coordinate_text_is_exact_both_ways(vals: list[float]) -> None:
    v = np.array(vals)
    for shift in (0, 1):
        texts = _coords_to_texts(v, shift)
        for t, x in zip(texts, vals):  # the text is the exact decimal sum
            assert Decimal(t) - shift == Decimal(repr(x)) or float(Decimal(t) - shift) == x
        back = _texts_to_coords(texts, shift)
        assert back.tolist() == vals
        # and reading any decimal text equals the correctly rounded decimal difference
        exact = [float(Decimal(t) - shift) for t in texts]
        assert back.tolist() == exact


def test_zero_based_file_warns(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "voc")
    with pytest.warns(AnnokitWarning, match="look zero-based"):
        read_voc(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = read_voc(root, zero_based=True)
    # the same boxes as the COCO layout of the same dataset (xmin equals the COCO x)
    coco = read_instances(refdata.path("formats", "datumaro", "roboflow_dataset", "coco", "train",
                                       "_annotations.coco.json"))
    tr = [i for i, f in enumerate(ds.images.file_names) if f.startswith("train_")]
    got = np.concatenate([ds.annotations.for_image(int(ds.images.ids[i])).boxes for i in tr])
    np.testing.assert_array_equal(got, coco.annotations.boxes)


def test_datumaro_voc_fields_kept(refdata, tmp_path: Path) -> None:
    root = refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1")
    ds = read_voc(root)
    ex = ds.annotations.extras
    assert ex[0] == {"pose": "Unspecified", "truncated": 1, "difficult": 0}
    assert ex[1]["part"] == [{"name": "head", "bndbox": {"xmin": 5.5, "ymin": 6, "xmax": 7.5, "ymax": 8}}]
    assert ex[1]["actions"]["phoning"] == 1
    assert ds.images.extras[0]["imagesets"] == ["train"]
    # VOC -> VOC keeps every field
    write_voc(ds, tmp_path / "o")
    again = read_voc(tmp_path / "o")
    assert again.annotations.extras == ex
    np.testing.assert_array_equal(again.annotations.boxes, ds.annotations.boxes)
    assert again.images.extras == ds.images.extras


def test_labelmap_background_is_listed_not_invented(refdata) -> None:
    root = refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset2")
    names = read_labelmap(root / "labelmap.txt")
    assert names[0] == "background" and names[-1] == "ignored"
    ds = read_voc(root)
    assert ds.categories.ids[0] == 0 and ds.categories.names[1] == "aeroplane" and ds.categories.ids[1] == 1
    assert len(ds.images) == 5  # '@.xml' has no object: kept
    assert (ds.images.heights == 0).all()  # no <size>, no image: 0, reported as a loss by convert


def test_empty_images_kept_and_written(tmp_path: Path) -> None:
    ds = Dataset(images=ImageTable(ids=[5, 9], file_names=["x.jpg", "y.jpg"], heights=[10, 20], widths=[30, 40]),
                 categories=LabelSet(ids=[1], names=["cat"]),
                 annotations=Instances(image_ids=[9], boxes=[[0, 0, 2, 2]], labels=[1]))
    write_voc(ds, tmp_path / "o")
    back = read_voc(tmp_path / "o")
    assert back.images.file_names == ["x.jpg", "y.jpg"] and back.images.heights.tolist() == [10, 20]
    main = (tmp_path / "o" / "ImageSets" / "Main")
    assert (main / "trainval.txt").read_text() == "x\ny\n"
    assert (main / "cat_trainval.txt").read_text() == "x -1\ny  1\n"


def test_colormap_matches_devkit() -> None:
    cm = voc_colormap(256)
    assert cm[0].tolist() == [0, 0, 0] and cm[1].tolist() == [128, 0, 0] and cm[15].tolist() == [192, 128, 128]
    assert cm[14].tolist() == [64, 128, 128] and cm[20].tolist() == [0, 64, 128] and cm[255].tolist() == [224, 224, 192]


@pytest.mark.parametrize("xml, match", [
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     "<annotation><filename>&lol2;</filename></annotation>", "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     "<annotation><filename>&xxe;</filename></annotation>", "DOCTYPE"),
    ("<annotation><filename>a.jpg</filename>", "invalid XML"),
    ("<notvoc/>", "not <annotation>"),
    (_xml(_obj("cat", (5, 2, 3, 4))), "xmax < xmin"),
    (_xml(_obj("cat", ("nan", 2, 3, 4))), "not a finite number|not a number"),
    (_xml(_obj("cat", ("1e999999999", 2, 3, 4))), "out of"),
    (_xml("<object><name>cat</name></object>"), "without <bndbox>"),
    (_xml(_obj("cat", (1, 2, 3, 4)).replace("<ymax>4</ymax>", "")), "missing <ymax>"),
    ("<annotation><filename>../../etc/passwd</filename></annotation>", "climbs out"),
    ("<annotation><filename>/etc/passwd</filename></annotation>", "absolute"),
])
def test_hostile_xml_is_a_clear_error(tmp_path: Path, xml: str, match: str) -> None:
    with pytest.raises(FormatError, match=match) as ei:
        read_voc(_voc(tmp_path, xml))
    assert "a.xml" in str(ei.value)


def test_hostile_file_names_never_written_outside(tmp_path: Path) -> None:
    for bad in ("../evil.jpg", "/tmp/evil.jpg", "a/../../evil.jpg", "C:\\evil.jpg"):
        ds = Dataset(images=ImageTable(ids=[1], file_names=[bad], heights=[4], widths=[4]),
                     categories=LabelSet(ids=[1], names=["cat"]), annotations=Instances.empty())
        with pytest.raises(FormatError):
            write_voc(ds, tmp_path / "o")
        assert not (tmp_path / "o").exists()
        assert not (tmp_path / "evil.xml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_colliding_names_are_an_error(tmp_path: Path) -> None:
    ds = Dataset(images=ImageTable(ids=[1, 2], file_names=["a.jpg", "a.png"], heights=[4, 4], widths=[4, 4]),
                 categories=LabelSet(ids=[1], names=["cat"]), annotations=Instances.empty())
    with pytest.raises(FormatError, match="same Annotations/a.xml"):
        write_voc(ds, tmp_path / "o")
    ds2 = Dataset(images=ImageTable(ids=[1], file_names=["a.jpg"], heights=[4], widths=[4]),
                  categories=LabelSet(ids=[1, 2], names=["cat", "cat"]), annotations=Instances.empty())
    with pytest.raises(FormatError, match="named 'cat'"):
        write_voc(ds2, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_existing_destination_is_kept_unless_overwrite(tmp_path: Path) -> None:
    ds = Dataset(images=ImageTable(ids=[1], file_names=["a.jpg"], heights=[4], widths=[4]),
                 categories=LabelSet(ids=[1], names=["cat"]), annotations=Instances.empty())
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    with pytest.raises(FormatError, match="exists"):
        write_voc(ds, tmp_path / "o")
    assert (tmp_path / "o" / "keep.txt").exists()
    write_voc(ds, tmp_path / "o", overwrite=True)
    assert not (tmp_path / "o" / "keep.txt").exists() and (tmp_path / "o" / "Annotations" / "a.xml").exists()


def test_segmentation_object_and_class_pngs(tmp_path: Path) -> None:
    from annokit.core.masks import bitmap_to_rle, rle_to_bitmap
    from annokit.io.png import read_label_png

    m1 = np.zeros((6, 8), bool)
    m1[1:3, 1:4] = True
    m2 = np.zeros((6, 8), bool)
    m2[2:5, 3:7] = True
    ds = Dataset(images=ImageTable(ids=[1], file_names=["a.jpg"], heights=[6], widths=[8]),
                 categories=LabelSet(ids=[8, 15], names=["cat", "person"]),
                 annotations=Instances(image_ids=[1, 1], boxes=[[1, 1, 4, 3], [3, 2, 7, 5]], labels=[8, 15],
                                       segmentations=[bitmap_to_rle(m1), bitmap_to_rle(m2)]))
    write_voc(ds, tmp_path / "o")
    obj = read_label_png(tmp_path / "o" / "SegmentationObject" / "a.png")
    cls = read_label_png(tmp_path / "o" / "SegmentationClass" / "a.png")
    assert set(np.unique(obj).tolist()) == {0, 1, 2} and set(np.unique(cls).tolist()) == {0, 8, 15}
    from PIL import Image

    assert Image.open(tmp_path / "o" / "SegmentationObject" / "a.png").mode == "P"  # devkit palette PNG
    back = read_voc(tmp_path / "o")
    np.testing.assert_array_equal(rle_to_bitmap(back.annotations.segmentations[1]), m2)
    np.testing.assert_array_equal(rle_to_bitmap(back.annotations.segmentations[0]), m1 & ~m2)  # later wins
    assert (tmp_path / "o" / "ImageSets" / "Segmentation" / "trainval.txt").read_text() == "a\n"


def test_datumaro_segmentation_object(refdata) -> None:
    ds = read_voc(refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1"))
    from annokit.core.masks import rle_to_bitmap

    assert rle_to_bitmap(ds.annotations.segmentations[0]).all()  # RGB (128, 0, 0) = index 1 = the first object
    assert ds.annotations.segmentations[1] is None


def test_xml_attributes_are_counted(tmp_path: Path) -> None:
    from annokit.convert import LossRecorder

    rec = LossRecorder()
    from annokit.io.voc import read_voc_keyed

    read_voc_keyed(_voc(tmp_path, _xml(_obj("cat", (1, 2, 3, 4)).replace("<object>", '<object id="7">'))),
                   recorder=rec)
    assert rec.report().count("XML attributes ignored") == 1


# --------------------------------------------------------------------------------- read_voc + evaluate_voc (+1 once)
Case = tuple[Path, list[tuple[int, list[int]]], list[tuple[int, float, list[int]]]]


def _voc_boxes_case(tmp: Path, seed: int) -> Case:
    """Small integer boxes in the devkit's 1-based inclusive numbers (ground truth written as VOC XML, and
    detections near them): with a few pixels a side, counting the end pixel once or twice decides the match."""
    rng = np.random.default_rng(seed)
    (tmp / "Annotations").mkdir(parents=True)
    gts, dets = [], []
    for i in range(12):
        objs = ""
        for _ in range(int(rng.integers(1, 4))):
            x, y = (int(v) for v in rng.integers(1, 40, 2))
            w, h = (int(v) for v in rng.integers(0, 4, 2))
            box = [x, y, x + w, y + h]
            gts.append((i + 1, box))
            objs += _obj("cat", tuple(box))
            for _ in range(2):
                dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
                dets.append((i + 1, float(rng.random()), [box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy]))
        (tmp / "Annotations" / f"{i:03d}.xml").write_text(_xml(objs, "<size><width>64</width><height>64</height>"
                                                                     "</size>"))
    return tmp, gts, dets


def _devkit_and_read(tmp: Path, seed: int, **kw: str) -> tuple[list[float], list[float]]:
    from annokit.io.voc import vocxyxy_to_ltrb
    from annokit.metrics.voc import evaluate_voc

    root, gts, dets = _voc_boxes_case(tmp, seed)
    label = int(read_voc(root).categories.ids[0])
    raw_gt = Instances(image_ids=[g[0] for g in gts], boxes=[g[1] for g in gts], labels=[label] * len(gts))
    raw_dt = Instances(image_ids=[d[0] for d in dets], boxes=[d[2] for d in dets], labels=[label] * len(dets),
                       scores=[d[1] for d in dets])
    # the reference: the devkit's overlap (+1) on the devkit's own numbers (pinned to Padilla's published AP in
    # tests/metrics/test_voc.py)
    devkit = [evaluate_voc(raw_gt, raw_dt, iou_threshold=t, iou_mode="devkit").mAP for t in (0.3, 0.5, 0.7)]
    gt = read_voc(root).annotations
    dt = raw_dt.replace(boxes=vocxyxy_to_ltrb(raw_dt.boxes))  # the same shift read_voc applies
    ours = [evaluate_voc(gt, dt, iou_threshold=t, **kw).mAP for t in (0.3, 0.5, 0.7)]
    return devkit, ours


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_read_voc_with_continuous_overlaps_is_the_devkit(tmp_path: Path, seed: int) -> None:
    """read_voc turns the devkit's inclusive indices into pixel edges (l = xmin - 1, r = xmax): the +1 is in the
    boxes, so continuous overlaps on them give the devkit's AP exactly."""
    devkit, ours = _devkit_and_read(tmp_path, seed, iou_mode="continuous")
    assert ours == pytest.approx(devkit, abs=1e-12)


def test_read_voc_with_evaluate_voc_defaults_is_the_devkit(tmp_path: Path) -> None:
    devkit, ours = _devkit_and_read(tmp_path, 0)
    assert ours == pytest.approx(devkit, abs=1e-12)


def test_padilla_through_read_voc(refdata, tmp_path: Path) -> None:
    """Padilla's published devkit AP, from ground truth read as VOC XML (the devkit's numbers, xmax = left +
    width) and continuous overlaps."""
    import json

    from annokit.io.voc import vocxyxy_to_ltrb
    from annokit.metrics.voc import evaluate_voc

    root = refdata.path("voc_ap")
    (tmp_path / "Annotations").mkdir()
    dets = []
    for i, f in enumerate(sorted((root / "groundtruths").glob("*.txt"))):
        objs = ""
        for line in f.read_text().split("\n"):
            if line.strip():
                c, l, t, w, h = line.split()
                objs += _obj(c, (int(l), int(t), int(l) + int(w), int(t) + int(h)))
        (tmp_path / "Annotations" / f"{f.stem}.xml").write_text(_xml(objs))
        for line in (root / "detections" / f.name).read_text().split("\n"):
            if line.strip():
                c, s, l, t, w, h = line.split()
                dets.append((i + 1, float(s), [float(l), float(t), float(l) + float(w), float(t) + float(h)]))
    gt = read_voc(tmp_path)
    dt = Instances(image_ids=[d[0] for d in dets], boxes=vocxyxy_to_ltrb(np.array([d[2] for d in dets])),
                   labels=[int(gt.categories.ids[0])] * len(dets), scores=[d[1] for d in dets])
    expected = json.loads((root / "EXPECTED.json").read_text())["padilla_test_case_1"]
    for thr in ("0.1", "0.3", "0.5", "0.75"):
        for method, key in (("allpoint", "expected_every_point"), ("11point", "expected_11_point")):
            got = evaluate_voc(gt.annotations, dt, iou_threshold=float(thr), method=method, iou_mode="continuous")
            assert got.mAP == pytest.approx(expected[key][thr], abs=5e-10)
