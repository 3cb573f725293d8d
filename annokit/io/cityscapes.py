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

import math
import os
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pydantic
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, Strict, model_validator

from annokit._internal.files import atomic_dir
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances, Segmentation
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._images import copy_images
from annokit.io._safe import MAX_PIXELS
from annokit.io.validation import Problem, Problems

__all__ = ["LABELS", "CityscapesLabel", "CityscapesObject", "CityscapesPolygons", "label_set", "load_polygons",
           "read_cityscapes", "read_cityscapes_keyed", "render_instance_ids", "render_label_ids",
           "validate_cityscapes", "write_cityscapes", "write_cityscapes_into"]

PathLike = str | os.PathLike[str]
Encoding = Literal["ids", "trainIds"]


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
    return LabelSet(ids=np.array([lab.id for lab in labs], dtype=np.int64), names=[lab.name for lab in labs],
                    supercategories=[lab.category for lab in labs])


# ------------------------------------------------------------------------------------------- polygon JSON
def _point(v: Any) -> list[float]:
    if isinstance(v, list) and len(v) == 2 and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                                   and math.isfinite(c) for c in v):
        return v
    raise ValueError(f"expected a point [x, y] of two finite numbers, got {reprlib.repr(v)}")


Point = Annotated[list[float], PlainValidator(_point)]


class CityscapesObject(BaseModel):
    """One object of a ``*_gtFine_polygons.json``: its ``label`` and ``polygon`` (``[[x, y], ...]``); other
    fields (``deleted``, ``date``, ``user``, ``id`` ...) are accepted."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label: Annotated[str, Strict()]
    polygon: list[Point]
    deleted: Any = None


class CityscapesPolygons(BaseModel):
    """A ``*_gtFine_polygons.json``: the image size (positive integers, at most :data:`MAX_PIXELS` pixels) and
    its objects in drawing order."""

    model_config = ConfigDict(extra="allow", frozen=True)

    imgHeight: Annotated[int, Strict(), Field(gt=0)]
    imgWidth: Annotated[int, Strict(), Field(gt=0)]
    objects: list[CityscapesObject] = []

    @model_validator(mode="after")
    def _size(self) -> CityscapesPolygons:
        if self.imgHeight * self.imgWidth > MAX_PIXELS:
            raise ValueError(f"{self.imgWidth}x{self.imgHeight} is over the {MAX_PIXELS}-pixel limit")
        return self


def load_polygons(path: PathLike) -> CityscapesPolygons:
    """Parse and check a ``*_gtFine_polygons.json`` (see :class:`CityscapesPolygons`)."""
    from annokit.io.coco import load_json

    p = Path(path)
    try:
        return CityscapesPolygons.model_validate(load_json(p))
    except pydantic.ValidationError as exc:
        Problems(collect=False).schema_errors(exc, p)
        raise  # pragma: no cover - schema_errors raised the first error


def _resolve(label: str) -> tuple[CityscapesLabel | None, bool]:
    """The label tuple of a polygon's label and whether it is a group (crowd)."""
    if label not in BY_NAME and label.endswith("group"):
        base = BY_NAME.get(label[: -len("group")])
        return base, True
    return BY_NAME.get(label), False


def _as_doc(polygons: CityscapesPolygons | dict[str, Any] | PathLike) -> CityscapesPolygons:
    if isinstance(polygons, CityscapesPolygons):
        return polygons
    if isinstance(polygons, dict):
        try:
            return CityscapesPolygons.model_validate(polygons)
        except pydantic.ValidationError as exc:
            Problems(collect=False).schema_errors(exc, None)
            raise  # pragma: no cover - schema_errors raised the first error
    return load_polygons(polygons)


def _canvas(polygons: CityscapesPolygons | dict[str, Any] | PathLike, encoding: Encoding, mode: str
            ) -> tuple[CityscapesPolygons, Any, Any]:
    """The polygon JSON, and a PIL image of its size filled with ``unlabeled`` and its drawing context."""
    from PIL import Image, ImageDraw

    d = _as_doc(polygons)
    bg = BY_NAME["unlabeled"].id if encoding == "ids" else BY_NAME["unlabeled"].train_id
    img = Image.new(mode, (d.imgWidth, d.imgHeight), bg)
    return d, img, ImageDraw.Draw(img)


def _drawn_objects(d: CityscapesPolygons) -> Iterator[tuple[CityscapesObject, CityscapesLabel, bool]]:
    """The objects drawn, in order: ``(object, label, is a group)``; deleted ones skipped, unknown labels refused."""
    for o in d.objects:
        if o.deleted:
            continue
        lab, group = _resolve(o.label)
        if lab is None:
            raise FormatError(None, None, f"label {o.label!r} is not a Cityscapes label")
        yield o, lab, group


def _fill(draw: Any, o: CityscapesObject, value: int) -> None:
    try:
        draw.polygon([(p[0], p[1]) for p in o.polygon], fill=value)
    except (TypeError, ValueError):  # the official scripts skip what PIL cannot draw
        pass


def render_label_ids(polygons: CityscapesPolygons | dict[str, Any] | PathLike, *, encoding: Encoding = "ids"
                     ) -> NDArray[np.uint8]:
    """``(H, W)`` uint8 ``labelIds`` (``encoding="ids"``) or ``labelTrainIds`` (``"trainIds"``) of a polygon JSON,
    drawn as ``cityscapesscripts.preparation.json2labelImg`` draws it."""
    d, img, draw = _canvas(polygons, encoding, "L")
    for o, lab, _ in _drawn_objects(d):
        if lab.id >= 0:
            _fill(draw, o, lab.id if encoding == "ids" else lab.train_id)
    return np.asarray(img)


def render_instance_ids(polygons: CityscapesPolygons | dict[str, Any] | PathLike, *, encoding: Encoding = "ids"
                        ) -> NDArray[np.int32]:
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
    for suffix in ("_gtFine_polygons.json", "_gtFine_instanceIds.png"):
        for p in sorted(gt.rglob(f"*{suffix}")):
            rel = p.relative_to(gt).as_posix()
            split = rel.split("/", 1)[0] if "/" in rel else ""
            stem = rel[len(split) + 1 if split else 0: -len(suffix)]
            out.append((split, stem, p))
        if out:
            return out
    return out


@dataclass
class _Objects:
    """The objects read so far, as columns."""

    img: list[int] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    crowd: list[bool] = field(default_factory=list)
    segs: list[Segmentation] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    area: list[float] = field(default_factory=list)
    slot: list[int] = field(default_factory=list)
    n_deleted: int = 0
    n_polygons: int = 0


SLOT_FIELD = "annokit_slot"
"""The field annokit adds to each object it writes beside a sidecar: the object's position among its image's
objects as written (several polygons of one object share it); other tools ignore it."""


def _slot_of(o: CityscapesObject) -> int:
    v = (o.model_extra or {}).get(SLOT_FIELD)
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else -1


def _polygon_objects(p: Path, key: str, i: int, problems: Problems, rec: LossRecorder, out: _Objects
                     ) -> tuple[int, int] | None:
    """A polygon JSON's objects, one per polygon (the polygon its segmentation, its extent the box, its shoelace
    area the area); return the image's (height, width) (None when a validator met an error)."""
    with problems.guard(p):
        d = load_polygons(p)
        for j, o in enumerate(d.objects):
            if o.deleted:
                out.n_deleted += 1
                continue
            lab, group = _resolve(o.label)
            if lab is None:
                problems.error(p, f"objects[{j}].label", f"{o.label!r} is not a Cityscapes label")
                continue
            if lab.id < 0:
                rec.add("object of a label without id (license plate) dropped", f"{key}: objects[{j}]")
                continue
            pts = np.asarray(o.polygon, dtype=np.float64).reshape(-1, 2)
            if len(pts) < 3:
                problems.warning(p, f"objects[{j}].polygon", "fewer than 3 points")
                rec.add("polygon with fewer than 3 points dropped", f"{key}: objects[{j}]")
                continue
            area = float(0.5 * abs(np.dot(pts[:, 0], np.roll(pts[:, 1], 1)) -
                                   np.dot(pts[:, 1], np.roll(pts[:, 0], 1))))
            if not math.isfinite(area):
                problems.error(p, f"objects[{j}].polygon", "coordinates too large (the area is not finite)")
                continue
            if problems.collect and ((pts.min(axis=0) < -1).any() or pts[:, 0].max() > d.imgWidth + 1
                                     or pts[:, 1].max() > d.imgHeight + 1):
                problems.warning(p, f"objects[{j}].polygon", "reaches outside the image")
            out.img.append(i)
            out.label.append(lab.id)
            out.crowd.append(group)
            out.segs.append([pts.reshape(-1).tolist()])
            out.boxes.append([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])
            out.area.append(area)
            out.slot.append(_slot_of(o))
            out.n_polygons += 1
        return d.imgHeight, d.imgWidth
    return None


def _png_objects(p: Path, i: int, problems: Problems, out: _Objects) -> tuple[int, int] | None:
    """An instanceIds PNG's objects: values >= 1000 are instances of class ``v // 1000``, smaller ones class
    regions (crowd where the class has instances); return the image's (height, width)."""
    from annokit.core.masks import bitmap_to_rle, rle_area, rle_to_ltrb
    from annokit.io.labelmap import read_label_map

    with problems.guard(p):
        inst = read_label_map(p).astype(np.int64)  # gray (16-bit as the official scripts write it); colour refused
        for v in np.unique(inst).tolist():
            cls = v // 1000 if v >= 1000 else v
            lab = BY_ID.get(cls)
            if lab is None:
                raise FormatError(p, None, f"value {v} is not a Cityscapes label id")
            if v == BY_NAME["unlabeled"].id:
                continue  # background
            rle = bitmap_to_rle(inst == v)
            out.img.append(i)
            out.label.append(cls)
            out.crowd.append(v < 1000 and lab.has_instances)
            out.segs.append({"size": rle["size"], "counts": rle["counts"].decode("ascii")})
            out.boxes.append(rle_to_ltrb([rle])[0].tolist())
            out.area.append(float(rle_area([rle])[0]))
            out.slot.append(-1)
        return int(inst.shape[0]), int(inst.shape[1])
    return None


@dataclass(frozen=True)
class _Image:
    """One image read: its split, its stem (``<city>/<city>_<seq>_<frame>``) and its (height, width)."""

    split: str
    stem: str
    hw: tuple[int, int]

    @property
    def key(self) -> str:
        return f"{self.split}/{self.stem}" if self.split else self.stem


def _check_cityscapes(root: PathLike, *, problems: Problems, recorder: LossRecorder | None
                      ) -> tuple[list[_Image], _Objects]:
    """The rules of a Cityscapes folder, file by file (the reader's and the validator's)."""
    root = Path(root)
    rec = recorder if recorder is not None else LossRecorder()
    ents = _entries(root)
    if not ents:
        problems.error(root, None, "no gtFine/*_gtFine_polygons.json or *_gtFine_instanceIds.png found")
    images: list[_Image] = []
    out = _Objects()
    for split, stem, p in ents:
        key = f"{split}/{stem}" if split else stem
        got = (_polygon_objects(p, key, len(images), problems, rec, out) if p.suffix == ".json" else
               _png_objects(p, len(images), problems, out))
        if got is not None:
            images.append(_Image(split, stem, got))
    if out.n_polygons:
        rec.warn("Cityscapes polygons are filled by PIL; COCO tools rasterize them with pycocotools, which can "
                 "differ on edge pixels (the labelIds / instanceIds PNGs are the pixel truth)")
    rec.add_many("deleted objects skipped (the official scripts skip them too)", out.n_deleted)
    return images, out


def read_cityscapes_keyed(root: PathLike, *, recorder: LossRecorder | None = None, slots: bool = False
                          ) -> tuple[Dataset, list[str]]:
    """Read a Cityscapes folder; also return each image's key (``<split>/<city>/<stem>``). ``slots``: where every
    object carries the ``annokit_slot`` annokit writes beside its sidecar, give it as the ``_annokit_slot`` extra
    (the sidecar's objects pair with the files' by it)."""
    images, objs = _check_cityscapes(root, problems=Problems(collect=False), recorder=recorder)
    ids = np.arange(1, len(images) + 1)
    extras = [{"split": im.split} if im.split else {} for im in images]
    file_names = [f"leftImg8bit/{im.split}/{im.stem}_leftImg8bit.png" if im.split else f"{im.stem}_leftImg8bit.png"
                  for im in images]
    tbl = ImageTable(ids=ids, file_names=file_names, heights=np.asarray([im.hw[0] for im in images], dtype=np.int64),
                     widths=np.asarray([im.hw[1] for im in images], dtype=np.int64),
                     extras=extras if any(extras) else None)
    n = len(objs.img)
    inst = Instances(image_ids=ids[np.asarray(objs.img, dtype=np.int64)],
                     boxes=np.asarray(objs.boxes, dtype=np.float64).reshape(n, 4),
                     labels=np.asarray(objs.label, dtype=np.int64), iscrowd=np.asarray(objs.crowd, dtype=bool),
                     area=np.asarray(objs.area, dtype=np.float64), segmentations=list(objs.segs),
                     extras=[{"_annokit_slot": k} for k in objs.slot] if slots and n and min(objs.slot) >= 0
                     else None)
    return Dataset(images=tbl, categories=label_set(), annotations=inst), [im.key for im in images]


def read_cityscapes(root: PathLike) -> Dataset:
    """Read Cityscapes ``gtFine`` (polygon JSON, or the instanceIds PNGs when there is no JSON).

    Every malformed file raises :class:`~annokit.errors.FormatError` naming the file and the place;
    :func:`validate_cityscapes` lists every problem instead.
    """
    return read_cityscapes_keyed(root)[0]


def validate_cityscapes(root: PathLike) -> list[Problem]:
    """Every problem of a Cityscapes folder with its file and place: unreadable or malformed polygon JSON, labels
    that are not Cityscapes labels (errors); polygons of fewer than 3 points or reaching outside the image
    (warnings).

    >>> for p in validate_cityscapes("cityscapes"):  # doctest: +SKIP
    ...     print(p)
    """
    problems = Problems(collect=True)
    with problems.guard(root):
        _check_cityscapes(root, problems=problems, recorder=None)
    return problems.items


# ------------------------------------------------------------------------------------------- writing
def _gt_stem(ds: Dataset, i: int, split: str, seen: set[str]) -> tuple[str, str]:
    """Image ``i``'s split and its stem in ``gtFine`` (``leftImg8bit/<split>/`` and ``_leftImg8bit`` dropped);
    two images of one stem are an error."""
    im = ds.images
    if im.heights[i] <= 0 or im.widths[i] <= 0:
        raise FormatError(None, f"images[{i}]", "Cityscapes needs the image size")
    name = safe_name(im.file_names[i], where=f"images[{i}].file_name")
    if name.startswith("leftImg8bit/"):
        name = name.split("/", 2)[2] if name.count("/") >= 2 else name
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    stem = name[: len(name) - len(base) + dot] if dot > 0 else name
    if stem.endswith("_leftImg8bit"):
        stem = stem[: -len("_leftImg8bit")]
    if stem.lower() in seen:
        raise FormatError(None, f"images[{i}].file_name", f"two images would write the same {stem}_gtFine_*")
    seen.add(stem.lower())
    sp = split
    if im.extras is not None and isinstance(im.extras[i].get("split"), str) and im.extras[i]["split"]:
        sp = safe_name(im.extras[i]["split"])
    return sp, stem


@dataclass
class _Dropped:
    """What the polygon JSON cannot hold, counted over the dataset: objects dropped (``other``: classes Cityscapes
    does not have, ``plate``: license plates, a label without id the official scripts and the reader skip, ``rle``,
    ``none``: no polygon, ``degenerate``: no part of 3 points or more), and what changed in the objects written
    (``multi``: one object a part, ``short_parts``: parts of fewer than 3 points left out, ``crowd``: a crowd of a
    class without instances, written as a plain region). ``written``: the objects written."""

    other: int = 0
    other_examples: list[str] = field(default_factory=list)
    plate: int = 0
    rle: int = 0
    none: int = 0
    degenerate: int = 0
    multi: int = 0
    short_parts: int = 0
    crowd: int = 0
    written: int = 0
    written_extras: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, what: str, ann_id: int) -> None:
        setattr(self, what, getattr(self, what) + 1)
        ex = self.examples.setdefault(what, [])
        if len(ex) < 5:
            ex.append(f"annotation id {ann_id}")


def _polygon_entries(ds: Dataset, rows: list[int], name_of: dict[int, str], dropped: _Dropped, slots: bool
                     ) -> list[dict[str, Any]]:
    """The JSON objects of one image's rows: one per polygon part of 3 points or more, crowd objects as
    ``<label>group``; ``slots``: each carries ``annokit_slot``, its row's position among the image's rows."""
    a = ds.annotations
    objs = []
    for k, r in enumerate(rows):
        lname, aid = name_of[int(a.labels[r])], int(a.ids[r])
        lab = BY_NAME.get(lname)
        if lab is None:
            dropped.other += 1
            if len(dropped.other_examples) < 5:
                dropped.other_examples.append(f"{lname!r} (annotation id {aid})")
            continue
        if lab.id < 0:
            dropped.note("plate", aid)
            continue
        seg = a.segmentations[r] if a.segmentations is not None else None
        if not isinstance(seg, list) or not seg:
            dropped.note("rle" if seg else "none", aid)
            continue
        parts = [np.asarray(part, dtype=np.float64).reshape(-1, 2) for part in seg]
        good = [pts for pts in parts if len(pts) >= 3]
        if not good:
            dropped.note("degenerate", aid)
            continue
        if len(good) < len(parts):
            dropped.note("short_parts", aid)
        if len(good) > 1:
            dropped.note("multi", aid)
        if bool(a.iscrowd[r]) and not lab.has_instances:
            dropped.note("crowd", aid)
        dropped.written += 1
        dropped.written_extras += bool(a.extras is not None and a.extras[r])
        label = lname + "group" if bool(a.iscrowd[r]) and lab.has_instances else lname
        for pts in good:
            objs.append({"label": label, "polygon": pts.tolist(), **({SLOT_FIELD: k} if slots else {})})
    return objs


def _count_losses(ds: Dataset, dropped: _Dropped, rec: LossRecorder, kept_in: str | None) -> None:
    """The report: the objects not written are lost even with the sidecar (reading back, an image's objects are
    the ones its JSON holds; the sidecar fills in the fields of those), the fields of the objects written are kept
    in it."""
    ex = dropped.examples
    rec.add_many("objects of classes Cityscapes does not have dropped", dropped.other, dropped.other_examples)
    rec.add_many("license plate objects dropped: Cityscapes gives that label no id (its scripts skip it)",
                 dropped.plate, ex.get("plate", []))
    rec.add_many("RLE mask has no polygon form: dropped from the JSON", dropped.rle, ex.get("rle", []))
    rec.add_many("object without a polygon dropped", dropped.none, ex.get("none", []))
    rec.add_many("object whose polygons all have fewer than 3 points dropped", dropped.degenerate,
                 ex.get("degenerate", []))
    rec.add_many("polygon parts of fewer than 3 points left out of the JSON", dropped.short_parts,
                 ex.get("short_parts", []), kept_in=kept_in)
    rec.add_many("multi-part polygon written as one object per part", dropped.multi, ex.get("multi", []),
                 kept_in=kept_in)
    rec.add_many("crowd flag dropped: the class has no instances in Cityscapes", dropped.crowd, ex.get("crowd", []),
                 kept_in=kept_in)
    rec.add_many("boxes, areas and ids of the objects written dropped: Cityscapes keeps polygons only",
                 dropped.written, kept_in=kept_in)
    if ds.annotations.scores is not None:
        rec.add_many("scores of the objects written dropped", dropped.written, kept_in=kept_in)
    rec.add_many("annotation fields of the objects written dropped", dropped.written_extras, kept_in=kept_in)
    rec.add_many("image ids dropped", len(ds.images), kept_in=kept_in)


def _write_image(folder: Path, stem: str, doc: dict[str, Any], where: str) -> None:
    """``<stem>_gtFine_polygons.json`` and the ``labelIds`` / ``instanceIds`` PNGs drawn from it."""
    import orjson
    from PIL import Image

    (folder / stem).parent.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}_gtFine_polygons.json").write_bytes(orjson.dumps(doc))
    Image.fromarray(render_label_ids(doc), mode="L").save(folder / f"{stem}_gtFine_labelIds.png")
    inst = render_instance_ids(doc)
    if inst.max(initial=0) > 65535:
        raise FormatError(None, where, "instance ids do not fit a 16-bit PNG")
    Image.fromarray(inst.astype(np.uint16)).save(folder / f"{stem}_gtFine_instanceIds.png")  # 16-bit, as official


def write_cityscapes_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None,
                          kept_in: str | None = None, split: str = "train", images: Path | None = None) -> list[str]:
    """Write ``gtFine/<split>/<stem>_gtFine_{polygons.json,labelIds.png,instanceIds.png}``; return the keys.

    Categories are matched to Cityscapes labels by name; objects of other classes are dropped (counted). Polygon
    objects go to the JSON (one entry per polygon part of 3 points or more); RLE objects cannot be polygons and are
    dropped from it (counted). With ``kept_in`` (a sidecar is written), each JSON object carries ``annokit_slot``
    (its object's position among the image's objects) so that the sidecar pairs with it on reading back. The PNGs
    are drawn from the JSON exactly as the official scripts draw them.
    """
    rec = recorder if recorder is not None else LossRecorder()
    targets: list[Path | None] = []
    im, a = ds.images, ds.annotations
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(im) + 1))
    name_of = dict(zip(ds.categories.ids.tolist(), ds.categories.names))
    keys = []
    seen: set[str] = set()
    dropped = _Dropped()
    for i in range(len(im)):
        sp, stem = _gt_stem(ds, i, split, seen)
        objs = _polygon_entries(ds, order[starts[i]:starts[i + 1]].tolist(), name_of, dropped, kept_in is not None)
        doc = {"imgHeight": int(im.heights[i]), "imgWidth": int(im.widths[i]), "objects": objs}
        _write_image(root / "gtFine" / sp, stem, doc, f"images[{i}]")
        keys.append(f"{sp}/{stem}")
        base = im.file_names[i].rsplit("/", 1)[-1]
        ext = base[base.rfind("."):] if "." in base else ""
        targets.append(root / "leftImg8bit" / sp / f"{stem}_leftImg8bit{ext}")
    if images is not None:
        copy_images(ds, images, targets, rec)
    rec.section()  # the missing images are met image by image: their kind before the kinds below in every part
    _count_losses(ds, dropped, rec, kept_in)
    return keys


def write_cityscapes(ds: Dataset, root: PathLike, *, split: str = "train", overwrite: bool = False,
                     recorder: LossRecorder | None = None) -> None:
    """Write a Cityscapes ``gtFine`` folder, atomically (see :func:`write_cityscapes_into`)."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_cityscapes_into(ds, tmp, recorder=recorder, split=split)
