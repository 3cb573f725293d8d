"""Ground truth and predictions drawn over an image: boxes, instance masks, semantic and panoptic maps.

Outcome colours are fixed and distinct: TP green, FP red, FN orange (plain ground truth blue, plain prediction
purple). Labels sit on a filled box of the object's colour with black or white text chosen by the colour's
luminance, so they read on any background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from annokit.errors import ValidationError

__all__ = ["STATUS_COLORS", "overlay", "label_colors", "text_color_for"]

STATUS_COLORS: dict[str, str] = {
    "TP": "#1a9850",
    "FP": "#d73027",
    "FN": "#fd8d3c",
    "gt": "#2166ac",
    "pred": "#762a83",
    "ignored": "#999999",
}


def text_color_for(rgb: Sequence[float]) -> str:
    """``"black"`` or ``"white"``, whichever contrasts more with ``rgb`` (components in [0, 1])."""
    r, g, b = (float(x) for x in rgb[:3])
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if lum > 0.5 else "white"


def label_colors(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 3)`` float colours in [0, 1], well spread (golden-ratio hues), deterministic."""
    import colorsys

    h = (np.arange(n) * 0.618033988749895 + seed * 0.1) % 1.0
    return np.array([colorsys.hsv_to_rgb(x, 0.65, 0.95) for x in h]).reshape(n, 3)


def _to_bitmap(m: Any) -> np.ndarray:
    if isinstance(m, dict):
        from annokit.core.masks import rle_to_bitmap

        return rle_to_bitmap(m).astype(bool)
    return np.asarray(m, dtype=bool)


def overlay(
    ax: Any,
    image: np.ndarray | None,
    *,
    image_hw: tuple[int, int] | None = None,
    boxes: np.ndarray | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
    status: Sequence[str] | None = None,
    scores: np.ndarray | None = None,
    masks: Sequence[Any] | None = None,
    names: Mapping[int, str] | None = None,
    semantic: np.ndarray | None = None,
    panoptic: np.ndarray | None = None,
    ignore_index: int | None = 255,
    alpha: float = 0.45,
    title: str | None = None,
    show_labels: bool = True,
) -> Any:
    """Draw ``image`` (``(H, W)`` or ``(H, W, 3|4)``; ``None``: a grey canvas of ``image_hw``) and objects on ``ax``.

    Parameters
    ----------
    boxes : (N, 4) float64 ltrb, optional
        One rectangle each, coloured by ``status[i]`` (a key of :data:`STATUS_COLORS`; default ``"gt"``).
    labels, scores : (N,), optional
        Category ids (named through ``names``) and scores written in each object's tag.
    masks : sequence of N RLE dicts or (H, W) bool arrays, optional
        Filled with the object's colour at ``alpha``.
    semantic : (H, W) int, optional
        Class map painted with one colour per class id (the same id, the same colour, in every image), with a
        legend of the classes present (named through ``names``, at most 20); ``ignore_index`` and negative values
        are left clear.
    panoptic : (H, W) int, optional
        Segment-id map (e.g. ``R + 256 G + 65536 B`` of a COCO panoptic PNG) painted with one colour per segment
        (0 = void left clear), segment borders drawn in white.

    Returns
    -------
    The ``ax``; rectangles are ``ax.patches`` and tags are ``ax.texts``, one per object.

    Examples
    --------
    >>> from annokit.viz import new_axes
    >>> fig, ax = new_axes()
    >>> ax = overlay(ax, None, image_hw=(40, 60), boxes=np.array([[5.0, 5.0, 30.0, 20.0]]), labels=[1],
    ...              status=["TP"], names={1: "cat"})
    >>> len(ax.patches), ax.texts[0].get_text()
    (1, 'cat TP')
    """
    objects = _Objects.build(boxes, labels, status, scores, masks)
    h, w = _draw_image(ax, image, image_hw)
    if semantic is not None:
        _draw_semantic(ax, semantic, ignore_index=ignore_index, alpha=alpha, names=names)
    if panoptic is not None:
        _draw_panoptic(ax, panoptic, alpha=alpha)
    if masks is not None:
        _draw_masks(ax, masks, objects.status, alpha=alpha)
    _draw_boxes(ax, objects, names=names, show_labels=show_labels)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


class _Objects:
    """The objects of :func:`overlay`, checked: ``boxes`` (N, 4), and per object an optional label, score and
    status (``"gt"`` when not given); ``tagged``: whether the status is written in the tag."""

    def __init__(self, boxes: np.ndarray, labels: np.ndarray | None, status: list[str], scores: np.ndarray | None,
                 tagged: bool) -> None:
        self.boxes, self.labels, self.status, self.scores, self.tagged = boxes, labels, status, scores, tagged

    @classmethod
    def build(cls, boxes: Any, labels: Any, status: Sequence[str] | None, scores: Any,
              masks: Sequence[Any] | None) -> _Objects:
        """Check that every per-object input has one entry per box (or per mask, without boxes)."""
        try:
            b = np.zeros((0, 4)) if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        except ValueError:
            raise ValidationError(f"overlay: boxes must be (N, 4), got shape {np.shape(boxes)}") from None
        n = len(b) if boxes is not None else (len(masks) if masks is not None else 0)
        st = list(status) if status is not None else ["gt"] * n
        lab = None if labels is None else np.asarray(labels)
        sc = None if scores is None else np.asarray(scores, dtype=np.float64)
        for name, v in (("labels", lab), ("status", st), ("scores", sc), ("masks", masks)):
            if v is not None and len(v) != n:
                raise ValidationError(f"overlay: {len(v)} {name} for {n} objects")
        return cls(b, lab, st, sc, status is not None)

    def tag(self, i: int, names: Mapping[int, str] | None) -> str:
        """The text of object ``i``'s tag: its class name, score and status (what is known of them)."""
        parts = []
        if self.labels is not None:
            lab = int(self.labels[i])
            parts.append(names.get(lab, str(lab)) if names else str(lab))
        if self.scores is not None and not np.isnan(self.scores[i]):
            parts.append(f"{float(self.scores[i]):.2f}")
        if self.tagged:
            parts.append(self.status[i])
        return " ".join(parts) if parts else self.status[i]


def _draw_image(ax: Any, image: np.ndarray | None, image_hw: tuple[int, int] | None) -> tuple[int, int]:
    """Draw the image (or a grey canvas of ``image_hw``); returns its ``(height, width)``."""
    if image is None:
        if image_hw is None:
            raise ValidationError("overlay: give an image or image_hw")
        h, w = image_hw
        ax.imshow(np.full((h, w, 3), 0.85))
        return int(h), int(w)
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValidationError(f"overlay: the image must be (H, W) or (H, W, 3|4), got shape {img.shape}")
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    return int(img.shape[0]), int(img.shape[1])


def _draw_semantic(ax: Any, semantic: np.ndarray, *, ignore_index: int | None, alpha: float,
                   names: Mapping[int, str] | None) -> None:
    """Paint a class map, one colour per class id, with a legend of the classes present (at most 20)."""
    sem = np.asarray(semantic).astype(np.int64)
    keep = sem >= 0
    if ignore_index is not None:
        keep &= sem != ignore_index
    rgba = np.zeros((*sem.shape, 4))
    present = np.unique(sem[keep])
    palette = label_colors(int(present.max()) + 1 if len(present) else 0)  # the same class, the same colour
    if len(present):
        rgba[keep, :3] = palette[sem[keep]]
        rgba[keep, 3] = alpha
    ax.imshow(rgba, interpolation="nearest")
    if 0 < len(present) <= 20:
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=palette[c], label=(names or {}).get(int(c), str(int(c)))) for c in present]
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8)


def _draw_panoptic(ax: Any, panoptic: np.ndarray, *, alpha: float) -> None:
    """Paint a segment-id map, one colour per segment (0 clear), with white segment borders."""
    pan = np.asarray(panoptic).astype(np.int64)
    rgba = np.zeros((*pan.shape, 4))
    pos = pan > 0
    if pos.any():
        uniq, inv = np.unique(pan[pos], return_inverse=True)
        rgba[pos, :3] = label_colors(len(uniq), seed=3)[inv]
        rgba[pos, 3] = alpha
    ax.imshow(rgba, interpolation="nearest")
    border = np.zeros(pan.shape, bool)
    border[:-1] |= pan[:-1] != pan[1:]
    border[:, :-1] |= pan[:, :-1] != pan[:, 1:]
    rgba = np.zeros((*pan.shape, 4))
    rgba[border] = (1, 1, 1, 0.9)
    ax.imshow(rgba, interpolation="nearest")


def _draw_masks(ax: Any, masks: Sequence[Any], status: list[str], *, alpha: float) -> None:
    """Fill each mask (RLE or bitmap; None skipped) with its object's status colour."""
    from matplotlib.colors import to_rgb

    for i, m in enumerate(masks):
        if m is None:
            continue
        bm = _to_bitmap(m)
        rgba = np.zeros((*bm.shape, 4))
        rgba[bm, :3] = to_rgb(STATUS_COLORS.get(status[i], "#2166ac"))
        rgba[bm, 3] = alpha
        ax.imshow(rgba, interpolation="nearest")


def _draw_boxes(ax: Any, objects: _Objects, *, names: Mapping[int, str] | None, show_labels: bool) -> None:
    """One rectangle per box in its status colour (dashed for FN and ignored), with its tag."""
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Rectangle

    b = objects.boxes
    for i in range(len(b)):
        color = STATUS_COLORS.get(objects.status[i], "#2166ac")
        dashed = objects.status[i] in ("FN", "ignored")
        ax.add_patch(Rectangle((b[i, 0], b[i, 1]), b[i, 2] - b[i, 0], b[i, 3] - b[i, 1], fill=False,
                               edgecolor=color, linewidth=1.8, linestyle="--" if dashed else "-"))
        if show_labels:
            ax.text(b[i, 0], b[i, 1], objects.tag(i, names), fontsize=7, va="bottom", ha="left",
                    color=text_color_for(to_rgb(color)),
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1.0, "alpha": 0.9}, clip_on=True)
