"""The base of annokit's typed models: pydantic, frozen, arrays allowed, errors that are annokit's own.

pydantic wraps an exception raised inside a validator into its own ``pydantic_core.ValidationError``; a user who
writes ``except annokit.AnnokitError`` would catch nothing. :class:`FrozenModel` turns every validation failure
(annokit's checks and pydantic's type checks alike) into one :class:`annokit.ValidationError` that names the model,
the field and the problem, chained to pydantic's report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict

from annokit.core.arrays import frozen
from annokit.errors import AnnokitError, ValidationError

__all__ = ["FrozenModel", "translate_validation_error"]


def translate_validation_error(model: str, exc: pydantic.ValidationError) -> AnnokitError:
    """One :class:`annokit.ValidationError` for pydantic's report: the first problem, with its place."""
    errors = exc.errors(include_url=False)
    if not errors:
        return ValidationError(f"{model}: {exc}")
    first = errors[0]
    original = (first.get("ctx") or {}).get("error")
    if isinstance(original, AnnokitError):
        text = str(original)
    else:
        loc = ".".join(str(x) for x in first["loc"])
        text = f"{loc}: {first['msg']}" if loc else first["msg"]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ValidationError(f"{model}: {text}{more}")


class FrozenModel(BaseModel):
    """A frozen pydantic model whose validation errors are :class:`annokit.ValidationError` and whose ``==``
    compares array fields element by element (``np.array_equal``, NaN equal to NaN)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise translate_validation_error(type(self).__name__, exc) from exc

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except pydantic.ValidationError as exc:
            raise translate_validation_error(cls.__name__, exc) from exc

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Any:
        """Build without validation (callers that already hold checked columns); arrays are still made
        read-only."""
        for k, v in values.items():
            if isinstance(v, np.ndarray):
                values[k] = frozen(v)
        return super().model_construct(_fields_set, **values)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, k), getattr(other, k)) for k in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # arrays are not hashable, so neither are the models


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)
