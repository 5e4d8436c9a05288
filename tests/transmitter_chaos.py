"""The kill -9 run shared by the test suite and ``bench/chaos.py``.

A booth database fills with codes while transmitters are started and killed with SIGKILL at
random moments (forked from a process that has already imported everything, so a cycle costs
milliseconds, not an interpreter start). One registry serves the whole run. At the end a last
transmitter drains the rest and the run reports what the registry holds.
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
from tests.transmitter_harness import (
    ForkServer,
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
    redelivered_codes: int
    replayed_batches: int
    requests: int
    integrity: str
    pending_left: int
    seconds: float
    final_exit: int


def run_chaos(
    tmp: Path,
    *,
    kills: int = 200,
    codes: int = 5000,
    max_life: float = 0.25,
    batch_size: int = 25,
    seed: int = 0,
    registry: RegistryProcess | None = None,
) -> ChaosResult:
    rng = random.Random(seed)
    data = tmp / "booth"
    data.mkdir(parents=True, exist_ok=True)
    write_keys(data / "keys.toml")
    own_registry = registry is None
    registry = registry or RegistryProcess(tmp)
    engine = open_outbox_engine(booth_db_url(data))
    clock = SystemClock()
    all_codes = new_codes(codes)
    started = time.monotonic()
    # The kiosk keeps selling during the whole run: the codes arrive over the kill cycles.
    spread = kills * (0.03 + max_life / 2) * 0.9
    seller = threading.Thread(
        target=enqueue_codes, args=(engine, all_codes, clock), kwargs={"spread_seconds": spread}
    )
    seller.start()
    server = ForkServer(data, registry.url, batch_size=batch_size, poll=0.1)
    try:
        for _ in range(kills):
            pid = server.spawn()
            time.sleep(rng.uniform(0.0, max_life))
            os.kill(pid, signal.SIGKILL)
            server.wait(pid)
        seller.join()
        # A last transmitter, stopped cleanly once everything is in.
        pid = server.spawn()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if read_status(engine, clock.now()).counts["pending"] == 0:
                break
            time.sleep(0.1)
        os.kill(pid, signal.SIGTERM)
        final_exit = server.wait(pid)
    finally:
        server.close()
        seller.join()
    held = set(registry.get("/admin/codes"))
    state = registry.get("/admin/state")
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
        redelivered_codes=int(state["redelivered_codes"]),
        replayed_batches=int(state["replayed_batches"]),
        requests=int(state["requests"]),
        integrity=integrity,
        pending_left=status.counts["pending"],
        seconds=time.monotonic() - started,
        final_exit=final_exit,
    )
