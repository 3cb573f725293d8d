"""Exact parsing of many JSON number tokens at once, straight from bytes (private).

The tokens are ``(start, length)`` spans of a byte buffer. Each is checked against JSON's number grammar and turned
into the float64 Python's ``float()`` (correctly rounded) would give, and into an int64 when it is an integer token.
Tokens of the common shape ``-?digits(.digits)?`` with at most 19 significant digits go through a vectorised path:

* the digits are read eight at a time from 64-bit words (the "SWAR" multiply-and-shift trick);
* ``m / 10**k`` is exact when ``m <= 2**53`` and ``k <= 22`` (Clinger's fast path: both operands are exact floats,
  one IEEE division rounds correctly);
* otherwise, with an 80-bit ``long double`` (x86), ``m`` and ``10**k`` (``k <= 27``) are exact and the division is
  correctly rounded to 64 bits; rounding that to 53 bits is correct unless it lands exactly on a halfway point
  between two doubles, which is detected.

Everything else (exponents, more digits, halfway cases, no 80-bit long double) goes through ``orjson`` one token at
a time, which also rejects what is not JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

__all__ = ["Numbers", "parse_numbers"]

_P10 = 10.0 ** np.arange(23)
_LD_OK = np.finfo(np.longdouble).nmant >= 63 and np.dtype(np.longdouble).itemsize == 16
_LD_P10 = np.array([10**k for k in range(28)], dtype=np.longdouble) if _LD_OK else None
_TWO53 = np.uint64(2**53)
_MASK = np.uint64(0x000000FF000000FF)
_MUL1 = np.uint64(0x000F424000000064)  # 100 + (1000000 << 32)
_MUL2 = np.uint64(0x0000271000000001)  # 1 + (10000 << 32)
_ZEROS = np.uint64(0x3030303030303030)


@dataclass(frozen=True)
class Numbers:
    """Parsed tokens: ``value`` (float64), ``integer`` (int64, valid where ``is_int``), ``is_int`` (the token has
    no fraction or exponent), ``ok`` (the token is a JSON number)."""

    value: np.ndarray
    integer: np.ndarray
    is_int: np.ndarray
    ok: np.ndarray


def parse_numbers(buf: bytes, start: np.ndarray, length: np.ndarray) -> Numbers:
    """Parse the tokens ``buf[start : start + length]``.

    >>> r = parse_numbers(b"[0.1, -25, 3e2]", np.array([1, 6, 11]), np.array([3, 3, 3]))
    >>> r.value.tolist(), r.integer[r.is_int].tolist(), r.ok.tolist()
    ([0.1, -25.0, 300.0], [-25], [True, True, True])
    """
    n = len(start)
    start = np.asarray(start, dtype=np.int64)
    length = np.asarray(length, dtype=np.int64)
    if n and int(start.min()) < 24:  # the windows read up to 24 bytes before a token's end
        buf, start = b" " * 24 + bytes(buf), start + 24
    value = np.zeros(n)
    integer = np.zeros(n, dtype=np.int64)
    is_int = np.zeros(n, dtype=bool)
    ok = np.zeros(n, dtype=bool)
    fast = (length >= 1) & (length <= 24)
    for width in (8, 16, 24):
        rows = np.flatnonzero(fast & (length <= width) & (length > width - 8))
        if len(rows):
            _fast_rows(buf, start, length, rows, width, value, integer, is_int, ok)
    _slow_rows(buf, start, length, np.flatnonzero(~ok), value, integer, is_int, ok)
    return Numbers(value=value, integer=integer, is_int=is_int, ok=ok)


_BLOCK = 1 << 16  # tokens per vector pass: the working arrays stay in cache


def _windows(buf: bytes, ends: np.ndarray, width: int) -> np.ndarray:
    """``(width, n)``: column ``j`` holds byte ``j`` of the ``width`` bytes before each of ``ends`` (all at least
    ``width``)."""
    view = np.ndarray(shape=(len(buf) - width + 1,), dtype=f"V{width}", buffer=buf, offset=0, strides=(1,))
    return np.ascontiguousarray(view[ends - width].view(np.uint8).reshape(len(ends), width).T)


def _fast_rows(buf: bytes, start: np.ndarray, length: np.ndarray, rows: np.ndarray, width: int,
               value: np.ndarray, integer: np.ndarray, is_int: np.ndarray, ok: np.ndarray) -> None:
    """Tokens of ``rows`` (each at most ``width`` bytes), block by block."""
    for b in range(0, len(rows), _BLOCK):
        r = rows[b: b + _BLOCK]
        good, mant, e10, neg, whole = _fast_block(buf, start[r], length[r], width)
        _convert(r, good, mant, e10, neg, whole, value, integer, is_int, ok)


def _fast_block(buf: bytes, start: np.ndarray, ln: np.ndarray, width: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of the shape ``-?digits(.digits)?`` with at most 19 digits: ``(good, mantissa, digits after the
    point, negative, no point)``. Right-aligned in ``width`` columns, the token starts at column ``width - ln``."""
    a = _windows(buf, start + ln, width)
    first = (width - ln).astype(np.int8)
    neg = np.zeros(len(ln), dtype=bool)
    n_dot = np.zeros(len(ln), dtype=np.int8)
    n_odd = np.zeros(len(ln), dtype=np.int8)
    dp = np.full(len(ln), -1, dtype=np.int8)  # column of the point
    for j in range(width):
        c = a[j]
        inside = first <= j
        neg |= (first == j) & (c == 45)
        dot = inside & (c == 46)
        n_dot += dot
        n_odd += inside & ((c - 48) > 9)  # not a digit (uint8 arithmetic wraps below '0')
        dp[dot] = j
    whole = n_dot == 0
    lead = first + neg  # column of the first digit
    int_end = np.where(whole, width, dp)
    zero_lead = np.take_along_axis(a, np.minimum(lead, width - 1)[None, :].astype(np.int64), axis=0)[0] == 48
    ndig = ln - neg - ~whole
    good = (n_dot <= 1) & (n_odd == n_dot + neg) & (lead < int_end) & (dp != width - 1) & (ndig <= 19)
    good &= ~(zero_lead & (int_end - lead > 1))  # no leading zero ("01")
    digits = np.empty_like(a)  # the digits right-aligned, the point squeezed out, '0' in front
    digits[0] = a[0]
    for j in range(1, width):
        digits[j] = np.where(j > dp, a[j], a[j - 1])
    for j in range(width):
        digits[j][j < width - ndig] = 48
    mant = _swar(digits.T)
    return good, mant, np.where(whole, 0, width - 1 - dp).astype(np.int64), neg, whole


def _swar(digits: np.ndarray) -> np.ndarray:
    """The integer of ASCII digit rows (``(n, 8k)`` uint8, most significant first), eight digits per multiply."""
    words = np.ascontiguousarray(digits).view("<u8")
    out = np.zeros(len(digits), dtype=np.uint64)
    for k in range(words.shape[1]):
        v = words[:, k] - _ZEROS
        v = v * np.uint64(10) + (v >> np.uint64(8))
        v = (((v & _MASK) * _MUL1) + (((v >> np.uint64(16)) & _MASK) * _MUL2)) >> np.uint64(32)
        out = out * np.uint64(100_000_000) + (v & np.uint64(0xFFFFFFFF))
    return out


def _convert(rows: np.ndarray, good: np.ndarray, mant: np.ndarray, e10: np.ndarray, neg: np.ndarray,
             whole: np.ndarray, value: np.ndarray, integer: np.ndarray, is_int: np.ndarray, ok: np.ndarray) -> None:
    """``value = (-1)**neg * mant / 10**e10``, exactly rounded, for the ``good`` rows a fast path covers."""
    ints = mant.astype(np.int64)  # (wraps over 2**63: not used there)
    ints = np.where(neg, -ints, ints)
    v = mant.astype(np.float64) / _P10[np.minimum(e10, 22)]
    v = np.where(whole, ints.astype(np.float64), np.where(neg, -v, v))  # float() of an int rounds once, as the cast
    wi = whole & (mant < np.uint64(2**63))
    done = good & np.where(whole, wi, (mant <= _TWO53) & (e10 <= 22))  # Clinger: both operands exact
    value[rows] = np.where(done, v, value[rows])
    integer[rows] = np.where(good & wi, ints, integer[rows])
    is_int[rows] |= good & wi
    ok[rows] |= done
    rest = np.flatnonzero(good & ~whole & ~done & (e10 <= 27))
    if _LD_P10 is None or not len(rest):
        return
    y = mant[rest].astype(np.longdouble) / _LD_P10[e10[rest]]
    low = y.view(np.uint64).reshape(-1, 2)[:, 0] & np.uint64(0x7FF)
    exact = low != np.uint64(0x400)  # not on a halfway point between doubles: rounding twice is exact
    y64 = y[exact].astype(np.float64)
    r = rows[rest[exact]]
    value[r] = np.where(neg[rest[exact]], -y64, y64)
    ok[r] = True


def _slow_rows(buf: bytes, start: np.ndarray, length: np.ndarray, rows: np.ndarray, value: np.ndarray,
               integer: np.ndarray, is_int: np.ndarray, ok: np.ndarray) -> None:
    """One token at a time through orjson (exponents, long tokens, halfway cases, integers over 2**53)."""
    mv = memoryview(buf)
    for i in rows.tolist():
        tok = bytes(mv[start[i]: start[i] + length[i]])
        try:
            v = orjson.loads(tok)
        except orjson.JSONDecodeError:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, int) and -(2**63) <= v < 2**63:
            integer[i] = v
            is_int[i] = True
        value[i] = float(v)
        ok[i] = True
