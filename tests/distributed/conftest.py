"""One dask cluster for the distributed tests: a LocalCluster of two single-threaded worker processes, started once
per session (starting one costs seconds on a loaded machine) and shared by every test that takes ``dask_client``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` of a LocalCluster of 2 worker processes (its ``scheduler.address`` is tcp://)."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed (pip install "
                                                             "'annokit[dask]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        yield client

