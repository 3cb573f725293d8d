"""The conversion API: read any registered format, remap categories, write any format, count every loss."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir, atomic_path, write_json_atomic
from annokit._internal.gc import no_gc
from annokit._internal.limits import MAX_PIXELS, check_pixels
from annokit._internal.paths import audit_tree
from annokit.convert._registry import FORMATS, FormatSpec
from annokit.convert._sidecar import SIDECAR, read_sidecar, reconcile, strip_slots, write_sidecar
from annokit.convert.options import FormatOptions, parse_options
from annokit.core.arrays import BoolArray, IntArray
from annokit.core.dataset import Dataset
from annokit.core.labels import LabelSet
from annokit.core.losses import LossError, LossRecorder, LossReport
from annokit.errors import FormatError
from annokit.io.detect import detect_format
from annokit.io.validation import read_text

__all__ = ["convert", "detect_format", "read_dataset", "write_dataset", "remap_categories", "formats",
           "get_format"]

PathLike = str | os.PathLike[str]


def get_format(name: str) -> FormatSpec[Any, Any]:
    """The registered format ``name`` (an unknown name is a :class:`FormatError` listing the known ones)."""
    try:
        return FORMATS[name]
    except KeyError:
        raise FormatError(None, None, f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None


def formats() -> list[FormatSpec[Any, Any]]:
    """Every registered format, with what it can read and write."""
    return [FORMATS[k] for k in sorted(FORMATS)]


def read_dataset(path: PathLike, fmt: str, *, sidecar: bool = True, recorder: LossRecorder | None = None,
                 options: FormatOptions | None = None, **named: Any) -> Dataset:
    """Read ``path`` in format ``fmt`` into a :class:`~annokit.core.dataset.Dataset`.

    Parameters
    ----------
    path : str or PathLike
        The dataset: a file or a folder, as the format has it.
    fmt : str
        A registered format (see :func:`formats`).
    sidecar : bool
        Use the ``annokit.json`` annokit wrote beside a folder format: it fills in what that format has no field
        for (ids, areas, masks, scores, extras), wherever it still agrees with the format's files.
    recorder : LossRecorder, optional
        Where what the format's files do not give is noted.
    options : FormatOptions, optional
        The format's read options as their model (e.g. :class:`~annokit.convert.options.VocReadOptions`) ...
    **named
        ... or by name (``zero_based=True``), checked against that model: a name the format does not take is a
        :class:`~annokit.errors.FormatError` listing the ones it does.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = read_dataset("VOC2007", "voc", zero_based=False)  # doctest: +SKIP
    """
    spec = get_format(fmt)
    opts = parse_options(spec, "read", options if options is not None else named)
    with no_gc():
        return _read_dataset(path, spec, sidecar=sidecar, recorder=recorder, options=opts)


def _read_dataset(path: PathLike, spec: FormatSpec[Any, Any], *, sidecar: bool, recorder: LossRecorder | None,
                  options: FormatOptions) -> Dataset:
    if spec.reader is None:
        raise FormatError(path, None, f"format {spec.name!r} is write-only")
    rec = recorder if recorder is not None else LossRecorder(spec.name, "")
    p = Path(path)
    if not p.exists():
        raise FormatError(p, None, "does not exist")
    ds, keys = spec.reader(p, rec, options, sidecar)
    if sidecar and spec.sidecar and keys is not None and p.is_dir():
        side = read_sidecar(p)
        if side is not None:
            ds = reconcile(ds, keys, side[0], side[1], rec, p, derived_boxes=spec.derived_boxes,
                           slotted=spec.derived_boxes, label_table=spec.label_table,
                           written_only=spec.written_only)
    return strip_slots(ds)


def _guard_canvas(ds: Dataset, spec: FormatSpec[Any, Any], max_pixels: int) -> None:
    """Refuse, before any canvas is allocated, an image whose declared height x width is over ``max_pixels``
    where the target draws one (every image, or the images with masks)."""
    if spec.canvas == "none" or not len(ds.images):
        return
    im = ds.images
    big = im.heights.astype(np.float64) * im.widths.astype(np.float64) > max_pixels
    if spec.canvas == "masks" and big.any():
        segs = ds.annotations.segmentations
        with_mask = np.zeros(len(im), dtype=bool)
        if segs is not None:
            rows = [k for k, sg in enumerate(segs) if sg is not None]
            with_mask[im.index_of(ds.annotations.image_ids[rows])] = True
        big &= with_mask
    if big.any():
        i = int(np.flatnonzero(big)[0])
        check_pixels(int(im.heights[i]), int(im.widths[i]), max_pixels=max_pixels,
                     where=f"images[{i}] ({im.file_names[i]})")


def _keypoint_losses(ds: Dataset, spec: FormatSpec[Any, Any], rec: LossRecorder) -> None:
    """The objects whose keypoints a format without keypoints drops (not kept in the sidecar either)."""
    a = ds.annotations
    if a.keypoints is None or spec.keypoints:
        return
    rows = np.flatnonzero(a.keypoints.reshape(len(a), -1).any(axis=1))
    rec.add_many(f"keypoints dropped: {spec.name} has no keypoints", len(rows),
                 [f"annotation id {int(a.ids[r])}" for r in rows[:5]])


def prepare_write(ds: Dataset, spec: FormatSpec[Any, Any], rec: LossRecorder, max_pixels: int) -> Dataset:
    """What every writing of ``ds`` in ``spec`` starts with: the declared sizes guarded, the keypoints it cannot
    hold counted, and (a folder format) the objects grouped by image (:func:`~annokit.convert._parts.by_image`:
    the same files, and examples met in image order whether the dataset is written at once or by parts)."""
    from annokit.convert._parts import by_image

    _guard_canvas(ds, spec, max_pixels)
    _keypoint_losses(ds, spec, rec)
    return by_image(ds) if spec.folder else ds


def _write(ds: Dataset, dst: Path, spec: FormatSpec[Any, Any], rec: LossRecorder, *, sidecar: bool,
           overwrite: bool, strict: bool, options: FormatOptions, max_pixels: int = MAX_PIXELS) -> None:
    if spec.writer is None:
        raise FormatError(dst, None, f"format {spec.name!r} is read-only")
    whole, ds = ds, prepare_write(ds, spec, rec, max_pixels)  # the sidecar keeps the objects' own order
    kept_in = SIDECAR if (sidecar and spec.sidecar) else None
    if spec.folder:
        with atomic_dir(dst, overwrite=overwrite) as tmp:
            keys = spec.writer(ds, tmp, rec, options, kept_in)
            if kept_in is not None and keys is not None and any(e.kept_in for e in rec.report().entries):
                write_sidecar(tmp, whole, keys, spec.name)
            audit_tree(tmp)
            if strict:
                report = rec.report()
                if not report.lossless:
                    raise LossError(report)
    else:
        refuse_existing(dst, overwrite)
        with atomic_path(dst) as tmp:
            spec.writer(ds, tmp, rec, options, None)
            if strict:
                report = rec.report()
                if not report.lossless:
                    raise LossError(report)


def refuse_existing(dst: Path, overwrite: bool) -> None:
    """A single-file target that exists is replaced only with ``overwrite``."""
    if dst.exists() and not overwrite:
        raise FormatError(dst, None, "destination exists (pass overwrite=True / --overwrite to replace it)")


def write_dataset(ds: Dataset, path: PathLike, fmt: str, *, sidecar: bool = True, overwrite: bool = False,
                  strict: bool = False, max_pixels: int = MAX_PIXELS, options: FormatOptions | None = None,
                  **named: Any) -> LossReport:
    """Write ``ds`` in format ``fmt`` (atomically) and return the loss report.

    Parameters
    ----------
    ds : Dataset
    path : str or PathLike
        The file or folder to write (it appears whole or not at all).
    fmt : str
        A registered format that can be written.
    sidecar : bool
        Keep what the format cannot hold in an ``annokit.json`` beside it (folder formats); with False it is lost
        (and counted).
    overwrite : bool
        Replace an existing ``path`` (once the new one is complete).
    strict : bool
        Raise :class:`~annokit.core.losses.LossError` (and write nothing) when anything would be lost.
    max_pixels : int
        The largest declared image (height x width) the target may draw a canvas for (PNG masks, Cityscapes,
        panoptic, VOC / YOLO-seg masks); above it, a :class:`~annokit.errors.FormatError` before any allocation.
    options : FormatOptions, optional
        The format's write options as their model (e.g. :class:`~annokit.convert.options.YoloWriteOptions`) ...
    **named
        ... or by name (``precision=6``), checked against that model.

    Returns
    -------
    LossReport

    Examples
    --------
    >>> report = write_dataset(ds, "yolo_out", "yolo", split="val")  # doctest: +SKIP
    """
    spec = get_format(fmt)
    opts = parse_options(spec, "write", options if options is not None else named)
    rec = LossRecorder("memory", fmt)
    with no_gc():
        _write(ds, Path(path), spec, rec, sidecar=sidecar, overwrite=overwrite, strict=strict, options=opts,
               max_pixels=max_pixels)
    return rec.report()


def _category_index(cats: LabelSet, key: Any) -> int:
    """The position of the category a mapping key names: an id (an int, or its text) or a name."""
    if isinstance(key, str) and not key.lstrip("-").isdigit():
        if key not in cats.names:
            raise FormatError(None, "mapping", f"no category named {key!r}")
        return cats.names.index(key)
    if not (isinstance(key, (int, str)) and not isinstance(key, bool)):
        raise FormatError(None, "mapping", f"a key is a category id or name, got {key!r}")
    hit = np.flatnonzero(cats.ids == int(key))
    if not len(hit):
        raise FormatError(None, "mapping", f"no category with id {key}")
    return int(hit[0])


def _new_id(v: Any, key: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, str) and not v.lstrip("-").isdigit()):
        raise FormatError(None, f"mapping[{key!r}]", f"a new id is an integer, got {v!r}")
    if not -2**63 <= int(v) < 2**63:
        raise FormatError(None, f"mapping[{key!r}]", f"id {v} does not fit 64 bits")
    return int(v)


def _mapped(cats: LabelSet, mapping: Mapping[Any, Any]) -> tuple[IntArray, list[str], BoolArray]:
    """Each category's new id and name, and which are dropped."""
    new_ids = cats.ids.copy()
    new_names = list(cats.names)
    drop = np.zeros(len(cats), dtype=bool)
    for key, val in mapping.items():
        idx = _category_index(cats, key)
        if val is None:
            drop[idx] = True
        elif isinstance(val, dict):
            new_ids[idx] = _new_id(val.get("id", int(new_ids[idx])), key)
            new_names[idx] = str(val.get("name", new_names[idx]))
        elif isinstance(val, str) and not val.lstrip("-").isdigit():
            new_names[idx] = val
        else:
            new_ids[idx] = _new_id(val, key)
    return new_ids, new_names, drop


def remap_categories(ds: Dataset, mapping: Mapping[Any, Any], rec: LossRecorder | None = None) -> Dataset:
    """Change category ids and names by ``mapping``: keys are old ids (int) or names (str); values are new ids
    (int), new names (str), ``{"id": .., "name": ..}`` or ``None`` (drop the category and its objects, counted).

    Categories not in ``mapping`` keep their id and name. Two categories mapped onto one id merge (when they also
    have the same name); a merge onto an id with another name is an error.
    """
    rec = rec if rec is not None else LossRecorder()
    cats = ds.categories
    new_ids, new_names, drop = _mapped(cats, mapping)
    keep = np.flatnonzero(~drop)
    final: dict[int, str] = {}
    first: dict[int, int] = {}
    for i in keep.tolist():
        nid, nm = int(new_ids[i]), new_names[i]
        if nid in final and final[nid] != nm:
            raise FormatError(None, "mapping", f"category id {nid} would name both {final[nid]!r} and {nm!r}")
        final[nid] = nm
        first.setdefault(nid, i)
    order = sorted(first, key=lambda k: first[k])
    sup, ex = cats.supercategories, cats.extras
    labels = LabelSet(ids=np.asarray(order, dtype=np.int64), names=[final[k] for k in order],
                      supercategories=[sup[first[k]] for k in order] if sup is not None else None,
                      extras=[ex[first[k]] for k in order] if ex is not None else None)
    a = ds.annotations
    pos = cats.index_of(a.labels)
    gone = drop[pos]
    if gone.any():
        rec.add_many("objects dropped: their category is mapped to nothing", int(gone.sum()),
                     [f"annotation id {int(x)}" for x in a.ids[gone][:5]])
    if len(keep) - len(order):
        rec.add_many("categories merged by the mapping", len(keep) - len(order))
    a2 = a[~gone].replace(labels=new_ids[pos[~gone]])
    return Dataset(images=ds.images, categories=labels, annotations=a2, info=ds.info, licenses=ds.licenses,
                   extras=ds.extras)


def load_mapping(path: PathLike) -> dict[Any, Any]:
    """A mapping file: JSON object ``{"old": new}``, or text lines ``old new`` (``old -`` drops)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        from annokit.io.coco import load_json

        data = load_json(p)
        if not isinstance(data, dict):
            raise FormatError(p, None, "a mapping file is a JSON object {old: new}")
        return data
    out: dict[Any, Any] = {}
    for i, line in enumerate(read_text(p).splitlines()):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.rsplit(None, 1) if "\t" not in s else s.split("\t")
        if len(parts) != 2:
            raise FormatError(p, f"line {i + 1}", "expected 'old new'")
        old, new = parts[0].strip(), parts[1].strip()
        out[int(old) if old.lstrip("-").isdigit() else old] = (
            None if new == "-" else int(new) if new.lstrip("-").isdigit() else new)
    return out


def convert(src: PathLike, dst: PathLike, *, src_format: str, dst_format: str, strict: bool = False,
            sidecar: bool = True, overwrite: bool = False, remap: Mapping[Any, Any] | None = None,
            report_path: PathLike | None = None, read_options: FormatOptions | Mapping[str, Any] | None = None,
            write_options: FormatOptions | Mapping[str, Any] | None = None, max_pixels: int = MAX_PIXELS
            ) -> LossReport:
    """Convert the dataset at ``src`` (format ``src_format``) to ``dst`` (format ``dst_format``).

    Ids of categories and images are kept (``remap`` changes categories, see :func:`remap_categories`); empty
    images are kept with their sizes. Returns the :class:`LossReport`; with ``report_path`` it is also written as
    JSON. ``strict`` turns any loss into :class:`LossError` and leaves ``dst`` untouched. The output appears
    atomically: a failed conversion leaves no half-written dataset. ``read_options`` / ``write_options``: the
    formats' options, as their models (:mod:`annokit.convert.options`) or mappings of names checked against them.
    ``max_pixels``: the largest declared image size a target may draw a canvas for (see :func:`write_dataset`).

    >>> report = convert("instances.json", "voc_out", src_format="coco", dst_format="voc")  # doctest: +SKIP
    >>> print(report.text())  # doctest: +SKIP
    """
    dst_spec = get_format(dst_format)
    wopts = parse_options(dst_spec, "write", write_options)
    with no_gc():
        ds, rec = read_source(src, src_format=src_format, dst_format=dst_format, sidecar=sidecar, remap=remap,
                              read_options=read_options)
        try:
            _write(ds, Path(dst), dst_spec, rec, sidecar=sidecar, overwrite=overwrite, strict=strict,
                   options=wopts, max_pixels=max_pixels)
        except LossError as exc:
            report_to(exc.report, report_path)  # the refused conversion's report, to see what it would lose
            raise
    return report_to(rec.report(), report_path)


def read_source(src: PathLike, *, src_format: str, dst_format: str, sidecar: bool,
                remap: Mapping[Any, Any] | None, read_options: FormatOptions | Mapping[str, Any] | None
                ) -> tuple[Dataset, LossRecorder]:
    """A conversion's first half: ``src`` read (and remapped), with the recorder of the conversion so far."""
    src_spec = get_format(src_format)
    rec = LossRecorder(src_format, dst_format)
    ds = _read_dataset(src, src_spec, sidecar=sidecar, recorder=rec,
                       options=parse_options(src_spec, "read", read_options))
    return (remap_categories(ds, remap, rec) if remap else ds), rec


def report_to(report: LossReport, report_path: PathLike | None) -> LossReport:
    """``report``, also written as JSON to ``report_path`` when there is one."""
    if report_path is not None:
        write_json_atomic(report_path, report.to_json_dict())
    return report
