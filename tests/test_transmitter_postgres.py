"""A central outbox on PostgreSQL drained by two transmitter workers at once: each code
reaches the registry once, and both workers share the work (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import timedelta

import pytest

from ephoto.clock import SystemClock
from testkit.standin import ROOT, RealRegistry, enqueue_codes, new_codes
from tests.test_transmitter_faults import CABINE, transmitter_env, wait_until_sent
from transmitter.outbox import Outbox, open_outbox_engine, read_status

pytestmark = pytest.mark.postgres


def test_two_workers_on_one_postgres_outbox_deliver_each_code_once(tmp_path, postgres_url):
    data = tmp_path / "workers"
    registry = RealRegistry(tmp_path, data)
    engine = open_outbox_engine(postgres_url)
    env = transmitter_env(
        CABINE_TRANSMITTER__OUTBOX_URL=postgres_url,
        CABINE_TRANSMITTER__BATCH_SIZE="20",
        CABINE_TRANSMITTER__REQUEST_TIMEOUT_SECONDS="10",
    )
    workers, logs = [], []
    for n in range(2):
        log = tmp_path / f"worker-{n}.log"
        logs.append(log)
        workers.append(
            subprocess.Popen(
                [*CABINE, "transmitter", "--data", str(data), "--registry", registry.url],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=log.open("w"),
                text=True,
            )
        )
    codes = new_codes(2000)
    try:
        deadline = time.monotonic() + 60
        while not all("transmitter started" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)
        # Codes keep arriving while both workers are running.
        enqueue_codes(engine, codes, SystemClock(), per_transaction=20, spread_seconds=4)
        wait_until_sent(engine, len(codes), 90)
    finally:
        outputs = []
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
            outputs.append(proc.communicate(timeout=30)[0])
        stored = registry.codes()
        wire = registry.wire()
        registry.stop()
    print(f"\nwire: {wire}\nworkers: {outputs}")
    assert [p.returncode for p in workers] == [0, 0]
    sent_by = [int(re.search(r"(\d+) codes sent", out).group(1)) for out in outputs]
    failed = sum(int(re.search(r"(\d+) failed attempts", out).group(1)) for out in outputs)
    # Each code was sent (and recorded) by one worker only, and both workers took part.
    assert sum(sent_by) == len(codes) and min(sent_by) > 0, sent_by
    assert sorted(stored) == sorted(codes)
    # A code crosses the wire twice only when its worker retried a failed upload, never
    # because the other worker took it too.
    assert wire["redelivered_codes"] <= failed * 20, (wire, failed)
    assert read_status(engine, SystemClock().now()).counts["sent"] == len(codes)
    engine.dispose()


def test_skip_locked_claims_never_overlap(postgres_url):
    """Claims from many threads at once on one PostgreSQL outbox: no row is handed out twice."""
    from concurrent.futures import ThreadPoolExecutor

    engine = open_outbox_engine(postgres_url)
    box = Outbox(engine)
    clock = SystemClock()
    enqueue_codes(engine, new_codes(1000), clock, per_transaction=500)
    now = clock.now()

    def claim_all() -> list[int]:
        got = []
        while rows := box.claim_due(now, 7, timedelta(minutes=5)):
            got += [r.id for r in rows]
        return got

    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda _: claim_all(), range(6)))
    every = [i for c in claims for i in c]
    assert len(every) == 1000 and len(set(every)) == 1000
    assert sum(1 for c in claims if c) >= 2
    engine.dispose()
