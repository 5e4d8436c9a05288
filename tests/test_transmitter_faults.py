"""The transmitter under real failures: SIGKILL at random moments, a faulty collector or
registry, a collector gone for 72 (scaled) hours, a full disk while the kiosk issues a code.

The booth sends ePhoto files to the stand-in collector; the same code path sending bare numbers
to the real registry (the collector's own registration outbox) is run too, smaller. Real
processes on loopback: the servers in their own processes, transmitters started as
``cabine transmitter`` or forked from a warm process so hundreds of kill cycles stay fast.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, insert, select
from sqlalchemy.exc import OperationalError

from ephoto.clock import ScaledClock, SystemClock
from ephoto.epfile import file_problems
from testkit.chaos import run_chaos
from testkit.standin import (
    BOOTH,
    ROOT,
    RealRegistry,
    RegistryProcess,
    booth_file,
    enqueue_codes,
    free_port,
    new_codes,
    write_keys,
)
from transmitter.outbox import (
    BOOTH_DB_FILE,
    booth_db_url,
    configure_sqlite_durability,
    create_schema,
    enqueue,
    open_outbox_engine,
    outbox,
    outbox_files,
    read_file,
    read_status,
)

CABINE = [sys.executable, "-m", "cabine.cli"]


def transmitter_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CABINE_TRANSMITTER__BATCH_WINDOW_MINUTES": "0",
        "CABINE_TRANSMITTER__POLL_SECONDS": "0.2",
        "CABINE_TRANSMITTER__REQUEST_TIMEOUT_SECONDS": "0.5",
        "CABINE_TRANSMITTER__BACKOFF_BASE_SECONDS": "0.05",
        "CABINE_TRANSMITTER__BACKOFF_CAP_SECONDS": "0.5",
    }
    env.pop("CABINE_CONFIG", None)
    env.update(extra)
    return env


def start_transmitter(
    data: Path, url: str, env: dict[str, str], files: bool = False
) -> subprocess.Popen:
    """``cabine transmitter``: files to the collector at ``url``, or bare numbers to the
    registry there."""
    destination = "--collector" if files else "--registry"
    return subprocess.Popen(
        [*CABINE, "transmitter", "--data", str(data), destination, url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_sent(engine, expected: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if read_status(engine, SystemClock().now()).counts["sent"] >= expected:
            return
        time.sleep(0.1)
    raise AssertionError(
        f"not all {expected} codes sent after {seconds} s: "
        f"{read_status(engine, SystemClock().now())}"
    )


def booth(tmp_path: Path) -> tuple[Path, object]:
    data = tmp_path / "booth"
    data.mkdir()
    write_keys(data / "keys.toml")
    return data, open_outbox_engine(booth_db_url(data))


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_no_file_and_stores_each_once(tmp_path, record_property):
    """200 transmitters killed with SIGKILL at random moments (starting, claiming, uploading,
    recording) while 2,000 numbers are sold with their ePhoto files; the stand-in collector
    checks every file and serves the whole run."""
    result = run_chaos(
        tmp_path, kills=200, codes=2000, max_life=0.3, batch_size=20, seed=5, files=True
    )
    print(f"\nchaos: {result}")
    record_property("redelivered_files", result.redelivered_codes)
    assert result.kills == 200 and result.files
    assert (result.missing, result.unexpected, result.stored_twice) == (0, 0, 0)
    assert result.in_registry == 2000 and result.pending_left == 0
    assert result.integrity == "ok"
    assert result.final_exit == 0  # the last one, stopped with SIGTERM, exits cleanly
    # Files sent again after a kill between the collector's answer and the booth's record are
    # counted and printed above (redelivered_codes); the collector stored each of them once.


@pytest.mark.slow
def test_kill_9_sending_bare_numbers_loses_none_and_the_registry_stores_each_once(tmp_path):
    """The collector's registration path: bare numbers to the real registry, 50 kills while
    1,000 numbers are queued."""
    result = run_chaos(tmp_path, kills=50, codes=1000, max_life=0.3, batch_size=50, seed=6)
    print(f"\nchaos (numbers): {result}")
    assert not result.files
    assert (result.missing, result.unexpected, result.stored_twice) == (0, 0, 0)
    assert result.in_registry == 1000 and result.pending_left == 0
    assert result.integrity == "ok" and result.final_exit == 0


def run_against(
    registry,
    data: Path,
    engine,
    codes: list[str],
    batch_size: int,
    parallel: int = 2,
    files: bool = False,
    **env_extra: str,
) -> str:
    """Start ``cabine transmitter``, wait until every code is sent, stop it with SIGTERM;
    its summary line. With ``files`` the codes are sold with their files and go to the
    collector at ``registry.url``."""
    enqueue_codes(engine, codes, SystemClock(), per_transaction=100, files=files)
    env = transmitter_env(
        CABINE_TRANSMITTER__BATCH_SIZE=str(batch_size),
        CABINE_TRANSMITTER__FILES_PER_UPLOAD=str(min(batch_size, 50)),
        CABINE_TRANSMITTER__PARALLEL_UPLOADS=str(parallel),
        **env_extra,
    )
    proc = start_transmitter(data, registry.url, env, files=files)
    try:
        wait_until_sent(engine, len(codes), 90)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert "transmitter stopped" in out
    return out.strip()


@pytest.mark.slow
def test_a_faulty_registry_loses_nothing_and_applies_nothing_twice(tmp_path):
    """The real registry answers 30 % of uploads with 503, applies 10 % and then holds the
    answer past the booth's timeout, and adds latency to every one."""
    data = tmp_path / "booth"
    registry = RealRegistry(tmp_path, data, fault_hold_seconds=1.0)
    engine = open_outbox_engine(booth_db_url(data))
    registry.faults(p_error_5xx=0.3, p_timeout_after_apply=0.1, extra_latency_ms=5)
    codes = new_codes(1200)
    try:
        out = run_against(registry, data, engine, codes, batch_size=40)
        stored = registry.codes()
        wire = registry.wire()
    finally:
        registry.stop()
    print(f"\nwire: {wire}\ntransmitter: {out}")
    assert sorted(stored) == sorted(codes)  # 0 lost, and no code stored twice
    status = read_status(engine, SystemClock().now())
    assert status.counts == {"pending": 0, "sent": 1200, "rejected": 0}
    # The faults did happen: some uploads failed and some codes crossed the wire again.
    assert int(re.search(r"(\d+) failed attempts", out).group(1)) > 0
    assert wire["redelivered_codes"] > 0


@pytest.mark.slow
def test_a_faulty_collector_loses_no_file_and_stores_each_once(tmp_path):
    """The stand-in collector answers 30 % of uploads with 503, stores 20 % and then holds the
    answer past the booth's timeout, adds latency to every one, and the booth's uplink is
    slow (8000 kbit/s: an upload of 10 files takes about half a second). With 30 uploads or more
    the chance that no stored-then-timed-out upload happens at all is about 0.8**30, 0.1 %."""
    data, engine = booth(tmp_path)
    collector = RegistryProcess(data, uplink_kbps=8000)
    collector.faults(
        error_rate=0.3, retry_after_share=0.0, timeout_after_apply_rate=0.2, latency_ms=5
    )
    codes = new_codes(300)
    try:
        out = run_against(
            collector,
            data,
            engine,
            codes,
            batch_size=10,
            files=True,
            CABINE_TRANSMITTER__UPLINK_KBPS="8000",
        )
        held = collector.files()
        wire = collector.wire()
    finally:
        collector.stop()
    print(f"\ncollector: {wire}\ntransmitter: {out}")
    assert sorted(held) == sorted(codes)  # 0 lost; the collector keeps one file per number
    status = read_status(engine, SystemClock().now())
    assert status.counts == {"pending": 0, "sent": 300, "rejected": 0}
    assert int(re.search(r"(\d+) failed attempts", out).group(1)) > 0
    assert wire["redelivered_codes"] > 0 and wire["refused_uploads"] == 0
    assert "300 files sent in" in out


@pytest.mark.slow
def test_a_collector_asking_for_retry_after_is_never_hurried(tmp_path):
    """The stand-in collector asks for 1 s on half of its 503s and counts any request that
    comes earlier. One upload at a time: with two in flight, the second may already be on its
    way when the first one's Retry-After arrives (the unit tests check nothing new starts)."""
    data, engine = booth(tmp_path)
    registry = RegistryProcess(data)
    registry.faults(error_rate=0.3, retry_after_share=0.5, retry_after_seconds=1)
    codes = new_codes(300)
    try:
        out = run_against(registry, data, engine, codes, batch_size=20, parallel=1, files=True)
        state = registry.wire()
        held = registry.files()
    finally:
        registry.stop()
    print(f"\nregistry: {state}\ntransmitter: {out}")
    assert sorted(held) == sorted(codes)
    assert state["faults_5xx"] > 0
    assert state["early_requests"] == 0


@pytest.mark.slow
def test_collector_down_for_72_scaled_hours_then_every_file_arrives_and_no_run_is_dropped(
    tmp_path,
):
    scale = 21600.0  # 72 h pass in 12 s
    epoch = datetime.now(UTC)
    clock = ScaledClock(epoch, scale)
    data, engine = booth(tmp_path)
    port = free_port()  # nobody listens there yet: the collector is down
    codes = new_codes(300)
    enqueue_codes(
        engine, codes, clock, per_transaction=50, batch_window=timedelta(minutes=15), files=True
    )
    env = transmitter_env(
        CABINE_CLOCK__SCALE=str(scale),
        CABINE_CLOCK__EPOCH=epoch.isoformat(),
        CABINE_TRANSMITTER__BATCH_WINDOW_MINUTES="15",
        CABINE_TRANSMITTER__BACKOFF_CAP_SECONDS="1",
    )
    proc = start_transmitter(data, f"http://127.0.0.1:{port}", env, files=True)
    registry = None
    try:
        time.sleep(4)
        # The booth computer is suspended for a while: every run due meanwhile is late. With
        # misfire_grace_time=None they still run (coalesced) instead of being dropped.
        proc.send_signal(signal.SIGSTOP)
        time.sleep(3)
        proc.send_signal(signal.SIGCONT)
        while clock.now() < epoch + timedelta(hours=72):
            time.sleep(0.1)
        assert read_status(engine, clock.now()).counts["sent"] == 0
        # The stand-in collector: a real server's signature window is a fixed 300 domain
        # seconds, 14 ms of real time at this scale, so loopback latency would make signatures
        # stale. Here the window spans 60 real seconds.
        registry = RegistryProcess(
            data, port=port, scale=scale, epoch=epoch, window_seconds=60 * scale
        )
        wait_until_sent(engine, len(codes), 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        if registry is not None:
            held = registry.files()
            registry.stop()
    print(f"\ntransmitter: {out.strip()}")
    assert proc.returncode == 0, err[-2000:]
    assert sorted(held) == sorted(codes)
    assert "0 missed runs" in out
    status = read_status(engine, clock.now())
    assert status.counts["pending"] == 0 and status.dead_letter == 0
    assert status.last_error.startswith("connection failed")


# -- a full disk while the kiosk issues a code ------------------------------------------------

sales_meta = MetaData()
sales = Table(
    "test_sales",
    sales_meta,
    Column("id", Integer, primary_key=True),
    Column("code", String(22), nullable=False),
)

SELL_SCRIPT = r"""
import json, resource, signal, sys
from datetime import UTC, datetime
from sqlalchemy import create_engine, insert
from tests.test_transmitter_faults import sales
from testkit.standin import booth_file, file_images
from transmitter.outbox import configure_sqlite_durability, enqueue
from ephoto.code import generate

file_images()  # encoded before the limit is set

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
engine = create_engine(sys.argv[1])
configure_sqlite_durability(engine)
with engine.connect() as conn:
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
size = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
issued, errors = [], []
for _ in range(4000):
    code = generate().value
    try:
        with engine.begin() as conn:
            conn.execute(insert(sales).values(code=code))
            now = datetime.now(UTC)
            enqueue(
                conn, code, now, "ephoto-permis", booth_id="b1",
                file=booth_file(code, now, booth_id="b1", n=len(issued)),
            )
    except Exception as exc:
        errors.append({"code": code, "error": f"{type(exc).__name__}: {exc}"[:200]})
        if len(errors) >= 5:
            break
    else:
        issued.append(code)
print(json.dumps({"issued": issued, "errors": errors}))
"""


def _sell_until_the_disk_is_full(url: str, limit_bytes: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SELL_SCRIPT, url, str(limit_bytes)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_a_full_disk_on_enqueue_is_an_error_and_no_code_is_issued(tmp_path):
    """The process may not write past 2 MB (RLIMIT_FSIZE: the kernel refuses the write, as
    on a full disk) while sales store their numbers with their ePhoto files (about 60 kB
    each). Each sale that cannot commit raises to the caller, and neither its sale row nor its
    outbox row nor its file exists afterwards; every sale that did commit is intact."""
    url = f"sqlite:///{tmp_path / BOOTH_DB_FILE}"
    engine = create_engine(url)
    configure_sqlite_durability(engine)
    create_schema(engine)
    sales_meta.create_all(engine)
    engine.dispose()
    result = _sell_until_the_disk_is_full(url, 2_000_000)
    assert result["errors"], "the size limit was never reached"
    assert all(
        "full" in e["error"] or "I/O" in e["error"] or "disk" in e["error"]
        for e in result["errors"]
    ), result["errors"]
    failed = {e["code"] for e in result["errors"]}
    engine = create_engine(url)
    with engine.connect() as conn:
        in_outbox = set(conn.execute(select(outbox.c.code)).scalars())
        in_sales = set(conn.execute(select(sales.c.code)).scalars())
        with_file = set(conn.execute(select(outbox_files.c.code)).scalars())
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert len(result["issued"]) > 5
    assert in_outbox == in_sales == with_file == set(result["issued"])
    for code in result["issued"]:  # each stored file reads back whole
        stored = read_file(engine, code)
        assert stored is not None and file_problems(stored) == []
    assert not failed & in_outbox


def test_the_database_full_error_rolls_back_the_whole_sale(tmp_path):
    """SQLite's own "database or disk is full" (max_page_count reached) inside the sale's
    transaction, which stores the number's ePhoto file: the caller gets the error and neither
    the sale nor the number nor its file is recorded."""
    engine = open_outbox_engine(f"sqlite:///{tmp_path / BOOTH_DB_FILE}")
    sales_meta.create_all(engine)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @__import__("sqlalchemy").event.listens_for(engine, "connect")
    def _cap(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA max_page_count={pages + 60}")  # room for a few files

    engine.dispose()
    issued = 0
    with pytest.raises(OperationalError, match="full"):
        for code in new_codes(2000):
            with engine.begin() as conn:
                conn.execute(insert(sales).values(code=code))
                now = datetime.now(UTC)
                enqueue(
                    conn,
                    code,
                    now,
                    "ephoto-permis",
                    booth_id=BOOTH,
                    file=booth_file(code, now, n=issued),
                )
            issued += 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == issued
        assert conn.execute(select(func.count()).select_from(sales)).scalar_one() == issued
        assert conn.execute(select(func.count()).select_from(outbox_files)).scalar_one() == issued
    assert issued > 0


# -- the command line ------------------------------------------------------------------------


def test_transmitter_once_drains_what_is_due_and_status_reports_it(tmp_path):
    data = tmp_path / "booth"
    registry = RealRegistry(tmp_path, data)
    engine = open_outbox_engine(booth_db_url(data))
    clock = SystemClock()
    due = new_codes(120)
    enqueue_codes(engine, due, clock, per_transaction=120)
    later = new_codes(3)
    enqueue_codes(engine, later, clock, batch_window=timedelta(hours=1))
    env = transmitter_env(CABINE_TRANSMITTER__BATCH_SIZE="50")
    try:
        once = subprocess.run(
            [*CABINE, "transmitter", "--data", str(data), "--registry", registry.url, "--once"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        held = registry.codes()
    finally:
        registry.stop()
    assert once.returncode == 0, once.stderr[-2000:]
    assert "120 codes sent in 3 batches" in once.stdout
    assert sorted(held) == sorted(due)
    status = subprocess.run(
        [*CABINE, "transmitter", "status", "--data", str(data), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(status.stdout)
    assert report["counts"] == {"pending": 3, "sent": 120, "rejected": 0}
    assert 0 <= report["oldest_pending_age_seconds"] < 600
    table = subprocess.run(
        [*CABINE, "transmitter", "status", "--data", str(data)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "pending" in table.stdout and "last error: none" in table.stdout
    with sqlite3.connect(data / BOOTH_DB_FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_status_of_a_missing_booth_database_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [*CABINE, "transmitter", "status", "--data", str(tmp_path / "nowhere")],
        cwd=ROOT,
        env=transmitter_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no booth database" in result.stderr
    assert not (tmp_path / "nowhere").exists()
