"""The options of each format, as typed models: what :func:`~annokit.convert.read_dataset`,
:func:`~annokit.convert.write_dataset` and :func:`~annokit.convert.convert` accept for it.

Each model is frozen and forbids other names, so a misspelt option is an error that names the valid ones:

>>> from annokit.convert import get_format
>>> parse_options(get_format("yolo"), "write", {"precison": 3})  # doctest: +ELLIPSIS
Traceback (most recent call last):
annokit.errors.FormatError: option 'precison': not a write option of yolo (did you mean 'precision'?; ...)
>>> parse_options(get_format("voc"), "read", {"zero_based": True})
VocReadOptions(zero_based=True)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from annokit.errors import FormatError
from annokit.io.validation import format_loc

if TYPE_CHECKING:
    from annokit.convert._registry import FormatSpec

__all__ = ["CityscapesWriteOptions", "ClassCsvReadOptions", "ClassFoldersWriteOptions", "CocoReadOptions",
           "CocoResultsReadOptions", "CreateMLOptions", "Direction", "FormatOptions", "LabelmeReadOptions",
           "NoOptions", "PanopticReadOptions", "PanopticWriteOptions", "PngWriteOptions", "VocReadOptions",
           "VocWriteOptions", "YoloReadOptions", "YoloWriteOptions", "parse_options",
           "DotaWriteOptions", "KittiWriteOptions", "OpenImagesReadOptions", "OpenImagesWriteOptions"]

Direction = Literal["read", "write"]


class FormatOptions(BaseModel):
    """The base of every format's options: frozen, and no name it does not declare."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(FormatOptions):
    """A format that takes no option in this direction."""


class CocoReadOptions(FormatOptions):
    """Reading COCO instances."""

    fixed: bool = Field(False, description="accepted for symmetry with coco-results; string image ids are always "
                                           "read (and written back)")


class CocoResultsReadOptions(FormatOptions):
    """Reading a COCO results list."""

    gt: Path | None = Field(None, description="the ground-truth instances file that gives images and categories")
    fixed: bool = Field(False, description="read the ground truth with the fixes of pycocotools' quirks")


class VocReadOptions(FormatOptions):
    """Reading Pascal VOC."""

    zero_based: bool | None = Field(None, description="coordinates are zero-based (xmin = left edge, True) or the "
                                    "devkit's 1-based indices (False); None (the default): 1-based unless the files "
                                    "show they are zero-based (a box with xmin or ymin 0, or Roboflow named as the "
                                    "source), which the report then says")


class VocWriteOptions(FormatOptions):
    """Writing Pascal VOC."""

    zero_based: bool = Field(False, description="write zero-based coordinates instead of the devkit's 1-based ones")
    split: str | None = Field(None, description="image set of the images that name none (default trainval)")
    images: Path | None = Field(None, description="folder of the images (by file_name), copied into JPEGImages/")


class YoloReadOptions(FormatOptions):
    """Reading YOLO."""

    no_exif: bool = Field(False, description="ignore EXIF orientation when taking image sizes from headers")
    skip_missing_splits: bool = Field(False, description="a split data.yaml names that is not there is left out "
                                                         "(a counted loss) instead of an error")


class YoloWriteOptions(FormatOptions):
    """Writing YOLO (detection or segmentation)."""

    split: str | None = Field(None, description="split of the images that name none (default train)")
    precision: Annotated[int, Field(ge=0, le=20)] | None = Field(
        None, description="decimals of the normalized coordinates (default: the shortest exact text)")
    images: Path | None = Field(None, description="folder of the images (by file_name), copied into images/<split>")


class PngWriteOptions(FormatOptions):
    """Writing PNG masks."""

    semantic_only: bool = Field(False, description="write masks/ only (no instances/ id maps)")


class ClassFoldersWriteOptions(FormatOptions):
    """Writing a folder per class."""

    images: Path | None = Field(None, description="folder of the images (by file_name); required")


class ClassCsvReadOptions(FormatOptions):
    """Reading a classification CSV."""

    images: Path | None = Field(None, description="folder of the images, for their sizes (default: beside the CSV)")


class CityscapesWriteOptions(FormatOptions):
    """Writing Cityscapes gtFine."""

    split: str | None = Field(None, description="split of the images that name none (default train)")
    images: Path | None = Field(None, description="folder of the images (by file_name), copied into "
                                                  "leftImg8bit/<split>/")


class PanopticReadOptions(FormatOptions):
    """Reading COCO panoptic."""

    png_dir: Path | None = Field(None, description="the id PNG folder (default: beside the JSON, named as it)")


class PanopticWriteOptions(FormatOptions):
    """Writing COCO panoptic."""

    name: str = Field("panoptic", pattern=r"^[^/\\\x00]+$", description="name of NAME.json and NAME/ (the PNGs)")


class DotaWriteOptions(FormatOptions):
    """Writing DOTA label files (``[<split>/]labelTxt/*.txt``)."""

    images: Path | None = Field(None, description="folder of the images (by file_name), copied into "
                                                  "[<split>/]images")


class KittiWriteOptions(FormatOptions):
    """Writing KITTI object detection (``<split>/label_2/*.txt``)."""

    split: str | None = Field(None, description="split folder of the images that name none (default: none, "
                                                "label_2/ at the top)")
    images: Path | None = Field(None, description="folder of the images (by file_name), copied into "
                                                  "[<split>/]image_2")


class OpenImagesReadOptions(FormatOptions):
    """Reading Open Images CSV files."""

    normalized: bool = Field(False, description="the images are not at hand: keep the boxes normalised (each "
                                                "image taken as 1 x 1, counted) instead of refusing")
    display_names: bool = Field(False, description="name the categories by DisplayName (the MID kept as the "
                                                   "category field label_name) instead of by LabelName")


class OpenImagesWriteOptions(FormatOptions):
    """Writing Open Images CSV files."""

    split: str | None = Field(None, description="subset of the images that name none (default train)")
    images: Path | None = Field(None, description="folder of the images (by file_name), copied into "
                                                  "images/<subset>")


class CreateMLOptions(FormatOptions):
    """Reading and writing CreateML JSON."""

    corner: bool = Field(False, description="x, y are the box's top-left corner (as datumaro reads them), not "
                                            "Apple's centre")


class LabelmeReadOptions(FormatOptions):
    """Reading LabelMe JSON."""

    labels: Path | None = Field(None, description="labels.txt giving category ids by line, as labelme2coco's "
                                                  "--labels (default: labels.txt in the folder, when there)")
    raster_boxes: bool = Field(False, description="boxes and areas as labelme2coco computes them (the shapes drawn "
                                                  "with PIL), not the exact extent of the geometry")


def _unknown(spec: FormatSpec[Any, Any], direction: Direction, name: str, model: type[FormatOptions]) -> str:
    valid = list(model.model_fields)
    near = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {near[0]!r}?; " if near else ""
    listed = f"its {direction} options: {', '.join(valid)}" if valid else f"it takes no {direction} option"
    return f"not a {direction} option of {spec.name} ({hint}{listed})"


def parse_options(spec: FormatSpec[Any, Any], direction: Direction,
                  given: FormatOptions | Mapping[str, Any] | None) -> FormatOptions:
    """``given`` (a mapping of names, or the format's own options model) as ``spec``'s read or write options;
    anything else is a :class:`~annokit.errors.FormatError` naming the option."""
    model: type[FormatOptions] = spec.read_options if direction == "read" else spec.write_options
    if isinstance(given, model):
        return given
    if isinstance(given, FormatOptions):
        raise FormatError(None, "options", f"{type(given).__name__} are not the {direction} options of {spec.name} "
                                           f"({model.__name__})")
    try:
        return model.model_validate(dict(given or {}))
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        if err["type"] == "extra_forbidden":
            raise FormatError(None, f"option {name!r}", _unknown(spec, direction, name, model)) from None
        raise FormatError(None, f"option {format_loc('', err['loc'])!r}", str(err["msg"])) from None
