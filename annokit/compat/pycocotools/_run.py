"""``COCOeval.evaluate`` on annokit's COCO engine (private): the annotation dicts of two COCO objects as columns,
the stages of :mod:`annokit.metrics.coco_engine`, and what ``evaluate`` leaves for ``accumulate`` and ``evalImgs``.

pycocotools' selection and order are kept: ground truth and detections of the evaluated images (and, with
``useCats``, categories) in file order inside each (image, category); with ``useCats=0`` each image is one group whose
rows run category by category in ``params.catIds`` order (that order breaks score ties, as in pycocotools). Images and
categories enter the engine as their positions in ``params.imgIds`` / ``params.catIds``, so ids of any hashable type
work as they do in pycocotools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit.errors import AnnokitError, FormatError
from annokit.metrics import coco_engine as eng

if TYPE_CHECKING:
    from annokit.compat.pycocotools.coco import COCO

__all__ = ["Columns", "EvalState", "run"]


@dataclass(frozen=True)
class Columns:
    """The annotations of one side as columns; ``img`` / ``cat`` are positions in the evaluated id lists."""

    anns: list[dict[str, Any]]
    img: np.ndarray
    cat: np.ndarray
    ids: np.ndarray
    area: np.ndarray
    score: np.ndarray
    crowd: np.ndarray
    ignore: np.ndarray

    def __len__(self) -> int:
        return len(self.anns)


@dataclass(frozen=True)
class EvalState:
    """What ``evaluate`` leaves: the frame, both sides' columns and the engine's groups, ranks, matches, records."""

    frame: eng.EvalFrame
    img_keys: list[Any]
    cat_keys: list[Any]
    gt: Columns
    dt: Columns
    gtg: eng.GTGroups
    dets: eng.RankedDets
    matches: eng.Matches
    records: eng.MatchRecords
    rles: dict[int, Any] = field(default_factory=dict, compare=False)


def _columns(coco: COCO, img_keys: list[Any], cat_pos: dict[Any, int], use_cats: bool, *, is_dt: bool,
             where: str) -> Columns:
    """The annotations of ``coco`` on ``img_keys`` whose category is evaluated, as columns (pycocotools' order)."""
    anns: list[dict[str, Any]] = []
    img: list[int] = []
    for i, key in enumerate(img_keys):
        on = coco.imgToAnns.get(key, ())
        anns.extend(on)
        img.extend([i] * len(on))
    try:
        cp = np.array([cat_pos.get(c, -1) for c in map(itemgetter("category_id"), anns)], dtype=np.int64)
    except KeyError as e:
        raise FormatError(where, "annotations", f"an annotation has no {e}") from None
    keep = np.flatnonzero(cp >= 0)
    img_a = np.asarray(img, dtype=np.int64)[keep]
    cp = cp[keep]
    order = np.lexsort((cp, img_a)) if not use_cats else np.arange(len(keep))  # by image, then category
    rows = keep[order]
    kept = anns if len(rows) == len(anns) and use_cats else [anns[j] for j in rows.tolist()]
    # pycocotools: ignore = iscrowd (an 'ignore' flag of the file is overwritten); detections are never crowd
    crowd = np.zeros(len(kept), bool) if is_dt else np.array([bool(a.get("iscrowd", 0)) for a in kept], dtype=bool)
    return Columns(anns=kept, img=img_a[order], cat=cp[order] if use_cats else np.zeros(len(kept), np.int64),
                   ids=_values(kept, "id", where, None), area=_values(kept, "area", where, np.float64),
                   score=_values(kept, "score", where, np.float64) if is_dt else np.zeros(len(kept)),
                   crowd=crowd, ignore=crowd)


def _values(anns: list[dict[str, Any]], key: str, where: str, dtype: Any) -> np.ndarray:
    """``anns[i][key]`` as an array; a missing key raises a :class:`~annokit.errors.FormatError` naming the row."""
    try:
        vals = list(map(itemgetter(key), anns))
    except KeyError:
        i = next(i for i, a in enumerate(anns) if key not in a)
        raise FormatError(where, f"annotations[{i}] (id {anns[i].get('id')!r})", f"missing key {key!r}") from None
    if dtype is None:
        out = np.array(vals)
        return out if out.dtype.kind in "iuf" or len(vals) == 0 else np.array(vals, dtype=object)
    try:
        return np.array(vals, dtype=dtype)
    except (TypeError, ValueError):
        raise FormatError(where, "annotations", f"{key!r} must be a number in every annotation") from None


def _boxes(cols: Columns, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` ltrb edges (``x + w`` as pycocotools adds) and the ``(N, 2)`` widths and heights."""
    try:
        xywh = np.array([a["bbox"] for a in cols.anns], dtype=np.float64).reshape(len(cols), 4)
    except (KeyError, TypeError, ValueError):
        raise FormatError(where, "annotations", "every annotation needs a 'bbox' [x, y, w, h]") from None
    ltrb = xywh.copy()
    ltrb[:, 2:] += xywh[:, :2]
    return ltrb, np.ascontiguousarray(xywh[:, 2:])


def _mask_iou(gt_coco: COCO, dt_coco: COCO, gt: Columns, dt: Columns, rles: dict[int, Any]) -> eng.PairIoU:
    """Mask IoU of pairs (one pycocotools ``iou`` call per image); RLEs made once by ``annToRLE`` and cached."""
    from annokit.compat.pycocotools import mask as mask_utils

    def rle(coco: COCO, cols: Columns, row: int, side: int) -> Any:
        key = row * 2 + side
        if key not in rles:
            rles[key] = coco.annToRLE(cols.anns[row])
        return rles[key]

    def iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        out = np.zeros(len(d))
        img = dt.img[d]
        cuts = np.flatnonzero(np.r_[True, img[1:] != img[:-1], True]) if len(d) else np.zeros(1, np.int64)
        for c in range(len(cuts) - 1):
            s, e = int(cuts[c]), int(cuts[c + 1])
            ud, d_loc = np.unique(d[s:e], return_inverse=True)
            ug, g_loc = np.unique(g[s:e], return_inverse=True)
            d_rles = [rle(dt_coco, dt, j, 1) for j in ud.tolist()]
            g_rles = [rle(gt_coco, gt, j, 0) for j in ug.tolist()]
            m = np.asarray(mask_utils.iou(d_rles, g_rles, gt.crowd[ug].astype(np.uint8).tolist()), dtype=np.float64)
            out[s:e] = m.reshape(len(ud), len(ug))[d_loc.ravel(), g_loc.ravel()]
        return out

    return iou


def run(gt_coco: COCO, dt_coco: COCO, *, iou_type: str, img_keys: list[Any], cat_keys: list[Any], use_cats: bool,
        iou_thrs: Any, rec_thrs: Any, area_rng: Any, max_dets: list[int]) -> EvalState:
    """pycocotools' ``evaluate`` through the engine's stages: group, rank, pair, match, records."""
    if iou_type not in ("bbox", "segm"):
        raise AnnokitError(f"iouType {iou_type!r}: the drop-in evaluates 'bbox' and 'segm'")
    cat_pos = {c: k for k, c in reversed(list(enumerate(cat_keys)))}
    gt = _columns(gt_coco, img_keys, cat_pos, use_cats, is_dt=False, where="<cocoGt>")
    dt = _columns(dt_coco, img_keys, cat_pos, use_cats, is_dt=True, where="<cocoDt>")
    K = len(cat_keys) if use_cats else 1
    frame = eng.EvalFrame.build(np.arange(len(img_keys)), np.arange(K), iou_thrs, rec_thrs,
                                [(float(r[0]), float(r[1])) for r in area_rng], max_dets)
    uncounted = np.array([i == 0 for i in gt.ids.tolist()], dtype=bool)  # pycocotools: a match with id 0 is none
    gtg = eng.group_gt(frame, gt.img, gt.cat, gt.area, gt.crowd, gt.ignore, uncounted)
    dets = eng.rank_dets(frame, dt.img, dt.cat, dt.score)
    rles: dict[int, Any] = {}
    if iou_type == "bbox":
        d_ltrb, d_wh = _boxes(dt, "<cocoDt>")
        g_ltrb, g_wh = _boxes(gt, "<cocoGt>")
        iou = eng.box_pair_iou(d_ltrb, d_wh, g_ltrb, g_wh, gt.crowd)
    else:
        iou = _mask_iou(gt_coco, dt_coco, gt, dt, rles)
    pairs = eng.candidate_pairs(gtg, dets, iou, float(frame.thr.min()))
    matches = eng.match(frame, gtg, dets, pairs)
    records = eng.match_records(frame, gtg, dets, matches, dt.score, dt.area)
    return EvalState(frame=frame, img_keys=list(img_keys), cat_keys=list(cat_keys) if use_cats else [-1], gt=gt,
                     dt=dt, gtg=gtg, dets=dets, matches=matches, records=records, rles=rles)
