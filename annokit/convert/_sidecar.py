"""The ``annokit.json`` sidecar: what a target format has no field for, kept beside it (private).

It is a COCO instances dictionary of the whole dataset (ids, areas, crowd flags, masks, scores, extras, info) whose
images also carry ``_annokit_key``, the image's name in the target layout (``a.xml`` for VOC, ``train/a`` for YOLO).
Reading the target back, the format's own files stay the truth for what they hold (which images, which boxes, which
classes); the sidecar fills in the rest wherever it still agrees with them, image by image.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from annokit._internal.files import write_bytes_atomic
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.losses import LossRecorder
from annokit.errors import AnnokitWarning, FormatError

SIDECAR = "annokit.json"
_TAG = "annokit_sidecar"


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


_IMG = ("ids", "file_names", "heights", "widths", "extras")
_CAT = ("ids", "names", "supercategories", "extras")
_ANN = ("image_ids", "boxes", "labels", "scores", "iscrowd", "area", "ids", "segmentations", "ignore", "extras",
        "source_wh")


def write_sidecar(root: Path, ds: Dataset, keys: list[str], fmt: str) -> None:
    """Write the whole dataset, column by column, with each image's key in the target layout."""
    d = {_TAG: {"version": 1, "format": fmt}, "keys": keys,
         "images": _cols(ds.images, _IMG), "categories": _cols(ds.categories, _CAT),
         "annotations": _cols(ds.annotations, _ANN), "info": ds.info, "licenses": ds.licenses,
         "extras": ds.extras}
    write_bytes_atomic(root / SIDECAR, orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY))


def read_sidecar(root: Path) -> tuple[Dataset, list[str]] | None:
    """The dataset and keys of ``root/annokit.json``, or None when there is none."""
    from annokit.core.labels import LabelSet
    from annokit.errors import ValidationError
    from annokit.io.coco import load_json

    p = root / SIDECAR
    if not p.is_file():
        return None
    data = load_json(p)
    if not isinstance(data, dict) or _TAG not in data:
        return None
    try:
        keys = data["keys"]
        images = ImageTable(**data["images"])
        cats = LabelSet(**data["categories"])
        a = dict(data["annotations"])
        if "boxes" in a and len(a["boxes"]) == 0:
            a["boxes"] = np.zeros((0, 4))
        anns = Instances(**a)
        ds = Dataset(images=images, categories=cats, annotations=anns, info=data.get("info"),
                     licenses=data.get("licenses"), extras=data.get("extras") or {})
    except (KeyError, TypeError, ValidationError, ValueError) as exc:
        raise FormatError(p, None, f"not a valid annokit sidecar: {exc}") from None
    if not isinstance(keys, list) or len(keys) != len(images) or not all(isinstance(k, str) for k in keys):
        raise FormatError(p, "keys", "expected one string key per image")
    return ds, keys


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.abs(a - b) <= 1e-6 + 1e-12 * np.abs(b)).all(axis=1)


SLOT = "_annokit_slot"


def strip_slots(ds: Dataset) -> Dataset:
    """Remove the reader's ``_annokit_slot`` marks from the object extras."""
    ex = ds.annotations.extras
    if ex is None or not any(SLOT in e for e in ex):
        return ds
    new = [{k: v for k, v in e.items() if k != SLOT} for e in ex]
    return ds.with_annotations(ds.annotations.replace(extras=new if any(new) else None))


def _slots(fa: Instances) -> np.ndarray | None:
    ex = fa.extras
    if ex is None or not len(fa) or not all(SLOT in e for e in ex):
        return None
    return np.array([e[SLOT] for e in ex], dtype=np.int64)


def reconcile(fds: Dataset, fkeys: list[str], sds: Dataset, skeys: list[str], rec: LossRecorder,
              source: Path, *, derived_boxes: bool = False, slotted: bool = False) -> Dataset:
    """The format's dataset ``fds`` completed from the sidecar's ``sds`` wherever they agree, image by image.

    Objects pair up in order within an image, or by the reader's ``_annokit_slot`` (the object's position among the
    image's objects as written) where a format cannot show every object (a mask fully covered by a later one).
    ``derived_boxes``: the format's boxes are the extent of its masks, so the sidecar's boxes are kept."""
    snames = sds.categories.names
    if len(set(snames)) == len(snames):
        smap = {n: int(i) for n, i in zip(snames, sds.categories.ids)}
        fcat = {int(i): smap.get(n) for i, n in zip(fds.categories.ids, fds.categories.names)}
    else:
        fo, so = np.argsort(fds.categories.ids), np.argsort(sds.categories.ids)
        fcat = ({int(fds.categories.ids[a]): int(sds.categories.ids[b]) for a, b in zip(fo, so)}
                if len(fo) == len(so) else {})
    if not fcat and len(fds.categories) or any(v is None for v in fcat.values()):
        msg = f"{source / SIDECAR}: its categories differ from the dataset's; ignored"
        warnings.warn(msg, AnnokitWarning, stacklevel=3)
        rec.warn(msg)
        return fds
    fa, sa = fds.annotations, sds.annotations
    ns = len(sds.images)
    skey_pos = {k: i for i, k in enumerate(skeys)}
    f_to_s = np.array([skey_pos.get(k, -1) for k in fkeys], dtype=np.int64)
    flab = np.array([fcat[int(x)] for x in fa.labels.tolist()], dtype=np.int64) if len(fa) else fa.labels
    f_simg = f_to_s[fds.images.index_of(fa.image_ids)] if len(fa) else np.zeros(0, np.int64)
    s_pos = sds.images.index_of(sa.image_ids)
    present = np.zeros(ns, dtype=bool)
    present[f_to_s[f_to_s >= 0]] = True
    cf = np.bincount(f_simg[f_simg >= 0], minlength=ns)
    cs = np.bincount(s_pos, minlength=ns)
    matched = present & (cf == cs)
    for _ in range(2 if _slots(fa) is None and not slotted else 0):
        fsel = np.flatnonzero((f_simg >= 0) & matched[np.clip(f_simg, 0, None)])
        ssel = np.flatnonzero(matched[s_pos])
        forder = fsel[np.argsort(f_simg[fsel], kind="stable")]
        sorder = ssel[np.argsort(s_pos[ssel], kind="stable")]
        bad = flab[forder] != sa.labels[sorder]
        if not bad.any():
            break
        matched[s_pos[sorder[bad]]] = False
    slots = _slots(fa)
    if slots is None and slotted and len(fa) == 0:
        slots = np.zeros(0, dtype=np.int64)
    if slots is not None:
        # pair by slot: sidecar rows of image s in stable order, the format row's slot picks one
        ssort = np.argsort(s_pos, kind="stable")
        sstart = np.searchsorted(s_pos[ssort], np.arange(ns + 1))
        matched = present.copy()
        ok_f = f_simg >= 0
        img_f = np.clip(f_simg, 0, None)
        valid = ok_f & (slots >= 0) & (slots < cs[img_f])
        matched[img_f[ok_f & ~valid]] = False
        srow = np.where(valid, ssort[np.clip(sstart[img_f] + slots, 0, max(len(ssort) - 1, 0))], -1) \
            if len(ssort) else np.full(len(fa), -1)
        lab_ok = valid & (srow >= 0)
        lab_ok[lab_ok] = sa.labels[srow[lab_ok]] == flab[lab_ok]
        matched[img_f[ok_f & ~lab_ok]] = False
        fsel = np.flatnonzero(ok_f & matched[img_f])
        forder = fsel
        sorder = srow[fsel]
    else:
        fsel = np.flatnonzero((f_simg >= 0) & matched[np.clip(f_simg, 0, None)])
        ssel = np.flatnonzero(matched[s_pos])
        forder = fsel[np.argsort(f_simg[fsel], kind="stable")]
        sorder = ssel[np.argsort(s_pos[ssel], kind="stable")]
    boxes = sa.boxes.copy()
    fb, sb = fa.boxes[forder], sa.boxes[sorder]
    close = _close(fb, sb) | derived_boxes
    if not close.all() and fa.segmentations is not None and sa.segmentations is not None:
        # formats that store a polygon (YOLO segmentation) give its extent as the box: compare with the extent of
        # the polygon the sidecar's object was written as
        for k in np.flatnonzero(~close):
            seg = sa.segmentations[sorder[k]]
            if isinstance(seg, list) and seg and fa.segmentations[forder[k]] is not None:
                poly = np.asarray(seg[0], dtype=np.float64)
                ext = np.array([[poly[0::2].min(), poly[1::2].min(), poly[0::2].max(), poly[1::2].max()]])
                close[k] = bool(_close(fb[k:k + 1], ext)[0])
            elif fa.segmentations[forder[k]] is not None and not isinstance(seg, list):
                close[k] = True  # written as its box's 4-point polygon: the extent is the box
    boxes[sorder[~close]] = fb[~close]
    stale = np.flatnonzero(present & ~matched)
    missing = np.flatnonzero(~present)
    if len(stale) or len(missing):
        msg = (f"{source / SIDECAR}: {len(stale)} images have other objects than the sidecar lists, "
               f"{len(missing)} of its images are gone; for those the format's files alone are used")
        warnings.warn(msg, AnnokitWarning, stacklevel=3)
        rec.warn(msg)
    keep = np.flatnonzero(present[s_pos])
    keep = keep[matched[s_pos[keep]]]
    # images: the sidecar's, in its order (those still present), then the format's new ones
    simg_keep = np.flatnonzero(present)
    img_ids = sds.images.ids[simg_keep]
    new_f = np.flatnonzero(f_to_s < 0)
    next_id = int(sds.images.ids.max()) + 1 if ns else 1
    heights = sds.images.heights[simg_keep].copy()
    widths = sds.images.widths[simg_keep].copy()
    # the format's sizes win where it states one that differs
    fi_for_s = np.full(ns, -1, dtype=np.int64)
    fi_for_s[f_to_s[f_to_s >= 0]] = np.flatnonzero(f_to_s >= 0)
    fi = fi_for_s[simg_keep]
    fh, fw = fds.images.heights[fi], fds.images.widths[fi]
    upd = (fh > 0) & (fw > 0) & ((fh != heights) | (fw != widths))
    heights[upd], widths[upd] = fh[upd], fw[upd]
    file_names = [sds.images.file_names[i] for i in simg_keep]
    s_ex = sds.images.extras
    extras: list[dict[str, Any]] = [dict(s_ex[i]) if s_ex is not None else {} for i in simg_keep]
    new_ids = np.arange(next_id, next_id + len(new_f))
    img_ids = np.concatenate([img_ids, new_ids])
    heights = np.concatenate([heights, fds.images.heights[new_f]])
    widths = np.concatenate([widths, fds.images.widths[new_f]])
    file_names += [fds.images.file_names[i] for i in new_f]
    f_ex = fds.images.extras
    extras += [dict(f_ex[i]) if f_ex is not None else {} for i in new_f]
    images = ImageTable(ids=img_ids, file_names=file_names, heights=heights, widths=widths,
                        extras=extras if any(extras) else None)
    kept = sa.replace(boxes=boxes)[keep]
    # format rows of stale or new images
    f_fmt_img = np.full(len(fds.images), -1, dtype=np.int64)
    f_fmt_img[f_to_s >= 0] = sds.images.ids[f_to_s[f_to_s >= 0]]
    f_fmt_img[new_f] = new_ids
    fpos = fds.images.index_of(fa.image_ids)
    rest = np.flatnonzero(~((f_simg >= 0) & matched[np.clip(f_simg, 0, None)]))
    if len(rest) == 0:
        anns = Instances(**{name: getattr(kept, name) for name in Instances.model_fields})
    else:
        next_ann = int(sa.ids.max()) + 1 if len(sa) else 1
        fr = fa[rest]
        part = Instances(image_ids=f_fmt_img[fpos[rest]], boxes=fr.boxes, labels=flab[rest],
                         ids=np.arange(next_ann, next_ann + len(rest)),
                         scores=fr.scores if kept.scores is not None else None,
                         segmentations=(fr.segmentations or [None] * len(rest))
                         if kept.segmentations is not None else None,
                         extras=(fr.extras or [{}] * len(rest)) if kept.extras is not None else None,
                         source_wh=fr.source_wh if fr.source_wh is not None and kept.source_wh is not None
                         else None)
        if kept.scores is not None and part.scores is None:
            kept = kept.replace(scores=None)
        anns = Instances.concat([kept, part])
    return Dataset(images=images, categories=sds.categories, annotations=anns, info=sds.info,
                   licenses=sds.licenses, extras=sds.extras)
