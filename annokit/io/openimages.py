"""Open Images evaluation inputs: the class hierarchy file and the image-level labels and group-of flags of a
COCO-style ground truth.

* Hierarchy: Open Images' JSON, nested ``{"LabelName": ..., "Subcategory": [...]}``. The top node is a virtual
  root (``/m/0bl9f`` "Entity" in the official files) and is not a label; a label listed under several parents
  has all of them. A label that is its own ancestor is an error naming the chain.
* Image-level labels: the image fields ``"pos_category_ids"`` (verified present) and ``"neg_category_ids"``
  (verified absent), lists of category ids, as LVIS names its negative labels.
* Group-of boxes: the annotation field ``"isgroupof"`` (0/1 or a boolean); when no annotation has it, ``iscrowd``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from annokit.core.arrays import BoolArray
from annokit.core.dataset import Dataset
from annokit.core.hierarchy import ImageLabels, LabelHierarchy
from annokit.errors import FormatError, ValidationError
from annokit.io.coco import load_json

__all__ = ["group_of_from_coco", "hierarchy_from_json", "image_labels_from_coco", "read_hierarchy"]

PathLike = str | os.PathLike[str]


def read_hierarchy(path: PathLike) -> LabelHierarchy:
    """An Open Images hierarchy JSON file as a :class:`LabelHierarchy` (errors name the file and the node).

    Examples
    --------
    >>> import json, tempfile
    >>> p = tempfile.mktemp(suffix=".json")
    >>> _ = open(p, "w").write(json.dumps({"LabelName": "root", "Subcategory": [
    ...     {"LabelName": "animal", "Subcategory": [{"LabelName": "cat"}]}]}))
    >>> read_hierarchy(p).ancestors("cat")
    {'animal'}
    """
    return hierarchy_from_json(load_json(path), path=path)


def _label(node: Any, where: str, path: PathLike | None) -> str:
    if not isinstance(node, dict):
        raise FormatError(path, where, f"a hierarchy node must be an object, got {type(node).__name__}")
    name = node.get("LabelName")
    if not isinstance(name, str) or not name:
        raise FormatError(path, where, "a hierarchy node needs a non-empty string LabelName")
    sub = node.get("Subcategory", [])
    if not isinstance(sub, list):
        raise FormatError(path, f"{where}.Subcategory", f"must be a list, got {type(sub).__name__}")
    return name


def hierarchy_from_json(data: Any, *, path: PathLike | None = None) -> LabelHierarchy:
    """:func:`read_hierarchy` of parsed JSON (the root node is not a label)."""
    _label(data, "(top)", path)
    names: dict[str, int] = {}
    links: set[tuple[int, int]] = set()
    stack: list[tuple[Any, str, int]] = [(child, f"Subcategory[{i}]", -1)
                                         for i, child in enumerate(data.get("Subcategory", []))]
    while stack:
        node, where, parent = stack.pop()
        name = _label(node, where, path)
        me = names.setdefault(name, len(names))
        if parent >= 0:
            if parent == me:
                raise FormatError(path, where, f"the hierarchy is not a tree: {name!r} is its own parent")
            links.add((me, parent))
        stack.extend((c, f"{where}.Subcategory[{i}]", me) for i, c in enumerate(node.get("Subcategory", [])))
    order = sorted(links)
    try:
        return LabelHierarchy(names=list(names), parents=np.array(order, dtype=np.int64).reshape(-1, 2))
    except ValidationError as exc:
        raise FormatError(path, None, str(exc).removeprefix("LabelHierarchy: ")) from None


def _id_list(value: Any, where: str, path: PathLike | None, known: set[int]) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise FormatError(path, where, "must be a list of category ids")
    bad = [v for v in value if v not in known]
    if bad:
        raise FormatError(path, where, f"unknown category id {bad[0]}")
    return value


def image_labels_from_coco(ds: Dataset, *, path: PathLike | None = None) -> ImageLabels:
    """The verified image-level labels of a COCO-style ground truth (image fields ``pos_category_ids`` and
    ``neg_category_ids``); errors name ``images[i].<field>``."""
    known = {int(i) for i in ds.categories.ids}
    img: list[int] = []
    lab: list[int] = []
    pos: list[bool] = []
    for i, (image_id, extra) in enumerate(zip(ds.images.ids.tolist(), ds.images.extras or [])):
        for key, positive in (("pos_category_ids", True), ("neg_category_ids", False)):
            if key in extra:
                ids = _id_list(extra[key], f"images[{i}].{key}", path, known)
                img += [image_id] * len(ids)
                lab += ids
                pos += [positive] * len(ids)
    return ImageLabels(image_ids=np.array(img, dtype=np.int64), labels=np.array(lab, dtype=np.int64),
                       positive=np.array(pos, dtype=bool))


def group_of_from_coco(ds: Dataset, *, path: PathLike | None = None) -> BoolArray:
    """``(N,)`` group-of flags of the annotations: ``isgroupof`` where any annotation has it (missing = 0), else
    ``iscrowd``."""
    ann = ds.annotations
    extras = ann.extras or []
    if not any("isgroupof" in (e or {}) for e in extras):
        return np.asarray(ann.iscrowd, dtype=bool)
    out = np.zeros(len(ann), dtype=bool)
    for i, e in enumerate(extras):
        v = (e or {}).get("isgroupof", 0)
        if v not in (0, 1) or isinstance(v, float):
            raise FormatError(path, f"annotations[{i}].isgroupof", f"must be 0, 1, true or false, got {v!r}")
        out[i] = bool(v)
    return out
