"""The real registry as its own process (``cabine registry``, several workers) and a booth that
signs its uploads: for the tests and the benches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cabine.processes import free_port
from ephoto.clock import Clock
from ephoto.code import generate
from ephoto.wire import Batch, BoothKey, WireCode, add_booth_key, sign_request

ADMIN_TOKEN = "test-admin-token"


@dataclass
class Booth:
    """A booth that signs its uploads with its key and the clock it is given."""

    key: BoothKey
    clock: Clock
    base_url: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def batch(
        self,
        codes: Iterable[str],
        issued_at: datetime | None = None,
        product: str = "ephoto-permis",
        batch_id: str | None = None,
    ) -> Batch:
        when = issued_at or self.clock.now()
        return Batch(
            batch_id or uuid.uuid4().hex,
            self.key.booth_id,
            tuple(WireCode(c, when, product) for c in codes),
        )

    def signed(
        self,
        body: bytes,
        now: datetime | None = None,
        nonce: str | None = None,
        path: str = "/v1/batches",
        key: bytes | None = None,
    ) -> dict[str, str]:
        headers = sign_request(
            "POST",
            self.base_url + path,
            body,
            self.key.booth_id,
            key or self.key.secret,
            now or self.clock.now(),
            nonce=nonce,
        )
        return {**headers, "Content-Type": "application/json"}

    def upload(self, batch: Batch | bytes, **sign: Any) -> httpx.Response:
        body = batch if isinstance(batch, bytes) else batch.to_json()
        return self.http.post(
            self.base_url + "/v1/batches", content=body, headers=self.signed(body, **sign)
        )

    def new_codes(self, count: int) -> list[str]:
        return [generate(self.key.operator).value for _ in range(count)]


class RealClockPlusOffset:
    """The clock a subprocess registry runs on, as seen from the test: wall time plus the
    offset moved through /admin/clock."""

    def __init__(self) -> None:
        from ephoto.clock import SystemClock

        self.base = SystemClock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.base.now() + self.offset


@dataclass
class ProcessRegistry:
    url: str
    process: subprocess.Popen[bytes]
    keys_file: Path
    clock: RealClockPlusOffset
    log: Path

    def booth(self, booth_id: str = "booth-001", operator: str = "9PMT") -> Booth:
        key = add_booth_key(self.keys_file, booth_id, operator)
        # Booths sign on the shared clock, without the registry's QA offset.
        return Booth(key, self.clock.base, self.url)

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )

    def advance(self, seconds: float) -> None:
        with self.admin() as admin:
            admin.post("/admin/clock", json={"advance_seconds": seconds}).raise_for_status()
        self.clock.offset += timedelta(seconds=seconds)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_process(db_url: str, tmp: Path, workers: int = 2, **env_settings: Any) -> ProcessRegistry:
    keys_file = tmp / "keys.toml"
    add_booth_key(keys_file, "booth-001", "9PMT")
    port = free_port()
    env = {
        **os.environ,
        "CABINE_REGISTRY__ADMIN_ENABLED": "true",
        "CABINE_REGISTRY__ADMIN_TOKEN": ADMIN_TOKEN,
        "CABINE_REGISTRY__CAPACITY_PER_HOUR": "60",
        "CABINE_REGISTRY__CAPACITY_BY_MONTH": "{}",
        "CABINE_REGISTRY__BASE_DELAY_MEDIAN_HOURS": "0",
        "CABINE_REGISTRY__BASE_DELAY_P95_HOURS": "0",
    }
    for name, value in env_settings.items():
        env[f"CABINE_REGISTRY__{name.upper()}"] = (
            value if isinstance(value, str) else json.dumps(value)
        )
    log = tmp / "registry.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cabine.cli",
            "registry",
            "--port",
            str(port),
            "--db",
            db_url,
            "--data",
            str(tmp),
            "--workers",
            str(workers),
            "--keys",
            str(keys_file),
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"registry exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"registry did not answer within 30 s:\n{log.read_text()}")
        time.sleep(0.1)
    return ProcessRegistry(url, process, keys_file, RealClockPlusOffset(), log)
