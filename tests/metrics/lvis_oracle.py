"""``lvis`` 0.5.3's ``LVISEval`` as a test-only oracle (never shipped).

The package was written for numpy 1: its ``accumulate`` calls ``np.float``, which numpy 2 removed. The shim below
puts the builtin ``float`` back under that name while the oracle runs (nothing else of the package needs a change),
and its logging and ``print`` output is swallowed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

REASON = ""


def load_lvis() -> Any | None:
    """The ``lvis`` package, or None (the reason in ``REASON``)."""
    global REASON
    try:
        import lvis

        return lvis
    except Exception as exc:  # not installed, or broken by a dependency
        REASON = f"lvis (the LVIS API, the reference) cannot be imported: {type(exc).__name__}: {exc}"
        return None


@contextlib.contextmanager
def numpy1_names() -> Iterator[None]:
    """``np.float`` (numpy 1's alias of ``float``) while the reference runs."""
    had = "float" in np.__dict__
    if not had:
        np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if not had:
            del np.float  # type: ignore[attr-defined]


def lvis_eval(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: str = "bbox") -> Any:
    """``LVISEval(LVIS(gt), LVISResults(gt, results), iou_type).run()`` on copies of the inputs; returns the
    evaluator (``results``, ``eval['precision']``, ...)."""
    import json
    import tempfile

    from lvis import LVIS, LVISEval, LVISResults

    logging.getLogger("lvis").setLevel(logging.ERROR)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(gt, f)
        f.flush()
        with numpy1_names(), contextlib.redirect_stdout(io.StringIO()):
            g = LVIS(f.name)
            ev = LVISEval(g, LVISResults(g, copy.deepcopy(results)), iou_type)
            ev.run()
    return ev
