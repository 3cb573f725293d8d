"""Sharing CPU-bound per-item work between this process and forked children (Linux).

Work that holds the GIL most of the time (PNG unfiltering in libspng through pyspng, many small numpy calls) does
not speed up on threads; forked processes do, without pickling the inputs: a child starts as a copy of this process
(the parsed files, the imported modules) and sends back one small picklable result.

:func:`fork_split` deals the items out in blocks, round robin starting with the children (worker 0 is this
process, which already did the serial part), so every worker gets a similar mix. ``run(items)`` must not raise: it
works through its items in order and returns ``(result, done)``, the result of the first ``done`` items -- it stops
at the first item that fails. Whatever a worker did not finish (an
item that failed and those after it, or every item of a child that died) is returned as ``leftover``, for the
caller to run in this process where errors raise as usual. Running the leftovers in order raises the error of the
first failing item, as one pass over every item would.

A child runs only ``run`` (the modules it needs are imported before the fork: run an item in this process first),
shares nothing back but its pipe, and ends with ``os._exit`` (no atexit handlers, no stdio flush, no second copy of
buffered output). Python 3.12+ warns (DeprecationWarning) when forking a process that has other threads -- numpy's
OpenBLAS pool is one -- because a lock held by one of them at the fork stays locked in the child; that warning is
silenced here for the fork alone, as the child takes no lock another thread could hold (no imports, no logging;
glibc's malloc resets its own locks at fork).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, Generic, TypeVar, cast

__all__ = ["Background", "ForkSplit", "fork_available", "fork_pull", "fork_split"]

R = TypeVar("R")


def fork_available() -> bool:
    """Whether :func:`fork_split` forks here (Linux with ``os.fork``); elsewhere it runs everything in this process."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


@dataclass(frozen=True)
class ForkSplit(Generic[R]):
    """The workers' results (this process first; a child that died has none) and the items nobody finished, in
    order."""

    results: list[R]
    leftover: list[int]


def _shares(items: Sequence[int], workers: int, block: int) -> list[list[int]]:
    """``items`` in blocks of ``block``, dealt round robin to ``workers``, the children first (this process has
    done the serial part before the fork -- reading the inputs --, so it takes the last share)."""
    shares: list[list[int]] = [[] for _ in range(workers)]
    for k, s in enumerate(range(0, len(items), block)):
        shares[(k + 1) % workers].extend(items[s:s + block])
    return shares


def _child(work: Callable[[], object], fd: int) -> None:
    """In the child: ``work()`` (what it returns pickled to ``fd``), then leave without cleanup."""
    code = 1
    try:
        data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        code = 0
    finally:
        os._exit(code)


def _read(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as f:
        return f.read()


@dataclass
class _Kid:
    """A forked child and the read end of its pipe (``read``: consumed, and closed)."""

    pid: int
    fd: int
    read: bool = False


def _fork(work: Callable[[], object]) -> _Kid | None:
    """A child running ``work``, or ``None`` when the system has no process to spare (the caller runs it)."""
    return _fork_with_pipe(lambda w: _child(work, w))


_PIPE_BYTES = 1 << 20
"""The pipe buffer asked for (Linux allows up to ``/proc/sys/fs/pipe-max-size``, 1 MB by default)."""


def _fork_with_pipe(child: Callable[[int], None]) -> _Kid | None:
    """A forked child that runs ``child(write end of a pipe)`` (which must end the process), or ``None`` when the
    system has no process to spare."""
    r, w = os.pipe()
    with contextlib.suppress(AttributeError, OSError):  # a larger pipe: fewer switches while a big result passes
        import fcntl

        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # pragma: no cover - the child's side
        os.close(r)
        child(w)
    os.close(w)
    return _Kid(pid, r)


@contextlib.contextmanager
def _children(works: Sequence[Callable[[], object]]) -> Iterator[list[_Kid | None]]:
    """Fork one child per work (``None`` where the fork failed); on the way out every unread pipe is closed and
    every child reaped (killed first when leaving on an error)."""
    kids: list[_Kid | None] = []
    ok = False
    try:
        for work in works:
            kids.append(_fork(work))
        yield kids
        ok = True
    finally:
        for kid in kids:
            if kid is None:
                continue
            if not kid.read:
                os.close(kid.fd)
            _reap(kid.pid, kill=not ok)


def _reap(pid: int, *, kill: bool) -> None:
    """Wait for the child ``pid`` to end (killed first with ``kill``); a child already gone is no error."""
    if kill:
        with contextlib.suppress(OSError):
            import signal  # here only: its import (~1.5 ms) is not paid on the way in

            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def _collect(kid: _Kid | None) -> tuple[object, object]:
    """What a child sent, ``(result, done)``; ``(None, 0)`` when it was not forked, died or sent nothing usable."""
    if kid is None:
        return None, 0
    kid.read = True
    try:
        got = pickle.loads(_read(kid.fd))
        return got[0], got[1]
    except Exception:
        return None, 0


def fork_split(items: Sequence[int], run: Callable[[list[int]], tuple[R, int]], *, workers: int,
               block: int = 16) -> ForkSplit[R]:
    """Run ``run`` over ``items`` in this process and ``workers - 1`` forked children (see the module docstring).

    Parameters
    ----------
    items : sequence of int
        What to run (indices into the caller's data, which the children inherit).
    run : callable
        ``run(list of items) -> (result, done)``; must not raise; its result must pickle.
    workers : int
        Processes in all, this one included; 1, or a platform without fork, runs everything here.
    block : int
        Items dealt at a time.

    Returns
    -------
    ForkSplit

    Examples
    --------
    >>> out = fork_split(range(10), lambda xs: (sum(xs), len(xs)), workers=2, block=3)
    >>> sum(out.results), out.leftover
    (45, [])
    """
    workers = max(1, workers) if fork_available() else 1
    shares = _shares(list(items), workers, block)
    results: list[R] = []
    leftover: list[int] = []
    with _children([partial(run, share) for share in shares[1:]]) as kids:
        mine, done = run(shares[0])
        results.append(mine)
        leftover += shares[0][done:]
        for kid, share in zip(kids, shares[1:]):
            theirs, sent = _collect(kid)  # what a child did not do is run here
            done = int(cast(int, sent))
            if done:
                results.append(cast(R, theirs))
            leftover += share[done:]
    return ForkSplit(results, sorted(leftover))


class Background:
    """``work(out)`` in a forked child, from now on, while this process goes on with something else; ``out`` is a
    binary file (the pipe's write end) the child writes its result to, read here through :meth:`stream`.

    The child ends as :func:`fork_split`'s do (``os._exit``; exit code 1 when ``work`` raised), with its warnings
    silenced (this process is the one that reports); what it wrote is only as complete as its own format says, so
    the reader checks for its end marker. :meth:`close` (or leaving the ``with`` block) closes the pipe, kills the
    child if it is still running and reaps it. ``started`` is False where the platform does not fork or the system
    had no process to spare: the caller then does the work itself.
    """

    def __init__(self, work: Callable[[BinaryIO], None]) -> None:
        self._kid: _Kid | None = None
        self._stream: io.BufferedReader | None = None
        if fork_available():
            self._kid = _fork_with_pipe(lambda w: _background_child(work, w))

    @property
    def started(self) -> bool:
        return self._kid is not None

    def stream(self) -> io.BufferedReader:
        """The read end of the child's pipe (reading it waits for the child's output)."""
        if self._kid is None:
            raise RuntimeError("no child was started")
        if self._stream is None:
            self._kid.read = True
            self._stream = os.fdopen(self._kid.fd, "rb")
        return self._stream

    def close(self) -> None:
        kid, self._kid = self._kid, None
        if kid is None:
            return
        if self._stream is not None:
            self._stream.close()
        elif not kid.read:
            os.close(kid.fd)
        with contextlib.suppress(OSError):
            pid, _ = os.waitpid(kid.pid, os.WNOHANG)
            if pid == 0:  # still running: its result is not wanted any more
                _reap(kid.pid, kill=True)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _background_child(work: Callable[[BinaryIO], None], fd: int) -> None:  # pragma: no cover - in the child
    code = 1
    try:
        warnings.simplefilter("ignore")
        with os.fdopen(fd, "wb") as out:
            work(out)
        code = 0
    finally:
        os._exit(code)


class _Pulled:
    """The items of the blocks this process takes from the shared pipe ``fd`` (one 4-byte block number a read; a
    pipe hands each read's bytes to one reader, so every block goes to exactly one process), in order;
    ``taken`` records every item handed out."""

    def __init__(self, fd: int, blocks: list[list[int]]) -> None:
        self.fd = fd
        self.blocks = blocks
        self.taken: list[int] = []

    def __iter__(self) -> Iterator[int]:
        while True:
            token = os.read(self.fd, 4)
            if len(token) < 4:  # the pipe is empty and has no writer: every block is taken
                return
            for i in self.blocks[int.from_bytes(token, "little")]:
                self.taken.append(i)
                yield i

    def run(self, run: Callable[[Iterable[int]], tuple[R, int]]) -> tuple[R, list[int]]:
        """``run`` over the items pulled: its result and the items it finished (the first ``done`` taken)."""
        result, done = run(self)
        return result, self.taken[:done]


#: Most blocks :func:`fork_pull` writes to its pipe (4 bytes each: 32 KiB, under a pipe's usual 64 KiB, so written
#: before the fork without waiting; fewer where the pipe is smaller); larger inputs get larger blocks.
_MAX_BLOCKS = 8192


def _pipe_capacity(fd: int) -> int:
    """The bytes the pipe ``fd`` holds (Linux's ``F_GETPIPE_SZ``; 4096, the least a pipe holds, where unknown)."""
    try:
        import fcntl

        return max(4096, int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)))
    except (ImportError, AttributeError, OSError):
        return 4096


def fork_pull(items: Sequence[int], run: Callable[[Iterable[int]], tuple[R, int]], *, workers: int,
              block: int = 8) -> ForkSplit[R]:
    """:func:`fork_split` with the blocks handed out as the workers ask for them instead of dealt in advance: each
    worker, this process included, takes the next block whenever it has finished one, so a worker slowed by
    another job on its core takes fewer and all finish together.

    ``run(iterable of items) -> (result, done)`` gets the items of the blocks it pulls, lazily, in increasing
    order; it must not raise and must take them one by one, stopping at the first that fails (``done``: how many
    before it); what nobody finished -- a failing item and the rest of its block, the blocks still in the pipe
    when every worker has stopped, every block of a child that died -- is ``leftover``, in order. ``results``
    holds this process's result first, then each child's that finished items.

    >>> out = fork_pull(range(10), lambda xs: (sum(xs), sum(1 for _ in xs)), workers=2, block=3)
    >>> sum(out.results), out.leftover
    (45, [])
    """
    items = list(items)
    workers = max(1, workers) if fork_available() else 1
    r, w = os.pipe()
    try:
        block = max(1, block, -(-len(items) // min(_MAX_BLOCKS, _pipe_capacity(w) // 4)))
        blocks = [items[s:s + block] for s in range(0, len(items), block)]
        os.set_blocking(w, False)  # never wait here: blocks not written (a full pipe) are left over, run by the caller
        with contextlib.suppress(BlockingIOError):
            os.write(w, b"".join(k.to_bytes(4, "little") for k in range(len(blocks))))
    finally:
        os.close(w)  # a read from the empty pipe then ends: no writer left
    results: list[R] = []
    done: set[int] = set()
    try:
        with _children([partial(_Pulled(r, blocks).run, run) for _ in range(workers - 1)]) as kids:
            mine, mine_done = _Pulled(r, blocks).run(run)
            results.append(mine)
            done.update(mine_done)
            for kid in kids:
                theirs, their_done = _collect(kid)  # a child that died or sent nothing: (None, 0)
                if their_done:
                    results.append(cast(R, theirs))
                    done.update(cast("list[int]", their_done))
    finally:
        os.close(r)
    return ForkSplit(results, [i for i in items if i not in done])
