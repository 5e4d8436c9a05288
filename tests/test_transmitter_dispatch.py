"""Uploading: signed batches, what each registry answer does to the rows, backoff with full
jitter and Retry-After, the same batch id on retry, outages, and the scheduler's settings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ephoto.clock import ManualClock
from testkit.standin import BOOTH, Faults, free_port, new_codes, serve_registry
from transmitter.dispatch import (
    Backoff,
    Dispatcher,
    Uploader,
    batch_id_for,
    form_batches,
    parse_retry_after,
)
from transmitter.latency import BoothStage, Outage
from transmitter.outbox import (
    BOOTH_DB_FILE,
    Outbox,
    OutboxRow,
    enqueue,
    open_outbox_engine,
    read_status,
)
from transmitter.service import JOB_DEFAULTS, Transmitter, TransmitterConfig

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
KEYS = {BOOTH: bytes(range(32))}


class FakeMonotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry():
    clock = ManualClock(T0)
    server, state = serve_registry(free_port(), KEYS, clock)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


@pytest.fixture
def box(tmp_path):
    engine = open_outbox_engine(f"sqlite:///{tmp_path / BOOTH_DB_FILE}")
    yield Outbox(engine)
    engine.dispose()


def fill(box: Outbox, n: int, at: datetime = T0) -> list[str]:
    codes = new_codes(n)
    with box.engine.begin() as conn:
        for code in codes:
            enqueue(conn, code, at, "ephoto-permis", booth_id=BOOTH, batch_window=timedelta(0))
    return codes


def make_dispatcher(
    box,
    registry,
    clock,
    *,
    batch_size=10,
    keys=KEYS,
    timeout=5.0,
    stage=None,
    monotonic=None,
    parallel=1,
):
    uploader = Uploader(registry.url, keys, clock, timeout_seconds=timeout)
    backoff = Backoff(0.5, 8.0, rng=random.Random(7), monotonic=monotonic or FakeMonotonic())
    return Dispatcher(
        box,
        uploader,
        clock,
        batch_size=batch_size,
        stage=stage,
        backoff=backoff,
        parallel_uploads=parallel,
    )


def test_due_codes_reach_the_registry_in_signed_batches_of_the_configured_size(box, registry):
    codes = fill(box, 25)
    clock = registry.clock
    report = make_dispatcher(box, registry, clock, batch_size=10).drain()
    assert (report.batches_sent, report.codes_sent) == (3, 25)
    assert set(registry.codes) == set(codes)
    assert registry.signature_rejections == 0
    assert read_status(box.engine, clock.now()).counts["sent"] == 25


def test_a_retry_of_the_same_rows_is_the_same_batch_and_applies_once(box, registry):
    """The registry applies the batch, then the answer is lost (client timeout). The retry
    carries the same batch id, so the registry sees a replay, not new codes."""
    codes = fill(box, 5)
    clock = registry.clock
    monotonic = FakeMonotonic()
    registry.faults = Faults(timeout_after_apply_rate=1.0, hang_seconds=1.0)
    dispatcher = make_dispatcher(box, registry, clock, timeout=0.3, monotonic=monotonic)
    report = dispatcher.drain()
    assert report.failed_attempts == 1 and report.codes_sent == 0
    assert set(registry.codes) == set(codes)  # applied although no answer came back
    registry.faults = Faults()
    monotonic.now += 100
    clock.advance(timedelta(minutes=10))
    report = dispatcher.drain()
    assert report.codes_sent == 5 and registry.replayed_batches == 1
    assert len(registry.batches) == 1 and registry.redelivered_codes == 5
    assert list(registry.batches) == [batch_id_for(BOOTH, codes)]


def test_503_with_retry_after_holds_every_request_until_then(box, registry):
    fill(box, 30)
    clock = registry.clock
    monotonic = FakeMonotonic()
    registry.faults = Faults(error_rate=1.0, retry_after_share=1.0, retry_after_seconds=30)
    dispatcher = make_dispatcher(box, registry, clock, monotonic=monotonic)
    report = dispatcher.drain()
    assert report.failed_attempts == 1 and registry.requests == 1
    assert dispatcher.backoff.wait_seconds() >= 30
    # Time passes on the booth's clock but not enough real time: nothing is sent.
    clock.advance(timedelta(hours=1))
    monotonic.now += 29.9
    assert dispatcher.drain().codes_sent == 0 and registry.requests == 1
    assert dispatcher.next_wake_seconds() == pytest.approx(0.1, abs=1e-6)
    registry.faults = Faults()
    monotonic.now += 0.1
    assert dispatcher.drain().codes_sent == 30


def test_with_two_uploads_in_flight_nothing_new_starts_after_a_503(box, registry):
    """Both batches already under way get their 503; no third request starts before the
    Retry-After, however many codes wait."""
    fill(box, 50)
    clock = registry.clock
    monotonic = FakeMonotonic()
    registry.faults = Faults(error_rate=1.0, retry_after_share=1.0, retry_after_seconds=30)
    dispatcher = make_dispatcher(box, registry, clock, monotonic=monotonic, parallel=2)
    report = dispatcher.drain()
    assert report.failed_attempts == 2 and registry.requests == 2
    monotonic.now += 29
    assert dispatcher.drain().failed_attempts == 0 and registry.requests == 2
    registry.faults = Faults()
    monotonic.now += 1
    clock.advance(timedelta(seconds=30))
    assert dispatcher.drain().codes_sent == 50
    assert read_status(box.engine, clock.now()).counts["sent"] == 50


def test_two_uploads_in_flight_deliver_every_code_once(box, registry):
    codes = fill(box, 95)
    report = make_dispatcher(box, registry, registry.clock, parallel=2).drain()
    assert report.codes_sent == 95 and report.batches_sent == 10
    assert sorted(registry.codes) == sorted(codes) and registry.redelivered_codes == 0


def test_a_refused_batch_is_parked_with_the_registry_reason_and_not_resent(box, registry):
    fill(box, 3)
    clock = registry.clock
    dispatcher = make_dispatcher(box, registry, clock, keys={BOOTH: b"wrong-key-wrong-key"})
    report = dispatcher.drain()
    assert report.codes_rejected == 3 and registry.requests == 1
    status = read_status(box.engine, clock.now())
    assert status.counts["rejected"] == 3
    [reason] = status.rejected_reasons
    assert reason.startswith("HTTP 401: signature does not verify")
    clock.advance(timedelta(days=3))
    assert dispatcher.drain().codes_sent == 0 and registry.requests == 1


def test_connection_refused_is_retried_not_rejected(box):
    fill(box, 2)
    clock = ManualClock(T0)
    uploader = Uploader(f"http://127.0.0.1:{free_port()}", KEYS, clock, timeout_seconds=1)
    dispatcher = Dispatcher(
        box, uploader, clock, backoff=Backoff(0.5, 8.0, monotonic=FakeMonotonic())
    )
    report = dispatcher.drain()
    assert report.failed_attempts == 1
    status = read_status(box.engine, clock.now())
    assert status.counts["pending"] == 2 and status.last_error.startswith("connection failed")


def test_full_jitter_stays_under_an_exponential_ceiling_and_retry_after_is_a_floor():
    monotonic = FakeMonotonic()
    backoff = Backoff(0.5, 8.0, rng=random.Random(1), monotonic=monotonic)
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    draws = [[backoff.failure() for _ in range(1)][0] for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(draws, ceilings, strict=True))
    many = []
    for _ in range(2000):
        b = Backoff(0.5, 8.0, rng=random.Random(len(many)), monotonic=monotonic)
        for _ in range(5):
            d = b.failure()
        many.append(d)
    # Full jitter: uniform over [0, 8], so both halves are well used.
    assert min(many) < 0.5 and max(many) > 7.5
    assert 3.5 < sum(many) / len(many) < 4.5
    assert backoff.failure(retry_after_seconds=120) >= 120
    backoff.success()
    assert backoff.wait_seconds() == 0 and backoff.failures == 0


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("7", T0, 1.0) == 7
    assert parse_retry_after("Mon, 01 Jun 2026 08:00:30 GMT", T0, 1.0) == 30
    assert parse_retry_after("Mon, 01 Jun 2026 08:00:30 GMT", T0, 10.0) == 3
    assert parse_retry_after("soon", T0, 1.0) is None


def row(i, batch_id=None, booth=BOOTH):
    return OutboxRow(i, f"C{i}", booth, "ephoto-permis", T0 + timedelta(seconds=i), 0, batch_id)


def test_rows_that_failed_together_are_sent_together_again():
    rows = [row(1, "b-x"), row(2), row(3, "b-x"), row(4), row(5, "b-y")]
    batches = form_batches(rows, 10)
    assert [[r.id for r in b] for b in batches] == [[1, 3], [2, 4], [5]]
    assert [[r.id for r in b] for b in form_batches([row(i) for i in range(5)], 2)] == [
        [0, 1],
        [2, 3],
        [4],
    ]
    assert batch_id_for(BOOTH, ["A", "B"]) == batch_id_for(BOOTH, ["B", "A"])
    assert batch_id_for(BOOTH, ["A", "B"]) != batch_id_for(BOOTH, ["A"])


def test_a_booth_offline_sends_nothing_until_the_outage_ends(box, registry):
    fill(box, 4)
    clock = registry.clock
    stage = BoothStage(timedelta(0), (Outage(T0, T0 + timedelta(hours=6)),))
    dispatcher = make_dispatcher(box, registry, clock, stage=stage)
    assert dispatcher.drain().codes_sent == 0 and registry.requests == 0
    assert dispatcher.next_wake_seconds() == 6 * 3600
    clock.advance(timedelta(hours=6))
    assert dispatcher.drain().codes_sent == 4


def test_outages_merge_and_push_departures_past_their_end():
    stage = BoothStage(
        timedelta(minutes=15),
        (
            Outage(T0 + timedelta(hours=1), T0 + timedelta(hours=3)),
            Outage(T0, T0 + timedelta(hours=2)),
        ),
    )
    assert stage.outages == (Outage(T0, T0 + timedelta(hours=3)),)
    assert stage.departure_at(T0) == T0 + timedelta(hours=3)
    assert stage.departure_at(T0 + timedelta(hours=4)) == T0 + timedelta(hours=4, minutes=15)
    with pytest.raises(ValueError, match="not after its start"):
        Outage(T0, T0)


def test_the_scheduler_never_drops_a_late_run_and_wakes_up_at_the_next_due_code(tmp_path, registry):
    from testkit.standin import write_keys

    write_keys(tmp_path / "keys.toml")
    clock = registry.clock
    config = TransmitterConfig(
        outbox_url=f"sqlite:///{tmp_path / BOOTH_DB_FILE}",
        registry_url=registry.url,
        keys=KEYS,
        poll_seconds=600,
    )
    transmitter = Transmitter(config, clock)
    with transmitter.engine.begin() as conn:
        enqueue(
            conn,
            new_codes(1)[0],
            T0,
            "ephoto-permis",
            booth_id=BOOTH,
            batch_window=timedelta(seconds=40),
        )
    scheduler = transmitter.start()
    try:
        for job_id in ("drain",):
            job = scheduler.get_job(job_id)
            assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (None, True, 1)
        assert JOB_DEFAULTS == {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        import time

        deadline = time.monotonic() + 5
        while scheduler.get_job("wake-up") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        wake = scheduler.get_job("wake-up")
        assert wake is not None and wake.misfire_grace_time is None
        delay = (wake.next_run_time - datetime.now(UTC)).total_seconds()
        assert 30 < delay <= 40
    finally:
        transmitter.stop()
    assert transmitter.missed_runs == 0


def test_a_second_transmitter_on_the_same_booth_database_is_refused(tmp_path):
    from transmitter.service import AnotherTransmitterRunning

    config = TransmitterConfig(
        outbox_url=f"sqlite:///{tmp_path / BOOTH_DB_FILE}",
        registry_url="http://127.0.0.1:9",
        keys=KEYS,
    )
    first = Transmitter(config, ManualClock(T0))
    try:
        with pytest.raises(AnotherTransmitterRunning, match="one transmitter per booth"):
            Transmitter(config, ManualClock(T0))
    finally:
        first.close()
    Transmitter(config, ManualClock(T0)).close()


def test_the_uploader_sends_json_with_a_verifiable_signature(registry):
    clock = registry.clock
    uploader = Uploader(registry.url, KEYS, clock)
    from ephoto.wire import Batch, WireCode

    code = new_codes(1)[0]
    result = uploader.upload(Batch("b-1", BOOTH, (WireCode(code, T0, "ephoto-permis"),)))
    assert result.outcome == "sent" and registry.codes == {code: "b-1"}
    assert isinstance(httpx.get(registry.url + "/admin/state").json()["codes"], int)
