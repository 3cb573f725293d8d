"""annokit's own threads: their number (ANNOKIT_THREADS), tasks side by side, a producer running ahead."""

from __future__ import annotations

import threading
import time

import pytest

from annokit._internal.threads import Prefetch, run_all, thread_count


def test_thread_count_follows_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    assert thread_count() == 1
    monkeypatch.setenv("ANNOKIT_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.setenv("ANNOKIT_THREADS", "0")
    assert thread_count() == 1
    monkeypatch.delenv("ANNOKIT_THREADS")
    assert thread_count() >= 1


def test_thread_count_leaves_out_the_busy_cpus(monkeypatch) -> None:
    import os

    import annokit._internal.threads as th

    monkeypatch.delenv("ANNOKIT_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(th, "_own_running", lambda: 1)  # this thread only
    for runnable, want in ((1, 4), (2, 3), (3, 2), (4, 1), (9, 1)):  # this thread is one of the runnable
        monkeypatch.setattr(th, "_BUSY", [-1.0, 0.0])
        monkeypatch.setattr(th, "_runnable", lambda r=runnable: r)
        assert thread_count() == want, runnable
    samples = iter([3, 1, 2, 2, 3])  # a worker woke up for the first read: the least of the five counts
    monkeypatch.setattr(th, "_BUSY", [-1.0, 0.0])
    monkeypatch.setattr(th, "_runnable", lambda: next(samples))
    assert thread_count() == 4
    monkeypatch.setattr(th, "_runnable", lambda: pytest.fail("a sample younger than a second is reused"))
    assert thread_count() == 4
    # no runnable count (not Linux): the 1-minute load average instead
    monkeypatch.setattr(th, "_BUSY", [-1.0, 0.0])
    monkeypatch.setattr(th, "_runnable", lambda: None)
    for load, want in ((0.0, 4), (1.0, 4), (1.6, 3), (2.4, 3), (3.0, 2), (4.2, 1), (12.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert thread_count() == want, load


def test_this_process_s_own_running_threads_are_not_other_work(monkeypatch) -> None:
    """A thread of this process that runs (numpy's OpenBLAS worker spins for ~0.1 s after numpy is imported) is not
    a CPU taken by other work; ``_own_running`` sees such a thread (a hash of 64 MB, which leaves the lock)."""
    import hashlib
    import os
    import sys
    import threading

    import annokit._internal.threads as th

    monkeypatch.delenv("ANNOKIT_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(th, "_BUSY", [-1.0, 0.0])
    monkeypatch.setattr(th, "_runnable", lambda: 2)
    monkeypatch.setattr(th, "_own_running", lambda: 2)
    assert thread_count() == 2
    monkeypatch.undo()
    if not sys.platform.startswith("linux"):
        return
    data = bytes(64 << 20)
    worker = threading.Thread(target=lambda: [hashlib.sha256(data).digest() for _ in range(4)])
    worker.start()
    try:
        seen = max(th._own_running() for _ in range(50))
    finally:
        worker.join()
    assert seen >= 2


def test_runnable_reads_the_kernel_count() -> None:
    import sys

    from annokit._internal.threads import _runnable

    n = _runnable()
    assert (n is None) if not sys.platform.startswith("linux") else (n is not None and n >= 1)


def test_run_all_keeps_the_order_and_uses_a_thread_per_task() -> None:
    names: list[str] = []
    together = threading.Barrier(4, timeout=10)  # passes only with the four tasks running at once

    def task(i: int) -> int:
        names.append(threading.current_thread().name)
        together.wait()
        return i * i

    assert run_all([lambda i=i: task(i) for i in range(4)]) == [0, 1, 4, 9]
    assert sorted(names) == sorted(["MainThread", "annokit-helper-1", "annokit-helper-2", "annokit-helper-3"])
    assert run_all([]) == []


def test_run_all_on_fewer_workers_than_tasks() -> None:
    names: list[str] = []

    def task(i: int) -> int:
        names.append(threading.current_thread().name)
        time.sleep(0.01)
        return -i

    assert run_all([lambda i=i: task(i) for i in range(7)], workers=2) == [0, -1, -2, -3, -4, -5, -6]
    assert set(names) <= {"MainThread", "annokit-helper-1"} and len(names) == 7


def test_run_all_raises_the_first_error_after_the_running_tasks_ended() -> None:
    ended: list[str] = []
    both = threading.Barrier(2, timeout=10)

    def slow() -> int:
        both.wait()
        time.sleep(0.05)
        ended.append("slow")
        return 2

    def bad() -> int:
        both.wait()
        raise ValueError("task 1")

    with pytest.raises(ValueError, match="task 1"):
        run_all([slow, bad])
    assert ended == ["slow"]
    with pytest.raises(ValueError, match="task 0"):  # no task starts after an error
        run_all([lambda: (_ for _ in ()).throw(ValueError("task 0")), lambda: ended.append("late")], workers=1)
    assert ended == ["slow"]


def test_prefetch_runs_ahead_on_a_helper_thread(monkeypatch) -> None:
    monkeypatch.setenv("ANNOKIT_THREADS", "2")
    where: list[str] = []

    def make():
        for i in range(10):
            where.append(threading.current_thread().name)
            yield i

    with Prefetch(make, depth=2) as items:
        time.sleep(0.05)  # the producer fills the queue meanwhile
        assert len(where) >= 2
        assert list(items) == list(range(10))
    assert set(where) == {"annokit-prefetch"}


def test_prefetch_with_one_thread_makes_items_when_asked(monkeypatch) -> None:
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    where: list[str] = []

    def make():
        for i in range(3):
            where.append(threading.current_thread().name)
            yield i

    with Prefetch(make) as items:
        assert where == []
        assert list(items) == [0, 1, 2]
    assert set(where) == {threading.current_thread().name}


@pytest.mark.parametrize("threads", ["1", "2"])
def test_prefetch_hands_the_producers_error_to_the_consumer(monkeypatch, threads: str) -> None:
    monkeypatch.setenv("ANNOKIT_THREADS", threads)

    def make():
        yield 1
        raise OSError("broken file")

    with Prefetch(make) as items:
        it = iter(items)
        assert next(it) == 1
        with pytest.raises(OSError, match="broken file"):
            next(it)


def test_prefetch_closed_early_stops_the_producer(monkeypatch) -> None:
    monkeypatch.setenv("ANNOKIT_THREADS", "2")
    made: list[int] = []

    def make():
        for i in range(1000):
            made.append(i)
            yield i

    with Prefetch(make, depth=2) as items:
        assert next(iter(items)) == 0
    n = len(made)
    time.sleep(0.1)
    assert len(made) == n < 1000
    assert not any(t.name == "annokit-prefetch" for t in threading.enumerate())


def test_other_work_falls_back_to_the_load_average(monkeypatch) -> None:
    import os

    import annokit._internal.threads as th

    monkeypatch.setattr(th, "_BUSY", [-1.0, 0.0])
    monkeypatch.setattr(th, "_own_running", lambda: 1)
    monkeypatch.setattr(th, "_runnable", lambda: 3)
    assert th.other_work() == 2.0  # the runnable count less this thread
    monkeypatch.setattr(th, "_BUSY", [-1.0, 0.0])
    monkeypatch.setattr(th, "_runnable", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 0.0, 0.0))
    assert th.other_work() == 1.5  # the load average less this process

    def no_load() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", no_load)
    assert th.other_work() is None
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert th.cpus() == 3
    monkeypatch.delenv("ANNOKIT_THREADS", raising=False)
    assert th.thread_count() == 3  # nothing known of other work: every CPU
