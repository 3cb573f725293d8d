"""Ground truth and predictions drawn over an image: boxes, instance masks, semantic and panoptic maps.

Outcome colours are fixed and distinct: TP green, FP red, FN orange (plain ground truth blue, plain prediction
purple). Labels sit on a filled box of the object's colour with black or white text chosen by the colour's
luminance, so they read on any background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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

    Returns the ``ax``; rectangles are ``ax.patches`` and tags are ``ax.texts``, one per object.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Rectangle

    if image is None:
        if image_hw is None:
            raise ValueError("overlay: give an image or image_hw")
        h, w = image_hw
        ax.imshow(np.full((h, w, 3), 0.85))
    else:
        img = np.asarray(image)
        h, w = img.shape[:2]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)

    if semantic is not None:
        sem = np.asarray(semantic).astype(np.int64)
        keep = sem >= 0
        if ignore_index is not None:
            keep &= sem != ignore_index
        rgba = np.zeros((*sem.shape, 4))
        present = np.unique(sem[keep])
        if len(present):
            palette = label_colors(int(present.max()) + 1)  # colour by class id: the same class, the same colour
            rgba[keep, :3] = palette[sem[keep]]
            rgba[keep, 3] = alpha
        ax.imshow(rgba, interpolation="nearest")
        if 0 < len(present) <= 20:
            from matplotlib.patches import Patch

            handles = [Patch(facecolor=palette[c], label=(names or {}).get(int(c), str(int(c)))) for c in present]
            ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8)
    if panoptic is not None:
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

    n = 0 if boxes is None else len(boxes)
    st = list(status) if status is not None else ["gt"] * n
    if masks is not None:
        for i, m in enumerate(masks):
            if m is None:
                continue
            bm = _to_bitmap(m)
            rgba = np.zeros((*bm.shape, 4))
            rgba[bm, :3] = to_rgb(STATUS_COLORS.get(st[i] if i < len(st) else "gt", "#2166ac"))
            rgba[bm, 3] = alpha
            ax.imshow(rgba, interpolation="nearest")
    if boxes is not None:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        for i in range(n):
            color = STATUS_COLORS.get(st[i], "#2166ac")
            dashed = st[i] in ("FN", "ignored")
            ax.add_patch(Rectangle((b[i, 0], b[i, 1]), b[i, 2] - b[i, 0], b[i, 3] - b[i, 1], fill=False,
                                   edgecolor=color, linewidth=1.8, linestyle="--" if dashed else "-"))
            if show_labels:
                parts = []
                if labels is not None:
                    lab = int(labels[i])
                    parts.append(names.get(lab, str(lab)) if names else str(lab))
                if scores is not None and not np.isnan(scores[i]):
                    parts.append(f"{float(scores[i]):.2f}")
                if status is not None:
                    parts.append(st[i])
                txt = " ".join(parts) if parts else st[i]
                ax.text(b[i, 0], b[i, 1], txt, fontsize=7, va="bottom", ha="left", color=text_color_for(
                    to_rgb(color)), bbox={"facecolor": color, "edgecolor": "none", "pad": 1.0, "alpha": 0.9},
                    clip_on=True)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax
