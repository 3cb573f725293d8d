"""Size limits shared by readers and writers (private): the pixel limit, the guard of a declared size, the results
file size from which reading it is split between two processes."""

from __future__ import annotations

from typing import Any

from annokit.errors import FormatError

__all__ = ["MASK_SPLIT_FROM", "MAX_PIXELS", "SPLIT_FROM", "check_pixels"]

MAX_PIXELS = 1 << 28  # 268 million pixels (16384 x 16384)
#: Results files from this size on are read in two processes (:class:`annokit.core.coco_results.SplitRead`); below,
#: the fork and the columns' transfer (~10 ms) would take most of the gain. Read at run time (tests lower it).
SPLIT_FROM = 16 << 20
#: Mask results files (RLE) from this size on are read in two halves at once, the second by a forked child
#: (:func:`annokit.core.coco_results._two_halves`): a mask costs more to read a byte than a box. Read at run time.
MASK_SPLIT_FROM = 8 << 20


def check_pixels(h: int, w: int, *, max_pixels: int = MAX_PIXELS, source: Any = None, where: str | None = None
                 ) -> None:
    """Refuse a canvas of ``h`` x ``w`` above ``max_pixels`` before anything is allocated (a declared size is
    guarded as a decoded one)."""
    if int(h) * int(w) > max_pixels:
        raise FormatError(source, where, f"declared size {w}x{h} = {int(h) * int(w)} pixels is over the "
                                         f"{max_pixels}-pixel limit; refused (raise it with max_pixels= / "
                                         "--max-pixels if the image is really that large)")
