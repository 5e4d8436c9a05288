"""A real registry on loopback for tests: uvicorn in a thread (in-process clock), or in a
subprocess (``cabine registry``, several workers) and a booth that signs its uploads, which the
benches share (``testkit.registry_process``)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from cabine.processes import free_port
from ephoto.clock import ManualClock
from ephoto.code import SeededCodeGeneratorForSimulation
from ephoto.wire import add_booth_key
from registry.app import create_app
from registry.settings import RegistrySettings
from registry.store import RegistryStore
from testkit.registry_process import (
    ADMIN_TOKEN,
    Booth,
    ProcessRegistry,
    RealClockPlusOffset,
    start_process,
)

__all__ = [
    "ADMIN_TOKEN",
    "Booth",
    "ProcessRegistry",
    "RealClockPlusOffset",
    "registry_settings",
    "seeded_codes",
    "start_process",
    "start_threaded",
]


def registry_settings(**overrides: Any) -> RegistrySettings:
    """Settings for tests: admin on, easy-to-compute ingestion (60 codes/h, no base delay)."""
    values: dict[str, Any] = {
        "admin_enabled": True,
        "admin_token": ADMIN_TOKEN,
        "capacity_per_hour": 60.0,
        "capacity_by_month": {},
        "base_delay_median_hours": 0.0,
        "base_delay_p95_hours": 0.0,
        "fault_hold_seconds": 3.0,
    }
    values.update(overrides)
    return RegistrySettings(**values)


@dataclass
class ThreadedRegistry:
    url: str
    clock: ManualClock
    store: RegistryStore
    keys_file: Path
    server: uvicorn.Server
    thread: threading.Thread
    app: Any = None

    def app_clock(self) -> Any:
        """The registry's own clock (the manual clock plus the QA offset)."""
        return self.app.state.clock

    def booth(self, booth_id: str = "booth-001", operator: str = "9PMT") -> Booth:
        key = add_booth_key(self.keys_file, booth_id, operator)
        return Booth(key, self.clock, self.url)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.store.dispose()


def start_threaded(
    db_url: str,
    tmp: Path,
    settings: RegistrySettings | None = None,
    clock: ManualClock | None = None,
    **app_options: Any,
) -> ThreadedRegistry:
    keys_file = tmp / "keys.toml"
    add_booth_key(keys_file, "booth-001", "9PMT")
    settings = (settings or registry_settings()).model_copy(update={"keys_file": keys_file})
    clock = clock or ManualClock()
    store = RegistryStore.from_url(db_url, settings.ingestion_model())
    app = create_app(settings, clock, store, **app_options)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("registry did not start within 15 s")
        time.sleep(0.02)
    return ThreadedRegistry(
        f"http://127.0.0.1:{port}", clock, store, keys_file, server, thread, app
    )


def seeded_codes(seed: int, count: int, prefix: str = "9PMT") -> list[str]:
    generator = SeededCodeGeneratorForSimulation(seed, prefix)
    return [generator.next_code().value for _ in range(count)]
