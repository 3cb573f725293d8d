"""annokit: typed annotations, exact format conversion, reference-exact metrics and error reports.

``import annokit`` is cheap: matplotlib, torch and onnxruntime are imported only where they are used, and
:func:`load`, :func:`save`, :func:`evaluate` and :func:`evaluate_protocol` (from :mod:`annokit.api`) load their
modules on first use.

>>> import annokit
>>> ds = annokit.load("sample_data/scenes/gt.json")
>>> round(annokit.evaluate(ds, "sample_data/scenes/pred.json").metrics_dict()["AP50"], 3)
0.666
"""

from typing import TYPE_CHECKING, Any

from annokit.core import Dataset, ImageRecord, ImageTable, Instances, LabelSet, SemanticMap
from annokit.errors import AnnokitError, FormatError, ValidationError

if TYPE_CHECKING:
    from annokit.api import evaluate, evaluate_protocol, load, save

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

_LAZY = {"evaluate", "evaluate_protocol", "load", "save"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from annokit import api

        return getattr(api, name)
    raise AttributeError(f"module 'annokit' has no attribute {name!r}")
