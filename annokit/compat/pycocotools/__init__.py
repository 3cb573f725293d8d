"""A drop-in for pycocotools' ``COCO``, ``COCOeval`` and ``mask`` on annokit's COCO engine.

Change the import and nothing else::

    from annokit.compat.pycocotools import COCO, COCOeval, mask   # was: from pycocotools... import ...

or call :func:`annokit.compat.init_as_pycocotools` once, before the code that imports pycocotools.

Examples
--------
>>> from annokit.compat.pycocotools import COCO, COCOeval, mask
>>> COCOeval(COCO(), COCO(), "bbox").params.maxDets
[1, 10, 100]
"""

from __future__ import annotations

from annokit.compat.pycocotools import mask
from annokit.compat.pycocotools.coco import COCO
from annokit.compat.pycocotools.cocoeval import COCOeval, Params

__all__ = ["COCO", "COCOeval", "Params", "mask"]
