"""Suspected ground-truth errors, ranked: where a good model's confident predictions disagree with the labels.

Four kinds, each with a score in [0, 1] (higher: more suspect). ``s`` is a prediction's score, IoU is TIDE's
(:mod:`annokit.analysis.pairs`: pycocotools' box arithmetic, or mask IoU with ``iou_type="segm"``); only
predictions with ``s >= min_score`` count as evidence, crowd regions are never suspects.

``missing`` (an object without annotation)
    A prediction whose IoU with every non-crowd ground truth of its image, of any class, is below ``far_iou``, that
    lies in no crowd region (crowd IoU below 0.5) and that is not the evidence of a ``poor_location`` entry (then
    the label is there, misplaced). Score ``s * (1 - IoU_max)``. Of the candidates that overlap each other
    (IoU >= 0.5, one object seen twice), only the highest-scoring is kept.
``wrong_class``
    A ground truth of class ``c`` overlapped (IoU >= ``overlap_iou``) by a prediction of another class. Score
    ``s * IoU * (1 - s_c)``, ``s_c`` the best score of a class-``c`` prediction overlapping it as much (0 without
    one); the highest over the predictions is kept, one entry per ground truth.
``poor_location``
    A ground truth whose best same-class prediction overlaps it by less than ``loc_iou``. Score ``s * (1 - IoU)``.
    The candidates are the same-class predictions with IoU >= ``bg_iou`` whose best same-class ground truth it is
    and that overlap no other ground truth by ``overlap_iou`` or more (that one would explain them); the best is
    the one of highest ``s * IoU``.
``duplicate``
    Two ground truths of one class in one image whose box IoU is at least ``dup_iou``. Score ``IoU * (1 - s_2)``,
    ``s_2`` the second-best score of the same-class predictions overlapping either (IoU >= ``overlap_iou``): a
    second confident prediction says there may be two objects.

The entries are ranked by score (ties: kind in the order above, then image order). Every entry names its kind,
image, ground-truth and prediction ids, score and the evidence (the numbers its score is made of).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from annokit.analysis._geometry import bbox_iou_coco as _bbox_iou_coco
from annokit.analysis._geometry import xywh as _xywh
from annokit.analysis.pairs import OverlapPairs, overlap_pairs
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError

__all__ = ["KINDS", "LabelIssue", "LabelIssues", "label_issues"]

Kind = Literal["missing", "wrong_class", "poor_location", "duplicate"]
KINDS: tuple[Kind, ...] = ("missing", "wrong_class", "poor_location", "duplicate")


@dataclass(frozen=True)
class LabelIssue:
    """One suspected error: ``kind``, ``image_id``, the ground-truth ids and prediction ids involved, ``score``
    and ``evidence`` (JSON-ready numbers and names)."""

    kind: Kind
    image_id: int
    gt_ids: tuple[int, ...]
    pred_ids: tuple[int, ...]
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "image_id": self.image_id, "gt_ids": list(self.gt_ids),
                "pred_ids": list(self.pred_ids), "score": self.score, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class LabelIssues:
    """The ranked entries (``issues``, most suspect first) and the parameters that made them."""

    issues: list[LabelIssue]
    params: dict[str, Any]

    def __len__(self) -> int:
        return len(self.issues)

    def of_kind(self, kind: str) -> list[LabelIssue]:
        """The entries of one kind, in rank order."""
        return [i for i in self.issues if i.kind == kind]

    def counts(self) -> dict[str, int]:
        """How many entries of each kind."""
        return {k: len(self.of_kind(k)) for k in KINDS}

    def image_scores(self) -> dict[int, float]:
        """``{image id: highest entry score}`` over the images with an entry."""
        out: dict[int, float] = {}
        for i in self.issues:
            out[i.image_id] = max(out.get(i.image_id, 0.0), i.score)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "counts": self.counts(), "issues": [i.to_dict() for i in self.issues]}


@dataclass(frozen=True)
class _Ctx:
    """What every kind reads: the inputs, the pairs (as flat arrays: prediction and ground-truth rows, IoU, crowd
    flag of the ground truth, same class), the scores and the options."""

    gt: Dataset
    dets: Instances
    pairs: OverlapPairs
    pp: np.ndarray
    pg: np.ndarray
    iou: np.ndarray
    crowd: np.ndarray
    same: np.ndarray
    scores: np.ndarray
    names: dict[int, str]
    opt: dict[str, Any]

    def name(self, cid: int) -> str:
        return self.names.get(int(cid), str(int(cid)))

    def issue(self, kind: Kind, g_rows: list[int], p_rows: list[int], score: float, **evidence: Any) -> LabelIssue:
        """An entry on the image of its first object."""
        g, d = self.gt.annotations, self.dets
        img = int(g.image_ids[g_rows[0]]) if g_rows else int(d.image_ids[p_rows[0]])
        return LabelIssue(kind, img, tuple(int(g.ids[j]) for j in g_rows), tuple(int(d.ids[i]) for i in p_rows),
                          float(score), evidence)


def _context(gt: Dataset, dets: Instances, iou_type: Literal["bbox", "segm"], opt: dict[str, Any]) -> _Ctx:
    """The pairs of every visited prediction with the ground truth of its image (IoU >= 0.1)."""
    pairs = overlap_pairs(gt, dets, iou_type=iou_type, min_iou=min(0.1, opt["bg_iou"], opt["far_iou"]))
    pp, pg = pairs.pred_rows[pairs.pair_pred], pairs.gt_rows[pairs.pair_gt]
    g = gt.annotations
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    return _Ctx(gt, dets, pairs, pp, pg, pairs.pair_iou, g.iscrowd[pg], dets.labels[pp] == g.labels[pg], scores,
                dict(zip(gt.categories.ids.tolist(), gt.categories.names)), opt)


def _group_max(keys: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """(size,) the largest value per key (0 where a key has none; values are >= 0)."""
    out = np.zeros(size)
    np.maximum.at(out, keys, values)
    return out


def _missing(c: _Ctx) -> list[LabelIssue]:
    """Confident predictions far from every ground truth (one per cluster of overlapping candidates)."""
    n = len(c.dets)
    best = _group_max(c.pp[~c.crowd], c.iou[~c.crowd], n)
    in_crowd = _group_max(c.pp[c.crowd], c.iou[c.crowd], n) >= 0.5
    visited = np.zeros(n, dtype=bool)
    visited[c.pairs.pred_rows] = True
    cand = np.flatnonzero(visited & (c.scores >= c.opt["min_score"]) & (best < c.opt["far_iou"]) & ~in_crowd)
    out = []
    for i in _one_per_cluster(c.dets, cand, c.scores):
        j = c.pg[(c.pp == i) & ~c.crowd]
        near = j[np.argmax(c.iou[(c.pp == i) & ~c.crowd])] if len(j) else None
        out.append(c.issue("missing", [], [int(i)], c.scores[i] * (1 - best[i]),
                           predicted_class=c.name(c.dets.labels[i]), pred_score=float(c.scores[i]),
                           max_iou_with_gt=float(best[i]), nearest_gt_id=None if near is None else
                           int(c.gt.annotations.ids[near]), box_ltrb=c.dets.boxes[i].tolist()))
    return out


def _one_per_cluster(dets: Instances, cand: np.ndarray, scores: np.ndarray) -> list[int]:
    """Of the candidate rows, per image, the highest-scoring of each group overlapping (box IoU >= 0.5) a kept
    one is dropped (greedy, by score; ties by row)."""
    keep: list[int] = []
    order = cand[np.lexsort((cand, -scores[cand], dets.image_ids[cand]))]
    for img in np.unique(dets.image_ids[order]):
        rows = order[dets.image_ids[order] == img]
        xywh = _xywh(dets[rows])
        iou = _bbox_iou_coco(xywh, xywh)
        taken = np.zeros(len(rows), dtype=bool)
        for a in range(len(rows)):
            if not taken[a]:
                keep.append(int(rows[a]))
                taken |= iou[a] >= 0.5
    return keep


def _wrong_class(c: _Ctx) -> list[LabelIssue]:
    """Ground truth overlapped by a confident prediction of another class, discounted by the best prediction of
    its own class there."""
    g = c.gt.annotations
    ov = (c.iou >= c.opt["overlap_iou"]) & ~c.crowd
    s_same = _group_max(c.pg[ov & c.same], c.scores[c.pp[ov & c.same]], len(g))
    sel = np.flatnonzero(ov & ~c.same & (c.scores[c.pp] >= c.opt["min_score"]))
    val = c.scores[c.pp[sel]] * c.iou[sel] * (1 - s_same[c.pg[sel]])
    out = []
    for q in _best_per(c.pg[sel], val, sel):
        i, j = int(c.pp[q]), int(c.pg[q])
        out.append(c.issue("wrong_class", [j], [i], c.scores[i] * c.iou[q] * (1 - s_same[j]),
                           labelled_class=c.name(g.labels[j]), predicted_class=c.name(c.dets.labels[i]),
                           pred_score=float(c.scores[i]), iou=float(c.iou[q]), best_score_of_labelled_class=float(
                               s_same[j])))
    return out


def _best_per(keys: np.ndarray, values: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Of ``items``, the one of largest value per key (ties: the first), keys ascending."""
    if len(items) == 0:
        return items
    o = np.lexsort((np.arange(len(items)), -values, keys))
    first = np.r_[True, keys[o][1:] != keys[o][:-1]]
    out: np.ndarray = items[o][first]
    return out


def _poor_location(c: _Ctx) -> list[LabelIssue]:
    """Ground truth whose best same-class prediction (its own: not better explained by another ground truth)
    overlaps it too little."""
    g = c.gt.annotations
    best_any = _group_max(c.pp[~c.crowd], c.iou[~c.crowd], len(c.dets))  # over the labels of every class
    sel = np.flatnonzero(c.same & ~c.crowd & (c.iou >= c.opt["bg_iou"]) & (c.scores[c.pp] >= c.opt["min_score"]))
    sel = sel[c.iou[sel] >= _group_max(c.pp[sel], c.iou[sel], len(c.dets))[c.pp[sel]]]  # its best same-class label
    explained = (best_any[c.pp[sel]] > c.iou[sel]) & (best_any[c.pp[sel]] >= c.opt["overlap_iou"])
    sel = sel[~explained]  # a prediction on another label (a match or a confusion there) says nothing here
    out = []
    for q in _best_per(c.pg[sel], c.scores[c.pp[sel]] * c.iou[sel], sel):
        i, j = int(c.pp[q]), int(c.pg[q])
        if c.iou[q] < c.opt["loc_iou"]:
            out.append(c.issue("poor_location", [j], [i], c.scores[i] * (1 - c.iou[q]), labelled_class=c.name(
                g.labels[j]), pred_score=float(c.scores[i]), iou=float(c.iou[q]), gt_box_ltrb=g.boxes[j].tolist(),
                pred_box_ltrb=c.dets.boxes[i].tolist()))
    return out


def _duplicates(c: _Ctx) -> list[LabelIssue]:
    """Pairs of same-class ground truth that overlap almost entirely, unless two confident predictions say there
    are two objects."""
    g = c.gt.annotations
    pairs = _gt_pairs(c.gt, c.opt["dup_iou"])
    ov = (c.iou >= c.opt["overlap_iou"]) & c.same & ~c.crowd
    out = []
    for a, b, v in pairs:
        preds = np.unique(c.pp[ov & ((c.pg == a) | (c.pg == b))])
        s = np.sort(c.scores[preds])[::-1]
        s2 = float(s[1]) if len(s) > 1 else 0.0
        out.append(c.issue("duplicate", [a, b], [int(p) for p in preds], v * (1 - s2), labelled_class=c.name(
            g.labels[a]), gt_iou=v, second_best_score=s2))
    return out


def _gt_pairs(gt: Dataset, dup_iou: float) -> list[tuple[int, int, float]]:
    """``(row a, row b, box IoU)`` of the same-class non-crowd ground truth of one image with IoU >= ``dup_iou``
    (``a < b``)."""
    g = gt.annotations
    rows = np.flatnonzero(~g.iscrowd)
    key = np.lexsort((rows, g.labels[rows], g.image_ids[rows]))
    rows = rows[key]
    grp = np.r_[0, np.flatnonzero((np.diff(g.image_ids[rows]) != 0) | (np.diff(g.labels[rows]) != 0)) + 1,
                len(rows)]
    xywh = _xywh(g)
    out = []
    for lo, hi in zip(grp[:-1], grp[1:]):
        if hi - lo < 2:
            continue
        r = rows[lo:hi]
        iou = np.triu(_bbox_iou_coco(xywh[r], xywh[r]), k=1)
        for x, y in zip(*np.nonzero(iou >= dup_iou)):
            out.append((int(r[x]), int(r[y]), float(iou[x, y])))
    return out


def label_issues(
    gt: Dataset,
    dets: Instances,
    *,
    iou_type: Literal["bbox", "segm"] = "bbox",
    min_score: float = 0.5,
    far_iou: float = 0.4,
    overlap_iou: float = 0.5,
    loc_iou: float = 0.75,
    bg_iou: float = 0.1,
    dup_iou: float = 0.7,
) -> LabelIssues:
    """Rank suspected ground-truth errors (module docstring for the exact definitions).

    Parameters
    ----------
    gt : Dataset
        The ground truth to check.
    dets : Instances
        A good model's predictions with scores (ideally made out of sample: a model trained on these labels has
        learned their errors).
    iou_type : {"bbox", "segm"}
        Box or mask IoU between predictions and ground truth (duplicates compare boxes).
    min_score : float
        Lowest score of a prediction used as evidence.
    far_iou, overlap_iou, loc_iou, bg_iou, dup_iou : float
        IoU levels: ``missing`` below ``far_iou`` with everything; ``wrong_class`` from ``overlap_iou``;
        ``poor_location`` below ``loc_iou`` (from ``bg_iou``); ``duplicate`` from ``dup_iou``.

    Returns
    -------
    LabelIssues

    Examples
    --------
    >>> from annokit import Dataset, ImageTable, Instances, LabelSet
    >>> ds = Dataset(images=ImageTable(ids=[1], file_names=["a.png"], heights=[100], widths=[100]),
    ...              categories=LabelSet.from_names(["cat", "dog"]),
    ...              annotations=Instances(image_ids=[1], boxes=[[10, 10, 50, 50]], labels=[1]))
    >>> det = Instances(image_ids=[1, 1], boxes=[[10, 10, 50, 50], [60, 60, 90, 90]], labels=[2, 1],
    ...                 scores=[0.9, 0.8])
    >>> [(i.kind, i.gt_ids, i.pred_ids, round(i.score, 2)) for i in label_issues(ds, det).issues]
    [('wrong_class', (1,), (1,), 0.9), ('missing', (), (2,), 0.8)]
    """
    opt = {"iou_type": iou_type, "min_score": min_score, "far_iou": far_iou, "overlap_iou": overlap_iou,
           "loc_iou": loc_iou, "bg_iou": bg_iou, "dup_iou": dup_iou}
    for k, v in opt.items():
        if k != "iou_type" and not 0.0 <= float(v) <= 1.0:
            raise ValidationError(f"label_issues: {k} must be in [0, 1], got {v!r}")
    if dets.scores is None:
        raise ValidationError("label_issues: the predictions have no scores")
    c = _context(gt, dets, iou_type, opt)
    poor = _poor_location(c)
    evidence = {p for i in poor for p in i.pred_ids}
    missing = [i for i in _missing(c) if i.pred_ids[0] not in evidence]  # one error, one entry: the moved box
    found = [*missing, *_wrong_class(c), *poor, *_duplicates(c)]
    pos = {int(i): k for k, i in enumerate(gt.images.ids.tolist())}
    found.sort(key=lambda x: (-x.score, KINDS.index(x.kind), pos.get(x.image_id, -1)))
    return LabelIssues(found, opt)
