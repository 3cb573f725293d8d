"""Geometry shared by the analyses (private to :mod:`annokit.analysis`): pycocotools' box IoU, TIDE's visiting
order, the IoU function of a matching (boxes or masks) and every overlapping (prediction, ground truth) pair of
each image, computed for all images at once for boxes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError

__all__ = ["IouFunction", "Order", "PairIoU", "RleCache", "bbox_iou_coco", "iou_function", "pair_ious",
           "visit_order", "xywh"]


def xywh(inst: Instances) -> np.ndarray:
    wh = inst.widths_heights()
    return np.column_stack([inst.boxes[:, 0], inst.boxes[:, 1], wh[:, 0], wh[:, 1]])


def bbox_iou_coco(d: np.ndarray, g: np.ndarray, crowd: bool = False) -> np.ndarray:
    """``(D, G)`` IoU of xywh boxes with pycocotools' arithmetic (``maskApi.c: bbIou``), so thresholds agree
    bit for bit; ``crowd``: the union is the detection's area."""
    if len(d) == 0 or len(g) == 0:
        return np.zeros((len(d), len(g)))
    dx, dy, dw, dh = (d[:, k : k + 1] for k in range(4))
    gx, gy, gw, gh = (g[None, :, k] for k in range(4))
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    ok = (w > 0) & (h > 0)
    inter = w * h
    da = dw * dh
    union = np.broadcast_to(da, inter.shape) if crowd else da + gw * gh - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, inter / union, 0.0)


@dataclass(frozen=True)
class Order:
    """Who is visited when: images in ``gt`` order, each image's predictions by score (stable; its top
    ``max_dets`` kept), its ground truth in input order.

    ``p_img`` / ``g_img``: (N,) / (M,) image position of every prediction / ground truth (-1: not in ``gt``);
    ``p_rows`` / ``g_rows``: the visited rows in order, cut per image by ``p_start`` / ``g_start`` (n_img + 1,);
    ``seq``: (N,) position of each prediction in ``p_rows`` (-1: not visited; tidecv's insertion order).
    """

    p_img: np.ndarray
    g_img: np.ndarray
    p_rows: np.ndarray
    p_start: np.ndarray
    g_rows: np.ndarray
    g_start: np.ndarray
    seq: np.ndarray

    def image(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The prediction rows and ground-truth rows of image position ``k``, in visiting order."""
        return (self.p_rows[self.p_start[k] : self.p_start[k + 1]],
                self.g_rows[self.g_start[k] : self.g_start[k + 1]])


def visit_order(gt: Dataset, dets: Instances, max_dets: int) -> Order:
    """The :class:`Order` of ``gt`` and ``dets``."""
    n_img = len(gt.images)
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    p_img = gt.images.index_of(dets.image_ids)
    p_rows = np.flatnonzero(p_img >= 0)
    p_rows = p_rows[np.lexsort((p_rows, -scores[p_rows], p_img[p_rows]))]
    p_start = np.searchsorted(p_img[p_rows], np.arange(n_img + 1))
    rank = np.arange(len(p_rows)) - p_start[p_img[p_rows]]
    p_rows = p_rows[rank < max_dets]
    p_start = np.searchsorted(p_img[p_rows], np.arange(n_img + 1))
    g_img = gt.images.index_of(gt.annotations.image_ids)
    g_rows = np.lexsort((np.arange(len(g_img)), g_img))
    g_start = np.searchsorted(g_img[g_rows], np.arange(n_img + 1))
    seq = np.full(len(dets), -1, dtype=np.int64)
    seq[p_rows] = np.arange(len(p_rows))
    return Order(p_img, g_img, p_rows, p_start, g_rows, g_start, seq)


IouFunction = Callable[[np.ndarray, np.ndarray, bool], np.ndarray]
"""``iou(prediction rows, ground-truth rows, crowd)`` -> (P, G) IoU (``crowd``: over the prediction's area)."""


def iou_function(gt: Dataset, dets: Instances, order: Order, iou_type: str) -> IouFunction:
    """Box IoU with pycocotools' arithmetic, or mask IoU of RLEs made once per object when first needed."""
    g = gt.annotations
    if iou_type == "bbox":
        p_geo, g_geo = xywh(dets), xywh(g)
        return lambda pi, gi, crowd: bbox_iou_coco(p_geo[pi], g_geo[gi], crowd)
    from annokit.core.masks import mask_iou

    if dets.segmentations is None or g.segmentations is None:
        raise ValidationError("tide: iou_type='segm' needs segmentations on ground truth and predictions")
    p_rle = RleCache(gt, dets, order.p_img)
    g_rle = RleCache(gt, g, order.g_img)
    return lambda pi, gi, crowd: mask_iou(p_rle.get(pi), g_rle.get(gi), [crowd] * len(gi))


class RleCache:
    """The RLE of each object of ``inst`` at its image's size, made on first use."""

    def __init__(self, gt: Dataset, inst: Instances, img_pos: np.ndarray) -> None:
        self.inst = inst
        self.img_pos = img_pos
        self.hw = np.stack([gt.images.heights, gt.images.widths], axis=1)
        self.cache: dict[int, Any] = {}

    def get(self, rows: np.ndarray) -> list[Any]:
        """The RLEs of ``rows``."""
        return [self._one(int(i)) for i in rows]

    def _one(self, i: int) -> Any:
        from annokit.core.masks import segmentation_to_rle

        if i not in self.cache:
            segs = self.inst.segmentations
            seg = segs[i] if segs is not None else None
            if seg is None:
                raise ValidationError(f"tide: object {i} has no segmentation (iou_type='segm')")
            h, w = self.hw[self.img_pos[i]]
            self.cache[i] = segmentation_to_rle(seg, int(h), int(w))
        return self.cache[i]


@dataclass(frozen=True)
class PairIoU:
    """Overlapping pairs of one image: ``p`` positions in ``order.p_rows``, ``g`` positions in ``order.g_rows``
    (sorted by ``p``, then ``g``), and their ``iou`` (crowd IoU, over the prediction's area, for a crowd ground
    truth). Only pairs with IoU above zero are kept."""

    p: np.ndarray
    g: np.ndarray
    iou: np.ndarray


def _image_grid(order: Order, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (visited prediction, ground truth) pair of images ``k0 .. k1 - 1``, as positions in ``order.p_rows``
    and ``order.g_rows``, prediction-major."""
    pc = np.diff(order.p_start[k0 : k1 + 1])
    gc = np.diff(order.g_start[k0 : k1 + 1])
    per_pred = np.repeat(gc, pc)  # ground truth on each prediction's image
    pp = np.repeat(np.arange(order.p_start[k0], order.p_start[k1]), per_pred)
    first = np.repeat(np.repeat(order.g_start[k0:k1], pc), per_pred)
    offset = np.arange(len(pp)) - np.repeat(np.cumsum(per_pred) - per_pred, per_pred)  # no predictions: empty
    return pp, first + offset


def _box_pair_iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Elementwise IoU of xywh boxes ``d[i]`` and ``g[i]``, with exactly the arithmetic of :func:`bbox_iou_coco`
    (the same values to the last bit); crowd pairs over the prediction's area."""
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    ok = (w > 0) & (h > 0)
    inter = w * h
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, da + g[:, 2] * g[:, 3] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.where(ok, inter / union, 0.0)
    return out


def pair_ious(gt: Dataset, dets: Instances, order: Order, iou_type: str, *, chunk: int = 4_000_000) -> PairIoU:
    """Every pair of a visited prediction and a ground truth of one image with IoU above zero. Boxes: all images
    at once, in chunks of at most ``chunk`` candidate pairs; masks: image by image (:func:`iou_function`)."""
    g = gt.annotations
    crowd_rows = g.iscrowd[order.g_rows]
    n_img = len(order.p_start) - 1
    pairs = (np.diff(order.p_start) * np.diff(order.g_start)).astype(np.int64)
    if iou_type != "bbox":
        fn = iou_function(gt, dets, order, iou_type)
        bounds = [(int(k), int(k) + 1) for k in np.flatnonzero(pairs)]
    else:
        p_xywh, g_xywh = xywh(dets), xywh(g)
        cum = np.cumsum(pairs)
        cuts = np.unique(np.r_[0, np.searchsorted(cum, np.arange(chunk, int(cum[-1]) if n_img else 0, chunk)), n_img])
        bounds = list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))
    out_p, out_g, out_v = [], [], []
    for k0, k1 in bounds:
        pp, gg = _image_grid(order, k0, k1)
        if iou_type == "bbox":
            v = _box_pair_iou(p_xywh[order.p_rows[pp]], g_xywh[order.g_rows[gg]], crowd_rows[gg])
        else:
            v = _mask_pair_iou(fn, order, pp, gg, crowd_rows)
        keep = v > 0
        out_p.append(pp[keep])
        out_g.append(gg[keep])
        out_v.append(v[keep])
    if not out_p:
        return PairIoU(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return PairIoU(np.concatenate(out_p), np.concatenate(out_g), np.concatenate(out_v))


def _mask_pair_iou(fn: IouFunction, order: Order, pp: np.ndarray, gg: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """The IoU of the pairs of one image (``pp`` x ``gg`` prediction-major) with the mask IoU function."""
    P, G = np.unique(pp), np.unique(gg)
    m = np.zeros((len(P), len(G)))
    c = crowd[G]
    if (~c).any():
        m[:, ~c] = fn(order.p_rows[P], order.g_rows[G[~c]], False)
    if c.any():
        m[:, c] = fn(order.p_rows[P], order.g_rows[G[c]], True)
    return m.ravel()
