"""The annotations of COCO API objects as columns, as pycocotools' evaluation reads them (private).

Ground truth comes through :func:`annokit.io.coco.dataset_from_coco_dict` (its checks name the file and the place
of a problem). Detections come from ``loadRes`` (:mod:`annokit.compat._results`) or, for a COCO object filled some
other way (or pycocotools' own), from its annotation dicts. Image ids stay as the user has them (integers, or
strings as pycocotools also accepts): :func:`positions` finds them in the evaluated id list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.arrays import index_of
from annokit.errors import FormatError

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset

__all__ = ["DetColumns", "GtColumns", "det_columns_from_dicts", "gt_columns_of", "positions"]

_WHERE = "<cocoDt>"


@dataclass(frozen=True)
class DetColumns:
    """Detections as columns: ``img`` the image ids as given, ``xywh`` None where the detections have no boxes,
    ``segs`` / ``kps`` None where they have no masks / keypoints. ``from_load_res``: ids are 1..N (``loadRes``)."""

    img: np.ndarray
    cat: np.ndarray
    score: np.ndarray
    area: np.ndarray
    ids: np.ndarray
    xywh: np.ndarray | None
    segs: list[Any] | None
    kps: np.ndarray | None
    from_load_res: bool = False

    def __len__(self) -> int:
        return len(self.score)

    def ltrb(self) -> tuple[np.ndarray, np.ndarray]:
        """``(N, 4)`` ltrb boxes (``x + w`` as pycocotools adds) and the ``(N, 2)`` widths and heights."""
        if self.xywh is None:
            raise FormatError(_WHERE, None, "the detections have no 'bbox' (needed for iouType 'bbox')")
        b = self.xywh.copy()
        b[:, 2] += b[:, 0]
        b[:, 3] += b[:, 1]
        return b, np.ascontiguousarray(self.xywh[:, 2:])


@dataclass(frozen=True)
class GtColumns:
    """Ground truth as columns (a :class:`~annokit.core.dataset.Dataset` and the image ids as the user has them).

    ``rles`` caches the RLE of each annotation row for mask evaluation (pycocotools converts once, in place);
    ``kp`` caches the keypoint columns.
    """

    ds: Dataset
    anns: list[dict[str, Any]]
    img: np.ndarray
    image_keys: np.ndarray
    rles: dict[int, Any] = field(default_factory=dict, compare=False)
    kp: dict[str, np.ndarray] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.ds.annotations)

    def keypoints(self) -> tuple[np.ndarray, np.ndarray]:
        """``(N, 3k)`` keypoints and ``(N,)`` ``num_keypoints`` of every annotation (read once)."""
        if not self.kp:
            kps, num = _keypoint_columns(self.anns, "annotations", need_num=True)
            self.kp["kps"], self.kp["num"] = kps, num
        return self.kp["kps"], self.kp["num"]

    def image_hw(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heights and widths of the images ``keys`` (which must be ground-truth images)."""
        pos = positions(keys, self.image_keys)
        return self.ds.images.heights[pos], self.ds.images.widths[pos]


def gt_columns_of(dataset: dict[str, Any]) -> GtColumns:
    """The ground truth of a COCO ``dataset`` dict (checked: a problem raises :class:`~annokit.errors.FormatError`)."""
    from annokit.io.coco import dataset_from_coco_dict

    ds = dataset_from_coco_dict(dataset, path="<cocoGt>")
    im = ds.images
    if im.extras is not None and any("id" in e for e in im.extras):  # string image ids: the strings themselves
        keys = np.array([e.get("id") for e in im.extras])
    else:
        keys = np.asarray(im.ids)
    rows = im.index_of(ds.annotations.image_ids)
    anns = dataset.get("annotations", [])
    return GtColumns(ds=ds, anns=anns, img=keys[rows] if len(rows) else keys[:0], image_keys=keys)


def positions(keys: np.ndarray | Sequence[Any], wanted: np.ndarray | Sequence[Any]) -> np.ndarray:
    """Position of each of ``keys`` in ``wanted`` (unique values), -1 where absent; values compare as Python does
    (``1 == 1.0``), as pycocotools' dict lookups do."""
    k, w = np.asarray(keys), np.asarray(wanted)
    if k.dtype.kind in "iu" and (w.dtype.kind in "iu" or w.size == 0):
        return index_of(w.astype(np.int64), k.astype(np.int64))
    at = {v: i for i, v in enumerate(w.tolist())}
    return np.array([at.get(v, -1) for v in k.tolist()], dtype=np.int64).reshape(k.shape)


# ------------------------------------------------------------------------------------------------ dicts -> columns
def det_columns_from_dicts(anns: list[Any], where: str = _WHERE) -> DetColumns:
    """The detections of a COCO object filled by hand (or pycocotools' own): each dict's ``image_id``,
    ``category_id``, ``score``, ``area``, ``id`` and, where present, ``bbox`` / ``segmentation`` / ``keypoints``."""
    for i, d in enumerate(anns):
        if not isinstance(d, dict):
            raise FormatError(where, f"annotations[{i}]", f"expected an object, got {type(d).__name__}")
    img = _column(anns, "image_id", where, None)
    if img.dtype.kind not in "iuU":
        img = np.array([d["image_id"] for d in anns], dtype=object)
    xywh = None
    if anns and all("bbox" in d for d in anns):
        xywh = _column(anns, "bbox", where, np.float64)
        if xywh.shape != (len(anns), 4):
            raise FormatError(where, "annotations", "every 'bbox' must be 4 numbers [x, y, w, h]")
    segs = [d.get("segmentation") for d in anns]
    kps = None
    if anns and all("keypoints" in d for d in anns):
        kps = _keypoint_columns(anns, "annotations", need_num=False)[0]
    return DetColumns(img=img, cat=_column(anns, "category_id", where, np.int64),
                      score=_column(anns, "score", where, np.float64), area=_column(anns, "area", where, np.float64),
                      ids=_column(anns, "id", where, np.int64), xywh=xywh,
                      segs=segs if any(s is not None for s in segs) else None, kps=kps)


def _column(items: list[dict[str, Any]], key: str, where: str, dtype: Any) -> np.ndarray:
    """``items[i][key]`` as an array (``dtype`` None: numpy's choice); a missing key or a bad value raises a
    :class:`~annokit.errors.FormatError` naming the first culprit."""
    try:
        out = np.array([d[key] for d in items], dtype=dtype)
        if dtype is not None and out.dtype.kind == "f" and not np.isfinite(out).all():
            raise ValueError
        if dtype is np.int64 and not all(isinstance(d[key], (int, np.integer)) for d in items):
            raise ValueError
        return out
    except (KeyError, TypeError, ValueError, OverflowError):
        for i, d in enumerate(items):
            if key not in d:
                raise FormatError(where, f"annotations[{i}]", f"missing key {key!r}") from None
            try:
                v = np.array(d[key], dtype=dtype)
                bad = v.dtype.kind == "f" and not np.isfinite(v).all()
            except (TypeError, ValueError, OverflowError):
                bad = True
            if bad or (dtype is np.int64 and not isinstance(d[key], (int, np.integer))):
                raise FormatError(where, f"annotations[{i}].{key}", f"unexpected value {d[key]!r}") from None
        raise FormatError(where, "annotations", f"cannot read {key!r}") from None


def _keypoint_columns(items: list[dict[str, Any]], label: str, *, need_num: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3k)`` float keypoints and (``need_num``) the ``num_keypoints`` of each item."""
    kps = [d.get("keypoints") for d in items]
    lengths = {len(k) if isinstance(k, list) else -1 for k in kps}
    if len(lengths) > 1 or -1 in lengths or any(n % 3 for n in lengths):
        i = next(i for i, k in enumerate(kps) if not isinstance(k, list) or len(k) != len(kps[0] or []) or len(k) % 3)
        raise FormatError("<keypoints>", f"{label}[{i}].keypoints", "expected a list of 3k numbers, the same k for "
                          "every annotation")
    arr = np.array(kps, dtype=np.float64).reshape(len(items), -1)
    num = np.zeros(len(items), np.int64)
    if need_num:
        for i, d in enumerate(items):
            if "num_keypoints" not in d:
                raise FormatError("<keypoints>", f"{label}[{i}]", "missing key 'num_keypoints'")
        num = np.array([d["num_keypoints"] for d in items], dtype=np.int64)
    return arr, num
