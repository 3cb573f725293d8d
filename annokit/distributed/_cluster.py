"""A dask.distributed client for ``--scheduler ADDRESS``, and task graphs run on it with one progress count (private).

``ADDRESS`` is ``local:N`` (a LocalCluster of N single-threaded worker processes, started and stopped here) or the
address of a running scheduler (``tcp://HOST:PORT``, or another protocol dask speaks: ``tls://``, ``ucx://``...).
dask is imported here only, when a scheduler is asked for: without one annokit never imports it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from annokit._internal.progress import Progress
from annokit.errors import AnnokitError

__all__ = ["CONNECT_TIMEOUT", "Job", "SchedulerError", "connect", "dashboard_link", "parse_scheduler", "worker_count"]

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a scheduler before giving up (the whole error arrives well within 10 s)."""

_LOCAL = re.compile(r"local:(\d+)")
_REMOTE = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


class SchedulerError(AnnokitError):
    """The scheduler cannot be reached, or its address is not one annokit understands."""


def parse_scheduler(address: str) -> int | str:
    """``local:N`` -> ``N`` (workers to start), ``tcp://HOST:PORT`` (any ``PROTOCOL://...``) -> itself.

    >>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786")
    (2, 'tcp://10.0.0.5:8786')
    """
    m = _LOCAL.fullmatch(address.strip())
    if m:
        n = int(m.group(1))
        if n < 1:
            raise SchedulerError(f"--scheduler {address}: a local cluster needs at least one worker")
        return n
    if _REMOTE.fullmatch(address.strip()):
        return address.strip()
    raise SchedulerError(f"--scheduler {address!r}: expected tcp://HOST:PORT (a running dask scheduler) or local:N "
                         "(N worker processes started here)")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise SchedulerError("--scheduler needs dask.distributed: pip install 'annokit[dask]'") from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``: an address (:func:`parse_scheduler`) or a Client, used as it is.

    A local cluster is stopped on leaving; a scheduler that does not answer within :data:`CONNECT_TIMEOUT` seconds
    is a :class:`SchedulerError` (one line).
    """
    if not isinstance(scheduler, str):
        yield scheduler
        return
    where = parse_scheduler(scheduler)
    dist = _distributed()
    if isinstance(where, int):
        import dask

        # dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which turns off glibc's adaptive mmap
        # threshold: every large numpy temporary is then mapped and unmapped, and the vectorized readers and the
        # matching ran 4-5x slower on a worker than in this process (docs/scale-out.md, "Worker settings")
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
                dist.LocalCluster(n_workers=where, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, dist.Client(cluster) as client:
            yield client
        return
    try:
        client = dist.Client(where, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # refused, timed out, or something that is not a dask scheduler answered
        why = ("" if isinstance(exc, (TimeoutError, OSError))
               else f" (the answer is not a dask scheduler's: {type(exc).__name__})")
        raise SchedulerError(f"--scheduler {where}: cannot reach a dask scheduler there within "
                             f"{CONNECT_TIMEOUT:g} s{why}") from None
    with client:
        yield client


def dashboard_link(client: Any) -> str | None:
    """The dashboard's address, when the scheduler serves one (it needs bokeh)."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # pragma: no cover - a scheduler going away: no link, not an error
        return None
    return str(client.dashboard_link) if "dashboard" in services else None


def worker_count(client: Any) -> int:
    """Workers connected now (at least 1, so that plans never divide by zero)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


class Job:
    """Tasks submitted to one client, run to the end with one progress count (tasks done / all tasks).

    ``submit`` returns a future; :meth:`run` waits for every task, calling ``progress("tasks", done, total)``, and
    on the first failure cancels the rest and raises the task's own error (an annokit error names the file and the
    place). Futures are released as they complete, so results no task needs any more leave the workers' memory.
    """

    def __init__(self, client: Any, name: str) -> None:
        import uuid

        self.client = client
        self.name = name
        self.token = uuid.uuid4().hex[:8]
        self.pending: list[Any] = []

    def submit(self, fn: Callable[..., Any], *args: Any, stage: str, index: int | str = 0) -> Any:
        """Run ``fn(*args)`` on a worker (futures among ``args`` are replaced by their results there)."""
        fut = self.client.submit(fn, *args, key=f"annokit-{self.name}-{stage}-{index}-{self.token}")
        self.pending.append(fut)
        return fut

    def run(self, progress: Progress | None = None) -> None:
        """Wait for every task submitted (see the class docstring)."""
        dist = _distributed()
        total = len(self.pending)
        waiting = dist.as_completed(self.pending)
        self.pending = []  # from here on only ``waiting`` holds the futures not done yet: none is kept once done
        done = 0
        try:
            for fut in waiting:
                if fut.status == "error":
                    fut.result()  # raises the task's error
                if fut.status == "cancelled":
                    raise SchedulerError(f"task {fut.key} was cancelled (did the scheduler restart?)")
                done += 1
                if progress is not None:
                    progress("tasks", done, total)
                del fut
        except BaseException:
            self.client.cancel(list(waiting.futures))
            raise
