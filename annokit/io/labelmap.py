"""Label-map PNGs for semantic segmentation, and the guarded image opening the PNG readers share.

``read_label_map``: a palette PNG gives its palette indices (the class ids, as VOC / mmseg store them), a
grayscale PNG (8 or 16 bit) gives its values; an RGB PNG is refused with a clear error (colours are not class ids:
convert it with the palette first). Images over :data:`MAX_PIXELS` pixels are refused before decoding.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from annokit.errors import FormatError
from annokit.io.pngfast import decode_png8, fast_png_available

__all__ = ["MAX_PIXELS", "PngHeader", "fast_png_codec", "open_image", "png_header", "read_file_bytes",
           "read_label_map", "read_label_map_file", "read_png_bytes", "scratch_bytes"]

#: Largest image (height x width) the readers decode; larger ones are refused before decoding (bomb guard).
MAX_PIXELS = 1 << 28


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

@dataclass(frozen=True)
class PngHeader:
    """A PNG's size and sample format, from its IHDR chunk."""

    width: int
    height: int
    bit_depth: int
    color_type: int  # 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA


def png_header(data: bytes) -> PngHeader | None:
    """The IHDR fields of a PNG file's bytes, or ``None`` when they are not a PNG (the caller then lets Pillow
    report what they are).

    >>> ihdr = bytes([0, 0, 0, 13]) + b"IHDR" + bytes([0, 0, 2, 128, 0, 0, 1, 224, 8, 2])
    >>> png_header(bytes.fromhex("89504e470d0a1a0a") + ihdr)
    PngHeader(width=640, height=480, bit_depth=8, color_type=2)
    """
    if len(data) < 26 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    w, h, depth, ctype = struct.unpack_from(">IIBB", data, 16)
    return PngHeader(w, h, depth, ctype)


_CODEC: list[ModuleType | None] = []


def fast_png_codec() -> ModuleType | None:
    """``imagecodecs`` when installed (libpng without the GIL: ~1.4x Pillow's speed on RGB id maps), else ``None``
    (Pillow then decodes everything). Imported once, lazily."""
    if not _CODEC:
        try:
            import imagecodecs
        except ImportError:
            _CODEC.append(None)
        else:
            _CODEC.append(imagecodecs if getattr(imagecodecs, "png_decode", None) else None)
    return _CODEC[0]


def read_png_bytes(p: Path) -> bytes | None:
    """The file's bytes for the fast decoders (:func:`annokit.io.pngfast.decode_png8`, :func:`fast_png_codec`), or
    ``None`` when neither is installed or the file cannot be read (Pillow's path then opens it and reports the
    error)."""
    if fast_png_codec() is None and not fast_png_available():
        return None
    try:
        return p.read_bytes()
    except OSError:
        return None


_LOCAL = threading.local()


def scratch_bytes(name: str, size: int) -> np.ndarray:
    """A per-thread flat uint8 buffer of at least ``size`` bytes, kept for the next image of the same size (a
    fresh one per image costs a page fault every 4 KiB)."""
    buf: np.ndarray | None = getattr(_LOCAL, name, None)
    if buf is None or buf.size < size:
        buf = np.empty(size, np.uint8)
        setattr(_LOCAL, name, buf)
    return buf


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


def _read_gray8_fast(p: Path, limit: int, out: np.ndarray | None) -> np.ndarray | None:
    """8-bit grayscale PNGs through :func:`fast_png_codec` (into ``out`` when it fits); ``None`` for anything else,
    which Pillow's path then decodes or reports."""
    data = read_png_bytes(p)
    if data is None:
        return None
    fast = decode_png8(data, color_types=(0, 3), max_pixels=limit)
    if fast is not None:  # libdeflate + libspng: gray values, or the palette indices; libspng's output is a new
        return fast       # array already, so copying it into ``out`` would only cost a pass over the image
    codec = fast_png_codec()
    head = png_header(data)
    if codec is None or head is None or head.bit_depth != 8 or head.color_type != 0:
        return None
    if not 0 < head.width * head.height <= limit:
        return None
    shape = (head.height, head.width)
    fits = out is not None and out.shape == shape and out.dtype == np.uint8 and out.flags.c_contiguous
    target = out if fits else np.empty(shape, np.uint8)
    try:
            arr = codec.png_decode(data, out=target)
    except Exception:  # any decoder failure: Pillow's path decides and reports
        return None
    if not (isinstance(arr, np.ndarray) and arr.shape == shape and arr.dtype == np.uint8):
        return None
    return arr


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """A file's bytes in one ``read`` of the size ``fstat`` gives (three system calls, without the buffered file
    object ``open`` builds: ~14 us against ~33 us for a 15 KB label map); read on to the end when the file is
    not that size after all. Raises ``OSError`` as ``open`` does.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> read_file_bytes(f.name)
    b'abc'
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) != size:  # grown, shrunk or a short read: the rest, to the end
            parts = [data]
            while parts[-1]:
                parts.append(os.read(fd, 1 << 20))
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


def read_label_map_file(path: str, *, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`read_label_map` of a path string, for callers reading many files: the file is read with one
    ``open`` and handed to :func:`annokit.io.pngfast.decode_png8` without pathlib's per-path objects (~20 us an
    image); anything that path does not take (or without the fast decoders) goes through :func:`read_label_map`,
    which decides and names what is wrong.

    >>> import tempfile, PIL.Image
    >>> f = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    >>> PIL.Image.fromarray(np.array([[0, 3], [255, 1]], np.uint8), mode="L").save(f)
    >>> read_label_map_file(f).tolist()
    [[0, 3], [255, 1]]
    """
    if fast_png_available():
        try:
            data = read_file_bytes(path)
        except OSError:
            pass  # read_label_map reports it
        else:
            fast = decode_png8(data, color_types=(0, 3))
            if fast is not None:
                return fast
    return read_label_map(path, out=out)


def read_label_map(path: str | os.PathLike[str], *, max_pixels: int | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """``(H, W)`` integer class ids of a palette or grayscale PNG (uint8, or int32 for 16-bit images).

    Parameters
    ----------
    path : str or path
        The PNG.
    max_pixels : int, optional
        Images with more pixels are refused before decoding (default :data:`MAX_PIXELS`).
    out : numpy.ndarray, optional
        A uint8 ``(H, W)`` array 8-bit images may be decoded into (when its shape fits); reading a folder with
        one such buffer saves a fresh allocation per image (imagecodecs' libpng path; the libdeflate + libspng
        path returns its own new array, which is not copied again).

    Returns
    -------
    numpy.ndarray
        Palette indices or gray values.

    Examples
    --------
    >>> import tempfile, PIL.Image
    >>> f = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    >>> PIL.Image.fromarray(np.array([[0, 3], [255, 1]], np.uint8), mode="L").save(f)
    >>> read_label_map(f).tolist()
    [[0, 3], [255, 1]]
    """
    p = Path(path)
    fast = _read_gray8_fast(p, MAX_PIXELS if max_pixels is None else int(max_pixels), out)
    if fast is not None:
        return fast
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
