"""annokit: typed annotations, exact format conversion, reference-exact metrics and error reports.

``import annokit`` is cheap: matplotlib, torch and onnxruntime are imported only where they are used.
"""

from annokit.core import Dataset, ImageTable, Instances, LabelSet, SemanticMap
from annokit.errors import AnnokitError, FormatError, ValidationError

__version__ = "0.1.0"

__all__ = [
    "AnnokitError",
    "Dataset",
    "FormatError",
    "ImageTable",
    "Instances",
    "LabelSet",
    "SemanticMap",
    "ValidationError",
    "__version__",
]
