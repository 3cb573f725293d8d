"""Image files of a dataset: where they are, and a hash of their pixels (private)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from annokit._internal.paths import safe_join
from annokit._internal.progress import Progress
from annokit.core.dataset import Dataset
from annokit.errors import FormatError

__all__ = ["default_image_root", "pixel_hashes"]

# modes whose pixels are compared as 8-bit RGBA (a grey, palette or RGB file of the same picture hashes the same)
_EIGHT_BIT = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


def default_image_root(dataset_path: str | os.PathLike[str]) -> Path:
    """Where a dataset's image files are when nobody says: a folder dataset holds them (its ``images`` or
    ``JPEGImages`` subfolder when there is one); a file dataset has them in an ``images`` folder beside it, else
    beside it."""
    p = Path(dataset_path)
    base = p if p.is_dir() else p.parent
    for sub in ("images", "JPEGImages"):
        if (base / sub).is_dir():
            return base / sub
    return base


def pixel_hash(path: Path) -> bytes:
    """A 16-byte BLAKE2b digest of the decoded pixels of ``path`` and their size (8-bit modes as RGBA)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as src:
            im = src.convert("RGBA") if src.mode in _EIGHT_BIT else src
            h = hashlib.blake2b(f"{im.mode}|{im.width}x{im.height}|".encode(), digest_size=16)
            h.update(im.tobytes())
            return h.digest()
    except FileNotFoundError:
        raise FormatError(path, None, "image file not found (give the images' folder with --images)") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(path, None, f"cannot read the image: {exc}") from None


def pixel_hashes(ds: Dataset, root: str | os.PathLike[str], *, progress: Progress | None = None,
                 threads: int = 4) -> list[bytes]:
    """The pixel hash of every image of ``ds`` (files ``root / file_name``, names kept inside ``root``), read
    with a few threads (decoding releases the GIL)."""
    paths = [safe_join(root, fn, where=f"image id {i}") for fn, i in zip(ds.images.file_names, ds.images.ids)]
    out: list[bytes] = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        for k, digest in enumerate(ex.map(pixel_hash, paths), 1):
            out.append(digest)
            if progress is not None:
                progress("hashing pixels", k, len(paths))
    return out
