"""The ePhoto chain end to end under kill -9, shared by the slow test and ``bench/ephoto_chain.py``.

A booth sells numbers with their files (small transactions, spread over the run) while its
transmitter (forked from a warm process, see :class:`testkit.standin.ForkServer`) sends
the files to the operator's collector (``cabine collector serve``, its own process, SQLite),
which seals them and registers the numbers with the state (``cabine registry``, its own process,
SQLite, configured to fetch from that collector). The transmitter is killed with SIGKILL at
random moments; every so often the collector is killed with SIGKILL too and started again on
the same port and data. At the end a last transmitter drains the booth, the collector finishes
registering, and every number is used once at the state: each use fetches the file from the
collector, checks the seal with the operator's key and the digests, and must answer 200 with
the booth's own photo and signature.

What is counted: numbers lost or stored twice at the collector and at the state, registrations
still pending, uses refused or whose file differs from the booth's, and ``PRAGMA
integrity_check`` of the booth's and the collector's databases.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cabine.processes import free_port
from ephoto.clock import SystemClock
from ephoto.seal import load_or_create_private_key, public_pem
from ephoto.vocabulary import Procedure
from ephoto.wire import add_booth_key
from testkit.registry_process import ADMIN_TOKEN, ProcessRegistry, start_process
from testkit.standin import BOOTH, OPERATOR, ROOT, ForkServer, enqueue_codes, new_codes
from transmitter.outbox import (
    BOOTH_DB_FILE,
    booth_db_url,
    files_of,
    open_outbox_engine,
    read_status,
)

COLLECTOR_ID = f"collector-{OPERATOR}"


@dataclass(frozen=True)
class ChainResult:
    sales: int
    transmitter_kills: int
    collector_kills: int
    booth_pending_left: int
    booth_rejected: int
    at_collector: int
    collector_missing: int
    collector_stored_twice: int
    registered: int
    at_registry: int
    registry_missing: int
    registry_unexpected: int
    registry_stored_twice: int
    used: int
    seals_verified: int
    """Uses answered 200 with a file whose digests are the booth's (seal checked by the state)."""
    use_refusals: dict[str, int]
    booth_integrity: str
    collector_integrity: str
    seconds: float
    phases: tuple[float, float, float, float]
    """Kill cycles, last sales and booth drain, registration, every number used."""

    @property
    def ok(self) -> bool:
        return (
            self.booth_pending_left == 0
            and self.booth_rejected == 0
            and self.collector_missing == 0
            and self.collector_stored_twice == 0
            and self.registry_missing == 0
            and self.registry_unexpected == 0
            and self.registry_stored_twice == 0
            and self.registered == self.sales
            and self.used == self.sales
            and self.seals_verified == self.sales
            and not self.use_refusals
            and self.booth_integrity == "ok"
            and self.collector_integrity == "ok"
        )


# The chain's collector: its admin API on, numbers registered as soon as possible.
CHAIN_COLLECTOR_SETTINGS = {
    "CABINE_COLLECTOR__ADMIN_ENABLED": "true",
    "CABINE_COLLECTOR__ADMIN_TOKEN": ADMIN_TOKEN,
    "CABINE_COLLECTOR__REGISTRATION_WINDOW_MINUTES": "0",
    "CABINE_COLLECTOR__REGISTRATION_POLL_SECONDS": "0.2",
    "CABINE_COLLECTOR__REGISTRATION_BATCH_SIZE": "500",
    "CABINE_COLLECTOR__REQUEST_TIMEOUT_SECONDS": "5",
}


class CollectorProcess:
    """``cabine collector serve`` on a fixed port and data folder; killed and started again.

    ``settings``: ``CABINE_COLLECTOR__*`` variables (default: the chain's); ``args``: more
    options (``--db URL``, ``--workers N``); ``log``: where its output goes (default
    ``collector.log`` in the data folder)."""

    def __init__(
        self,
        data: Path,
        port: int,
        registry_url: str,
        *,
        settings: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        log: Path | None = None,
    ):
        self.data = data
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log if log is not None else data / "collector.log"
        self.env = {
            **os.environ,
            **(CHAIN_COLLECTOR_SETTINGS if settings is None else settings),
        }
        self.registry_url = registry_url
        self.args = tuple(args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def start(self, timeout: float = 60.0) -> None:
        command = [sys.executable, "-m", "cabine.cli", "collector", "serve"]
        command += ["--data", str(self.data), "--port", str(self.port)]
        command += ["--registry", self.registry_url, *self.args]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"collector exited {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"collector did not answer within {timeout:.0f} s")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, and SIGKILL if it has not exited within ``timeout`` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(
            self.url + "/admin/stats",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def wire_chain(tmp: Path) -> tuple[Path, Path, Path, int]:
    """Folders and keys: the booth's, the collector's (seal key, the state's public key) and
    the registry's (state key, the collector's public key, the keys file with the booth and the
    collector's registration key). Returns (booth, collector, registry folders, collector port).
    """
    booth, collector, registry = tmp / "booth", tmp / "collector", tmp / "registry"
    for folder in (booth, collector, registry):
        folder.mkdir(parents=True, exist_ok=True)
    keys = registry / "keys.toml"
    add_booth_key(keys, BOOTH, OPERATOR)
    add_booth_key(keys, COLLECTOR_ID, OPERATOR)
    shutil.copyfile(keys, booth / "keys.toml")
    shutil.copyfile(keys, collector / "keys.toml")
    state = load_or_create_private_key(registry / "state-fetch.pem")
    (collector / "state-fetch.pub.pem").write_bytes(public_pem(state))
    seal = load_or_create_private_key(collector / "collector-seal.pem")
    (registry / "collector-seal.pub.pem").write_bytes(public_pem(seal))
    return booth, collector, registry, free_port()


def start_registry(registry: Path, collector_url: str) -> ProcessRegistry:
    """The state: numbers active as soon as registered (no queue to wait for), fetching each
    file from the collector at use."""
    return start_process(
        f"sqlite:///{registry / 'registry.db'}",
        registry,
        workers=1,
        capacity_per_hour=10_000_000,
        collectors={
            OPERATOR: {
                "url": collector_url,
                "public_key_file": str(registry / "collector-seal.pub.pem"),
            }
        },
        fetch_timeout_seconds=10,
    )


def use_every_number(
    registry_url: str, codes: list[str], expected: dict[str, tuple[str, str]], concurrency: int
) -> tuple[int, int, Counter[str]]:
    """Redeem each number once; (answered 200, with the booth's file, refusals by status)."""

    async def run() -> tuple[int, int, Counter[str]]:
        used = verified = 0
        refusals: Counter[str] = Counter()
        queue: asyncio.Queue[str] = asyncio.Queue()
        for code in codes:
            queue.put_nowait(code)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=registry_url, timeout=60, limits=limits) as client:

            async def worker() -> None:
                nonlocal used, verified
                while not queue.empty():
                    code = queue.get_nowait()
                    response = await client.post(
                        f"/v1/codes/{code}/redeem", json={"procedure": Procedure.PERMIS.value}
                    )
                    if response.status_code != 200:
                        refusals[f"{response.status_code} {response.json().get('status')}"] += 1
                        continue
                    used += 1
                    file = response.json().get("file") or {}
                    if (file.get("photo_sha256"), file.get("signature_sha256")) == expected[code]:
                        verified += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return used, verified, refusals

    return asyncio.run(run())


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def _codes_in(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(f"SELECT code FROM {table}")]  # noqa: S608


def run_chain(
    tmp: Path,
    *,
    sales: int = 10_000,
    transmitter_kills: int = 100,
    collector_kills: int = 20,
    max_life: float = 1.0,
    files_per_upload: int = 20,
    seed: int = 1,
    use_concurrency: int = 8,
    say: Any = None,
) -> ChainResult:
    """One run; ``say`` (a print-like callable) is told each phase as it starts."""
    say = say or (lambda *_: None)
    rng = random.Random(seed)
    booth, collector_dir, registry_dir, port = wire_chain(tmp)
    collector_url = f"http://127.0.0.1:{port}"
    registry = start_registry(registry_dir, collector_url)
    collector = CollectorProcess(collector_dir, port, registry.url)
    engine = open_outbox_engine(booth_db_url(booth))
    clock = SystemClock()
    all_codes = new_codes(sales)
    # Which transmitter kills are followed by a collector kill, spread over the run.
    collector_after = set(
        rng.sample(range(transmitter_kills), min(collector_kills, transmitter_kills))
    )
    started = time.monotonic()
    server: ForkServer | None = None
    seller: threading.Thread | None = None
    killed_collector = 0
    try:
        collector.start()
        say(
            f"selling {sales} numbers with their files; {transmitter_kills} kill -9 of the "
            f"transmitter, {len(collector_after)} of the collector"
        )
        spread = transmitter_kills * (0.05 + max_life / 2) * 0.9
        seller = threading.Thread(
            target=enqueue_codes,
            args=(engine, all_codes, clock),
            kwargs={"spread_seconds": spread, "files": True},
        )
        seller.start()
        server = ForkServer(booth, collector_url, batch_size=files_per_upload, poll=0.1, files=True)
        for n in range(transmitter_kills):
            pid = server.spawn()
            time.sleep(rng.uniform(0.0, max_life))
            os.kill(pid, signal.SIGKILL)
            server.wait(pid)
            if n in collector_after:
                # The collector dies mid-work (uploads, sealing, registration) and comes back.
                time.sleep(rng.uniform(0.0, max_life))
                collector.kill()
                killed_collector += 1
                collector.start()
        killed_at = time.monotonic()
        say("kills done; the last sales and a last transmitter drain the booth")
        seller.join()
        pid = server.spawn()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if read_status(engine, clock.now()).counts["pending"] == 0:
                break
            time.sleep(0.2)
        os.kill(pid, signal.SIGTERM)
        server.wait(pid)
        drained_at = time.monotonic()
        say("booth drained; waiting for the collector to register every number")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            stats = collector.stats()
            if stats["registered"] >= sales or (
                stats["pending_registration"] == 0 and stats["files_received"] >= sales
            ):
                break
            time.sleep(0.2)
        stats = collector.stats()
        registered_at = time.monotonic()
        say(f"using every number at the state ({use_concurrency} at a time)")
        with engine.connect() as conn:
            expected: dict[str, tuple[str, str]] = {}
            for start in range(0, len(all_codes), 500):
                for code, file in files_of(conn, all_codes[start : start + 500]).items():
                    expected[code] = (file.meta.photo_sha256, file.meta.signature_sha256)
        used, verified, refusals = use_every_number(
            registry.url, all_codes, expected, use_concurrency
        )
        used_at = time.monotonic()
    finally:
        if server is not None:
            server.close()
        if seller is not None:
            seller.join()
        collector.stop()
        registry.stop()
    status = read_status(engine, clock.now())
    engine.dispose()
    wanted = set(all_codes)
    at_collector = _codes_in(collector_dir / "collector.sqlite", "files")
    at_registry = _codes_in(registry_dir / "registry.db", "codes")
    held_c, held_r = set(at_collector), set(at_registry)
    return ChainResult(
        sales=sales,
        transmitter_kills=transmitter_kills,
        collector_kills=killed_collector,
        booth_pending_left=status.counts["pending"],
        booth_rejected=status.counts.get("rejected", 0),
        at_collector=len(held_c),
        collector_missing=len(wanted - held_c),
        collector_stored_twice=len(at_collector) - len(held_c),
        registered=int(stats["registered"]),
        at_registry=len(held_r),
        registry_missing=len(wanted - held_r),
        registry_unexpected=len(held_r - wanted),
        registry_stored_twice=len(at_registry) - len(held_r),
        used=used,
        seals_verified=verified,
        use_refusals=dict(refusals),
        booth_integrity=_integrity(booth / BOOTH_DB_FILE),
        collector_integrity=_integrity(collector_dir / "collector.sqlite"),
        seconds=round(time.monotonic() - started, 1),
        phases=(
            round(killed_at - started, 1),
            round(drained_at - killed_at, 1),
            round(registered_at - drained_at, 1),
            round(used_at - registered_at, 1),
        ),
    )
