"""Format conversion: read any registered format, write any other, and count every loss.

>>> from annokit.convert import convert
>>> report = convert("instances.json", "voc_out", src_format="coco", dst_format="voc")  # doctest: +SKIP
"""

from annokit.convert._api import (
    convert,
    detect_format,
    formats,
    get_format,
    load_mapping,
    read_dataset,
    remap_categories,
    write_dataset,
)
from annokit.convert._registry import FORMATS, FormatSpec
from annokit.convert._validate import Problem, stats, validate
from annokit.core.losses import LossEntry, LossError, LossRecorder, LossReport

__all__ = [
    "FORMATS",
    "FormatSpec",
    "LossEntry",
    "LossError",
    "LossRecorder",
    "LossReport",
    "Problem",
    "convert",
    "detect_format",
    "formats",
    "get_format",
    "load_mapping",
    "read_dataset",
    "remap_categories",
    "stats",
    "validate",
    "write_dataset",
]
