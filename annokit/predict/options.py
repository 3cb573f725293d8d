"""Backend and decoder options as typed pydantic models: checked once, every error one line naming the option.

A backend declares its options as a subclass of :class:`Options` (``extra="forbid"``) and validates what it is given
with :func:`parse_options`. A misspelt name is refused with the closest valid names (``score_treshold`` -> did you
mean ``score_threshold``?) and the list of valid ones; a bad value names the option, what it expects and what it
got. Nothing is silently ignored.

>>> class MyOptions(Options):
...     threads: int = 1
>>> try:
...     parse_options(MyOptions, {"thread": 2}, where="backend 'mine'")
... except OptionError as e:
...     print(e)
backend 'mine': unknown option 'thread' (did you mean 'threads'?); valid options: threads
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict

from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError, ValidationError

__all__ = ["Options", "OptionError", "parse_options", "check_option_names", "option_error_text", "labels_from"]

O = TypeVar("O", bound="Options")


class OptionError(ValidationError):
    """An option of a backend or a decoder is unknown or has a bad value; the message names it."""


class Options(BaseModel):
    """Base of option models: unknown fields are refused, the model is frozen, arbitrary types are allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def check_option_names(given: Iterable[str], valid: Iterable[str], *, where: str) -> None:
    """Raise :class:`OptionError` for the first name of ``given`` that is not in ``valid``, with did-you-mean."""
    valid = sorted(valid)
    for name in given:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=2, cutoff=0.6)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise OptionError(f"{where}: unknown option {name!r}{hint}; valid options: {', '.join(valid)}")


def option_error_text(exc: pydantic.ValidationError, *, prefix: str = "") -> str:
    """The first error of a pydantic validation as ``option 'name': what is wrong (got VALUE)``."""
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
    msg = str(err["msg"])
    msg = msg[:1].lower() + msg[1:]
    for lead in ("value error, ", "assertion failed, "):
        msg = msg.removeprefix(lead)
    got = err.get("input")
    shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
    return f"option {loc!r}: {msg} (got {shown})" if "input" in err and err["type"] != "missing" else \
        f"option {loc!r}: {msg}"


def parse_options(model: type[O], values: Mapping[str, Any], *, where: str) -> O:
    """``model(**values)``, with unknown names and bad values as one-line :class:`OptionError` naming the option.

    Parameters
    ----------
    model : a subclass of :class:`Options`
    values : the options given, by name
    where : what the options are for (``"backend 'onnx'"``), the start of every message

    Returns
    -------
    an instance of ``model``
    """
    check_option_names(values, model.model_fields, where=where)
    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        raise OptionError(f"{where}: {option_error_text(exc)}") from None
    except AnnokitError as exc:  # a nested annokit model refused a value
        raise OptionError(f"{where}: {exc}") from None


def labels_from(spec: Any, where: str) -> LabelSet:
    """Class names given as a list, ``{id: name}``, ``{"ids": [...], "names": [...]}``, a LabelSet or a text file
    of one name per line (ids 0..N-1)."""
    if isinstance(spec, LabelSet):
        return spec
    if isinstance(spec, Mapping) and "names" in spec:
        names = [str(n) for n in spec["names"]]
        return LabelSet(ids=np.asarray(spec.get("ids", range(len(names))), np.int64), names=names)
    if isinstance(spec, Mapping):  # {0: "person", 1: "bicycle"} (ultralytics)
        try:
            items = sorted((int(k), str(v)) for k, v in spec.items())
        except ValueError:
            raise OptionError(f"{where}: a {{id: name}} mapping needs integer ids, got {list(spec)[:3]}") from None
        return LabelSet(ids=np.asarray([k for k, _ in items], np.int64), names=[v for _, v in items])
    if isinstance(spec, (list, tuple)):
        return LabelSet(ids=np.arange(len(spec)), names=[str(s) for s in spec])
    if isinstance(spec, (str, os.PathLike)):
        p = Path(spec)
        if not p.is_file():
            raise OptionError(f"{where}: no such file {str(p)!r} (labels=FILE is a text file, one name per line)")
        names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not names:
            raise OptionError(f"{where}: {p} holds no names (one name per line)")
        return LabelSet(ids=np.arange(len(names)), names=names)
    raise OptionError(f"{where}: expected a list of names, a {{id: name}} mapping or a file of names (one per "
                      f"line), got {type(spec).__name__}")
