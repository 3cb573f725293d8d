"""The errors of the pycocotools drop-in."""

from __future__ import annotations

from annokit.errors import FormatError

__all__ = ["PycocotoolsAssertionError"]


class PycocotoolsAssertionError(FormatError, AssertionError):
    """Where pycocotools stops with an ``AssertionError`` (results for images the ground truth does not have, a
    results file that is not a list, a numpy results array that is not N x 7, an annotation file that is not an
    object), the drop-in raises this: an annokit :class:`~annokit.errors.FormatError` (one clear line naming the file
    and the place) that is also an ``AssertionError``, so code that catches pycocotools' error keeps working.

    >>> issubclass(PycocotoolsAssertionError, AssertionError)
    True
    """
