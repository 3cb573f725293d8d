"""Checking compressed COCO RLE strings (private to :mod:`annokit.io`): :mod:`annokit.core.rle_check`, where the
results reader of :mod:`annokit.core.coco_results` uses it too."""

from __future__ import annotations

from annokit.core.rle_check import rle_strings_ok, rle_text_ok

__all__ = ["rle_strings_ok", "rle_text_ok"]
