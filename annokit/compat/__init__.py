"""Drop-in replacements for other tools' Python APIs, on annokit's engines.

:mod:`annokit.compat.pycocotools` replaces ``pycocotools.coco`` / ``pycocotools.cocoeval`` / ``pycocotools.mask``;
:func:`init_as_pycocotools` makes code that imports pycocotools get it, unchanged.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["init_as_pycocotools"]

_NAMES = ("coco", "cocoeval", "mask")


def init_as_pycocotools() -> None:
    """Make ``import pycocotools.coco`` / ``pycocotools.cocoeval`` / ``pycocotools.mask`` (and ``from pycocotools
    import mask``) resolve to :mod:`annokit.compat.pycocotools`' modules from now on in this process.

    Call it before the code that imports pycocotools (a module that already holds pycocotools' classes keeps them).
    pycocotools' compiled mask routines (``pycocotools._mask``) stay in place: the drop-in's ``mask`` uses them.
    Calling it again does nothing more.

    Examples
    --------
    >>> import annokit.compat
    >>> annokit.compat.init_as_pycocotools()                      # doctest: +SKIP
    >>> from pycocotools.cocoeval import COCOeval                  # doctest: +SKIP
    >>> COCOeval.__module__                                        # doctest: +SKIP
    'annokit.compat.pycocotools.cocoeval'
    """
    import pycocotools
    import pycocotools._mask  # the real compiled routines stay registered

    import annokit.core.masks  # noqa: F401  (binds the real pycocotools.mask before the switch)
    from annokit.compat.pycocotools import coco, cocoeval, mask

    mods: dict[str, ModuleType] = {"coco": coco, "cocoeval": cocoeval, "mask": mask}
    for name in _NAMES:
        sys.modules[f"pycocotools.{name}"] = mods[name]
        setattr(pycocotools, name, mods[name])
