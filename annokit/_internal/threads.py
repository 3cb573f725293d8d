"""How many threads annokit's own parallel stages use, and running a few tasks on them (private).

numpy leaves the interpreter lock inside its loops, so stages that are mostly large array operations run side by
side on threads: the two halves of a number column (:mod:`annokit._internal.jsonnum`), the categories of a COCO
evaluation in contiguous blocks (:func:`annokit.metrics.coco.evaluate`), reading a results file while the ground
truth is read. Every such stage gives the same bits whatever the number of threads (each task computes a disjoint
part; the parts are put together in a fixed order).

``ANNOKIT_THREADS=1`` in the environment makes all of them run in the calling thread (``ANNOKIT_THREADS=N``: N
threads); the default is the CPUs this process may run on that other work leaves idle now (:func:`thread_count`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["Prefetch", "cpus", "one_thread", "other_work", "run_all", "thread_count"]

T = TypeVar("T")
_ONE = [0]  # > 0 inside :func:`one_thread`


def thread_count() -> int:
    """Threads for annokit's parallel stages: ``ANNOKIT_THREADS`` when set (at least 1); else the CPUs this process
    may run on that other work leaves idle now (at least 1). Read on every call, so a test or a caller can change
    it at run time.

    Why: on a machine whose cores are all busy, a second thread cannot run beside the first; it only costs
    (measured on 2 cores at load 2.6: 0.98 s CPU and 1.04 s wall on two threads against 0.91 s and 0.96 s on one,
    the same result). "Now" is what the kernel counts as runnable at the moment (:func:`_busy_now`); the 1-minute
    load average, where that count is not available, lags by a minute: the processes that just ended (a benchmark's
    previous runs) would still be counted.
    """
    if _ONE[0]:
        return 1
    env = os.environ.get("ANNOKIT_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    n = cpus()
    busy = other_work()
    if busy is None:
        return n
    return max(1, min(n, int(n - busy + 0.5)))


def cpus() -> int:
    """The CPUs this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def other_work() -> float | None:
    """Runnable threads of other work now (:func:`_busy_now`); where the kernel's count is not available, the
    1-minute load average less this process (about one of the running tasks); None without either."""
    busy = _busy_now()
    if busy is None:
        try:
            busy = os.getloadavg()[0] - 1
        except (AttributeError, OSError):  # no load average on this system
            return None
    return busy


_BUSY: list[float] = [-1.0, 0.0]  # (when, value) of the last :func:`_busy_now` sample
_BUSY_TTL = 1.0  # seconds a sample is reused: a command's stages ask several times within a second


def _busy_now() -> float | None:
    """Runnable threads of other work now: the kernel's count of runnable scheduling entities (``/proc/loadavg``)
    less this process's own running threads (the one reading it, and any other: numpy's OpenBLAS worker spins for
    ~0.1 s after numpy is imported, which counted as other work and made half of ``annokit eval``'s runs on the
    benchmark take one thread), the least of five reads 1 ms apart (a kernel worker waking up for a moment is not
    work to leave a CPU to; three reads still caught one now and then); None where the count cannot be read.
    Reused for a second."""
    now = time.monotonic()
    if 0 <= now - _BUSY[0] < _BUSY_TTL:
        return _BUSY[1]
    counts = []
    for k in range(_READS):
        if k:
            time.sleep(0.001)
        n = _runnable()
        if n is None:
            return None
        counts.append(n - _own_running())
    _BUSY[:] = [now, float(max(0, min(counts)))]
    return _BUSY[1]


_READS = 5


def _own_running() -> int:
    """This process's threads that are running or runnable now (``/proc/self/task/*/stat`` state ``R``; the
    reading thread is one); 1 where that cannot be read."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    n = 0
    for t in tasks:
        try:
            with open(f"/proc/self/task/{t}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        end = stat.rfind(b")")  # the state follows the command name, which may hold anything
        n += stat[end + 2: end + 3] == b"R"
    return max(1, n)


def _runnable() -> int | None:
    """The runnable scheduling entities now (``/proc/loadavg``'s fourth field, before the slash), or None."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Within this block, :func:`thread_count` is 1 in this process: a stage that shares the CPUs with a forked
    child (:mod:`annokit._internal.forked`) keeps to its own thread instead of competing with the child."""
    _ONE[0] += 1
    try:
        yield
    finally:
        _ONE[0] -= 1


def run_all(tasks: Sequence[Callable[[], T]], *, workers: int | None = None) -> list[T]:
    """Run ``tasks`` on ``workers`` threads (default: one per task), this thread being the first, each taking the
    next task not yet taken; their results in the order of ``tasks``. After the first error no new task starts, and
    the first error (in task order) is raised here once the running ones have ended.

    Threads of its own, no pool: nothing to inherit across ``fork``, and no import of ``concurrent.futures`` (and
    ``logging``) at start-up. Callers keep ``workers`` to :func:`thread_count`.
    """
    results: list[T | None] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)
    lock = threading.Lock()
    todo = iter(range(len(tasks)))

    def work() -> None:
        while True:
            with lock:
                i = next(todo, None) if not any(errors) else None
            if i is None:
                return
            try:
                results[i] = tasks[i]()
            except BaseException as exc:  # handed to the caller
                errors[i] = exc

    n = len(tasks) if workers is None else max(1, min(workers, len(tasks)))
    helpers = [threading.Thread(target=work, name=f"annokit-helper-{i}", daemon=True) for i in range(1, n)]
    for h in helpers:
        h.start()
    try:
        work()
    finally:
        for h in helpers:
            h.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results  # type: ignore[return-value]  # every task returned


class Prefetch(Generic[T]):
    """The items of ``make()`` (an iterator), produced on a helper thread up to ``depth`` ahead of the consumer, from
    the moment this object is made: the consumer can do other work first (read the ground truth while the results
    file is parsed). Iterate it once; an error of the producer is raised where the consumer reaches it. With one
    thread (:func:`thread_count`) nothing runs ahead: the items are made as they are asked for.

    Use it as a context manager (or call :meth:`close`): leaving stops the producer at its next item and waits for
    it, whether or not every item was taken.
    """

    def __init__(self, make: Callable[[], Iterator[T]], *, depth: int = 2) -> None:
        self._make = make
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if thread_count() > 1:
            self._thread = threading.Thread(target=self._produce, name="annokit-prefetch", daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._make():
                if not self._put((0, item)):
                    return
        except BaseException as exc:  # handed to the consumer
            self._put((1, exc))
            return
        self._put((2, None))

    def _put(self, entry: tuple[int, Any]) -> bool:
        """Queue ``entry`` unless the consumer has stopped (then False)."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        if self._thread is None:
            yield from self._make()
            return
        while True:
            kind, value = self._queue.get()
            if kind == 2:
                return
            if kind == 1:
                raise value
            yield value

    def close(self) -> None:
        """Stop the producer and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
