"""Open Images detection AP (the challenge metric), as the TensorFlow Object Detection API's
``OpenImagesChallengeEvaluator`` computes it after ``oid_hierarchical_labels_expansion.py``.

1. **Hierarchy expansion** (with a hierarchy): every ground-truth box is repeated for each ancestor of its class;
   a positive image-level label adds its ancestors, a negative one its descendants; with ``expand_detections``
   every detection is repeated for each ancestor of its class too (same box and score).
2. **Verified labels**: on each image only detections of an *evaluatable* class count -- a class of a (expanded)
   box or of a (expanded) image-level label, positive or negative; the others are ignored. Detections on images
   without ground truth are ignored.
3. Per image and class, detections with an empty box (``xmin >= xmax`` or ``ymin >= ymax``) or a score
   ``<= -10`` are dropped, the rest ordered by ``np.argsort(scores)[::-1]`` -- the reference's own call, so tied
   scores keep its (unstable) order -- and cut to 10,000.
4. **Matching**, in that order: each detection takes the non-group-of box of highest IoU (the first on ties); IoU
   ``>= iou_threshold`` and the box not yet taken: true positive. Every detection that is not a true positive
   then takes the group-of box of highest IoA (intersection over the *detection's* area); IoA ``>= iou_threshold``
   makes it part of that group: it is not counted itself, and each group-of box with at least one member of score
   ``> 0`` counts once as a true positive of weight ``group_of_weight`` (1 in the challenge) at its members' highest
   score. Everything else is a false positive.
5. Per class the entries of all images (images in increasing id, a group's entries after its detections) are
   ordered by ``np.argsort(scores)[::-1]``; precision and recall (over non-group-of boxes plus ``group_of_weight``
   per group-of box) give AP as the area under the precision envelope (VOC all-point). A class without ground
   truth has AP NaN; ``AP50`` is the mean over the others.

Boxes are compared in the coordinates they are given in (IoU is continuous: ``width = r - l``). ``fixed=True``
orders tied scores stably (file order) at both sorts and keeps scores ``<= -10``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit._internal.arrays import equal_key_pairs
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.dataset import Dataset
from annokit.core.hierarchy import ImageLabels, LabelHierarchy
from annokit.core.instances import Instances
from annokit.errors import ValidationError
from annokit.metrics.voc import voc_ap

__all__ = ["OpenImagesClassResult", "OpenImagesResult", "evaluate_openimages"]

MAX_PER_IMAGE_CLASS = 10000  # the reference's nms_max_output_boxes
MIN_SCORE = -10.0  # the reference's NMS score_threshold: scores must be above it


@dataclass(frozen=True)
class OpenImagesClassResult:
    """One class: ``ap`` (NaN without ground truth); the ranked entries' ``scores`` and true-positive weights
    ``labels`` (detections and counted group-of boxes); ``precision`` / ``recall`` per entry; ``n_gt`` the
    weighted count of ground truth."""

    category_id: int
    ap: float
    precision: FloatArray
    recall: FloatArray
    scores: FloatArray
    labels: FloatArray
    n_gt: float


@dataclass(frozen=True)
class OpenImagesResult:
    per_class: dict[int, OpenImagesClassResult]
    names: dict[int, str]
    iou_threshold: float

    @property
    def mAP(self) -> float:
        """Mean AP over classes with ground truth (``np.nanmean``; NaN when there is none)."""
        aps = [r.ap for r in self.per_class.values() if not math.isnan(r.ap)]
        return float(np.mean(aps)) if aps else float("nan")

    def metrics_dict(self) -> dict[str, float | None]:
        """``{"AP50": ...}`` (the key follows the threshold: ``AP75`` at 0.75)."""
        v = self.mAP
        return {f"AP{round(self.iou_threshold * 100)}": None if math.isnan(v) else v}

    def per_class_dict(self) -> dict[str, dict[str, Any]]:
        return {self.names[c]: {"AP": None if math.isnan(r.ap) else r.ap, "n_gt": r.n_gt}
                for c, r in self.per_class.items()}


# ------------------------------------------------------------------------------------------ expansion
@dataclass(frozen=True)
class _Expansion:
    """Per category position: its ancestors and descendants (category positions), as CSR arrays."""

    up_ptr: IntArray
    up: IntArray
    down_ptr: IntArray
    down: IntArray

    @classmethod
    def build(cls, names: list[str], hierarchy: LabelHierarchy | None, used: IntArray) -> _Expansion:
        k = len(names)
        if hierarchy is None:
            z = np.zeros(k + 1, np.int64)
            return cls(z, z[:0], z, z[:0])
        pos = {n: i for i, n in enumerate(hierarchy.names)}
        missing = [int(c) for c in used if names[int(c)] not in pos]
        if missing:
            raise ValidationError(f"category {names[missing[0]]!r} is not in the hierarchy")
        cat_of = {h: i for i, n in enumerate(names) if (h := pos.get(n)) is not None}

        def csr(sets: list[set[int]]) -> tuple[IntArray, IntArray]:
            rows = [sorted(cat_of[j] for j in sets[pos[n]] if j in cat_of) if n in pos else [] for n in names]
            ptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
            return ptr, np.array([x for r in rows for x in r], dtype=np.int64)

        up_ptr, up = csr(hierarchy.ancestor_positions())
        down_ptr, down = csr(hierarchy.descendant_positions())
        return cls(up_ptr, up, down_ptr, down)


def _expand(cat: IntArray, ptr: IntArray, extra: IntArray) -> tuple[IntArray, IntArray]:
    """Rows ``(source row, category)``: each row itself, then once per related category of its own."""
    n_extra = ptr[cat + 1] - ptr[cat]
    count = 1 + n_extra
    row = np.repeat(np.arange(len(cat)), count)
    j = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    out = cat[row].copy()
    more = j > 0
    out[more] = extra[ptr[cat[row[more]]] + j[more] - 1]
    return row, out


# ------------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class _Boxes:
    """Rows after expansion: image position, category position, ``[ymin, xmin, ymax, xmax]`` boxes, and per row a
    flag (group-of) or a score."""

    img: IntArray
    cat: IntArray
    yxyx: FloatArray
    value: FloatArray | BoolArray


def _gt_rows(gt: Dataset, group_of: BoolArray, exp: _Expansion) -> _Boxes:
    a = gt.annotations
    img = gt.images.index_of(a.image_ids)
    cat = gt.categories.index_of(a.labels)
    row, ecat = _expand(cat, exp.up_ptr, exp.up)
    b = np.asarray(a.boxes)[row]
    return _Boxes(img[row], ecat, b[:, [1, 0, 3, 2]], group_of[row])


def _evaluatable(gt: Dataset, rows: _Boxes, labels: ImageLabels | None, exp: _Expansion) -> IntArray:
    """Sorted keys ``image position * K + category position`` of the classes evaluated on each image."""
    k = len(gt.categories)
    keys = [rows.img * k + rows.cat]
    if labels is not None and len(labels):
        img = gt.images.index_of(labels.image_ids)
        cat = gt.categories.index_of(labels.labels)
        ok = (img >= 0) & (cat >= 0)
        for positive, ptr, extra in ((True, exp.up_ptr, exp.up), (False, exp.down_ptr, exp.down)):
            sel = ok & (labels.positive == positive)
            row, ecat = _expand(cat[sel], ptr, extra)
            keys.append(img[sel][row] * k + ecat)
    return np.unique(np.concatenate(keys))


def _det_rows(gt: Dataset, dt: Instances, exp: _Expansion, evaluatable: IntArray, *, expand: bool,
              fixed: bool) -> _Boxes:
    img = gt.images.index_of(dt.image_ids)
    cat = gt.categories.index_of(dt.labels)
    if (cat < 0).any():
        i = int(np.flatnonzero(cat < 0)[0])
        raise ValidationError(f"detection {i}: category id {int(dt.labels[i])} is not in the ground truth")
    scores = np.asarray(dt.scores)
    b = np.asarray(dt.boxes)
    keep = (img >= 0) & (b[:, 0] < b[:, 2]) & (b[:, 1] < b[:, 3])
    if not fixed:
        keep &= scores > MIN_SCORE
    sel = np.flatnonzero(keep)
    if expand:
        row, ecat = _expand(cat[sel], exp.up_ptr, exp.up)
        row = sel[row]
    else:
        row, ecat = sel, cat[sel]
    k = len(gt.categories)
    ok = np.isin(img[row] * k + ecat, evaluatable)
    row, ecat = row[ok], ecat[ok]
    return _Boxes(img[row], ecat, b[row][:, [1, 0, 3, 2]], scores[row])


# ------------------------------------------------------------------------------------------ ranking
def _rank_in_groups(key: IntArray, scores: FloatArray, *, fixed: bool) -> tuple[IntArray, IntArray]:
    """Detections ordered by group, then as the reference orders each group (``np.argsort(s)[::-1]`` on the
    group's scores in row order); returns the order and each detection's rank in its group."""
    order = np.lexsort((-scores, key))
    if not fixed and len(order) > 1:
        k, s = key[order], scores[order]
        tie = (k[1:] == k[:-1]) & (s[1:] == s[:-1])
        for g in np.unique(k[1:][tie]):
            lo, hi = np.searchsorted(k, g, "left"), np.searchsorted(k, g, "right")
            members = np.sort(order[lo:hi])  # row order, as the reference holds them
            order[lo:hi] = members[np.argsort(scores[members])[::-1]]
    k = key[order]
    start = np.searchsorted(k, k, "left")
    return order, np.arange(len(order)) - start


def _overlaps(d: FloatArray, g: FloatArray) -> tuple[FloatArray, FloatArray]:
    """IoU and IoA (over the detection's area) of paired ``[ymin, xmin, ymax, xmax]`` boxes, computed as
    ``np_box_ops`` does (same operations, same rounding)."""
    ih = np.maximum(0.0, np.minimum(d[:, 2], g[:, 2]) - np.maximum(d[:, 0], g[:, 0]))
    iw = np.maximum(0.0, np.minimum(d[:, 3], g[:, 3]) - np.maximum(d[:, 1], g[:, 1]))
    inter = ih * iw
    area_d = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
    area_g = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
    return inter / (area_d + area_g - inter), inter / area_d


def _first_best(det: IntArray, gt: IntArray, value: FloatArray, n: int) -> tuple[IntArray, FloatArray]:
    """Per detection: the paired ground truth of highest ``value`` (first in row order on ties; -1 if none)."""
    order = np.lexsort((gt, -value, det))
    best = np.full(n, -1, dtype=np.int64)
    val = np.full(n, -np.inf)
    if len(order):
        first = order[np.r_[True, det[order][1:] != det[order][:-1]]]
        best[det[first]] = gt[first]
        val[det[first]] = value[first]
    return best, val


# ------------------------------------------------------------------------------------------ matching
@dataclass(frozen=True)
class _Entries:
    """Ranked candidates of every class: category position, sort key within the class, score, TP weight."""

    cat: IntArray
    key: IntArray
    score: FloatArray
    label: FloatArray


def _match(d: _Boxes, g: _Boxes, k: int, image_ids: IntArray, *, thr: float, weight: float,
           fixed: bool) -> _Entries:
    """The reference's two matching stages for every image and class at once (each detection's best box does not
    depend on the others; only "already taken" does, and that is the first detection in rank order)."""
    order, rank = _rank_in_groups(d.img * k + d.cat, np.asarray(d.value, dtype=np.float64), fixed=fixed)
    order = order[rank < MAX_PER_IMAGE_CLASS]
    img, cat, score = d.img[order], d.cat[order], np.asarray(d.value, dtype=np.float64)[order]
    n = len(order)
    det, gt = equal_key_pairs(img * k + cat, g.img * k + g.cat)
    iou, ioa = _overlaps(d.yxyx[order][det], g.yxyx[gt])
    grp = np.asarray(g.value, dtype=bool)[gt]
    best, val = _first_best(det[~grp], gt[~grp], iou[~grp], n)
    hits = np.flatnonzero(val >= thr)
    tp = np.zeros(n, dtype=bool)
    _, first = np.unique(best[hits], return_index=True)
    tp[hits[first]] = True
    free = grp & ~tp[det]
    gbest, gval = _first_best(det[free], gt[free], ioa[free], n)
    member = ~tp & (gval >= thr)
    gscore = np.zeros(len(g.img))
    np.maximum.at(gscore, gbest[member], score[member])
    groups = np.flatnonzero(gscore > 0) if weight > 0 else np.zeros(0, dtype=np.int64)
    pos = np.arange(n)
    big = max(n, len(g.img)) + 1
    img_rank = np.argsort(np.argsort(image_ids, kind="stable"))  # images in increasing id
    d_key = img_rank[img] * (2 * big) + pos
    g_key = img_rank[g.img[groups]] * (2 * big) + big + groups
    keep = ~member
    return _Entries(cat=np.concatenate([cat[keep], g.cat[groups]]), key=np.concatenate([d_key[keep], g_key]),
                    score=np.concatenate([score[keep], gscore[groups]]),
                    label=np.concatenate([tp[keep].astype(np.float64), np.full(len(groups), float(weight))]))


def _class_ap(cid: int, scores: FloatArray, labels: FloatArray, n_gt: float, *,
              fixed: bool) -> OpenImagesClassResult:
    """``compute_precision_recall`` and ``compute_average_precision`` of one class's entries."""
    if n_gt == 0:
        e = np.zeros(0)
        return OpenImagesClassResult(cid, float("nan"), e, e, scores, labels, n_gt)
    order = np.argsort(-scores, kind="stable") if fixed else np.argsort(scores)[::-1]
    tp = labels[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum((tp <= 0).astype(float))
    precision = ctp.astype(float) / (ctp + cfp)
    recall = ctp.astype(float) / n_gt
    ap = voc_ap(recall, precision, method="allpoint")
    return OpenImagesClassResult(cid, ap, precision, recall, scores[order], tp, n_gt)


def evaluate_openimages(gt: Dataset, dt: Instances, *, image_labels: ImageLabels | None = None,
                        group_of: BoolArray | None = None, hierarchy: LabelHierarchy | None = None,
                        iou_threshold: float = 0.5, group_of_weight: float = 1.0, expand_detections: bool = True,
                        fixed: bool = False) -> OpenImagesResult:
    """Open Images challenge AP per class of detections ``dt`` against ``gt`` (see the module's definition).

    Parameters
    ----------
    gt : Dataset
        Ground-truth boxes and categories (category names are the hierarchy's ``LabelName`` s).
    dt : Instances
        Detections with scores, category ids as in ``gt``.
    image_labels : ImageLabels, optional
        Verified image-level labels (:func:`annokit.io.openimages.image_labels_from_coco`).
    group_of : (N,) bool, optional
        Group-of flags of ``gt``'s boxes (default: ``iscrowd``).
    hierarchy : LabelHierarchy, optional
        Expand ground truth (and detections, with ``expand_detections``) up and down the class hierarchy.
    iou_threshold : float
        IoU (and IoA for group-of boxes) needed for a match (``>=``).
    group_of_weight : float
        Weight of a matched group-of box (1 in the challenge; 0 ignores detections inside group-of boxes, as the
        Open Images V2 metric).
    expand_detections : bool
        Repeat each detection for its class's ancestors.
    fixed : bool
        Stable ordering of tied scores, and no ``-10`` score floor.

    Returns
    -------
    OpenImagesResult

    Examples
    --------
    >>> from annokit.core.labels import LabelSet
    >>> from annokit.core.dataset import ImageTable
    >>> gt = Dataset(images=ImageTable(ids=[1], file_names=["a.jpg"], heights=[10], widths=[10]),
    ...              categories=LabelSet.from_names(["/m/cat"]),
    ...              annotations=Instances(image_ids=[1], boxes=[[0, 0, 4, 4]], labels=[1]))
    >>> dt = Instances(image_ids=[1, 1], boxes=[[0, 0, 4, 4], [5, 5, 9, 9]], labels=[1, 1], scores=[0.9, 0.8])
    >>> evaluate_openimages(gt, dt).metrics_dict()
    {'AP50': 1.0}
    """
    if dt.scores is None:
        raise ValidationError("evaluate_openimages: the detections have no scores")
    cats = gt.categories
    k = len(cats)
    flags = np.asarray(gt.annotations.iscrowd if group_of is None else group_of, dtype=bool)
    if len(flags) != len(gt.annotations):
        raise ValidationError(f"group_of: expected {len(gt.annotations)} flags, got {len(flags)}")
    used = np.unique(cats.index_of(np.concatenate([gt.annotations.labels, dt.labels, image_labels.labels
                                                   if image_labels is not None else np.zeros(0, np.int64)])))
    exp = _Expansion.build(list(cats.names), hierarchy, used[used >= 0])
    g = _gt_rows(gt, flags, exp)
    evaluatable = _evaluatable(gt, g, image_labels, exp)
    d = _det_rows(gt, dt, exp, evaluatable, expand=expand_detections, fixed=fixed)
    gflag = np.asarray(g.value, dtype=bool)
    n_gt = (np.bincount(g.cat[~gflag], minlength=k).astype(float)
            + group_of_weight * np.bincount(g.cat[gflag], minlength=k))
    ent = _match(d, g, k, np.asarray(gt.images.ids), thr=iou_threshold, weight=group_of_weight, fixed=fixed)
    order = np.lexsort((ent.key, ent.cat))
    cat_sorted = ent.cat[order]
    per_class = {}
    for c in range(k):
        lo, hi = np.searchsorted(cat_sorted, c, "left"), np.searchsorted(cat_sorted, c, "right")
        sel = order[lo:hi]
        per_class[int(cats.ids[c])] = _class_ap(int(cats.ids[c]), ent.score[sel], ent.label[sel], float(n_gt[c]),
                                                fixed=fixed)
    return OpenImagesResult(per_class=per_class, names={int(i): n for i, n in zip(cats.ids, cats.names)},
                            iou_threshold=iou_threshold)
