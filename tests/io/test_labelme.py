"""LabelMe JSON: read as labelme's own labelme2coco converts it (goldens made by running labelme2coco, see
tests/io/oracles/README.md), written back shape for shape, bad files refused with the file and the place."""

from __future__ import annotations

import base64
import io
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import convert, read_dataset, validate, write_dataset
from annokit.core.losses import LossRecorder
from annokit.core.masks import rle_to_bitmap
from annokit.errors import FormatError
from annokit.io.labelme import circle_polygon, read_labelme, read_labelme_keyed

DATA = Path(__file__).parent / "data" / "labelme"
GOLDEN = Path(__file__).parent / "data" / "labelme_golden" / "labelme2coco.json"


def _coco(tmp: Path, src: Path, **read: object) -> dict:
    convert(src, tmp / "out.json", src_format="labelme", dst_format="coco", read_options=read, overwrite=True)
    return orjson.loads((tmp / "out.json").read_bytes())


def test_segmentations_categories_and_groups_are_labelme2coco_s(tmp_path: Path) -> None:
    ref = json.loads(GOLDEN.read_text())
    ours = _coco(tmp_path, DATA)
    assert [(c["id"], c["name"]) for c in ours["categories"]] == [(c["id"], c["name"]) for c in ref["categories"]]
    assert [Path(i["file_name"]).stem for i in ours["images"]] == [Path(i["file_name"]).stem for i in ref["images"]]
    assert len(ours["annotations"]) == len(ref["annotations"]) == 9
    for a, b in zip(ours["annotations"], ref["annotations"]):
        assert a["segmentation"] == b["segmentation"]  # rectangles, circles, groups: the same floats
        assert a["category_id"] == b["category_id"]


def test_raster_boxes_give_labelme2coco_s_boxes_and_areas_exactly(tmp_path: Path) -> None:
    ref = json.loads(GOLDEN.read_text())
    ours = _coco(tmp_path, DATA, raster_boxes=True)
    assert [a["bbox"] for a in ours["annotations"]] == [b["bbox"] for b in ref["annotations"]]
    assert [a["area"] for a in ours["annotations"]] == [b["area"] for b in ref["annotations"]]


def test_default_boxes_are_the_exact_extent_of_the_geometry() -> None:
    ds = read_labelme(DATA)
    by_key = {(int(i), tuple(b)) for i, b in zip(ds.annotations.image_ids, ds.annotations.boxes.tolist())}
    street = int(ds.images.ids[ds.images.file_names.index("street.png")])
    assert (street, (30.0, 20.5, 50.5, 40.25)) in by_key  # the rectangle, its corners sorted
    r = float(np.hypot(3.5, 2))
    assert (street, (12 - r, 40 - r, 12 + r, 40 + r)) in by_key  # the circle, not its 12-gon
    assert circle_polygon(12, 40, 15.5, 42)[:2] == [12 + r, 40.0]


def test_labelme_to_coco_to_labelme_gives_the_same_shapes(tmp_path: Path) -> None:
    convert(DATA, tmp_path / "c.json", src_format="labelme", dst_format="coco")
    rep = convert(tmp_path / "c.json", tmp_path / "back", src_format="coco", dst_format="labelme", sidecar=False)
    for name in ("street.json", "park.json"):
        a, b = json.loads((DATA / name).read_text()), json.loads((tmp_path / "back" / name).read_text())
        assert b["shapes"] == a["shapes"]
        assert b["flags"] == a["flags"] and b["imagePath"] == a["imagePath"]
        assert (b["imageHeight"], b["imageWidth"]) == (a["imageHeight"], a["imageWidth"])
    assert json.loads((tmp_path / "back" / "park.json").read_text())["source"] == "hand-made"
    assert (tmp_path / "back" / "labels.txt").read_text() == (DATA / "labels.txt").read_text()
    assert rep.count("object areas") == 9  # measured again on reading: named, not silently changed


def test_embedded_image_is_counted_and_sizes_come_from_it(tmp_path: Path) -> None:
    doc = json.loads((DATA / "park.json").read_text())
    del doc["imageHeight"], doc["imageWidth"]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    rec = LossRecorder()
    ds = read_labelme(tmp_path / "p.json", recorder=rec)
    assert (int(ds.images.heights[0]), int(ds.images.widths[0])) == (30, 40)
    assert rec.report().count("embedded image") == 1


def _mask_b64(m: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(m).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _doc(shapes: list[dict], **top: object) -> dict:
    return {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "x.png", "imageData": None,
            "imageHeight": 20, "imageWidth": 30, **top}


def _shape(label: str, pts: list, t: str, **kw: object) -> dict:
    return {"label": label, "points": pts, "group_id": None, "description": "", "shape_type": t, "flags": {}, **kw}


def test_masks_points_and_lines(tmp_path: Path) -> None:
    patch = np.zeros((4, 5), dtype=bool)
    patch[1:3, 1:4] = True
    shapes = [_shape("blob", [[10, 6], [14, 9]], "mask", mask=_mask_b64(patch)),
              _shape("kp", [[3, 4]], "point"), _shape("edge", [[0, 0], [5, 5]], "line"),
              _shape("edge", [[0, 0], [5, 5], [9, 1]], "linestrip"), _shape("kp", [[1, 1], [2, 2]], "points")]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.json").write_text(json.dumps(_doc(shapes)))
    rec = LossRecorder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds, keys = read_labelme_keyed(tmp_path / "src", recorder=rec)
    assert keys == ["x.json"] and len(ds.annotations) == 1
    m = rle_to_bitmap(ds.annotations.segmentations[0])
    assert m.sum() == 6 and m[7:9, 11:14].all()
    assert ds.annotations.boxes[0].tolist() == [11, 7, 14, 9]
    assert len(ds.images.extras[0]["labelme_shapes"]) == 4
    assert any("labelme_shapes" in w for w in rec.report().warnings)
    write_dataset(ds, tmp_path / "back", "labelme", sidecar=False)
    back = json.loads((tmp_path / "back" / "x.json").read_text())
    assert [s["shape_type"] for s in back["shapes"]] == ["mask", "point", "line", "linestrip", "points"]
    assert back["shapes"][0]["points"] == [[11.0, 7.0], [13.0, 8.0]]  # the tight crop, inclusive corners
    ds2 = read_labelme(tmp_path / "back")
    assert ds2.annotations.segmentations == ds.annotations.segmentations


def test_labels_txt_without_ignore_numbers_from_one_and_appends_the_rest(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps(_doc([_shape("b", [[1, 1], [4, 4]], "rectangle"),
                                                      _shape("z", [[1, 1], [4, 4]], "rectangle")])))
    (tmp_path / "labels.txt").write_text("a\nb\n")
    rec = LossRecorder()
    ds = read_labelme(tmp_path, recorder=rec)
    assert list(zip(ds.categories.ids.tolist(), ds.categories.names)) == [(1, "a"), (2, "b"), (3, "z")]
    assert any("'z'" in w for w in rec.report().warnings)


def test_other_json_files_in_the_folder_are_counted_not_read(tmp_path: Path) -> None:
    shutil.copy(DATA / "street.json", tmp_path / "street.json")
    shutil.copy(DATA / "street.png", tmp_path / "street.png")
    (tmp_path / "config.json").write_text('{"lr": 0.1}')
    rec = LossRecorder()
    ds = read_labelme(tmp_path, recorder=rec)
    assert len(ds.images) == 1 and rec.report().count("JSON files that are not LabelMe") == 1


@pytest.mark.parametrize(("shapes", "top", "where", "message"), [
    ([_shape("a", [[1, 1]], "rectangle")], {}, "shapes[0]", "exactly 2 points"),
    ([_shape("a", [[1, 1], [2, "BIG"]], "rectangle")], {}, "line 1", "infinity"),
    ([_shape("a", [[1, 1], [2, 2]], "hexagon")], {}, "shapes[0].shape_type", ""),
    ([_shape("a", [[1, 1], [2, 2]], "mask", mask="not base64!")], {}, "shapes[0].mask", "base64"),
    ([_shape(3, [[1, 1], [2, 2]], "rectangle")], {}, "shapes[0].label", "string"),
    ([], {"imageHeight": -4}, "imageHeight", ""),
    ([_shape("a", [[1, 1], [2, 2]], "rectangle", group_id="g")], {}, "shapes[0].group_id", ""),
])
def test_bad_files_are_one_format_error_naming_file_and_place(tmp_path: Path, shapes: list, top: dict, where: str,
                                                              message: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(_doc(shapes, **top)).replace('"BIG"', "1e400"))
    with pytest.raises(FormatError) as exc:
        read_dataset(p, "labelme")
    assert exc.value.path is not None and exc.value.path.endswith("bad.json")
    assert exc.value.where is not None and exc.value.where.startswith(where), exc.value
    assert message in exc.value.message
    problems = validate(p, "labelme")
    assert any(pr.level == "error" and pr.where == exc.value.where for pr in problems)


def test_missing_size_without_image_and_broken_json(tmp_path: Path) -> None:
    doc = _doc([])
    del doc["imageHeight"]
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="imageHeight"):
        read_labelme(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"shapes": [')
    with pytest.raises(FormatError) as exc:
        read_labelme(tmp_path / "b.json")
    assert "b.json" in str(exc.value)


def test_cli_convert_validate_stats(tmp_path: Path, capsys) -> None:
    assert run_cli(cli, ["convert", "--from", "labelme", str(DATA), str(tmp_path / "o.json"),
                         "--labelme-raster-boxes"]) == 0
    assert "labelme -> coco" in capsys.readouterr().out
    assert run_cli(cli, ["stats", "--from", "labelme", str(DATA)]) == 0
    assert "9 objects" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text(json.dumps(_doc([_shape("a", [[1, 1]], "circle")])))
    assert run_cli(cli, ["convert", "--from", "labelme", str(tmp_path / "bad.json"), str(tmp_path / "o2.json")]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "shapes[0]" in err and "Traceback" not in err
    assert not (tmp_path / "o2.json").exists()
