"""PNG masks: semantic label maps with a class list, and instance-id maps.

Layout of a ``png`` dataset folder::

    classes.txt              one "id name" a line (also read: datumaro's dataset_meta.json, VOC's labelmap.txt)
    masks/<stem>.png         semantic label map: pixel = category id; 0 = no object, 255 = void
                             (8-bit palette with the VOC colours when every id is below 255, else 16-bit gray)
    instances/<stem>.png     optional instance map (16-bit): 0 = no object, k = the image's k-th object

Reading accepts palette (indices), grayscale (8 or 16 bit) and RGB colour masks (colours mapped through
``dataset_meta.json``'s ``segmentation_colors`` or the VOC colour map). With ``instances/`` every instance id is an
object whose class is the semantic value under it; without it every class present in an image is one object.
Masks become COCO RLE (exactly the pixels of the PNG); boxes are their tight extent and areas their pixel counts.

Writing rasterizes polygons exactly as pycocotools does (:func:`annokit.core.masks.segmentation_to_rle`); objects
are painted in order, so a later object covers an earlier one where they overlap (counted as a loss). Every PNG is
size-checked before it is decoded (no decompression bombs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pydantic
from numpy.typing import NDArray
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter

from annokit._internal.files import atomic_dir
from annokit._internal.paths import safe_name
from annokit.core.arrays import BoolArray, IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import MAX_EXAMPLES, LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import open_image_checked
from annokit.io.validation import Problem, Problems, read_text

__all__ = ["DatasetMeta", "read_classes", "read_label_png", "read_png_masks", "read_png_masks_keyed",
           "validate_png_masks", "write_label_png", "write_png_masks", "write_png_masks_into"]

PathLike = str | os.PathLike[str]
VOID = 255


# ------------------------------------------------------------------------------------------- single PNGs
def _label_pixels(im: Any, path: PathLike, colors: IntArray | None) -> NDArray[Any]:
    """The label values of an opened PNG (see :func:`read_label_png`)."""
    mode = im.mode
    if mode == "P":
        arr = np.asarray(im)  # indices
    elif mode in ("L", "I;16", "I;16B", "I", "1"):
        arr = np.asarray(im)
        if mode == "I":
            arr = arr.astype(np.int64)
    elif mode in ("RGB", "RGBA"):
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
        if colors is None:
            from annokit.io.voc import voc_colormap

            colors = voc_colormap(256)
        table = np.asarray(colors, dtype=np.int64).reshape(-1, 3)
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        tcode = (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2]
        order = np.argsort(tcode, kind="stable")
        pos = np.clip(np.searchsorted(tcode[order], code), 0, len(order) - 1)
        hit = tcode[order][pos] == code
        if not hit.all():
            y, x = np.argwhere(~hit)[0]
            raise FormatError(path, f"pixel ({int(x)}, {int(y)})",
                              f"colour {tuple(int(v) for v in rgb[y, x])} is not in the class colour table")
        arr = order[pos]
    else:
        raise FormatError(path, None, f"PNG mode {mode!r} is not a label map (palette, gray or RGB)")
    return arr


def read_label_png(path: PathLike, *, colors: np.ndarray | None = None) -> np.ndarray:
    """``(H, W)`` integer labels of a PNG: palette indices, gray values, or RGB colours mapped to their index in
    ``colors`` (``(K, 3)``; default the VOC colour map). An RGB colour not in the table is an error."""
    im = open_image_checked(path)
    try:
        arr = _label_pixels(im, path, colors)
    except OSError as exc:  # a truncated or corrupt file fails while its pixels are decoded
        raise FormatError(path, None, f"cannot decode the image: {exc}") from None
    finally:
        im.close()
    return np.ascontiguousarray(arr)


def write_label_png(path: PathLike, labels: np.ndarray, *, palette: bool = True) -> None:
    """Write ``(H, W)`` labels: 8-bit palette (VOC colours) when all are < 256 and ``palette``, else 16-bit gray."""
    from PIL import Image

    a = np.asarray(labels)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise FormatError(path, None, "label values must be in 0..65535 to fit a PNG")
    if palette and (a.size == 0 or a.max() < 256):
        from annokit.io.voc import voc_colormap

        im = Image.fromarray(a.astype(np.uint8), mode="P")
        im.putpalette(voc_colormap(256).reshape(-1).tolist())
    else:
        im = Image.fromarray(a.astype(np.uint16))
    im.save(path, format="PNG")


# ------------------------------------------------------------------------------------------- class lists
def _label_name(v: Any) -> str:
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return str(v)
    raise ValueError(f"a class name must be a string, got {v!r}")


LabelValue = Annotated[int, Field(ge=0, le=65535)]
Rgb = Annotated[list[Annotated[int, Strict(), Field(ge=0, le=255)]], Field(min_length=3, max_length=3)]


class DatasetMeta(BaseModel):
    """datumaro's ``dataset_meta.json`` (the fields annokit reads; others are accepted and left alone):
    ``label_map`` ``{value: name}`` with values 0..65535, ``segmentation_colors`` (``[r, g, b]`` of each class in
    the order of its values), ``background_label``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label_map: dict[LabelValue, Annotated[str, BeforeValidator(_label_name)]]
    segmentation_colors: list[Rgb] | None = None
    background_label: int = 0


META = TypeAdapter(DatasetMeta)


def _read_classes_txt(ct: Path) -> LabelSet:
    """``classes.txt``: one ``id name`` a line (``#`` comments)."""
    ids, names = [], []
    for i, line in enumerate(read_text(ct).splitlines()):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split(None, 1)
        if len(parts) != 2 or not parts[0].isdecimal() or not 0 <= int(parts[0]) <= 65535:
            raise FormatError(ct, f"line {i + 1}", "expected 'id name' with an id in 0..65535")
        if int(parts[0]) in ids:
            raise FormatError(ct, f"line {i + 1}", f"id {int(parts[0])} is listed twice")
        ids.append(int(parts[0]))
        names.append(parts[1])
    return LabelSet(ids=np.asarray(ids, dtype=np.int64), names=names)


def _read_dataset_meta(meta: Path) -> tuple[LabelSet, IntArray | None, int]:
    """datumaro's ``dataset_meta.json``: the classes, their colour table (row = class value) and the
    background value."""
    from annokit.io.coco import load_json

    try:
        d = META.validate_python(load_json(meta))
    except pydantic.ValidationError as exc:
        Problems(collect=False).schema_errors(exc, meta)
        raise  # pragma: no cover - schema_errors raised the first error
    items = sorted(d.label_map.items())
    table = None
    if d.segmentation_colors is not None:
        table = np.full((max((k for k, _ in items), default=0) + 1, 3), -1, dtype=np.int64)
        for (k, _), c in zip(items, d.segmentation_colors):
            table[k] = c
    labels = LabelSet(ids=np.asarray([k for k, _ in items], dtype=np.int64), names=[n for _, n in items])
    return labels, table, d.background_label


def read_classes(root: Path) -> tuple[LabelSet | None, IntArray | None, int]:
    """Class list of a mask folder, its colour table (or None) and the background value: ``classes.txt``, else
    datumaro's ``dataset_meta.json``, else VOC's ``labelmap.txt``, else none."""
    ct = root / "classes.txt"
    if ct.is_file():
        return _read_classes_txt(ct), None, 0
    meta = root / "dataset_meta.json"
    if meta.is_file():
        return _read_dataset_meta(meta)
    lm = root / "labelmap.txt"
    if lm.is_file():
        from annokit.io.voc import _label_set, read_labelmap

        return _label_set([], read_labelmap(lm)), None, 0
    return None, None, 0


# ------------------------------------------------------------------------------------------- reading
def _stems(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in sorted(folder.rglob("*.png"))
            if p.is_file()}


@dataclass
class _Objects:
    """The objects found so far, as columns: image row, class value, slot (the instance id - 1, -1 for a class
    region) and mask."""

    img: list[int] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    slot: list[int] = field(default_factory=list)
    rles: list[dict[str, Any]] = field(default_factory=list)

    def add(self, i: int, label: int, slot: int, mask: BoolArray) -> None:
        from annokit.core.masks import bitmap_to_rle

        self.img.append(i)
        self.label.append(label)
        self.slot.append(slot)
        self.rles.append(bitmap_to_rle(mask))


@dataclass(frozen=True)
class _MaskSetup:
    """What every image of one reading shares: the class list and colours, the special values, where to
    report."""

    labels: LabelSet | None
    colors: IntArray | None
    background: int
    ignore_index: int
    problems: Problems
    rec: LossRecorder
    masks: str  # the semantic maps' folder (for messages)


def _instance_objects(key: str, path: Path, s: IntArray | None, n: IntArray, i: int, setup: _MaskSetup,
                      out: _Objects) -> None:
    """The instances of an instance-id map: id k is an object whose class is the majority semantic value
    under it."""
    ids = np.unique(n)
    ids = ids[ids != 0]
    if s is None:
        if len(ids):
            setup.problems.error(path, None, "instance map without its masks/ semantic map (the class of each "
                                             "instance comes from masks/)")
        return
    for k in ids.tolist():
        m = n == k
        vals, counts = np.unique(s[m], return_counts=True)
        cls = int(vals[np.argmax(counts)])
        if len(vals) > 1:
            setup.rec.add("instance covers several classes (the majority class kept)", f"{key}: instance {k}")
        if cls == setup.background or cls == setup.ignore_index:
            setup.rec.add("instance on background or void pixels dropped", f"{key}: instance {k}")
            continue
        out.add(i, cls, k - 1, m)
    if ((n == 0) & (s != setup.background) & (s != setup.ignore_index)).any():
        setup.rec.add("class pixels outside every instance dropped", key)


def _class_objects(s: IntArray, values: list[int], i: int, setup: _MaskSetup, out: _Objects) -> None:
    """Without an instance map, every class present in the semantic map is one object."""
    for v in values:
        if v != setup.background and v != setup.ignore_index:
            out.add(i, int(v), -1, s == v)


def _unknown_values(path: Path, values: list[int], setup: _MaskSetup) -> None:
    """A semantic value that is not in the class list (nor background or void) is an error."""
    if setup.labels is None:
        return
    bad = sorted(set(values) - set(setup.labels.ids.tolist()) - {setup.background, setup.ignore_index})
    if bad:
        setup.problems.error(path, None, f"mask values {bad[:10]} are not in the class list")


def _read_image(key: str, sem: Path | None, ins: Path | None, i: int, setup: _MaskSetup, out: _Objects
                ) -> tuple[int, int] | None:
    """One image's semantic and instance maps: its objects appended to ``out``; return its (height, width)
    (None when a validator met an error)."""
    with setup.problems.guard(sem or ins):
        s = read_label_png(sem, colors=setup.colors) if sem is not None else None
        values = np.unique(s).tolist() if s is not None else []
        if sem is not None:
            _unknown_values(sem, values, setup)
        n = read_label_png(ins) if ins is not None else None
        if s is not None and n is not None and s.shape != n.shape:
            raise FormatError(ins, None, f"size {n.shape[::-1]} differs from {setup.masks}/{key}.png's "
                                         f"{s.shape[::-1]}")
        if ins is not None and n is not None:
            _instance_objects(key, ins, s, n, i, setup, out)
        elif s is not None:
            _class_objects(s, values, i, setup, out)
        if s is not None and (s == setup.ignore_index).any():
            setup.rec.add("void pixels (255) dropped: COCO instances have no void", key)
        ref = s if s is not None else n
        assert ref is not None
        return int(ref.shape[0]), int(ref.shape[1])
    return None


def _file_name(img_dir: Path, key: str) -> str:
    """The image beside the masks (``images/<key>.jpg|png|jpeg``), else ``<key>.jpg``."""
    for ext in (".jpg", ".png", ".jpeg"):
        if (img_dir / (key + ext)).is_file():
            return f"images/{key}{ext}"
    return key + ".jpg"


def _check_png(root: PathLike, *, problems: Problems, recorder: LossRecorder | None, masks: str, instances: str,
               ignore_index: int) -> tuple[Path, LabelSet | None, list[str], list[tuple[int, int]], _Objects]:
    """The rules of a PNG mask folder, image by image (the reader's and the validator's)."""
    root = Path(root)
    labels, colors, background = read_classes(root)
    sem, ins = _stems(root / masks), _stems(root / instances)
    if not sem and not ins:
        problems.error(root, None, f"no {masks}/*.png or {instances}/*.png")
    setup = _MaskSetup(labels, colors, background, ignore_index, problems,
                       recorder if recorder is not None else LossRecorder(), masks)
    keys: list[str] = []
    sizes: list[tuple[int, int]] = []
    out = _Objects()
    for key in sorted(set(sem) | set(ins)):
        hw = _read_image(key, sem.get(key), ins.get(key), len(keys), setup, out)
        if hw is not None:
            keys.append(key)
            sizes.append(hw)
    return root, labels, keys, sizes, out


def read_png_masks_keyed(root: PathLike, *, recorder: LossRecorder | None = None, masks: str = "masks",
                         instances: str = "instances", ignore_index: int = VOID) -> tuple[Dataset, list[str]]:
    """Read a PNG mask folder; also return each image's key (its stem)."""
    from annokit.core.masks import rle_area, rle_to_ltrb

    rec = recorder if recorder is not None else LossRecorder()
    root, labels, keys, sizes, objs = _check_png(root, problems=Problems(collect=False), recorder=rec, masks=masks,
                                                 instances=instances, ignore_index=ignore_index)
    if labels is None:
        vals = sorted(set(objs.label))
        labels = LabelSet(ids=np.asarray(vals, dtype=np.int64), names=[str(v) for v in vals])
        rec.warn(f"{root}: no classes.txt / dataset_meta.json / labelmap.txt: categories are named by their value")
    ids = np.arange(1, len(keys) + 1)
    tbl = ImageTable(ids=ids, file_names=[_file_name(root / "images", k) for k in keys],
                     heights=np.asarray([h for h, _ in sizes], dtype=np.int64),
                     widths=np.asarray([w for _, w in sizes], dtype=np.int64))
    inst = Instances.empty()
    if objs.rles:
        inst = Instances(image_ids=ids[np.asarray(objs.img)], boxes=rle_to_ltrb(objs.rles),
                         labels=np.asarray(objs.label, dtype=np.int64), area=rle_area(objs.rles),
                         segmentations=[{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in objs.rles],
                         extras=[{"_annokit_slot": k} for k in objs.slot] if min(objs.slot) >= 0 else None)
    return Dataset(images=tbl, categories=labels, annotations=inst), keys


def read_png_masks(root: PathLike, *, masks: str = "masks", instances: str = "instances",
                   ignore_index: int = VOID, recorder: LossRecorder | None = None) -> Dataset:
    """Read a PNG mask folder (see the module text). ``masks`` / ``instances`` name the two sub-folders;
    ``ignore_index`` is the void value.

    Every malformed file raises :class:`~annokit.errors.FormatError` naming the file; :func:`validate_png_masks`
    lists every problem instead.

    >>> ds = read_png_masks("masks_dataset")  # doctest: +SKIP
    """
    return read_png_masks_keyed(root, masks=masks, instances=instances, ignore_index=ignore_index,
                                recorder=recorder)[0]


def validate_png_masks(root: PathLike, *, masks: str = "masks", instances: str = "instances",
                       ignore_index: int = VOID) -> list[Problem]:
    """Every problem of a PNG mask folder with its file: unreadable PNGs, values not in the class list, instance
    maps without their semantic map or of another size (errors); no class list (a warning).

    >>> for p in validate_png_masks("masks_dataset"):  # doctest: +SKIP
    ...     print(p)
    """
    problems = Problems(collect=True)
    with problems.guard(root):
        root, labels, *_ = _check_png(root, problems=problems, recorder=None, masks=masks, instances=instances,
                                      ignore_index=ignore_index)
        if labels is None:
            problems.warning(root, None, "no classes.txt / dataset_meta.json / labelmap.txt")
    return problems.items


# ------------------------------------------------------------------------------------------- writing
def pixel_values(cats: LabelSet) -> IntArray:
    """Each category's value in the masks: its id, unless an id is the background (0 or below), the void value
    (255) or does not fit 16 bits; then every category is renumbered 1..n in id order, 255 skipped (YOLO's,
    Darknet's and class folders' ids start at 0)."""
    ids = np.asarray(cats.ids, dtype=np.int64)
    if not ((ids <= 0) | (ids == VOID) | (ids > 65534)).any():
        return ids
    if len(ids) > 65533:
        raise FormatError(None, "categories", f"{len(ids)} categories do not fit a 16-bit mask (1..65534 but 255)")
    values = np.empty(len(ids), dtype=np.int64)
    ranks = np.arange(1, len(ids) + 1)
    values[np.argsort(ids, kind="stable")] = ranks + (ranks >= VOID)
    return values


def _write_classes(ds: Dataset, root: Path, values: IntArray, rec: LossRecorder, kept_in: str | None) -> bool:
    """Refuse names that cannot be lines; write ``classes.txt`` (``value name``); count renumbered ids; return
    whether the masks fit an 8-bit palette."""
    cats = ds.categories
    for n in cats.names:
        if "\n" in n or n != n.strip() or not n:
            raise FormatError(None, "categories", f"category name {n!r} cannot be written to classes.txt")
    moved = [k for k in np.argsort(cats.ids, kind="stable").tolist() if values[k] != cats.ids[k]]
    rec.add_once("category ids renumbered: PNG value 0 is the background and 255 void, so the classes are 1..n "
                 "(classes.txt maps values to names)", len(moved),
                 [f"id {int(cats.ids[k])} {cats.names[k]!r} -> value {int(values[k])}" for k in moved[:MAX_EXAMPLES]],
                 kept_in=kept_in)
    lines = [f"{int(v)} {n}" for v, n in sorted(zip(values.tolist(), cats.names))]
    (root / "classes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bool(values.max() < 255) if len(cats) else True


def _mask_stem(ds: Dataset, i: int, seen: set[str]) -> str:
    """Image ``i``'s mask name (its file name without extension); two images of one name are an error."""
    im = ds.images
    name = safe_name(im.file_names[i], where=f"images[{i}].file_name")
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    stem = name[: len(name) - len(base) + dot] if dot > 0 else name
    if stem.lower() in seen:
        raise FormatError(None, f"images[{i}].file_name", f"two images would write masks/{stem}.png")
    seen.add(stem.lower())
    if im.heights[i] <= 0 or im.widths[i] <= 0:
        raise FormatError(None, f"images[{i}]", f"image {im.file_names[i]!r} has no size; a mask needs one")
    return stem


@dataclass
class _Tally:
    """A count and its first few examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def hit(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)


@dataclass
class _PaintCounts:
    """What painting lost, counted over the whole dataset."""

    poly: int = 0
    box: int = 0
    area: int = 0
    empty: int = 0
    nomask: _Tally = field(default_factory=_Tally)
    overlap: _Tally = field(default_factory=_Tally)
    gone: _Tally = field(default_factory=_Tally)


def _paint(ds: Dataset, rows: list[int], h: int, w: int, counts: _PaintCounts, values: IntArray
           ) -> tuple[NDArray[np.uint16], NDArray[np.uint32], list[tuple[int, int, dict[str, Any]]]]:
    """One image's semantic map (each object's class value, ``values``) and instance map (object k of the image =
    k), objects painted in order; returns the objects painted ``(row, k, rle)``."""
    from annokit.core.masks import rle_to_bitmap, segmentation_to_rle

    a = ds.annotations
    semantic = np.zeros((h, w), dtype=np.uint16)
    inst = np.zeros((h, w), dtype=np.uint32)
    painted = []
    for k, r in enumerate(rows, start=1):  # the object's slot: instance id k is the image's k-th object
        seg = a.segmentations[r] if a.segmentations is not None else None
        if seg is None or seg == []:
            counts.nomask.hit(f"annotation id {int(a.ids[r])}")
            continue
        counts.poly += isinstance(seg, list)
        rle = segmentation_to_rle(seg, h, w)
        m = rle_to_bitmap(rle)
        semantic[m] = values[r]
        inst[m] = k
        painted.append((r, k, rle))
    return semantic, inst, painted


def _count_painted(ds: Dataset, inst: NDArray[np.uint32], n_rows: int,
                   painted: list[tuple[int, int, dict[str, Any]]], counts: _PaintCounts) -> None:
    """Objects covered (in part or wholly) by later ones, empty masks, boxes and areas the pixels do not give."""
    from annokit.core.masks import rle_area, rle_to_ltrb

    a = ds.annotations
    pixels = np.bincount(inst.reshape(-1), minlength=n_rows + 1)
    for r, k, rle in painted:
        full = float(rle_area([rle])[0])
        if pixels[k] == 0 and full > 0:
            counts.gone.hit(f"annotation id {int(a.ids[r])}")
        elif pixels[k] != full:
            counts.overlap.hit(f"annotation id {int(a.ids[r])} ({int(full - pixels[k])} px)")
        elif full > 0:
            counts.box += not np.array_equal(rle_to_ltrb([rle])[0], a.boxes[r])
            counts.area += full != a.area[r]
        counts.empty += full == 0


def _field_losses(ds: Dataset, instances: bool, n_nomask: int, rec: LossRecorder, kept_in: str | None) -> None:
    """What PNG masks cannot hold besides pixels: crowd, ids, scores, fields, supercategories, info."""
    im, a, cats = ds.images, ds.annotations, ds.categories
    if not instances:
        rec.add_many("instances merged: a semantic map keeps classes only", len(a), kept_in=kept_in)
    rec.add_many("crowd flag dropped: PNG masks have no iscrowd", int(a.iscrowd.sum()), kept_in=kept_in)
    rec.add_many("annotation ids dropped: instance ids are 1..k per image", len(a) - n_nomask, kept_in=kept_in)
    rec.add_many("image ids dropped: PNG masks are named by file", len(im), kept_in=kept_in)
    if a.scores is not None:
        rec.add_many("scores dropped: PNG masks have none", len(a), kept_in=kept_in)
    if a.extras is not None:
        rec.add_many("annotation fields dropped: PNG masks hold class and pixels only",
                     sum(1 for e in a.extras if e), kept_in=kept_in)
    if im.extras is not None:
        rec.add_many("image fields dropped: PNG masks hold pixels only", sum(1 for e in im.extras if e),
                     kept_in=kept_in)
    if cats.supercategories is not None and any(cats.supercategories):
        rec.add_once("supercategory dropped: classes.txt has id and name", len(cats), kept_in=kept_in)
    if ds.info is not None or ds.licenses is not None or ds.extras:
        rec.add_once("dataset info / licenses / top-level fields dropped", 1, kept_in=kept_in)


def write_png_masks_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None,
                         kept_in: str | None = None, instances: bool = True) -> list[str]:
    """Write ``ds`` as PNG masks into the existing folder ``root``; return each image's key (its stem)."""
    rec = recorder if recorder is not None else LossRecorder()
    values = pixel_values(ds.categories)
    palette = _write_classes(ds, root, values, rec, kept_in)
    obj_values = values[ds.categories.index_of(ds.annotations.labels)] if len(ds.annotations) else values[:0]
    (root / "masks").mkdir()
    if instances:
        (root / "instances").mkdir()
    im, a = ds.images, ds.annotations
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(im) + 1))
    counts = _PaintCounts()
    keys: list[str] = []
    seen: set[str] = set()
    for i in range(len(im)):
        stem = _mask_stem(ds, i, seen)
        rows = order[starts[i]:starts[i + 1]].tolist()
        if len(rows) > 65535:
            raise FormatError(None, f"images[{i}]", f"{len(rows)} objects do not fit a 16-bit instance map")
        semantic, inst, painted = _paint(ds, rows, int(im.heights[i]), int(im.widths[i]), counts, obj_values)
        if painted:
            _count_painted(ds, inst, len(rows), painted, counts)
        for sub, arr, pal in (("masks", semantic, palette), ("instances", inst if instances else None, False)):
            if arr is not None:
                dest = root / sub / f"{stem}.png"
                dest.parent.mkdir(parents=True, exist_ok=True)
                write_label_png(dest, arr, palette=pal)
        keys.append(stem)
    for kind, t in (("object without a mask dropped from the PNGs", counts.nomask),
                    ("pixels covered by a later overlapping object", counts.overlap),
                    ("object wholly covered by later objects: not in the PNGs", counts.gone)):
        rec.add_many(kind, t.count, t.examples, kept_in=kept_in)
    rec.add_many("object with an empty mask: not in the PNGs", counts.empty, kept_in=kept_in)
    rec.add_many("polygon stored as pixels (mask exact, vertex list lost)", counts.poly, kept_in=kept_in)
    rec.add_many("box replaced by the mask's extent", counts.box, kept_in=kept_in)
    rec.add_many("area replaced by the mask's pixel count", counts.area, kept_in=kept_in)
    _field_losses(ds, instances, counts.nomask.count, rec, kept_in)
    return keys


def write_png_masks(ds: Dataset, root: PathLike, *, instances: bool = True, overwrite: bool = False,
                    recorder: LossRecorder | None = None) -> None:
    """Write ``ds`` as a PNG mask folder, atomically (see the module text)."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_png_masks_into(ds, tmp, recorder=recorder, instances=instances)
