"""``pycocotools.coco.COCO``: a COCO annotation file, indexed, with pycocotools' look-up methods and ``loadRes``.

The object keeps pycocotools' public state (``dataset``, ``anns``, ``imgs``, ``cats``, ``imgToAnns``,
``catToImgs``) and its printed progress lines, so code written for pycocotools runs unchanged. Differences, all
on input pycocotools rejects or mishandles:

* problems pycocotools stops on with a bare ``AssertionError`` raise
  :class:`~annokit.compat.errors.PycocotoolsAssertionError` (an ``AssertionError`` and an annokit
  :class:`~annokit.errors.FormatError`: one line naming the file and the place);
* ``loadRes([])`` (no detections) gives an empty result set with a
  :class:`~annokit.errors.PycocotoolsQuirkWarning` instead of pycocotools' ``IndexError``;
* ``loadRes`` does not change the dicts it is given (pycocotools adds ``id``, ``area``, ``iscrowd`` and a box
  polygon to them in place): it annotates shallow copies;
* ``showAnns`` and ``download`` are not provided.

Examples
--------
>>> from annokit.compat.pycocotools import COCO
>>> gt = COCO()
>>> gt.dataset = {"images": [{"id": 1, "height": 10, "width": 10}], "categories": [{"id": 3, "name": "cat"}],
...               "annotations": [{"id": 7, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4], "area": 16,
...                                "iscrowd": 0}]}
>>> gt.createIndex()  # doctest: +ELLIPSIS
creating index...
index created!
>>> gt.getAnnIds(imgIds=[1]), gt.getCatIds(catNms=["cat"]), gt.loadAnns(7)[0]["area"]
([7], [3], 16)
"""

from __future__ import annotations

import copy
import time
import warnings
from collections import defaultdict
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from annokit._internal.gc import no_gc
from annokit.compat.errors import PycocotoolsAssertionError
from annokit.compat.pycocotools import mask as mask_utils
from annokit.errors import FormatError, PycocotoolsQuirkWarning

__all__ = ["COCO"]


def _as_list(ids: Any) -> list[Any]:
    """pycocotools' reading of an id argument: anything with a length that iterates (a list, tuple, array -- and,
    as in pycocotools, a string) as its items, anything else as one id."""
    if hasattr(ids, "__iter__") and hasattr(ids, "__len__"):
        return list(ids)
    return [ids]


def _read_json(path: str | Path) -> Any:
    """The JSON document at ``path`` (orjson; the standard library where orjson refuses, e.g. huge integers)."""
    import json

    import orjson

    raw = Path(path).read_bytes()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return json.loads(raw)
        except ValueError as e:
            raise FormatError(path, None, f"not valid JSON: {e}") from None


class COCO:
    """A COCO annotation set: ``COCO(annotation_file)`` reads and indexes it (``COCO()`` starts empty).

    Parameters
    ----------
    annotation_file : str or path, optional
        A COCO instances JSON file (an object with ``images``, ``annotations``, ``categories``).

    Examples
    --------
    >>> COCO().getImgIds()
    []
    """

    def __init__(self, annotation_file: str | Path | None = None) -> None:
        self.dataset: dict[str, Any] = {}
        self.anns: dict[Any, dict[str, Any]] = {}
        self.cats: dict[Any, dict[str, Any]] = {}
        self.imgs: dict[Any, dict[str, Any]] = {}
        self.imgToAnns: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.catToImgs: defaultdict[Any, list[Any]] = defaultdict(list)
        if annotation_file is not None:
            print("loading annotations into memory...")
            tic = time.time()
            with no_gc():
                dataset = _read_json(annotation_file)
            if not isinstance(dataset, dict):
                raise PycocotoolsAssertionError(annotation_file, None,
                                                f"annotation file format {type(dataset)} not supported")
            print(f"Done (t={time.time() - tic:0.2f}s)")
            self.dataset = dataset
            self.createIndex()

    def createIndex(self) -> None:
        """Build ``anns``, ``imgs``, ``cats``, ``imgToAnns`` and ``catToImgs`` from ``dataset``."""
        with no_gc():
            self._create_index()

    def _create_index(self) -> None:
        print("creating index...")
        anns: dict[Any, dict[str, Any]] = {}
        cats: dict[Any, dict[str, Any]] = {}
        imgs: dict[Any, dict[str, Any]] = {}
        img_to_anns: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
        cat_to_imgs: defaultdict[Any, list[Any]] = defaultdict(list)
        with_cats = "categories" in self.dataset
        for ann in self.dataset.get("annotations", []):
            image_id = ann["image_id"]
            img_to_anns[image_id].append(ann)
            anns[ann["id"]] = ann
            if with_cats:
                cat_to_imgs[ann["category_id"]].append(image_id)
        for img in self.dataset.get("images", []):
            imgs[img["id"]] = img
        for cat in self.dataset.get("categories", []):
            cats[cat["id"]] = cat
        print("index created!")
        self.anns, self.imgs, self.cats = anns, imgs, cats
        self.imgToAnns, self.catToImgs = img_to_anns, cat_to_imgs

    def info(self) -> None:
        """Print the ``info`` section, one ``key: value`` a line."""
        for key, value in self.dataset["info"].items():
            print(f"{key}: {value}")

    # --------------------------------------------------------------------------------------------- look-ups
    def getAnnIds(self, imgIds: Any = (), catIds: Any = (), areaRng: Any = (), iscrowd: bool | None = None
                  ) -> list[Any]:
        """Ids of the annotations on ``imgIds`` (all images when empty), of ``catIds``, with ``area`` inside
        ``areaRng`` (``[lo, hi]``, open ends) and, when ``iscrowd`` is not None, that crowd flag."""
        img_ids, cat_ids, rng = _as_list(imgIds), _as_list(catIds), list(areaRng)
        if img_ids:
            anns = [a for i in img_ids if i in self.imgToAnns for a in self.imgToAnns[i]]
        else:
            anns = self.dataset.get("annotations", [])
        if cat_ids:
            wanted = set(cat_ids)
            anns = [a for a in anns if a["category_id"] in wanted]
        if rng:
            anns = [a for a in anns if rng[0] < a["area"] < rng[1]]
        if iscrowd is None:
            return [a["id"] for a in anns]
        return [a["id"] for a in anns if a["iscrowd"] == iscrowd]

    def getCatIds(self, catNms: Any = (), supNms: Any = (), catIds: Any = ()) -> list[Any]:
        """Ids of the categories named ``catNms``, of supercategory ``supNms`` and among ``catIds`` (each filter
        applies when not empty)."""
        names, sups, ids = _as_list(catNms), _as_list(supNms), _as_list(catIds)
        cats = self.dataset.get("categories", [])
        if names:
            cats = [c for c in cats if c["name"] in names]
        if sups:
            cats = [c for c in cats if c["supercategory"] in sups]
        if ids:
            cats = [c for c in cats if c["id"] in ids]
        return [c["id"] for c in cats]

    def getImgIds(self, imgIds: Any = (), catIds: Any = ()) -> list[Any]:
        """Ids of the images among ``imgIds`` (all when empty) that hold every category of ``catIds``."""
        img_ids, cat_ids = _as_list(imgIds), _as_list(catIds)
        if not img_ids and not cat_ids:
            return list(self.imgs.keys())
        ids = set(img_ids)
        for i, cat in enumerate(cat_ids):
            on = set(self.catToImgs[cat])
            ids = on if i == 0 and not ids else ids & on
        return list(ids)

    def loadAnns(self, ids: Any = ()) -> list[dict[str, Any]]:
        """The annotation dicts of ``ids`` (one id or a list)."""
        return [self.anns[i] for i in _as_list(ids)]

    def loadCats(self, ids: Any = ()) -> list[dict[str, Any]]:
        """The category dicts of ``ids``."""
        return [self.cats[i] for i in _as_list(ids)]

    def loadImgs(self, ids: Any = ()) -> list[dict[str, Any]]:
        """The image dicts of ``ids``."""
        return [self.imgs[i] for i in _as_list(ids)]

    # --------------------------------------------------------------------------------------------- results
    def loadRes(self, resFile: Any) -> COCO:
        """A result set on this set's images: ``resFile`` a results JSON path, a list of result dicts or an
        ``(N, 7)`` array ``[image_id, x, y, w, h, score, category_id]``.

        Each result gets ``id`` (1..N in order), ``iscrowd`` 0 and ``area`` (``w * h`` for boxes, the mask area for
        masks), as in pycocotools; box results also a box polygon, mask results a ``bbox``.

        Parameters
        ----------
        resFile : str, path, list of dict or ndarray

        Returns
        -------
        COCO
        """
        with no_gc():
            return self._load_res(resFile)

    def _load_res(self, resFile: Any) -> COCO:
        res = COCO()
        res.dataset["info"] = copy.deepcopy(self.dataset.get("info", {}))
        res.dataset["images"] = list(self.dataset.get("images", []))
        print("Loading and preparing results...")
        tic = time.time()
        where: str | Path = "<results>"
        owned = True  # dicts made here may be completed in place; the caller's are copied first
        if isinstance(resFile, (str, Path)):
            where, anns = resFile, _read_json(resFile)
        elif isinstance(resFile, np.ndarray):
            anns = self.loadNumpyAnnotations(resFile)
        else:
            anns, owned = resFile, False
        if not isinstance(anns, list):
            raise PycocotoolsAssertionError(where, None, "results in not an array of objects")
        anns = _check_results(anns, set(self.getImgIds()), where)
        if anns:
            anns = self._complete_results(res, anns if owned else [dict(a) for a in anns], where)
        else:
            warnings.warn("no results: pycocotools fails on an empty results list (IndexError); the drop-in "
                          "evaluates no detections", PycocotoolsQuirkWarning, stacklevel=2)
            res.dataset["categories"] = copy.deepcopy(self.dataset.get("categories", []))
        print(f"DONE (t={time.time() - tic:0.2f}s)")
        res.dataset["annotations"] = anns
        res.createIndex()
        return res

    def _complete_results(self, res: COCO, out: list[dict[str, Any]], where: str | Path) -> list[dict[str, Any]]:
        """The results (dicts of our own: read from a file, or copies of the caller's) with ``id``, ``area``,
        ``iscrowd`` (and box polygons / mask boxes) set, the kind read from the first result as pycocotools does."""
        first = out[0]
        if "caption" in first:
            keep = {img["id"] for img in res.dataset["images"]} & {a["image_id"] for a in out}
            res.dataset["images"] = [img for img in res.dataset["images"] if img["id"] in keep]
            for i, a in enumerate(out):
                a["id"] = i + 1
            return out
        res.dataset["categories"] = copy.deepcopy(self.dataset.get("categories", []))
        if "bbox" in first and first["bbox"] != []:
            _complete_boxes(out, where)
        elif "segmentation" in first:
            _complete_masks(out)
        elif "keypoints" in first:
            _complete_keypoints(out)
        else:
            raise PycocotoolsAssertionError(where, "[0]", "a result needs 'bbox', 'segmentation', 'keypoints' or "
                                            "'caption'")
        return out

    def loadNumpyAnnotations(self, data: np.ndarray) -> list[dict[str, Any]]:
        """Result dicts from an ``(N, 7)`` array of ``[image_id, x, y, w, h, score, category_id]`` rows."""
        print("Converting ndarray to lists...")
        if data.ndim != 2 or data.shape[1] != 7:
            raise PycocotoolsAssertionError("<ndarray>", None, f"expected an (N, 7) array, got shape {data.shape}")
        n = data.shape[0]
        out = []
        for i in range(n):
            if i % 1000000 == 0:
                print(f"{i}/{n}")
            row = data[i]
            out.append({"image_id": int(row[0]), "bbox": [row[1], row[2], row[3], row[4]], "score": row[5],
                        "category_id": int(row[6])})
        return out

    # --------------------------------------------------------------------------------------------- masks
    def annToRLE(self, ann: dict[str, Any]) -> Any:
        """The compressed RLE of an annotation's ``segmentation`` (polygons merged, uncompressed RLE compressed) on
        its image's size."""
        img = self.imgs[ann["image_id"]]
        h, w = img["height"], img["width"]
        seg = ann["segmentation"]
        if isinstance(seg, list):
            return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        if isinstance(seg["counts"], list):
            return mask_utils.frPyObjects(seg, h, w)
        return seg

    def annToMask(self, ann: dict[str, Any]) -> np.ndarray:
        """The ``(height, width)`` uint8 mask of an annotation."""
        return mask_utils.decode(self.annToRLE(ann))


def _check_results(anns: list[Any], img_ids: set[Any], where: str | Path) -> list[dict[str, Any]]:
    """Every result a dict whose ``image_id`` is an image of the set (pycocotools: an ``AssertionError``)."""
    try:
        if set(map(itemgetter("image_id"), anns)) <= img_ids:
            return anns
    except (KeyError, TypeError):
        pass
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            raise PycocotoolsAssertionError(where, f"[{i}]", f"expected an object, got {type(a).__name__}")
        if "image_id" not in a:
            raise PycocotoolsAssertionError(where, f"[{i}]", "missing key 'image_id'")
        if a["image_id"] not in img_ids:
            raise PycocotoolsAssertionError(where, f"[{i}].image_id",
                                            f"Results do not correspond to current coco set: image {a['image_id']!r}"
                                            " is not in the ground truth")
    raise PycocotoolsAssertionError(where, None, "an image id that cannot be looked up")


def _complete_boxes(anns: list[dict[str, Any]], where: str | Path) -> None:
    """Box results: a box polygon where no segmentation, ``area = w * h``, ``id``, ``iscrowd`` 0."""
    try:
        for i, a in enumerate(anns, 1):
            x1, y1, w, h = a["bbox"]
            x2, y2 = x1 + w, y1 + h
            if "segmentation" not in a:
                a["segmentation"] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
            a["area"] = w * h
            a["id"] = i
            a["iscrowd"] = 0
    except (KeyError, TypeError, ValueError):
        bad = anns[i - 1].get("bbox")
        raise FormatError(where, f"[{i - 1}].bbox", f"expected [x, y, w, h], got {bad!r}") from None


def _complete_masks(anns: list[dict[str, Any]]) -> None:
    """Mask results (compressed RLE): ``area`` and, where absent, ``bbox`` of the mask; ``id``, ``iscrowd`` 0.

    Areas and boxes come from one call for all masks (pycocotools asks mask by mask; the values and their types,
    ``numpy.uint32`` and a ``(4,)`` float64 array, are the same)."""
    segs = [a["segmentation"] for a in anns]
    areas = mask_utils.area(segs)
    boxes = mask_utils.toBbox(segs)
    for i, a in enumerate(anns):
        a["area"] = areas[i]
        if "bbox" not in a:
            a["bbox"] = boxes[i]
        a["id"] = i + 1
        a["iscrowd"] = 0


def _complete_keypoints(anns: list[dict[str, Any]]) -> None:
    """Keypoint results: the box and area of the keypoints' extent; ``id``, ``iscrowd`` 0."""
    for i, a in enumerate(anns):
        s = a["keypoints"]
        x, y = s[0::3], s[1::3]
        x0, x1, y0, y1 = np.min(x), np.max(x), np.min(y), np.max(y)
        a["area"] = (x1 - x0) * (y1 - y0)
        a["id"] = i + 1
        a["bbox"] = [x0, y0, x1 - x0, y1 - y0]
