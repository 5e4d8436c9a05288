"""A real Dask cluster for tests: `dask scheduler` and `dask worker` processes on loopback.

Each process gets a free port and a private folder, and all are stopped when the test is done.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"dask scheduler did not listen on {port}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@dataclass
class DaskCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes the scheduler knows (children of the nannies)."""
        from dask.distributed import Client

        with Client(self.address, timeout="20s") as client:
            return sorted(client.run(os.getpid).values())


@contextmanager
def dask_cluster(root: Path, workers: int = 2) -> Iterator[DaskCluster]:
    port = free_port()
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    quiet = {"stdout": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stderr=open(logs / "scheduler.log", "wb"),  # noqa: SIM115 - closed with the process
        **quiet,
    )
    cluster = DaskCluster(f"tcp://127.0.0.1:{port}", scheduler)
    try:
        _wait_for_port(port, scheduler)
        for i in range(workers):
            folder = root / f"worker-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            cluster.workers.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        cluster.address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--local-directory",
                        str(folder),
                        "--name",
                        f"worker-{i}",
                    ],  # fmt: skip
                    stderr=open(logs / f"worker-{i}.log", "wb"),  # noqa: SIM115
                    **quiet,
                )
            )
        from dask.distributed import Client

        with Client(cluster.address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=90)
        yield cluster
    finally:
        for process in cluster.workers:
            _stop(process)
        _stop(scheduler)
