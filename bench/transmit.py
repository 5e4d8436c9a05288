"""Transmitter throughput on loopback: ePhoto files per second from the booth outbox to the
collector, and bare numbers per second to the registry.

Files (what a booth sends): the transmitter draining its outbox of numbers stored with their
files (photos of about 50 kB) into the stand-in collector, which checks every file
(``file_problems``) and holds each upload for its bytes' time on the booth's uplink; at an
unlimited uplink (the transmitter's own ceiling) and at 20,000 and 2,000 kbit/s (mobile data),
beside the uplink model's figure (``transmitter.latency.upload_seconds``).

Bare numbers (the collector's registration path), side by side in one run, for batches of 50,
200 and 1000 codes:
- ``registry alone``: signed batches posted straight to the real registry (``cabine registry``,
  SQLite store) by one client, no outbox: the registry's own ceiling;
- ``stand-in``: the transmitter draining its outbox (the same ``Dispatcher.drain`` the service
  runs: claim, sign, upload, record, synchronous=FULL) into the test stand-in registry, which
  checks signatures and keeps codes in memory: the transmitter's own ceiling;
- ``real registry``: the transmitter draining into the real registry: what a booth gets.
Then the time to drain a 100,000-code backlog into the real registry in batches of 1000.

Run: .venv/bin/python bench/transmit.py [--quick] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ephoto.clock import SystemClock  # noqa: E402
from ephoto.gcwork import freeze_startup_objects  # noqa: E402
from ephoto.wire import Batch, WireCode  # noqa: E402
from testkit.standin import (  # noqa: E402
    BOOTH,
    RealRegistry,
    RegistryProcess,
    booth_file,
    enqueue_codes,
    new_codes,
    read_keys,
    write_keys,
)
from transmitter.dispatch import Backoff, Dispatcher, Uploader, batch_id_for  # noqa: E402
from transmitter.latency import upload_seconds  # noqa: E402
from transmitter.outbox import Outbox, booth_db_url, open_outbox_engine, wire_bytes  # noqa: E402

CLOCK = SystemClock()


def registry_alone(url: str, keys: dict[str, bytes], batch_size: int, codes: int) -> float:
    """Codes/s the registry takes from one client posting pre-built batches."""
    uploader = Uploader(url, keys, CLOCK, timeout_seconds=60)
    batches = []
    for _ in range(max(1, codes // batch_size)):
        chunk = new_codes(batch_size)
        wire = tuple(WireCode(c, CLOCK.now(), "ephoto-permis") for c in chunk)
        batches.append(Batch(batch_id_for(BOOTH, chunk), BOOTH, wire))
    start = time.perf_counter()
    for batch in batches:
        result = uploader.upload(batch)
        if result.outcome != "sent":
            raise RuntimeError(f"registry refused a bench batch: {result.detail}")
    elapsed = time.perf_counter() - start
    uploader.close()
    return len(batches) * batch_size / elapsed


def drain(
    folder: Path,
    url: str,
    keys: dict[str, bytes],
    batch_size: int,
    codes: int,
    *,
    files: bool = False,
    uplink_kbps: float = 0.0,
) -> float:
    """Codes/s (files/s with ``files``) of one transmitter draining a due backlog of ``codes``
    into ``url``."""
    folder.mkdir(parents=True)
    engine = open_outbox_engine(booth_db_url(folder))
    enqueue_codes(engine, new_codes(codes), CLOCK, per_transaction=500, files=files)
    dispatcher = Dispatcher(
        Outbox(engine),
        # Two uploads in flight share the uplink (as `cabine transmitter` counts it).
        Uploader(url, keys, CLOCK, timeout_seconds=60, uplink_kbps=uplink_kbps / 2),
        CLOCK,
        batch_size=batch_size,
        backoff=Backoff(0.05, 0.5),
        files=files,
        max_upload_bytes=2_000_000,
    )
    freeze_startup_objects()  # as `cabine transmitter` does once started
    start = time.perf_counter()
    report = dispatcher.drain()
    elapsed = time.perf_counter() - start
    dispatcher.uploader.close()
    engine.dispose()
    if report.codes_sent != codes:
        raise RuntimeError(f"drained {report.codes_sent} of {codes}: {report.errors[-3:]}")
    return codes / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smaller backlogs (about 1 min).")
    parser.add_argument("--workers", type=int, default=2, help="Registry uvicorn workers.")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    sizes = {50: int(10_000 * scale), 200: int(20_000 * scale), 1000: int(50_000 * scale)}
    backlog = int(100_000 * scale)
    # (uplink kbit/s, files): each row takes some seconds at its uplink.
    uplinks = [(0.0, int(2000 * scale)), (20_000.0, int(500 * scale)), (2000.0, int(100 * scale))]

    with tempfile.TemporaryDirectory(prefix="cabine-bench-") as tmp_text:
        tmp = Path(tmp_text)
        keys_folder = tmp / "keys"
        real = RealRegistry(tmp, keys_folder, workers=args.workers)
        keys = read_keys(keys_folder / "keys.toml")
        stand_in_folder = tmp / "stand-in"
        stand_in_folder.mkdir()
        write_keys(stand_in_folder / "keys.toml")
        stand_in = RegistryProcess(stand_in_folder)
        stand_in_keys = read_keys(stand_in_folder / "keys.toml")
        registry_url = real.process.url  # straight to the registry, not through the proxy
        per_file = wire_bytes(booth_file(new_codes(1)[0], CLOCK.now()))
        print(
            "files: stand-in collector (every file checked), uploads of 20 files within 2 MB, "
            f"about {per_file / 1000:.0f} kB a file on the wire"
        )
        print(f"{'uplink':>14} {'files':>6} {'measured':>11} {'model':>11} {'MB/s':>7}")
        try:
            for n, (kbps, count) in enumerate(uplinks):
                stand_in.uplink(kbps)
                rate = drain(
                    tmp / f"f{n}",
                    stand_in.url,
                    stand_in_keys,
                    20,
                    count,
                    files=True,
                    uplink_kbps=kbps,
                )
                model = 1 / upload_seconds(per_file, kbps) if kbps else float("inf")
                name = f"{kbps:.0f} kbit/s" if kbps else "unlimited"
                print(
                    f"{name:>14} {count:>6} {rate:>8.1f}/s {model:>8.1f}/s "
                    f"{rate * per_file / 1e6:>7.2f}"
                )
        finally:
            stand_in.uplink(0)
        print()
        print(f"bare numbers: cabine registry, {args.workers} worker(s), SQLite store, loopback")
        print(f"{'batch':>6} {'codes':>7} {'registry alone':>15} {'stand-in':>10} {'real':>10}")
        try:
            for size, count in sizes.items():
                alone = registry_alone(registry_url, keys, size, count)
                fake = drain(tmp / f"s{size}", stand_in.url, stand_in_keys, size, count)
                live = drain(tmp / f"r{size}", registry_url, keys, size, count)
                print(f"{size:>6} {count:>7} {alone:>12.0f}/s {fake:>8.0f}/s {live:>8.0f}/s")
            rate = drain(tmp / "backlog", registry_url, keys, 1000, backlog)
            print(
                f"backlog of {backlog} codes, batches of 1000, into the real registry: "
                f"drained in {backlog / rate:.1f} s ({rate:.0f} codes/s; filling the outbox "
                "beforehand is not counted)"
            )
        finally:
            stand_in.stop()
            real.stop()


if __name__ == "__main__":
    main()
