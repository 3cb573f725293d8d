"""COCO -> X -> COCO with the sidecar, for every folder target: the read-back equals the source in everything the
write report says is kept (no object changed, none invented), and every object that does not come back is counted
in the report as lost. Cityscapes, which leaves out what its JSON cannot hold, is checked item by item."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from annokit.convert import convert
from annokit.core.losses import LossReport

SCENES = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"


@dataclass(frozen=True)
class RoundTrip:
    """What came back: the COCO dict read back, the write report, the source objects that did not come back
    (``missing``), and the ones that came back different (``changed``) or were not in the source (``invented``)."""

    back: dict[str, Any]
    report: LossReport
    missing: list[int]
    changed: list[int]
    invented: list[int]


def round_trip(tmp: Path, d: dict[str, Any], fmt: str, **write_options: Any) -> RoundTrip:
    """Write ``d`` (COCO) as ``fmt`` with the sidecar, read it back to COCO, and compare object by object (by id)."""
    src = tmp / "in.json"
    src.write_bytes(orjson.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = convert(src, tmp / fmt, src_format="coco", dst_format=fmt, overwrite=True,
                      write_options=write_options or None)
        convert(tmp / fmt, tmp / "back.json", src_format=fmt, dst_format="coco", overwrite=True)
    back = orjson.loads((tmp / "back.json").read_bytes())
    by_id = {a["id"]: a for a in d["annotations"]}
    got = {a["id"]: a for a in back["annotations"]}
    return RoundTrip(back, rep, sorted(set(by_id) - set(got)),
                     sorted(i for i, a in got.items() if i in by_id and by_id[i] != a),
                     sorted(set(got) - set(by_id)))


def check_round_trip(rt: RoundTrip, d: dict[str, Any]) -> None:
    """The property: images, categories and every object that came back are the source's; what did not come back
    is counted as lost; a report with no loss gives back the source exactly."""
    assert rt.changed == [] and rt.invented == [], (rt.changed[:5], rt.invented[:5], rt.report.text())
    src_images = {im["id"]: im for im in d["images"]}
    assert all(src_images.get(im["id"]) == im for im in rt.back["images"]), rt.report.text()
    assert rt.back["categories"] == d["categories"], rt.report.text()
    assert rt.back.get("info") == d.get("info"), rt.report.text()
    lost = sum(e.count for e in rt.report.losses)
    assert len(rt.missing) + len(d["images"]) - len(rt.back["images"]) <= lost, (rt.missing[:5], rt.report.text())
    if rt.report.lossless:
        assert rt.back == d, rt.report.text()


# ----------------------------------------------------------------------------------------------- data
def _poly(rng: np.random.Generator, w: int, h: int, n: int) -> list[float]:
    cx, cy = rng.uniform(10, w - 10), rng.uniform(10, h - 10)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(3, 9, n)
    return np.round(np.c_[cx + r * np.cos(ang), cy + r * np.sin(ang)].reshape(-1), 2).tolist()


def synthetic(seed: int, *, names: tuple[str, ...] = ("car", "person", "road", "dog", "license plate"),
              n_images: int = 12) -> tuple[dict[str, Any], set[int]]:
    """A seeded COCO set with what Cityscapes cannot hold (classes it does not have, license plates, RLE crowds,
    objects without a polygon) and what it holds differently (multi-part polygons, polygons of zero area,
    crowds of a class without instances, boxes that are not the polygon's extent), some images left
    with no object Cityscapes can hold, one empty. Also returns the ids Cityscapes cannot hold."""
    rng = np.random.default_rng(seed)
    cats = [{"id": 3 * k + 2, "name": n, "supercategory": "s"} for k, n in enumerate(names)]
    images, anns, not_held = [], [], set()
    aid = 100
    for i in range(n_images):
        w, h = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        images.append({"id": 10 + i, "file_name": f"city/c_{i:06d}_000019.png", "height": h, "width": w,
                       **({"license": 1} if i % 3 == 0 else {})})
        for _ in range(0 if i == 0 else int(rng.integers(1, 6))):
            cat = cats[int(rng.integers(len(cats)))]
            kind = rng.choice(["poly", "poly", "multi", "flat_part", "flat", "rle", "none"])
            seg: Any = None
            if kind == "poly":
                seg = [_poly(rng, w, h, int(rng.integers(3, 7)))]
            elif kind == "multi":
                seg = [_poly(rng, w, h, 4), _poly(rng, w, h, 5)]
            elif kind == "flat_part":
                seg = [_poly(rng, w, h, 4), [5.0, 5.0, 9.0, 9.0, 13.0, 13.0]]
            elif kind == "flat":
                seg = [[5.0, 5.0, 9.0, 5.0, 13.0, 5.0]]
            elif kind == "rle":
                from pycocotools import mask as M

                m = np.zeros((h, w), np.uint8, order="F")
                m[5:9, 6:11] = 1
                seg = {"size": [h, w], "counts": M.encode(m)["counts"].decode()}
            x, y = float(rng.integers(0, w - 10)), float(rng.integers(0, h - 10))
            a: dict[str, Any] = {"id": aid, "image_id": 10 + i, "category_id": cat["id"],
                                 "bbox": [x, y, round(float(rng.uniform(1, 9)), 2), 4.5],
                                 "area": round(float(rng.uniform(1, 80)), 3),
                                 "iscrowd": int(kind == "rle" or rng.random() < 0.2)}
            if seg is not None:
                a["segmentation"] = seg
            if rng.random() < 0.3:
                a["note"] = f"n{aid}"  # a field no target has
            anns.append(a)
            if cat["name"] in ("dog", "license plate") or kind in ("rle", "none"):
                not_held.add(aid)
            aid += int(rng.integers(1, 4))
    if len(anns) > 3:  # one image whose objects Cityscapes cannot hold at all
        last = images[-1]["id"]
        for a in anns:
            if a["image_id"] == last:
                a["category_id"] = cats[3]["id"]
                not_held.add(a["id"])
    return {"info": {"description": "seeded"}, "images": images, "annotations": anns, "categories": cats}, not_held


def scenes_as_cityscapes() -> dict[str, Any]:
    """sample_data/scenes with its classes named as Cityscapes' (circle: car, square: person) and one it does not
    have (triangle: dog)."""
    d = orjson.loads((SCENES / "gt.json").read_bytes())
    ren = {"circle": "car", "square": "person", "triangle": "dog"}
    for c in d["categories"]:
        c["name"] = ren[c["name"]]
    return d


# ----------------------------------------------------------------------------------------------- Cityscapes
DROP_KINDS = ("objects of classes Cityscapes does not have dropped", "license plate objects dropped",
              "RLE mask has no polygon form", "object without a polygon dropped",
              "object whose polygons all have fewer than 3 points dropped")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cityscapes_round_trip_gives_back_what_the_report_keeps(tmp_path: Path, seed: int) -> None:
    d, not_held = synthetic(seed)
    rt = round_trip(tmp_path, d, "cityscapes")
    check_round_trip(rt, d)
    assert rt.missing == sorted(not_held)  # every other object comes back, its box, area and id included
    assert sum(rt.report.count(k) for k in DROP_KINDS) == len(not_held)  # each counted, kind by kind
    for e in rt.report.entries:  # what the report names as dropped is lost, never "kept"
        assert (e.kept_in is None) == e.kind.startswith(DROP_KINDS), e
    assert rt.report.count("boxes, areas and ids of the objects written") == len(d["annotations"]) - len(not_held)


def test_cityscapes_round_trip_on_sample_scenes(tmp_path: Path) -> None:
    d = scenes_as_cityscapes()
    rt = round_trip(tmp_path, d, "cityscapes")
    check_round_trip(rt, d)
    dog = next(c["id"] for c in d["categories"] if c["name"] == "dog")
    want = sorted(a["id"] for a in d["annotations"] if a["category_id"] == dog or isinstance(a["segmentation"], dict))
    assert rt.missing == want
    assert sum(rt.report.count(k) for k in DROP_KINDS) == len(want)
    assert len(rt.back["annotations"]) > 0


def test_cityscapes_files_stay_the_truth_for_which_objects_exist(tmp_path: Path) -> None:
    """An object deleted from the JSON by hand does not come back from the sidecar."""
    d, not_held = synthetic(5)
    round_trip(tmp_path, d, "cityscapes")
    js = sorted((tmp_path / "cityscapes" / "gtFine").rglob("*_polygons.json"))
    doc = next(orjson.loads(p.read_bytes()) for p in js if orjson.loads(p.read_bytes())["objects"])
    p = next(p for p in js if orjson.loads(p.read_bytes()) == doc)
    doc["objects"] = [o for o in doc["objects"] if o["annokit_slot"] != doc["objects"][0]["annokit_slot"]]
    p.write_bytes(orjson.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert(tmp_path / "cityscapes", tmp_path / "b2.json", src_format="cityscapes", dst_format="coco")
    back = orjson.loads((tmp_path / "b2.json").read_bytes())
    held = [a for a in d["annotations"] if a["id"] not in not_held]
    assert len(back["annotations"]) == len(held) - 1
    src = {a["id"]: a for a in d["annotations"]}
    assert all(src[a["id"]] == a for a in back["annotations"])


# ----------------------------------------------------------------------------------------------- every folder target
FOLDER_TARGETS = ["voc", "yolo", "yolo-seg", "png", "class-folders", "labelme",
                  "cvat", "createml", "darknet", "dota", "kitti", "yolo-obb", "openimages", "cityscapes"]


@pytest.mark.parametrize("data", ["seeded", "scenes"])
@pytest.mark.parametrize("fmt", FOLDER_TARGETS)
def test_every_folder_target_gives_back_what_its_report_keeps(tmp_path: Path, fmt: str, data: str) -> None:
    d = synthetic(7, names=("car", "person", "tv/monitor", "a b", "road"))[0] if data == "seeded" else \
        scenes_as_cityscapes()
    opts = {}
    if fmt == "class-folders":  # a class-folder dataset is made of the images themselves
        opts["images"] = _blank_images(tmp_path / "images", d) if data == "seeded" else SCENES / "images"
    check_round_trip(round_trip(tmp_path, d, fmt, **opts), d)


def _blank_images(root: Path, d: dict[str, Any]) -> Path:
    from PIL import Image

    for im in d["images"]:
        (root / im["file_name"]).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (im["width"], im["height"])).save(root / im["file_name"])
    return root
