"""Round trips through the annotation-tool formats (LabelMe, CVAT, CreateML): COCO -> X -> COCO is exact with the
sidecar; without it, the loss report counts what the format could not hold."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annokit.convert import convert
from tests.convert._strategies import coco_dicts
from tests.convert.test_roundtrip import _roundtrip

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FORMATS = ["cvat", "createml", "labelme"]


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(d=coco_dicts())
def test_coco_roundtrip_is_exact_with_sidecar(tmp_path: Path, fmt: str, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, fmt)
    assert back == d
    assert rep.lossless, rep.text()


# ----------------------------------------------------------------------------------------------- X -> COCO -> X
_COORD = st.one_of(st.integers(0, 60).map(float), st.integers(0, 6000).map(lambda v: v / 100),
                   st.floats(0, 60, allow_nan=False))
_POINT = st.tuples(_COORD, _COORD).map(list)
_LABELS = st.sampled_from(["cat", "dog", "tv/monitor", "a b"])


@st.composite
def labelme_shape(draw: st.DrawFn) -> dict:
    t = draw(st.sampled_from(["polygon", "rectangle", "circle", "oriented_rectangle", "point", "line", "linestrip"]))
    n = {"polygon": draw(st.integers(3, 6)), "rectangle": 2, "circle": 2, "oriented_rectangle": 4, "point": 1,
         "line": 2, "linestrip": draw(st.integers(2, 4))}[t]
    shape = {"label": draw(_LABELS), "points": draw(st.lists(_POINT, min_size=n, max_size=n)),
             "group_id": draw(st.one_of(st.none(), st.integers(0, 2))), "description": draw(st.sampled_from(["", "x"])),
             "shape_type": t, "flags": draw(st.sampled_from([{}, {"truncated": True}]))}
    if draw(st.booleans()):
        shape["note"] = draw(st.integers(0, 9))
    return shape


@SETTINGS
@given(docs=st.lists(st.lists(labelme_shape(), max_size=5), min_size=1, max_size=3),
       flags=st.sampled_from([{}, {"night": True}]))
def test_labelme_to_coco_to_labelme_keeps_every_shape(tmp_path: Path, docs: list, flags: dict) -> None:
    src = tmp_path / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    for k, shapes in enumerate(docs):
        doc = {"version": "5.5.0", "flags": flags, "shapes": shapes, "imagePath": f"im{k}.jpg", "imageData": None,
               "imageHeight": 64, "imageWidth": 64}
        (src / f"im{k}.json").write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert(src, tmp_path / "c.json", src_format="labelme", dst_format="coco", overwrite=True)
        convert(tmp_path / "c.json", tmp_path / "back", src_format="coco", dst_format="labelme", overwrite=True,
                sidecar=False)
    for k, shapes in enumerate(docs):
        back = json.loads((tmp_path / "back" / f"im{k}.json").read_text())
        other = [s for s in shapes if s["shape_type"] in ("point", "line", "linestrip")]
        # objects first, grouped: shapes of one (label, group) together, in order of first appearance; then the rest
        groups: dict = {}
        for s in shapes:
            if s not in other:
                groups.setdefault((s["label"], s["group_id"]) if s["group_id"] is not None else id(s), []).append(s)
        want = [s for g in groups.values() for s in g] + other
        assert back["shapes"] == want
        assert back["flags"] == flags


@SETTINGS
@given(objs=st.lists(st.tuples(st.sampled_from(["box", "polygon"]), st.lists(_POINT, min_size=3, max_size=5),
                               st.integers(0, 1), st.integers(-1, 3)), max_size=6))
def test_cvat_to_coco_to_cvat_keeps_every_shape(tmp_path: Path, objs: list) -> None:
    from annokit.io.cvat import read_cvat

    lines = ['<?xml version="1.0"?>', "<annotations><version>1.1</version>",
             "<meta><task><labels><label><name>a</name></label><label><name>b</name></label></labels></task></meta>",
             '<image id="4" name="x.jpg" width="64" height="64">']
    for t, pts, occ, z in objs:
        lab = "ab"[occ]
        if t == "box":
            (x1, y1), (x2, y2) = sorted(pts[:2])[0], sorted(pts[:2])[1]
            lines.append(f'<box label="{lab}" occluded="{occ}" xtl="{x1!r}" ytl="{min(y1, y2)!r}" xbr="{x2!r}" '
                         f'ybr="{max(y1, y2)!r}" z_order="{z}"><attribute name="k">v{z}</attribute></box>')
        else:
            p = ";".join(f"{x!r},{y!r}" for x, y in pts)
            lines.append(f'<polygon label="{lab}" occluded="{occ}" points="{p}" z_order="{z}"/>')
    lines += ["</image>", "</annotations>"]
    (tmp_path / "a.xml").write_text("\n".join(lines))
    rep = convert(tmp_path / "a.xml", tmp_path / "c.json", src_format="cvat", dst_format="coco", overwrite=True)
    convert(tmp_path / "c.json", tmp_path / "back", src_format="coco", dst_format="cvat", overwrite=True,
            sidecar=False)
    a, b = read_cvat(tmp_path / "a.xml"), read_cvat(tmp_path / "back")
    # a box edge that no COCO x + w reaches comes back 1 ulp off: the rounding of that sum, not a loss; a larger
    # change would be counted on the way to COCO
    bb, bk = a.annotations.boxes, b.annotations.boxes
    off = (np.abs(bb - bk) > 4 * np.spacing(np.maximum(np.abs(bb), np.abs(bb[:, [2, 3, 2, 3]] - bb[:, [0, 1, 0, 1]]))))
    assert rep.count("box edge not exactly representable as COCO x + w") >= int(off.any(axis=1).sum())
    assert np.allclose(a.annotations.boxes, b.annotations.boxes, rtol=1e-15, atol=1e-15)
    assert a.annotations.segmentations == b.annotations.segmentations
    assert a.annotations.extras == b.annotations.extras
    assert a.categories.names == b.categories.names and a.images.ids.tolist() == b.images.ids.tolist() == [4]


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(d=coco_dicts())
def test_without_sidecar_boxes_come_back_and_ids_are_counted(tmp_path: Path, fmt: str, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, fmt, sidecar=False)
    assert len(back["images"]) == len(d["images"])  # empty images kept
    assert rep.count("annotation ids") == len(d["annotations"])
    assert rep.count("image ids") == (0 if fmt == "cvat" else len(d["images"]))  # CVAT keeps them
    # every box comes back (up to the float rounding a centre costs, which is counted)
    def boxes(dd: dict) -> list:
        fn = {im["id"]: im["file_name"] for im in dd["images"]}
        return sorted(((fn[a["image_id"]], *a["bbox"]) for a in dd["annotations"]),
                      key=lambda p: (p[0], *(round(v, 6) for v in p[1:])))  # 1-ulp differences keep the order

    b1, b2 = boxes(d), boxes(back)
    assert len(b1) == len(b2)
    if fmt == "createml":
        assert all(abs(x - y) <= 1e-9 for p, q in zip(b1, b2) for x, y in zip(p[1:], q[1:]))
    else:  # the edges of boxes without a mask come back exactly; a COCO w that r - l does not give is counted
        def edges(dd: dict, plain: bool) -> list:
            fn = {im["id"]: im["file_name"] for im in dd["images"]}
            return sorted((fn[a["image_id"]], a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                           a["bbox"][1] + a["bbox"][3]) for a in dd["annotations"]
                          if not plain or "segmentation" not in a)

        assert set(edges(d, True)) <= set(edges(back, False))
        fn = {im["id"]: im["file_name"] for im in d["images"]}
        plain = [(fn[a["image_id"]], *a["bbox"]) for a in d["annotations"] if "segmentation" not in a]
        assert rep.count("COCO width/height spelling") >= sum(1 for p in plain if p not in b2)
