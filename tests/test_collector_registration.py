"""The collector registers the numbers it received with a real registry through its own durable
outbox (transmitter.outbox + transmitter.service), survives a registry outage, and deletes
photos and signatures at the end of retention on its own clock."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from collector.service import CollectorJobs
from ephoto.validity import expires_at
from ephoto.wire import load_booth_keys
from tests.collector_world import (
    booth_file,
    collector_settings,
    make_world,
)
from tests.pgcluster import free_port
from tests.registry_server import ADMIN_TOKEN, start_threaded


@pytest.fixture()
def world(tmp_path):
    w = make_world(tmp_path)
    yield w
    w.client.close()
    w.store.dispose()


def jobs_for(world, registry_url: str, **overrides) -> CollectorJobs:
    settings = collector_settings(
        registry_url=registry_url,
        request_timeout_seconds=2.0,
        **overrides,
    ).model_copy(update={"keys_file": world.keys_file})
    secret = load_booth_keys(world.keys_file)["collector-9PMT"].secret
    db_url = str(world.store.engine.url)
    return CollectorJobs(settings, db_url, world.clock, "9PMT", secret)


def registry_codes(registry, codes):
    states = {}
    with httpx.Client(
        base_url=registry.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as admin:
        for code in codes:
            answer = admin.get(f"/admin/codes/{code}")
            states[code] = answer.json() if answer.status_code == 200 else None
    return states


def test_received_numbers_reach_a_real_registry_signed_by_the_collector(world, tmp_path):
    (tmp_path / "reg").mkdir()
    registry = start_threaded(
        f"sqlite:///{tmp_path / 'registry.sqlite'}", tmp_path / "reg", clock=world.clock
    )
    try:
        # The registry knows the collector's key: both read the same keys file here.
        registry.keys_file.write_bytes(world.keys_file.read_bytes())
        sent = [booth_file(seed=i) for i in range(3)]
        assert world.upload(sent).status_code == 200
        assert world.upload([sent[0]]).json()["duplicates"] == [sent[0].code]
        jobs = jobs_for(world, registry.url)
        try:
            report = jobs.transmitter.run_once(max_failures=1)
        finally:
            jobs.transmitter.close()
        assert report.codes_sent == 3
        stored = registry_codes(registry, [f.code for f in sent])
        for file in sent:
            assert stored[file.code] is not None, file.code
            assert stored[file.code]["booth_id"] == "collector-9PMT"
            assert stored[file.code]["product"] == file.meta.product
        stats = world.admin("GET", "/admin/stats").json()
        assert stats["registered"] == 3 and stats["pending_registration"] == 0
        record = world.admin("GET", f"/admin/files/{sent[0].code}").json()
        assert record["registered_at"] is not None
    finally:
        registry.stop()


def test_registration_survives_a_registry_outage(world, tmp_path):
    (tmp_path / "reg").mkdir()
    registry = start_threaded(
        f"sqlite:///{tmp_path / 'registry.sqlite'}", tmp_path / "reg", clock=world.clock
    )
    try:
        registry.keys_file.write_bytes(world.keys_file.read_bytes())
        sent = [booth_file(seed=i) for i in range(2)]
        assert world.upload(sent).status_code == 200
        # Registry unreachable: nothing is lost, the rows wait.
        dead = jobs_for(world, f"http://127.0.0.1:{free_port()}")
        try:
            report = dead.transmitter.run_once(max_failures=1)
        finally:
            dead.transmitter.close()
        assert report.codes_sent == 0 and report.failed_attempts >= 1
        assert world.admin("GET", "/admin/stats").json()["pending_registration"] == 2
        # Registry answering 503: still waiting.
        with httpx.Client(
            base_url=registry.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin:
            admin.post("/admin/faults", json={"p_error_5xx": 1.0}).raise_for_status()
            failing = jobs_for(world, registry.url)
            world.clock.advance(timedelta(minutes=5))  # past the retry time
            try:
                report = failing.transmitter.run_once(max_failures=1)
            finally:
                failing.transmitter.close()
            assert report.codes_sent == 0
            assert all(v is None for v in registry_codes(registry, [f.code for f in sent]).values())
            admin.post("/admin/faults", json={"p_error_5xx": 0.0}).raise_for_status()
        # Back: a new transmitter (a restarted collector) sends everything once.
        world.clock.advance(timedelta(minutes=5))
        back = jobs_for(world, registry.url)
        try:
            report = back.transmitter.run_once(max_failures=1)
        finally:
            back.transmitter.close()
        assert report.codes_sent == 2
        assert all(v is not None for v in registry_codes(registry, [f.code for f in sent]).values())
        assert world.admin("GET", "/admin/stats").json()["registered"] == 2
    finally:
        registry.stop()


def raw_database_bytes(world) -> bytes:
    base = world.tmp / "collector.sqlite"
    parts = [base, base.with_name(base.name + "-wal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_retention_deletes_images_from_the_database_file_and_keeps_the_record(world):
    # Two days apart, the later one issued now: the collector refuses an issue time ahead of
    # its clock, as the state would.
    file = booth_file(issued_at=world.clock.now() - timedelta(days=2))
    kept = booth_file(seed=1)
    assert world.upload([file, kept]).status_code == 200
    sample = file.photo_jpeg[len(file.photo_jpeg) // 2 : len(file.photo_jpeg) // 2 + 64]
    signature_sample = file.signature_png[-64:]
    assert sample in raw_database_bytes(world)  # the check below can fail
    assert signature_sample in raw_database_bytes(world)
    from collector.service import sweep_retention

    end = expires_at(file.meta.issued_at) + timedelta(days=30)
    just_before = (end - world.clock.now()).total_seconds() - 1
    world.admin("POST", "/admin/clock", json={"advance_seconds": just_before})
    assert sweep_retention(world.store, world.clock) == 0
    assert world.fetch(file.code).status_code == 200
    world.admin("POST", "/admin/clock", json={"advance_seconds": 1})
    assert sweep_retention(world.store, world.clock) == 1
    raw = raw_database_bytes(world)
    assert sample not in raw and signature_sample not in raw
    stored = world.store.images(file.code)
    assert stored is not None and stored.photo_jpeg is None and stored.signature_png is None
    assert world.fetch(file.code).status_code == 410
    assert world.fetch(kept.code).status_code == 200
    stats = world.admin("GET", "/admin/stats").json()
    assert stats["deleted"] == 1 and stats["files_received"] == 2
    assert stats["bytes_stored"] == kept.size_bytes
    # The number stays known: the same file again is a duplicate, not a new file.
    assert world.upload([file]).json() == {"accepted": 0, "duplicates": [file.code]}


def test_the_scheduled_job_deletes_on_the_collectors_clock(world):
    file = booth_file()
    assert world.upload([file]).status_code == 200
    jobs = jobs_for(
        world,
        f"http://127.0.0.1:{free_port()}",
        retention_sweep_seconds=0.2,
        registration_poll_seconds=60.0,
    )
    jobs.start()
    try:
        time.sleep(0.5)
        assert world.store.images(file.code).photo_jpeg is not None
        world.admin("POST", "/admin/clock", json={"advance_seconds": 250 * 24 * 3600})
        deadline = time.monotonic() + 15
        while world.store.images(file.code).photo_jpeg is not None:
            assert time.monotonic() < deadline, "the retention job did not run"
            time.sleep(0.1)
    finally:
        jobs.stop()
    assert world.fetch(file.code).status_code == 410
