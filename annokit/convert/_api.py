"""The conversion API: read any registered format, remap categories, write any format, count every loss."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.files import atomic_dir, atomic_path, write_json_atomic
from annokit._internal.gc import no_gc
from annokit.convert._registry import FORMATS, FormatSpec
from annokit.convert._sidecar import SIDECAR, read_sidecar, reconcile, strip_slots, write_sidecar
from annokit.core.dataset import Dataset
from annokit.core.labels import LabelSet
from annokit.core.losses import LossError, LossRecorder, LossReport
from annokit.errors import FormatError

__all__ = ["convert", "detect_format", "read_dataset", "write_dataset", "remap_categories", "formats",
           "get_format"]

PathLike = str | os.PathLike[str]


def get_format(name: str) -> FormatSpec:
    try:
        return FORMATS[name]
    except KeyError:
        raise FormatError(None, None, f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None


def formats() -> list[FormatSpec]:
    """Every registered format, with what it can read and write."""
    return [FORMATS[k] for k in sorted(FORMATS)]


def detect_format(path: PathLike) -> str:
    """The name of the format ``path`` is in, recognised from its layout (and, for JSON, its top-level keys).

    A folder annokit wrote says its format in its ``annokit.json``; otherwise: ``Annotations/`` is VOC,
    ``data.yaml`` or ``labels/`` YOLO, ``gtFine/`` Cityscapes, ``masks/`` or ``instances/`` PNG masks, a JSON
    beside a folder of the same name COCO panoptic, folders of images class folders. A JSON file is COCO instances
    (an object with ``images``), COCO panoptic (``segments_info`` in its annotations) or COCO results (a list);
    a ``.csv`` is class-csv. Anything else is a :class:`FormatError` that asks for the format by name.

    >>> detect_format("sample_data/scenes/gt.json")
    'coco'
    """
    p = Path(path)
    if p.is_dir():
        fmt = _detect_folder(p)
    elif p.suffix.lower() == ".json" and p.is_file():
        fmt = _detect_json(p)
    elif p.suffix.lower() == ".csv" and p.is_file():
        fmt = "class-csv"
    elif not p.exists():
        raise FormatError(p, None, "does not exist")
    else:
        fmt = None
    if fmt is None:
        raise FormatError(p, None, f"cannot tell its format: name it (one of {', '.join(sorted(FORMATS))})")
    return fmt


def _detect_folder(p: Path) -> str | None:
    side = p / SIDECAR
    if side.is_file():
        try:
            import orjson

            tag = orjson.loads(side.read_bytes()).get("annokit_sidecar", {})
            if isinstance(tag, dict) and tag.get("format") in FORMATS:
                return str(tag["format"])
        except (orjson.JSONDecodeError, OSError, AttributeError):
            pass
    if (p / "Annotations").is_dir():
        return "voc"
    if (p / "gtFine").is_dir():
        return "cityscapes"
    if (p / "data.yaml").is_file() or (p / "labels").is_dir():
        return "yolo"
    if (p / "masks").is_dir() or (p / "instances").is_dir():
        return "png"
    if p.with_suffix(".json").is_file() or any(p.glob("*.json")) and any(
            (p / q.stem).is_dir() for q in p.glob("*.json")):
        return "coco-panoptic"
    if any(c.is_dir() for c in p.iterdir()):
        return "class-folders"
    return None


def _detect_json(p: Path) -> str | None:
    with open(p, "rb") as fh:
        head = fh.read(1 << 16).lstrip()
    if head[:1] == b"[":
        return "coco-results"
    if head[:1] != b"{":
        return None
    if b'"segments_info"' in head or (p.with_suffix("").is_dir() and b'"annotations"' in head):
        return "coco-panoptic"
    return "coco"


def read_dataset(path: PathLike, fmt: str, *, sidecar: bool = True, recorder: LossRecorder | None = None,
                 **options: Any) -> Dataset:
    """Read ``path`` in format ``fmt`` into a :class:`~annokit.core.dataset.Dataset`.

    With ``sidecar`` (default) an ``annokit.json`` written by annokit beside a folder format fills in what that
    format has no field for (ids, areas, masks, scores, extras), wherever it still agrees with the format's files.

    >>> ds = read_dataset("VOC2007", "voc")  # doctest: +SKIP
    """
    with no_gc():
        return _read_dataset(path, fmt, sidecar=sidecar, recorder=recorder, **options)


def _read_dataset(path: PathLike, fmt: str, *, sidecar: bool, recorder: LossRecorder | None,
                  **options: Any) -> Dataset:
    spec = get_format(fmt)
    if spec.reader is None:
        raise FormatError(path, None, f"format {fmt!r} is write-only")
    rec = recorder if recorder is not None else LossRecorder(fmt, "")
    p = Path(path)
    if not p.exists():
        raise FormatError(p, None, "does not exist")
    ds, keys = spec.reader(p, rec, {**options, "_sidecar": sidecar})
    if sidecar and spec.sidecar and keys is not None and p.is_dir():
        side = read_sidecar(p)
        if side is not None:
            ds = reconcile(ds, keys, side[0], side[1], rec, p, derived_boxes=spec.derived_boxes,
                           slotted=spec.derived_boxes)
    return strip_slots(ds)


def _write(ds: Dataset, dst: Path, spec: FormatSpec, rec: LossRecorder, *, sidecar: bool, overwrite: bool,
           strict: bool, options: dict[str, Any]) -> None:
    if spec.writer is None:
        raise FormatError(dst, None, f"format {spec.name!r} is read-only")
    kept_in = SIDECAR if (sidecar and spec.sidecar) else None
    if spec.folder:
        with atomic_dir(dst, overwrite=overwrite) as tmp:
            keys = spec.writer(ds, tmp, rec, options, kept_in)
            if kept_in is not None and keys is not None and any(e.kept_in for e in rec.report().entries):
                write_sidecar(tmp, ds, keys, spec.name)
            if strict:
                report = rec.report()
                if not report.lossless:
                    raise LossError(report)
    else:
        if dst.exists() and not overwrite:
            raise FormatError(dst, None, "destination exists (pass overwrite=True / --overwrite to replace it)")
        with atomic_path(dst) as tmp:
            spec.writer(ds, tmp, rec, options, None)
            if strict:
                report = rec.report()
                if not report.lossless:
                    raise LossError(report)


def write_dataset(ds: Dataset, path: PathLike, fmt: str, *, sidecar: bool = True, overwrite: bool = False,
                  strict: bool = False, **options: Any) -> LossReport:
    """Write ``ds`` in format ``fmt`` (atomically) and return the loss report.

    ``strict=True`` raises :class:`~annokit.core.losses.LossError` (and writes nothing) when anything would be
    lost. ``sidecar=False`` writes no ``annokit.json``: what the format cannot hold is then lost (and counted).
    """
    spec = get_format(fmt)
    rec = LossRecorder("memory", fmt)
    with no_gc():
        _write(ds, Path(path), spec, rec, sidecar=sidecar, overwrite=overwrite, strict=strict, options=options)
    return rec.report()


def remap_categories(ds: Dataset, mapping: Mapping[Any, Any], rec: LossRecorder | None = None) -> Dataset:
    """Change category ids and names by ``mapping``: keys are old ids (int) or names (str); values are new ids
    (int), new names (str), ``{"id": .., "name": ..}`` or ``None`` (drop the category and its objects, counted).

    Categories not in ``mapping`` keep their id and name. Two categories mapped onto one id merge (when they also
    have the same name); a merge onto an id with another name is an error.
    """
    rec = rec if rec is not None else LossRecorder()
    cats = ds.categories
    new_ids = cats.ids.copy()
    new_names = list(cats.names)
    drop = np.zeros(len(cats), dtype=bool)
    used = set()
    for key, val in mapping.items():
        if isinstance(key, str) and not key.lstrip("-").isdigit():
            if key not in cats.names:
                raise FormatError(None, "mapping", f"no category named {key!r}")
            idx = cats.names.index(key)
        else:
            hit = np.flatnonzero(cats.ids == int(key))
            if not len(hit):
                raise FormatError(None, "mapping", f"no category with id {key}")
            idx = int(hit[0])
        used.add(idx)
        if val is None:
            drop[idx] = True
        elif isinstance(val, dict):
            new_ids[idx] = int(val.get("id", new_ids[idx]))
            new_names[idx] = str(val.get("name", new_names[idx]))
        elif isinstance(val, str) and not val.lstrip("-").isdigit():
            new_names[idx] = val
        else:
            new_ids[idx] = int(val)
    keep = np.flatnonzero(~drop)
    final: dict[int, str] = {}
    for i in keep:
        nid, nm = int(new_ids[i]), new_names[i]
        if nid in final and final[nid] != nm:
            raise FormatError(None, "mapping", f"category id {nid} would name both {final[nid]!r} and {nm!r}")
        final[nid] = nm
    first = {}
    for i in keep:
        first.setdefault(int(new_ids[i]), i)
    order = sorted(first, key=lambda k: first[k])
    sup = cats.supercategories
    ex = cats.extras
    labels = LabelSet(ids=order, names=[final[k] for k in order],
                      supercategories=[sup[first[k]] for k in order] if sup is not None else None,
                      extras=[ex[first[k]] for k in order] if ex is not None else None)
    a = ds.annotations
    pos = cats.index_of(a.labels)
    gone = drop[pos]
    if gone.any():
        rec.add_many("objects dropped: their category is mapped to nothing", int(gone.sum()),
                     [f"annotation id {int(x)}" for x in a.ids[gone][:5]])
    merged = len(keep) - len(order)
    if merged:
        rec.add_many("categories merged by the mapping", merged)
    a2 = a[~gone]
    a2 = a2.replace(labels=new_ids[pos[~gone]])
    return Dataset(images=ds.images, categories=labels, annotations=a2, info=ds.info, licenses=ds.licenses,
                   extras=ds.extras)


def load_mapping(path: PathLike) -> dict[Any, Any]:
    """A mapping file: JSON object ``{"old": new}``, or text lines ``old new`` (``old -`` drops)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        from annokit.io.coco import load_json

        data = load_json(p)
        if not isinstance(data, dict):
            raise FormatError(p, None, "a mapping file is a JSON object {old: new}")
        return data
    out: dict[Any, Any] = {}
    for i, line in enumerate(text.splitlines()):
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
            report_path: PathLike | None = None, read_options: Mapping[str, Any] | None = None,
            write_options: Mapping[str, Any] | None = None) -> LossReport:
    """Convert the dataset at ``src`` (format ``src_format``) to ``dst`` (format ``dst_format``).

    Ids of categories and images are kept (``remap`` changes categories, see :func:`remap_categories`); empty
    images are kept with their sizes. Returns the :class:`LossReport`; with ``report_path`` it is also written as
    JSON. ``strict`` turns any loss into :class:`LossError` and leaves ``dst`` untouched. The output appears
    atomically: a failed conversion leaves no half-written dataset.

    >>> report = convert("instances.json", "voc_out", src_format="coco", dst_format="voc")  # doctest: +SKIP
    >>> print(report.text())  # doctest: +SKIP
    """
    src_spec, dst_spec = get_format(src_format), get_format(dst_format)
    rec = LossRecorder(src_format, dst_format)
    with no_gc():
        ds = _read_dataset(src, src_spec.name, sidecar=sidecar, recorder=rec, **dict(read_options or {}))
        if remap:
            ds = remap_categories(ds, remap, rec)
        try:
            _write(ds, Path(dst), dst_spec, rec, sidecar=sidecar, overwrite=overwrite, strict=strict,
                   options=dict(write_options or {}))
        except LossError as exc:
            if report_path is not None:  # the refused conversion's report, to see what it would lose
                write_json_atomic(report_path, exc.report.to_json_dict())
            raise
    report = rec.report()
    if report_path is not None:
        write_json_atomic(report_path, report.to_json_dict())
    return report
