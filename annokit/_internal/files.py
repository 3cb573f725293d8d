"""Writing files and folders that appear whole or not at all (a temporary sibling, then a rename), and reading or
writing many small files with a few threads (private)."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from annokit.errors import FormatError

__all__ = ["atomic_dir", "atomic_path", "in_threads", "json_clean", "link_or_copy", "read_files", "write_bytes_atomic",
           "write_files", "write_json_atomic"]


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success it is renamed onto ``dest``, on error removed."""
    import tempfile  # here: tempfile (and random) would cost every reader's start-up; only writers need it

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(dest: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def json_clean(obj: Any) -> Any:
    """Replace NaN / inf floats by ``None`` (JSON ``null``), recursively; numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_clean(v) for v in obj]
    if hasattr(obj, "item") and not hasattr(obj, "__len__"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(dest: str | os.PathLike[str], obj: Any, *, indent: bool = True) -> None:
    opts = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    write_bytes_atomic(dest, orjson.dumps(json_clean(obj), option=opts))


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``dest``; on success it becomes ``dest``, on error it is removed.

    An existing ``dest`` is an error unless ``overwrite``; then it is replaced only once the new one is complete.
    """
    import shutil
    import tempfile

    dest = Path(dest)
    if dest.exists() and not overwrite:
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        else:
            raise FormatError(dest, None, "destination exists (pass overwrite=True / --overwrite to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        umask = os.umask(0)  # mkdtemp makes the folder private (0700); give it the mode a plain mkdir would have
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
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


def write_files(items: Sequence[tuple[str | os.PathLike[str], bytes]], *, threads: int = 8) -> None:
    """Create many small files (new paths inside a fresh output folder). File creation waits on the disk more
    than on the CPU, so a few threads overlap the waits."""

    def one(item: tuple[str | os.PathLike[str], bytes]) -> int:
        fd = os.open(item[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            return os.write(fd, item[1])
        finally:
            os.close(fd)

    if len(items) < 64 or threads <= 1:
        for it in items:
            one(it)
        return
    in_threads(lambda chunk: [one(it) for it in chunk], list(items), threads)


def in_threads(fn: Any, items: list[Any], threads: int) -> list[Any]:
    """``fn`` over ``threads`` contiguous chunks of ``items``, concatenated in order."""
    from concurrent.futures import ThreadPoolExecutor

    n = len(items)
    step = -(-n // threads)
    chunks = [items[i:i + step] for i in range(0, n, step)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as ex:
        parts = list(ex.map(fn, chunks))
    return [x for part in parts for x in part]


def read_files(paths: Sequence[str | os.PathLike[str]], *, threads: int = 1, max_bytes: int | None = None
               ) -> list[bytes]:
    """The bytes of many small files (``threads`` > 1: that many threads); a file over ``max_bytes`` is refused
    before it is read. One thread by default: 5,000 VOC XML files read in 0.06 s from the page cache against
    0.14-0.17 s with 8 threads (the threads contend for the interpreter lock), and 0.55 s either way from a cold
    cache on this project's machine."""

    def one(p: str | os.PathLike[str]) -> bytes:
        # os.open / os.read: a third of open()'s cost per small file (no buffered file object)
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            size = os.fstat(fd).st_size
            if max_bytes is not None and size > max_bytes:
                raise FormatError(p, None, f"file is {size} bytes, over the {max_bytes}-byte limit")
            data = os.read(fd, size + 1)
            if len(data) != size:  # a short read, or the file changed size: read to its end
                parts = [data]
                while chunk := os.read(fd, 1 << 20):
                    parts.append(chunk)
                data = b"".join(parts)
            return data
        finally:
            os.close(fd)

    if len(paths) < 64 or threads <= 1:
        return [one(p) for p in paths]
    return in_threads(lambda chunk: [one(p) for p in chunk], list(paths), threads)


def link_or_copy(pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]], *, threads: int = 8
                 ) -> None:
    """Hard-link (else copy) each ``(source, target)`` file, a few at a time in threads; the targets' folders are
    made first. A source that is a symbolic link is followed (the output holds files, never links)."""
    import shutil

    def one(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> int:
        if os.path.islink(src):  # link the file itself, never a symbolic link to it
            src = os.path.realpath(src)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        return 0

    for d in sorted({os.path.dirname(os.fspath(t)) for _, t in pairs}):
        os.makedirs(d, exist_ok=True)
    if pairs:
        in_threads(lambda chunk: [one(s, t) for s, t in chunk], list(pairs), threads)
