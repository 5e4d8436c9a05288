"""The Dask cluster runs go to: a LocalCluster of worker processes, or a running scheduler."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ClusterError(RuntimeError):
    """The cluster could not be reached or started, in one line."""


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client``: on the scheduler at ``scheduler`` (``tcp://HOST:8786``)
    when given, else on a LocalCluster of ``workers`` single-threaded worker processes (one per
    core by default: the simulator is numpy and Python, so processes, not threads)."""
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: never collide with a dashboard on 8787
        # Workers and scheduler log at shutdown when the other side is gone first; a run's
        # own error reaches the caller through its future.
        silence_logs=logging.CRITICAL,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def worker_count(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))
