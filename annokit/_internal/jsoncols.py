"""Columns out of a JSON array of objects, read from bytes without a Python object per record (private).

A file is read in blocks of whole records. In each block the structural bytes (``{}[],:`` and quotes outside
strings) are found with vector operations; when every record of the block has the same token pattern (the same keys
in the same order, values of the same shape -- what any program writing a list of records produces), each field is
a fixed token offset from its record's start, and numbers are parsed straight from their byte spans
(:mod:`annokit._internal.jsonnum`). Anything else -- another pattern, a value that is not what the caller asks for,
a byte out of place -- raises :class:`Irregular`, and the caller parses that block with ``orjson`` instead (the
block's text as a list, :meth:`Block.records_json`), which is also what reports malformed JSON precisely.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from annokit._internal.jsonnum import Numbers, _eq, parse_numbers
from annokit._internal.threads import run_all, thread_count
from annokit.errors import FormatError

__all__ = ["Block", "Irregular", "NotAList", "ScalarField", "StringField", "json_error", "read_blocks",
           "read_span_blocks", "SpanReader"]

_HALVES_FROM = 8192  # records of a block whose value spans are found in two halves at once (two threads)
_PAD = 32  # spaces in front of every block: number windows read up to 24 bytes before a token's end
_FIRST = 256 << 10  # bytes of the first block
_OPEN = {ord("{"), ord("[")}
_CLOSE = {ord("}"), ord("]")}
Q, COLON, COMMA, LBRACE, RBRACE, LBRACK, RBRACK = (ord(c) for c in '":,{}[]')
_STRUCTURAL = bytes(c if chr(c) in '":,{}[]' else 0 for c in range(256))  # translate table: the rest to 0
_PLAIN = bytes(range(32, 128)) + b"\t\n\r"  # what may stand anywhere in a block the fast path takes
_WS = b" \t\n\r"
_NUMCHARS = b"0123456789.+-"
_NUM01 = bytes(int(chr(c) in "0123456789.+-") for c in range(256))


class Irregular(Exception):
    """This block needs the general parser (never shown to users)."""


@dataclass(frozen=True)
class ScalarField:
    """Numbers at a path of keys (``("bbox",)`` or ``("segmentation", "size")``): ``values`` ``(n, k)`` float64,
    ``ints`` int64 where ``is_int``; ``k`` elements for an array of numbers, 1 for a plain number."""

    values: np.ndarray
    ints: np.ndarray
    is_int: np.ndarray


@dataclass(frozen=True)
class StringField:
    """Strings at a path of keys: the raw bytes of each (JSON escapes still in), and whether any has an escape."""

    raw: list[bytes]
    escaped: bool


class NotAList(Exception):
    """The text does not start with ``[`` (the caller parses it whole to say what it is)."""


@dataclass
class Block:
    """Whole records of a JSON array: ``buf[begin:end]`` is the text of records ``first .. first + n - 1``.

    ``regular`` is False when something other than whitespace and one comma lies between them (the general parser
    then reports it). ``offset`` is the file offset of ``buf[_PAD]``; ``lines`` and ``col`` the newlines before it
    and its column (for error positions). A block cut by its records' :class:`Pattern` carries their numbers
    (``numbers``: one row per record, one column per number of the pattern); its tokens are found when asked for.
    """

    buf: bytes
    begin: int
    end: int
    first: int
    n: int
    offset: int
    lines: int
    col: int
    regular: bool
    _pos: np.ndarray | None = None
    _code: np.ndarray | None = None
    _rec: np.ndarray | None = None
    _gaps: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
    pattern: Pattern | None = None
    numbers: Numbers | None = None

    def records_json(self) -> bytes:
        """The block's records as a JSON list (for the general parser)."""
        return b"[" + self.buf[self.begin: self.end] + b"]"

    def error_at(self, path: Path, json_pos: int, message: str) -> FormatError:
        """A :class:`FormatError` at position ``json_pos`` of :meth:`records_json`, as file line and column."""
        at = min(max(self.begin + json_pos - 1, _PAD), len(self.buf))
        line, col = _line_col(self.buf, at, self.lines, self.col)
        return json_error(path, line, col, message)

    def fields(self, want: dict[tuple[str, ...], str]) -> dict[tuple[str, ...], ScalarField | StringField | None]:
        """The fields ``want`` of every record (``None`` where the records have no such key).

        Kinds: ``"number"`` (one number), ``"numbers"`` (an array of numbers), ``"string"``,
        ``"number_or_string"``. Raises :class:`Irregular` unless every record has the same token pattern, every
        asked-for value has the asked-for shape, and every other byte is in its place.
        """
        if not self.regular or self.n == 0:
            raise Irregular
        if self.pattern is not None and self.numbers is not None:
            try:
                return _pattern_fields(self.pattern, self.numbers, self.n, want)
            except Irregular:
                pass
        self._tokenize()
        layout = _layout(self)
        out: dict[tuple[str, ...], ScalarField | StringField | None] = {}
        for key, kind in want.items():
            shape = layout.get(key)
            out[key] = None if shape is None else _extract(self, shape, kind)
        _check_rest(self, layout, want, out)
        return out

    def paths(self) -> frozenset[tuple[str, ...]]:
        """The key paths of the records (nested ones too), which every record has; Irregular unless they all have
        the same."""
        if not self.regular or self.n == 0:
            raise Irregular
        if self.pattern is not None and self.numbers is not None:
            return self.pattern.paths
        self._tokenize()
        return frozenset(_layout(self))

    def _tokenize(self) -> None:
        """The tokens of a block cut by pattern (found only when the token path needs them)."""
        if self._rec is not None:
            return
        pos, code = _tokens(self.buf[: self.end])
        blk, _ = _complete(self.buf[: self.end], pos, code, self.first, True, (self.offset, self.lines, self.col),
                           Path("<results>"))
        if blk is None or blk.n != self.n or blk.begin != self.begin:
            raise Irregular
        self._pos, self._code, self._rec = blk.pos, blk.code, blk._rec

    @property
    def rec(self) -> np.ndarray:
        assert self._rec is not None
        return self._rec

    @property
    def pos(self) -> np.ndarray:
        assert self._pos is not None
        return self._pos

    @property
    def code(self) -> np.ndarray:
        assert self._code is not None
        return self._code


def _line_col(buf: bytes, at: int, lines: int, col: int) -> tuple[int, int]:
    """1-based line and column of ``buf[at]`` given those of ``buf[_PAD]`` (``lines`` newlines before, column
    ``col + 1``)."""
    nl = buf.rfind(b"\n", _PAD, at)
    if nl < 0:
        return lines + 1, col + (at - _PAD) + 1
    return lines + buf.count(b"\n", _PAD, at) + 1, at - nl


def read_blocks(source: Path | bytes, *, block_bytes: int = 4 << 20) -> Iterator[Block]:
    """The records of the JSON array in ``source`` (a file path or the bytes), block by block.

    Raises :class:`NotAList` when the text does not start with ``[`` and :class:`FormatError` (named after
    ``source``) when it ends early or has text after its closing ``]``. Within a block, malformed JSON is found by
    the caller's general parser.
    """
    path = source if isinstance(source, Path) else Path("<results>")
    with open(source, "rb") if isinstance(source, Path) else _BytesReader(source) as f:
        yield from _blocks(f, path, block_bytes)


def read_span_blocks(path: Path, start: int, stop: int | None, *, prefix: bytes = b"", suffix: bytes = b"",
                     block_bytes: int = 4 << 20) -> Iterator[Block]:
    """:func:`read_blocks` of the text ``prefix + file[start:stop] + suffix`` (``stop`` None: to the end): a part of
    a large array cut at a record boundary and made an array of its own (``b"["`` before a tail, ``b"]"`` after a
    head) to be read in parallel. Record indices and error positions count from the part's own start."""
    with open(path, "rb") as f:
        f.seek(start)
        yield from _blocks(SpanReader(f, None if stop is None else stop - start, prefix, suffix), path, block_bytes)


class SpanReader:
    """``prefix``, then at most ``left`` bytes of ``f`` (None: all), then ``suffix``, through ``read(n)``: a part
    of an open file read as if it were a file of its own."""

    def __init__(self, f: Any, left: int | None, prefix: bytes = b"", suffix: bytes = b"") -> None:
        self._f, self._left, self._prefix, self._suffix = f, left, prefix, suffix

    def read(self, n: int) -> bytes:
        out, self._prefix = self._prefix, b""
        want = n - len(out) if self._left is None else min(n - len(out), self._left)
        data = self._f.read(want) if want > 0 else b""
        if self._left is not None:
            self._left -= len(data)
        out += data
        if not data and len(out) < n:
            out, self._suffix = out + self._suffix, b""
        return out


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, n: int) -> bytes:
        out = self._data[self._at: self._at + n]
        self._at += n
        return out

    def __enter__(self) -> _BytesReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _blocks(f: Any, path: Path, size: int) -> Iterator[Block]:
    """Read ``f`` in pieces of ``size``; yield the whole records of each, carry the rest to the next.

    Once the first block shows a :class:`Pattern`, a piece is cut at its last record boundary and checked against
    the pattern, which also finds its numbers; a piece that does not fit is tokenized (from then on, every piece).
    """
    carry, offset, lines, col, index, opened = b"", 0, 0, 0, 0, False
    pattern: Pattern | None = None
    while True:
        data = f.read(size if index else min(size, _FIRST))  # a small first block: the pattern comes from it
        buf = b" " * _PAD + carry + data
        if not opened and (data or not carry):
            buf, opened = _skip_open(buf), True
        fits = _pattern_block(buf, pattern, index, (offset, lines, col)) if pattern is not None and data else None
        blk: Block | None
        if fits is not None:
            blk, cut = fits
        else:
            pos, code = _tokens(buf)
            blk, cut = _complete(buf, pos, code, index, index > 0, (offset, lines, col), path)
            if blk is not None and pattern is None and index == 0:
                pattern = Pattern.learn(blk)
            elif pattern is not None and data:
                pattern = None  # the file changed its layout: tokens from here on
        if blk is not None:
            yield blk
            index += blk.n
        if not data:
            _finish(buf, cut, path, lines, col, index)
            return
        carry = buf[cut:]
        lines, col = _line_col(buf, cut, lines, col)
        lines, col = lines - 1, col - 1
        offset += cut - _PAD


def _skip_open(buf: bytes) -> bytes:
    """``buf`` with the array's opening ``[`` made a space."""
    at = _PAD
    while buf[at: at + 1] in (b" ", b"\t", b"\n", b"\r"):
        at += 1
    if buf[at: at + 1] != b"[":
        raise NotAList
    return buf[:at] + b" " + buf[at + 1:]


def _tokens(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Positions and bytes of the structural characters and quotes outside strings (a string is its two quotes).

    An unterminated string at the end (the piece ends inside it) and what follows are left out.
    """
    marks = np.frombuffer(buf.translate(_STRUCTURAL), dtype=np.uint8)  # one pass in C
    pos = np.flatnonzero(marks)
    code = marks[pos]
    quote = code == Q
    if buf.find(b"\\") >= 0:  # a quote after an odd run of backslashes is part of its string
        _unquote_escaped(np.frombuffer(buf, dtype=np.uint8), pos, quote)
    q = np.flatnonzero(quote)
    if len(q) % 2:  # the last string is not closed in this piece
        pos, code, quote, q = pos[: q[-1]], code[: q[-1]], quote[: q[-1]], q[:-1]
    if len(q) == 0 or (q[1::2] - q[0::2] == 1).all():
        return pos, code  # nothing between the quotes of any string
    before = np.cumsum(quote) - quote
    keep = quote | (before % 2 == 0)  # real quotes, and what is not between an opening and a closing one
    return pos[keep], code[keep]


def _unquote_escaped(b: np.ndarray, pos: np.ndarray, quote: np.ndarray) -> None:
    esc = np.flatnonzero(quote & (b[np.maximum(pos - 1, 0)] == 92))
    run = np.zeros(len(esc), dtype=np.int64)
    more = np.ones(len(esc), dtype=bool)
    while more.any():
        run += more
        more &= b[np.maximum(pos[esc] - run - 1, 0)] == 92
    quote[esc[run % 2 == 1]] = False


def _complete(buf: bytes, pos: np.ndarray, code: np.ndarray, index: int, comma: bool,
              where: tuple[int, int, int], path: Path) -> tuple[Block | None, int]:
    """The block of whole records in ``buf`` (or None) and where the rest starts. ``comma``: a separator comes
    first (records were read before)."""
    depth = np.cumsum(((code | 0x20) == LBRACE).astype(np.int64) - ((code | 0x20) == RBRACE))  # [{ and ]}
    starts = np.flatnonzero((code == LBRACE) & (depth == 1))
    ends = np.flatnonzero((code == RBRACE) & (depth == 0))
    if len(starts) == 0 or len(ends) == 0 or ends[-1] < starts[0]:
        return None, _PAD
    ends = ends[ends > starts[0]]
    starts = starts[starts < ends[-1]]
    n = min(len(starts), len(ends))
    last = int(pos[ends[n - 1]]) + 1
    first = int(pos[starts[0]])
    if comma and buf[_PAD:].lstrip(_WS)[:1] != b",":  # the previous record is not followed by a separator
        at = len(buf) - len(buf[_PAD:].lstrip(_WS))
        line, col = _line_col(buf, at, where[1], where[2])
        raise json_error(path, line, col, "unexpected character, expected ',' or ']'")
    if comma:  # whitespace, the separator, whitespace, then the first record
        lead = starts[0] > 0 and code[0] == COMMA and not buf[_PAD: int(pos[0])].strip(_WS)
        begin = int(pos[0]) + 1 if lead else _PAD
        regular = bool(lead) and not buf[begin:first].strip(_WS)
    else:
        begin, regular = _PAD, not buf[_PAD:first].strip(_WS)
    rec = np.stack([starts[:n], ends[:n]])  # (2, n): first and last token of each record
    offset, lines, col = where
    return Block(buf=buf, begin=begin, end=last, first=index, n=n, offset=offset, lines=lines, col=col,
                 regular=regular, _pos=pos, _code=code, _rec=rec), last


def _finish(buf: bytes, cut: int, path: Path, lines: int, col: int, index: int) -> None:
    """After the last record: whitespace, ``]``, whitespace. Else the error orjson finds in the rest (or the
    element that is not an object)."""
    rest = buf[cut:]
    if rest.strip(b" \t\r\n") == b"]":
        return
    at = cut + len(rest) - len(rest.lstrip(b" \t\r\n"))
    body = buf[at + 1:] if index and buf[at: at + 1] == b"," else buf[at:]
    start = len(buf) - len(body)
    if body.strip(b" \t\r\n") == b"]" and start > at:
        line, c = _line_col(buf, at, lines, col)
        raise json_error(path, line, c, "trailing comma")
    try:
        items = orjson.loads(b"[" + body)
    except orjson.JSONDecodeError as exc:
        line, c = _line_col(buf, min(start + max(exc.pos - 1, 0), len(buf)), lines, col)
        raise json_error(path, line, c, exc.msg) from None
    bad = next((i for i, x in enumerate(items) if not isinstance(x, dict)), 0)
    got = type(items[bad]).__name__ if items else "nothing"
    raise FormatError(path, f"[{index + bad}]", f"expected an object, got {got}")


def json_error(path: Path, line: int, col: int, message: str) -> FormatError:
    """The one-line error of malformed JSON."""
    return FormatError(path, f"line {line}, column {col}", f"invalid JSON: {message}")


# ------------------------------------------------------------------------------------------------ layout
@dataclass(frozen=True)
class _Shape:
    """Where a value sits in a record's tokens: ``kind`` scalar (the gap after token ``at``), string (opening
    quote ``at``), array (of scalars: the gaps ``gaps``), object or other; ``end`` the token after the value."""

    kind: str
    at: int
    end: int
    gaps: tuple[int, ...] = ()


def _layout(blk: Block) -> dict[tuple[str, ...], _Shape]:
    """The key paths of the first record and their value shapes, after checking that every record has the same
    tokens and the same key bytes."""
    start, end = blk.rec
    length = end - start + 1
    L = int(length[0])
    if (length != L).any():
        raise Irregular
    first_code = blk.code[start[0]: start[0] + L]
    if blk.n > 1:
        if (blk.code[start[:, None] + np.arange(L)] != first_code).any():
            raise Irregular
        if ((start[1:] - end[:-1]) != 2).any() or (blk.code[end[:-1] + 1] != COMMA).any():
            raise Irregular  # a comma between records, nothing else
    out: dict[tuple[str, ...], _Shape] = {}
    _object(blk, first_code.tolist(), 0, (), out)
    return out


def _object(blk: Block, code: list[int], i: int, prefix: tuple[str, ...], out: dict[tuple[str, ...], _Shape]) -> int:
    """Parse the object starting at token ``i`` (its keys into ``out``); the token after it."""
    if code[i + 1] == RBRACE:
        return i + 2
    i += 1
    while True:
        if code[i] != Q or code[i + 1] != Q or code[i + 2] != COLON:
            raise Irregular
        key = _key(blk, i)
        path = (*prefix, key)
        if path in out:
            raise Irregular  # a repeated key: let the general parser decide
        shape = _value(blk, code, i + 3, path, out)
        out[path] = shape
        i = shape.end
        if code[i] == RBRACE:
            return i + 1
        if code[i] != COMMA:
            raise Irregular
        i += 1


def _value(blk: Block, code: list[int], i: int, path: tuple[str, ...], out: dict[tuple[str, ...], _Shape]) -> _Shape:
    c = code[i]
    if c == Q:
        return _Shape("string", i, i + 2)
    if c == LBRACE:
        return _Shape("object", i, _object(blk, code, i, path, out))
    if c == LBRACK:
        j = i + 1
        gaps = [i]
        while code[j] == COMMA:
            gaps.append(j)
            j += 1
        if code[j] == RBRACK:
            return _Shape("array", i, j + 1, tuple(gaps))
        return _Shape("other", i, _skip(code, i))
    return _Shape("scalar", i - 1, i)  # the gap between the colon and this token


def _skip(code: list[int], i: int) -> int:
    depth = 0
    while True:
        depth += (code[i] in _OPEN) - (code[i] in _CLOSE)
        i += 1
        if depth == 0:
            return i


def _key(blk: Block, i: int) -> str:
    """The key whose opening quote is token ``i`` of every record (the same bytes in all, else Irregular)."""
    a = blk.pos[blk.rec[0] + i]
    z = blk.pos[blk.rec[0] + i + 1]
    width = int(z[0] - a[0] + 1)
    if (z - a + 1 != width).any():
        raise Irregular
    rows = _spans(blk.buf, a, width)
    if (rows != rows[0]).any():
        raise Irregular
    try:
        key = orjson.loads(bytes(rows[0]))
    except orjson.JSONDecodeError:
        raise Irregular from None
    if not isinstance(key, str):
        raise Irregular
    return key


def _spans(buf: bytes, start: np.ndarray, width: int) -> np.ndarray:
    view = np.ndarray(shape=(len(buf) - width + 1,), dtype=f"V{width}", buffer=buf, offset=0, strides=(1,))
    out: np.ndarray = view[start].view(np.uint8).reshape(len(start), width)
    return out


# ------------------------------------------------------------------------------------------------ values
def _gap(blk: Block, t: int) -> tuple[np.ndarray, np.ndarray]:
    """The text between token ``t`` and ``t + 1`` of every record, without surrounding whitespace:
    ``(start, length)`` (kept: the same gap is asked for twice)."""
    if blk._gaps is None:
        blk._gaps = {}
    if t in blk._gaps:
        return blk._gaps[t]
    b = np.frombuffer(blk.buf, dtype=np.uint8)
    s = blk.pos[blk.rec[0] + t] + 1
    e = blk.pos[blk.rec[0] + t + 1]
    lead = np.flatnonzero((b[s] <= 32) & (s < e))
    if len(lead):
        s = s.copy()
        _trim(b, s, e, lead, 1)
    trail = np.flatnonzero((b[e - 1] <= 32) & (s < e))
    if len(trail):
        e = e.copy()
        _trim(b, e, s, trail, -1)
    blk._gaps[t] = (s, e - s)
    return s, e - s


def _trim(b: np.ndarray, edge: np.ndarray, other: np.ndarray, at: np.ndarray, step: int) -> None:
    """Move ``edge[at]`` by ``step`` over whitespace, not past ``other`` (in place)."""
    while len(at):
        edge[at] += step
        probe = edge[at] if step == 1 else edge[at] - 1
        inside = edge[at] < other[at] if step == 1 else edge[at] > other[at]
        at = at[(b[probe] <= 32) & inside]


def _extract_strings(blk: Block, shape: _Shape) -> StringField:
    a = blk.pos[blk.rec[0] + shape.at]
    z = blk.pos[blk.rec[0] + shape.at + 1]
    buf = blk.buf
    raw = [buf[x + 1: y] for x, y in zip(a.tolist(), z.tolist())]
    return StringField(raw=raw, escaped=any(b"\\" in r for r in raw))


def _extract(blk: Block, shape: _Shape, kind: str) -> ScalarField | StringField:
    if shape.kind == "string" and kind in ("string", "number_or_string"):
        return _extract_strings(blk, shape)
    if shape.kind == "scalar" and kind in ("number", "number_or_string"):
        return _numbers(blk, [shape.at])
    if shape.kind == "array" and kind == "numbers":
        return _numbers(blk, list(shape.gaps))
    raise Irregular


def _numbers(blk: Block, gaps: list[int]) -> ScalarField:
    starts, lengths = zip(*(_gap(blk, t) for t in gaps))
    s, ln = np.stack(starts, axis=1).ravel(), np.stack(lengths, axis=1).ravel()
    if len(gaps) == 1 and (ln == 0).all():
        if blk.code[blk.rec[0, 0] + gaps[0]] != LBRACK:
            raise Irregular  # no value after a colon
        return ScalarField(np.zeros((blk.n, 0)), np.zeros((blk.n, 0), np.int64), np.zeros((blk.n, 0), bool))
    r = parse_numbers(blk.buf, s, ln)
    if not r.ok.all():
        raise Irregular
    k = len(gaps)
    return ScalarField(values=r.value.reshape(-1, k), ints=r.integer.reshape(-1, k), is_int=r.is_int.reshape(-1, k))


def _check_rest(blk: Block, layout: dict[tuple[str, ...], _Shape], want: dict[tuple[str, ...], str],
                got: dict[tuple[str, ...], ScalarField | StringField | None]) -> None:
    """Every byte of the block is accounted for -- tokens, string contents, values -- and the values nobody asked
    for are valid JSON scalars. Else Irregular (the general parser then says what is wrong)."""
    text = blk.buf[blk.begin: blk.end]
    if text.translate(None, _PLAIN):
        raise Irregular  # non-ASCII or a control character: the general parser checks them
    lo, hi = int(blk.rec[0, 0]), int(blk.rec[1, -1])
    pos, code = blk.pos[lo: hi + 1], blk.code[lo: hi + 1]
    quote = np.flatnonzero(code == Q)
    in_strings = int((pos[quote[1::2]] - pos[quote[0::2]] - 1).sum())
    values = 0
    for path, shape in layout.items():
        in_strings -= _blank_in_strings(blk, path, shape, got.get(path))
        if shape.kind in ("scalar", "array"):
            gaps = [shape.at] if shape.kind == "scalar" else list(shape.gaps)
            for t in gaps:
                s, ln = _gap(blk, t)
                values += int(ln.sum())
                if path not in want:
                    _check_scalars(blk, s, ln, shape.kind == "array" and len(gaps) == 1)
    if len(text.translate(None, _WS)) != len(pos) + in_strings + values:  # every non-blank byte accounted for
        raise Irregular


def _blank_in_strings(blk: Block, path: tuple[str, ...], shape: _Shape, got: ScalarField | StringField | None
                      ) -> int:
    """Whitespace bytes inside the key of ``path`` and inside its string values, over all records."""
    blank = path[-1].count(" ") * blk.n  # a key's bytes are the same in every record (and orjson read one)
    if shape.kind == "string":
        raw = got.raw if isinstance(got, StringField) else _extract_strings(blk, shape).raw
        joined = b"".join(raw)
        if joined.translate(None, _PLAIN[:96]):
            raise Irregular  # a raw control character in a string is not JSON
        blank += joined.count(b" ")
    return blank


def _check_scalars(blk: Block, s: np.ndarray, ln: np.ndarray, may_be_empty: bool) -> None:
    """Values nobody asked for must still be JSON scalars (an empty gap only as ``[]``)."""
    if may_be_empty:
        s, ln = s[ln > 0], ln[ln > 0]
    lit = np.isin(ln, (4, 5))
    for i in np.flatnonzero(lit).tolist():
        if blk.buf[s[i]: s[i] + ln[i]] in (b"true", b"null", b"false"):
            lit[i] = True
        else:
            lit[i] = False
    r = parse_numbers(blk.buf, s[~lit], ln[~lit])
    if not r.ok.all():
        raise Irregular


# ------------------------------------------------------------------------------------------------ pattern path
@dataclass(frozen=True)
class Pattern:
    """What every record of a regular file looks like apart from its numbers, learned from its first two records.

    ``rec`` / ``sep``: a record and the text between two records with the number characters (``0-9.+-``) removed;
    ``boundary``: ``}``, the separator as written, ``{``; ``slots``: key path and array index (-1: a plain value)
    of each number, in text order; ``offsets``: where each number sits in ``rec``; ``braces``: ``{`` per record.
    A block whose text without number characters is ``rec`` repeated (joined by ``sep``) and whose runs of number
    characters sit at ``offsets`` of every record has exactly these keys, values and whitespace in every record.
    """

    rec: bytes
    sep: bytes
    boundary: bytes
    slots: tuple[tuple[tuple[str, ...], int], ...]
    offsets: np.ndarray
    braces: int
    paths: frozenset[tuple[str, ...]]

    @classmethod
    def learn(cls, blk: Block) -> Pattern | None:
        """The pattern of ``blk``'s first two records (None when they are not simple enough)."""
        if blk.n < 2 or not blk.regular:
            return None
        a0, z0, a1 = (int(blk.pos[i]) for i in (blk.rec[0, 0], blk.rec[1, 0], blk.rec[0, 1]))
        text, sep_raw = blk.buf[a0: z0 + 1], blk.buf[z0 + 1: a1]
        if sep_raw.strip(_WS) != b",":
            return None
        try:
            value = orjson.loads(text)
            slots = list(_number_slots(value, ()))
        except (orjson.JSONDecodeError, Irregular, AttributeError):
            return None
        runs = _runs(text)
        if len(runs[0]) != len(slots):
            return None
        offsets = runs[0] - np.concatenate([[0], np.cumsum(runs[1] - runs[0])[:-1]])
        return cls(rec=text.translate(None, _NUMCHARS), sep=sep_raw.translate(None, _NUMCHARS),
                   boundary=b"}" + sep_raw + b"{", slots=tuple(slots), offsets=offsets.astype(np.int64),
                   braces=text.count(b"{"), paths=frozenset(_paths(value, ())))


def _number_slots(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], int]]:
    """Key path and array index of every number of a record, in text order (Irregular for nested arrays)."""
    for k, v in value.items():
        p = (*path, k)
        if isinstance(v, dict):
            yield from _number_slots(v, p)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, (list, dict)):
                    raise Irregular
                if isinstance(x, (int, float)) and not isinstance(x, bool):
                    yield p, i
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield p, -1


def _paths(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for k, v in value.items():
        yield (*path, k)
        if isinstance(v, dict):
            yield from _paths(v, (*path, k))


def _runs(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of number characters in ``text`` (which starts and ends with a brace)."""
    t = np.frombuffer(text.translate(_NUM01), dtype=np.uint8)
    edges = np.flatnonzero(t[1:] != t[:-1]) + 1
    return edges[0::2], edges[1::2]


def _pattern_block(buf: bytes, pattern: Pattern, index: int, where: tuple[int, int, int]
                   ) -> tuple[Block, int] | None:
    """The records of ``buf`` up to its last record boundary, if they follow ``pattern`` (else None)."""
    sep_raw = pattern.boundary[1:-1]
    begin = _PAD + len(sep_raw)
    if buf[_PAD:begin] != sep_raw:
        return None
    cut = buf.rfind(pattern.boundary, begin)
    if cut < 0:
        return None
    numbers = _pattern_numbers(buf, begin, cut + 1, pattern)
    if numbers is None:
        return None
    offset, lines, col = where
    n = len(numbers.value) // len(pattern.slots) if pattern.slots else 0
    return Block(buf=buf, begin=begin, end=cut + 1, first=index, n=n, offset=offset, lines=lines, col=col,
                 regular=True, pattern=pattern, numbers=numbers), cut + 1


def _pattern_numbers(buf: bytes, begin: int, end: int, pattern: Pattern) -> Numbers | None:
    """The numbers of the records in ``buf[begin:end]`` when they follow ``pattern``, else None."""
    text = buf[begin:end]
    sk = text.translate(None, _NUMCHARS)
    size, sep = len(pattern.rec), len(pattern.sep)
    n, rest = divmod(len(sk) + sep, size + sep)
    V = len(pattern.slots)
    if rest or n < 1 or V == 0 or sk != (pattern.rec + pattern.sep) * (n - 1) + pattern.rec:
        return None
    braces = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == LBRACE)
    if len(braces) != n * pattern.braces:
        return None
    spans = _slot_spans(buf, begin, end, pattern, braces[:: pattern.braces] + begin)
    if spans is None:
        spans = _run_spans(text, pattern, n, braces)
        if spans is None:
            return None
        spans = spans[0] + begin, spans[1]
    if int(spans[1].sum()) != len(text) - len(sk) or not _number_edges(buf, spans[0], spans[1]):
        return None  # number characters outside the values (a key, a string): not this pattern
    nums = parse_numbers(buf, spans[0], spans[1])
    return nums if nums.ok.all() else None


_IS_NUMCHAR = np.frombuffer(_NUM01, dtype=np.uint8).astype(bool)


def _number_edges(buf: bytes, start: np.ndarray, length: np.ndarray) -> bool:
    """Whether every span starts and ends with a number character. The number parser takes blanks around a token,
    so without this a digit inserted into a key (``"catego3ry_id"``) would be paid for by a blank taken into the
    next value's span, and the sum of the span lengths would still be the count of number characters."""
    if not len(start):
        return True
    b = np.frombuffer(buf, dtype=np.uint8)
    return bool(_IS_NUMCHAR[b[start]].all() and _IS_NUMCHAR[b[start + length - 1]].all())


def _run_spans(text: bytes, pattern: Pattern, n: int, braces: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Starts (in ``text``) and lengths of the values of a block that follows ``pattern``'s skeleton, from the runs
    of number characters (the general way: any value length)."""
    V = len(pattern.slots)
    starts, ends = _runs(text)
    if len(starts) != n * V or len(ends) != n * V:
        return None
    lengths = (ends - starts).reshape(n, V)
    before = np.cumsum(lengths, axis=1) - lengths  # number characters before each run, in its record
    at = starts.reshape(n, V) - braces[:: pattern.braces][:, None] - before
    if not (at == pattern.offsets[None, :]).all():
        return None  # a run out of place: a number moved into a string, a value went missing
    return starts, ends - starts


def _slot_spans(buf: bytes, begin: int, end: int, pattern: Pattern, rec: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """Starts (in ``buf``) and lengths of the values of records that start at ``rec``, value by value: each starts
    its pattern gap after the previous one and ends at the byte the pattern puts after it (found in the 8-byte words
    from its start, at most three). None when a value is longer than 23 bytes, or the records do not line up.

    With the caller's checks (the text without number characters is the pattern's; every span parses as a number;
    the spans hold every number character) the spans are exactly the values, in the pattern's places.
    """
    n, V = len(rec), len(pattern.slots)
    if n == 0 or V == 0:
        return None
    if end + 24 > len(buf):  # the last words would read past the buffer: a padded copy (what follows ``end`` is
        buf = buf[:end] + b" " * 24  # not read: a value found there fails the line-up check)
    words = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
    starts = np.empty((n, V), np.int64)
    lengths = np.empty((n, V), np.int64)
    gaps = np.diff(pattern.offsets, prepend=0)
    ends = np.empty(n, np.int64)

    def records(lo: int, hi: int) -> bool:
        """Records ``lo:hi``, value by value; False when a value's end is not found."""
        e = rec[lo:hi]
        for j in range(V):
            s = e + int(gaps[j])
            ln = _find_byte(words, s, pattern.rec[int(pattern.offsets[j])])
            if ln is None:
                return False
            starts[lo:hi, j], lengths[lo:hi, j] = s, ln
            e = s + ln
        ends[lo:hi] = e
        return True

    half = n // 2 if n >= _HALVES_FROM and thread_count() > 1 else n  # each record on its own: two halves at once
    if not all(run_all([lambda: records(0, half), lambda: records(half, n)]) if half < n else [records(0, n)]):
        return None
    e = ends
    tail = len(pattern.rec) - int(pattern.offsets[-1])
    if not (e[:-1] + tail + len(pattern.boundary) - 2 == rec[1:]).all() or int(e[-1]) + tail != end:
        return None
    return starts.ravel(), lengths.ravel()


def _find_byte(words: np.ndarray, s: np.ndarray, c: int) -> np.ndarray | None:
    """Offset of the first byte ``c`` at or after each ``s`` (within 24 bytes, else None)."""
    out = np.full(len(s), -1, np.int64)
    rows: np.ndarray | None = None
    for k in range(3):
        at = s if rows is None else s[rows] + 8 * k
        m = _eq(words[at], c)
        low = m & (~m + np.uint64(1))
        idx = (((low >> np.uint64(7)) * np.uint64(0x0001020304050607)) >> np.uint64(56)).astype(np.int64) + 8 * k
        found = m != 0
        if rows is None:
            out = idx
            if found.all():
                return out
            rows = np.flatnonzero(~found)
        else:
            out[rows[found]] = idx[found]
            rows = rows[~found]
            if not len(rows):
                return out
    return None


def _pattern_fields(pattern: Pattern, nums: Numbers, n: int, want: dict[tuple[str, ...], str]
                    ) -> dict[tuple[str, ...], ScalarField | StringField | None]:
    """The asked-for fields from a pattern block's numbers (Irregular for strings: the token path has them)."""
    V = len(pattern.slots)
    values, ints, is_int = (a.reshape(n, V) for a in (nums.value, nums.integer, nums.is_int))
    out: dict[tuple[str, ...], ScalarField | StringField | None] = {}
    for path, kind in want.items():
        cols = [j for j, (p, _) in enumerate(pattern.slots) if p == path]
        if not cols:
            if path in pattern.paths and kind != "numbers":
                raise Irregular  # a string or a literal there
            out[path] = None if path not in pattern.paths else ScalarField(
                np.zeros((n, 0)), np.zeros((n, 0), np.int64), np.zeros((n, 0), bool))
            continue
        plain = pattern.slots[cols[0]][1] == -1
        if plain != (kind in ("number", "number_or_string")) or (plain and len(cols) != 1):
            raise Irregular
        out[path] = ScalarField(values=values[:, cols], ints=ints[:, cols], is_int=is_int[:, cols])
    return out
