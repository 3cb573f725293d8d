"""Pascal VOC average precision, as the VOC devkit defines it (VOC2007 11-point and VOC2010+ all-point).

Per class, detections are taken in decreasing confidence (ties: by image id, then in the order given for that
image). Each one is compared with every ground-truth object of its image and class (matched or not) and takes the
one of highest overlap (the first on ties). If that overlap is ``>= iou_threshold``: a *difficult* object makes the
detection neither true nor false positive; an object not yet detected makes it a true positive (and the object
detected); otherwise it is a false positive (duplicate). Below the threshold it is a false positive. Recall is over
non-difficult objects.

Overlap, and the two conventions of a box. The devkit's boxes are 1-based inclusive pixel indices and its overlap
counts both end pixels (``width = xmax - xmin + 1``). annokit's boxes are continuous pixel edges -- every reader
converts to them, :mod:`annokit.io.voc` as ``l = xmin - 1, r = xmax`` -- and on edges the devkit's overlap *is* the
plain continuous one (``width = r - l``). Hence:

* ``iou_mode="continuous"`` (default): for annokit boxes (``read_voc``, COCO files, any reader). With
  :func:`annokit.io.voc.read_voc` and :func:`annokit.io.voc_results.read_voc_detections` it gives the devkit's AP
  on the devkit's own files.
* ``iou_mode="devkit"``: adds the devkit's ``+ 1`` to widths and heights, for boxes that still hold the devkit's
  inclusive numbers (``[xmin, ymin, xmax, ymax]`` as written in the XML, e.g. built by hand or from a COCO file
  whose ``[x, y, w, h]`` were made as ``[xmin, ymin, xmax - xmin, ymax - ymin]``, as in Padilla's published worked
  example). Used on edges it counts the pixel twice.

* ``method="allpoint"`` (VOC2010 and later): area under the precision envelope at every recall change.
* ``method="11point"`` (VOC2007): mean of the envelope's maximum precision at recall >= 0, 0.1, ..., 1.

:class:`VOCAccumulator` takes the detections in any number of updates (the detections of one image in one) and
merges across processes; :func:`evaluate_voc` is one update of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from annokit.errors import ValidationError

if TYPE_CHECKING:
    from annokit.core.instances import Instances

__all__ = ["voc_ap", "evaluate_voc", "VOCAccumulator", "VOCResult", "VOCClassResult"]

FP, TP, DIFFICULT = np.int8(0), np.int8(1), np.int8(-1)


def voc_ap(recall: np.ndarray, precision: np.ndarray, *, method: Literal["allpoint", "11point"] = "allpoint") -> float:
    """AP from a PR curve (``recall`` non-decreasing), as the devkit computes it.

    >>> voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5]))
    0.75
    """
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.asarray(precision, dtype=np.float64)
    if method == "11point":
        ap = 0.0
        # thresholds as the devkit ports compute them (np.arange: 0.30000000000000004, 0.6000000000000001, ...);
        # the published VOC examples depend on it
        for t in np.arange(0.0, 1.1, 0.1):
            sel = prec[rec >= t]
            ap += (sel.max() if sel.size else 0.0) / 11.0
        return float(ap)
    if method != "allpoint":
        raise ValidationError(f"method must be 'allpoint' or '11point', got {method!r}")
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


@dataclass(frozen=True)
class VOCClassResult:
    """One class: ``ap``; ``precision`` / ``recall`` per detection in confidence order (difficult hits removed);
    ``tp`` / ``fp`` flags; ``n_gt`` non-difficult objects. ``ap`` is NaN when the class has no such object."""

    category_id: int
    ap: float
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_gt: int


@dataclass(frozen=True)
class VOCResult:
    per_class: dict[int, VOCClassResult]
    iou_threshold: float
    method: str
    iou_mode: str

    @property
    def mAP(self) -> float:
        """Mean AP over classes with at least one non-difficult object (NaN if none)."""
        aps = [r.ap for r in self.per_class.values() if r.n_gt > 0]
        return float(np.mean(aps)) if aps else float("nan")


def evaluate_voc(
    gt: Instances,
    dt: Instances,
    *,
    iou_threshold: float = 0.5,
    method: Literal["allpoint", "11point"] = "allpoint",
    iou_mode: Literal["devkit", "continuous"] = "continuous",
    difficult: np.ndarray | None = None,
) -> VOCResult:
    """VOC AP per class of detections ``dt`` (with scores) against ``gt``: one :meth:`VOCAccumulator.update`.

    ``difficult``: ``(G,)`` bool; default: the ``difficult`` field of ``gt.extras`` where present, else none.
    ``iou_mode``: ``"continuous"`` for annokit's pixel-edge boxes, ``"devkit"`` for boxes in the devkit's inclusive
    numbers (see the module's text).

    >>> from annokit.core.instances import Instances
    >>> gt = Instances(image_ids=[1], boxes=[[0, 0, 9, 9]], labels=[1])
    >>> dt = Instances(image_ids=[1, 1], boxes=[[0, 0, 9, 9], [50, 50, 60, 60]], labels=[1, 1], scores=[.9, .8])
    >>> evaluate_voc(gt, dt).per_class[1].ap
    1.0
    """
    acc = VOCAccumulator(gt, iou_threshold=iou_threshold, method=method, iou_mode=iou_mode, difficult=difficult)
    return acc.update(dt).compute()


@dataclass(frozen=True)
class _Records:
    """Matched detections: ``score``, category ``cat``, ``img``, ``order`` inside their image's update, ``status``
    (:data:`TP`, :data:`FP` or :data:`DIFFICULT`: neither)."""

    score: np.ndarray
    cat: np.ndarray
    img: np.ndarray
    order: np.ndarray
    status: np.ndarray

    @classmethod
    def concat(cls, parts: list[_Records]) -> _Records:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("score", "cat", "img", "order",
                                                                                "status")))


class VOCAccumulator:
    """VOC AP over detections given in parts: ``update`` in any order, ``merge`` across processes, ``compute`` --
    equal to :func:`evaluate_voc` of all of them however they were split.

    The detections of one image must come in one update (inside an image, ties keep the given order); a second
    batch for an image raises :class:`~annokit.errors.ValidationError`. The state is one record per detection
    (score, class, image, order, true / false positive / difficult) and the per-class count of ground truth; it
    pickles without the ground truth (an unpickled accumulator merges and computes).

    >>> from annokit.core.instances import Instances
    >>> gt = Instances(image_ids=[1, 2], boxes=[[0, 0, 9, 9], [0, 0, 9, 9]], labels=[1, 1])
    >>> a = VOCAccumulator(gt).update(Instances(image_ids=[1], boxes=[[0, 0, 9, 9]], labels=[1], scores=[.9]))
    >>> b = VOCAccumulator(gt).update(Instances(image_ids=[2], boxes=[[5, 5, 9, 9]], labels=[1], scores=[.8]))
    >>> a.merge(b).compute().per_class[1].ap
    0.5
    """

    def __init__(self, gt: Instances, *, iou_threshold: float = 0.5,
                 method: Literal["allpoint", "11point"] = "allpoint",
                 iou_mode: Literal["devkit", "continuous"] = "continuous", difficult: np.ndarray | None = None
                 ) -> None:
        if method not in ("allpoint", "11point"):
            raise ValidationError(f"method must be 'allpoint' or '11point', got {method!r}")
        if iou_mode not in ("devkit", "continuous"):
            raise ValidationError(f"iou_mode must be 'devkit' or 'continuous', got {iou_mode!r}")
        self.iou_threshold, self.method, self.iou_mode = float(iou_threshold), method, iou_mode
        flags = _difficult(gt, difficult)
        self._gt: Instances | None = gt
        self._difficult: np.ndarray | None = flags
        cats, counts = np.unique(gt.labels[~flags], return_counts=True)
        self._n_gt = dict(zip(cats.tolist(), counts.tolist()))
        self._classes = set(np.unique(gt.labels).tolist())
        self._parts: list[_Records] = []
        self._seen: set[int] = set()

    def update(self, dt: Instances) -> VOCAccumulator:
        """Add detections (with scores); returns ``self``."""
        if self._gt is None or self._difficult is None:
            raise ValidationError("this accumulator was unpickled without its ground truth: merge it into one "
                                  "built on the ground truth to add detections")
        if dt.scores is None:
            raise ValidationError("evaluate_voc: the detections have no scores")
        imgs = set(np.unique(dt.image_ids).tolist())
        again = sorted(imgs & self._seen)
        if again:
            raise ValidationError(f"image {again[0]} already has detections from an earlier update (the detections "
                                  "of an image must come in one update)")
        self._seen |= imgs
        plus = 1.0 if self.iou_mode == "devkit" else 0.0
        self._parts.append(_match(self._gt, self._difficult, dt, self.iou_threshold, plus))
        self._classes |= set(np.unique(dt.labels).tolist())
        return self

    def merge(self, other: VOCAccumulator) -> VOCAccumulator:
        """A new accumulator with the detections of both (neither is changed)."""
        if (self.iou_threshold, self.method, self.iou_mode, self._n_gt) != (other.iou_threshold, other.method,
                                                                             other.iou_mode, other._n_gt):
            raise ValidationError("cannot merge accumulators over different ground truth or parameters")
        both = sorted(self._seen & other._seen)
        if both:
            raise ValidationError(f"cannot merge: image {both[0]} has detections in both accumulators")
        out = object.__new__(VOCAccumulator)
        out.__dict__.update(self.__dict__)
        if out._gt is None:
            out._gt, out._difficult = other._gt, other._difficult
        out._parts = [*self._parts, *other._parts]
        out._seen = self._seen | other._seen
        out._classes = self._classes | other._classes
        return out

    def compute(self) -> VOCResult:
        """AP per class (every class of the ground truth or the detections)."""
        recs = _Records.concat(self._parts) if self._parts else None
        out = {c: _class_result(recs, c, self._n_gt.get(c, 0), self.method) for c in sorted(self._classes)}
        return VOCResult(per_class=out, iou_threshold=self.iou_threshold, method=self.method, iou_mode=self.iou_mode)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_gt"] = state["_difficult"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)


def _difficult(gt: Instances, difficult: np.ndarray | None) -> np.ndarray:
    if difficult is None:
        if gt.extras is not None:
            return np.array([bool(e.get("difficult", False)) for e in gt.extras], dtype=bool)
        return np.zeros(len(gt), dtype=bool)
    flags = np.asarray(difficult, dtype=bool)
    if len(flags) != len(gt):
        raise ValidationError(f"difficult: expected {len(gt)} flags, got {len(flags)}")
    return flags


def _match(gt: Instances, difficult: np.ndarray, dt: Instances, thr: float, plus: float) -> _Records:
    """Every detection against the ground truth of its image and class: the object of highest overlap (first on
    ties); at ``>= thr`` a difficult one makes it neither, the first detection (by score) to take an object a true
    positive and the later ones false positives; else a false positive."""
    assert dt.scores is not None
    n = len(dt)
    order = _in_image_order(dt.image_ids)
    d_ord = np.lexsort((order, -dt.scores, dt.labels, dt.image_ids))  # groups, then score, ties in given order
    pd, pg = _pairs(gt, dt, d_ord)
    ov = _overlap(dt.boxes[pd], gt.boxes[pg], plus)
    best_g = np.full(n, -1, dtype=np.int64)
    best_ov = np.full(n, -np.inf)
    if len(pd):
        starts = np.flatnonzero(np.r_[True, pd[1:] != pd[:-1]])
        top = np.maximum.reduceat(ov, starts)
        seg = np.cumsum(np.r_[True, pd[1:] != pd[:-1]]) - 1
        first = np.minimum.reduceat(np.where(ov == top[seg], np.arange(len(pd)), len(pd)), starts)
        best_g[pd[starts]], best_ov[pd[starts]] = pg[first], top
    status = np.full(n, FP, dtype=np.int8)
    hit = np.flatnonzero(best_ov >= thr)
    status[hit[difficult[best_g[hit]]]] = DIFFICULT
    taker = hit[~difficult[best_g[hit]]]
    rank = np.empty(n, np.int64)
    rank[d_ord] = np.arange(n)
    taker = taker[np.lexsort((rank[taker], best_g[taker]))]  # by object, then in score order
    firsts = taker[np.r_[True, best_g[taker][1:] != best_g[taker][:-1]]] if len(taker) else taker
    status[firsts] = TP
    return _Records(score=np.asarray(dt.scores, dtype=np.float64), cat=dt.labels.astype(np.int64),
                    img=dt.image_ids.astype(np.int64), order=order, status=status)


def _in_image_order(image_ids: np.ndarray) -> np.ndarray:
    """Position of each row among the rows of its image (given order)."""
    o = np.argsort(image_ids, kind="stable")
    s = image_ids[o]
    new = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, bool)
    pos = np.arange(len(s))
    out = np.empty(len(s), np.int64)
    out[o] = pos - np.maximum.accumulate(np.where(new, pos, 0)) if len(s) else pos
    return out


def _pairs(gt: Instances, dt: Instances, d_ord: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(detection, ground truth) rows of the same image and class: by detection (in ``d_ord``), then ground-truth
    row order."""
    g_key, d_key = _group_keys(gt, dt)
    g_ord = np.argsort(g_key, kind="stable")
    gk = g_key[g_ord]
    dk = d_key[d_ord]
    lo = np.searchsorted(gk, dk, side="left")
    cnt = np.searchsorted(gk, dk, side="right") - lo
    pd = np.repeat(d_ord, cnt)
    offs = np.arange(len(pd)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return pd, g_ord[np.repeat(lo, cnt) + offs]


def _group_keys(gt: Instances, dt: Instances) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (image, class), the same for ground truth and detections."""
    imgs = np.unique(np.concatenate([gt.image_ids, dt.image_ids]))
    cats = np.unique(np.concatenate([gt.labels, dt.labels]))
    m = len(cats)

    def key(inst: Instances) -> np.ndarray:
        return np.searchsorted(imgs, inst.image_ids).astype(np.int64) * m + np.searchsorted(cats, inst.labels)

    return key(gt), key(dt)


def _overlap(a: np.ndarray, b: np.ndarray, plus: float) -> np.ndarray:
    """The devkit's overlap of box pairs (``plus`` = 1 counts both end pixels)."""
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + plus
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + plus
    inter = iw * ih
    ua = (a[:, 2] - a[:, 0] + plus) * (a[:, 3] - a[:, 1] + plus) + (b[:, 2] - b[:, 0] + plus) * (
        b[:, 3] - b[:, 1] + plus
    ) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((iw > 0) & (ih > 0), inter / ua, 0.0)


def _class_result(recs: _Records | None, c: int, n_gt: int, method: Literal["allpoint", "11point"]
                  ) -> VOCClassResult:
    """One class: its detections by score (ties by image, then given order), difficult hits left out."""
    if recs is None:
        sel = np.zeros(0, np.int64)
        score, status = np.zeros(0), np.zeros(0, np.int8)
    else:
        sel = np.flatnonzero(recs.cat == c)
        o = sel[np.lexsort((recs.order[sel], recs.img[sel], -recs.score[sel]))]
        score, status = recs.score[o], recs.status[o]
    counted = status != DIFFICULT
    tp = (status[counted] == TP).astype(np.float64)
    fp = (status[counted] == FP).astype(np.float64)
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = ctp / n_gt if n_gt else np.zeros_like(ctp)
        prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    ap = voc_ap(rec, prec, method=method) if n_gt else float("nan")
    return VOCClassResult(category_id=int(c), ap=ap, precision=prec, recall=rec, scores=score[counted], tp=tp, fp=fp,
                          n_gt=n_gt)
