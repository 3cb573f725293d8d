"""Guards for reading and writing datasets made by others (private).

- :func:`safe_join`: a relative name from a file (``../x``, ``/etc/x``, ``C:\\x``) never leaves its root.
- :func:`parse_xml`: XML without a DOCTYPE only, so no entity can be declared (billion laughs, external entities).
- :func:`open_image_checked`: image header read lazily; one whose size exceeds :data:`MAX_PIXELS` is refused before
  any pixel is decompressed.
- :func:`image_hw`: (height, width) from the header alone, EXIF orientation honoured (5-8 swap the two).
- :func:`atomic_dir`: a dataset folder appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from annokit.errors import FormatError

__all__ = ["safe_join", "safe_name", "safe_relpath", "parse_xml", "open_image_checked", "image_hw",
           "atomic_dir", "MAX_PIXELS",
           "IMAGE_EXTS"]

MAX_PIXELS = 1 << 28  # 268 million pixels (16384 x 16384)
MAX_XML_BYTES = 64 << 20
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
_WIN_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_relpath(name: str, *, source: Any = None, where: str | None = None) -> PurePosixPath:
    """``name`` as a relative POSIX path that stays inside its root, or :class:`FormatError`."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise FormatError(source, where, f"unusable file name {name!r}")
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if p.is_absolute() or _WIN_DRIVE.match(norm):
        raise FormatError(source, where, f"absolute file name {name!r} is refused (it would be written outside "
                                         "the destination)")
    if any(part == ".." for part in p.parts):
        raise FormatError(source, where, f"file name {name!r} climbs out of its folder ('..'); refused")
    parts = [x for x in p.parts if x not in ("", ".")]
    if not parts:
        raise FormatError(source, where, f"unusable file name {name!r}")
    return PurePosixPath(*parts)


def safe_name(name: str, *, source: Any = None, where: str | None = None) -> str:
    """:func:`safe_relpath` as a string, with a fast path for plain names."""
    if isinstance(name, str) and name and name[0] != "/" and "\\" not in name and "\x00" not in name \
            and ":" not in name[:2]:
        parts = name.split("/")
        if all(p and p != "." and p != ".." for p in parts):
            return name
    return safe_relpath(name, source=source, where=where).as_posix()


def safe_join(root: str | os.PathLike[str], name: str, *, source: Any = None, where: str | None = None) -> Path:
    """``root / name`` where ``name`` must stay inside ``root`` (no ``..``, no absolute path)."""
    return Path(root).joinpath(*safe_relpath(name, source=source, where=where).parts)


def parse_xml(path: str | os.PathLike[str], data: bytes | None = None) -> ET.Element:
    """Parse an XML file that has no DOCTYPE (hence no entity declarations) and is UTF-8 or ASCII."""
    p = path  # a str or Path, used in messages only when data is given
    if data is None:
        p = Path(path)
        size = p.stat().st_size
        if size > MAX_XML_BYTES:
            raise FormatError(p, None, f"XML file is {size} bytes, over the {MAX_XML_BYTES}-byte limit")
        data = p.read_bytes()
    _xml_guard(p, data)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise FormatError(p, f"line {line}, column {col + 1}", f"invalid XML: {exc}") from None


def _xml_guard(p: Any, data: bytes) -> None:
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise FormatError(p, None, "XML in UTF-16/UTF-32 is not read (annotation XML is UTF-8)")
    if b"<!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data or b"<!doctype" in data.lower()):
        raise FormatError(p, None, "XML with a DOCTYPE or entity declarations is refused (entity expansion and "
                                   "external entities are unsafe)")


def open_image_checked(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> Any:
    """``PIL.Image`` opened lazily (header only); refused when it would decode to more than ``max_pixels``."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with warnings_off():
            im = Image.open(p)
    except UnidentifiedImageError:
        raise FormatError(p, None, "not an image PIL can read") from None
    except Image.DecompressionBombError:
        raise FormatError(p, None, "image is larger than PIL's decompression-bomb limit; refused") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise FormatError(p, None, f"image is {w}x{h} = {w * h} pixels, over the {max_pixels}-pixel limit; refused "
                                   "(a decompression bomb?)")
    return im


@contextlib.contextmanager
def warnings_off() -> Iterator[None]:
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def image_hw(path: str | os.PathLike[str], *, exif: bool = True) -> tuple[int, int]:
    """``(height, width)`` of an image as displayed, from its header (no pixel is decoded).

    EXIF orientations 5-8 (rotated by 90 degrees) swap height and width, as Ultralytics and PIL's
    ``ImageOps.exif_transpose`` do.
    """
    im = open_image_checked(path)
    try:
        w, h = im.size
        if exif:
            try:
                orient = im.getexif().get(0x0112)
            except Exception:  # a broken EXIF block is no reason to refuse the image
                orient = None
            if orient in (5, 6, 7, 8):
                w, h = h, w
        return int(h), int(w)
    finally:
        im.close()


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``dest``; on success it becomes ``dest``, on error it is removed.

    An existing ``dest`` is an error unless ``overwrite``; then it is replaced only once the new one is complete.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        else:
            raise FormatError(dest, None, "destination exists (pass overwrite=True / --overwrite to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_files(items: list[tuple[Path, bytes]], *, threads: int = 8) -> None:
    """Create many small files (new paths inside a fresh output folder). File creation waits on the disk more
    than on the CPU, so a few threads overlap the waits."""

    def one(item: tuple[Path, bytes]) -> None:
        fd = os.open(item[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, item[1])
        finally:
            os.close(fd)

    if len(items) < 64 or threads <= 1:
        for it in items:
            one(it)
        return
    _in_threads(lambda chunk: [one(it) for it in chunk], items, threads)


def _in_threads(fn: Any, items: list[Any], threads: int) -> list[Any]:
    """``fn`` over ``threads`` contiguous chunks of ``items``, concatenated in order."""
    from concurrent.futures import ThreadPoolExecutor

    n = len(items)
    step = -(-n // threads)
    chunks = [items[i:i + step] for i in range(0, n, step)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as ex:
        parts = list(ex.map(fn, chunks))
    return [x for part in parts for x in part]


def read_files(paths: list[Path], *, threads: int = 8, max_bytes: int | None = None) -> list[bytes]:
    """The bytes of many small files, read with a few threads (see :func:`write_files`); a file over
    ``max_bytes`` is refused before it is read."""

    def one(p: Path) -> bytes:
        with open(p, "rb") as fh:
            if max_bytes is not None:
                size = os.fstat(fh.fileno()).st_size
                if size > max_bytes:
                    raise FormatError(p, None, f"file is {size} bytes, over the {max_bytes}-byte limit")
            return fh.read()

    if len(paths) < 64 or threads <= 1:
        return [one(p) for p in paths]
    return _in_threads(lambda chunk: [one(p) for p in chunk], paths, threads)
