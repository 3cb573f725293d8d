"""annokit: typed annotations, exact format conversion, reference-exact metrics and error reports.

``import annokit`` is cheap (no numpy, pydantic or matplotlib): the core models (from :mod:`annokit.core`) and
:func:`load`, :func:`save`, :func:`evaluate` and :func:`evaluate_protocol` (from :mod:`annokit.api`) load their
modules on first use.

>>> import annokit
>>> ds = annokit.load("sample_data/scenes/gt.json")
>>> round(annokit.evaluate(ds, "sample_data/scenes/pred.json").metrics_dict()["AP50"], 3)
0.666
"""

from typing import TYPE_CHECKING, Any

from annokit.errors import AnnokitError, FormatError, ValidationError

if TYPE_CHECKING:
    from annokit.api import evaluate, evaluate_protocol, load, save
    from annokit.core import Dataset, ImageRecord, ImageTable, Instances, LabelSet, SemanticMap

__version__ = "0.1.0"

__all__ = [
    "AnnokitError",
    "Dataset",
    "FormatError",
    "ImageRecord",
    "ImageTable",
    "Instances",
    "LabelSet",
    "SemanticMap",
    "ValidationError",
    "__version__",
    "evaluate",
    "evaluate_protocol",
    "load",
    "save",
]

_API = {"evaluate", "evaluate_protocol", "load", "save"}
_CORE = {"Dataset", "ImageRecord", "ImageTable", "Instances", "LabelSet", "SemanticMap"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from annokit import api

        return getattr(api, name)
    if name in _CORE:
        from annokit import core

        return getattr(core, name)
    raise AttributeError(f"module 'annokit' has no attribute {name!r}")
