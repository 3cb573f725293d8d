"""Formats of annotation tools: LabelMe JSON, CVAT for images 1.1 XML, CreateML JSON (private; registered into
:data:`annokit.convert._registry.FORMATS` when :mod:`annokit.convert` is imported)."""

from __future__ import annotations

from pathlib import Path

from annokit.convert._registry import FormatSpec, register
from annokit.convert.options import CreateMLOptions, LabelmeReadOptions, NoOptions
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder
from annokit.io.validation import Problem


# ----------------------------------------------------------------------------------------------- CreateML
def _createml_read(path: Path, rec: LossRecorder, opts: CreateMLOptions, sidecar: bool
                   ) -> tuple[Dataset, list[str]]:
    from annokit.io.createml import read_createml_keyed

    return read_createml_keyed(path, corner=opts.corner, recorder=rec)


def _createml_write(ds: Dataset, path: Path, rec: LossRecorder, opts: CreateMLOptions, kept_in: str | None
                    ) -> list[str]:
    from annokit.io.createml import write_createml_into

    return write_createml_into(ds, path, corner=opts.corner, recorder=rec, kept_in=kept_in)


def _validate_createml(path: Path) -> list[Problem]:
    from annokit.io.createml import validate_createml

    return validate_createml(path)


register(FormatSpec("createml", "CreateML JSON (Apple / Roboflow): [{image, annotations: [{label, coordinates: "
                    "{x, y, width, height}}]}], boxes by centre", CreateMLOptions, CreateMLOptions, _createml_read,
                    _createml_write, _validate_createml, sidecar=True))


# ----------------------------------------------------------------------------------------------- CVAT
def _cvat_read(path: Path, rec: LossRecorder, opts: NoOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    from annokit.io.cvat import read_cvat_keyed

    return read_cvat_keyed(path, recorder=rec)


def _cvat_write(ds: Dataset, path: Path, rec: LossRecorder, opts: NoOptions, kept_in: str | None) -> list[str]:
    from annokit.io.cvat import write_cvat_into

    return write_cvat_into(ds, path, recorder=rec, kept_in=kept_in)


def _validate_cvat(path: Path) -> list[Problem]:
    from annokit.io.cvat import validate_cvat

    return validate_cvat(path)


register(FormatSpec("cvat", "CVAT for images 1.1 XML: annotations.xml (box, polygon, mask; polylines, points, tags "
                    "kept per image)", NoOptions, NoOptions, _cvat_read, _cvat_write, _validate_cvat, sidecar=True))


# ----------------------------------------------------------------------------------------------- LabelMe
def _labelme_read(path: Path, rec: LossRecorder, opts: LabelmeReadOptions, sidecar: bool
                  ) -> tuple[Dataset, list[str]]:
    from annokit.io.labelme import read_labelme_keyed

    return read_labelme_keyed(path, labels=opts.labels, raster_boxes=opts.raster_boxes, recorder=rec)


def _labelme_write(ds: Dataset, path: Path, rec: LossRecorder, opts: NoOptions, kept_in: str | None) -> list[str]:
    from annokit.io.labelme import write_labelme_into

    return write_labelme_into(ds, path, recorder=rec, kept_in=kept_in)


def _validate_labelme(path: Path) -> list[Problem]:
    from annokit.io.labelme import validate_labelme

    return validate_labelme(path)


register(FormatSpec("labelme", "LabelMe JSON: one <image>.json per image (polygon, rectangle, circle, mask; points "
                    "and lines kept per image), labels.txt", LabelmeReadOptions, NoOptions, _labelme_read,
                    _labelme_write, _validate_labelme, sidecar=True))
