"""Object (foreground / background) segmentation: mask IoU (J), Dice and boundary F-score, per image and pooled.

Per image, with binary ``(H, W)`` masks and optional ``void`` pixels (excluded everywhere):

- ``iou = |G & P| / |G | P|`` and ``dice = 2 |G & P| / (|G| + |P|)``; both are 1 when both masks are empty
  (the DAVIS benchmark's convention for J).
- ``boundary_f`` as the DAVIS benchmark's ``f_measure``: boundaries by its ``seg2bmap`` (a pixel differs from its
  east, south or south-east neighbour), matched within a disk of radius ``ceil(bound_th * ||(H, W)||)``
  (``bound_th`` < 1) or ``bound_th`` pixels; precision / recall of matched boundary pixels, with P = R = 1 when both
  boundaries are empty, (P, R) = (1, 0) when only the prediction's is, (0, 1) when only the ground truth's is;
  ``F = 2PR / (P + R)`` or 0.

The dataset summary gives the means over images (``mean_iou``, ``mean_dice``, ``mean_boundary_f``) and the pooled
``iou`` / ``dice`` over all pixels. The state is integer pixel counts and exact sums, so merges are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit.errors import ValidationError
from annokit.metrics._exact import ExactSum
from annokit.metrics._util import fnone

__all__ = ["mask_iou_dice", "seg2bmap", "boundary_fscore", "ObjectSegResult", "ObjectSegAccumulator",
           "object_segmentation_metrics"]


def _bool_map(x: Any, name: str) -> np.ndarray:
    """``x`` as a bool array, else :class:`ValidationError` naming ``name``."""
    try:
        return np.asarray(x).astype(bool)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}: expected a binary mask ({exc})") from None


def _masks(gt: Any, pred: Any, void: Any = None) -> tuple[np.ndarray, np.ndarray]:
    g = _bool_map(gt, "gt")
    p = _bool_map(pred, "pred")
    if g.shape != p.shape or g.ndim != 2:
        raise ValidationError(f"masks must be (H, W) and of one shape, got {g.shape} and {p.shape}")
    if void is not None:
        v = _bool_map(void, "void")
        if v.shape != g.shape:
            raise ValidationError(f"void: expected shape {g.shape}, got {v.shape}")
        g, p = g & ~v, p & ~v
    return g, p


def mask_iou_dice(gt: Any, pred: Any, *, void: Any = None) -> tuple[float, float]:
    """``(iou, dice)`` of two binary ``(H, W)`` masks (1, 1 when both are empty)."""
    g, p = _masks(gt, pred, void)
    i = int(np.count_nonzero(g & p))
    u = int(np.count_nonzero(g | p))
    s = int(np.count_nonzero(g)) + int(np.count_nonzero(p))
    return (i / u if u else 1.0), (2 * i / s if s else 1.0)


def seg2bmap(mask: Any) -> np.ndarray:
    """DAVIS' boundary map of a binary ``(H, W)`` mask: ``(H, W)`` bool."""
    seg = _bool_map(mask, "mask")
    if seg.ndim != 2:
        raise ValidationError(f"mask: expected an (H, W) array, got shape {seg.shape}")
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b: np.ndarray = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _disk(radius: int) -> np.ndarray:
    """scikit-image's ``disk(radius)`` as a bool structuring element (DAVIS dilates with it)."""
    from skimage.morphology import disk

    return np.asarray(disk(radius), dtype=bool)  # type: ignore[no-untyped-call]  # scikit-image has no type hints


def boundary_fscore(gt: Any, pred: Any, *, bound_th: float = 0.008, void: Any = None) -> tuple[float, float, float]:
    """``(F, precision, recall)`` of the boundaries of two binary masks (DAVIS ``f_measure``)."""
    from scipy.ndimage import binary_dilation

    g, p = _masks(gt, pred, void)
    r = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*g.shape))
    fb, gb = seg2bmap(p), seg2bmap(g)
    fp_dil = binary_dilation(fb, structure=_disk(int(r))) if r > 0 else fb
    gt_dil = binary_dilation(gb, structure=_disk(int(r))) if r > 0 else gb
    n_fg, n_gt = int(fb.sum()), int(gb.sum())
    if n_fg == 0 and n_gt > 0:
        prec, rec = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        prec, rec = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        prec, rec = 1.0, 1.0
    else:
        prec = int(np.count_nonzero(fb & gt_dil)) / n_fg
        rec = int(np.count_nonzero(gb & fp_dil)) / n_gt
    f = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return f, prec, rec


@dataclass(frozen=True)
class ObjectSegResult:
    mean_iou: float
    mean_dice: float
    mean_boundary_f: float
    iou: float
    dice: float
    n_images: int

    def metrics_dict(self) -> dict[str, Any]:
        return {"mean_iou": fnone(self.mean_iou), "mean_dice": fnone(self.mean_dice),
                "mean_boundary_f": fnone(self.mean_boundary_f), "iou": fnone(self.iou), "dice": fnone(self.dice),
                "n_images": self.n_images}


class ObjectSegAccumulator:
    """Mergeable state; ``update(gt, pred, void=None)`` per image with binary ``(H, W)`` masks."""

    def __init__(self, *, bound_th: float = 0.008) -> None:
        self.bound_th = float(bound_th)
        self.inter = 0
        self.union = 0
        self.sizes = 0
        self.n = 0
        self.iou_sum = ExactSum()
        self.dice_sum = ExactSum()
        self.f_sum = ExactSum()

    def update(self, gt: Any, pred: Any, *, void: Any = None) -> ObjectSegAccumulator:
        g, p = _masks(gt, pred, void)
        self.inter += int(np.count_nonzero(g & p))
        self.union += int(np.count_nonzero(g | p))
        self.sizes += int(np.count_nonzero(g)) + int(np.count_nonzero(p))
        j, d = mask_iou_dice(g, p)
        f = boundary_fscore(g, p, bound_th=self.bound_th)[0]
        self.iou_sum.add(j)
        self.dice_sum.add(d)
        self.f_sum.add(f)
        self.n += 1
        return self

    def merge(self, other: ObjectSegAccumulator) -> ObjectSegAccumulator:
        if self.bound_th != other.bound_th:
            raise ValidationError("cannot merge accumulators with different bound_th")
        out = ObjectSegAccumulator(bound_th=self.bound_th)
        out.inter, out.union = self.inter + other.inter, self.union + other.union
        out.sizes, out.n = self.sizes + other.sizes, self.n + other.n
        out.iou_sum = self.iou_sum.merge(other.iou_sum)
        out.dice_sum = self.dice_sum.merge(other.dice_sum)
        out.f_sum = self.f_sum.merge(other.f_sum)
        return out

    def compute(self) -> ObjectSegResult:
        n = self.n
        return ObjectSegResult(
            mean_iou=self.iou_sum.value() / n if n else math.nan,
            mean_dice=self.dice_sum.value() / n if n else math.nan,
            mean_boundary_f=self.f_sum.value() / n if n else math.nan,
            iou=self.inter / self.union if self.union else (1.0 if n else math.nan),
            dice=2 * self.inter / self.sizes if self.sizes else (1.0 if n else math.nan), n_images=n)


def object_segmentation_metrics(gts: Any, preds: Any, *, bound_th: float = 0.008) -> ObjectSegResult:
    """Summary over paired masks (sequences of ``(H, W)`` masks).

    >>> g = np.zeros((10, 10), bool); g[2:6, 2:6] = True
    >>> r = object_segmentation_metrics([g], [g])
    >>> r.mean_iou, r.mean_boundary_f
    (1.0, 1.0)
    """
    acc = ObjectSegAccumulator(bound_th=bound_th)
    for g, p in zip(gts, preds, strict=True):
        acc.update(g, p)
    return acc.compute()
