"""One dask cluster for the distributed tests: the LocalCluster of two single-threaded worker processes that
``--scheduler local:2`` starts, started once per session (starting one costs seconds on a loaded machine) and
shared by every test that takes ``dask_client``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` of a LocalCluster of 2 worker processes (its ``scheduler.address`` is tcp://)."""
    pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'annokit[dask]')")
    from annokit.distributed import connect

    with connect("local:2") as client:  # what --scheduler local:2 starts
        yield client

