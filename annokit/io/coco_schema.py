"""The schema of a COCO instances file, record by record: ``TypedDict`` s checked by pydantic.

:mod:`annokit.io.coco` reads whole columns with numpy and imports this module only to name the record a column
could not take, and :func:`~annokit.io.coco.validate_coco` checks every record with it; reading a well-formed file
(``annokit eval`` on COCO files) does not import pydantic. The rules of each field are the checks of
:mod:`annokit.io.coco` (one function per kind of field), so the fast path and the schema say the same thing.

>>> ANNOTATION.validate_python({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 3]})["bbox"]
[0, 0, 2, 3]
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, TypeAdapter
from typing_extensions import NotRequired, TypedDict

from annokit.core.instances import Segmentation
from annokit.io.coco import _area, _bbox, _crowd, _flag, _image_id, _int64, _segmentation, _size, _string

__all__ = ["ANNOTATION", "CATEGORY", "IMAGE", "TOP", "CocoAnnotation", "CocoCategory", "CocoImage",
           "CocoInstancesFile"]


def _field(fn: Any) -> Any:
    return PlainValidator(fn)


class CocoImage(TypedDict):
    """An entry of ``images``: ``id`` (an integer, or a string as pycocotools accepts), ``height`` and ``width``
    (non-negative integers), ``file_name`` (a string, ``""`` when absent); other fields are kept."""

    id: Annotated[int | str, _field(_image_id)]
    file_name: NotRequired[Annotated[str, _field(_string)]]
    height: Annotated[int, _field(_size)]
    width: Annotated[int, _field(_size)]


class CocoCategory(TypedDict):
    """An entry of ``categories``: integer ``id``, string ``name``; ``supercategory`` and other fields kept."""

    id: Annotated[int, _field(_int64)]
    name: Annotated[str, _field(_string)]


class CocoAnnotation(TypedDict):
    """An entry of ``annotations``: integer ``id`` and ``category_id``, ``image_id`` of an image, ``bbox``
    ``[x, y, w, h]`` (finite, ``w, h >= 0``); optional ``area`` (finite, ``>= 0``; the box area when absent),
    ``iscrowd`` and ``ignore`` (0 or 1), ``segmentation`` (polygons ``[[x0, y0, ...], ...]`` of >= 3 finite points,
    or an RLE ``{"size": [h, w], "counts": ...}`` of ``h * w`` pixels); other fields kept."""

    id: Annotated[int, _field(_int64)]
    image_id: Annotated[int | str, _field(_image_id)]
    category_id: Annotated[int, _field(_int64)]
    bbox: Annotated[list[float], _field(_bbox)]
    area: NotRequired[Annotated[float, _field(_area)]]
    iscrowd: NotRequired[Annotated[int, _field(_crowd)]]
    ignore: NotRequired[Annotated[bool, _field(_flag)]]
    segmentation: NotRequired[Annotated[Segmentation | None, _field(_segmentation)]]


class CocoInstancesFile(TypedDict):
    """The top level of an instances file: the three lists (``annotations`` may be absent: no objects);
    ``info``, ``licenses`` and any other field are kept."""

    images: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    annotations: NotRequired[list[dict[str, Any]]]


IMAGE: TypeAdapter[CocoImage] = TypeAdapter(CocoImage)
CATEGORY: TypeAdapter[CocoCategory] = TypeAdapter(CocoCategory)
ANNOTATION: TypeAdapter[CocoAnnotation] = TypeAdapter(CocoAnnotation)
TOP: TypeAdapter[CocoInstancesFile] = TypeAdapter(CocoInstancesFile)


