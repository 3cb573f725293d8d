"""CVAT for images 1.1 XML: read as datumaro's cvat importer reads it (goldens made by running datumaro, see
tests/io/oracles/README.md), a file datumaro's CVAT exporter wrote read the same, written back, hostile and bad
XML refused with the file and the place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import convert, read_dataset, validate, write_dataset
from annokit.core.losses import LossRecorder
from annokit.core.masks import rle_to_bitmap
from annokit.errors import FormatError
from annokit.io.cvat import cvat_rle_decode, cvat_rle_encode, read_cvat, read_cvat_keyed

DATA = Path(__file__).parent / "data" / "cvat"
GOLDEN = Path(__file__).parent / "data" / "cvat_golden"


def _objects(ds) -> dict[str, list[dict]]:
    """Per image stem: each object as datumaro's golden describes it."""
    out: dict[str, list[dict]] = {}
    a = ds.annotations
    for r in range(len(a)):
        i = int(ds.images.index_of(a.image_ids[r:r + 1])[0])
        ex = a.extras[r] if a.extras is not None else {}
        if ex.get("rotation"):  # datumaro reads a rotated box as another annotation type (left out of the golden)
            continue
        seg = a.segmentations[r] if a.segmentations is not None else None
        rec = {"label": ds.categories.name_of(int(a.labels[r])), "z_order": ex.get("z_order", 0),
               "group": ex.get("group_id", 0)}
        if isinstance(seg, dict):
            ys, xs = np.nonzero(rle_to_bitmap(seg))
            rec.update(type="mask", pixels=sorted([int(x), int(y)] for x, y in zip(xs, ys)))
        elif seg is not None:
            rec.update(type="polygon", points=seg[0])
        else:
            b = a.boxes[r].tolist()
            rec.update(type="box", xywh=[b[0], b[1], b[2] - b[0], b[3] - b[1]])
        attrs = {k: {"true": True, "false": False}.get(v, v) for k, v in ex.get("attributes", {}).items()}
        rec["attributes"] = dict(attrs, occluded=bool(ex.get("occluded", 0)))
        out.setdefault(Path(ds.images.file_names[i]).stem, []).append(rec)
    return out


def _golden() -> dict[str, list[dict]]:
    g = json.loads((GOLDEN / "datumaro.json").read_text())
    out = {}
    for key, anns in g["items"].items():
        regions = [a for a in anns if a["type"] in ("box", "polygon", "mask")]
        for a in regions:
            a["attributes"] = {k: v for k, v in a["attributes"].items() if k in ("occluded", "color", "parked")}
        out[Path(key).name] = regions
    return out


@pytest.mark.parametrize("src", [DATA, GOLDEN / "datumaro_export"], ids=["cvat-file", "datumaro-export"])
def test_boxes_polygons_masks_and_attributes_are_datumaro_s(src: Path) -> None:
    ds = read_cvat(src)
    g = _golden()
    ours = _objects(ds)
    assert ours == {k: v for k, v in g.items() if v}
    assert ds.categories.names == json.loads((GOLDEN / "datumaro.json").read_text())["labels"]
    assert len(ds.images) == 3  # the image without objects is kept


def test_what_is_not_an_object_is_kept_per_image_and_written_back(tmp_path: Path) -> None:
    rec = LossRecorder()
    ds, keys = read_cvat_keyed(DATA, recorder=rec)
    assert keys == ["frames/a.jpg", "frames/b.jpg", "frames/c.jpg"]
    kinds = [s["type"] for s in ds.images.extras[0]["cvat_shapes"]]
    assert kinds == ["polyline", "points", "tag"]
    assert any("cvat_shapes" in w for w in rec.report().warnings)
    r = ds.annotations.extras[2]
    assert r["rotation"] == 12.5 and r["source"] == "auto" and r["group_id"] == 1
    cat = ds.categories.extras[0]["cvat"]
    assert ["color", "#fa3253"] in cat
    write_dataset(ds, tmp_path / "back", "cvat", sidecar=False)
    ds2 = read_cvat(tmp_path / "back")
    assert ds2.images.extras == ds.images.extras
    assert ds2.annotations.extras == ds.annotations.extras
    assert ds2.annotations.segmentations == ds.annotations.segmentations
    assert np.array_equal(ds2.annotations.boxes, ds.annotations.boxes)
    assert ds2.categories.extras == ds.categories.extras and ds2.extras == ds.extras


def test_cvat_to_coco_to_cvat_is_exact(tmp_path: Path) -> None:
    convert(DATA, tmp_path / "c.json", src_format="cvat", dst_format="coco")
    rep = convert(tmp_path / "c.json", tmp_path / "back", src_format="coco", dst_format="cvat", sidecar=False)
    a, b = read_cvat(DATA), read_cvat(tmp_path / "back")
    for col in ("boxes", "labels", "image_ids", "area"):
        assert np.array_equal(getattr(a.annotations, col), getattr(b.annotations, col)), col
    assert a.annotations.extras == b.annotations.extras
    assert a.annotations.segmentations == b.annotations.segmentations
    assert rep.count("annotation ids") == 5  # named: CVAT has none


def test_cvat_rle_round_trip() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        h, w = rng.integers(1, 9, size=2)
        m = rng.random((h, w)) < rng.random()
        assert np.array_equal(cvat_rle_decode(cvat_rle_encode(m), int(w), int(h)), m)
    assert cvat_rle_encode(np.array([[True, False], [False, True]])) == "0, 1, 2, 1"


def test_coco_polygons_of_several_parts_become_masks_counted(tmp_path: Path) -> None:
    d = {"images": [{"id": 1, "file_name": "a.jpg", "height": 20, "width": 20}],
         "categories": [{"id": 1, "name": "c"}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 12, 12], "area": 40, "iscrowd": 0,
                          "segmentation": [[1, 1, 6, 1, 6, 6], [8, 8, 13, 8, 13, 13]]}]}
    (tmp_path / "c.json").write_text(json.dumps(d))
    rep = convert(tmp_path / "c.json", tmp_path / "v", src_format="coco", dst_format="cvat", sidecar=False)
    assert rep.count("polygon of several parts") == 1 and not rep.lossless
    assert "<mask " in (tmp_path / "v" / "annotations.xml").read_text()


def _xml(body: str, meta: str = "<meta><task><labels><label><name>c</name></label></labels></task></meta>") -> str:
    return f'<?xml version="1.0"?>\n<annotations><version>1.1</version>{meta}{body}</annotations>'


@pytest.mark.parametrize(("body", "where", "message"), [
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="c" xtl="1" ytl="1" xbr="x" ybr="2"/></image>',
     "image[0].box[0].xbr", "finite number"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="c" xtl="5" ytl="1" xbr="2" ybr="2"/></image>',
     "image[0].box[0]", "xbr < xtl"),
    ('<image id="0" name="a.jpg" width="10" height="10"><polygon label="c" points="1,2;3"/></image>',
     "image[0].polygon[0].points point 1", "x,y"),
    ('<image id="0" name="a.jpg" width="10" height="10"><mask label="c" rle="1, 2" left="0" top="0" width="2" '
     'height="2"/></image>', "image[0].mask[0].rle", "cover 3 pixels"),
    ('<image id="0" name="a.jpg" width="10" height="10"><mask label="c" rle="4" left="9" top="0" width="2" '
     'height="2"/></image>', "image[0].mask[0]", "leaves"),
    ('<image id="0" name="a.jpg" width="-3" height="10"></image>', "image[0].width", "integer"),
    ('<image id="0" width="3" height="10"></image>', "image[0].name", "missing"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box xtl="1" ytl="1" xbr="2" ybr="2"/></image>',
     "image[0].box[0]", "without a label"),
    ('<track id="0" label="c"></track>', "track", "CVAT for video"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="c" xtl="1" ytl="1" xbr="2" ybr="2"></image>',
     "line 2", "invalid XML"),
])
def test_bad_files_are_one_format_error_naming_file_and_place(tmp_path: Path, body: str, where: str,
                                                              message: str) -> None:
    p = tmp_path / "bad.xml"
    p.write_text(_xml(body))
    with pytest.raises(FormatError) as exc:
        read_dataset(p, "cvat")
    assert exc.value.path is not None and exc.value.path.endswith("bad.xml")
    assert (exc.value.where or "").startswith(where), exc.value
    assert message in exc.value.message, exc.value
    assert any(pr.level == "error" and pr.where == exc.value.where for pr in validate(p, "cvat"))


def test_hostile_xml_is_refused(tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
            '<annotations><image id="0" name="&lol2;" width="1" height="1"/></annotations>')
    (tmp_path / "bomb.xml").write_text(bomb)
    with pytest.raises(FormatError, match="DOCTYPE"):
        read_cvat(tmp_path / "bomb.xml")
    ext = ('<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
           '<annotations><image id="0" name="&x;" width="1" height="1"/></annotations>')
    (tmp_path / "ext.xml").write_text(ext)
    with pytest.raises(FormatError, match="DOCTYPE"):
        read_cvat(tmp_path / "ext.xml")


def test_undeclared_labels_are_appended_and_ids_that_repeat_are_renumbered(tmp_path: Path) -> None:
    (tmp_path / "train.xml").write_text(_xml('<image id="0" name="a.jpg" width="4" height="4">'
                                             '<box label="new" xtl="0" ytl="0" xbr="1" ybr="1"/></image>'))
    (tmp_path / "val.xml").write_text(_xml('<image id="0" name="b.jpg" width="4" height="4"></image>'))
    rec = LossRecorder()
    ds = read_cvat(tmp_path, recorder=rec)
    assert ds.categories.names == ["c", "new"]
    assert ds.images.ids.tolist() == [0, 1] and [e["cvat_id"] for e in ds.images.extras] == [0, 0]
    assert rec.report().entries[0].kept_in == "cvat_id"
    issues = validate(tmp_path, "cvat")
    assert any(p.level == "warning" and "'new'" in p.message for p in issues)


def test_cli_convert_validate_stats(tmp_path: Path, capsys) -> None:
    assert run_cli(cli, ["convert", "--from", "cvat", str(DATA), str(tmp_path / "o.json")]) == 0
    assert "cvat -> coco" in capsys.readouterr().out
    assert run_cli(cli, ["stats", "--from", "cvat", str(DATA)]) == 0
    assert "5 objects" in capsys.readouterr().out
    shutil.copytree(DATA, tmp_path / "bad", ignore=shutil.ignore_patterns("images"))
    p = tmp_path / "bad" / "annotations.xml"
    p.write_text(p.read_text().replace('xbr="20.25"', 'xbr="1e999"'))
    assert run_cli(cli, ["convert", "--from", "cvat", str(tmp_path / "bad"), str(tmp_path / "o2.json")]) == 2
    err = capsys.readouterr().err
    assert "annotations.xml" in err and "xbr" in err and "Traceback" not in err
    assert not (tmp_path / "o2.json").exists()


def test_cvat_s_own_project_export(refdata) -> None:
    """A project CVAT itself exported (datumaro's test asset; in ../shared/refdata when it has been added there):
    three subsets whose image ids repeat, polylines and points kept per image."""
    root = refdata.path("formats", "datumaro", "cvat_dataset", "for_images")
    rec = LossRecorder()
    ds = read_cvat(root / "export_project", recorder=rec)
    assert len(ds.images) == 6 and ds.categories.names == ["label1", "label2"]
    assert [e["subset"] for e in ds.images.extras] == ["Test", "Test", "Train", "Train", "Validation", "Validation"]
    assert rec.report().entries[0].kept_in == "cvat_id"
    assert ds.annotations.boxes.tolist()[:2] == [[0.0, 2.0, 4.0, 4.0], [1.0, 2.0, 6.0, 5.0]]
    with pytest.raises(FormatError, match="CVAT for video"):
        read_cvat(root.parent / "for_video")


def test_skeletons_and_ellipses_are_written_back_whole(tmp_path: Path) -> None:
    body = ('<image id="3" name="a.jpg" width="10" height="10">'
            '<ellipse label="c" source="manual" occluded="0" cx="5" cy="5" rx="2" ry="1" z_order="0"/>'
            '<skeleton label="c" source="manual" z_order="0"><points label="nose" occluded="0" outside="0" '
            'points="1.5,2.5"><attribute name="v">x &amp; y</attribute></points><points label="eye" outside="1" '
            'points="2,3"/></skeleton></image>')
    (tmp_path / "a.xml").write_text(_xml(body))
    ds = read_cvat(tmp_path / "a.xml")
    assert [s["type"] for s in ds.images.extras[0]["cvat_shapes"]] == ["ellipse", "skeleton"]
    write_dataset(ds, tmp_path / "out", "cvat", sidecar=False)
    back = read_cvat(tmp_path / "out")
    assert back.images.extras == ds.images.extras and back.images.ids.tolist() == [3]
