"""Exceptions raised by annokit.

Every error about user data says *which file* and *where in it*, so that the CLI can print one clear line
instead of a traceback.
"""

from __future__ import annotations

from os import PathLike

__all__ = ["AnnokitError", "FormatError", "ValidationError", "AnnokitWarning", "PycocotoolsQuirkWarning"]


class AnnokitError(Exception):
    """Base class of every error annokit raises on purpose.

    Every annokit error pickles with its attributes (subclasses take other constructor arguments than the message),
    so an error raised in another process -- a dask worker -- reaches the caller as the same error.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[AnnokitError], args: tuple[object, ...], state: dict[str, object]) -> AnnokitError:
    """An unpickled :class:`AnnokitError`: its message arguments and attributes, without calling ``__init__``."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class FormatError(AnnokitError, ValueError):
    """A file does not follow its format.

    >>> str(FormatError("gt.json", "annotations[17].bbox", "width is negative (-3.0)"))
    'gt.json: annotations[17].bbox: width is negative (-3.0)'
    """

    def __init__(self, path: str | PathLike[str] | None, where: str | None, message: str) -> None:
        self.path = None if path is None else str(path)
        self.where = where
        self.message = message
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [p for p in (self.path, self.where) if p]
        return ": ".join([*parts, self.message])


class ValidationError(AnnokitError, ValueError):
    """An in-memory model was built from inconsistent arrays (wrong shape, dtype, NaN, ...)."""


class AnnokitWarning(UserWarning):
    """Something worth knowing that does not stop the work."""


class PycocotoolsQuirkWarning(AnnokitWarning):
    """The input hits a known pycocotools defect that annokit reproduces by default (see ``fixed=True``)."""
