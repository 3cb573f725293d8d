"""One dask cluster for the distributed tests: the LocalCluster of two single-threaded worker processes that
``--scheduler local:2`` starts, started once per session (starting one costs seconds on a loaded machine) and
shared by every test that takes ``dask_client``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` of a LocalCluster of 2 worker processes (its ``scheduler.address`` is tcp://)."""
    yield from _local_cluster()


@pytest.fixture
def doomed_dask_client() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes of its own, for a test that kills one of its workers: the shared
    cluster is never left to a nanny's restart (under load dask once closed the nanny instead of restarting the
    worker, and every later test would have run on one worker)."""
    yield from _local_cluster()


def _local_cluster() -> Iterator[Any]:
    pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'annokit[dask]')")
    from annokit.distributed import connect

    with connect("local:2") as client:  # what --scheduler local:2 starts
        yield client



@pytest.fixture(scope="session")
def dask_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, as on a cluster (without nannies, to start
    fewer processes); yields the scheduler's tcp:// address. Stopped at the end of the session: the workers first,
    then the scheduler they would wait for; killed after 5 s."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip(f"no dask command beside {sys.executable}")
    sfile = tmp_path_factory.mktemp("dask") / "scheduler.json"
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sfile)], stderr=subprocess.DEVNULL)]
    procs += [subprocess.Popen([str(dask), "worker", "--scheduler-file", str(sfile), "--nthreads", "1",
                                "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], stderr=subprocess.DEVNULL)
              for _ in range(2)]
    try:
        import distributed

        deadline = time.monotonic() + 60
        while not sfile.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = str(orjson.loads(sfile.read_bytes())["address"])
        with distributed.Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a worker still trying to reach the scheduler
                p.kill()
                p.wait()


class KillAfter:
    """A ``progress`` callback that SIGKILLs one worker process of ``client`` once ``after`` tasks are done (the
    nanny restarts it); ``killed_at`` and ``total`` say when, to check that tasks were left."""

    def __init__(self, client: Any, after: int) -> None:
        self.victim = next(iter(client.run(os.getpid).values()))
        self.after = after
        self.killed_at: int | None = None
        self.total = 0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.total = total or 0
        if self.killed_at is None and done >= self.after:
            os.kill(self.victim, signal.SIGKILL)
            self.killed_at = done
