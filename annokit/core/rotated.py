"""Oriented boxes and quadrilaterals: conversions and exact polygon IoU.

Definitions (image coordinates: ``x`` to the right, ``y`` down, continuous pixel-edge coordinates):

* **rbox** ``(N, 5)`` float64 ``[cx, cy, w, h, angle]``: centre, width, height (``>= 0``) and ``angle`` in
  **radians**. The box's width axis is ``u = (cos angle, sin angle)`` and its height axis ``v = (-sin angle,
  cos angle)``; a positive angle turns the box clockwise *as seen on screen* (y points down). ``angle = 0`` is the
  axis-aligned box ``[cx - w/2, cy - h/2, cx + w/2, cy + h/2]``.
* **corners** ``(N, 4, 2)`` float64: four ``(x, y)`` points. For an rbox they are
  ``p0 = c - u w/2 - v h/2``, ``p1 = c + u w/2 - v h/2``, ``p2 = c + u w/2 + v h/2``, ``p3 = c - u w/2 + v h/2``:
  at angle 0 top-left, top-right, bottom-right, bottom-left (clockwise on screen, DOTA's order). Corners are the
  primary form: DOTA and YOLO-OBB give four arbitrary points, and the DOTA devkit measures overlap on those
  quadrilaterals as given.

Polygon IoU (:func:`quad_iou`, :func:`quad_iou_matched`) is the area of the intersection over the area of the
union of two quadrilaterals, exact up to floating-point rounding. A quadrilateral's area is the absolute value of
its shoelace sum. Convex quadrilaterals are intersected directly (the corners of each inside the other and the
crossings of their edges, in angular order); a non-convex or self-intersecting one is split into the two signed
triangles of the fan from its first corner, so that what is measured is the integral of the product of the two
winding numbers -- for simple polygons the plain intersection area (as shapely computes it), for a
self-intersecting "bow tie" the same number as the DOTA devkit's ``polyiou``.
"""

from __future__ import annotations

import numpy as np

from annokit.core.arrays import FloatArray, IntArray
from annokit.errors import ValidationError

__all__ = ["corners_to_ltrb", "corners_to_rbox", "ltrb_to_corners", "quad_area", "quad_iou", "quad_iou_matched",
           "rbox_iou", "rbox_to_corners", "check_corners", "check_rboxes"]

_CHUNK = 131072  # pairs intersected at once (bounds the temporary arrays to a few tens of MB)


# ------------------------------------------------------------------------------------------ conversions
def rbox_to_corners(rboxes: FloatArray) -> FloatArray:
    """``(N, 5)`` rboxes ``[cx, cy, w, h, angle]`` -> ``(N, 4, 2)`` corners (see the module's definition).

    Exact for ``angle == 0`` (then the corners are ``cx -/+ w/2``, ``cy -/+ h/2``).

    >>> rbox_to_corners(np.array([[5.0, 5.0, 4.0, 2.0, 0.0]])).tolist()
    [[[3.0, 4.0], [7.0, 4.0], [7.0, 6.0], [3.0, 6.0]]]
    """
    r = np.asarray(rboxes, dtype=np.float64).reshape(-1, 5)
    c, s = np.cos(r[:, 4]), np.sin(r[:, 4])
    hw, hh = r[:, 2] / 2, r[:, 3] / 2
    ux, uy = c * hw, s * hw
    vx, vy = -s * hh, c * hh
    sx = np.array([-1.0, 1.0, 1.0, -1.0])
    sy = np.array([-1.0, -1.0, 1.0, 1.0])
    x = r[:, None, 0] + sx * ux[:, None] + sy * vx[:, None]
    y = r[:, None, 1] + sx * uy[:, None] + sy * vy[:, None]
    return np.stack([x, y], axis=2)


def corners_to_rbox(corners: FloatArray) -> FloatArray:
    """``(N, 4, 2)`` corners of rectangles -> ``(N, 5)`` rboxes: centre the middle of the diagonal ``p0 p2``,
    ``w = |p1 - p0|``, ``h = |p2 - p1|``, ``angle = atan2`` of ``p1 - p0`` (in ``(-pi, pi]``).

    The inverse of :func:`rbox_to_corners` up to rounding (and to the angle's period) for rectangles; for any other
    quadrilateral it is a rectangle of the same first edge, not a fit.
    """
    q = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    centre = (q[:, 0] + q[:, 2]) / 2
    e01 = q[:, 1] - q[:, 0]
    e12 = q[:, 2] - q[:, 1]
    w = np.hypot(e01[:, 0], e01[:, 1])
    h = np.hypot(e12[:, 0], e12[:, 1])
    angle = np.arctan2(e01[:, 1], e01[:, 0])
    return np.column_stack([centre, w, h, angle])


def ltrb_to_corners(boxes: FloatArray) -> FloatArray:
    """``(N, 4)`` ltrb boxes -> ``(N, 4, 2)`` corners ``(l, t), (r, t), (r, b), (l, b)`` (exact)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x = b[:, [0, 2, 2, 0]]
    y = b[:, [1, 1, 3, 3]]
    return np.stack([x, y], axis=2)


def corners_to_ltrb(corners: FloatArray) -> FloatArray:
    """``(N, 4, 2)`` corners -> ``(N, 4)`` axis-aligned hull ``[min x, min y, max x, max y]`` (exact)."""
    q = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    return np.column_stack([q[..., 0].min(1), q[..., 1].min(1), q[..., 0].max(1), q[..., 1].max(1)])


def check_rboxes(rboxes: FloatArray, name: str = "rboxes") -> None:
    """Raise :class:`annokit.ValidationError` naming the first row that is not finite or has ``w < 0``/``h < 0``."""
    r = np.asarray(rboxes, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 5:
        raise ValidationError(f"{name}: expected shape (N, 5) [cx, cy, w, h, angle], got {r.shape}")
    bad = ~np.isfinite(r)
    if bad.any():
        i, j = (int(v[0]) for v in np.nonzero(bad))
        what = ("cx", "cy", "w", "h", "angle")[j]
        raise ValidationError(f"{name}[{i}]: {what} is not finite ({r[i, j]})")
    neg = (r[:, 2] < 0) | (r[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValidationError(f"{name}[{i}]: negative width or height ({r[i].tolist()})")


def check_corners(corners: FloatArray, name: str = "corners") -> None:
    """Raise :class:`annokit.ValidationError` naming the first quadrilateral with a non-finite coordinate."""
    q = np.asarray(corners, dtype=np.float64)
    if q.ndim != 3 or q.shape[1:] != (4, 2):
        raise ValidationError(f"{name}: expected shape (N, 4, 2), got {q.shape}")
    bad = ~np.isfinite(q).all(axis=(1, 2))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{name}[{i}]: not finite ({q[i].reshape(-1).tolist()})")


# ------------------------------------------------------------------------------------------ areas
def _signed_area(poly: FloatArray) -> FloatArray:
    """Shoelace sum of ``(K, W, 2)`` polygons (counter-clockwise in the x-right, y-up sense is positive)."""
    x, y = poly[..., 0], poly[..., 1]
    return np.asarray((x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(-1) / 2)


def quad_area(corners: FloatArray) -> FloatArray:
    """``(N,)`` areas of ``(N, 4, 2)`` quadrilaterals: the absolute shoelace sum (for a self-intersecting one, the
    difference of its two lobes, as the DOTA devkit measures it)."""
    q = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    return np.abs(_signed_area(q - q[:, :1]))


# ------------------------------------------------------------------------------------------ intersection
def _side(px: FloatArray, py: FloatArray, qx: FloatArray, qy: FloatArray) -> FloatArray:
    """``d[k, i, j]``: signed distance (times the edge's length) of point ``i`` of ``p`` from the line of edge ``j``
    of ``q`` (``q[j] -> q[j + 1]``); ``>= 0`` on the inner side of a positively oriented polygon."""
    ex = np.roll(qx, -1, axis=1) - qx
    ey = np.roll(qy, -1, axis=1) - qy
    return np.asarray(ex[:, None, :] * (py[:, :, None] - qy[:, None, :])
                      - ey[:, None, :] * (px[:, :, None] - qx[:, None, :]))


def _corner_set(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """The corners of the intersection of convex, positively oriented ``a`` and ``b`` (K, 4, 2), unordered: the
    corners of each inside the other (closed test) and the proper crossings of their edges (the endpoints of each
    edge strictly on both sides of the other's line). A crossing on ``a``'s edge ``S -> E`` is
    ``(E dS - S dE) / (dS - dE)`` -- exact when the true point is representable and the products are exact, as for
    axis-aligned integer boxes. Returns x, y (K, 24) and the validity mask."""
    ax, ay, bx, by = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    da = _side(ax, ay, bx, by)  # (K, i, j): a's corner i against b's edge j
    db = _side(bx, by, ax, ay)  # (K, j, i): b's corner j against a's edge i
    de = np.roll(da, -1, axis=1)  # a's edge i end point
    fs = np.swapaxes(db, 1, 2)  # b's edge j start point against a's edge i
    fe = np.roll(fs, -1, axis=2)
    ok = ((da > 0) != (de > 0)) & (da != 0) & (de != 0) & ((fs > 0) != (fe > 0)) & (fs != 0) & (fe != 0)
    ex, ey = np.roll(ax, -1, axis=1)[:, :, None], np.roll(ay, -1, axis=1)[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        den = da - de
        cx = (ex * da - ax[:, :, None] * de) / den
        cy = (ey * da - ay[:, :, None] * de) / den
    k = len(a)
    x = np.concatenate([ax, bx, cx.reshape(k, -1)], axis=1)
    y = np.concatenate([ay, by, cy.reshape(k, -1)], axis=1)
    valid = np.concatenate([(da >= 0).all(2), (db >= 0).all(2), ok.reshape(k, -1)], axis=1)
    return x, y, valid


def _convex_overlap(a: FloatArray, b: FloatArray) -> FloatArray:
    """``(K,)`` areas of the intersections of convex, positively oriented quadrilaterals ``a[k]`` and ``b[k]``
    (repeated corners allowed): the corner set of :func:`_corner_set` in angular order around its mean, then the
    shoelace sum (duplicates, and points within rounding of the boundary, add nothing measurable)."""
    x, y, valid = _corner_set(a, b)
    n = valid.sum(1)
    nn = np.maximum(n, 1)
    x = x - (np.where(valid, x, 0.0).sum(1) / nn)[:, None]
    y = y - (np.where(valid, y, 0.0).sum(1) / nn)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x / (np.abs(x) + np.abs(y))  # a pseudo-angle: increases with the angle, cheaper than arctan2
    turn = np.where(y >= 0, 1 - r, 3 + r)
    order = np.argsort(np.where(valid & np.isfinite(turn), turn, np.where(valid, 0.0, np.inf)), axis=1,
                       kind="stable")
    x = np.take_along_axis(x, order, axis=1)
    y = np.take_along_axis(y, order, axis=1)
    pad = np.arange(x.shape[1])[None, :] >= n[:, None]
    x = np.where(pad, x[:, :1], x)
    y = np.where(pad, y[:, :1], y)
    area = (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(1) / 2
    return np.asarray(np.where(n >= 3, area, 0.0))


def _convex(q: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """``q`` positively oriented (reversed where its shoelace sum is negative) and whether each is convex."""
    q = np.where((_signed_area(q) < 0)[:, None, None], q[:, ::-1], q)
    e = np.roll(q, -1, axis=1) - q
    en = np.roll(e, -1, axis=1)
    turn = e[:, :, 0] * en[:, :, 1] - e[:, :, 1] * en[:, :, 0]
    return q, np.asarray((turn >= 0).all(1))


def _pieces(q: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """Each quadrilateral as positively oriented convex pieces with signs: itself when convex, else the two signed
    triangles of the fan from its first corner. Returns ``(pieces (P, 4, 2), signs (P,), owner (P,))``, grouped by
    owner in order."""
    q, convex = _convex(q)
    idx = np.arange(len(q))
    cv, nc = idx[convex], idx[~convex]
    tris = np.concatenate([q[nc][:, [0, 1, 2, 2]], q[nc][:, [0, 2, 3, 3]]])
    s = np.sign(_signed_area(tris))
    tris = np.where((s < 0)[:, None, None], tris[:, ::-1], tris)
    owner = np.concatenate([cv, nc, nc])
    order = np.argsort(owner, kind="stable")
    pieces = np.concatenate([q[cv], tris])[order]
    signs = np.concatenate([np.ones(len(cv)), s])[order]
    return pieces, signs, owner[order]


def _intersection_areas(a: FloatArray, b: FloatArray) -> FloatArray:
    """``(K,)`` winding-weighted intersection areas of quadrilateral pairs ``a[k]``, ``b[k]`` (both (K, 4, 2))."""
    origin = a[:, :1]
    pa, sa, oa = _pieces(a - origin)
    pb, sb, ob = _pieces(b - origin)
    na = np.bincount(oa, minlength=len(a))
    nb = np.bincount(ob, minlength=len(b))
    first_a, first_b = np.cumsum(na) - na, np.cumsum(nb) - nb
    count = na * nb
    pair = np.repeat(np.arange(len(a)), count)
    r = np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
    ia = first_a[pair] + r // nb[pair]
    ib = first_b[pair] + r % nb[pair]
    inter = _convex_overlap(pa[ia], pb[ib])
    return np.asarray(np.bincount(pair, weights=inter * sa[ia] * sb[ib], minlength=len(a)), dtype=np.float64)


def quad_iou_matched(a: FloatArray, b: FloatArray, *, zero_area: float = 0.0,
                     min_iou: float | None = None, crowd: np.ndarray | None = None) -> FloatArray:
    """IoU of quadrilateral ``a[k]`` with ``b[k]`` (``(K, 4, 2)`` each) -> ``(K,)``.

    ``zero_area``: the value where both have zero area (the union is empty); the DOTA devkit gives NaN there.
    For self-intersecting quadrilaterals the winding-weighted intersection can exceed the union of the lobes'
    differences, and the ratio leaves ``[0, 1]`` -- as the devkit's does.

    ``min_iou``: pairs of convex quadrilaterals whose IoU cannot reach it (bounded by
    ``U / (A + B - U)`` with ``U = min(A, B, area of the hulls' overlap)``, less a relative 1e-9 margin) are not
    intersected and come out as 0; every IoU that can reach ``min_iou`` is exact.

    ``crowd``: ``(K,)`` bool; where true the union is the area of ``a[k]`` alone (COCO's crowd rule; 0 where that
    area is 0), and the pair is always intersected.

    >>> sq = np.array([[[0, 0], [2, 0], [2, 2], [0, 2]]], float)
    >>> float(quad_iou_matched(sq, sq + [1, 0])[0])
    0.3333333333333333
    """
    qa = np.asarray(a, dtype=np.float64).reshape(-1, 4, 2)
    qb = np.asarray(b, dtype=np.float64).reshape(-1, 4, 2)
    if len(qa) != len(qb):
        raise ValidationError(f"quad_iou_matched: {len(qa)} and {len(qb)} quadrilaterals")
    area_a, area_b = quad_area(qa), quad_area(qb)
    out = np.zeros(len(qa))
    todo = np.arange(len(qa))
    is_crowd = np.zeros(len(qa), dtype=bool) if crowd is None else np.asarray(crowd, dtype=bool)
    if min_iou is not None and len(qa):
        todo = todo[~(_cannot_reach(qa, qb, area_a, area_b, min_iou) & ~is_crowd)]
    for s in range(0, len(todo), _CHUNK):
        k = todo[s:s + _CHUNK]
        out[k] = _iou_chunk(qa[k], qb[k], area_a[k], area_b[k], zero_area, is_crowd[k])
    return out


def _cannot_reach(qa: FloatArray, qb: FloatArray, area_a: FloatArray, area_b: FloatArray,
                  min_iou: float) -> np.ndarray:
    """Pairs of convex quadrilaterals whose IoU is surely below ``min_iou`` (see :func:`quad_iou_matched`)."""
    ha, hb = corners_to_ltrb(qa), corners_to_ltrb(qb)
    iw = np.minimum(ha[:, 2], hb[:, 2]) - np.maximum(ha[:, 0], hb[:, 0])
    ih = np.minimum(ha[:, 3], hb[:, 3]) - np.maximum(ha[:, 1], hb[:, 1])
    u = np.minimum(np.minimum(area_a, area_b), np.maximum(iw, 0) * np.maximum(ih, 0))
    den = area_a + area_b - u
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(den > 0, u / den, np.inf)
    low = bound < min_iou * (1 - 1e-9) - 1e-12
    if low.any():
        low &= _convex(qa)[1] & _convex(qb)[1]
    return np.asarray(low)


def _iou_chunk(qa: FloatArray, qb: FloatArray, area_a: FloatArray, area_b: FloatArray,
               zero_area: float, crowd: np.ndarray) -> FloatArray:
    inter = _intersection_areas(qa, qb)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union == 0, zero_area, inter / union)
        return np.where(crowd, np.where(area_a > 0, inter / area_a, 0.0), iou) if crowd.any() else iou


def quad_iou(a: FloatArray, b: FloatArray, *, crowd: np.ndarray | None = None,
             min_iou: float | None = None) -> FloatArray:
    """Pairwise IoU ``(N, M)`` of ``(N, 4, 2)`` quadrilaterals ``a`` against ``(M, 4, 2)`` quadrilaterals ``b``.

    Only pairs whose axis-aligned hulls overlap are intersected; the others are 0 (as are pairs of zero-area shapes).
    Where ``crowd[j]`` is true the union is the area of ``a[i]`` alone (COCO's crowd rule, as
    :func:`annokit.core.boxes.box_iou`). ``min_iou``: as in :func:`quad_iou_matched` (values that cannot reach it
    may come out as 0; crowd pairs are always computed).

    >>> sq = np.array([[[0, 0], [2, 0], [2, 2], [0, 2]]], float)
    >>> quad_iou(sq, np.concatenate([sq, sq + 5])).tolist()
    [[1.0, 0.0]]
    """
    qa = np.asarray(a, dtype=np.float64).reshape(-1, 4, 2)
    qb = np.asarray(b, dtype=np.float64).reshape(-1, 4, 2)
    ha, hb = corners_to_ltrb(qa), corners_to_ltrb(qb)
    iw = np.minimum(ha[:, None, 2], hb[None, :, 2]) - np.maximum(ha[:, None, 0], hb[None, :, 0])
    ih = np.minimum(ha[:, None, 3], hb[None, :, 3]) - np.maximum(ha[:, None, 1], hb[None, :, 1])
    i, j = np.nonzero((iw > 0) & (ih > 0))
    out = np.zeros((len(qa), len(qb)))
    is_crowd = np.zeros(len(j), dtype=bool) if crowd is None else np.asarray(crowd, dtype=bool)[j]
    out[i[~is_crowd], j[~is_crowd]] = quad_iou_matched(qa[i[~is_crowd]], qb[j[~is_crowd]], min_iou=min_iou)
    ic, jc = i[is_crowd], j[is_crowd]
    if len(ic):
        area = quad_area(qa[ic])
        inter = np.concatenate([_intersection_areas(qa[ic[s:s + _CHUNK]], qb[jc[s:s + _CHUNK]])
                                for s in range(0, len(ic), _CHUNK)])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ic, jc] = np.where(area > 0, inter / area, 0.0)
    return out


def rbox_iou(a: FloatArray, b: FloatArray, *, crowd: np.ndarray | None = None,
             min_iou: float | None = None) -> FloatArray:
    """Pairwise IoU ``(N, M)`` of ``(N, 5)`` rboxes against ``(M, 5)`` rboxes (on their corners); ``crowd`` and
    ``min_iou`` as in :func:`quad_iou`."""
    return quad_iou(rbox_to_corners(a), rbox_to_corners(b), crowd=crowd, min_iou=min_iou)
