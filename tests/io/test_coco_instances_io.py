"""COCO instances/results I/O: round trips (property-tested) and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as cmask

from annokit.io.coco import (
    dataset_from_coco_dict,
    dataset_to_coco_dict,
    ltrb_to_coco_bbox,
    read_instances,
    read_results,
    write_instances,
    write_results,
)

coord = st.one_of(
    st.integers(0, 5000).map(float),
    st.floats(0, 5000, allow_nan=False, allow_infinity=False),
    st.decimals(0, 5000, places=2).map(float),
)


@st.composite
def coco_dicts(draw) -> dict:
    n_img = draw(st.integers(1, 4))
    images = [{"id": 10 * i + 3, "file_name": f"img {i}.jpg", "height": draw(st.integers(1, 300)),
               "width": draw(st.integers(1, 300)), **({"license": 2} if draw(st.booleans()) else {})}
              for i in range(n_img)]
    cats = [{"id": c, "name": f"n{c}", "supercategory": "thing"} for c in draw(
        st.lists(st.integers(1, 90), min_size=1, max_size=4, unique=True))]
    anns = []
    for j in range(draw(st.integers(0, 8))):
        im = draw(st.sampled_from(images))
        x, y, w, h = draw(coord), draw(coord), draw(coord), draw(coord)
        ann = {"id": j + 1, "image_id": im["id"], "category_id": draw(st.sampled_from(cats))["id"],
               "bbox": [x, y, w, h], "area": draw(coord), "iscrowd": draw(st.integers(0, 1))}
        kind = draw(st.sampled_from(["none", "poly", "multipoly", "rle", "urle"]))
        H, W = im["height"], im["width"]
        if kind in ("poly", "multipoly"):
            polys = []
            for _ in range(1 if kind == "poly" else draw(st.integers(2, 3))):
                n = draw(st.integers(3, 6))
                polys.append([draw(coord) for _ in range(2 * n)])
            ann["segmentation"] = polys
        elif kind in ("rle", "urle"):
            m = np.zeros((H, W), np.uint8)
            m[: H // 2, : W // 3] = 1
            if kind == "rle":
                r = cmask.encode(np.asfortranarray(m))
                ann["segmentation"] = {"size": [H, W], "counts": r["counts"].decode()}
            else:
                flat = m.ravel(order="F")
                runs, cur, val = [], 0, 0
                for v in flat:
                    if v == val:
                        cur += 1
                    else:
                        runs.append(cur)
                        cur, val = 1, v
                runs.append(cur)
                ann["segmentation"] = {"size": [H, W], "counts": runs}
        if draw(st.booleans()):
            ann["attributes"] = {"occluded": draw(st.booleans())}
        anns.append(ann)
    return {"info": {"year": 2024}, "licenses": [{"id": 2, "name": "cc"}], "images": images, "annotations": anns,
            "categories": cats}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coco_dicts())
def test_instances_round_trip(tmp_path_factory, d: dict) -> None:
    path = tmp_path_factory.mktemp("rt") / "gt.json"
    path.write_bytes(orjson.dumps(d))
    ds = read_instances(path)
    out = tmp_path_factory.mktemp("rt") / "out.json"
    write_instances(ds, out)
    back = json.loads(out.read_text())
    assert back == json.loads(path.read_text())
    # and the typed model agrees with the file
    assert len(ds.annotations) == len(d["annotations"])
    ltrb = ds.annotations.boxes
    for i, a in enumerate(d["annotations"]):
        x, y, w, h = a["bbox"]
        assert ltrb[i].tolist() == [x, y, x + w, y + h]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(coord, coord), min_size=1, max_size=20))
def test_width_recovery_without_source(pairs) -> None:
    """With no source widths, the written width still gives back the same right edge."""
    xs = np.array([p[0] for p in pairs])
    ws = np.array([p[1] for p in pairs])
    ltrb = np.stack([xs, xs, xs + ws, xs + ws], 1)
    xywh = ltrb_to_coco_bbox(ltrb)
    assert (xywh[:, 0] + xywh[:, 2] == ltrb[:, 2]).all()


def test_short_decimals_written_as_given() -> None:
    ltrb = np.array([[389.84, 183.92, 389.84 + 8.02, 183.92 + 26.87]])
    assert ltrb_to_coco_bbox(ltrb).tolist() == [[389.84, 183.92, 8.02, 26.87]]


def test_results_round_trip(tmp_path: Path) -> None:
    gt = dataset_from_coco_dict({"images": [{"id": 1, "file_name": "a", "height": 10, "width": 10}],
                                 "categories": [{"id": 1, "name": "a"}], "annotations": []})
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0.1, 0.2, 3.3, 4.4], "score": 0.25},
            {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]
    inst = read_results(dets, gt)
    write_results(inst, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == dets


def test_write_is_atomic(tmp_path: Path) -> None:
    from annokit._internal.files import atomic_path

    target = tmp_path / "gt.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a datas")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["gt.json"]  # no temp file left behind
    gt = dataset_from_coco_dict({"images": [{"id": 1, "file_name": "a", "height": 10, "width": 10}],
                                 "categories": [{"id": 1, "name": "a"}], "annotations": []})
    write_instances(gt, target)
    assert dataset_to_coco_dict(read_instances(target))["images"][0]["id"] == 1


def test_results_of_unknown_category_warn_and_are_not_scored() -> None:
    from annokit.errors import AnnokitWarning
    from annokit.metrics.coco import evaluate

    gt = dataset_from_coco_dict({"images": [{"id": 1, "file_name": "a", "height": 10, "width": 10}],
                                 "categories": [{"id": 1, "name": "a"}],
                                 "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4],
                                                  "area": 16, "iscrowd": 0}]})
    dets = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5},
            {"image_id": 1, "category_id": 99, "bbox": [0, 0, 4, 4], "score": 0.9}]
    with pytest.warns(AnnokitWarning, match=r"1 detections have a category id not in the ground truth"):
        inst = read_results(dets, gt)
    assert evaluate(gt, inst).stats[0] == pytest.approx(1.0)  # the category-99 detection is no false positive
