"""Finding predictor backends: the entry-point group ``annokit.predictors``, or a ``module:attr`` spec.

A package adds a backend by declaring, in its ``pyproject.toml``::

    [project.entry-points."annokit.predictors"]
    mybackend = "my_package.annokit_backend:MyPredictor"

where ``MyPredictor(**options)`` returns a :class:`~annokit.predict.base.Predictor`. Option names are checked
before the factory is called -- against its ``Options`` class attribute (a
:class:`~annokit.predict.options.Options` model) when it has one, else against its signature -- so a misspelt
option is an error with the closest valid names, never ignored. annokit's own backends
(``onnx``, ``torchvision``) are declared the same way; when annokit runs from a source tree that was never
installed they are still found (from :data:`BUILTINS`). Only the backend asked for is imported, so loading one
never imports another's framework. An optional class attribute ``requires`` (module names) lets
``annokit predictors`` say whether the backend's framework is installed without importing it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from annokit.errors import AnnokitError
from annokit.predict.options import check_option_names

__all__ = ["GROUP", "BUILTINS", "BackendInfo", "BackendError", "available_backends", "load_backend",
           "load_predictor", "option_names", "missing_requirements"]

GROUP = "annokit.predictors"
BUILTINS = {
    "onnx": "annokit.predict.onnx_backend:OnnxPredictor",
    "torchvision": "annokit.predict.torchvision_backend:TorchvisionPredictor",
}


class BackendError(AnnokitError):
    """A backend cannot be found, imported or built."""


@dataclass(frozen=True)
class BackendInfo:
    """A backend found by name: ``target`` is its ``module:attr``, ``source`` the distribution declaring it."""

    name: str
    target: str
    source: str


def available_backends() -> dict[str, BackendInfo]:
    """Backends by name: every entry point of :data:`GROUP`, plus annokit's built-ins when not installed."""
    found: dict[str, BackendInfo] = {}
    for ep in importlib.metadata.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        found.setdefault(ep.name, BackendInfo(ep.name, ep.value, dist.name if dist is not None else "?"))
    for name, target in BUILTINS.items():
        found.setdefault(name, BackendInfo(name, target, "annokit (source tree)"))
    return dict(sorted(found.items()))


def _import_target(target: str) -> Callable[..., Any]:
    mod_name, _, attr = target.partition(":")
    if not mod_name or not attr:
        raise BackendError(f"backend spec {target!r}: expected 'module:attr'")
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as exc:
        raise BackendError(f"backend {target!r}: cannot import {mod_name!r}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BackendError(f"backend {target!r}: {mod_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise BackendError(f"backend {target!r} is not callable")
    factory: Callable[..., Any] = obj
    return factory


def load_backend(spec: str) -> Callable[..., Any]:
    """The factory of backend ``spec``: a registered name, or ``module:attr`` for an unregistered one."""
    backends = available_backends()
    if spec in backends:
        return _import_target(backends[spec].target)
    if ":" in spec:
        return _import_target(spec)
    known = ", ".join(backends) or "none"
    raise BackendError(f"unknown backend {spec!r} (installed: {known}; or give module:attr)")


def missing_requirements(factory: Any) -> list[str]:
    """Modules named in ``factory.requires`` that are not installed (found without importing them)."""
    return [m for m in getattr(factory, "requires", ()) if importlib.util.find_spec(m) is None]


def option_names(factory: Any) -> list[str] | None:
    """The option names ``factory`` takes: its ``Options`` model's fields, else its keyword parameters; ``None``
    when it takes any keyword (``**kwargs``) or its signature cannot be read."""
    model = getattr(factory, "Options", None)
    fields = getattr(model, "model_fields", None)
    if isinstance(fields, dict):
        return sorted(fields)
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return sorted(p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                        inspect.Parameter.KEYWORD_ONLY))


def load_predictor(spec: str, **options: Any) -> Any:
    """Build a predictor: ``load_predictor("onnx", model="m.onnx", task="detection")``.

    Parameters
    ----------
    spec : a registered backend name (``annokit predictors``) or ``module:attr``
    **options : the backend's options (by name, as its factory takes them)

    Returns
    -------
    The predictor.

    Raises
    ------
    BackendError
        The backend is unknown, its framework is missing, or it built no predictor.
    OptionError
        An option name the backend does not take (with the closest valid names), or a bad value.
    """
    factory = load_backend(spec)
    missing = missing_requirements(factory)
    if missing:
        raise BackendError(f"backend {spec!r} needs {', '.join(missing)}, which is not installed")
    names = option_names(factory)
    if names is not None:
        check_option_names(options, names, where=f"backend {spec!r}")
    try:
        predictor = factory(**options)
    except TypeError as exc:
        raise BackendError(f"backend {spec!r}: {exc}") from None
    missing_attrs = [a for a in ("task", "labels", "predict") if not hasattr(predictor, a)]
    if missing_attrs:
        raise BackendError(f"backend {spec!r} built a {type(predictor).__name__} without "
                           f"{', '.join(missing_attrs)}: not a Predictor")
    return predictor
