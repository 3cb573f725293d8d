"""Format conversion: read any registered format, write any other, and count every loss; validate a dataset
against its format.

Each format's options are a typed model (:mod:`annokit.convert.options`), its rules live with its reader in
:mod:`annokit.io` (``validate(path, fmt)`` lists every problem by those rules).

>>> from annokit.convert import convert
>>> report = convert("instances.json", "voc_out", src_format="coco", dst_format="voc")  # doctest: +SKIP
"""

from annokit.convert import _registry_tools  # noqa: F401  (registers the annotation-tool formats)
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
from annokit.convert._parts import (
    FILE_PARTS,
    PART_RULES,
    PartJob,
    PartRunner,
    PartTask,
    convert_by_parts,
    part_refusal,
)
from annokit.convert._registry import FORMATS, FormatSpec
from annokit.convert._validate import Problem, stats, validate
from annokit.convert.options import FormatOptions, parse_options
from annokit.core.losses import LossEntry, LossError, LossRecorder, LossReport, LossState

__all__ = [
    "FILE_PARTS",
    "FORMATS",
    "FormatOptions",
    "FormatSpec",
    "LossEntry",
    "LossError",
    "LossRecorder",
    "LossReport",
    "LossState",
    "PART_RULES",
    "PartJob",
    "PartRunner",
    "PartTask",
    "Problem",
    "convert",
    "convert_by_parts",
    "detect_format",
    "formats",
    "get_format",
    "load_mapping",
    "parse_options",
    "part_refusal",
    "read_dataset",
    "remap_categories",
    "stats",
    "validate",
    "write_dataset",
]
