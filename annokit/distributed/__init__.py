"""Past one machine: evaluation, prediction and conversion on a dask.distributed cluster, with the same numbers.

Every function here takes ``scheduler``: ``"local:N"`` (a LocalCluster of N worker processes, started and stopped
by annokit), ``"tcp://HOST:PORT"`` (a running ``dask scheduler``: a cluster of ``dask worker`` processes, on
Kubernetes, Slurm, ...) or a ``distributed.Client``; ``None`` runs in this process and never imports dask (an
optional extra: ``pip install 'annokit[dask]'``). Workers read their own shards of the inputs; the client plans the
task graph and merges small states. docs/scale-out.md says how to run it and what it costs.
"""

from __future__ import annotations

from annokit.distributed._cluster import SchedulerError, connect, dashboard_link, parse_scheduler
from annokit.distributed._shards import expand_shards, is_pattern
from annokit.distributed.coco import evaluate_coco, read_ground_truth, read_result_shards
from annokit.distributed.convert import convert_sharded

__all__ = ["SchedulerError", "connect", "convert_sharded", "dashboard_link", "evaluate_coco", "expand_shards",
           "is_pattern", "parse_scheduler", "read_ground_truth", "read_result_shards"]
