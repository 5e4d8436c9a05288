"""The booth's copy of a file's photo and signature: kept while the support desk may need to
send it again, cleared once the collector has it and the number's validity has ended."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, select

from ephoto.validity import expires_at
from testkit.standin import BOOTH, PRODUCT, booth_file, new_codes
from transmitter.outbox import (
    Outbox,
    clear_expired_images,
    configure_sqlite_durability,
    create_schema,
    enqueue,
    files_of,
    outbox_files,
)

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def booth(tmp_path, issued: dict[str, datetime], sent: set[str]):
    engine = create_engine(f"sqlite:///{tmp_path / 'booth.db'}")
    configure_sqlite_durability(engine)
    create_schema(engine)
    with engine.begin() as conn:
        for n, (code, at) in enumerate(issued.items()):
            enqueue(conn, code, at, PRODUCT, booth_id=BOOTH, file=booth_file(code, at, n=n))
    box = Outbox(engine)
    rows = box.claim_due(NOW, 100, lease=timedelta(minutes=5))
    box.mark_sent([r.id for r in rows if r.code in sent], NOW - timedelta(days=1), batch_id="b")
    return engine


def test_only_files_the_collector_has_and_whose_number_expired_are_cleared(tmp_path):
    old, young, unsent, edge = new_codes(4)
    expired_at = NOW - timedelta(days=200)
    edge_at = NOW - timedelta(days=170)  # its six calendar months end after NOW
    end = expires_at(edge_at)
    assert NOW < end < NOW + timedelta(days=30)
    issued = {old: expired_at, young: NOW - timedelta(days=30), unsent: expired_at, edge: edge_at}
    engine = booth(tmp_path, issued, sent={old, young, edge})
    with engine.connect() as conn:
        before = files_of(conn, list(issued))

    assert clear_expired_images(engine, NOW) == 1
    with engine.connect() as conn:
        after = files_of(conn, list(issued))
        metas = dict(conn.execute(select(outbox_files.c.code, outbox_files.c.meta)).all())
    assert after[old].photo_jpeg == b"" and after[old].signature_png == b""
    # What identifies the file stays: its metadata, with each image's digest.
    assert after[old].meta == before[old].meta
    assert json.loads(metas[old])["photo_sha256"] == before[old].meta.photo_sha256
    for code in (young, unsent, edge):  # still needed: may be sent (again)
        assert after[code] == before[code]
    assert clear_expired_images(engine, NOW) == 0  # nothing left to clear
    # The edge file goes once its number has expired, not a minute before.
    assert clear_expired_images(engine, end - timedelta(minutes=1)) == 0
    assert clear_expired_images(engine, end) == 1


def test_cleared_images_are_not_left_in_the_database_file(tmp_path):
    code = new_codes(1)[0]
    engine = booth(tmp_path, {code: NOW - timedelta(days=200)}, sent={code})
    with engine.connect() as conn:
        photo = files_of(conn, [code])[code].photo_jpeg
    assert clear_expired_images(engine, NOW) == 1
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    data = (tmp_path / "booth.db").read_bytes()
    wal = tmp_path / "booth.db-wal"
    data += wal.read_bytes() if wal.exists() else b""
    assert photo[100:164] not in data  # a stretch of the JPEG's entropy-coded data


def test_a_limit_bounds_each_call(tmp_path):
    codes = new_codes(5)
    at = NOW - timedelta(days=200)
    engine = booth(tmp_path, dict.fromkeys(codes, at), sent=set(codes))
    assert clear_expired_images(engine, NOW, limit=2) == 2
    assert clear_expired_images(engine, NOW, limit=2) == 2
    assert clear_expired_images(engine, NOW, limit=2) == 1
    assert clear_expired_images(engine, NOW, limit=2) == 0


def test_a_transmitter_sending_files_clears_them_on_its_clock(tmp_path):
    from ephoto.clock import ManualClock
    from testkit.standin import write_keys
    from transmitter.service import IMAGES_JOB, Transmitter, TransmitterConfig

    code = new_codes(1)[0]
    booth(tmp_path, {code: NOW - timedelta(days=200)}, sent={code}).dispose()
    config = TransmitterConfig(
        outbox_url=f"sqlite:///{tmp_path / 'booth.db'}",
        registry_url="http://127.0.0.1:9",
        collector_url="http://127.0.0.1:9",
        keys={BOOTH: write_keys(tmp_path / "keys.toml")},
        poll_seconds=600,
    )
    clock = ManualClock(NOW - timedelta(days=100))
    transmitter = Transmitter(config, clock)
    try:
        assert transmitter.clear_expired_images() == 0  # not expired on the booth's clock yet
        clock.set(NOW)
        assert transmitter.clear_expired_images() == 1
        scheduler = transmitter.start()
        job = scheduler.get_job(IMAGES_JOB)
        assert job is not None and job.max_instances == 1
    finally:
        transmitter.stop()
