"""The ``annokit.json`` sidecar: what a target format has no field for, kept beside it (private).

It holds the whole dataset, column by column (ids, areas, crowd flags, masks, scores, extras, info), and each
image's key: its name in the target layout (``a.xml`` for VOC, ``labels/train/a.txt`` for YOLO). Reading the target
back, the format's own files stay the truth for what they hold (which images, which boxes, which classes); the
sidecar fills in the rest wherever it still agrees with them, image by image (:func:`reconcile`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field, Strict

from annokit._internal.files import write_bytes_atomic
from annokit._internal.paths import unique_components
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import AnnokitWarning, FormatError, ValidationError
from annokit.io.coco import load_json
from annokit.io.detect import SIDECAR as SIDECAR
from annokit.io.validation import Problems

_TAG = "annokit_sidecar"
SLOT = "_annokit_slot"

ImageColumn = Literal["ids", "file_names", "heights", "widths", "extras"]
CategoryColumn = Literal["ids", "names", "supercategories", "extras"]
ObjectColumn = Literal["image_ids", "boxes", "labels", "scores", "iscrowd", "area", "ids", "segmentations", "ignore",
                       "extras", "source_wh", "corners"]
_IMG: tuple[ImageColumn, ...] = ("ids", "file_names", "heights", "widths", "extras")
_CAT: tuple[CategoryColumn, ...] = ("ids", "names", "supercategories", "extras")
_ANN: tuple[ObjectColumn, ...] = ("image_ids", "boxes", "labels", "scores", "iscrowd", "area", "ids", "segmentations",
                                  "ignore", "extras", "source_wh", "corners")


class SidecarTag(BaseModel):
    """``annokit_sidecar``: the sidecar's version and the format of the folder it sits in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    category_file_names: dict[str, str] = Field(default_factory=dict, description="category name -> the safe "
                                                "file name the layout uses for it, where they differ")
    format: Annotated[str, Strict()]


class SidecarFile(BaseModel):
    """The sidecar file: its tag, one key per image, the three tables column by column (each column checked by
    the core model it builds), and the dataset's ``info``, ``licenses`` and other top-level fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    annokit_sidecar: SidecarTag
    keys: list[Annotated[str, Strict()]]
    images: dict[ImageColumn, Any]
    categories: dict[CategoryColumn, Any]
    annotations: dict[ObjectColumn, Any]
    info: Any = None
    licenses: Any = None
    extras: dict[str, Any] | None = None


def _cols(model: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in names:
        v = getattr(model, n)
        if v is None:
            continue
        if n == "segmentations":
            v = [{"size": x["size"], "counts": x["counts"].decode("ascii")}
                 if isinstance(x, dict) and isinstance(x.get("counts"), bytes) else x for x in v]
        out[n] = v
    return out


def write_sidecar(root: Path, ds: Dataset, keys: list[str], fmt: str) -> None:
    """Write the whole dataset, column by column, with each image's key in the target layout (and, where a
    category name is not a plain file name, the safe one the layout uses for it)."""
    names = ds.categories.names
    safe = {n: f for n, f in zip(names, unique_components(names)) if n != f}
    d = {_TAG: {"version": 1, "format": fmt, **({"category_file_names": safe} if safe else {})}, "keys": keys,
         "images": _cols(ds.images, _IMG), "categories": _cols(ds.categories, _CAT),
         "annotations": _cols(ds.annotations, _ANN), "info": ds.info, "licenses": ds.licenses,
         "extras": ds.extras}
    write_bytes_atomic(root / SIDECAR, orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY))


def read_sidecar(root: Path) -> tuple[Dataset, list[str]] | None:
    """The dataset and keys of ``root/annokit.json``, or None when there is none (a JSON without the
    ``annokit_sidecar`` tag is not one). The last one read is kept while the file is unchanged (a reader that
    takes image sizes from it and the reconciliation after it read it once)."""
    p = root / SIDECAR
    try:
        st = p.stat()
    except OSError:
        return None
    if not p.is_file():
        return None
    stamp = (str(p.resolve()), st.st_mtime_ns, st.st_size, st.st_ino)
    if stamp in _LAST:
        return _LAST[stamp]
    got = _read_sidecar(p)
    _LAST.clear()
    _LAST[stamp] = got
    return got


_LAST: dict[tuple[str, int, int, int], tuple[Dataset, list[str]] | None] = {}  # the last sidecar read, by stamp


def _read_sidecar(p: Path) -> tuple[Dataset, list[str]] | None:
    data = load_json(p)
    if not isinstance(data, dict) or _TAG not in data:
        return None
    try:
        side = SidecarFile.model_validate(data)
    except pydantic.ValidationError as exc:
        Problems(collect=False).schema_errors(exc, p)
        raise  # pragma: no cover - schema_errors raised the first error
    where = "images"
    try:
        images = ImageTable(**side.images)
        where = "categories"
        cats = LabelSet(**side.categories)
        where = "annotations"
        a = dict(side.annotations)
        if "boxes" in a and len(a["boxes"]) == 0:
            a["boxes"] = np.zeros((0, 4))
        ds = Dataset(images=images, categories=cats, annotations=Instances(**a), info=side.info,
                     licenses=side.licenses, extras=side.extras or {})
    except (TypeError, ValidationError) as exc:
        raise FormatError(p, where, f"not a valid annokit sidecar: {exc}") from None
    if len(side.keys) != len(images):
        raise FormatError(p, "keys", f"expected one key per image ({len(images)}), got {len(side.keys)}")
    return ds, side.keys


def _close(a: FloatArray, b: FloatArray) -> BoolArray:
    out: BoolArray = np.all(np.abs(a - b) <= 1e-6 + 1e-12 * np.abs(b), axis=1)
    return out


def strip_slots(ds: Dataset) -> Dataset:
    """Remove the reader's ``_annokit_slot`` marks from the object extras."""
    ex = ds.annotations.extras
    if ex is None or not any(SLOT in e for e in ex):
        return ds
    new = [{k: v for k, v in e.items() if k != SLOT} for e in ex]
    return ds.with_annotations(ds.annotations.replace(extras=new if any(new) else None))


def _slots(fa: Instances) -> IntArray | None:
    ex = fa.extras
    if ex is None or not len(fa) or not all(SLOT in e for e in ex):
        return None
    return np.array([e[SLOT] for e in ex], dtype=np.int64)


# ----------------------------------------------------------------------------------------------- reconcile
def _category_map(fds: Dataset, sds: Dataset) -> dict[int, int | None]:
    """The sidecar's category id of each of the format's categories: by name (by id order when the sidecar has
    two categories of one name); None where none matches."""
    snames = sds.categories.names
    if len(set(snames)) == len(snames):
        smap = {n: int(i) for n, i in zip(snames, sds.categories.ids)}
        # a class folder is named by the name made a safe file name (tv/monitor -> tv_monitor)
        safe = {f: int(i) for f, i in zip(unique_components(snames), sds.categories.ids)}
        return {int(i): smap.get(n, safe.get(n)) for i, n in zip(fds.categories.ids, fds.categories.names)}
    fo, so = np.argsort(fds.categories.ids), np.argsort(sds.categories.ids)
    if len(fo) != len(so):
        return {}
    return {int(fds.categories.ids[a]): int(sds.categories.ids[b]) for a, b in zip(fo, so)}


@dataclass(frozen=True)
class _Pairing:
    """How the format's rows meet the sidecar's: ``f_to_s`` (the sidecar image of each format image, -1 when
    new), ``present`` / ``matched`` (per sidecar image: still there / its objects pair up), and the paired object
    rows ``forder`` (format) and ``sorder`` (sidecar)."""

    f_to_s: IntArray
    f_simg: IntArray  # the sidecar image of each format object (-1: a new image)
    flab: IntArray  # each format object's category, as a sidecar id
    present: BoolArray
    matched: BoolArray
    forder: IntArray
    sorder: IntArray


def _in_order(f_simg: IntArray, s_pos: IntArray, matched: BoolArray) -> tuple[IntArray, IntArray]:
    """Rows of the matched images, format and sidecar alike, sorted by image (in their order within it)."""
    fsel = np.flatnonzero((f_simg >= 0) & matched[np.clip(f_simg, 0, None)])
    ssel = np.flatnonzero(matched[s_pos])
    return fsel[np.argsort(f_simg[fsel], kind="stable")], ssel[np.argsort(s_pos[ssel], kind="stable")]


def _pair_by_order(flab: IntArray, f_simg: IntArray, sa: Instances, s_pos: IntArray, matched: BoolArray, *,
                   check: bool) -> tuple[BoolArray, IntArray, IntArray]:
    """Objects pair in order within an image with the same object count; ``check``: an image whose paired
    categories differ is unmatched (checked twice: unmatching one image cannot shift another's pairs)."""
    matched = matched.copy()
    for _ in range(2 if check else 0):
        forder, sorder = _in_order(f_simg, s_pos, matched)
        bad = flab[forder] != sa.labels[sorder]
        if not bad.any():
            break
        matched[s_pos[sorder[bad]]] = False
    forder, sorder = _in_order(f_simg, s_pos, matched)
    return matched, forder, sorder


def _pair_by_slot(slots: IntArray, flab: IntArray, f_simg: IntArray, sa: Instances, s_pos: IntArray,
                  present: BoolArray, cs: IntArray) -> tuple[BoolArray, IntArray, IntArray]:
    """Objects pair by the reader's slot (the object's position among its image's objects as written): the
    sidecar rows of an image in order, the format row's slot picks one; an image with a slot out of range or a
    category that differs is unmatched."""
    ns = len(present)
    ssort = np.argsort(s_pos, kind="stable")
    sstart = np.searchsorted(s_pos[ssort], np.arange(ns + 1))
    matched = present.copy()
    ok_f = f_simg >= 0
    img_f = np.clip(f_simg, 0, None)
    valid = ok_f & (slots >= 0) & (slots < cs[img_f])
    matched[img_f[ok_f & ~valid]] = False
    srow = np.where(valid, ssort[np.clip(sstart[img_f] + slots, 0, max(len(ssort) - 1, 0))], -1) \
        if len(ssort) else np.full(len(slots), -1)
    lab_ok = valid & (srow >= 0)
    lab_ok[lab_ok] = sa.labels[srow[lab_ok]] == flab[lab_ok]
    matched[img_f[ok_f & ~lab_ok]] = False
    forder = np.flatnonzero(ok_f & matched[img_f])
    return matched, forder, srow[forder]


def _pair(fds: Dataset, fkeys: list[str], sds: Dataset, skeys: list[str], fcat: dict[int, int | None],
          slotted: bool, written_only: bool) -> _Pairing:
    """Pair images by key, then objects within the images whose object counts agree (see :func:`reconcile`)."""
    fa, sa = fds.annotations, sds.annotations
    ns = len(sds.images)
    skey_pos = {k: i for i, k in enumerate(skeys)}
    f_to_s = np.array([skey_pos.get(k, -1) for k in fkeys], dtype=np.int64)
    flab = np.array([fcat[int(x)] for x in fa.labels.tolist()], dtype=np.int64) if len(fa) else fa.labels
    f_simg = f_to_s[fds.images.index_of(fa.image_ids)] if len(fa) else np.zeros(0, np.int64)
    s_pos = sds.images.index_of(sa.image_ids)
    present = np.zeros(ns, dtype=bool)
    present[f_to_s[f_to_s >= 0]] = True
    cs = np.bincount(s_pos, minlength=ns)
    same_count = present & (np.bincount(f_simg[f_simg >= 0], minlength=ns) == cs)
    slots = _slots(fa)
    if slots is None and (slotted or written_only) and len(fa) == 0:
        slots = np.zeros(0, dtype=np.int64)
    if slots is not None:
        matched, forder, sorder = _pair_by_slot(slots, flab, f_simg, sa, s_pos, present, cs)
    else:
        matched, forder, sorder = _pair_by_order(flab, f_simg, sa, s_pos, same_count, check=not slotted)
    return _Pairing(f_to_s, f_simg, flab, present, matched, forder, sorder)


def _boxes(fa: Instances, sa: Instances, pr: _Pairing, derived_boxes: bool) -> FloatArray:
    """The sidecar's boxes, except where the format's box differs (then the format's). A box that is the extent
    of the polygon (or of the box's 4-point polygon) the sidecar's object was written as agrees."""
    boxes = sa.boxes.copy()
    fb = fa.boxes[pr.forder]
    close = _close(fb, sa.boxes[pr.sorder]) | derived_boxes
    if not close.all() and fa.segmentations is not None and sa.segmentations is not None:
        for k in np.flatnonzero(~close).tolist():
            seg = sa.segmentations[pr.sorder[k]]
            if isinstance(seg, list) and len(seg) == 1 and fa.segmentations[pr.forder[k]] is not None:
                poly = np.asarray(seg[0], dtype=np.float64)
                ext = np.array([[poly[0::2].min(), poly[1::2].min(), poly[0::2].max(), poly[1::2].max()]])
                close[k] = bool(_close(fb[k:k + 1], ext)[0])
            elif fa.segmentations[pr.forder[k]] is not None and (not isinstance(seg, list) or len(seg) > 1):
                close[k] = True  # RLE or several polygons: written as pixels (or its box's 4-point polygon)
    boxes[pr.sorder[~close]] = fb[~close]
    return boxes


def _images(fds: Dataset, sds: Dataset, pr: _Pairing) -> tuple[ImageTable, IntArray]:
    """The sidecar's images still present (in its order; sizes the format states win), then the format's new
    ones; returns the table and the ids given to the new ones."""
    ns = len(sds.images)
    keep = np.flatnonzero(pr.present)
    new_f = np.flatnonzero(pr.f_to_s < 0)
    next_id = int(sds.images.ids.max()) + 1 if ns else 1
    new_ids = np.arange(next_id, next_id + len(new_f))
    heights, widths = sds.images.heights[keep].copy(), sds.images.widths[keep].copy()
    fi_for_s = np.full(ns, -1, dtype=np.int64)
    fi_for_s[pr.f_to_s[pr.f_to_s >= 0]] = np.flatnonzero(pr.f_to_s >= 0)
    fi = fi_for_s[keep]
    fh, fw = fds.images.heights[fi], fds.images.widths[fi]
    upd = (fh > 0) & (fw > 0) & ((fh != heights) | (fw != widths))
    heights[upd], widths[upd] = fh[upd], fw[upd]
    s_ex, f_ex = sds.images.extras, fds.images.extras
    extras: list[dict[str, Any]] = [dict(s_ex[i]) if s_ex is not None else {} for i in keep]
    extras += [dict(f_ex[i]) if f_ex is not None else {} for i in new_f]
    table = ImageTable(ids=np.concatenate([sds.images.ids[keep], new_ids]),
                       file_names=[sds.images.file_names[i] for i in keep] +
                       [fds.images.file_names[i] for i in new_f],
                       heights=np.concatenate([heights, fds.images.heights[new_f]]),
                       widths=np.concatenate([widths, fds.images.widths[new_f]]),
                       extras=extras if any(extras) else None)
    return table, new_ids


def _objects(fds: Dataset, sds: Dataset, pr: _Pairing, boxes: FloatArray, new_ids: IntArray, written_only: bool
             ) -> Instances:
    """The sidecar's objects of matched images (boxes as :func:`_boxes` decided; ``written_only``: only those a
    format object pairs with), then the format's objects of the other images (new ids after the sidecar's)."""
    fa, sa = fds.annotations, sds.annotations
    s_pos = sds.images.index_of(sa.image_ids)
    keep = np.flatnonzero(pr.present[s_pos])
    keep = keep[pr.matched[s_pos[keep]]]
    if written_only:
        keep = np.intersect1d(keep, pr.sorder)
    kept = sa.replace(boxes=boxes)[keep]
    f_fmt_img = np.full(len(fds.images), -1, dtype=np.int64)
    f_fmt_img[pr.f_to_s >= 0] = sds.images.ids[pr.f_to_s[pr.f_to_s >= 0]]
    f_fmt_img[pr.f_to_s < 0] = new_ids
    rest = np.flatnonzero(~((pr.f_simg >= 0) & pr.matched[np.clip(pr.f_simg, 0, None)]))
    if len(rest) == 0:
        return Instances(**{name: getattr(kept, name) for name in Instances.model_fields})
    next_ann = int(sa.ids.max()) + 1 if len(sa) else 1
    fr = fa[rest]
    part = Instances(image_ids=f_fmt_img[fds.images.index_of(fa.image_ids)[rest]], boxes=fr.boxes,
                     labels=pr.flab[rest], ids=np.arange(next_ann, next_ann + len(rest)),
                     scores=fr.scores if kept.scores is not None else None,
                     segmentations=(fr.segmentations or [None] * len(rest)) if kept.segmentations is not None
                     else None,
                     extras=(fr.extras or [{}] * len(rest)) if kept.extras is not None else None,
                     source_wh=fr.source_wh if fr.source_wh is not None and kept.source_wh is not None else None,
                     corners=fr.corners if fr.corners is not None and kept.corners is not None else None)
    if kept.scores is not None and part.scores is None:
        kept = kept.replace(scores=None)
    return Instances.concat([kept, part])


def _warn(rec: LossRecorder, msg: str) -> None:
    warnings.warn(msg, AnnokitWarning, stacklevel=4)
    rec.warn(msg)


def reconcile(fds: Dataset, fkeys: list[str], sds: Dataset, skeys: list[str], rec: LossRecorder,
              source: Path, *, derived_boxes: bool = False, slotted: bool = False, label_table: bool = False,
              written_only: bool = False) -> Dataset:
    """The format's dataset ``fds`` completed from the sidecar's ``sds`` wherever they agree, image by image.

    Images pair by key. Objects pair in order within an image whose object count is the sidecar's (and whose
    paired categories agree), or by the reader's ``_annokit_slot`` (the object's position among the image's
    objects as written) where a format cannot show every object (a mask fully covered by a later one, ``slotted``).
    ``derived_boxes``: the format's boxes are the extent of its masks, so the sidecar's boxes are kept.
    ``label_table``: the format lists a fixed table of classes (Cityscapes'), so only the categories its objects use
    must be the sidecar's; otherwise every category it lists must be (one listed beyond the sidecar's was added by
    hand: the sidecar is then ignored, with a warning). ``written_only``: the writer leaves out objects it cannot
    hold (counted as lost) and the reader gives each object its slot, so an image's objects are the sidecar's
    objects its files still hold (several objects read may share one slot: the parts of one object). Images
    whose objects differ, and new images, are taken from the format alone (warned).
    """
    fcat = _category_map(fds, sds)
    need = set(fds.annotations.labels.tolist()) if label_table else set(fds.categories.ids.tolist())
    if not fcat and need or any(fcat.get(u) is None for u in need):
        _warn(rec, f"{source / SIDECAR}: its categories differ from the dataset's; ignored")
        return fds
    pr = _pair(fds, fkeys, sds, skeys, fcat, slotted, written_only)
    boxes = _boxes(fds.annotations, sds.annotations, pr, derived_boxes)
    stale, missing = np.flatnonzero(pr.present & ~pr.matched), np.flatnonzero(~pr.present)
    if len(stale) or len(missing):
        _warn(rec, f"{source / SIDECAR}: {len(stale)} images have other objects than the sidecar lists, "
                   f"{len(missing)} of its images are gone; for those the format's files alone are used")
    images, new_ids = _images(fds, sds, pr)
    objects = _objects(fds, sds, pr, boxes, new_ids, written_only)
    return Dataset(images=images, categories=sds.categories, annotations=objects,
                   info=sds.info, licenses=sds.licenses, extras=sds.extras)
