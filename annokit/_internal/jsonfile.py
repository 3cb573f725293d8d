"""Reading a JSON file with orjson: the size guard and errors naming the file, in a module light to import (the COCO
reader, :mod:`annokit.io.coco`, re-exports these; readers that need only them import them from here)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from annokit.errors import FormatError

__all__ = ["MAX_JSON_BYTES", "load_json", "parse_json", "read_json_bytes"]

PathLike = str | os.PathLike[str]

#: The largest JSON file read (bytes); larger ones are refused before they are read.
MAX_JSON_BYTES = 8 << 30


def read_json_bytes(path: PathLike) -> bytes:
    """The bytes of a JSON file, refused over :data:`MAX_JSON_BYTES` before they are read."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_JSON_BYTES:
            raise FormatError(p, None, f"file is {size} bytes, over the {MAX_JSON_BYTES}-byte limit")
        return p.read_bytes()
    except OSError as exc:
        raise FormatError(p, None, f"cannot read: {exc.strerror or exc}") from None


def parse_json(path: PathLike, data: bytes) -> Any:
    """Parse JSON bytes with orjson; a syntax error names the file and the line/column."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FormatError(path, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None


def load_json(path: PathLike) -> Any:
    """Parse a JSON file with orjson; a syntax error names the file and the line/column."""
    return parse_json(path, read_json_bytes(path))
