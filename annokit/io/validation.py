"""Problems found in a dataset's files, and the one place each format's checks report them.

Every format has one set of rules, written once and used twice: its reader stops at the first error
(:class:`~annokit.errors.FormatError`), its validator (``validate_<format>(path) -> list[Problem]``) keeps going and
lists every problem with its file and place. A check writes ``problems.error(path, where, message)``; a
:class:`Problems` made with ``collect=False`` (the readers') raises there, one made with ``collect=True`` (the
validators') records it and the check goes on with the next item. Warnings (what a reader accepts but a user may
want to know) are recorded by validators and ignored by readers.

Record schemas are pydantic models or ``TypedDict`` s with a ``TypeAdapter`` built once at module level;
:meth:`Problems.schema_errors` turns pydantic's report into problems placed as ``annotations[3].bbox``. This module
imports pydantic only when a schema is checked.

>>> pr = Problems(collect=True)
>>> pr.error("gt.json", "images[2].height", "expected a non-negative integer, got -1")
>>> pr.warning("gt.json", "images[4].file_name", "same file as images[1]")
>>> [str(p) for p in pr.items]  # doctest: +NORMALIZE_WHITESPACE
['error: gt.json: images[2].height: expected a non-negative integer, got -1',
 'warning: gt.json: images[4].file_name: same file as images[1]']
>>> Problems(collect=False).error("gt.json", "images[2].height", "negative")
Traceback (most recent call last):
annokit.errors.FormatError: gt.json: images[2].height: negative
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from annokit.errors import FormatError

if TYPE_CHECKING:
    import pydantic

__all__ = ["FieldError", "Level", "Problem", "Problems", "format_loc", "read_text"]

Level = Literal["error", "warning"]
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Problem:
    """One problem: ``level`` (``"error"`` or ``"warning"``), the file, the place in it, and what is wrong."""

    level: Level
    path: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: " + ": ".join(x for x in (self.path, self.where, self.message) if x)


class FieldError(ValueError):
    """Raised by a schema's field validator: ``message`` about the value found at ``where`` below the field
    (``"[2]"``, ``".size"``; empty for the field itself)."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where


def format_loc(prefix: str, loc: Sequence[int | str]) -> str:
    """pydantic's ``loc`` as a place in a file: ``format_loc("annotations", (3, "bbox"))`` is
    ``annotations[3].bbox``."""
    out = prefix
    key = False
    for part in loc:
        if part == "[key]":  # the problem is a dict's key, not its value
            key = True
        elif isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out += f".{part}" if out else str(part)
    return f"{out} (the key)" if key else out


_JSON_KINDS = {"dict_type": "an object", "list_type": "a list", "string_type": "a string",
               "int_type": "an integer", "float_type": "a number", "bool_type": "true or false"}
_short_repr = reprlib.Repr()  # a bounded repr: an input of a billion nested items prints as a few
_short_repr.maxlevel, _short_repr.maxlist, _short_repr.maxdict = 2, 4, 4
_short_repr.maxstring = _short_repr.maxother = 40


def _message(err: Any) -> str:
    msg = str(err["msg"])
    for lead in ("Value error, ", "Assertion failed, "):
        if msg.startswith(lead):
            return msg[len(lead):]
    if err["type"] == "missing":
        return "missing"
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return "not a known field"
    if err["type"] in _JSON_KINDS:
        return f"expected {_JSON_KINDS[err['type']]}, got {_short_repr.repr(err.get('input'))}"
    return f"{msg}, got {_short_repr.repr(err.get('input'))}"


class Problems:
    """The problems a check finds: raised at the first error (``collect=False``, readers) or all kept in
    :attr:`items` (``collect=True``, validators)."""

    def __init__(self, *, collect: bool) -> None:
        self.collect = collect
        self.items: list[Problem] = []

    @property
    def has_errors(self) -> bool:
        return any(p.level == "error" for p in self.items)

    def error(self, path: PathLike | None, where: str | None, message: str) -> None:
        """An error at ``path`` / ``where``: raised as :class:`FormatError`, or recorded when collecting."""
        if not self.collect:
            raise FormatError(path, where, message)
        self.items.append(Problem("error", "" if path is None else str(path), where or "", message))

    def warning(self, path: PathLike | None, where: str | None, message: str) -> None:
        """A warning (recorded when collecting; a reader goes on silently)."""
        if self.collect:
            self.items.append(Problem("warning", "" if path is None else str(path), where or "", message))

    def format_error(self, exc: FormatError, path: PathLike | None = None) -> None:
        """Record (or raise again) an error a reader raised."""
        if not self.collect:
            raise exc
        self.items.append(Problem("error", exc.path or ("" if path is None else str(path)), exc.where or "",
                                  exc.message))

    def guard(self, path: PathLike | None = None) -> _Guard:
        """A ``with`` block for a step that raises :class:`FormatError`: when collecting, its error is recorded and
        the rest of the block skipped (a reader's error goes through).

        Use it around a step whose failure leaves nothing for the following checks of the same item.
        """
        return _Guard(self, path)

    def schema_errors(self, exc: pydantic.ValidationError, path: PathLike | None, prefix: str = "") -> None:
        """Each error of pydantic's report as an error placed under ``prefix`` (the first raises when reading)."""
        for err in exc.errors(include_url=False):
            original = (err.get("ctx") or {}).get("error")
            if isinstance(original, FieldError):
                self.error(path, format_loc(prefix, err["loc"]) + original.where, original.message)
            elif err["type"] == "missing" and err["loc"]:
                self.error(path, format_loc(prefix, err["loc"][:-1]), f"missing key {err['loc'][-1]!r}")
            else:
                self.error(path, format_loc(prefix, err["loc"]), _message(err))

    def check(self, adapter: pydantic.TypeAdapter[Any], value: Any, path: PathLike | None, where: str) -> bool:
        """Validate ``value`` against a record schema; False (and its errors reported) when it does not fit."""
        import pydantic  # on use: a reader's fast path reports through this module without pydantic

        try:
            adapter.validate_python(value)
        except pydantic.ValidationError as exc:
            self.schema_errors(exc, path, where)
            return False
        return True


class _Guard:
    """See :meth:`Problems.guard`."""

    def __init__(self, problems: Problems, path: PathLike | None) -> None:
        self.problems = problems
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, FormatError) and self.problems.collect:
            self.problems.format_error(exc, self.path)
            return True
        return False


def read_text(path: PathLike, *, encoding: str = "utf-8") -> str:
    """A text file's content; a file that is not in ``encoding`` is a :class:`FormatError` naming the byte."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None
    return decode_text(p, data, encoding=encoding)


def decode_text(path: PathLike, data: bytes, *, encoding: str = "utf-8") -> str:
    """``data`` (the content of ``path``) as text; bytes that are not ``encoding`` are a :class:`FormatError`
    naming the line and the byte."""
    p = path
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        name = "UTF-8" if encoding.lower().startswith("utf-8") else encoding
        raise FormatError(p, f"line {line}", f"not {name} text (byte {data[exc.start]:#04x} at offset "
                                             f"{exc.start})") from None
