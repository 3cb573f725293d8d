"""The images a predictor sees: image files -> ``(H, W, 3)`` uint8 RGB, and the image lists of folders and datasets.

Images deeper than 8 bits are scaled by a documented rule, never clipped silently (:func:`load_image`):

* 8-bit images (grey, RGB, palette, with alpha, CMYK, 1-bit) are converted to RGB by Pillow (1-bit: 0 or 255);
* 16-bit integer images (medical, depth, thermal PNG / TIFF): ``round(value * 255 / 65535)``, so a 16-bit image
  holding ``257 * v`` gives exactly the 8-bit ``v``. Colour images of 16 bits per channel are reduced to 8 bits by
  Pillow as it reads them (their high byte);
* floating-point images (32-bit TIFF): values in ``[0, 1]`` become ``round(value * 255)``; values outside, or NaN,
  are refused with a message that says how to give the range;
* 32-bit integer images: refused unless the range is given (annokit cannot tell what their full range means).

``image_range`` overrides the rule: ``"minmax"`` stretches each image's own minimum..maximum to 0..255 (depth maps,
thermal images of arbitrary units), ``(lo, hi)`` maps ``lo..hi`` to ``0..255`` and clips outside (windowing: e.g.
``(0, 4095)`` for 12-bit data stored in 16-bit files).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from annokit._internal.paths import safe_join
from annokit.errors import AnnokitWarning, FormatError
from annokit.predict.base import PredictionError
from annokit.predict.options import OptionError

__all__ = ["IMAGE_SUFFIXES", "ImageItem", "ImageRange", "images_from_dir", "images_from_dataset", "load_image",
           "parse_image_range"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm")
PathLike = str | os.PathLike[str]
ImageRange = Literal["auto", "minmax"] | tuple[float, float]
_LEGACY_PREFIXES = {"coco": "coco", "csv": "class-csv", "images": "images"}


@dataclass(frozen=True)
class ImageItem:
    """An image to predict: its id (as in the ground truth), its name in outputs, where it is, and the size the
    dataset records for it (``None`` when unknown)."""

    image_id: int
    file_name: str
    path: Path
    expected_hw: tuple[int, int] | None = None


# ------------------------------------------------------------------------------------------------ pixel values
def parse_image_range(value: Any) -> ImageRange:
    """``"auto"``, ``"minmax"``, ``"LO:HI"`` or ``(lo, hi)`` -> an :data:`ImageRange` (``OptionError`` otherwise).

    >>> parse_image_range("0:4095"), parse_image_range("minmax")
    ((0.0, 4095.0), 'minmax')
    """
    if value in ("auto", "minmax"):
        return str(value)  # type: ignore[return-value]
    lohi: Any = value
    if isinstance(value, str):
        lohi = value.split(":")
    try:
        lo, hi = (float(v) for v in lohi)
    except (TypeError, ValueError):
        raise OptionError(f"option 'image_range': expected auto, minmax or LO:HI (e.g. 0:4095), got {value!r}") \
            from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise OptionError(f"option 'image_range': LO:HI needs finite numbers with HI > LO, got {value!r}")
    return (lo, hi)


def _scale(a: np.ndarray, lo: float, hi: float, *, clip: bool) -> np.ndarray:
    """``lo..hi`` -> ``0..255``, rounded half up (the multiplication before the division keeps ``257 * v`` exact)."""
    v = (a.astype(np.float64) - lo) * 255.0 / (hi - lo) + 0.5
    if clip:
        np.clip(v, 0, 255.5, out=v)
    return np.floor(v).astype(np.uint8)


def _range_of(a: np.ndarray, sixteen: bool, where: str, image_range: ImageRange) -> tuple[float, float, bool]:
    """The ``(lo, hi, clip)`` that maps ``a`` to 0..255 (``sixteen``: a 16-bit integer image)."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise PredictionError(where, "the image has NaN or infinite pixels")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if image_range == "minmax":  # a constant image becomes 0
        return lo, (hi if hi > lo else lo + 1), False
    if isinstance(image_range, tuple):
        return float(image_range[0]), float(image_range[1]), True
    if sixteen:
        return 0.0, 65535.0, False
    if a.dtype.kind == "f":
        if lo < 0 or hi > 1:
            raise PredictionError(where, f"a floating-point image with values {lo:g}..{hi:g}, outside 0..1: say "
                                         "how to scale it (image_range=(LO, HI) / --image-range LO:HI, or minmax)")
        return 0.0, 1.0, False
    raise PredictionError(where, f"a 32-bit integer image (values {lo:g}..{hi:g}): annokit cannot tell its range; "
                                 "give it (image_range=(LO, HI) / --image-range LO:HI, or minmax)")


def load_image(path: PathLike, *, image_range: ImageRange = "auto") -> np.ndarray:
    """An image file -> ``(H, W, 3)`` uint8 RGB, scaled by its bit depth (the rule in this module's docstring).

    Parameters
    ----------
    path : the image file
    image_range : ``"auto"`` (the rule by bit depth), ``"minmax"`` (each image's own range) or ``(lo, hi)``

    Returns
    -------
    (H, W, 3) uint8 array

    Raises
    ------
    PredictionError
        The file is missing, unreadable, a decompression bomb, or its values cannot be scaled by the rule.

    Examples
    --------
    >>> load_image("sample_data/cat/chelsea.png").shape
    (300, 451, 3)
    """
    from PIL import Image, UnidentifiedImageError

    where = str(path)
    try:
        with Image.open(path) as im:
            if im.mode.startswith("I") or im.mode == "F":  # one channel of more than 8 bits
                a = np.asarray(im)
                # Pillow reads 16-bit grey as I;16 (older versions: I, from a PNG)
                sixteen = im.mode.startswith("I;16") or (im.mode == "I" and im.format == "PNG")
                lo, hi, clip = _range_of(a, sixteen, where, image_range)
                return np.repeat(_scale(a, lo, hi, clip=clip)[..., None], 3, axis=2)
            rgb = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise PredictionError(where, "no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PredictionError(where, f"cannot read the image: {exc}") from None
    if image_range == "auto":
        return rgb
    lo, hi, clip = _range_of(rgb, False, where, image_range)
    return _scale(rgb, lo, hi, clip=clip)


# ------------------------------------------------------------------------------------------------ image lists
def images_from_dir(directory: PathLike, *, recursive: bool = False) -> list[ImageItem]:
    """Image files of ``directory`` in sorted order, ids 1..N, names relative to the folder.

    >>> [it.file_name for it in images_from_dir("sample_data/cat")]
    ['chelsea.png']
    """
    d = Path(directory)
    if not d.is_dir():
        raise FormatError(d, None, "not a folder of images")
    files = sorted(p for p in (d.rglob("*") if recursive else d.iterdir())
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FormatError(d, None, f"no image files ({', '.join(IMAGE_SUFFIXES)})")
    return [ImageItem(i, p.relative_to(d).as_posix(), p) for i, p in enumerate(files, start=1)]


def _legacy_spec(path: PathLike, format: str | None) -> tuple[Path, str | None]:
    """``FORMAT:PATH`` (the old way of naming a dataset) -> ``(PATH, FORMAT)``, with a deprecation warning."""
    text = os.fspath(path)
    prefix, sep, rest = text.partition(":")
    if format is None and sep and prefix in _LEGACY_PREFIXES and rest and not Path(text).exists():
        fmt = _LEGACY_PREFIXES[prefix]
        warnings.warn(f"naming a dataset {text!r} is deprecated: give the path and, if needed, its format "
                      f"(--dataset {rest} --from {fmt}; images_from_dataset({rest!r}, format={fmt!r}))",
                      AnnokitWarning, stacklevel=3)
        return Path(rest), fmt
    return Path(text), format


def _image_roots(path: Path, image_root: PathLike | None) -> list[Path]:
    """Where a dataset's file names may be relative to, most likely first."""
    if image_root is not None:
        return [Path(image_root)]
    base = path if path.is_dir() else path.parent
    return [base / "images", base, base / "JPEGImages"] if not path.is_dir() else [
        base, base / "images", base / "JPEGImages"]


def _pick_root(roots: Sequence[Path], names: Sequence[str]) -> Path:
    """The first root in which some of the first images exist (else the first root: files will be named missing)."""
    probe = names[:20]
    for root in roots:
        if root.is_dir() and any((root / n).is_file() for n in probe):
            return root
    return roots[0]


def images_from_dataset(path: PathLike, *, format: str | None = None,
                        image_root: PathLike | None = None) -> tuple[list[ImageItem], Any]:
    """The images of a dataset in any format annokit reads, with the dataset's image ids.

    Parameters
    ----------
    path : the dataset (a COCO JSON, a classification CSV, a VOC / YOLO / Cityscapes / class-folders folder ...)
    format : its format (``annokit formats``); by default recognised by :func:`annokit.convert.detect_format`;
        ``"images"`` for a plain folder of images (ids 1..N in sorted order)
    image_root : the folder the dataset's file names are relative to. Default: for a file, ``images/`` beside
        it if the images are there, else its folder; for a folder dataset, the folder, its ``images/`` or its
        ``JPEGImages/`` (the first that holds the first images)

    Returns
    -------
    (items, dataset): the images in the dataset's order, and the :class:`~annokit.core.dataset.Dataset` (``None``
    for a plain folder). ``FORMAT:PATH`` (``coco:gt.json``) still works, with a deprecation warning.

    Examples
    --------
    >>> items, gt = images_from_dataset("sample_data/scenes/gt.json")
    >>> len(items), items[0].image_id, items[0].path.as_posix()
    (48, 1, 'sample_data/scenes/images/scene_001.png')
    """
    from annokit.api import load

    p, fmt = _legacy_spec(path, format)
    if fmt == "images":
        return images_from_dir(p), None
    ds = load(p, fmt)
    names = list(ds.images.file_names)
    if not names:
        raise FormatError(p, None, "the dataset has no images to predict")
    root = _pick_root(_image_roots(p, image_root), names)
    hws = zip(ds.images.heights.tolist(), ds.images.widths.tolist())
    items = [ImageItem(int(i), fn, safe_join(root, fn, source=p, where=f"images[{k}].file_name"),
                       (h, w) if h > 0 and w > 0 else None)
             for k, (i, fn, (h, w)) in enumerate(zip(ds.images.ids.tolist(), names, hws))]
    return items, ds
