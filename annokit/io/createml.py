"""CreateML JSON (Apple's object-detection layout, also exported by Roboflow as ``_annotations.createml.json``).

The file is a list of images: ``[{"image": "a.jpg", "annotations": [{"label": "cat", "coordinates": {"x": 120,
"y": 80, "width": 40, "height": 30}}]}]``.

Conventions (every shift lives here):

- ``x``, ``y`` are the box's centre in pixels (Apple's definition), so ``l = x - width / 2``, ``r = x + width / 2``.
  ``corner=True`` reads and writes them as the top-left corner instead (how datumaro's Roboflow CreateML importer
  reads them: ``l = x``, ``r = x + width``).
- The width and height the file states are kept (:attr:`Instances.source_wh`) and written back; a box whose edges
  no centre reaches exactly in floating point is counted in the report.
- The format has no image size: sizes come from the image headers beside the JSON (0 x 0, counted, when an image
  is not there). Categories are the labels in sorted order, numbered from 1 (as datumaro numbers them).
- Other fields of an image or an annotation record are kept in the extras and written back.
- A folder is read whole: every ``*.createml.json`` in it and in its direct subfolders (Roboflow's
  ``train/ valid/ test/``), each image named by its path from the folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import numpy as np
import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field, Strict

from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder, beyond_rounding
from annokit.errors import FormatError
from annokit.io._annotool import Number, image_size_or_none, image_table, write_folder
from annokit.io.validation import Problem, Problems

__all__ = ["CREATEML_FILE", "CreateMLAnnotation", "CreateMLCoordinates", "CreateMLImage", "read_createml",
           "read_createml_keyed", "validate_createml", "write_createml", "write_createml_into"]

PathLike = str | os.PathLike[str]
CREATEML_FILE = "_annotations.createml.json"


class CreateMLCoordinates(BaseModel):
    """``coordinates``: the box's centre ``x``, ``y`` and its ``width``, ``height`` (finite, sizes >= 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: Number
    y: Number
    width: Annotated[Number, Field(ge=0)]
    height: Annotated[Number, Field(ge=0)]


class CreateMLAnnotation(BaseModel):
    """One box: its ``label`` and ``coordinates``; other fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label: Annotated[str, Strict(), Field(min_length=1)]
    coordinates: CreateMLCoordinates


class CreateMLImage(BaseModel):
    """One image: its file name (relative to the JSON) and its boxes; other fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    image: Annotated[str, Strict(), Field(min_length=1)]
    annotations: list[CreateMLAnnotation] = []


_FILE = pydantic.TypeAdapter(list[CreateMLImage])


def _files(root: Path) -> list[Path]:
    """The CreateML JSON files of ``root`` (a file, or a folder and its direct subfolders)."""
    if root.is_file():
        return [root]
    found = sorted([*root.glob("*.createml.json"), *root.glob("*/*.createml.json")])
    if not found:
        raise FormatError(root, None, "no *.createml.json file here or in a direct subfolder")
    return found


@dataclass
class _Parsed:
    """What the check of the files found: one entry per image and per box."""

    names: list[str] = field(default_factory=list)
    hw: list[tuple[int, int]] = field(default_factory=list)
    img_extras: list[dict[str, Any]] = field(default_factory=list)
    obj_img: list[int] = field(default_factory=list)
    xywh: list[tuple[float, float, float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    obj_extras: list[dict[str, Any]] = field(default_factory=list)


def _load(f: Path, problems: Problems) -> list[CreateMLImage] | None:
    from annokit.io.coco import load_json

    with problems.guard(f):
        data = load_json(f)
        try:
            return _FILE.validate_python(data)
        except pydantic.ValidationError as exc:
            problems.schema_errors(exc, f)
    return None


def _add_file(f: Path, base: Path, records: list[CreateMLImage], problems: Problems, recorder: LossRecorder | None,
              out: _Parsed) -> None:
    """Append the images and boxes of one file; a name used twice is an error, a missing image a counted loss."""
    rel = PurePosixPath(os.path.relpath(f.parent, base)) if base.is_dir() else PurePosixPath(".")
    seen = set(out.names)
    for i, r in enumerate(records):
        where = f"[{i}].image"
        with problems.guard(f):
            name = (rel / safe_name(r.image, source=f, where=where)).as_posix()
            if name in seen:
                problems.error(f, where, f"image {name!r} is listed twice")
                continue
            seen.add(name)
            hw = image_size_or_none(f.parent, r.image, source=f, where=where)
            if hw is None:
                problems.warning(f, where, f"image {r.image!r} not found beside the JSON: its size is unknown")
                if recorder is not None:
                    recorder.add("image size unknown (CreateML has none and the image is not there): 0 x 0", name)
            img = len(out.names)
            out.names.append(name)
            out.hw.append(hw or (0, 0))
            out.img_extras.append(dict(r.model_extra or {}))
            for a in r.annotations:
                c = a.coordinates
                out.obj_img.append(img)
                out.xywh.append((c.x, c.y, c.width, c.height))
                out.labels.append(a.label)
                out.obj_extras.append(dict(a.model_extra or {}))


def _check_createml(path: PathLike, *, problems: Problems, recorder: LossRecorder | None) -> _Parsed:
    """The rules of the format, shared by :func:`read_createml_keyed` and :func:`validate_createml`."""
    root = Path(path)
    out = _Parsed()
    for f in _files(root):
        records = _load(f, problems)
        if records is not None:
            _add_file(f, root, records, problems, recorder, out)
    return out


def _dataset(parsed: _Parsed, corner: bool) -> Dataset:
    names = sorted(set(parsed.labels))
    cats = LabelSet.from_names(names)
    lab = {n: i + 1 for i, n in enumerate(names)}
    xywh = np.asarray(parsed.xywh, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = xywh.T
    if corner:
        boxes = np.stack([x, y, x + w, y + h], axis=1)
    else:
        boxes = np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)
    images = image_table(parsed.names, parsed.hw, parsed.img_extras)
    ann = Instances(image_ids=np.asarray(parsed.obj_img, dtype=np.int64) + 1, boxes=boxes,
                    labels=np.asarray([lab[v] for v in parsed.labels], dtype=np.int64),
                    source_wh=xywh[:, 2:], extras=parsed.obj_extras if any(parsed.obj_extras) else None)
    return Dataset(images=images, categories=cats, annotations=ann)


def read_createml_keyed(path: PathLike, *, corner: bool = False, recorder: LossRecorder | None = None
                        ) -> tuple[Dataset, list[str]]:
    """:func:`read_createml` and each image's key (its name from the folder, for the sidecar)."""
    parsed = _check_createml(path, problems=Problems(collect=False), recorder=recorder)
    ds = _dataset(parsed, corner)
    b = ds.annotations.boxes
    if recorder is not None and not corner and len(b) and (b[:, :2] < 0).any():
        n = int((b[:, :2] < 0).any(axis=1).sum())
        recorder.warn(f"{path}: {n} boxes start left of or above the image when x, y are read as centres; if the "
                      "file gives top-left corners (as datumaro reads it), read it with corner=True "
                      "(--createml-corner)")
    return ds, list(parsed.names)


def read_createml(path: PathLike, *, corner: bool = False, recorder: LossRecorder | None = None) -> Dataset:
    """Read a CreateML JSON file, or a folder of them (Roboflow's split folders).

    Parameters
    ----------
    path : str or PathLike
        A ``*.createml.json`` file, or a folder holding such files (directly or one level down).
    corner : bool
        ``x``, ``y`` are the top-left corner (as datumaro reads them), not Apple's centre.
    recorder : LossRecorder, optional
        Where images whose size is unknown are counted.

    Returns
    -------
    Dataset
        Images numbered from 1 in file order, categories the sorted labels numbered from 1.

    Examples
    --------
    >>> ds = read_createml("train/_annotations.createml.json")  # doctest: +SKIP
    """
    return read_createml_keyed(path, corner=corner, recorder=recorder)[0]


def validate_createml(path: PathLike) -> list[Problem]:
    """Every problem of a CreateML file or folder, with its file and place (see :func:`read_createml`)."""
    problems = Problems(collect=True)
    with problems.guard(path):
        _check_createml(path, problems=problems, recorder=None)
    return problems.items


# ----------------------------------------------------------------------------------------------- writing
def _coordinates(ds: Dataset, corner: bool, recorder: LossRecorder | None, kept_in: str | None) -> np.ndarray:
    """``(N, 4)`` x, y, width, height of each box; the boxes they do not give back exactly are counted."""
    a = ds.annotations
    b = a.boxes
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    if a.source_wh is not None:  # the stated sizes, where they still give the box
        sw, sh = a.source_wh[:, 0], a.source_wh[:, 1]
        ok = (np.abs(sw - w) <= 1e-6 * np.maximum(1, np.abs(w))) & (np.abs(sh - h) <= 1e-6 * np.maximum(1, np.abs(h)))
        w, h = np.where(ok, sw, w), np.where(ok, sh, h)
    x, y = (b[:, 0], b[:, 1]) if corner else (b[:, 0] + w / 2, b[:, 1] + h / 2)
    back = np.stack([x, y, x + w, y + h], axis=1) if corner else \
        np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)
    bad = np.flatnonzero((back != b).any(axis=1))  # counted beyond the rounding of the reader's x +- w / 2
    scale = np.maximum(np.abs(np.stack([x, y, x, y], axis=1)), np.abs(np.stack([w, h, w, h], axis=1)))
    bad = bad[beyond_rounding(back[bad] - b[bad], scale[bad]).any(axis=1)]
    if recorder is not None and len(bad):
        err = float(np.abs(back[bad] - b[bad]).max())
        recorder.add_many(f"box edge not exactly representable as a CreateML centre and size (max error {err:.3g} "
                          "px)", len(bad), [f"annotation id {int(a.ids[k])}" for k in bad[:5]], kept_in=kept_in)
    return np.stack([x, y, w, h], axis=1)


def _losses(ds: Dataset, recorder: LossRecorder, kept_in: str | None) -> None:
    """What CreateML has no field for, counted (kept in the sidecar when there is one)."""
    a = ds.annotations
    n_seg = sum(1 for s in a.segmentations or [] if s is not None)
    recorder.add_many("masks and polygons: CreateML holds boxes only", n_seg, kept_in=kept_in)
    recorder.add_many("crowd flags: CreateML has none", int(a.iscrowd.sum()), kept_in=kept_in)
    if a.scores is not None:
        recorder.add_many("scores: CreateML has none", len(a), kept_in=kept_in)
    recorder.add_many("image sizes: CreateML has none (read again from the image files)", len(ds.images),
                      kept_in=kept_in)
    recorder.add_many("image ids: CreateML has none (images numbered in order on reading)", len(ds.images),
                      kept_in=kept_in)
    recorder.add_many("annotation ids: CreateML has none (boxes numbered in order on reading)", len(a),
                      kept_in=kept_in)
    if len(ds.categories):
        recorder.add_many("category ids and order: CreateML has labels only (read back sorted, from 1)",
                          len(ds.categories), kept_in=kept_in)
    if ds.info or ds.licenses or ds.extras:
        recorder.add("dataset info, licenses and other top-level fields: CreateML has none", kept_in=kept_in)
    if ds.categories.supercategories is not None or ds.categories.extras is not None:
        recorder.add_many("category supercategories and fields: CreateML has none", len(ds.categories),
                          kept_in=kept_in)


def _records(ds: Dataset, xywh: np.ndarray) -> list[dict[str, Any]]:
    a = ds.annotations
    names = dict(zip(ds.categories.ids.tolist(), ds.categories.names))
    pos = ds.images.index_of(a.image_ids)
    per_image: list[list[dict[str, Any]]] = [[] for _ in range(len(ds.images))]
    for k in range(len(a)):
        x, y, w, h = xywh[k].tolist()
        rec: dict[str, Any] = {"label": names[int(a.labels[k])],
                               "coordinates": {"x": x, "y": y, "width": w, "height": h}}
        if a.extras is not None:
            rec.update({key: v for key, v in a.extras[k].items() if key not in rec})
        per_image[int(pos[k])].append(rec)
    out = []
    for i, fn in enumerate(ds.images.file_names):
        img: dict[str, Any] = {"image": fn, "annotations": per_image[i]}
        if ds.images.extras is not None:
            img.update({key: v for key, v in ds.images.extras[i].items() if key not in img})
        out.append(img)
    return out


def write_createml_into(ds: Dataset, root: Path, *, corner: bool = False, recorder: LossRecorder | None = None,
                        kept_in: str | None = None) -> list[str]:
    """Write ``root/_annotations.createml.json`` into an existing folder; returns each image's key."""
    rec = recorder if recorder is not None else LossRecorder()
    names = ds.images.file_names
    for i, fn in enumerate(names):
        safe_name(fn, where=f"image {int(ds.images.ids[i])} file_name")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormatError(None, None, f"two images named {dup!r}: CreateML tells images apart by name")
    xywh = _coordinates(ds, corner, rec, kept_in)
    _losses(ds, rec, kept_in)
    (root / CREATEML_FILE).write_bytes(orjson.dumps(_records(ds, xywh), option=orjson.OPT_INDENT_2))
    return list(names)


def write_createml(ds: Dataset, root: PathLike, *, corner: bool = False, overwrite: bool = False) -> LossRecorder:
    """Write ``ds`` as ``root/_annotations.createml.json`` (the folder appears whole or not at all).

    Parameters
    ----------
    ds : Dataset
    root : str or PathLike
        The folder to create.
    corner : bool
        Write ``x``, ``y`` as the top-left corner instead of the centre.
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    LossRecorder
        What CreateML could not hold.

    Examples
    --------
    >>> write_createml(ds, "out_createml")  # doctest: +SKIP
    """
    return write_folder("createml", lambda tmp, rec: write_createml_into(ds, tmp, corner=corner, recorder=rec),
                        root, overwrite=overwrite)
