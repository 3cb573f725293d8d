"""COCO keypoint evaluation: object keypoint similarity (OKS) as the pair overlap of the COCO engine.

The definition is pycocotools' ``COCOeval.computeOks``, float operation for float operation. For a detection ``d``
and a ground-truth object ``g`` with ``K`` keypoints, ``sigma_k`` the per-keypoint constants and ``vars_k = (2
sigma_k)^2``:

* ``e_k = (dx_k^2 + dy_k^2) / vars_k / (area_g + eps) / 2`` with ``eps = np.spacing(1)`` and ``area_g`` the ground
  truth's ``area`` field;
* when ``g`` has labelled keypoints (``v > 0``): ``dx, dy`` are the offsets of the detection's keypoints from
  them and OKS is the mean of ``exp(-e_k)`` over the labelled ones only;
* when it has none: ``dx`` (``dy`` alike) is the distance of the detection's keypoint outside the box
  ``[x - w, x + 2 w]`` around the ground truth's ``bbox`` ``[x, y, w, h]`` (0 inside), and the mean runs over all
  ``K`` -- such an object is ignored by the evaluation anyway when its ``num_keypoints`` is 0.

The detection's visibility values are never read. The mean is ``np.sum`` over the kept values divided by their
count, summed in the same order and grouping as pycocotools (rows of equal length summed together), so OKS equals
pycocotools' to the last bit.

Everything else -- which objects are ignored (crowd regions, and objects whose ``num_keypoints`` is 0), greedy
matching, area ranges ``all / medium / large`` on the ground truth's ``area`` and the detection's (the keypoints'
extent, or its box), 20 detections per image and category, the summary ``AP AP50 AP75 APm APl AR AR50 AR75 ARm
ARl`` -- is COCO's: :func:`annokit.metrics.coco.evaluate` with ``COCOParams(iou_type="keypoints")``;
:func:`evaluate_keypoints` is that call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import methodcaller
from typing import TYPE_CHECKING

import numpy as np

from annokit.errors import ValidationError

if TYPE_CHECKING:
    from annokit._internal.progress import Progress
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.metrics.coco import COCOResult
    from annokit.metrics.coco_engine import PairIoU

__all__ = ["COCO_PERSON_SIGMAS", "evaluate_keypoints", "keypoint_ignore", "keypoint_pair_iou", "oks_pair_iou"]

COCO_PERSON_SIGMAS: tuple[float, ...] = tuple(
    (np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0).tolist())
"""pycocotools' ``kpt_oks_sigmas`` for COCO's 17 person keypoints (nose, eyes, ears, shoulders, elbows, wrists,
hips, knees, ankles)."""

_EPS = np.spacing(1)


def oks_pair_iou(d_kp: np.ndarray, g_kp: np.ndarray, g_area: np.ndarray, g_xywh: np.ndarray,
                 sigmas: Sequence[float] | np.ndarray) -> PairIoU:
    """The pair function of :mod:`annokit.metrics.coco_engine` for OKS (see the module's definition).

    Parameters
    ----------
    d_kp : (N, K, 3) float64
        Detections' keypoints.
    g_kp : (G, K, 3) float64
        Ground truth's keypoints (``v > 0``: labelled).
    g_area : (G,) float64
        The ground truth's ``area``.
    g_xywh : (G, 4) float64
        The ground truth's ``bbox`` as the file gives it.
    sigmas : (K,) float
        Per-keypoint constants.

    Returns
    -------
    PairIoU
        ``iou(det_rows, gt_rows) -> (P,)`` OKS.

    Examples
    --------
    >>> g = np.array([[[10.0, 10.0, 2.0], [20.0, 20.0, 0.0]]])
    >>> d = np.array([[[10.0, 10.0, 1.0], [0.0, 0.0, 0.0]]])
    >>> f = oks_pair_iou(d, g, np.array([100.0]), np.array([[5.0, 5.0, 20.0, 20.0]]), [0.1, 0.1])
    >>> f(np.array([0]), np.array([0])).tolist()
    [1.0]
    """
    s = np.asarray(sigmas, dtype=np.float64)
    if d_kp.shape[1] != len(s) or g_kp.shape[1] != len(s):
        raise ValidationError(f"keypoints: {len(s)} sigmas for {g_kp.shape[1]} ground-truth and {d_kp.shape[1]} "
                              "detected keypoints per object (kpt_oks_sigmas must have one per keypoint)")
    o = _Oks.of(d_kp, g_kp, g_area, g_xywh, s)

    def iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        m = o.n_vis[g]
        out = np.empty(len(d))
        box = np.flatnonzero(m == 0)
        if len(box):
            out[box] = o.unlabelled(d[box], g[box])
        rows = np.flatnonzero(m)
        rows = rows[np.argsort(m[rows], kind="stable")]
        counts = np.bincount(m[rows], minlength=len(s) + 1)
        at = 0
        for k in np.flatnonzero(counts).tolist():
            r = rows[at: at + counts[k]]
            at += counts[k]
            out[r] = o.labelled(d[r], g[r], k)
        return out

    return iou


@dataclass(frozen=True)
class _Oks:
    """What OKS reads, laid out for gathering: the detections' keypoint coordinates flat (``row * K + k``); per
    ground truth the indices of its labelled keypoints first (``order``, ascending) and their count, and its
    coordinates and ``var = (2 sigma)^2`` in that order."""

    d_x: np.ndarray
    d_y: np.ndarray
    g_x: np.ndarray
    g_y: np.ndarray
    g_var: np.ndarray
    d_kp: np.ndarray
    g_area: np.ndarray
    g_xywh: np.ndarray
    var: np.ndarray
    order: np.ndarray
    n_vis: np.ndarray

    @classmethod
    def of(cls, d_kp: np.ndarray, g_kp: np.ndarray, g_area: np.ndarray, g_xywh: np.ndarray, s: np.ndarray) -> _Oks:
        vis = g_kp[:, :, 2] > 0
        order = np.argsort(~vis, axis=1, kind="stable")
        var = (s * 2) ** 2
        return cls(d_x=np.ascontiguousarray(d_kp[:, :, 0]).ravel(), d_y=np.ascontiguousarray(d_kp[:, :, 1]).ravel(),
                   g_x=np.take_along_axis(g_kp[:, :, 0], order, axis=1),
                   g_y=np.take_along_axis(g_kp[:, :, 1], order, axis=1), g_var=var[order],
                   d_kp=d_kp, g_area=g_area, g_xywh=g_xywh, var=var, order=order, n_vis=vis.sum(axis=1))

    def labelled(self, d: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
        """OKS of pairs whose ground truth has ``k`` labelled keypoints: over those only, each row of the ``(n, k)``
        values summed as numpy sums a 1-D array of ``k`` (pycocotools sums the compressed 1-D array)."""
        di = self.order[g, :k]
        di += d[:, None] * len(self.var)
        dx = np.subtract(self.d_x[di], self.g_x[g, :k])
        dy = np.subtract(self.d_y[di], self.g_y[g, :k])
        return _mean_exp_rows(dx, dy, self.g_var[g, :k], self.g_area[g])

    def unlabelled(self, d: np.ndarray, g: np.ndarray) -> np.ndarray:
        """OKS of pairs whose ground truth has no labelled keypoint: distances outside its enlarged box, over all
        ``K``."""
        dx, dy = _outside_box(self.d_kp[d, :, 0], self.d_kp[d, :, 1], self.g_xywh[g])
        return _mean_exp_rows(dx, dy, self.var[None, :], self.g_area[g])


def _mean_exp_rows(dx: np.ndarray, dy: np.ndarray, var: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Per row, the mean of ``exp(-e)`` with ``e = (dx^2 + dy^2) / var / (area + eps) / 2`` -- pycocotools'
    operations in its order, in place (``dx``, ``dy`` are overwritten); the rows summed by one ``sum(axis=1)`` of a
    C-contiguous array, which sums each as ``np.sum`` sums a 1-D array of its length."""
    e = np.multiply(dx, dx, out=dx)
    e += np.multiply(dy, dy, out=dy)
    e /= var
    e /= (area + _EPS)[:, None]
    e /= 2
    np.negative(e, out=e)
    return np.asarray(np.exp(e, out=e).sum(axis=1) / e.shape[1])


def _outside_box(xd: np.ndarray, yd: np.ndarray, bb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances of keypoints outside ``[x - w, x + 2 w] x [y - h, y + 2 h]`` (0 inside), per axis."""
    x0, x1 = bb[:, 0] - bb[:, 2], bb[:, 0] + bb[:, 2] * 2
    y0, y1 = bb[:, 1] - bb[:, 3], bb[:, 1] + bb[:, 3] * 2
    dx = np.maximum(0.0, x0[:, None] - xd) + np.maximum(0.0, xd - x1[:, None])
    dy = np.maximum(0.0, y0[:, None] - yd) + np.maximum(0.0, yd - y1[:, None])
    return dx, dy


def evaluate_keypoints(gt: Dataset, dt: Instances, *, sigmas: Sequence[float] | None = None, fixed: bool = False,
                       progress: Progress | None = None) -> COCOResult:
    """COCO keypoint AP of ``dt`` against ``gt``, equal to pycocotools' ``COCOeval(iouType="keypoints")``.

    Parameters
    ----------
    gt : Dataset
        Ground truth with a ``keypoints`` column and ``num_keypoints`` in the annotation extras
        (:func:`annokit.io.coco.read_instances` of a COCO keypoints file).
    dt : Instances
        Detections with scores and keypoints (:func:`annokit.io.coco_keypoints.read_keypoint_results`).
    sigmas : sequence of float, optional
        One per keypoint; default COCO's person sigmas (:data:`COCO_PERSON_SIGMAS`, 17 keypoints).
    fixed : bool
        Fix pycocotools' defects (:mod:`annokit.metrics.coco`): honour the ``ignore`` flag, count a ground truth
        of id 0, summarize at the last maxDets.
    progress : callable, optional

    Returns
    -------
    COCOResult
        ``metrics_dict()`` has pycocotools' keypoint keys ``AP AP50 AP75 APm APl AR AR50 AR75 ARm ARl``.

    Examples
    --------
    >>> from annokit.io.coco import read_instances                        # doctest: +SKIP
    >>> from annokit.io.coco_keypoints import read_keypoint_results       # doctest: +SKIP
    >>> gt = read_instances("person_keypoints_val2017.json")               # doctest: +SKIP
    >>> evaluate_keypoints(gt, read_keypoint_results("kp.json", gt)).metrics_dict()["AP"]  # doctest: +SKIP
    """
    from annokit.metrics.coco import COCOParams, evaluate

    params = COCOParams.build(iou_type="keypoints", kpt_oks_sigmas=sigmas)
    return evaluate(gt, dt, params=params, fixed=fixed, progress=progress)


def keypoint_ignore(gt: Dataset, img_ids: np.ndarray, cat_ids: np.ndarray) -> np.ndarray:
    """``(G,)``: ground truth whose ``num_keypoints`` is 0 (pycocotools ignores it, as it does crowd regions).

    Every evaluated annotation (of the evaluated images and categories) needs ``num_keypoints`` (in its extras, as
    the COCO reader keeps it) and the dataset a ``keypoints`` column: pycocotools fails on them otherwise; annokit
    raises :class:`~annokit.errors.FormatError` naming the annotation.
    """
    from annokit._internal.arrays import index_of
    from annokit.errors import FormatError

    ga = gt.annotations
    rows = np.flatnonzero((index_of(img_ids, ga.image_ids) >= 0) & (index_of(cat_ids, ga.labels) >= 0))
    if len(rows) and ga.keypoints is None:
        raise FormatError(None, "annotations", "no keypoints: keypoint evaluation needs a COCO keypoints file")
    n = np.full(len(ga), -1, dtype=np.int64)
    ex = ga.extras
    idx = rows.tolist()
    if ex is not None:  # every evaluated annotation a plain integer and none without keypoints: one numpy pass
        sel = ex if len(idx) == len(ex) else [ex[i] for i in idx]
        vals = list(map(methodcaller("get", "num_keypoints"), sel))
        if set(map(type, vals)) <= {int} and not any(map(methodcaller("get", "_annokit_no_keypoints"), sel)):
            arr = np.array(vals, dtype=np.int64)
            if (arr >= 0).all():
                n[rows] = arr
                return np.asarray(n == 0)
    for i in idx:
        e = ex[i] if ex is not None else {}
        v = e.get("num_keypoints")
        where = f"annotations[{i}] (id {int(ga.ids[i])})"
        if e.get("_annokit_no_keypoints"):
            raise FormatError(None, where, "no keypoints (every evaluated object needs them)")
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise FormatError(None, where, f"num_keypoints must be an integer >= 0, got {v!r}")
        n[i] = v
    return np.asarray(n == 0)


def keypoint_pair_iou(gt: Dataset, dt: Instances, sigmas: Sequence[float]) -> PairIoU:
    """:func:`oks_pair_iou` of detections ``dt`` against ``gt``'s annotations (their ``bbox`` as the file gave it:
    ``x, y`` and the source's ``w, h``)."""
    ga = gt.annotations
    if dt.keypoints is None:
        raise ValidationError("keypoint evaluation: the detections have no keypoints "
                              "(annokit.io.coco_keypoints.read_keypoint_results reads them)")
    if ga.keypoints is None:
        raise ValidationError("keypoint evaluation: the ground truth has no keypoints")
    xywh = np.column_stack([ga.boxes[:, :2], ga.widths_heights()])
    return oks_pair_iou(np.asarray(dt.keypoints), np.asarray(ga.keypoints), np.asarray(ga.area), xywh, sigmas)
