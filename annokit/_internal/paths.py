"""File names from data files, made safe: a relative name (``../x``, ``/etc/x``, ``C:\\x``) never leaves its root
(private)."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from annokit.errors import FormatError

__all__ = ["audit_tree", "inside", "refuse_outside_link", "safe_join", "safe_name", "safe_relpath",
           "safe_component", "unique_components"]

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




def inside(root_real: str, path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, its symbolic links followed, lies inside the folder whose real path is ``root_real``."""
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def refuse_outside_link(root_real: str, path: str, *, what: str = "file") -> None:
    """A :class:`FormatError` when ``path`` is a symbolic link that leads outside ``root_real`` (a dataset's files
    are read from inside it only)."""
    if os.path.islink(path) and not inside(root_real, path):
        raise FormatError(path, None, f"this {what} is a symbolic link that leads outside the dataset "
                                      f"({os.path.realpath(path)}); refused")


def audit_tree(root: str | os.PathLike[str]) -> None:
    """Check a freshly written output folder: no symbolic link anywhere in it (links are not followed, so every
    other entry lies inside it) -- the last guard before it is renamed into place."""
    stack = [os.fspath(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_symlink():
                    raise FormatError(e.path, None, "the output holds a symbolic link (it could lead outside the "
                                                    "destination); nothing was written")
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@#,()\[\]{}-]")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})


def safe_component(name: str) -> str:
    """A category (or other) name as one portable file-name component: ASCII letters, digits and ``._+=@#,()[]{}-``
    kept, every other character (``/``, ``\\``, ``:``, ``*``, ``?``, spaces, non-ASCII) as ``_``; never empty,
    ``.`` / ``..``, hidden, a Windows device name, or over 100 characters. Plain names come back unchanged.

    >>> safe_component("tv/monitor"), safe_component("../../x"), safe_component("person")
    ('tv_monitor', '_._.._x', 'person')
    """
    s = _UNSAFE.sub("_", name)[:100]
    if s.startswith("."):
        s = "_" + s[1:]
    s = s or "_"
    if s.split(".")[0].upper() in _RESERVED:
        s = "_" + s
    return s


def unique_components(names: list[str]) -> list[str]:
    """:func:`safe_component` of each name, made unique (case-insensitively: ``a_b``, ``a_b~2``, ...)."""
    out: list[str] = []
    seen: set[str] = set()
    for n in names:
        base = safe_component(n)
        s, k = base, 1
        while s.lower() in seen:
            k += 1
            s = f"{base}~{k}"
        seen.add(s.lower())
        out.append(s)
    return out
