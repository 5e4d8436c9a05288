"""Transmitter throughput on loopback: codes per second from the booth outbox to the registry.

Side by side in one run, for batches of 50, 200 and 1000 codes:
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
from tests.transmitter_harness import (  # noqa: E402
    BOOTH,
    RealRegistry,
    RegistryProcess,
    enqueue_codes,
    new_codes,
    read_keys,
    write_keys,
)
from transmitter.dispatch import Backoff, Dispatcher, Uploader, batch_id_for  # noqa: E402
from transmitter.outbox import Outbox, booth_db_url, open_outbox_engine  # noqa: E402

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


def drain(folder: Path, url: str, keys: dict[str, bytes], batch_size: int, codes: int) -> float:
    """Codes/s of one transmitter draining a due backlog of ``codes`` into ``url``."""
    folder.mkdir(parents=True)
    engine = open_outbox_engine(booth_db_url(folder))
    enqueue_codes(engine, new_codes(codes), CLOCK, per_transaction=5000)
    dispatcher = Dispatcher(
        Outbox(engine),
        Uploader(url, keys, CLOCK, timeout_seconds=60),
        CLOCK,
        batch_size=batch_size,
        backoff=Backoff(0.05, 0.5),
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
        print(f"registry: cabine registry, {args.workers} worker(s), SQLite store, loopback")
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
