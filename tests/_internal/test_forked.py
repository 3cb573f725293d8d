"""fork_split: the work shared with forked children comes back whole, in the caller's terms, whatever happens to a
child."""

from __future__ import annotations

import os

import pytest

from annokit._internal.forked import fork_available, fork_split

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
