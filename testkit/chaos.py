"""The kill -9 run shared by the test suite and ``bench/chaos.py``.

A booth database fills with codes while transmitters are started and killed with SIGKILL at
random moments (forked from a process that has already imported everything, so a cycle costs
milliseconds, not an interpreter start). One server takes the whole run. With ``files`` (what a
booth does) the codes are sold with their ePhoto files and sent to the stand-in collector, which
checks each file and counts the ones delivered again. Without, bare numbers go to the real
registry (``cabine registry``, the collector's own registration path) behind a proxy that counts
the codes crossing the wire. At the end a last transmitter drains the rest and the run reports
what the server holds.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ephoto.clock import SystemClock
from testkit.standin import (
    ForkServer,
    RealRegistry,
    RegistryProcess,
    enqueue_codes,
    new_codes,
    write_keys,
)
from transmitter.outbox import BOOTH_DB_FILE, booth_db_url, open_outbox_engine, read_status


@dataclass(frozen=True)
class ChaosResult:
    kills: int
    codes: int
    in_registry: int
    missing: int
    unexpected: int
    stored_twice: int
    redelivered_codes: int
    requests: int
    files: bool
    integrity: str
    pending_left: int
    seconds: float
    phases: tuple[float, float, float]  # kill cycles, waiting for the last sales, final drain
    final_exit: int


def run_chaos(
    tmp: Path,
    *,
    kills: int = 200,
    codes: int = 5000,
    max_life: float = 0.25,
    batch_size: int = 25,
    seed: int = 0,
    registry: RealRegistry | RegistryProcess | None = None,
    files: bool = False,
) -> ChaosResult:
    rng = random.Random(seed)
    data = tmp / "booth"
    data.mkdir(parents=True, exist_ok=True)
    own_registry = registry is None
    if registry is None and files:
        write_keys(data / "keys.toml")
        registry = RegistryProcess(data)  # the stand-in collector
    registry = registry or RealRegistry(tmp, data)
    engine = open_outbox_engine(booth_db_url(data))
    clock = SystemClock()
    all_codes = new_codes(codes)
    started = time.monotonic()
    # The kiosk keeps selling during the whole run: the codes arrive over the kill cycles.
    spread = kills * (0.03 + max_life / 2) * 0.9
    seller = threading.Thread(
        target=enqueue_codes,
        args=(engine, all_codes, clock),
        kwargs={"spread_seconds": spread, "files": files},
    )
    seller.start()
    server = ForkServer(data, registry.url, batch_size=batch_size, poll=0.1, files=files)
    try:
        for _ in range(kills):
            pid = server.spawn()
            time.sleep(rng.uniform(0.0, max_life))
            os.kill(pid, signal.SIGKILL)
            server.wait(pid)
        killed_at = time.monotonic()
        seller.join()
        sold_at = time.monotonic()
        # A last transmitter, stopped cleanly once everything is in.
        pid = server.spawn()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if read_status(engine, clock.now()).counts["pending"] == 0:
                break
            time.sleep(0.1)
        os.kill(pid, signal.SIGTERM)
        final_exit = server.wait(pid)
        drained_at = time.monotonic()
    finally:
        server.close()
        seller.join()
    rows = registry.files() if isinstance(registry, RegistryProcess) and files else registry.codes()
    held = set(rows)
    wire = registry.wire()
    if own_registry:
        registry.stop()
    status = read_status(engine, clock.now())
    engine.dispose()
    with sqlite3.connect(data / BOOTH_DB_FILE) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    expected = set(all_codes)
    return ChaosResult(
        kills=kills,
        codes=codes,
        in_registry=len(held),
        missing=len(expected - held),
        unexpected=len(held - expected),
        stored_twice=len(rows) - len(held),
        redelivered_codes=int(wire["redelivered_codes"]),
        requests=int(wire["requests"]),
        files=files,
        integrity=integrity,
        pending_left=status.counts["pending"],
        seconds=time.monotonic() - started,
        phases=(
            round(killed_at - started, 1),
            round(sold_at - killed_at, 1),
            round(drained_at - sold_at, 1),
        ),
        final_exit=final_exit,
    )
