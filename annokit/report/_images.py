"""Images embedded in the pages: read from the image folder, shrunk and encoded as JPEG ``data:`` URIs (private to
:mod:`annokit.report`). A missing or unreadable image is ``None`` (the page draws a grey canvas instead)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from annokit._internal.paths import safe_join
from annokit.errors import FormatError

__all__ = ["Thumbnail", "thumbnail"]


@dataclass(frozen=True)
class Thumbnail:
    """A shrunk image: its ``data:image/jpeg;base64`` URI, its size in pixels and the original's ``(h, w)``."""

    uri: str
    width: int
    height: int
    source_hw: tuple[int, int]

    @property
    def n_bytes(self) -> int:
        """The length of the URI (what it adds to the page)."""
        return len(self.uri)


def thumbnail(root: Path | None, file_name: str, *, max_side: int, quality: int = 80) -> Thumbnail | None:
    """The image ``root / file_name`` shrunk so that its longer side is at most ``max_side`` pixels (never
    enlarged), as RGB JPEG at ``quality``; None without ``root``, for a name that leaves ``root``, a missing file
    or one PIL cannot read."""
    if root is None:
        return None
    try:
        p = safe_join(root, file_name)
    except FormatError:  # a name that would leave the folder is not read
        return None
    if not p.is_file():
        return None
    try:
        from PIL import Image

        with Image.open(p) as im:
            hw = (im.height, im.width)
            im.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale, much faster
            rgb = im.convert("RGB")
            rgb.thumbnail((max_side, max_side))
            buf = io.BytesIO()
            rgb.save(buf, format="JPEG", quality=quality, optimize=False)
    except Exception:  # an unreadable image is shown as a grey canvas, not an error
        return None
    uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return Thumbnail(uri, rgb.width, rgb.height, hw)
