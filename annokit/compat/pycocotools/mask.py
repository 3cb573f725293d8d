"""``pycocotools.mask``'s API: COCO run-length encoding (RLE) of binary masks.

The raster work is pycocotools' own C routines (``pycocotools._mask``, a dependency of annokit that
:mod:`annokit.core.masks` uses too), so every mask, count string, area, box and IoU is bit-identical to
pycocotools'. One defect is fixed: ``area`` of a list of 256 or more RLEs overflows inside pycocotools under numpy 2
(``OverflowError: Python integer 256 out of bounds for uint8``); here it is answered in chunks.

Conventions (as pycocotools'): a binary mask is a column-major (Fortran-ordered) ``uint8`` array ``(h, w)`` or a
stack ``(h, w, n)``; an RLE is ``{"size": [h, w], "counts": bytes}``; a function given one RLE (a dict) answers for
it, given a list answers with an array.

Examples
--------
>>> import numpy as np
>>> from annokit.compat.pycocotools import mask
>>> m = np.zeros((4, 5), dtype=np.uint8, order="F"); m[1:3, 1:4] = 1
>>> rle = mask.encode(m)
>>> int(mask.area(rle)), mask.toBbox(rle).tolist()
(6, [1.0, 1.0, 3.0, 2.0])
>>> bool((mask.decode(rle) == m).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import _mask as _c

__all__ = ["area", "decode", "encode", "frPyObjects", "iou", "merge", "toBbox"]

_CHUNK = 255  # pycocotools' area() counts its input in a uint8


def encode(bimask: np.ndarray) -> Any:
    """RLE of a ``(h, w)`` mask (one dict) or of each mask of a ``(h, w, n)`` stack (a list of dicts).

    Parameters
    ----------
    bimask : ndarray of uint8, Fortran order
        The mask(s); pycocotools requires column-major ``uint8`` and so does this function.

    Returns
    -------
    dict or list of dict
    """
    if bimask.ndim == 2:
        h, w = bimask.shape
        return _c.encode(bimask.reshape((h, w, 1), order="F"))[0]
    return _c.encode(bimask)


def decode(rleObjs: Any) -> np.ndarray:
    """The ``(h, w)`` mask of one RLE, or the ``(h, w, n)`` masks of a list of RLEs (Fortran-ordered uint8).

    Unlike pycocotools, a compressed string that is not an RLE of its ``size`` raises
    :class:`~annokit.errors.ValidationError` (pycocotools' decoder leaves pixels unset, or writes past
    the mask, on one)."""
    from annokit.core.masks import check_rle_strings

    check_rle_strings("rle", rleObjs if isinstance(rleObjs, list) else [rleObjs])
    if isinstance(rleObjs, list):
        return np.asarray(_c.decode(rleObjs))
    return np.asarray(_c.decode([rleObjs]))[:, :, 0]


def area(rleObjs: Any) -> Any:
    """Pixel count of one RLE (a ``numpy.uint32``) or of each of a list (a ``uint32`` array)."""
    if not isinstance(rleObjs, list):
        return _c.area([rleObjs])[0]
    if len(rleObjs) <= _CHUNK:
        return _c.area(rleObjs)
    return np.concatenate([_c.area(rleObjs[i:i + _CHUNK]) for i in range(0, len(rleObjs), _CHUNK)])


def toBbox(rleObjs: Any) -> np.ndarray:
    """Tight ``[x, y, w, h]`` box of one RLE ``(4,)``, or of each of a list ``(n, 4)`` (float64)."""
    if isinstance(rleObjs, list):
        return np.asarray(_c.toBbox(rleObjs))
    return np.asarray(_c.toBbox([rleObjs])).reshape(4)


def merge(rleObjs: list[Any], intersect: int = 0) -> Any:
    """The union (``intersect=1``: the intersection) of a list of RLEs of one size, as one RLE."""
    return _c.merge(rleObjs, intersect)


def iou(dt: Any, gt: Any, pyiscrowd: Any) -> Any:
    """IoU of every (dt, gt) pair, ``(len(dt), len(gt))`` float64; ``dt`` / ``gt`` are lists of RLEs or ``(n, 4)``
    ``[x, y, w, h]`` boxes; where ``pyiscrowd[j]`` the union is the dt's own area. Empty input gives ``[]``.

    Unlike pycocotools, a compressed string that is not an RLE of its ``size`` raises
    :class:`~annokit.errors.ValidationError` (pycocotools' ``iou`` loops without end on one)."""
    from annokit.core.masks import check_rle_strings

    for side, objs in (("dt", dt), ("gt", gt)):
        if isinstance(objs, list):
            check_rle_strings(side, objs)
    return _c.iou(dt, gt, pyiscrowd)


def frPyObjects(pyobj: Any, h: int, w: int) -> Any:
    """RLEs from polygons (a list of ``[x0, y0, x1, y1, ...]``: one RLE each), boxes (an ``(n, 4)`` array or a list
    of ``[x, y, w, h]``: a list), or one uncompressed RLE ``{"size", "counts": [runs]}`` (one compressed RLE)."""
    return _c.frPyObjects(pyobj, h, w)
