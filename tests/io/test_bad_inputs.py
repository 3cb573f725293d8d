"""Malformed files of every format: one :class:`annokit.FormatError` naming the file and the place, never another
exception (no pydantic error, KeyError, numpy ValueError, OverflowError, UnicodeDecodeError ...); and the format's
validator lists the same error its reader raises (one set of rules)."""

from __future__ import annotations

import json
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from annokit.convert import read_dataset, validate
from annokit.errors import AnnokitError, FormatError


@dataclass(frozen=True)
class Case:
    """A malformed dataset: ``build(tmp)`` writes it and returns the path to read; the error names ``file``
    (a suffix of its path) and ``where`` (a part of its place; "" when the file itself is the place)."""

    name: str
    fmt: str
    build: Callable[[Path], Path]
    file: str
    where: str


# ----------------------------------------------------------------------------------------------- COCO
def _coco_dict() -> dict[str, Any]:
    return {"images": [{"id": 1, "file_name": "a.jpg", "height": 10, "width": 10}],
            "categories": [{"id": 1, "name": "c"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4,
                             "iscrowd": 0, "segmentation": [[1, 1, 3, 1, 3, 3]]}]}


def _coco(mutate: Callable[[dict[str, Any]], Any] | None = None, text: str | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        d = _coco_dict()
        if mutate is not None:
            mutate(d)
        p = tmp / "gt.json"
        p.write_text(text if text is not None else json.dumps(d))
        return p
    return build


def _ann(**kw: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["annotations"][0].update(kw)


def _img(**kw: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["images"][0].update(kw)


RLE_100 = {"size": [10, 10], "counts": "0`h9"}  # a valid string for 10000 pixels, not 100

COCO = [
    Case("bbox-1e308", "coco", _coco(_ann(bbox=[1e308, 0, 1e308, 1])), "gt.json", "annotations[0].bbox"),
    Case("bbox-string", "coco", _coco(_ann(bbox=["1", 0, 1, 1])), "gt.json", "annotations[0].bbox"),
    Case("bbox-bool", "coco", _coco(_ann(bbox=[True, 0, 1, 1])), "gt.json", "annotations[0].bbox"),
    Case("bbox-3", "coco", _coco(_ann(bbox=[0, 1, 1])), "gt.json", "annotations[0].bbox"),
    Case("bbox-missing", "coco", _coco(lambda d: d["annotations"][0].pop("bbox")), "gt.json", "annotations[0]"),
    Case("bbox-negative", "coco", _coco(_ann(bbox=[0, 0, -1, 1])), "gt.json", "annotations[0].bbox"),
    Case("id-float", "coco", _coco(_ann(id=1.5)), "gt.json", "annotations[0].id"),
    Case("id-2**70", "coco", _coco(_ann(id=2**70)), "gt.json", "annotations[0].id"),
    Case("image-id-list", "coco", _coco(_img(id=[1])), "gt.json", "images[0].id"),
    Case("image-id-none", "coco", _coco(_img(id=None)), "gt.json", "images[0].id"),
    Case("height-string", "coco", _coco(_img(height="10")), "gt.json", "images[0].height"),
    Case("height-2**64", "coco", _coco(_img(height=2**64)), "gt.json", "images[0].height"),
    Case("file-name-list", "coco", _coco(_img(file_name=[1])), "gt.json", "images[0].file_name"),
    Case("category-name-int", "coco", _coco(lambda d: d["categories"][0].update(name=3)), "gt.json",
         "categories[0].name"),
    Case("area-string", "coco", _coco(_ann(area="4")), "gt.json", "annotations[0].area"),
    Case("area-negative", "coco", _coco(_ann(area=-1)), "gt.json", "annotations[0].area"),
    Case("iscrowd-2", "coco", _coco(_ann(iscrowd=2)), "gt.json", "annotations[0].iscrowd"),
    Case("ignore-string", "coco", _coco(_ann(ignore="x")), "gt.json", "annotations[0].ignore"),
    Case("segmentation-string", "coco", _coco(_ann(segmentation="x")), "gt.json", "annotations[0].segmentation"),
    Case("polygon-strings", "coco", _coco(_ann(segmentation=[["a"] * 6])), "gt.json",
         "annotations[0].segmentation[0]"),
    Case("rle-size-strings", "coco", _coco(_ann(segmentation={"size": ["10", 10], "counts": "x"})), "gt.json",
         "annotations[0].segmentation.size"),
    Case("rle-size-other-image", "coco", _coco(_ann(segmentation={"size": [5, 5], "counts": [25]})), "gt.json",
         "annotations[0].segmentation.size"),
    Case("rle-counts-garbage", "coco", _coco(_ann(segmentation={"size": [10, 10], "counts": "###"})), "gt.json",
         "annotations[0].segmentation.counts"),
    Case("rle-counts-wrong-total", "coco", _coco(_ann(segmentation=RLE_100)), "gt.json",
         "annotations[0].segmentation.counts"),
    Case("rle-counts-strings", "coco", _coco(_ann(segmentation={"size": [10, 10], "counts": ["a"]})), "gt.json",
         "annotations[0].segmentation.counts"),
    Case("rle-counts-negative", "coco", _coco(_ann(segmentation={"size": [10, 10], "counts": [-5, 105]})),
         "gt.json", "annotations[0].segmentation.counts"),
    Case("annotation-not-object", "coco", _coco(lambda d: d["annotations"].append(3)), "gt.json",
         "annotations[1]"),
    Case("images-not-list", "coco", _coco(lambda d: d.update(images={})), "gt.json", "images"),
    Case("unknown-image", "coco", _coco(_ann(image_id=7)), "gt.json", "annotations[0].image_id"),
    Case("string-image-id-list-ref", "coco", _coco(lambda d: (_img(id="x")(d), _ann(image_id=["x"])(d))),
         "gt.json", "annotations[0].image_id"),
    Case("ids-mixed", "coco", _coco(lambda d: d["images"].append({"id": "b", "file_name": "b", "height": 1,
                                                                  "width": 1})), "gt.json", "images[0].id"),
    Case("truncated", "coco", _coco(text='{"images": [{"id": 1'), "gt.json", "line 1"),
    Case("empty", "coco", _coco(text=""), "gt.json", "line 1"),
    Case("top-list", "coco", _coco(text="[1]"), "gt.json", ""),
]


# ----------------------------------------------------------------------------------------------- VOC
def _voc(xml: str | bytes, extra: Callable[[Path], Any] | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "Annotations").mkdir()
        (tmp / "Annotations" / "a.xml").write_bytes(xml.encode() if isinstance(xml, str) else xml)
        if extra is not None:
            extra(tmp)
        return tmp
    return build


def _xml(xmin: str = "1", xmax: str = "2", size: str = "<size><width>10</width><height>10</height></size>",
         obj: str | None = None) -> str:
    o = obj if obj is not None else (f"<object><name>c</name><bndbox><xmin>{xmin}</xmin><ymin>1</ymin>"
                                     f"<xmax>{xmax}</xmax><ymax>3</ymax></bndbox></object>")
    return f"<annotation><filename>a.jpg</filename>{size}{o}</annotation>"


VOC = [
    Case("coordinate-1e309", "voc", _voc(_xml(xmax="1e309")), "a.xml", "object[0].bndbox.xmax"),
    Case("coordinate-nan", "voc", _voc(_xml(xmin="nan")), "a.xml", "object[0].bndbox.xmin"),
    Case("coordinate-400-digits", "voc", _voc(_xml("1" * 400, "1" * 401)), "a.xml", "object[0].bndbox"),
    Case("coordinate-5000-digits", "voc", _voc(_xml("1" * 5000, "1" * 5001)), "a.xml", "object[0].bndbox"),
    Case("coordinate-underscore", "voc", _voc(_xml(xmin="1_0", xmax="20")), "a.xml", "object[0].bndbox.xmin"),
    Case("coordinate-arabic-digit", "voc", _voc(_xml(xmin="\u0661")), "a.xml", "object[0].bndbox.xmin"),
    Case("coordinate-empty", "voc", _voc(_xml(xmin="")), "a.xml", "object[0].bndbox.xmin"),
    Case("inverted", "voc", _voc(_xml(xmin="5", xmax="2")), "a.xml", "object[0].bndbox"),
    Case("size-string", "voc", _voc(_xml(size="<size><width>x</width><height>10</height></size>")), "a.xml",
         "size"),
    Case("size-2**80", "voc", _voc(_xml(size=f"<size><width>{2**80}</width><height>1</height></size>")),
         "a.xml", "size"),
    Case("two-bndboxes", "voc", _voc(_xml(obj="<object><name>c</name>" + "<bndbox><xmin>1</xmin><ymin>1</ymin>"
                                                 "<xmax>2</xmax><ymax>3</ymax></bndbox>" * 2 + "</object>")),
         "a.xml", "object[0]"),
    Case("no-name", "voc", _voc(_xml(obj="<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>"
                                         "<ymax>3</ymax></bndbox></object>")), "a.xml", "object[0]"),
    Case("missing-ymax", "voc", _voc(_xml(obj="<object><name>c</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                                              "<xmax>2</xmax></bndbox></object>")), "a.xml", "object[0].bndbox"),
    Case("truncated", "voc", _voc(_xml()[:-10]), "a.xml", "line 1"),
    Case("not-utf8", "voc", _voc(b"<annotation><filename>\xff\xfe.jpg</filename></annotation>"), "a.xml", "line 1"),
    Case("doctype", "voc", _voc("<!DOCTYPE x>" + _xml()), "a.xml", ""),
    Case("labelmap-not-utf8", "voc", _voc(_xml(), lambda d: (d / "labelmap.txt").write_bytes(b"\xff\xfe")),
         "labelmap.txt", "line 1"),
    Case("labelmap-twice", "voc", _voc(_xml(), lambda d: (d / "labelmap.txt").write_text("c\nc\n")),
         "labelmap.txt", "line 2"),
    Case("imageset-not-utf8", "voc", _voc(_xml(), lambda d: ((d / "ImageSets" / "Main").mkdir(parents=True),
                                                            (d / "ImageSets/Main/train.txt").write_bytes(b"\xff"))),
         "train.txt", "line 1"),
    Case("sidecar-bad-column", "voc", _voc(_xml(), lambda d: (d / "annokit.json").write_text(json.dumps(
        {"annokit_sidecar": {"version": 1, "format": "voc"}, "keys": ["a.xml"],
         "images": {"ids": [1], "file_names": ["a.jpg"], "heights": [10], "widths": [10]},
         "categories": {"ids": [1], "names": ["c"]},
         "annotations": {"image_ids": [1], "boxes": [[0, 0, 1, 1]], "labels": [1], "bogus": 1}}))),
        "annokit.json", "annotations.bogus"),
    Case("sidecar-bad-values", "voc", _voc(_xml(), lambda d: (d / "annokit.json").write_text(json.dumps(
        {"annokit_sidecar": {"version": 1, "format": "voc"}, "keys": ["a.xml"],
         "images": {"ids": [1], "file_names": ["a.jpg"], "heights": [10], "widths": [10]},
         "categories": {"ids": [1], "names": ["c"]},
         "annotations": {"image_ids": [1], "boxes": [[0, 0, "x", 1]], "labels": [1]}}))), "annokit.json",
         "annotations"),
]


# ----------------------------------------------------------------------------------------------- YOLO
def _yolo(label: str | bytes = "0 0.5 0.5 0.2 0.2\n", yaml: str = "names: [a, b]\ntrain: images/train\n",
          extra: Callable[[Path], Any] | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "images" / "train").mkdir(parents=True)
        (tmp / "labels" / "train").mkdir(parents=True)
        Image.new("L", (10, 10)).save(tmp / "images" / "train" / "a.png")
        (tmp / "labels" / "train" / "a.txt").write_bytes(label.encode() if isinstance(label, str) else label)
        (tmp / "data.yaml").write_text(yaml)
        if extra is not None:
            extra(tmp)
        return tmp
    return build


YOLO = [
    Case("pixels-overflow", "yolo", _yolo("0 1e308 0.5 1e308 0.2\n"), "a.txt", "line 1"),
    Case("polygon-overflow", "yolo-seg", _yolo("0 1e308 0.1 0.2 0.1 0.2 0.3\n"), "a.txt", "line 1"),
    Case("class-float", "yolo", _yolo("0.0 0.5 0.5 0.2 0.2\n"), "a.txt", "line 1"),
    Case("class-out-of-range", "yolo", _yolo("9" * 30 + " 0.5 0.5 0.2 0.2\n"), "a.txt", "line 1"),
    Case("not-utf8", "yolo", _yolo(b"\xff 0.5\n"), "a.txt", "line 1"),
    Case("three-numbers", "yolo", _yolo("0 0.5 0.5 0.2\n"), "a.txt", "line 1"),
    Case("yaml-invalid", "yolo", _yolo(yaml="names: [a\n"), "data.yaml", ""),
    Case("yaml-names-int", "yolo", _yolo(yaml="names: 3\ntrain: images/train\n"), "data.yaml", "names"),
    Case("yaml-names-nested", "yolo", _yolo(yaml="names: [[a], b]\ntrain: images/train\n"), "data.yaml", "names"),
    Case("yaml-names-keys", "yolo", _yolo(yaml="names: {a: x}\ntrain: images/train\n"), "data.yaml", "names"),
    Case("yaml-nc", "yolo", _yolo(yaml="names: [a]\nnc: x\ntrain: images/train\n"), "data.yaml", "nc"),
    Case("yaml-train-int", "yolo", _yolo(yaml="names: [a, b]\ntrain: 5\n"), "data.yaml", "train"),
    Case("yaml-python-tag", "yolo", _yolo(yaml="names: !!python/object:os.system [ls]\n"), "data.yaml", ""),
    Case("yaml-not-utf8", "yolo", _yolo(extra=lambda d: (d / "data.yaml").write_bytes(b"names: [\xff]\n")),
         "data.yaml", "line 1"),
    Case("image-broken", "yolo", _yolo(extra=lambda d: (d / "images/train/a.png").write_bytes(b"xx")), "a.png",
         ""),
    Case("list-missing-image", "yolo", _yolo(yaml="names: [a]\ntrain: train.txt\n", extra=lambda d: (
        d / "train.txt").write_text("images/train/a.png\nimages/train/gone.jpg\n")), "train.txt", "line 2"),
    Case("list-not-utf8", "yolo", _yolo(yaml="names: [a]\ntrain: train.txt\n", extra=lambda d: (
        d / "train.txt").write_bytes(b"\xff\n")), "train.txt", "line 1"),
]


# ----------------------------------------------------------------------------------------------- PNG masks
def _png(classes: tuple[str, bytes] | None = ("classes.txt", b"1 cat\n"),
         mask: Callable[[Path], Any] | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "masks").mkdir()
        if classes is not None:
            (tmp / classes[0]).write_bytes(classes[1])
        if mask is None:
            Image.fromarray(np.array([[0, 1]], np.uint8)).save(tmp / "masks" / "a.png")
        else:
            mask(tmp)
        return tmp
    return build


def _truncated_png(tmp: Path) -> None:
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp / "masks" / "a.png")
    data = (tmp / "masks" / "a.png").read_bytes()
    (tmp / "masks" / "a.png").write_bytes(data[:60])


PNG = [
    Case("classes-not-utf8", "png", _png(("classes.txt", b"\xff cat\n")), "classes.txt", "line 1"),
    Case("classes-huge-id", "png", _png(("classes.txt", b"99999999999999999999 cat\n")), "classes.txt", "line 1"),
    Case("meta-key", "png", _png(("dataset_meta.json", b'{"label_map": {"x": "cat"}}')), "dataset_meta.json",
         "label_map"),
    Case("meta-colour", "png", _png(("dataset_meta.json", b'{"label_map": {"1": "cat"}, '
                                                         b'"segmentation_colors": [[1, 2]]}')),
         "dataset_meta.json", "segmentation_colors[0]"),
    Case("meta-huge-value", "png", _png(("dataset_meta.json", b'{"label_map": {"100000000000": "cat"}}')),
         "dataset_meta.json", "label_map"),
    Case("meta-background", "png", _png(("dataset_meta.json", b'{"label_map": {"1": "c"}, '
                                                             b'"background_label": "x"}')),
         "dataset_meta.json", "background_label"),
    Case("truncated-png", "png", _png(mask=_truncated_png), "a.png", ""),
    Case("not-a-png", "png", _png(mask=lambda d: (d / "masks/a.png").write_bytes(b"\x89PNG\r\n\x1a\nxx")), "a.png",
         ""),
    Case("unknown-value", "png", _png(mask=lambda d: Image.fromarray(np.array([[0, 7]], np.uint8)).save(
        d / "masks/a.png")), "a.png", ""),
]


# ----------------------------------------------------------------------------------------------- Cityscapes
def _cs(doc: Any = None, raw: bytes | None = None, png: np.ndarray | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        g = tmp / "gtFine" / "train" / "x"
        g.mkdir(parents=True)
        if png is not None:
            Image.fromarray(png).save(g / "x_0_0_gtFine_instanceIds.png")
        else:
            (g / "x_0_0_gtFine_polygons.json").write_bytes(raw if raw is not None else json.dumps(doc).encode())
        return tmp
    return build


def _doc(objs: Any, **kw: Any) -> dict[str, Any]:
    return {"imgHeight": 4, "imgWidth": 4, "objects": objs, **kw}


TRIANGLE = [[0, 0], [2, 0], [2, 2]]
CITYSCAPES = [
    Case("height-2**70", "cityscapes", _cs({"imgHeight": 2**70, "imgWidth": 4, "objects": []}), "polygons.json",
         "imgHeight"),
    Case("area-overflow", "cityscapes", _cs(_doc([{"label": "car", "polygon": [[1e308, 0], [2, 0], [2, 2]]}])),
         "polygons.json", "objects[0].polygon"),
    Case("point-bool", "cityscapes", _cs(_doc([{"label": "car", "polygon": [[True, 0], [2, 0], [2, 2]]}])),
         "polygons.json", "objects[0].polygon[0]"),
    Case("infinity", "cityscapes", _cs(raw=b'{"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "car", '
                                            b'"polygon": [[Infinity, 0], [2, 0], [2, 2]]}]}'), "polygons.json",
         "line 1"),
    Case("label-unknown", "cityscapes", _cs(_doc([{"label": "unicorn", "polygon": TRIANGLE}])), "polygons.json",
         "objects[0].label"),
    Case("objects-dict", "cityscapes", _cs(_doc({})), "polygons.json", "objects"),
    Case("no-polygon", "cityscapes", _cs(_doc([{"label": "car"}])), "polygons.json", "objects[0]"),
    Case("png-unknown-id", "cityscapes", _cs(png=np.array([[0, 99]], np.uint8)), "instanceIds.png", ""),
    Case("png-colour", "cityscapes", _cs(png=np.zeros((2, 2, 3), np.uint8)), "instanceIds.png", ""),
]


# ----------------------------------------------------------------------------------------------- panoptic
def _pan(doc: Any = None, raw: bytes | None = None, png: Any = "ok") -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "p").mkdir()
        (tmp / "p.json").write_bytes(raw if raw is not None else json.dumps(doc).encode())
        if isinstance(png, bytes):
            (tmp / "p" / "a.png").write_bytes(png)
        elif png == "ok":
            rgb = np.zeros((2, 2, 3), np.uint8)
            rgb[:, 0, 0] = 1
            Image.fromarray(rgb).save(tmp / "p" / "a.png")
        return tmp / "p.json"
    return build


def _pdoc(seg: dict[str, Any] | None = None, img: dict[str, Any] | None = None,
          cats: list[Any] | None = None) -> dict[str, Any]:
    return {"images": [img or {"id": 1, "file_name": "a.jpg", "height": 2, "width": 2}],
            "annotations": [{"image_id": 1, "file_name": "a.png",
                             "segments_info": [seg or {"id": 1, "category_id": 1, "area": 2}]}],
            "categories": cats or [{"id": 1, "name": "x", "isthing": 1}]}


PANOPTIC = [
    Case("area-2**70", "coco-panoptic", _pan(_pdoc({"id": 1, "category_id": 1, "area": 2**70})), "p.json",
         "segments_info[0].area"),
    Case("image-id-list", "coco-panoptic", _pan(_pdoc(img={"id": [1], "file_name": "a.jpg", "height": 2,
                                                           "width": 2})), "p.json", "images[0]"),
    Case("ids-mixed", "coco-panoptic", _pan({**_pdoc(), "images": [
        {"id": 1, "file_name": "a.jpg", "height": 2, "width": 2},
        {"id": "b", "file_name": "b.jpg", "height": 2, "width": 2}]}), "p.json", "images[0].id"),
    Case("file-name-int", "coco-panoptic", _pan(_pdoc(img={"id": 1, "file_name": 5, "height": 2, "width": 2})),
         "p.json", "images[0].file_name"),
    Case("category-name-list", "coco-panoptic", _pan(_pdoc(cats=[{"id": 1, "name": [1]}])), "p.json",
         "categories[0].name"),
    Case("bbox-overflow", "coco-panoptic", _pan(_pdoc({"id": 1, "category_id": 1, "bbox": [1e308, 0, 1e308, 1]})),
         "p.json", "segments_info[0].bbox"),
    Case("segment-id-0", "coco-panoptic", _pan(_pdoc({"id": 0, "category_id": 1})), "p.json",
         "segments_info[0].id"),
    Case("png-broken", "coco-panoptic", _pan(_pdoc(), png=b"xx"), "a.png", ""),
    Case("png-missing", "coco-panoptic", _pan(_pdoc(), png=None), "a.png", ""),
]


# ----------------------------------------------------------------------------------------------- classification
def _csv(text: bytes) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "a.csv").write_bytes(text)
        return tmp / "a.csv"
    return build


def _folders(make: Callable[[Path], Any]) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "cat").mkdir()
        make(tmp)
        return tmp
    return build


CLASSIFICATION = [
    Case("csv-not-utf8", "class-csv", _csv(b"file,label\n\xff.jpg,cat\n"), "a.csv", "line 2"),
    Case("csv-huge-field", "class-csv", _csv(b"file,label\n" + b"a" * 200_000 + b",cat\n"), "a.csv", "line 2"),
    Case("csv-absolute", "class-csv", _csv(b"file,label\n/etc/passwd,cat\n"), "a.csv", "line 2"),
    Case("csv-one-hot-value", "class-csv", _csv(b"file,a,b\nx.jpg,1,2\n"), "a.csv", "line 2"),
    Case("folder-broken-image", "class-folders", _folders(lambda d: (d / "cat/a.jpg").write_bytes(b"xx")),
         "a.jpg", ""),
]


# ----------------------------------------------------------------------------------------------- COCO results
def _results(dets: Any) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / "r.json").write_text(json.dumps(dets))
        return tmp / "r.json"
    return build


RESULTS = [
    Case("not-a-list", "coco-results", _results({"x": 1}), "r.json", ""),
    Case("bbox-strings", "coco-results", _results([{"image_id": 1, "category_id": 1, "bbox": ["a", 0, 1, 1],
                                                    "score": 1}]), "r.json", "[0].bbox"),
    # read_results' own handler: the Instances model refuses the overflowing box, the handler names the file
    Case("bbox-overflow", "coco-results", _results([{"image_id": 1, "category_id": 1, "bbox": [1e308, 0, 1e308, 1],
                                                     "score": 1}]), "r.json", ""),
    Case("score-string", "coco-results", _results([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                                                    "score": "high"}]), "r.json", "[0].score"),
]

CASES = COCO + VOC + YOLO + PNG + CITYSCAPES + PANOPTIC + CLASSIFICATION + RESULTS


VALIDATED = ("coco", "voc", "yolo", "yolo-seg", "png", "cityscapes")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.fmt}:{c.name}" for c in CASES])
def test_malformed_input_is_one_format_error(tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FormatError) as ei:
            read_dataset(path, case.fmt)
        problems = validate(path, case.fmt)
    err = ei.value
    assert err.path is not None and err.path.endswith(case.file), str(err)
    assert case.where in (err.where or ""), str(err)
    assert "\n" not in str(err)
    # one set of rules: what the reader refuses, the validator lists (same file, place and words); a format
    # without a validator reports the reader's error
    listed = [str(p) for p in problems]
    assert f"error: {err}" in listed if case.fmt in VALIDATED else listed[0] == f"error: {err}", listed


def _mutations(rng: random.Random) -> list[Any]:
    return [None, True, "", "x", -1, 0, 1.5, 2**70, -2**70, 1e308, float("inf"), [], [1], {}, {"a": 1},
            [None] * 4, ["1"] * 4, [1e308] * 4, rng.random()]


def _mutate(d: Any, rng: random.Random) -> Any:
    """``d`` with one value somewhere replaced by a random other value (or one key dropped)."""
    path: list[Any] = []
    node = d
    while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    if not path:
        return rng.choice(_mutations(rng))
    parent = d
    for k in path[:-1]:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(_mutations(rng))
    return d


def fuzz_base(string_ids: bool, extra: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """The COCO file the fuzzing tests mutate: two images, a polygon and a crowd RLE (and the annotations
    ``extra``), with string image ids if ``string_ids``."""
    base = _coco_dict()
    base["annotations"].append({"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1,
                                "segmentation": {"size": [10, 10], "counts": [0, 100]}})
    base["annotations"].extend(dict(a) for a in extra)
    base["images"].append({"id": 2, "file_name": "b.jpg", "height": 10, "width": 10})
    if string_ids:
        base["images"][0]["id"], base["images"][1]["id"] = "a", "b"
        for a in base["annotations"]:
            a["image_id"] = "a"
    return base


@pytest.mark.parametrize("string_ids", [False, True])
def test_random_coco_mutations_raise_only_annokit_errors(tmp_path: Path, string_ids: bool) -> None:
    """Seeded fuzzing of a COCO file with masks: every failure is an AnnokitError, and reader and validator agree
    on whether the file is readable (the fast columns refuse exactly what the schema refuses)."""
    from annokit.io.coco import read_instances, validate_coco

    rng = random.Random(15)
    base = fuzz_base(string_ids)
    p = tmp_path / "m.json"
    for _ in range(300):
        d = _mutate(json.loads(json.dumps(base)), rng)
        p.write_text(json.dumps(d))
        try:
            read_instances(p)
            ok = True
        except AnnokitError:
            ok = False
        errors = [x for x in validate_coco(p) if x.level == "error"]
        assert ok == (not errors), (d, errors)
