"""``pycocotools.cocoeval.COCOeval`` on annokit's COCO engine.

``evaluate`` / ``accumulate`` / ``summarize`` give pycocotools' ``eval["precision"]``, ``eval["recall"]``,
``eval["scores"]``, ``stats`` and ``evalImgs`` (equal to 1e-9, in practice bit for bit; tested against pycocotools
on seeded random sets), with pycocotools' printed lines, its parameter handling (``imgIds``, ``catIds``,
``useCats``, ``iouThrs``, ``recThrs``, ``maxDets``, ``areaRng``, ``areaRngLbl``) and its known defects kept (see
:mod:`annokit.metrics.coco`).

``evalImgs`` is built when first read (pycocotools builds it always; most callers never read it). ``accumulate``
works from the engine's match records unless ``evalImgs`` was assigned or the parameters changed since
``evaluate``; then it reads ``evalImgs`` as pycocotools does (the pattern of torchvision's reference evaluator, which
merges ``evalImgs`` across processes). Not provided: ``iouType="keypoints"`` evaluation, ``ious``, ``_gts`` /
``_dts``; a detection whose ``id`` is 0 is treated as any other (pycocotools then lets another detection take its
ground truth).

Examples
--------
>>> import contextlib, io
>>> from annokit.compat.pycocotools import COCO, COCOeval
>>> gt = COCO()
>>> gt.dataset = {"images": [{"id": 1, "height": 100, "width": 100}], "categories": [{"id": 1, "name": "a"}],
...               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40],
...                                "area": 1600, "iscrowd": 0}]}
>>> with contextlib.redirect_stdout(io.StringIO()):
...     gt.createIndex()
...     dt = gt.loadRes([{"image_id": 1, "category_id": 1, "bbox": [12, 10, 40, 40], "score": 0.9}])
...     ev = COCOeval(gt, dt, "bbox"); ev.evaluate(); ev.accumulate(); ev.summarize()
>>> round(float(ev.stats[0]), 3), round(float(ev.stats[1]), 3)
(0.9, 1.0)
"""

from __future__ import annotations

import copy
import datetime
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from annokit._internal.gc import no_gc
from annokit.compat.pycocotools._evalimgs import AccumulateLists, build_eval_imgs, records_from_eval_imgs
from annokit.compat.pycocotools._run import EvalState, run
from annokit.errors import AnnokitError
from annokit.metrics import coco_engine as eng

if TYPE_CHECKING:
    from annokit.compat.pycocotools.coco import COCO

__all__ = ["COCOeval", "Params"]


class Params:
    """pycocotools' evaluation parameters (``iouType`` ``"segm"``, ``"bbox"`` or ``"keypoints"``).

    Examples
    --------
    >>> p = Params("bbox")
    >>> p.maxDets, p.areaRngLbl, len(p.iouThrs), len(p.recThrs)
    ([1, 10, 100], ['all', 'small', 'medium', 'large'], 10, 101)
    """

    def __init__(self, iouType: str = "segm") -> None:
        if iouType in ("segm", "bbox"):
            self.setDetParams()
        elif iouType == "keypoints":
            self.setKpParams()
        else:
            raise AnnokitError(f"iouType {iouType!r} not supported")
        self.iouType = iouType
        self.useSegm: int | None = None

    def _common(self) -> None:
        self.imgIds: list[Any] = []
        self.catIds: list[Any] = []
        self.iouThrs: Any = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs: Any = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.useCats = 1

    def setDetParams(self) -> None:
        """Detection defaults: maxDets 1/10/100, area ranges all/small/medium/large."""
        self._common()
        self.maxDets: list[int] = [1, 10, 100]
        self.areaRng: list[list[float]] = [[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]]
        self.areaRngLbl: list[str] = ["all", "small", "medium", "large"]

    def setKpParams(self) -> None:
        """Keypoint defaults (kept for code that reads them; the drop-in does not evaluate keypoints)."""
        self._common()
        self.maxDets = [20]
        self.areaRng = [[0**2, 1e5**2], [32**2, 96**2], [96**2, 1e5**2]]
        self.areaRngLbl = ["all", "medium", "large"]
        self.kpt_oks_sigmas = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87,
                                        .89, .89]) / 10.0


class COCOeval:
    """Evaluate detections ``cocoDt`` against ``cocoGt`` as pycocotools' ``COCOeval`` does.

    Parameters
    ----------
    cocoGt, cocoDt : COCO
        Ground truth and results (``cocoGt.loadRes(...)``).
    iouType : {"segm", "bbox"}
        pycocotools' default is ``"segm"``.
    """

    def __init__(self, cocoGt: COCO | None = None, cocoDt: COCO | None = None, iouType: str = "segm") -> None:
        if not iouType:
            print("iouType not specified. use default iouType segm")
        self.cocoGt, self.cocoDt = cocoGt, cocoDt
        self.eval: dict[str, Any] = {}
        self.params = Params(iouType=iouType)
        self._paramsEval: Any = {}
        self.stats: Any = []
        self.ious: dict[Any, Any] = {}
        self._state: EvalState | None = None
        self._eval_imgs: list[Any] | None = None
        self._eval_imgs_assigned = False
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    # --------------------------------------------------------------------------------------------- evalImgs
    @property
    def evalImgs(self) -> list[Any]:
        """pycocotools' per (category, area range, image) entries (built on first read)."""
        if self._eval_imgs is None:
            if self._state is None:
                return []
            pe = self._paramsEval
            with no_gc():
                self._eval_imgs = build_eval_imgs(self._state, pe.areaRng, pe.maxDets[-1])
        return self._eval_imgs

    @evalImgs.setter
    def evalImgs(self, value: list[Any]) -> None:
        self._eval_imgs = value
        self._eval_imgs_assigned = True

    # --------------------------------------------------------------------------------------------- evaluate
    def evaluate(self) -> None:
        """Match detections to ground truth per image, category, area range and IoU threshold."""
        tic = time.time()
        print("Running per image evaluation...")
        p = self.params
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
            print(f"useSegm (deprecated) is not None. Running {p.iouType} evaluation")
        print(f"Evaluate annotation type *{p.iouType}*")
        p.imgIds = list(np.unique(p.imgIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        if self.cocoGt is None or self.cocoDt is None:
            raise AnnokitError("COCOeval needs cocoGt and cocoDt to evaluate")
        with no_gc():
            self._state = run(self.cocoGt, self.cocoDt, iou_type=p.iouType, img_keys=p.imgIds, cat_keys=p.catIds,
                              use_cats=bool(p.useCats), iou_thrs=p.iouThrs, rec_thrs=p.recThrs,
                              area_rng=p.areaRng, max_dets=p.maxDets)
        self._eval_imgs, self._eval_imgs_assigned = None, False
        self._paramsEval = copy.deepcopy(self.params)
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    # --------------------------------------------------------------------------------------------- accumulate
    def accumulate(self, p: Params | None = None) -> None:
        """Precision, recall and scores ``(T, R, K, A, M)`` / ``(T, K, A, M)`` into ``eval``."""
        print("Accumulating evaluation results...")
        tic = time.time()
        if self._state is None and not self._eval_imgs:
            print("Please run evaluate() first")
            return
        if p is None:
            p = self.params
        p.catIds = p.catIds if p.useCats == 1 else [-1]
        T, R = len(p.iouThrs), len(p.recThrs)
        K = len(p.catIds) if p.useCats else 1
        A, M = len(p.areaRng), len(p.maxDets)
        if self._fast_path(p):
            assert self._state is not None
            frame = replace(self._state.frame, rec_thrs=np.asarray(p.recThrs, dtype=np.float64))
            precision, recall, scores = eng.accumulate(frame, self._state.records, self._state.gtg.npig)
        else:
            precision, recall, scores = self._accumulate_lists(p, (T, R, K, A, M))
        self.eval = {"params": p, "counts": [T, R, K, A, M],
                     "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                     "precision": precision, "recall": recall, "scores": scores}
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def _fast_path(self, p: Params) -> bool:
        """The engine's records answer: ``evalImgs`` not assigned and the selection as evaluated."""
        if self._state is None or self._eval_imgs_assigned:
            return False
        pe = self._paramsEval
        same_cats = (not p.useCats and not pe.useCats) or (
            p.useCats and pe.useCats and list(p.catIds) == list(pe.catIds))
        return bool(same_cats and list(p.imgIds) == list(pe.imgIds) and list(map(list, p.areaRng)) == list(
            map(list, pe.areaRng)) and list(p.maxDets) == list(pe.maxDets) and len(p.iouThrs) == len(pe.iouThrs))

    def _accumulate_lists(self, p: Params, shape: tuple[int, int, int, int, int]
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """pycocotools' selection over ``evalImgs``: the evaluated entries of the categories, ranges, maxDets and
        images still in ``p``, written at their selection positions."""
        T, R, K, A, M = shape
        pe = self._paramsEval
        set_k = set(pe.catIds if pe.useCats else [-1])
        set_a = {tuple(a) for a in pe.areaRng}
        set_m, set_i = set(pe.maxDets), set(pe.imgIds)
        sel = AccumulateLists(k_list=[n for n, k in enumerate(p.catIds) if k in set_k],
                              a_list=[n for n, a in enumerate(map(tuple, p.areaRng)) if a in set_a],
                              m_list=[m for m in p.maxDets if m in set_m],
                              i_list=[n for n, i in enumerate(p.imgIds) if i in set_i],
                              A0=len(pe.areaRng), I0=len(pe.imgIds))
        precision, recall, scores = -np.ones((T, R, K, A, M)), -np.ones((T, K, A, M)), -np.ones((T, R, K, A, M))
        if not (sel.k_list and sel.a_list and sel.m_list):
            return precision, recall, scores
        base = eng.EvalFrame.build([0], [0], pe.iouThrs, p.recThrs, [(0.0, 1.0)] * len(sel.a_list), sel.m_list)
        frame, records, npig = records_from_eval_imgs(self.evalImgs, sel, base)
        q, rc, s = eng.accumulate(frame, records, npig)
        nk, na, nm = len(sel.k_list), len(sel.a_list), len(sel.m_list)
        precision[:, :, :nk, :na, :nm], scores[:, :, :nk, :na, :nm], recall[:, :nk, :na, :nm] = q, s, rc
        return precision, recall, scores

    # --------------------------------------------------------------------------------------------- summarize
    def summarize(self) -> None:
        """Print the 12 standard lines and set ``stats``."""
        if not self.eval:
            raise AnnokitError("Please run accumulate() first")
        if self.params.iouType == "keypoints":
            raise AnnokitError("the drop-in does not evaluate keypoints")
        self.stats = _summarize_dets(self.params, self.eval)

    def __str__(self) -> str:
        self.summarize()
        return ""


def _summarize_one(p: Params, ev: dict[str, Any], ap: bool, iou_thr: float | None = None, area: str = "all",
                   max_dets: int = 100) -> float:
    """One summary line, printed as pycocotools prints it: the mean of the entries above -1 (-1 when none)."""
    title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
    iou_str = f"{p.iouThrs[0]:0.2f}:{p.iouThrs[-1]:0.2f}" if iou_thr is None else f"{iou_thr:0.2f}"
    aind = [i for i, lbl in enumerate(p.areaRngLbl) if lbl == area]
    mind = [i for i, m in enumerate(p.maxDets) if m == max_dets]
    s = ev["precision"] if ap else ev["recall"]
    if iou_thr is not None:
        s = s[np.where(iou_thr == p.iouThrs)[0]]
    s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
    mean_s = -1.0 if len(s[s > -1]) == 0 else np.mean(s[s > -1])
    print(f" {title:<18} {kind} @[ IoU={iou_str:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] = {mean_s:0.3f}")
    return float(mean_s)


def _summarize_dets(p: Params, ev: dict[str, Any]) -> np.ndarray:
    """pycocotools' 12 detection numbers (its first AP at ``maxDets=100`` whatever the parameters say)."""
    md = p.maxDets
    stats = np.zeros((12,))
    stats[0] = _summarize_one(p, ev, True)
    stats[1] = _summarize_one(p, ev, True, iou_thr=0.5, max_dets=md[2])
    stats[2] = _summarize_one(p, ev, True, iou_thr=0.75, max_dets=md[2])
    for j, area in enumerate(("small", "medium", "large")):
        stats[3 + j] = _summarize_one(p, ev, True, area=area, max_dets=md[2])
    for j in range(3):
        stats[6 + j] = _summarize_one(p, ev, False, max_dets=md[j])
    for j, area in enumerate(("small", "medium", "large")):
        stats[9 + j] = _summarize_one(p, ev, False, area=area, max_dets=md[2])
    return stats
