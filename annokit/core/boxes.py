"""Box maths on float64 ``(N, 4)`` ltrb arrays in continuous pixel-edge coordinates.

A box ``[l, t, r, b]`` covers ``l <= x < r`` and ``t <= y < b``: the pixel with integer index ``(row, col)``
spans ``[col, col + 1) x [row, row + 1)``, so a box covering exactly that pixel is ``[col, row, col + 1, row + 1]``.
Format conventions (COCO xywh, VOC 1-based inclusive) are converted in :mod:`annokit.io` only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_area", "box_iou", "box_iou_matched", "ltrb_to_xywh", "xywh_to_ltrb", "clip_boxes"]


def xywh_to_ltrb(xywh: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``[x, y, w, h]`` -> ``[l, t, r, b]`` (``r = x + w`` exactly as COCO tools compute it)."""
    a = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
    out = a.copy()
    out[:, 2] = a[:, 0] + a[:, 2]
    out[:, 3] = a[:, 1] + a[:, 3]
    return out


def ltrb_to_xywh(ltrb: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ltrb -> xywh. Widths are ``r - l`` (see :func:`annokit.io.coco` for the round-trip rule)."""
    a = np.asarray(ltrb, dtype=np.float64).reshape(-1, 4)
    out = a.copy()
    out[:, 2] = a[:, 2] - a[:, 0]
    out[:, 3] = a[:, 3] - a[:, 1]
    return out


def box_area(boxes: np.ndarray) -> np.ndarray:
    """``(N,)`` areas of ``(N, 4)`` ltrb boxes."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray, *, crowd: np.ndarray | None = None) -> np.ndarray:
    """Pairwise IoU ``(N, M)`` of ``(N, 4)`` boxes ``a`` against ``(M, 4)`` boxes ``b``.

    Where ``crowd[j]`` is true the union is the area of ``a[i]`` alone (COCO's crowd rule), so a box fully inside
    a crowd region scores 1.

    >>> box_iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]])).round(4).tolist()
    [[0.3333]]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_a = box_area(a)[:, None]
    union = area_a + box_area(b)[None, :] - inter
    if crowd is not None:
        union = np.where(np.asarray(crowd, dtype=bool)[None, :], area_a, union)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(inter > 0, inter / union, 0.0)
    return iou


def box_iou_matched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of row ``i`` of ``a`` with row ``i`` of ``b`` (``(N,)``)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = box_area(a) + box_area(b) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / union, 0.0)


def clip_boxes(boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Clip ltrb boxes to ``[0, width] x [0, height]`` (returns a new array)."""
    h, w = image_hw
    out = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out
