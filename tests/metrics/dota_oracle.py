"""The DOTA devkit's ``dota_evaluation_task1.voc_eval`` as a test-only oracle (never shipped).

It is looked for in ``$ANNOKIT_DOTA_DEVKIT`` (default ``/work/peers/dota_devkit``): the devkit's files, with its
``polyiou`` module importable from that folder or from ``polyiou_ctypes/`` beside it. numpy 2 lacks nothing the
devkit's evaluation uses (``np.bool`` is back), so it is called unchanged; its ``print`` output is swallowed.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

DEVKIT = Path(os.environ.get("ANNOKIT_DOTA_DEVKIT", "/work/peers/dota_devkit"))


def _paths() -> None:
    for p in (DEVKIT, DEVKIT / "polyiou_ctypes"):  # the ctypes stand-in first, before the devkit's SWIG wrapper
        if str(p) in sys.path:
            sys.path.remove(str(p))
        sys.path.insert(0, str(p))


def load_polyiou() -> Any | None:
    """The devkit's compiled ``polyiou`` (or None, reason in ``REASON``)."""
    global REASON
    if not (DEVKIT / "polyiou.cpp").is_file():
        REASON = f"DOTA devkit not found at {DEVKIT} (set ANNOKIT_DOTA_DEVKIT)"
        return None
    _paths()
    try:
        import polyiou

        return polyiou
    except Exception as exc:
        REASON = f"the devkit's compiled polyiou cannot be imported ({type(exc).__name__}: {exc})"
        return None


def load_devkit() -> Any | None:
    """The devkit's evaluation module, or None (with the reason in ``REASON``) when it cannot be imported."""
    global REASON
    if not (DEVKIT / "dota_evaluation_task1.py").is_file():
        REASON = f"DOTA devkit not found at {DEVKIT} (set ANNOKIT_DOTA_DEVKIT)"
        return None
    if load_polyiou() is None:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import dota_evaluation_task1

        return dota_evaluation_task1
    except Exception as exc:  # the compiled polyiou may be missing
        REASON = f"DOTA devkit at {DEVKIT} cannot be imported ({type(exc).__name__}: {exc})"
        return None


def load_task2() -> Any | None:
    """The devkit's horizontal-box evaluation ``dota_evaluation_task2`` (the VOC devkit's ``voc_eval`` -- ``+ 1``
    pixel overlap, VOC07 11-point or all-point AP -- reading DOTA label files; no compiled code), or None."""
    global REASON
    if not (DEVKIT / "dota_evaluation_task2.py").is_file():
        REASON = f"DOTA devkit not found at {DEVKIT} (set ANNOKIT_DOTA_DEVKIT)"
        return None
    _paths()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import dota_evaluation_task2

        return dota_evaluation_task2
    except Exception as exc:
        REASON = f"DOTA devkit at {DEVKIT} cannot be imported ({type(exc).__name__}: {exc})"
        return None


REASON = ""


def devkit_eval(module: Any, label_dir: Path, det_dir: Path, classes: list[str], *,
                use_07_metric: bool, ovthresh: float = 0.5, det_name: str = "Task1_{:s}.txt") -> dict[str, float]:
    """AP per class as the devkit computes it over every label file of ``label_dir`` (detections in
    ``det_dir / det_name.format(class)``)."""
    names = sorted(p.stem for p in label_dir.glob("*.txt"))
    imageset = det_dir / "_imageset.txt"
    imageset.write_text("\n".join(names) + "\n")
    out = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for c in classes:
                _, _, ap = module.voc_eval(str(det_dir / det_name), str(label_dir / "{:s}.txt"),
                                           str(imageset), c, ovthresh=ovthresh, use_07_metric=use_07_metric)
                out[c] = float(ap)
    finally:
        imageset.unlink()
    return out
