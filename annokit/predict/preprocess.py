"""Image preprocessing for network inputs, and the way back to original pixel coordinates.

A :class:`Preprocess` spec says how an ``(H, W, 3)`` uint8 RGB image becomes a network input: resize (stretch or
letterbox) to ``size``, swap to BGR if asked, ``x * scale``, then ``(x - mean) / std``, then the layout. Every
image's :class:`Transform` records ``input = original * scale_xy + pad_xy`` so boxes and maps go back exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from annokit.errors import ValidationError

__all__ = ["Preprocess", "Transform", "preprocess_batch", "boxes_to_original", "resize_scores",
           "argmax_channels", "upsampled_argmax"]


class Preprocess(BaseModel):
    """How images become a network input.

    size : (height, width) or None
        Network input size; ``None`` feeds images at their own size (a batch must then share one size).
    resize : ``"stretch"`` | ``"letterbox"``
        Stretch to ``size``, or scale keeping the aspect ratio and pad (centred) with ``pad_value``.
    scale, mean, std
        ``x = (pixel * scale - mean) / std`` per channel (in the order after ``channels``).
    layout : ``"NCHW"`` | ``"NHWC"``; channels : ``"RGB"`` | ``"BGR"``
    dtype : ``"float32"`` | ``"float16"`` | ``"uint8"``

    >>> Preprocess(size=(224, 224), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)).layout
    'NCHW'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: tuple[int, int] | None = None
    resize: Literal["stretch", "letterbox"] = "stretch"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    channels: Literal["RGB", "BGR"] = "RGB"
    pad_value: int = 114
    dtype: Literal["float32", "float16", "uint8"] = "float32"


@dataclass(frozen=True)
class Transform:
    """``input_xy = original_xy * scale + pad``; ``image_hw`` the original size, ``content_hw`` the resized one."""

    image_hw: tuple[int, int]
    scale_xy: tuple[float, float]
    pad_xy: tuple[int, int]
    content_hw: tuple[int, int]


def _resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if img.shape[:2] == hw:
        return img
    return np.asarray(Image.fromarray(img).resize((hw[1], hw[0]), Image.BILINEAR))


def preprocess_batch(images: Sequence[np.ndarray], spec: Preprocess) -> tuple[np.ndarray, list[Transform]]:
    """``images`` (each ``(H, W, 3)`` uint8 RGB) -> a network input of ``spec`` and one :class:`Transform` each."""
    if spec.size is None:
        hw0 = images[0].shape[:2]
        if any(im.shape[:2] != hw0 for im in images):
            raise ValidationError("images of different sizes in one batch and no input size to resize them to")
        size = (int(hw0[0]), int(hw0[1]))
    else:
        size = (int(spec.size[0]), int(spec.size[1]))
    H, W = size
    tfs = []
    if all(im.shape[:2] == size for im in images):  # no resizing: no per-image copy either
        out = np.stack(images)
        tfs = [Transform(size, (1.0, 1.0), (0, 0), size) for _ in images]
    else:
        out = np.empty((len(images), H, W, 3), np.uint8)
        for i, im in enumerate(images):
            h, w = im.shape[:2]
            if spec.resize == "letterbox" and (h, w) != size:
                r = min(H / h, W / w)
                nh, nw = max(1, int(round(h * r))), max(1, int(round(w * r)))
                py, px = (H - nh) // 2, (W - nw) // 2
                out[i] = spec.pad_value
                out[i, py:py + nh, px:px + nw] = _resize(im, (nh, nw))
                tfs.append(Transform((h, w), (nw / w, nh / h), (px, py), (nh, nw)))
            else:
                out[i] = _resize(im, size)
                tfs.append(Transform((h, w), (W / w, H / h), (0, 0), (H, W)))
    x = out[..., ::-1] if spec.channels == "BGR" else out
    if spec.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)  # a view: the float pass below writes the contiguous result
        shape = (1, 3, 1, 1)
    else:
        shape = (1, 1, 1, 3)
    if spec.dtype == "uint8":
        arr = np.ascontiguousarray(x)
    else:
        std = np.asarray(spec.std, np.float32)
        mul = (np.float32(spec.scale) / std).reshape(shape)
        add = (-np.asarray(spec.mean, np.float32) / std).reshape(shape)
        arr = np.empty(x.shape, np.float32)
        np.multiply(x, mul, out=arr)
        arr += add
        if spec.dtype == "float16":
            arr = arr.astype(np.float16)
    return arr, tfs


def boxes_to_original(boxes: np.ndarray, tf: Transform) -> np.ndarray:
    """``(N, 4)`` ltrb boxes in network-input pixels -> original pixels, clipped to the image."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    sx, sy = tf.scale_xy
    px, py = tf.pad_xy
    out = (b - np.array([px, py, px, py])) / np.array([sx, sy, sx, sy])
    h, w = tf.image_hw
    out[:, 0::2] = np.clip(out[:, 0::2], 0, w)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, h)
    return out


@functools.lru_cache(maxsize=64)
def _linear_weights(n_out: int, n_in: int, start: float, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of linear interpolation: output pixel ``i`` samples the input at
    ``start + (i + 0.5) * length / n_out - 0.5`` (half-pixel centres, like ``align_corners=False``)."""
    pos = start + (np.arange(n_out) + 0.5) * (length / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    out = (i0, i1, (pos - i0).astype(np.float32))
    for a in out:  # cached: shared by every call with the same geometry
        a.flags.writeable = False
    return out


def resize_scores(scores: np.ndarray, tf: Transform, input_hw: tuple[int, int]) -> np.ndarray:
    """``(C, h, w)`` score maps over the network input (any stride) -> ``(C, H, W)`` over the original image.

    The letterbox padding is cut off and the content is resampled bilinearly (half-pixel centres).
    """
    c, h, w = scores.shape
    sy_, sx_ = h / input_hw[0], w / input_hw[1]  # map cells per input pixel
    px, py = tf.pad_xy
    ch, cw = tf.content_hw
    H, W = tf.image_hw
    y0, y1, wy = _linear_weights(H, h, py * sy_, ch * sy_)
    x0, x1, wx = _linear_weights(W, w, px * sx_, cw * sx_)
    s = np.asarray(scores, dtype=np.float32)
    a = np.take(s, y0, axis=1)
    b = np.take(s, y1, axis=1)
    b -= a
    b *= wy[None, :, None]
    a += b  # rows done: (C, H, w)
    c = np.take(a, x0, axis=2)
    d = np.take(a, x1, axis=2)
    d -= c
    d *= wx
    c += d
    return c


def argmax_channels(scores: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` -> ``(H, W)`` index of the largest channel (the first on ties, as ``np.argmax``).

    A loop over channels: for the few channels of segmentation models it is several times faster than
    ``np.argmax(axis=0)``, which walks the channel axis with a stride.
    """
    c = scores.shape[0]
    if c > 64:
        return scores.argmax(0)
    best = scores[0].copy()
    idx = np.zeros(scores.shape[1:], np.uint8 if c < 256 else np.int64)
    for k in range(1, c):
        m = scores[k] > best
        idx[m] = k
        np.maximum(best, scores[k], out=best)
    return idx


def upsampled_argmax(scores: np.ndarray, tf: Transform, input_hw: tuple[int, int]) -> np.ndarray:
    """``argmax_channels(resize_scores(scores, tf, input_hw))`` without resampling every channel everywhere.

    ``scores``: ``(C, h, w)``, or ``(N, C, h, w)`` for N images sharing one transform (then ``(N, H, W)`` comes
    back). A resampled pixel is a convex combination of its four source cells; where those four share one
    arg-max class the combination has it too (ties still go to the first channel), so only the pixels whose
    source cells disagree -- the class borders -- are resampled, with the same float32 arithmetic as
    :func:`resize_scores`. Returns channel indices.
    """
    single = scores.ndim == 3
    s = np.asarray(scores, dtype=np.float32)
    if single:
        s = s[None]
    n, c, h, w = s.shape
    sy_, sx_ = h / input_hw[0], w / input_hw[1]
    px, py = tf.pad_xy
    ch, cw = tf.content_hw
    H, W = tf.image_hw
    y0, y1, wy = _linear_weights(H, h, py * sy_, ch * sy_)
    x0, x1, wx = _linear_weights(W, w, px * sx_, cw * sx_)
    low = argmax_channels(s.transpose(1, 0, 2, 3))  # (N, h, w)
    # same[i, j]: the cells (i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1) agree (edges replicated, as the
    # clamped source indices y1 = min(y0 + 1, h - 1) and x1 = min(x0 + 1, w - 1) are)
    lp = np.pad(low, ((0, 0), (0, 1), (0, 1)), mode="edge")
    corner = lp[:, :-1, :-1]
    same = (corner == lp[:, 1:, :-1]) & (corner == lp[:, :-1, 1:]) & (corner == lp[:, 1:, 1:])
    src = (y0[:, None] * w + x0[None, :]).ravel()  # source cell of every output pixel: one gather, not two
    out = np.take(low.reshape(n, h * w), src, axis=1).reshape(n, H, W)
    border = ~np.take(same.reshape(n, h * w), src, axis=1)
    flat = np.flatnonzero(border)
    if len(flat):
        img, rem = np.divmod(flat, H * W)
        ys, xs = np.divmod(rem, W)
        WY, WX = wy[ys], wx[xs]
        base = img * (h * w)
        top, bot = base + y0[ys] * w, base + y1[ys] * w
        left, right = x0[xs], x1[xs]
        s2 = s.transpose(1, 0, 2, 3).reshape(c, n * h * w)
        a = np.take(s2, top + left, axis=1)
        b = np.take(s2, bot + left, axis=1)
        b -= a
        b *= WY
        a += b  # left column, rows interpolated
        e = np.take(s2, top + right, axis=1)
        d = np.take(s2, bot + right, axis=1)
        d -= e
        d *= WY
        e += d  # right column
        e -= a
        e *= WX
        a += e
        out.reshape(-1)[flat] = argmax_channels(a[:, :, None])[:, 0]
    return out[0] if single else out
