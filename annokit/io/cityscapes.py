"""Cityscapes ``gtFine``: polygon JSON, and the ``labelIds`` / ``instanceIds`` PNGs drawn from it.

- :func:`render_label_ids` / :func:`render_instance_ids` draw a ``*_gtFine_polygons.json`` exactly as the official
  ``cityscapesscripts`` (``json2labelImg`` / ``json2instanceImg``) do: PIL's polygon fill, objects in file order,
  deleted objects skipped, ``<label>group`` drawn with the class id only (a crowd), instances numbered
  ``id * 1000 + k`` per class (``k`` from 0), labels with a negative id skipped, background ``unlabeled`` (0).
- Reading polygons: one object per polygon, the polygon kept as the object's segmentation, ``...group`` objects
  crowd (``iscrowd``), the box the polygon's extent. Category ids are the official label ids; all 34 labels with an
  id >= 0 are the categories (the format's own list, with its category name as supercategory).
- Reading PNGs (when there is no polygon JSON): instanceIds values >= 1000 are instances of class ``v // 1000``;
  smaller values are class regions (crowd where the class has instances).

Note: Cityscapes fills polygons with PIL, COCO rasterizes them with pycocotools; the two differ on edge pixels, so
a polygon read here and rasterized by a COCO tool can cover slightly different pixels (the conversion report says
so). The PNGs are the pixel truth.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from annokit._internal.files import atomic_dir
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import MAX_PIXELS

__all__ = ["LABELS", "CityscapesLabel", "render_label_ids", "render_instance_ids", "read_cityscapes",
           "write_cityscapes", "label_set"]

PathLike = str | os.PathLike[str]


class CityscapesLabel(NamedTuple):
    name: str
    id: int
    train_id: int
    category: str
    cat_id: int
    has_instances: bool
    ignore_in_eval: bool
    color: tuple[int, int, int]


_L = CityscapesLabel
LABELS: list[CityscapesLabel] = [
    _L("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
    _L("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
    _L("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
    _L("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
    _L("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
    _L("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
    _L("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
    _L("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
    _L("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
    _L("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
    _L("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
    _L("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
    _L("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
    _L("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
    _L("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
    _L("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
    _L("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
    _L("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
    _L("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
    _L("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
    _L("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
    _L("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
    _L("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
    _L("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
    _L("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
    _L("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
    _L("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
    _L("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
    _L("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
    _L("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
    _L("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
    _L("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
    _L("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
    _L("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
    _L("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
]
BY_NAME = {lab.name: lab for lab in LABELS}
BY_ID = {lab.id: lab for lab in LABELS if lab.id >= 0}


def label_set() -> LabelSet:
    """The 34 Cityscapes labels with an id >= 0, as a :class:`LabelSet` (supercategory = Cityscapes category)."""
    labs = [lab for lab in LABELS if lab.id >= 0]
    return LabelSet(ids=[lab.id for lab in labs], names=[lab.name for lab in labs],
                    supercategories=[lab.category for lab in labs])


# ------------------------------------------------------------------------------------------- polygon JSON
def _load_polygons(path: Path) -> dict[str, Any]:
    from annokit.io.coco import load_json

    d = load_json(path)
    if not isinstance(d, dict):
        raise FormatError(path, None, "expected a JSON object")
    for k in ("imgHeight", "imgWidth"):
        v = d.get(k)
        if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            raise FormatError(path, k, f"expected a positive integer, got {v!r}")
    if d["imgHeight"] * d["imgWidth"] > MAX_PIXELS:
        raise FormatError(path, None, f"{d['imgWidth']}x{d['imgHeight']} is over the {MAX_PIXELS}-pixel limit")
    objs = d.get("objects", [])
    if not isinstance(objs, list):
        raise FormatError(path, "objects", "expected a list")
    for i, o in enumerate(objs):
        if not isinstance(o, dict) or not isinstance(o.get("label"), str):
            raise FormatError(path, f"objects[{i}]", "expected an object with a 'label' string")
        poly = o.get("polygon")
        if not isinstance(poly, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                            and np.isfinite(v) for v in p) for p in poly):
            raise FormatError(path, f"objects[{i}].polygon", "expected a list of [x, y] numbers")
    return d


def _resolve(label: str) -> tuple[CityscapesLabel | None, bool]:
    """The label tuple of a polygon's label and whether it is a group (crowd)."""
    if label not in BY_NAME and label.endswith("group"):
        base = BY_NAME.get(label[: -len("group")])
        return base, True
    return BY_NAME.get(label), False


def _canvas(polygons: dict[str, Any] | PathLike, encoding: str, mode: str) -> tuple[dict[str, Any], Any, Any]:
    """The polygon JSON, and a PIL image of its size filled with ``unlabeled`` and its drawing context."""
    from PIL import Image, ImageDraw

    d = polygons if isinstance(polygons, dict) else _load_polygons(Path(polygons))
    bg = BY_NAME["unlabeled"].id if encoding == "ids" else BY_NAME["unlabeled"].train_id
    img = Image.new(mode, (d["imgWidth"], d["imgHeight"]), bg)
    return d, img, ImageDraw.Draw(img)


def _drawn_objects(d: dict[str, Any]) -> Iterator[tuple[dict[str, Any], CityscapesLabel, bool]]:
    """The objects drawn, in order: ``(object, label, is a group)``; deleted ones skipped, unknown labels refused."""
    for o in d.get("objects", []):
        if o.get("deleted"):
            continue
        lab, group = _resolve(o["label"])
        if lab is None:
            raise FormatError(None, None, f"label {o['label']!r} is not a Cityscapes label")
        yield o, lab, group


def _fill(draw: Any, o: dict[str, Any], value: int) -> None:
    try:
        draw.polygon([(p[0], p[1]) for p in o["polygon"]], fill=value)
    except (TypeError, ValueError):  # the official scripts skip what PIL cannot draw
        pass


def render_label_ids(polygons: dict[str, Any] | PathLike, *, encoding: str = "ids") -> np.ndarray:
    """``(H, W)`` uint8 ``labelIds`` (``encoding="ids"``) or ``labelTrainIds`` (``"trainIds"``) of a polygon JSON,
    drawn as ``cityscapesscripts.preparation.json2labelImg`` draws it."""
    d, img, draw = _canvas(polygons, encoding, "L")
    for o, lab, _ in _drawn_objects(d):
        if lab.id >= 0:
            _fill(draw, o, lab.id if encoding == "ids" else lab.train_id)
    return np.asarray(img)


def render_instance_ids(polygons: dict[str, Any] | PathLike, *, encoding: str = "ids") -> np.ndarray:
    """``(H, W)`` int32 ``instanceIds`` of a polygon JSON, drawn as ``json2instanceImg`` draws it: instances
    ``id * 1000 + k``, groups and classes without instances their class id."""
    d, img, draw = _canvas(polygons, encoding, "I")
    counts = {lab.name: 0 for lab in LABELS if lab.has_instances}
    for o, lab, group in _drawn_objects(d):
        val = lab.id if encoding == "ids" else lab.train_id
        if lab.has_instances and not group and val != 255:
            val = val * 1000 + counts[lab.name]
            counts[lab.name] += 1
        if val >= 0:
            _fill(draw, o, val)
    return np.asarray(img).astype(np.int32)


# ------------------------------------------------------------------------------------------- reading
def _entries(root: Path) -> list[tuple[str, str, Path]]:
    """(split, stem relative to the split, file) of every polygon JSON, else of every instanceIds PNG."""
    gt = root / "gtFine" if (root / "gtFine").is_dir() else root
    out = []
    for _kind, suffix in (("json", "_gtFine_polygons.json"), ("png", "_gtFine_instanceIds.png")):
        for p in sorted(gt.rglob(f"*{suffix}")):
            rel = p.relative_to(gt).as_posix()
            split = rel.split("/", 1)[0] if "/" in rel else ""
            stem = rel[len(split) + 1 if split else 0: -len(suffix)]
            out.append((split, stem, p))
        if out:
            return out
    return out


def read_cityscapes_keyed(root: PathLike, *, recorder: LossRecorder | None = None) -> tuple[Dataset, list[str]]:
    """Read a Cityscapes folder; also return each image's key (``<split>/<city>/<stem>``)."""
    from annokit.core.masks import bitmap_to_rle, rle_area, rle_to_ltrb
    from annokit.io.png import read_label_png

    root = Path(root)
    rec = recorder if recorder is not None else LossRecorder()
    ents = _entries(root)
    if not ents:
        raise FormatError(root, None, "no gtFine/*_gtFine_polygons.json or *_gtFine_instanceIds.png found")
    file_names, hs, ws, extras, keys = [], [], [], [], []
    rows_img: list[int] = []
    rows_lab: list[int] = []
    crowd: list[bool] = []
    segs: list[Any] = []
    boxes: list[list[float]] = []
    area: list[float] = []
    n_deleted = n_poly = 0
    for i, (split, stem, p) in enumerate(ents):
        keys.append(f"{split}/{stem}" if split else stem)
        file_names.append(f"leftImg8bit/{split}/{stem}_leftImg8bit.png" if split else f"{stem}_leftImg8bit.png")
        extras.append({"split": split} if split else {})
        if p.suffix == ".json":
            d = _load_polygons(p)
            hs.append(d["imgHeight"])
            ws.append(d["imgWidth"])
            for j, o in enumerate(d.get("objects", [])):
                if o.get("deleted"):
                    n_deleted += 1
                    continue
                lab, group = _resolve(o["label"])
                if lab is None:
                    raise FormatError(p, f"objects[{j}].label", f"{o['label']!r} is not a Cityscapes label")
                if lab.id < 0:
                    rec.add("object of a label without id (license plate) dropped", f"{keys[-1]}: objects[{j}]")
                    continue
                pts = np.asarray(o["polygon"], dtype=np.float64).reshape(-1, 2)
                if len(pts) < 3:
                    rec.add("polygon with fewer than 3 points dropped", f"{keys[-1]}: objects[{j}]")
                    continue
                rows_img.append(i)
                rows_lab.append(lab.id)
                crowd.append(group)
                segs.append([pts.reshape(-1).tolist()])
                boxes.append([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])
                area.append(float(0.5 * abs(np.dot(pts[:, 0], np.roll(pts[:, 1], 1)) -
                                            np.dot(pts[:, 1], np.roll(pts[:, 0], 1)))))
                n_poly += 1
        else:
            inst = read_label_png(p).astype(np.int64)
            hs.append(inst.shape[0])
            ws.append(inst.shape[1])
            for v in np.unique(inst).tolist():
                cls = v // 1000 if v >= 1000 else v
                lab = BY_ID.get(cls)
                if lab is None:
                    raise FormatError(p, None, f"value {v} is not a Cityscapes label id")
                if v == BY_NAME["unlabeled"].id:
                    continue  # background
                m = inst == v
                rle = bitmap_to_rle(m)
                rows_img.append(i)
                rows_lab.append(cls)
                crowd.append(v < 1000 and lab.has_instances)
                segs.append({"size": rle["size"], "counts": rle["counts"].decode("ascii")})
                boxes.append(rle_to_ltrb([rle])[0].tolist())
                area.append(float(rle_area([rle])[0]))
    if n_poly:
        rec.warn("Cityscapes polygons are filled by PIL; COCO tools rasterize them with pycocotools, which can "
                 "differ on edge pixels (the labelIds / instanceIds PNGs are the pixel truth)")
    rec.add_many("deleted objects skipped (the official scripts skip them too)", n_deleted)
    ids = np.arange(1, len(ents) + 1)
    tbl = ImageTable(ids=ids, file_names=file_names, heights=hs, widths=ws, extras=extras if any(extras) else None)
    n = len(rows_img)
    inst_ = Instances(image_ids=ids[np.asarray(rows_img, dtype=np.int64)] if n else np.zeros(0, np.int64),
                      boxes=np.asarray(boxes, dtype=np.float64).reshape(n, 4), labels=rows_lab,
                      iscrowd=np.asarray(crowd, dtype=bool), area=area, segmentations=segs)
    return Dataset(images=tbl, categories=label_set(), annotations=inst_), keys


def read_cityscapes(root: PathLike) -> Dataset:
    """Read Cityscapes ``gtFine`` (polygon JSON, or the instanceIds PNGs when there is no JSON)."""
    return read_cityscapes_keyed(root)[0]


# ------------------------------------------------------------------------------------------- writing
def write_cityscapes_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None,
                          kept_in: str | None = None, split: str = "train") -> list[str]:
    """Write ``gtFine/<split>/<stem>_gtFine_{polygons.json,labelIds.png,instanceIds.png}``; return the keys.

    Categories are matched to Cityscapes labels by name; objects of other classes are dropped (counted). Polygon
    objects go to the JSON (one entry per polygon part); RLE objects cannot be polygons and are dropped from it
    (counted). The PNGs are drawn from the JSON exactly as the official scripts draw them.
    """
    import orjson
    from PIL import Image

    rec = recorder if recorder is not None else LossRecorder()
    cats = ds.categories
    im, a = ds.images, ds.annotations
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(im) + 1))
    name_of = dict(zip(cats.ids.tolist(), cats.names))
    keys = []
    seen_stems: set[str] = set()
    n_other = n_rle = n_multi = n_none = 0
    ex_other: list[str] = []
    for i in range(len(im)):
        h, w = int(im.heights[i]), int(im.widths[i])
        if h <= 0 or w <= 0:
            raise FormatError(None, f"images[{i}]", "Cityscapes needs the image size")
        name = safe_name(im.file_names[i], where=f"images[{i}].file_name")
        if name.startswith("leftImg8bit/"):
            name = name.split("/", 2)[2] if name.count("/") >= 2 else name
        base = name.rsplit("/", 1)[-1]
        dot = base.rfind(".")
        stem = name[: len(name) - len(base) + dot] if dot > 0 else name
        if stem.endswith("_leftImg8bit"):
            stem = stem[: -len("_leftImg8bit")]
        sp = split
        if stem.lower() in seen_stems:
            raise FormatError(None, f"images[{i}].file_name", f"two images would write the same {stem}_gtFine_*")
        seen_stems.add(stem.lower())
        if im.extras is not None and isinstance(im.extras[i].get("split"), str) and im.extras[i]["split"]:
            sp = safe_name(im.extras[i]["split"])
        objs = []
        for r in order[starts[i]:starts[i + 1]].tolist():
            lname = name_of[int(a.labels[r])]
            lab = BY_NAME.get(lname)
            if lab is None:
                n_other += 1
                if len(ex_other) < 5:
                    ex_other.append(f"{lname!r} (annotation id {int(a.ids[r])})")
                continue
            seg = a.segmentations[r] if a.segmentations is not None else None
            if not isinstance(seg, list) or not seg:
                if seg:
                    n_rle += 1
                else:
                    n_none += 1
                continue
            if len(seg) > 1:
                n_multi += 1
            label = lname + "group" if bool(a.iscrowd[r]) and lab.has_instances else lname
            for part in seg:
                objs.append({"label": label, "polygon": np.asarray(part, dtype=np.float64).reshape(-1, 2).tolist()})
        doc = {"imgHeight": h, "imgWidth": w, "objects": objs}
        d = root / "gtFine" / sp
        (d / stem).parent.mkdir(parents=True, exist_ok=True)
        (d / f"{stem}_gtFine_polygons.json").write_bytes(orjson.dumps(doc))
        Image.fromarray(render_label_ids(doc), mode="L").save(d / f"{stem}_gtFine_labelIds.png")
        inst = render_instance_ids(doc)
        if inst.max(initial=0) > 65535:
            raise FormatError(None, f"images[{i}]", "instance ids do not fit a 16-bit PNG")
        Image.fromarray(inst.astype(np.uint16)).save(d / f"{stem}_gtFine_instanceIds.png")  # 16-bit, as official
        keys.append(f"{sp}/{stem}")
    rec.add_many("objects of classes Cityscapes does not have dropped", n_other, ex_other, kept_in=kept_in)
    rec.add_many("RLE mask has no polygon form: dropped from the JSON", n_rle, kept_in=kept_in)
    rec.add_many("object without a polygon dropped", n_none, kept_in=kept_in)
    rec.add_many("multi-part polygon written as one object per part", n_multi, kept_in=kept_in)
    rec.add_many("boxes, areas and ids dropped: Cityscapes keeps polygons only", len(a), kept_in=kept_in)
    if a.scores is not None:
        rec.add_many("scores dropped", len(a), kept_in=kept_in)
    if a.extras is not None:
        rec.add_many("annotation fields dropped", sum(1 for e in a.extras if e), kept_in=kept_in)
    rec.add_many("image ids dropped", len(im), kept_in=kept_in)
    return keys


def write_cityscapes(ds: Dataset, root: PathLike, *, split: str = "train", overwrite: bool = False,
                     recorder: LossRecorder | None = None) -> None:
    """Write a Cityscapes ``gtFine`` folder, atomically (see :func:`write_cityscapes_into`)."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_cityscapes_into(ds, tmp, recorder=recorder, split=split)
