"""Vectorised JSON number parsing: the float Python's float() gives, the int orjson gives, the same refusals."""

from __future__ import annotations

import random
import struct
from decimal import Decimal, getcontext

import numpy as np
import orjson
import pytest

from annokit._internal import jsonnum
from annokit._internal.jsonnum import parse_numbers

ODD = [b"1e5", b"-0", b"-0.0", b"0", b"01", b"1.", b".5", b"-", b"+1", b"1e", b"1E+2", b"true", b"null", b"1.2.3",
       b"--1", b"0.1e-3", b"9007199254740993", b"0.30000000000000004", b"12345678901234567890", b"1 2", b"00",
       b"0.0000000000000000000000001", b"123456789012345678.5", b"NaN", b"-Infinity", b"1e999", b"-12.50"]


def _tokens(seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    while len(out) < n:
        k = rng.random()
        if k < 0.3:
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
            if x == x and abs(x) != float("inf"):
                out.append(repr(x).encode())
        elif k < 0.5:
            out.append(repr(float(np.float32(rng.uniform(-1000, 1000)))).encode())
        elif k < 0.65:
            out.append(str(rng.randint(-(10**20), 10**20)).encode())
        elif k < 0.85:
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 22)))
            at = rng.randint(0, len(digits))
            t = digits[:at] + "." + digits[at:] if rng.random() < 0.8 else digits
            out.append((("-" if rng.random() < 0.3 else "") + t).encode())
        else:
            out.append(rng.choice(ODD))
    return out


def _halfway(seed: int, n: int) -> list[bytes]:
    """Decimals next to a halfway point between two doubles (cut to 18 significant digits, so they take the 80-bit
    path): where rounding twice can go wrong."""
    getcontext().prec = 60
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = float(np.float64(rng.uniform(0, 1000)))
        mid = format((Decimal(a) + Decimal(float(np.nextafter(a, np.inf)))) / 2, "f")
        digits = mid.replace(".", "").lstrip("0")
        out.append(mid[: len(mid) - max(0, len(digits) - 18)].encode())
    return out


def _check(tokens: list[bytes]) -> None:
    buf = b"[" + b",".join(tokens) + b"]"
    starts, at = [], 1
    for t in tokens:
        starts.append(at)
        at += len(t) + 1
    r = parse_numbers(buf, np.array(starts), np.array([len(t) for t in tokens]))
    for i, t in enumerate(tokens):
        try:
            v = orjson.loads(t)
            valid = isinstance(v, (int, float)) and not isinstance(v, bool)
        except orjson.JSONDecodeError:
            valid = False
        assert bool(r.ok[i]) == valid, t
        if not valid:
            continue
        want = float(v) if isinstance(v, int) else float(t)  # JSON's value; floats by Python's own correct rounding
        assert r.value[i] == want and np.signbit(r.value[i]) == np.signbit(want), (t, r.value[i], want)
        fits = isinstance(v, int) and -(2**63) <= v < 2**63
        assert bool(r.is_int[i]) == fits and (not fits or int(r.integer[i]) == v), t


@pytest.mark.parametrize("seed", range(3))
def test_random_and_odd_tokens(seed: int) -> None:
    _check(_tokens(seed, 20_000))


def test_halfway_cases() -> None:
    _check(_halfway(0, 3000))


def test_without_the_long_double_path(monkeypatch) -> None:
    """Where no 80-bit long double exists, the long-mantissa tokens go through orjson: same results."""
    monkeypatch.setattr(jsonnum, "_LD_P10", None)
    _check(_tokens(7, 5000) + _halfway(1, 500))


def test_every_short_token_over_a_small_alphabet() -> None:
    """Every token of 1 to 5 bytes over digits, point, signs and an exponent (the one-word path and its refusals),
    and tokens of 6 to 8 bytes drawn at random from the same alphabet."""
    import itertools

    alphabet = b"0159.-e"
    tokens = [bytes(t) for n in range(1, 6) for t in itertools.product(alphabet, repeat=n)]
    rng = random.Random(3)
    tokens += [bytes(rng.choice(alphabet) for _ in range(rng.randint(6, 8))) for _ in range(20_000)]
    tokens += [b"-0", b"-0.0", b"0.000001", b"-9999999", b"99999999", b"-0.00001", b"1234567.", b"12345678"]
    _check(tokens)


def test_short_and_long_tokens_mixed() -> None:
    """Short tokens (one word) and long ones (the wider paths) in one call land in their own rows."""
    _check([b"1.5", b"123456789.25", b"-7", b"0.12345678901", b"1e3", b"42"] * 50)


def test_large_parses_split_across_two_threads(monkeypatch) -> None:
    """With small blocks a few thousand tokens already take the two-thread path: same results."""
    import threading

    monkeypatch.setattr(jsonnum, "_BLOCK", 64)
    names: set[str] = set()
    block = jsonnum._short_block

    def spy(*args: object) -> None:
        names.add(threading.current_thread().name)
        block(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(jsonnum, "_short_block", spy)
    monkeypatch.setenv("ANNOKIT_THREADS", "2")
    _check([t for t in _tokens(11, 6000) if len(t) <= 8] + [b"1.5", b"-0", b"01"] * 100)
    assert "annokit-helper-1" in names
    names.clear()
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    _check([t for t in _tokens(11, 6000) if len(t) <= 8])
    assert names == {threading.current_thread().name}


def test_an_error_on_the_helper_thread_is_raised_to_the_caller() -> None:
    def run(lo: int, hi: int) -> None:
        if lo > 0:
            raise ValueError("helper")

    with pytest.raises(ValueError, match="helper"):
        jsonnum._in_two(run, 5, 10)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_parses_with_its_own_helper_thread(monkeypatch) -> None:
    """After the parent used the helper thread, a forked child (multiprocessing's default on Linux) still
    parses large inputs instead of waiting on a thread it does not have."""
    import os

    monkeypatch.setattr(jsonnum, "_BLOCK", 64)
    tokens = [b"1.25", b"-3", b"0.5"] * 400
    _check(tokens)  # the parent starts its helper thread
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the parse completes and is right
        try:
            buf = b"[" + b",".join(tokens) + b"]"
            starts = np.cumsum([1] + [len(t) + 1 for t in tokens[:-1]])
            r = parse_numbers(buf, starts, np.array([len(t) for t in tokens]))
            os._exit(0 if r.ok.all() and r.value[0] == 1.25 else 1)
        except BaseException:
            os._exit(2)
    import signal
    import time

    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung waiting on the parent's helper thread")
    assert os.waitstatus_to_exitcode(done[1]) == 0
