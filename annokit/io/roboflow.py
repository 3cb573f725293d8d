"""Roboflow's split-folder exports: one folder per split (``train/``, ``valid/``, ``test/``) holding the images and
their annotations side by side.

- **Pascal VOC**: ``<split>/<image>.xml`` beside ``<split>/<image>.jpg`` (no ``Annotations/``, no ``JPEGImages/``);
- **COCO**: ``<split>/_annotations.coco.json`` beside the images;
- **multi-label classification**: ``<split>/_classes.csv`` (``filename`` then one 0/1 column per class).

Each split is read with the format's own reader and the splits are joined: images are numbered 1..N in split order
(COCO's own ids kept where the splits' do not collide), their ``file_name`` gets the split folder in front
(``train/a.jpg``: the path from the export's root, where the image is) and the split is kept in the image extra
``split`` (as the YOLO, Darknet and class-folder readers keep it). Categories are joined by name; their ids are kept
when every split gives a name the same id, else they are 1..n in name order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import IMAGE_EXTS, image_hw
from annokit.io.voc import ZeroBasedEvidence

__all__ = ["COCO_FILE", "CLASSES_FILE", "Part", "join_splits", "read_split_folders", "read_voc_split",
           "read_voc_splits", "split_folders"]

PathLike = str | os.PathLike[str]

COCO_FILE = "_annotations.coco.json"
"""The COCO file of each split folder of a Roboflow COCO export."""

CLASSES_FILE = "_classes.csv"
"""The one-hot CSV of each split folder of a Roboflow multi-label classification export."""


def read_voc_split(folder: PathLike, *, zero_based: bool = False, recorder: LossRecorder | None = None
                   ) -> tuple[Dataset, list[str]]:
    """One split folder of XML files beside their images (:func:`~annokit.io.voc.read_voc_keyed`); an image there
    without an XML of its stem is kept as an image without objects (as for ``JPEGImages/``), with a warning."""
    ds, keys, _ = _voc_split(Path(folder), zero_based, recorder)
    return ds, keys


def _replay(src: LossRecorder, dst: LossRecorder | None) -> None:
    """What a scratch recorder of a reader holds, added to ``dst``."""
    if dst is None:
        return
    rep = src.report()
    for e in rep.entries:
        dst.add_many(e.kind, e.count, e.examples, kept_in=e.kept_in)
    for w in rep.warnings:
        dst.warn(w)


def read_voc_splits(root: PathLike, *, zero_based: bool | None = False, recorder: LossRecorder | None = None
                    ) -> tuple[Dataset, list[str], ZeroBasedEvidence | None]:
    """Every split folder of a Roboflow VOC export (or ``root`` itself), joined (:func:`read_split_folders`).

    ``zero_based=None`` decides the convention for the whole export (:func:`~annokit.io.voc.read_voc_detect`): a
    split with no evidence either way is read as the others are. Returns the dataset, its image keys, and the
    evidence of all the splits (None when the convention was given).

    >>> ds, keys, why = read_voc_splits("roboflow_voc", zero_based=None)  # doctest: +SKIP
    """
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder")
    folders = split_folders(root, lambda d: any(d.glob("*.xml")))
    scratch = [LossRecorder() for _ in folders]
    read = [_voc_split(d, zero_based, rec) for (_, d), rec in zip(folders, scratch)]
    why: ZeroBasedEvidence | None = None
    for (name, _), (_, _, ev) in zip(folders, read):
        if ev is not None:
            ev = ZeroBasedEvidence(ev.low, f"{name}/{ev.example}" if name and ev.example else ev.example, ev.roboflow)
            why = ev if why is None else why.merged(ev)
    for k, ((_, d), (_, _, ev)) in enumerate(zip(folders, read)):
        if why and not ev:  # no evidence here, but the export is zero-based: read as the others
            scratch[k] = LossRecorder()
            read[k] = _voc_split(d, True, scratch[k])
    for rec in scratch:
        _replay(rec, recorder)
    ds, keys = join_splits([(name, ds, ks) for (name, _), (ds, ks, _) in zip(folders, read)], recorder=recorder)
    return ds, keys, why


def _voc_split(folder: Path, zero_based: bool | None, recorder: LossRecorder | None
               ) -> tuple[Dataset, list[str], ZeroBasedEvidence | None]:
    """:func:`read_voc_split`, with ``zero_based=None`` deciding the convention (its evidence returned)."""
    from annokit.io.voc import read_voc_detect

    ds, keys, evidence = read_voc_detect(folder, zero_based=zero_based, recorder=recorder)
    have = {k.rsplit(".", 1)[0] for k in keys} | {f.rsplit(".", 1)[0] for f in ds.images.file_names}
    extra = sorted(p.name for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_EXTS and p.stem not in have and p.is_file())
    if not extra:
        return ds, keys, evidence
    if recorder is not None:
        n = len(extra)
        recorder.warn(f"{folder}: {n} image{'s' if n > 1 else ''} ha{'ve' if n > 1 else 's'} no XML beside "
                      f"{'them' if n > 1 else 'it'} (e.g. {', '.join(extra[:5])}): kept as images without objects")
    im = ds.images
    hw = [image_hw(folder / f) for f in extra]
    tbl = ImageTable(ids=np.concatenate([im.ids, im.ids.max(initial=0) + 1 + np.arange(len(extra))]),
                     file_names=[*im.file_names, *extra],
                     heights=np.concatenate([im.heights, np.asarray([h for h, _ in hw], dtype=np.int64)]),
                     widths=np.concatenate([im.widths, np.asarray([w for _, w in hw], dtype=np.int64)]),
                     extras=None if im.extras is None else [*im.extras, *({} for _ in extra)])
    out = Dataset(images=tbl, categories=ds.categories, annotations=ds.annotations, info=ds.info,
                  licenses=ds.licenses, extras=ds.extras)
    return out, [*keys, *(f.rsplit(".", 1)[0] + ".xml" for f in extra)], evidence


def split_folders(root: Path, has: Callable[[Path], bool]) -> list[tuple[str | None, Path]]:
    """``[(None, root)]`` when ``root`` itself is a split folder (``has(root)``), else its direct subfolders that
    are, with their names, sorted; an error naming ``root`` when there are none."""
    if has(root):
        return [(None, root)]
    subs: list[tuple[str | None, Path]] = [(d.name, d) for d in sorted(root.iterdir()) if d.is_dir() and has(d)]
    if not subs:
        raise FormatError(root, None, "no split folder found (Roboflow layout: <split>/ holding the images and "
                                      "their annotations)")
    return subs


def _same(values: list[Any]) -> bool:
    return all(v == values[0] for v in values[1:])


def _categories(parts: list[Dataset]) -> tuple[LabelSet, list[dict[int, int]]]:
    """The joined categories and, per part, old id -> new id (the first part's categories, supercategories and
    other fields included, where every part has the same)."""
    first = parts[0].categories
    if all(np.array_equal(ds.categories.ids, first.ids) and _same([ds.categories.model_dump(exclude={"ids"}),
                                                                   first.model_dump(exclude={"ids"})])
           for ds in parts):
        return first, [{int(i): int(i) for i in first.ids} for _ in parts]
    pairs = {(n, int(i)) for ds in parts for n, i in zip(ds.categories.names, ds.categories.ids)}
    names = sorted({n for n, _ in pairs})
    ids = dict(pairs)
    if len(pairs) == len(names) and len(set(ids.values())) == len(names):
        order = sorted(names, key=lambda n: ids[n])
        cats = LabelSet(ids=np.asarray([ids[n] for n in order], dtype=np.int64), names=order)
    else:
        cats = LabelSet.from_names(names)
    new = {n: int(i) for n, i in zip(cats.names, cats.ids)}
    maps = [{int(i): new[n] for n, i in zip(ds.categories.names, ds.categories.ids)} for ds in parts]
    return cats, maps


Part = tuple[str | None, Dataset, list[str] | None]
"""One split: its folder name (None for a dataset that is one split), its dataset and its image keys (or None)."""


def join_splits(parts: list[Part], *, recorder: LossRecorder | None = None, source_ids: bool = False
                ) -> tuple[Dataset, list[str]]:
    """One dataset from the datasets of the splits (see the module text); also each image's key
    (``<split>/<key in the split>``, the key being the file name where the reader gives none). Image and annotation
    ids are 1..N; with ``source_ids`` (the files give ids, as COCO does) the splits' own are kept where they do not
    collide, and those that change are counted in ``recorder``."""
    if len(parts) == 1 and parts[0][0] is None:
        ds, ks = parts[0][1], parts[0][2]
        return ds, ks if ks is not None else list(ds.images.file_names)
    cats, maps = _categories([ds for _, ds, _ in parts])
    tbl, keys = _images(parts, keep_ids=source_ids)
    insts, start = [], 0
    for (_, ds, _), cmap in zip(parts, maps):
        a = ds.annotations
        labels = np.asarray([cmap[int(x)] for x in a.labels.tolist()], dtype=np.int64)
        ex = a.extras if a.extras is not None else [{} for _ in range(len(a))]
        insts.append(a.replace(image_ids=tbl.ids[start + ds.images.index_of(a.image_ids)], labels=labels, extras=ex))
        start += len(ds.images)
    ann = Instances.concat(insts)
    if ann.extras is not None and not any(ann.extras):
        ann = ann.replace(extras=None)
    rec = recorder if recorder is not None and source_ids else LossRecorder()
    new_ids = np.arange(1, len(ann) + 1)
    if len(np.unique(ann.ids)) != len(ann.ids):
        rec.add_many("annotation ids renumbered 1..N (the splits' own ids overlap)", int((ann.ids != new_ids).sum()))
        ann = ann.replace(ids=new_ids)
    old = np.concatenate([ds.images.ids for _, ds, _ in parts])
    rec.add_many("image ids renumbered 1..N across the splits (the file name keeps each image's split)",
                 int((old != tbl.ids).sum()))
    return Dataset(images=tbl, categories=cats, annotations=ann, **_top_level(parts)), keys


def _images(parts: list[Part], *, keep_ids: bool) -> tuple[ImageTable, list[str]]:
    """The joined image table (ids 1..N, or the splits' own where ``keep_ids`` and they do not collide;
    ``<split>/`` in front of each file name, the split in the extra ``split``) and the image keys."""
    names: list[str] = []
    keys: list[str] = []
    extras: list[dict[str, Any]] = []
    for split, ds, ks in parts:
        im = ds.images
        pre = f"{split}/" if split else ""
        names += [pre + f for f in im.file_names]
        keys += [pre + k for k in (ks if ks is not None else im.file_names)]
        extras += [{**(im.extras[i] if im.extras is not None else {}), **({"split": split} if split else {})}
                   for i in range(len(im))]
    old = np.concatenate([ds.images.ids for _, ds, _ in parts])
    ids = old if keep_ids and len(np.unique(old)) == len(old) else np.arange(1, len(names) + 1)
    tbl = ImageTable(ids=ids, file_names=names,
                     heights=np.concatenate([ds.images.heights for _, ds, _ in parts]),
                     widths=np.concatenate([ds.images.widths for _, ds, _ in parts]),
                     extras=extras if any(extras) else None)
    return tbl, keys


def _top_level(parts: list[Part]) -> dict[str, Any]:
    """``info``, ``licenses`` and other top-level fields: kept where every split has the same, else kept per split
    in the top-level field ``<name>_by_split``."""
    out: dict[str, Any] = {"extras": {}}
    for name in ("info", "licenses"):
        vals = [getattr(ds, name) for _, ds, _ in parts]
        if _same(vals):
            out[name] = vals[0]
        else:
            out["extras"][f"{name}_by_split"] = {str(s): v for (s, _, _), v in zip(parts, vals)}
    for k in sorted({k for _, ds, _ in parts for k in ds.extras}):
        vals = [ds.extras.get(k) for _, ds, _ in parts]
        if _same(vals):
            out["extras"][k] = vals[0]
        else:
            out["extras"][f"{k}_by_split"] = {str(s): v for (s, _, _), v in zip(parts, vals)}
    return out


def read_split_folders(root: PathLike, has: Callable[[Path], bool],
                       read: Callable[[Path], tuple[Dataset, list[str] | None]], *,
                       recorder: LossRecorder | None = None, source_ids: bool = False
                       ) -> tuple[Dataset, list[str]]:
    """Read every split folder of ``root`` (those for which ``has`` is true, or ``root`` itself) with ``read``
    and join them (:func:`join_splits`, which ``recorder`` and ``source_ids`` are passed to).

    >>> from annokit.io.voc import read_voc_keyed
    >>> ds, keys = read_split_folders("roboflow_voc", lambda d: any(d.glob("*.xml")),
    ...                               read_voc_keyed)  # doctest: +SKIP
    """
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder")
    return join_splits([(name, *read(d)) for name, d in split_folders(root, has)], recorder=recorder,
                       source_ids=source_ids)
