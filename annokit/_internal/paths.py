"""File names from data files, made safe: a relative name (``../x``, ``/etc/x``, ``C:\\x``) never leaves its root
(private)."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from annokit.errors import FormatError

__all__ = ["safe_join", "safe_name", "safe_relpath"]

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


