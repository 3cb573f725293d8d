"""fork_split: the work shared with forked children comes back whole, in the caller's terms, whatever happens to a
child."""

from __future__ import annotations

import os

import pytest

from annokit._internal.forked import fork_available, fork_pull, fork_split

pytestmark = pytest.mark.skipif(not fork_available(), reason="fork_split forks on Linux only")


def _sum_run(items):
    return (sum(items), len(items)), len(items)


@pytest.mark.parametrize(("n", "workers", "block"), [(0, 2, 4), (1, 2, 4), (10, 2, 3), (37, 3, 4), (16, 4, 16)])
def test_every_item_is_run_once(n, workers, block):
    out = fork_split(range(n), _sum_run, workers=workers, block=block)
    assert out.leftover == []
    assert sum(s for s, _ in out.results) == sum(range(n))
    assert sum(c for _, c in out.results) == n
    assert len(out.results) == 1 + min(workers - 1, -(-n // block))  # this process's, and each busy child's


def test_children_run_in_other_processes():
    parent = os.getpid()
    out = fork_split(range(8), lambda xs: ({os.getpid()}, len(xs)), workers=2, block=2)
    pids = set().union(*out.results)
    assert parent in pids and len(pids) == 2


def test_a_failing_item_stops_its_worker_and_the_rest_is_left_over():
    def run(items):
        done = 0
        for i in items:
            if i in (5, 13):
                break
            done += 1
        return items[:done], done

    out = fork_split(range(20), run, workers=2, block=4)  # the child 0-3, 8-11, 16-19; this process 4-7, 12-15
    assert sorted(i for part in out.results for i in part) == [0, 1, 2, 3, 4, 8, 9, 10, 11, 16, 17, 18, 19]
    assert out.leftover == [5, 6, 7, 12, 13, 14, 15]  # this process stopped at 5: the caller runs (and raises) them


def test_a_child_that_dies_leaves_its_items_to_the_caller():
    parent = os.getpid()

    def run(items):
        if os.getpid() != parent:
            os._exit(3)  # a crash in the child: nothing sent back
        return list(items), len(items)

    fds = len(os.listdir("/proc/self/fd"))
    out = fork_split(range(10), run, workers=2, block=2)  # the child 0-1, 4-5, 8-9
    assert out.results == [[2, 3, 6, 7]]
    assert out.leftover == [0, 1, 4, 5, 8, 9]
    assert len(os.listdir("/proc/self/fd")) == fds  # its pipe closed, it reaped


def test_one_worker_runs_here():
    parent = os.getpid()
    out = fork_split(range(5), lambda xs: (os.getpid(), len(xs)), workers=1)
    assert out.results == [parent] and out.leftover == []


def test_a_fork_that_fails_leaves_its_items_to_the_caller(monkeypatch):
    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    out = fork_split(range(10), lambda xs: (list(xs), len(xs)), workers=3, block=2)
    assert out.results == [[4, 5]] and out.leftover == [0, 1, 2, 3, 6, 7, 8, 9]


def _pull_run(items):
    """``(pid, items run)`` of the items pulled, one at a time (a short pause each, so that the children take
    blocks too)."""
    import time

    got = []
    for i in items:
        time.sleep(0.001)
        got.append(i)
    return (os.getpid(), got), len(got)


@pytest.mark.parametrize(("n", "workers", "block"), [(0, 2, 4), (1, 2, 4), (10, 2, 3), (37, 3, 4), (60, 4, 2)])
def test_pulled_blocks_run_every_item_once(n, workers, block):
    out = fork_pull(range(n), _pull_run, workers=workers, block=block)
    assert out.leftover == []
    ran = sorted(i for _, got in out.results for i in got)
    assert ran == list(range(n))
    assert 1 <= len(out.results) <= workers and out.results[0][0] == os.getpid()


def test_pulled_blocks_are_shared_with_the_children():
    out = fork_pull(range(200), _pull_run, workers=3, block=2)
    assert len({pid for pid, _ in out.results}) >= 2  # 200 ms of work: a child took some
    for _, got in out.results:  # each worker gets its items in increasing order, whole blocks of 2
        assert got == sorted(got) and all(got[k] + 1 == got[k + 1] for k in range(0, len(got), 2))


def test_a_failing_pulled_item_leaves_the_rest_of_its_block():
    def run(items):
        got = []
        for i in items:
            if i in (5, 33):
                break
            got.append(i)
        return got, len(got)

    out = fork_pull(range(40), run, workers=2, block=4)
    assert out.leftover[:3] == [5, 6, 7] and set(out.leftover) >= {5, 6, 7, 33, 34, 35}
    assert sorted([*out.leftover, *(i for got in out.results for i in got)]) == list(range(40))


def test_a_pulling_child_that_dies_leaves_its_blocks_to_the_caller():
    parent = os.getpid()

    def run(items):
        got = []
        for i in items:
            if os.getpid() != parent:
                os._exit(3)  # the child dies holding the block it took
            got.append(i)
            import time

            time.sleep(0.002)
        return got, len(got)

    fds = len(os.listdir("/proc/self/fd"))
    out = fork_pull(range(30), run, workers=2, block=3)
    assert sorted([*out.leftover, *out.results[0]]) == list(range(30)) and len(out.results) == 1
    assert len(os.listdir("/proc/self/fd")) == fds  # pipes closed, the child reaped


def test_pulling_without_children_runs_here(monkeypatch):
    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    out = fork_pull(range(5), _pull_run, workers=1)
    assert out.results == [(os.getpid(), [0, 1, 2, 3, 4])] and out.leftover == []
    monkeypatch.setattr(os, "fork", no_fork)
    out = fork_pull(range(9), _pull_run, workers=3, block=2)
    assert out.results == [(os.getpid(), list(range(9)))] and out.leftover == []


def test_many_items_come_in_larger_blocks():
    from annokit._internal import forked

    n = forked._MAX_BLOCKS * 8 * 3 + 1  # blocks of 8 would be too many for the pipe: blocks of 25
    out = fork_pull(range(n), lambda xs: (None, sum(1 for _ in xs)), workers=1)
    assert out.leftover == []


def test_a_small_pipe_gets_larger_blocks_and_unwritten_blocks_are_left_over(monkeypatch):
    from annokit._internal import forked

    monkeypatch.setattr(forked, "_pipe_capacity", lambda fd: 4096)  # 1,024 block numbers at most
    out = fork_pull(range(5000), lambda xs: (None, sum(1 for _ in xs)), workers=2)
    assert out.leftover == []
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, data[:10]))  # 2 whole block numbers and half a third
    out = fork_pull(range(50), _pull_run, workers=2, block=4)
    ran = sorted(i for _, got in out.results for i in got)
    assert ran == list(range(8)) and out.leftover == list(range(8, 50))
