"""Exact parsing of many JSON number tokens at once, straight from bytes (private).

The tokens are ``(start, length)`` spans of a byte buffer. Each is checked against JSON's number grammar and turned
into the float64 Python's ``float()`` (correctly rounded) would give, and into an int64 when it is an integer token.
Tokens of the common shape ``-?digits(.digits)?`` with at most 19 significant digits go through a vectorised path:

* a token of at most 8 bytes (most of them) is one 64-bit word: its grammar checked with byte masks, the point cut
  out, the digits summed (the "SWAR" multiply-and-shift trick) and divided by ``10**k`` (``k <= 6``, exact);
  large parses run their second half on a helper thread (numpy releases the interpreter lock in its loops);
* longer ones are read eight digits at a time from 64-bit words;
* ``m / 10**k`` is exact when ``m <= 2**53`` and ``k <= 22`` (Clinger's fast path: both operands are exact floats,
  one IEEE division rounds correctly);
* otherwise, with an 80-bit ``long double`` (x86), ``m`` and ``10**k`` (``k <= 27``) are exact and the division is
  correctly rounded to 64 bits; rounding that to 53 bits is correct unless it lands exactly on a halfway point
  between two doubles, which is detected.

Everything else (exponents, more digits, halfway cases, no 80-bit long double) goes through ``orjson`` one token at
a time, which also rejects what is not JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson

from annokit._internal.threads import run_all, thread_count

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
    short = (length >= 1) & (length <= 8)
    if short.all():  # the common case: every token in one 64-bit word, no row lists
        _short_all(buf, start, length, value, integer, is_int, ok)
    elif short.any():
        rows = np.flatnonzero(short)
        v, i, w, k = (np.zeros(len(rows), a.dtype) for a in (value, integer, is_int, ok))
        _short_all(buf, start[rows], length[rows], v, i, w, k)
        value[rows], integer[rows], is_int[rows], ok[rows] = v, i, w, k
    long = (length > 8) & (length <= 24)
    for width in (16, 24):
        rows = np.flatnonzero(long & (length <= width) & (length > width - 8))
        if len(rows):
            _fast_rows(buf, start, length, rows, width, value, integer, is_int, ok)
    _slow_rows(buf, start, length, np.flatnonzero(~ok), value, integer, is_int, ok)
    return Numbers(value=value, integer=integer, is_int=is_int, ok=ok)


_BLOCK = 1 << 14  # tokens per vector pass: the working arrays stay in cache
_U = np.uint64
_HI = _U(0x8080808080808080)
_LO7 = _U(0x7F7F7F7F7F7F7F7F)
_GATHER = _U(0x0102040810204080)  # (x >> 7) * this >> 56: the high bit of byte i to bit i
_P10U = np.array([10**k for k in range(20)], dtype=np.uint64)


def _zero_bytes(v: np.ndarray) -> np.ndarray:
    """High bit set in every byte of ``v`` that is 0 (exact: no carries between bytes)."""
    out: np.ndarray = ~(((v & _LO7) + _LO7) | v | _LO7) & _HI
    return out


def _eq(v: np.ndarray, c: int) -> np.ndarray:
    return _zero_bytes(v ^ _U(c * 0x0101010101010101))


def _digit_bytes(v: np.ndarray) -> np.ndarray:
    """High bit set in every byte of ``v`` that is an ASCII digit."""
    lo = v & _LO7
    out: np.ndarray = (lo + _U(0x5050505050505050)) & ~(lo + _U(0x4646464646464646)) & ~v & _HI
    return out


def _flags(m: np.ndarray) -> np.ndarray:
    """One bit per byte (byte ``i`` to bit ``i``) of high-bit byte flags."""
    return ((m >> _U(7)) * _GATHER) >> _U(56)


def _short_all(buf: bytes, start: np.ndarray, length: np.ndarray, value: np.ndarray, integer: np.ndarray,
               is_int: np.ndarray, ok: np.ndarray) -> None:
    """Tokens of 1 to 8 bytes, block by block into the output arrays (which have their rows)."""
    words = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))

    def run(lo: int, hi: int) -> None:
        for b in range(lo, hi, _BLOCK):
            sl = slice(b, min(b + _BLOCK, hi))
            _short_block(words[start[sl] + length[sl] - 8], length[sl], value[sl], integer[sl], is_int[sl], ok[sl])

    n = len(start)
    if n < 8 * _BLOCK or thread_count() < 2:
        run(0, n)
        return
    half = (n // 2 + _BLOCK - 1) // _BLOCK * _BLOCK  # numpy leaves the lock in its loops: two halves at once
    _in_two(run, half, n)


def _in_two(run: Callable[[int, int], None], half: int, n: int) -> None:
    """``run(0, half)`` in this thread while a helper thread does ``run(half, n)``
    (:func:`annokit._internal.threads.run_all`); the helper's error, if any, is raised here."""
    run_all([lambda: run(0, half), lambda: run(half, n)])


def _short_block(v: np.ndarray, ln: np.ndarray, value: np.ndarray, integer: np.ndarray, is_int: np.ndarray,
                 ok: np.ndarray) -> None:
    """Tokens of the shape ``-?digits(.digits)?`` in one word each (``v``: the 8 bytes that end with the token),
    written into the output views. At most 8 digits and 6 after the point: ``mantissa / 10**k`` is exact (Clinger).

    Bytes are numbered from the least significant (the first in memory); the token's first byte is ``8 - ln``.
    """
    sh = (_U(8) - ln.astype(np.uint64)) << _U(3)
    neg = (((v >> sh) & _U(0xFF)) == 45) & (ln >= 2)  # a sign, and something after it
    sd = sh + (neg.astype(np.uint64) << _U(3))  # the first digit, in bits
    inside = ~_U(0) << sd
    t = v ^ _ZEROS  # digits become 0..9
    nd = (((t & _LO7) + _U(0x7676767676767676)) | t) & _HI & inside  # bytes that are not digits
    ndb = nd >> _U(7)
    good = ((v & (ndb * _U(0xFF))) == ndb * _U(46)) & ((nd & (nd - _U(1))) == 0)  # one point at most, no other byte
    good &= (nd & ((_U(0x80) << sd) | _U(0x8000000000000000))) == 0  # not first, not last
    lead0 = ((v >> sd) & _U(0xFF)) == 48
    second_dot = ((nd >> sd) & _U(0x8000)) != 0
    good &= ~(lead0 & (sd < 56) & ~second_dot)  # no leading zero before another digit
    w = (v & inside) | (_ZEROS & ~inside)  # what is not the token reads as zeros
    unit = ndb  # 1 << 8k for a point at byte k, else 0
    low = w & (unit - _U(1))
    dotted = (w & ~((unit << _U(8)) - _U(1))) | (low << _U(8)) | _U(0x30)  # the point cut out, a zero below
    whole = nd == 0
    mant = _swar(np.where(whole, w, dotted))
    e10 = (((unit * _U(0x0706050403020100)) >> _U(56)) & _U(7)).astype(np.intp)  # digits after the point
    f = mant.astype(np.float64) / _P10[e10]
    np.negative(f, out=f, where=neg & ~(whole & (mant == 0)))  # "-0" is the integer 0; "-0.0" is -0.0
    ints = mant.astype(np.int64)
    np.negative(ints, out=ints, where=neg)
    value[...] = f
    integer[...] = ints
    is_int[...] = good & whole
    ok[...] = good


def _fast_rows(buf: bytes, start: np.ndarray, length: np.ndarray, rows: np.ndarray, width: int,
               value: np.ndarray, integer: np.ndarray, is_int: np.ndarray, ok: np.ndarray) -> None:
    """Tokens of ``rows`` (each of ``width - 7`` to ``width`` bytes, ``width`` 16 or 24), block by block."""
    words = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
    for b in range(0, len(rows), _BLOCK):
        r = rows[b: b + _BLOCK]
        good, mant, e10, neg, whole = _fast_block(words, start[r], length[r], width)
        _convert(r, good, mant, e10, neg, whole, value, integer, is_int, ok)


def _fast_block(words: np.ndarray, start: np.ndarray, ln: np.ndarray, width: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of the shape ``-?digits(.digits)?`` with at most 19 digits: ``(good, mantissa, digits after the
    point, negative, no point)``. Each token is read as the ``width`` bytes that end with it (``width / 8`` words),
    its first byte at ``first = width - ln``; one bit per byte marks digits, points, minus signs and zeros."""
    nw = width // 8
    first = (width - ln).astype(np.uint64)
    vs = [words[start + ln - width + 8 * k] for k in range(nw)]
    f_odd, f_dot, f_minus, f_zero = (np.zeros(len(ln), np.uint64) for _ in range(4))
    for k, v in enumerate(vs):
        sh = _U(8 * k)
        f_odd |= _flags(~_digit_bytes(v) & _HI) << sh
        f_dot |= _flags(_eq(v, 46)) << sh
        f_minus |= _flags(_eq(v, 45)) << sh
        f_zero |= _flags(_eq(v, 48)) << sh
    inside = ~((_U(1) << first) - _U(1))
    f_odd, f_dot, f_minus = f_odd & inside, f_dot & inside, f_minus & inside
    neg = (f_minus >> first) & _U(1)
    whole = f_dot == 0
    good = (f_minus == neg << first) & (f_odd == (f_dot | f_minus)) & ((f_dot & (f_dot - _U(1))) == 0)
    dp = np.where(whole, width, np.log2(np.maximum(f_dot, _U(1)).astype(np.float64)).astype(np.int64))
    lead = first.astype(np.int64) + neg.astype(np.int64)  # the first digit
    zero_lead = ((f_zero >> lead.astype(np.uint64)) & _U(1)) == 1
    good &= (lead < dp) & (dp != width - 1) & (width - lead <= 19) & ~(zero_lead & (dp - lead > 1))
    full = np.zeros(len(ln), np.uint64)
    for k, v in enumerate(vs):  # the digits from the first one on, the point read as a zero
        drop = np.clip(lead - 8 * k, 0, 8).astype(np.uint64)
        keep = np.where(drop >= 8, _U(0), ~_U(0) << (_U(8) * drop)) & ~((_eq(v, 46) >> _U(7)) * _U(0xFF))
        full = full * _U(100_000_000) + _swar((v & keep) | (_ZEROS & ~keep))
    p = _P10U[np.clip(width - dp, 0, 19)]
    mant = np.where(whole, full, (full // p) * (p // _U(10)) + full % p)
    e10 = np.where(whole, 0, width - 1 - dp).astype(np.int64)
    return good, mant, e10, neg.astype(bool), whole


def _swar(v: np.ndarray) -> np.ndarray:
    """The 8-digit integer of words of ASCII digits (most significant first in memory)."""
    v = v - _ZEROS
    v = v * _U(10) + (v >> _U(8))
    v = (((v & _MASK) * _MUL1) + (((v >> _U(16)) & _MASK) * _MUL2)) >> _U(32)
    return v & _U(0xFFFFFFFF)


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
