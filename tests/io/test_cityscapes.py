"""Cityscapes: PNGs drawn exactly as the official scripts draw them (cityscapesscripts as the oracle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annokit.convert import convert, read_dataset
from annokit.errors import FormatError
from annokit.io.cityscapes import LABELS, read_cityscapes, render_instance_ids, render_label_ids

NAMES = [lab.name for lab in LABELS] + ["cargroup", "persongroup"]


@st.composite
def polygon_docs(draw) -> dict:
    h, w = draw(st.integers(4, 40)), draw(st.integers(4, 40))
    objs = []
    for _ in range(draw(st.integers(0, 6))):
        n = draw(st.integers(3, 7))
        pts = [[draw(st.integers(-3, w + 3)), draw(st.integers(-3, h + 3))] for _ in range(n)]
        o = {"label": draw(st.sampled_from(NAMES)), "polygon": pts}
        if draw(st.integers(0, 9)) == 0:
            o["deleted"] = 1
        objs.append(o)
    return {"imgHeight": h, "imgWidth": w, "objects": objs}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=polygon_docs())
def test_render_equals_official_scripts(tmp_path: Path, doc: dict) -> None:
    pytest.importorskip("cityscapesscripts")
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import createLabelImage

    p = tmp_path / "x_gtFine_polygons.json"
    p.write_bytes(orjson.dumps(doc))
    ann = Annotation()
    ann.fromJsonFile(str(p))
    for enc in ("ids", "trainIds"):
        np.testing.assert_array_equal(render_label_ids(doc, encoding=enc), np.asarray(createLabelImage(ann, enc)))
        np.testing.assert_array_equal(render_instance_ids(doc, encoding=enc),
                                      np.asarray(createInstanceImage(ann, enc)).astype(np.int32))


def test_written_pngs_read_back_as_the_same_pixels(tmp_path: Path) -> None:
    doc = {"imgHeight": 20, "imgWidth": 30, "objects": [
        {"label": "road", "polygon": [[0, 10], [29, 10], [29, 19], [0, 19]]},
        {"label": "car", "polygon": [[2, 2], [12, 2], [12, 9], [2, 9]]},
        {"label": "car", "polygon": [[14, 3], [20, 3], [20, 8]]},
        {"label": "persongroup", "polygon": [[22, 1], [28, 1], [28, 6], [22, 6]]}]}
    gt = tmp_path / "cs" / "gtFine" / "val" / "city"
    gt.mkdir(parents=True)
    (gt / "city_000000_000001_gtFine_polygons.json").write_bytes(orjson.dumps(doc))
    ds = read_cityscapes(tmp_path / "cs")
    assert ds.annotations.labels.tolist() == [7, 26, 26, 24]
    assert ds.annotations.iscrowd.tolist() == [False, False, False, True]
    assert ds.images.extras[0] == {"split": "val"} and ds.images.hw_of(1) == (20, 30)
    convert(tmp_path / "cs", tmp_path / "out", src_format="cityscapes", dst_format="cityscapes")
    out = tmp_path / "out" / "gtFine" / "val" / "city"
    from annokit.io.png import read_label_png

    inst = read_label_png(out / "city_000000_000001_gtFine_instanceIds.png")
    np.testing.assert_array_equal(inst, render_instance_ids(doc))
    assert set(np.unique(inst).tolist()) == {0, 7, 24, 26000, 26001}
    lab = read_label_png(out / "city_000000_000001_gtFine_labelIds.png")
    np.testing.assert_array_equal(lab, render_label_ids(doc))
    # reading the PNG form alone gives the same instances (pixels as drawn)
    (out / "city_000000_000001_gtFine_polygons.json").unlink()
    (tmp_path / "out" / "annokit.json").unlink(missing_ok=True)
    png = read_dataset(tmp_path / "out", "cityscapes")
    assert sorted(png.annotations.labels.tolist()) == [7, 24, 26, 26]
    assert png.annotations.iscrowd[png.annotations.labels == 24].all()


def test_datumaro_cityscapes_pngs(refdata) -> None:
    ds = read_cityscapes(refdata.path("formats", "datumaro", "cityscapes_dataset", "train_dataset"))
    assert len(ds.images) == 4 and 27 in ds.annotations.labels.tolist()
    assert ds.categories.names[7] == "road" and ds.categories.ids[7] == 7


def test_bad_polygon_json(tmp_path: Path) -> None:
    gt = tmp_path / "gtFine" / "train" / "c"
    gt.mkdir(parents=True)
    (gt / "c_0_0_gtFine_polygons.json").write_text('{"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "car", '
                                                   '"polygon": [[0, "x"]]}]}')
    with pytest.raises(FormatError, match="polygon"):
        read_cityscapes(tmp_path)
    (gt / "c_0_0_gtFine_polygons.json").write_text('{"imgHeight": 100000, "imgWidth": 100000, "objects": []}')
    with pytest.raises(FormatError, match="pixel limit"):
        read_cityscapes(tmp_path)


def test_sidecar_is_used_and_dropped_classes_are_lost(tmp_path: Path) -> None:
    """The Cityscapes reader lists the whole label table; the sidecar still applies when the objects' classes map
    to its categories (it was ignored whenever the source's classes were not exactly Cityscapes'), and objects of
    other classes, which the JSON cannot hold and reading back cannot restore, are counted as lost, not as kept."""
    import warnings

    from annokit.convert import convert, read_dataset

    scenes = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"
    rep = convert(scenes / "gt.json", tmp_path / "cs", src_format="coco", dst_format="cityscapes",
                  remap={"circle": "car"})
    entry = next(e for e in rep.entries if e.kind.startswith("objects of classes Cityscapes does not have"))
    assert entry.kept_in is None and not rep.lossless
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = read_dataset(tmp_path / "cs", "cityscapes")
    assert not any("categories differ" in str(w.message) for w in caught)
    gt = read_dataset(scenes / "gt.json", "coco")
    assert back.categories.names == ["car", "square", "triangle"] and back.categories.ids.tolist() == [1, 2, 3]
    assert sorted(back.images.ids.tolist()) == sorted(gt.images.ids.tolist())
    assert set(back.annotations.labels.tolist()) == {1}
