"""Label-map PNGs for semantic segmentation, and the guarded image opening the PNG readers share.

``read_label_map``: a palette PNG gives its palette indices (the class ids, as VOC / mmseg store them), a
grayscale PNG (8 or 16 bit) gives its values; an RGB PNG is refused with a clear error (colours are not class ids:
convert it with the palette first). Images over :data:`MAX_PIXELS` pixels are refused before decoding.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from annokit.errors import FormatError

__all__ = ["MAX_PIXELS", "open_image", "read_label_map"]

#: Largest image (height x width) the readers decode; larger ones are refused before decoding (bomb guard).
MAX_PIXELS = 1 << 28


def open_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> Any:
    """Open ``path`` with Pillow (lazily imported), refusing images over ``max_pixels`` before decoding."""
    from PIL import Image

    p = Path(path)
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)
    except FileNotFoundError:
        raise FormatError(p, None, "file not found") from None
    except Image.DecompressionBombError as exc:
        raise FormatError(p, None, f"image refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise FormatError(p, None, f"not a readable image ({exc})") from None
    w, h = img.size
    if w * h > limit:
        img.close()
        raise FormatError(p, None, f"image is {w}x{h} = {w * h} pixels, over the {limit}-pixel limit")
    return img


def read_label_map(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> np.ndarray:
    """``(H, W)`` integer class ids of a palette or grayscale PNG (uint8, or int32 for 16-bit images).

    >>> import tempfile, PIL.Image
    >>> f = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    >>> PIL.Image.fromarray(np.array([[0, 3], [255, 1]], np.uint8), mode="L").save(f)
    >>> read_label_map(f).tolist()
    [[0, 3], [255, 1]]
    """
    p = Path(path)
    img = open_image(p, max_pixels=max_pixels)
    with img:
        mode = img.mode
        if mode in ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "LA", "PA"):
            raise FormatError(p, None, f"label maps must be palette or grayscale PNGs, got mode {mode} "
                                       "(colours are not class ids)")
        try:
            if mode in ("P", "L", "1"):
                arr = np.asarray(img).astype(np.uint8, copy=False)
            elif mode.startswith("I"):
                arr = np.asarray(img).astype(np.int32)
            else:
                raise FormatError(p, None, f"unsupported image mode {mode}")
        except OSError as exc:
            raise FormatError(p, None, f"cannot decode ({exc})") from None
    if arr.ndim != 2:
        raise FormatError(p, None, f"expected a single-channel image, got shape {arr.shape}")
    return arr
