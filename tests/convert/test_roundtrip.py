"""Round trips through each format give back exactly what went in; without the sidecar, the loss report counts
exactly what the format could not hold."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from annokit.convert import convert, read_dataset
from tests.convert._strategies import coco_dicts

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _roundtrip(tmp: Path, d: dict, fmt: str, **kw) -> tuple[dict, object]:
    src = tmp / "in.json"
    src.write_bytes(orjson.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = convert(src, tmp / fmt, src_format="coco", dst_format=fmt, overwrite=True, **kw)
        convert(tmp / fmt, tmp / "back.json", src_format=fmt, dst_format="coco", overwrite=True)
    return orjson.loads((tmp / "back.json").read_bytes()), rep


@pytest.mark.parametrize("fmt", ["voc", "yolo", "yolo-seg", "png"])
@SETTINGS
@given(d=coco_dicts())
def test_coco_roundtrip_is_exact_with_sidecar(tmp_path: Path, fmt: str, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, fmt)
    assert back == d
    assert rep.lossless, rep.text()


@SETTINGS
@given(d=coco_dicts())
def test_voc_without_sidecar_keeps_boxes_exactly_and_counts_the_rest(tmp_path: Path, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, "voc", sidecar=False)
    anns = d["annotations"]
    # the devkit layout is flat: dir0/img_2.jpg is JPEGImages/img_2.jpg (the base names here are unique)
    d = {**d, "images": [{**im, "file_name": im["file_name"].rsplit("/", 1)[-1]} for im in d["images"]]}

    # boxes: exact ltrb edges (the 1-based shift is done in decimal), matched by file name; an edge within 1e-6
    # of an integer is written as the integer, and counted
    def edges(dd: dict) -> list:
        fn = {im["id"]: im["file_name"] for im in dd["images"]}
        return sorted((fn[a["image_id"]], a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                       a["bbox"][1] + a["bbox"][3]) for a in dd["annotations"])

    def snap(v: float) -> float:
        return float(round(v)) if abs(v - round(v)) <= 1e-6 else v

    want = edges(d)
    # counted where the move is more than 4 units in the last place of the image's larger side (or the value):
    # below that it is float rounding, not a loss
    side = {im["file_name"]: max(im["height"], im["width"]) for im in d["images"]}
    n_snapped = sum(any(abs(snap(v) - v) > 4 * np.spacing(max(abs(v), side[w[0]])) for v in w[1:]) for w in want)
    assert edges(back) == sorted((w[0], *map(snap, w[1:])) for w in want)
    assert rep.count("coordinates within 1e-6 of an integer") == n_snapped
    assert len(back["images"]) == len(d["images"])  # empty images kept
    assert [(im["height"], im["width"]) for im in sorted(back["images"], key=lambda x: x["file_name"])] == \
        [(im["height"], im["width"]) for im in sorted(d["images"], key=lambda x: x["file_name"])]
    n_poly = sum(1 for a in anns if isinstance(a.get("segmentation"), list) and a["segmentation"])
    n_crowd = sum(a["iscrowd"] for a in anns)
    # masks go to SegmentationObject: polygons lose their vertices (counted), pixels come back exactly
    assert rep.count("polygon stored as SegmentationObject pixels") == n_poly
    from annokit.core.masks import rle_to_bitmap, segmentation_to_rle

    fn_back = {im["id"]: im["file_name"] for im in back["images"]}
    back_by_file: dict = {}
    for a in back["annotations"]:
        back_by_file.setdefault(fn_back[a["image_id"]], []).append(a)
    for im in d["images"]:
        objs = [a for a in anns if a["image_id"] == im["id"]]
        masks = [rle_to_bitmap(segmentation_to_rle(a["segmentation"], im["height"], im["width"]))
                 if a.get("segmentation") else None for a in objs]
        owner = np.zeros((im["height"], im["width"]), int)
        for k, m in enumerate(masks, start=1):
            if m is not None:
                owner[m] = k
        got = back_by_file.get(im["file_name"], [])
        assert len(got) == len(objs)
        for k, b in enumerate(got, start=1):
            if (owner == k).any():
                np.testing.assert_array_equal(rle_to_bitmap(b["segmentation"]), owner == k)
            else:
                assert "segmentation" not in b
    assert rep.count("crowd regions written as difficult objects") == n_crowd
    assert all(e.kept_in is None for e in rep.entries)
    # difficult survives through the XML; a crowd region comes back as a difficult object
    assert sorted(1 if a["iscrowd"] else a.get("difficult", -1) for a in anns) == \
        sorted(a.get("difficult", -1) for a in back["annotations"])


@SETTINGS
@given(d=coco_dicts(polygons=False))
def test_yolo_without_sidecar_counts_inexact_boxes_exactly(tmp_path: Path, d: dict) -> None:
    from PIL import Image

    imgs = tmp_path / "imgs"
    for im in d["images"]:
        p = imgs / im["file_name"]
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (im["width"], im["height"])).save(p, format="PNG")
    back, rep = _roundtrip(tmp_path, d, "yolo", sidecar=False, write_options={"images": imgs})
    src = {(im["file_name"].rsplit("/", 1)[-1].rsplit(".", 1)[0]): im for im in d["images"]}
    n_inexact = 0
    from annokit.io.coco import read_instances

    orig = read_instances(tmp_path / "in.json")
    new = read_dataset(tmp_path / "yolo", "yolo", sidecar=False)  # the YOLO stage alone
    got = {Path(f).stem: int(i) for f, i in zip(new.images.file_names, new.images.ids)}
    for stem, im in src.items():
        a = orig.annotations.for_image(im["id"])
        b = new.annotations.for_image(got[stem])
        assert len(a) == len(b)
        # a box that reads back more than float rounding at the image's scale (4 units in the last place of its
        # side or the coordinate) away is counted; a closer one is not a loss
        scale = np.maximum(np.abs(a.boxes), [im["width"], im["height"], im["width"], im["height"]])
        n_inexact += int((np.abs(a.boxes - b.boxes) > 4 * np.spacing(scale)).any(axis=1).sum())
        assert np.allclose(a.boxes, b.boxes, atol=1e-9)
    assert rep.count("box not exactly representable") == n_inexact
    assert rep.count("category ids renumbered") == (0 if sorted(c["id"] for c in d["categories"]) ==
                                                    list(range(len(d["categories"]))) else len(d["categories"]))


def test_real_coco_roundtrips_through_every_layout(tmp_path: Path, refdata) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    d = orjson.loads(src.read_bytes())
    for fmt in ("voc", "yolo", "yolo-seg", "png"):
        back, _ = _roundtrip(tmp_path, d, fmt)
        assert back == d, fmt


def test_strict_refuses_and_writes_nothing(tmp_path: Path, refdata) -> None:
    from annokit.convert import LossError

    src = refdata.path("coco", "instances_val2014_100.json")
    with pytest.raises(LossError, match="crowd regions written as difficult objects"):
        convert(src, tmp_path / "v", src_format="coco", dst_format="voc", strict=True, sidecar=False)
    assert not (tmp_path / "v").exists()
    assert list(tmp_path.iterdir()) == []
    # with the sidecar nothing is lost, so strict passes
    rep = convert(src, tmp_path / "v", src_format="coco", dst_format="voc", strict=True)
    assert rep.lossless and (tmp_path / "v" / "annokit.json").is_file()


def test_report_file_and_counts(tmp_path: Path, refdata) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    convert(src, tmp_path / "y", src_format="coco", dst_format="yolo", sidecar=False,
            report_path=tmp_path / "r.json")
    rep = orjson.loads((tmp_path / "r.json").read_bytes())
    kinds = {e["kind"].split(":")[0]: e for e in rep["entries"]}
    assert kinds["segmentation dropped"]["count"] == 839
    assert kinds["crowd flag dropped"]["count"] == 9
    assert len(kinds["crowd flag dropped"]["examples"]) == 5
    assert rep["lossless"] is False


def test_sidecar_ignored_where_the_files_changed(tmp_path: Path, refdata) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    convert(src, tmp_path / "v", src_format="coco", dst_format="voc")
    xmls = sorted((tmp_path / "v" / "Annotations").glob("*.xml"))
    text = xmls[0].read_text()
    i = text.index("<object>")
    j = text.index("</object>") + len("</object>")
    xmls[0].write_text(text[:i] + text[j:])  # the user deleted one object
    with pytest.warns(Warning, match="other objects than the sidecar"):
        ds = read_dataset(tmp_path / "v", "voc")
    orig = read_dataset(src, "coco")
    assert len(ds.annotations) == len(orig.annotations) - 1
    assert len(ds.images) == len(orig.images)


def test_voc_to_coco_to_voc_loses_nothing(tmp_path: Path, refdata) -> None:
    from annokit.core.masks import rle_to_bitmap
    from annokit.io.voc import read_voc

    src = refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1")
    r1 = convert(src, tmp_path / "c.json", src_format="voc", dst_format="coco")
    r2 = convert(tmp_path / "c.json", tmp_path / "v", src_format="coco", dst_format="voc", sidecar=False)
    # its SegmentationClass PNG says class 2 where its object is a cat (8): not kept, and said so; the image in
    # JPEGImages without an XML is kept as an image without objects, and said so
    assert [(e.kind.split(":")[0], e.count) for e in r1.losses] == [("SegmentationClass PNG not kept", 1)], r1.text()
    assert r1.warnings == ["1 image in JPEGImages/ or ImageSets/ has no XML (e.g. 2007_000002): kept as images "
                           "without objects"]
    assert r2.lossless, r2.text()
    a, b = read_voc(src), read_voc(tmp_path / "v")
    np.testing.assert_array_equal(a.annotations.boxes, b.annotations.boxes)
    assert a.annotations.extras == b.annotations.extras  # difficult / truncated / pose / part / actions
    assert a.images.extras == b.images.extras and a.images.file_names == b.images.file_names
    assert a.categories.names == b.categories.names and a.categories.ids.tolist() == b.categories.ids.tolist()
    for x, y in zip(a.annotations.segmentations, b.annotations.segmentations):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(rle_to_bitmap(x), rle_to_bitmap(y))


def test_sidecar_with_images_added_and_removed(tmp_path: Path, refdata) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    convert(src, tmp_path / "v", src_format="coco", dst_format="voc")
    ann = tmp_path / "v" / "Annotations"
    xmls = sorted(ann.glob("*.xml"))
    gone = xmls[0]
    text = xmls[1].read_text().replace(xmls[1].stem, "zz_new_image")
    (ann / "zz_new_image.xml").write_text(text)
    gone.unlink()
    for f in (tmp_path / "v" / "ImageSets").rglob("*.txt"):  # an image an ImageSets file lists is kept
        f.write_text("".join(ln + "\n" for ln in f.read_text().splitlines() if not ln.startswith(gone.stem)))
    with pytest.warns(Warning, match="1 of its images are gone"):
        ds = read_dataset(tmp_path / "v", "voc")
    orig = read_dataset(src, "coco")
    assert len(ds.images) == len(orig.images)  # one gone, one new
    new = int(ds.images.ids[ds.images.file_names.index("zz_new_image.jpg")])
    assert new == int(orig.images.ids.max()) + 1
    assert len(ds.annotations.for_image(new)) == text.count("<object>")
    gone_id = [int(i) for i, f in zip(orig.images.ids, orig.images.file_names) if f == gone.stem + ".jpg"][0]
    assert gone_id not in ds.images.ids.tolist()
    # everything else is exactly the original
    keep = [int(i) for i in orig.images.ids if int(i) != gone_id]
    for i in keep[:20]:
        a, b = orig.annotations.for_image(i), ds.annotations.for_image(i)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        assert a.segmentations == b.segmentations
