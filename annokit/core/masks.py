"""Masks as COCO run-length encoding (RLE); polygons and bitmaps convert at the edges.

An RLE is a dict ``{"size": [height, width], "counts": bytes}`` (compressed, column-major as in COCO). Polygons
rasterize exactly as pycocotools does (this module calls :mod:`pycocotools.mask` for the raster work), so masks
made here are bit-identical to those pycocotools evaluates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from pycocotools import mask as _cmask

from annokit.errors import ValidationError

__all__ = [
    "RLE",
    "segmentation_kind",
    "segmentation_to_rle",
    "segmentations_to_rles",
    "polygons_to_rle",
    "bitmap_to_rle",
    "rle_to_bitmap",
    "rle_area",
    "rle_to_ltrb",
    "mask_iou",
    "merge_rles",
    "counts_to_strings",
    "rles_from_runs",
    "check_rle_strings",
    "first_bad_rle_string",
]

RLE = dict[str, Any]
"""A COCO run-length encoding: ``{"size": [height, width], "counts": bytes | str}`` (compressed) or with
``counts`` a list of run lengths (uncompressed)."""


def _rle(obj: Any) -> RLE:
    """pycocotools' untyped RLE result, typed."""
    return cast(RLE, obj)


def segmentation_kind(seg: Any) -> str:
    """``"polygon"``, ``"rle"`` (compressed), ``"uncompressed_rle"`` or ``"none"``."""
    if seg is None:
        return "none"
    if isinstance(seg, list):
        return "polygon"
    if isinstance(seg, dict):
        counts = seg.get("counts")
        if isinstance(counts, list):
            return "uncompressed_rle"
        if isinstance(counts, (str, bytes)):
            return "rle"
    raise ValidationError(f"segmentation is neither a polygon list nor an RLE dict: {type(seg).__name__}")


def polygons_to_rle(polygons: Sequence[Sequence[float]], height: int, width: int) -> RLE:
    """Rasterize one object's polygons (each ``[x0, y0, x1, y1, ...]``) into one RLE, as pycocotools does."""
    polys = [list(map(float, p)) for p in polygons]
    if not polys:
        return _rle(_cmask.encode(np.zeros((height, width, 1), dtype=np.uint8, order="F"))[0])
    rles = _cmask.frPyObjects(polys, height, width)
    return _rle(_cmask.merge(rles) if len(rles) > 1 else rles[0])


def segmentations_to_rles(segs: Sequence[Any], height: int, width: int) -> list[RLE]:
    """:func:`segmentation_to_rle` of several objects of one image: the polygons of all of them rasterized in one
    pycocotools call (each polygon is rasterized on its own: the same RLEs), then merged object by object.

    Objects that are not polygon lists, and images with a polygon of 4 numbers or fewer (pycocotools reads a first
    polygon of 4 as boxes), go one by one."""
    polys: list[list[float]] = []
    ends: list[int] = []
    for seg in segs:
        if seg.__class__ is not list or not all(p.__class__ is list and len(p) > 4 for p in seg):
            return [segmentation_to_rle(x, height, width) for x in segs]
        polys += [list(map(float, p)) for p in seg]
        ends.append(len(polys))
    rles = _cmask.frPyObjects(polys, height, width) if polys else []
    out: list[RLE] = []
    start = 0
    for end in ends:
        if end - start == 1:
            out.append(_rle(rles[start]))
        elif end == start:
            out.append(polygons_to_rle([], height, width))
        else:
            out.append(_rle(_cmask.merge(rles[start:end])))
        start = end
    return out


def segmentation_to_rle(seg: Any, height: int, width: int) -> RLE:
    """Any COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed RLE.

    Follows ``COCO.annToRLE``: polygons are rasterized and merged, uncompressed counts are compressed, a compressed
    RLE is returned as it is.
    """
    kind = segmentation_kind(seg)
    if kind == "polygon":
        return polygons_to_rle(seg, height, width)
    if kind == "uncompressed_rle":
        return _rle(_cmask.frPyObjects(seg, *seg["size"]))
    if kind == "rle":
        return _rle(seg)
    raise ValidationError("no segmentation to convert")


def bitmap_to_rle(mask: np.ndarray) -> RLE:
    """``(H, W)`` bool/uint8 mask -> compressed RLE."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValidationError(f"mask: expected shape (H, W), got {m.shape}")
    return _rle(_cmask.encode(np.asfortranarray(m.astype(np.uint8))))


def rle_to_bitmap(rle: RLE) -> np.ndarray:
    """Compressed or uncompressed RLE -> ``(H, W)`` bool mask."""
    if isinstance(rle.get("counts"), list):
        rle = _cmask.frPyObjects(rle, *rle["size"])
    return np.asarray(_cmask.decode(rle), dtype=bool)


def merge_rles(rles: Sequence[RLE], *, intersect: bool = False) -> RLE:
    return _rle(_cmask.merge(list(rles), intersect=int(intersect)))


def rle_area(rles: Sequence[RLE]) -> np.ndarray:
    """``(N,)`` float64 pixel counts."""
    if len(rles) == 0:
        return np.zeros(0)
    rles = list(rles)
    # pycocotools' area() overflows on lists of 256 or more under numpy 2: ask in chunks
    return np.concatenate(
        [np.asarray(_cmask.area(rles[i : i + 255]), dtype=np.float64) for i in range(0, len(rles), 255)]
    )


def rle_to_ltrb(rles: Sequence[RLE]) -> np.ndarray:
    """``(N, 4)`` tight ltrb boxes of the masks (pixel-edge coordinates)."""
    if len(rles) == 0:
        return np.zeros((0, 4))
    xywh = np.asarray(_cmask.toBbox(list(rles)), dtype=np.float64).reshape(-1, 4)
    out = xywh.copy()
    out[:, 2] += out[:, 0]
    out[:, 3] += out[:, 1]
    return out


def mask_iou(a: Sequence[RLE], b: Sequence[RLE], crowd: Sequence[bool] | np.ndarray | None = None, *,
             checked: bool = False) -> np.ndarray:
    """Pairwise mask IoU ``(len(a), len(b))``; where ``crowd[j]`` the union is ``area(a[i])`` (COCO rule).

    Compressed RLE strings are checked first (:func:`check_rle_strings`; not with ``checked``: the caller did):
    on a string that is not an RLE of its ``size``, pycocotools' ``iou`` loops without end. Such a string raises
    :class:`~annokit.errors.ValidationError`."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    if not checked:
        check_rle_strings("a", a)
        check_rle_strings("b", b)
    c = [0] * len(b) if crowd is None else [int(x) for x in crowd]
    return np.asarray(_cmask.iou(list(a), list(b), c), dtype=np.float64).reshape(len(a), len(b))


def check_rle_strings(side: str, rles: Sequence[RLE]) -> None:
    """The compressed RLE strings among ``rles`` checked to be RLEs of their ``size``; else a ValidationError naming
    the first that is not (``{side}[i]``). Other entries (uncompressed RLEs, boxes) are left alone."""
    bad = first_bad_rle_string(rles)
    if bad is not None:
        raise ValidationError(f"mask {side}[{bad}]: compressed counts are not a valid RLE string of height*width "
                              "pixels")


def first_bad_rle_string(rles: Sequence[Any]) -> int | None:
    """The index of the first entry of ``rles`` that is a dict with string ``counts`` that is not a compressed RLE of
    its ``size`` (:func:`annokit.core.rle_check.counts_areas`), or None."""
    from annokit.core.rle_check import counts_areas

    idx, counts, total = [], [], []
    for i, r in enumerate(rles):
        c = r.get("counts") if isinstance(r, dict) else None
        if c.__class__ is str or c.__class__ is bytes:
            size: Any = r.get("size")
            try:
                total.append(int(size[0]) * int(size[1]))
            except (TypeError, ValueError, IndexError):
                return i
            idx.append(i)
            counts.append(c)
    if counts:
        ok = counts_areas(counts, total)[0]
        if not ok.all():
            return idx[int(np.flatnonzero(~ok)[0])]
    return None


def counts_to_strings(counts: np.ndarray, lengths: np.ndarray) -> list[bytes]:
    """Many uncompressed RLEs at once -> their compressed COCO strings, byte-identical to pycocotools'.

    ``counts``: every RLE's run lengths, one after another; ``lengths``: how many belong to each RLE. The COCO
    string codes each count (minus the count two before it, from the fourth on) in 5-bit groups, low first, each
    group ``+ 48`` with ``0x20`` set while more follow -- done here for all counts together with array operations.
    """
    cnt = np.asarray(counts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    stop = np.cumsum(lengths)
    x = cnt.copy()
    x[2:] -= cnt[:-2]
    first = stop - lengths
    for k in range(3):  # an RLE's first three counts are coded as they are
        at = first[lengths > k] + k
        x[at] = cnt[at]
    # round r codes 5 more bits of the counts still "alive"; most counts need one or two rounds
    rounds: list[tuple[np.ndarray, np.ndarray]] = []  # (which counts, their byte in this round)
    nbytes = np.ones(len(x), np.int64)
    who = np.arange(len(x))
    while len(who):
        c = x & 0x1F
        x >>= 5
        more = np.where(c & 0x10, x != -1, x != 0)
        rounds.append((who, (c | (more.view(np.uint8) << 5)) + 48))
        who, x = who[more], x[more]
        nbytes[who] += 1
    start = np.cumsum(nbytes) - nbytes
    data = np.empty(int(nbytes.sum()), np.uint8)
    for r, (w, byte) in enumerate(rounds):
        data[start[w] + r] = byte
    raw = data.tobytes()
    at = np.concatenate([[0], np.cumsum(nbytes)])[np.concatenate([[0], stop])].tolist()
    return [raw[a:b] for a, b in zip(at[:-1], at[1:])]


def rles_from_runs(owner: np.ndarray, starts: np.ndarray, ends: np.ndarray, n: int, height: int,
                   width: int) -> list[RLE]:
    """Masks given as runs of ones -> ``n`` compressed RLEs (byte-identical to ``pycocotools.mask.encode``).

    Run ``j`` covers column-major pixel indices ``[starts[j], ends[j])`` of mask ``owner[j]``; runs are sorted by
    ``(owner, start)``, non-empty and non-overlapping (touching runs are joined here). A mask without runs is
    all zeros.
    """
    owner = np.asarray(owner, np.int64)
    s = np.asarray(starts, np.int64)
    e = np.asarray(ends, np.int64)
    total = height * width
    if len(s) > 1:  # join runs that touch (a run ending where the next of the same mask begins)
        join = (e[:-1] == s[1:]) & (owner[:-1] == owner[1:])
        if join.any():
            keep_s = np.concatenate([[True], ~join])
            keep_e = np.concatenate([~join, [True]])
            owner, s, e = owner[keep_s], s[keep_s], e[keep_e]
    runs = np.bincount(owner, minlength=n) if len(owner) else np.zeros(n, np.int64)
    # positions per mask: 0, s0, e0, s1, e1, ..., total; the counts are their differences
    size = 2 * runs + 2
    off = np.cumsum(size) - size
    pos = np.empty(int(size.sum()), np.int64)
    pos[off] = 0
    pos[off + size - 1] = total
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(runs) - runs, runs)
    at = off[owner] + 1 + 2 * rank
    pos[at] = s
    pos[at + 1] = e
    cnt = np.diff(pos)
    head = np.ones(len(cnt), bool)
    head[(off + size - 1)[:-1]] = False  # the difference across two masks is not a count
    lengths = size - 1
    # pycocotools ends on the last run: no trailing zero-length run of zeros (a mask whose last pixel is set)
    last = off + size - 2  # index into cnt of each mask's last count
    drop = (cnt[last] == 0) & (runs > 0)
    head[last[drop]] = False
    lengths = lengths - drop
    strings = counts_to_strings(cnt[head], lengths)
    return [{"size": [height, width], "counts": c} for c in strings]
