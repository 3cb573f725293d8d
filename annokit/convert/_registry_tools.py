"""Formats of annotation tools: LabelMe JSON, CVAT for images 1.1 XML, CreateML JSON (private; registered into
:data:`annokit.convert._registry.FORMATS` when :mod:`annokit.convert` is imported)."""

from __future__ import annotations

from pathlib import Path

from annokit.convert._registry import FormatSpec, register
from annokit.convert.options import CreateMLOptions, NoOptions
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

__all__: list[str] = []
_ = NoOptions
