"""Image preprocessing for network inputs, and the way back to original pixel coordinates.

A :class:`Preprocess` spec says how an ``(H, W, 3)`` uint8 RGB image becomes a network input: resize (stretch or
letterbox) to ``size``, swap to BGR if asked, ``x * scale``, then ``(x - mean) / std``, then the layout. Every
image's :class:`Transform` records ``input = original * scale_xy + pad_xy`` so boxes and maps go back exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import ConfigDict

from annokit.core.model import FrozenModel
from annokit.errors import ValidationError

__all__ = ["Preprocess", "Transform", "preprocess_batch", "letterbox", "resize", "boxes_to_original",
           "resize_scores", "argmax_channels", "upsampled_argmax"]


class Preprocess(FrozenModel):
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
    """Bilinear resampling to ``hw`` (Pillow's, which widens its filter when shrinking: no aliasing)."""
    from PIL import Image

    if img.shape[:2] == hw:
        return img
    return np.asarray(Image.fromarray(img).resize((hw[1], hw[0]), Image.Resampling.BILINEAR))


def _letterbox_geometry(hw: tuple[int, int], size: tuple[int, int]) -> Transform:
    """Where an image of ``hw`` goes in a letterboxed input of ``size``: scaled keeping its aspect ratio to fit,
    centred (the padding split evenly, the odd pixel at the bottom / right)."""
    h, w = hw
    H, W = size
    r = min(H / h, W / w)
    nh, nw = max(1, int(round(h * r))), max(1, int(round(w * r)))
    py, px = (H - nh) // 2, (W - nw) // 2
    return Transform((h, w), (nw / w, nh / h), (px, py), (nh, nw))


def _fit_into(out: np.ndarray, img: np.ndarray, size: tuple[int, int], mode: str, pad_value: int) -> Transform:
    """Write ``img`` resized (``stretch`` or ``letterbox``) into ``out`` ``(H, W, 3)``; returns its transform."""
    h, w = img.shape[:2]
    if mode == "letterbox" and (h, w) != size:
        tf = _letterbox_geometry((h, w), size)
        (px, py), (nh, nw) = tf.pad_xy, tf.content_hw
        out[...] = pad_value
        out[py:py + nh, px:px + nw] = _resize(img, (nh, nw))
        return tf
    out[...] = _resize(img, size)
    return Transform((h, w), (size[1] / w, size[0] / h), (0, 0), size)


def letterbox(image: np.ndarray, size: tuple[int, int], *, pad_value: int = 114) -> tuple[np.ndarray, Transform]:
    """Scale ``image`` to fit ``size`` keeping its aspect ratio, centred on a ``pad_value`` background.

    Parameters
    ----------
    image : (H, W, 3) uint8
    size : (height, width) of the result
    pad_value : the grey level of the padding (114, as YOLO exports expect)

    Returns
    -------
    The ``size`` image and its :class:`Transform` (``input = original * scale_xy + pad_xy``), which
    :func:`boxes_to_original` and :func:`resize_scores` use to go back.

    Examples
    --------
    >>> x, tf = letterbox(np.zeros((50, 100, 3), np.uint8), (64, 64))
    >>> x.shape, tf.pad_xy, tf.content_hw
    ((64, 64, 3), (0, 16), (32, 64))
    """
    size = (int(size[0]), int(size[1]))
    out = np.empty((*size, 3), np.uint8)
    return out, _fit_into(out, np.asarray(image), size, "letterbox", pad_value)


def resize(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Transform]:
    """Stretch ``image`` to ``size`` (bilinear, Pillow's); returns the result and its :class:`Transform`.

    >>> x, tf = resize(np.zeros((50, 100, 3), np.uint8), (64, 64))
    >>> x.shape, tf.scale_xy
    ((64, 64, 3), (0.64, 1.28))
    """
    size = (int(size[0]), int(size[1]))
    out = np.empty((*size, 3), np.uint8)
    return out, _fit_into(out, np.asarray(image), size, "stretch", 0)


def preprocess_batch(images: Sequence[np.ndarray], spec: Preprocess) -> tuple[np.ndarray, list[Transform]]:
    """``images`` (each ``(H, W, 3)`` uint8 RGB) -> a network input of ``spec`` and one :class:`Transform` each."""
    if spec.size is None:
        hw0 = images[0].shape[:2]
        if any(im.shape[:2] != hw0 for im in images):
            raise ValidationError("images of different sizes in one batch and no input size to resize them to")
        size = (int(hw0[0]), int(hw0[1]))
    else:
        size = (int(spec.size[0]), int(spec.size[1]))
    if all(im.shape[:2] == size for im in images):  # no resizing: no per-image copy either
        out = np.stack(images)
        tfs = [Transform(size, (1.0, 1.0), (0, 0), size) for _ in images]
    else:
        out = np.empty((len(images), *size, 3), np.uint8)
        tfs = [_fit_into(out[i], im, size, spec.resize, spec.pad_value) for i, im in enumerate(images)]
    return _to_tensor(out, spec), tfs


def _to_tensor(out: np.ndarray, spec: Preprocess) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 RGB -> the network's channel order, scaling, normalisation, layout and dtype."""
    x = out[..., ::-1] if spec.channels == "BGR" else out
    if spec.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)  # a view: the float pass below writes the contiguous result
        shape: tuple[int, ...] = (1, 3, 1, 1)
    else:
        shape = (1, 1, 1, 3)
    if spec.dtype == "uint8":
        return np.ascontiguousarray(x)
    std = np.asarray(spec.std, np.float32)
    mul = (np.float32(spec.scale) / std).reshape(shape)
    add = (-np.asarray(spec.mean, np.float32) / std).reshape(shape)
    arr = np.empty(x.shape, np.float32)
    np.multiply(x, mul, out=arr)
    arr += add
    return arr.astype(np.float16) if spec.dtype == "float16" else arr


def boxes_to_original(boxes: np.ndarray, tf: Transform) -> np.ndarray:
    """``(N, 4)`` ltrb boxes in network-input pixels -> original pixels, clipped to the image."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    sx, sy = tf.scale_xy
    px, py = tf.pad_xy
    out: np.ndarray = (b - np.array([px, py, px, py])) / np.array([sx, sy, sx, sy])
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
    """``(C, ...)`` -> ``(...)`` index of the largest channel, exactly ``np.argmax(scores, axis=0)`` (the first
    channel on ties; the first NaN where there is one).

    ``np.argmax`` over the leading axis walks it with a stride and is slow. Here channels play a knock-out
    tournament in order: neighbours meet, the right one wins only when strictly greater (so ties keep the
    earlier channel), winners meet winners -- every step a plain pass over contiguous memory.
    """
    s = np.asarray(scores)
    c = s.shape[0]
    dtype = np.uint8 if c <= 256 else np.int64
    if c == 1:
        return np.zeros(s.shape[1:], dtype)
    vals = [s[k] for k in range(c)]
    idx: list[int | np.ndarray] = list(range(c))  # an int: every pixel still has that channel
    while len(vals) > 1:
        nv: list[np.ndarray] = []
        ni: list[int | np.ndarray] = []
        for a in range(0, len(vals) - 1, 2):
            va, vb, ia, ib = vals[a], vals[a + 1], idx[a], idx[a + 1]
            right = np.greater(vb, va)
            nv.append(np.maximum(va, vb))
            if dtype is np.uint8:  # ia + right * (ib - ia), wrapping mod 256 to the right value
                won = right.view(np.uint8)
                if isinstance(ia, int) and isinstance(ib, int):  # first round: neighbours, ib == ia + 1
                    ni.append(won + np.uint8(ia))
                else:
                    step = np.subtract(ib, ia, dtype=np.uint8, casting="unsafe")
                    step *= won
                    step += ia if isinstance(ia, np.ndarray) else np.uint8(ia)
                    ni.append(step)
            else:
                ni.append(np.where(right, ib, ia).astype(dtype, copy=False))
        if len(vals) % 2:
            nv.append(vals[-1])
            ni.append(idx[-1])
        vals, idx = nv, ni
    out = idx[0]
    assert isinstance(out, np.ndarray)
    bad = np.isnan(vals[0]) if vals[0].dtype.kind == "f" else None  # NaN is carried by np.maximum to the top
    if bad is not None and bad.any():  # there np.argmax answers the first NaN
        out[bad] = np.argmax(s[:, bad], axis=0)
    return out


def _lerp_block(s00: np.ndarray, s10: np.ndarray, s01: np.ndarray, s11: np.ndarray, WY: np.ndarray,
                WX: np.ndarray) -> np.ndarray:
    """Bilinear values ``(..., fy, fx, Q)`` of ``Q`` quads with corners ``(..., Q)`` at row weights ``WY`` ``(fy, Q)``
    and column weights ``WX`` ``(fx, Q)``: :func:`resize_scores`' float32 arithmetic (rows first, then columns),
    laid out with the quads innermost so every pass runs over long contiguous rows."""
    left = (s10 - s00)[..., None, :] * WY
    left += s00[..., None, :]  # (..., fy, Q)
    right = (s11 - s01)[..., None, :] * WY
    right += s01[..., None, :]
    right -= left
    v: np.ndarray = right[..., :, None, :] * WX
    v += left[..., :, None, :]
    return v


def upsampled_argmax(scores: np.ndarray, tf: Transform, input_hw: tuple[int, int]) -> np.ndarray:
    """``argmax_channels(resize_scores(scores, tf, input_hw))`` without resampling every channel everywhere.

    ``scores``: ``(C, h, w)``, or ``(N, C, h, w)`` for N images sharing one transform (then ``(N, H, W)`` comes
    back). Every output pixel is a convex combination of one *quad* of source cells (its top-left cell and the
    cells below, right and diagonal). Where a quad's four cells share one arg-max class, so do all its pixels
    (ties still go to the first channel): they are filled by repeating the low-resolution arg-max. Only the
    pixels of quads whose cells disagree -- the class borders -- are resampled, with the same float32
    arithmetic as :func:`resize_scores`. Returns channel indices.
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
    y0, _, wy = _linear_weights(H, h, py * sy_, ch * sy_)
    x0, _, wx = _linear_weights(W, w, px * sx_, cw * sx_)
    by_channel = s.transpose(1, 0, 2, 3)  # (C, N, h, w)
    low = argmax_channels(by_channel)  # (N, h, w)
    # same[i, j]: cells (i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1) agree, the last row and column repeated
    # (as the clamped source indices min(i + 1, h - 1) and min(j + 1, w - 1) are)
    lp = np.empty((n, h + 1, w + 1), low.dtype)
    lp[:, :h, :w] = low
    lp[:, h, :w] = low[:, h - 1]
    lp[:, :, w] = lp[:, :, w - 1]
    corner = lp[:, :-1, :-1]
    same = (corner == lp[:, 1:, :-1]) & (corner == lp[:, :-1, 1:]) & (corner == lp[:, 1:, 1:])
    out = np.take(np.take(low, x0, axis=2), y0, axis=1)  # (N, H, W): every pixel its quad's top-left class
    q = np.flatnonzero(~same)
    if len(q) == 0:
        return out[0] if single else out
    img, rem = np.divmod(q, h * w)
    i, j = np.divmod(rem, w)
    # the output rows of quad row i are ry[i] .. ry[i] + ny[i] - 1 (y0 is non-decreasing), columns likewise
    ny = np.bincount(y0, minlength=h)
    ry = np.cumsum(ny) - ny
    nx = np.bincount(x0, minlength=w)
    rx = np.cumsum(nx) - nx
    flat_scores = by_channel.reshape(c, n * h * w)
    base = img * (h * w)
    top, bottom = base + i * w, base + np.minimum(i + 1, h - 1) * w
    left, right = j, np.minimum(j + 1, w - 1)
    corners = tuple(np.take(flat_scores, at, axis=1) for at in (top + left, bottom + left, top + right,
                                                                  bottom + right))  # each (C, Q)
    nyq, nxq = ny[i], nx[j]
    # most quads span the same number of rows and columns (the stride): those are one regular block; the rest
    # (image edges, fractional scales) are padded to their largest size and the padding dropped
    fy, fx = int(np.bincount(nyq).argmax()), int(np.bincount(nxq).argmax())
    regular = (nyq == fy) & (nxq == fx)
    flat_out = out.reshape(-1)
    for sel in (slice(None),) if regular.all() else (np.flatnonzero(regular), np.flatnonzero(~regular)):
        ny_s, nx_s = nyq[sel], nxq[sel]
        if len(ny_s) == 0:
            continue
        my, mx = int(ny_s.max()), int(nx_s.max())
        rows = np.minimum(ry[i[sel]][None, :] + np.arange(my)[:, None], H - 1)  # (my, Q)
        cols = np.minimum(rx[j[sel]][None, :] + np.arange(mx)[:, None], W - 1)  # (mx, Q)
        s00, s10, s01, s11 = (x if isinstance(sel, slice) else np.take(x, sel, axis=1) for x in corners)
        v = _lerp_block(s00, s10, s01, s11, wy[rows], wx[cols])  # (C, my, mx, Q)
        lab = argmax_channels(v.reshape(c, -1))
        pos = ((img[sel] * H)[None, :] + rows) * W
        pos = (pos[:, None, :] + cols[None]).reshape(-1)
        if my != int(ny_s.min()) or mx != int(nx_s.min()):  # padded: keep the quads' own pixels only
            keep = ((np.arange(my)[:, None] < ny_s)[:, None, :] & (np.arange(mx)[:, None] < nx_s)[None]).reshape(-1)
            lab, pos = lab[keep], pos[keep]
        flat_out[pos] = lab
    return out[0] if single else out
