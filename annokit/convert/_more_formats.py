"""Registration of Darknet YOLO 1.1, YOLO-OBB, DOTA, KITTI and Open Images CSV (private; imported by
:mod:`annokit.convert._registry`, whose :func:`register` and :class:`FormatSpec` it uses)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, cast

from annokit.convert._registry import FormatSpec, register
from annokit.convert._sidecar import read_sidecar
from annokit.convert.options import (
    DotaWriteOptions,
    KittiWriteOptions,
    NoOptions,
    OpenImagesReadOptions,
    OpenImagesWriteOptions,
    YoloReadOptions,
    YoloWriteOptions,
)
from annokit.core.dataset import Dataset
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.io.validation import Problem


def _sidecar_sizes(path: Path, sidecar: bool) -> dict[str, tuple[int, int]] | None:
    """``(height, width)`` by key from the sidecar (for images that are not on disk)."""
    side = read_sidecar(path) if sidecar and path.is_dir() else None
    if side is None:
        return None
    sds, keys = side
    return {k: (int(h), int(w)) for k, h, w in zip(keys, sds.images.heights, sds.images.widths)}


def restore_names(ds: Dataset, path: Path, sidecar: bool) -> Dataset:
    """Categories a one-token format (DOTA, KITTI) wrote with ``_`` for whitespace, named back from the sidecar
    (where exactly one sidecar name becomes that token)."""
    side = read_sidecar(path) if sidecar and path.is_dir() else None
    if side is None:
        return ds
    by_token: dict[str, list[str]] = {}
    for n in side[0].categories.names:
        by_token.setdefault("_".join(n.split()), []).append(n)
    names = [n if n in side[0].categories.names or len(by_token.get(n, [])) != 1 else by_token[n][0]
             for n in ds.categories.names]
    if names == list(ds.categories.names):
        return ds
    c = ds.categories
    cats = LabelSet(ids=c.ids, names=names, supercategories=c.supercategories, extras=c.extras)
    return Dataset(images=ds.images, categories=cats, annotations=ds.annotations, info=ds.info,
                   licenses=ds.licenses, extras=ds.extras)


# ------------------------------------------------------------------------------------ Darknet and YOLO-OBB
def _register_yolo_like(name: str, help_text: str, module: str, stem: str) -> None:
    """Register a YOLO-family format whose module ``annokit.io.<module>`` has ``read_<stem>_keyed``,
    ``write_<stem>_into`` and ``validate_<stem>`` with the YOLO options (the module imported on first use)."""

    def io_module() -> Any:
        return importlib.import_module(f"annokit.io.{module}")

    def read(path: Path, rec: LossRecorder, opts: YoloReadOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
        fn = getattr(io_module(), f"read_{stem}_keyed")
        return cast(tuple[Dataset, list[str]], fn(path, recorder=rec, sizes=_sidecar_sizes(path, sidecar),
                                                  exif=not opts.no_exif,
                                                  skip_missing_splits=opts.skip_missing_splits))

    def write(ds: Dataset, path: Path, rec: LossRecorder, opts: YoloWriteOptions, kept_in: str | None) -> list[str]:
        fn = getattr(io_module(), f"write_{stem}_into")
        return cast(list[str], fn(ds, path, split=opts.split or "train", recorder=rec, kept_in=kept_in,
                                  precision=opts.precision, images=opts.images))

    def validate(path: Path) -> list[Problem]:
        return cast(list[Problem], getattr(io_module(), f"validate_{stem}")(path))

    register(FormatSpec(name, help_text, YoloReadOptions, YoloWriteOptions, read, write, validate, sidecar=True))


_register_yolo_like("darknet", "Darknet YOLO 1.1 (CVAT / datumaro 'yolo'): obj.data, obj.names, <split>.txt, "
                    "obj_<split>_data/", "darknet", "darknet")
_register_yolo_like("yolo-obb", "YOLO / Ultralytics oriented boxes: 'class x1 y1 ... x4 y4' normalised (corners kept "
                    "exactly)", "yolo_obb", "yolo_obb")


# ----------------------------------------------------------------------------------------------- DOTA
def _dota_read(path: Path, rec: LossRecorder, opts: NoOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    from annokit.io.dota import read_dota_keyed

    ds, keys = read_dota_keyed(path, recorder=rec, sizes=_sidecar_sizes(path, sidecar))
    return restore_names(ds, path, sidecar), keys


def _dota_write(ds: Dataset, path: Path, rec: LossRecorder, opts: DotaWriteOptions,
                kept_in: str | None) -> list[str]:
    from annokit.io.dota import write_dota_into

    return write_dota_into(ds, path, recorder=rec, kept_in=kept_in, images=opts.images)


def _validate_dota(path: Path) -> list[Problem]:
    from annokit.io.dota import validate_dota

    return validate_dota(path)


register(FormatSpec("dota", "DOTA v1.0 / v1.5 (and Roboflow's OBB export): [<split>/]labelTxt/*.txt, "
                    "'x1 y1 ... x4 y4 class difficult' in pixels", NoOptions, DotaWriteOptions, _dota_read,
                    _dota_write, _validate_dota, sidecar=True))


# ----------------------------------------------------------------------------------------------- KITTI
def _kitti_read(path: Path, rec: LossRecorder, opts: NoOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    from annokit.io.kitti import read_kitti_keyed

    ds, keys = read_kitti_keyed(path, recorder=rec, sizes=_sidecar_sizes(path, sidecar))
    return restore_names(ds, path, sidecar), keys


def _kitti_write(ds: Dataset, path: Path, rec: LossRecorder, opts: KittiWriteOptions,
                 kept_in: str | None) -> list[str]:
    from annokit.io.kitti import write_kitti_into

    return write_kitti_into(ds, path, split=opts.split, recorder=rec, kept_in=kept_in, images=opts.images)


def _validate_kitti(path: Path) -> list[Problem]:
    from annokit.io.kitti import validate_kitti

    return validate_kitti(path)


register(FormatSpec("kitti", "KITTI object detection: [<split>/]label_2/*.txt, 15 fields a line (3-D fields kept)",
                    NoOptions, KittiWriteOptions, _kitti_read, _kitti_write, _validate_kitti, sidecar=True))


# ----------------------------------------------------------------------------------------------- Open Images
def _oi_read(path: Path, rec: LossRecorder, opts: OpenImagesReadOptions, sidecar: bool
             ) -> tuple[Dataset, list[str]]:
    from annokit.io.openimages import read_openimages_keyed

    return read_openimages_keyed(path, recorder=rec, sizes=_sidecar_sizes(path, sidecar),
                                 normalized=opts.normalized, display_names=opts.display_names)


def _oi_write(ds: Dataset, path: Path, rec: LossRecorder, opts: OpenImagesWriteOptions,
              kept_in: str | None) -> list[str]:
    from annokit.io.openimages import write_openimages_into

    return write_openimages_into(ds, path, split=opts.split or "train", recorder=rec, kept_in=kept_in,
                                 images=opts.images)


def _validate_oi(path: Path) -> list[Problem]:
    from annokit.io.openimages import validate_openimages

    return validate_openimages(path)


register(FormatSpec("openimages", "Open Images V6 CSV: annotations/*-annotations-bbox.csv (normalised boxes, IsGroupOf "
                    "...), class descriptions, image-level labels, images/<subset>/", OpenImagesReadOptions,
                    OpenImagesWriteOptions, _oi_read, _oi_write, _validate_oi, sidecar=True))
