"""Image segmentation (region partitions such as superpixels) against a ground-truth partition.

Per image, with ``(H, W)`` integer label maps (any label values):

- ``adapted_rand_error`` and ``variation_of_information`` (the sum of the two conditional entropies, ``H(G|S) +
  H(S|G)``, natural log) are scikit-image's :func:`skimage.metrics.adapted_rand_error` (with
  ``ignore_labels=()``, every label counts) and :func:`skimage.metrics.variation_of_information`.
- ``under_segmentation_error`` (Neubert & Protzel 2012's corrected form):
  ``(1/N) sum_g sum_{s: |s & g| > 0} min(|s & g|, |s - g|)`` from the contingency table of ``G`` and ``S``.
- ``boundary_recall``: the fraction of ground-truth boundary pixels that have a segmentation boundary pixel within
  Chebyshev distance ``tolerance`` (2 by default); a boundary pixel is one whose label differs from its east or
  south neighbour. 1 when the ground truth has no boundary.

Dataset numbers are means over images (exact sums, so merges are exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from annokit.errors import ValidationError
from annokit.metrics._exact import ExactSum
from annokit.metrics._util import fnone

__all__ = ["under_segmentation_error", "boundary_map", "boundary_recall", "ImageSegResult", "ImageSegAccumulator",
           "image_segmentation_metrics", "image_segmentation_scores"]


def _pair(gt: Any, seg: Any) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(gt)
    s = np.asarray(seg)
    if g.shape != s.shape or g.ndim != 2:
        raise ValidationError(f"label maps must be (H, W) and of one shape, got {g.shape} and {s.shape}")
    for name, a in (("gt", g), ("seg", s)):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValidationError(f"{name}: expected integer labels, got dtype {a.dtype}")
    return g, s


def _contingency(g: np.ndarray, s: np.ndarray) -> np.ndarray:
    _, gi = np.unique(g, return_inverse=True)
    _, si = np.unique(s, return_inverse=True)
    gi, si = gi.ravel(), si.ravel()
    ns = int(si.max()) + 1 if si.size else 0
    ng = int(gi.max()) + 1 if gi.size else 0
    return np.bincount(gi * ns + si, minlength=ng * ns).reshape(ng, ns)


def under_segmentation_error(gt: Any, seg: Any) -> float:
    """Corrected under-segmentation error of a partition ``seg`` against ``gt`` (both ``(H, W)`` int)."""
    g, s = _pair(gt, seg)
    if g.size == 0:
        return math.nan
    t = _contingency(g, s)
    size_s = t.sum(axis=0)[None, :]
    cost = np.where(t > 0, np.minimum(t, size_s - t), 0)
    return float(cost.sum()) / g.size


def boundary_map(labels: Any) -> np.ndarray:
    """``(H, W)`` bool: pixels whose label differs from the east or south neighbour."""
    a = np.asarray(labels)
    b = np.zeros(a.shape, bool)
    b[:, :-1] |= a[:, :-1] != a[:, 1:]
    b[:-1, :] |= a[:-1, :] != a[1:, :]
    return b


def boundary_recall(gt: Any, seg: Any, *, tolerance: int = 2) -> float:
    """Fraction of ground-truth boundary pixels within ``tolerance`` (Chebyshev) of a segmentation boundary."""
    from scipy.ndimage import binary_dilation

    g, s = _pair(gt, seg)
    gb = boundary_map(g)
    n = int(gb.sum())
    if n == 0:
        return 1.0
    sb = boundary_map(s)
    if tolerance > 0:
        sb = binary_dilation(sb, structure=np.ones((2 * tolerance + 1, 2 * tolerance + 1), bool))
    return int(np.count_nonzero(gb & sb)) / n


def image_segmentation_scores(gt: Any, seg: Any, *, tolerance: int = 2) -> dict[str, float]:
    """Per-image ``adapted_rand_error``, ``variation_of_information``, ``under_segmentation_error``,
    ``boundary_recall``."""
    from skimage.metrics import adapted_rand_error, variation_of_information

    g, s = _pair(gt, seg)
    # scikit-image has no type hints: its two functions are untyped calls
    are = float(adapted_rand_error(g, s, ignore_labels=())[0])  # type: ignore[no-untyped-call]
    vi = float(np.sum(variation_of_information(g, s)))  # type: ignore[no-untyped-call]
    return {"adapted_rand_error": are, "variation_of_information": vi,
            "under_segmentation_error": under_segmentation_error(g, s),
            "boundary_recall": boundary_recall(g, s, tolerance=tolerance)}


_KEYS = ("adapted_rand_error", "variation_of_information", "under_segmentation_error", "boundary_recall")


@dataclass(frozen=True)
class ImageSegResult:
    adapted_rand_error: float
    variation_of_information: float
    under_segmentation_error: float
    boundary_recall: float
    n_images: int

    def metrics_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: fnone(getattr(self, k)) for k in _KEYS}
        d["n_images"] = self.n_images
        return d


class ImageSegAccumulator:
    """Mergeable means of the per-image scores; ``update(gt, seg)`` per image."""

    def __init__(self, *, tolerance: int = 2) -> None:
        self.tolerance = int(tolerance)
        self.sums = {k: ExactSum() for k in _KEYS}
        self.n = 0

    def update(self, gt: Any, seg: Any) -> ImageSegAccumulator:
        sc = image_segmentation_scores(gt, seg, tolerance=self.tolerance)
        for k in _KEYS:
            self.sums[k].add(sc[k])
        self.n += 1
        return self

    def merge(self, other: ImageSegAccumulator) -> ImageSegAccumulator:
        if self.tolerance != other.tolerance:
            raise ValidationError("cannot merge accumulators with different tolerance")
        out = ImageSegAccumulator(tolerance=self.tolerance)
        out.sums = {k: self.sums[k].merge(other.sums[k]) for k in _KEYS}
        out.n = self.n + other.n
        return out

    def compute(self) -> ImageSegResult:
        vals = {k: self.sums[k].value() / self.n if self.n else math.nan for k in _KEYS}
        return ImageSegResult(**vals, n_images=self.n)


def image_segmentation_metrics(gts: Any, segs: Any, *, tolerance: int = 2) -> ImageSegResult:
    """Means over paired label maps.

    >>> g = np.array([[1, 1, 2, 2]] * 4)
    >>> r = image_segmentation_metrics([g], [g])
    >>> r.adapted_rand_error, r.under_segmentation_error, r.boundary_recall
    (0.0, 0.0, 1.0)
    """
    acc = ImageSegAccumulator(tolerance=tolerance)
    for g, s in zip(gts, segs, strict=True):
        acc.update(g, s)
    return acc.compute()
