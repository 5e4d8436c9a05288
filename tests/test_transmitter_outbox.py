"""The outbox's rules: what is due, leases that outlive a crashed worker, retries by age,
parked rejections, dead letters and the status the operator sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ephoto.clock import ManualClock
from transmitter.outbox import (
    BOOTH_DB_FILE,
    Outbox,
    booth_db_path,
    enqueue,
    open_outbox_engine,
    outbox,
    read_status,
)

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
LEASE = timedelta(minutes=2)
WINDOW = timedelta(minutes=15)


@pytest.fixture
def box(tmp_path):
    engine = open_outbox_engine(f"sqlite:///{tmp_path / BOOTH_DB_FILE}")
    yield Outbox(engine)
    engine.dispose()


def add(box: Outbox, code: str, issued_at: datetime) -> None:
    with box.engine.begin() as conn:
        enqueue(conn, code, issued_at, "ephoto-permis", booth_id="b1", batch_window=WINDOW)


def codes(rows) -> list[str]:
    return [r.code for r in rows]


def test_the_booth_database_lives_in_the_data_folder_as_booth_db(tmp_path):
    assert booth_db_path(tmp_path) == tmp_path / "booth.db"


def test_nothing_leaves_before_the_batching_window_ends(box):
    add(box, "A", T0)
    assert box.claim_due(T0 + WINDOW - timedelta(seconds=1), 10, LEASE) == []
    assert codes(box.claim_due(T0 + WINDOW, 10, LEASE)) == ["A"]


def test_due_rows_are_claimed_oldest_first_up_to_the_limit(box):
    for i, code in enumerate(["C", "A", "B"]):
        add(box, code, T0 + timedelta(minutes=[2, 0, 1][i]))
    now = T0 + timedelta(hours=1)
    assert codes(box.claim_due(now, 2, LEASE)) == ["A", "B"]
    assert codes(box.claim_due(now, 2, LEASE)) == ["C"]


def test_rows_of_a_worker_that_died_come_back_when_its_lease_ends(box):
    add(box, "A", T0)
    now = T0 + WINDOW
    assert codes(box.claim_due(now, 10, LEASE)) == ["A"]
    # The worker dies without a word: nobody else may take the row while the lease holds...
    assert box.claim_due(now + LEASE - timedelta(seconds=1), 10, LEASE) == []
    # ...and it is due again as soon as the lease is over.
    assert codes(box.claim_due(now + LEASE, 10, LEASE)) == ["A"]


def test_the_single_booth_worker_takes_back_every_lease_at_start(box):
    add(box, "A", T0)
    box.claim_due(T0 + WINDOW, 10, LEASE)
    assert box.release_leases() == 1
    assert codes(box.claim_due(T0 + WINDOW, 10, LEASE)) == ["A"]


def test_a_failed_row_waits_for_its_retry_time_then_keeps_its_place_by_age(box):
    add(box, "OLD", T0)
    now = T0 + WINDOW
    [row] = box.claim_due(now, 10, LEASE)
    box.mark_failed(
        [row.id], "HTTP 503", now + timedelta(minutes=5), attempted_at=now, batch_id="b-x"
    )
    add(box, "NEW", T0 + timedelta(minutes=1))
    # Before its retry time the failed row is skipped; the newer one is already due.
    assert codes(box.claim_due(now + timedelta(minutes=4), 10, LEASE)) == ["NEW"]
    box.release_leases()
    later = now + timedelta(minutes=5)
    rows = box.claim_due(later, 10, LEASE)
    assert codes(rows) == ["OLD", "NEW"]
    assert rows[0].attempts == 1 and rows[0].batch_id == "b-x"


def test_sent_rows_stay_for_audit_and_are_never_claimed_again(box):
    add(box, "A", T0)
    now = T0 + WINDOW
    [row] = box.claim_due(now, 10, LEASE)
    box.mark_sent([row.id], now, batch_id="b-1", resent_codes=["A"])
    assert box.claim_due(now + timedelta(days=30), 10, LEASE) == []
    status = read_status(box.engine, now)
    assert status.counts == {"pending": 0, "sent": 1, "rejected": 0}
    assert status.resent == 1


def test_a_refused_row_is_parked_with_its_reason_never_retried_never_deleted(box):
    add(box, "A", T0)
    now = T0 + WINDOW
    [row] = box.claim_due(now, 10, LEASE)
    box.mark_rejected(
        [row.id], "HTTP 422: code has 21 characters", attempted_at=now, batch_id="b-1"
    )
    assert box.claim_due(now + timedelta(days=30), 10, LEASE) == []
    status = read_status(box.engine, now)
    assert status.counts["rejected"] == 1
    assert status.rejected_reasons == {"HTTP 422: code has 21 characters": 1}
    with box.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 1
    # Only an operator's explicit decision sends it again.
    assert box.requeue_rejected(now) == 1
    assert codes(box.claim_due(now, 10, LEASE)) == ["A"]


def test_rows_unsent_after_seven_days_are_flagged_but_still_sent(box):
    add(box, "OLD", T0)
    add(box, "RECENT", T0 + timedelta(days=6))
    now = T0 + timedelta(days=7)
    assert box.flag_dead_letters(now) == 1
    assert read_status(box.engine, now).dead_letter == 1
    assert codes(box.claim_due(now, 10, LEASE)) == ["OLD", "RECENT"]


def test_status_shows_counts_oldest_waiting_and_last_error(box):
    clock = ManualClock(T0)
    add(box, "A", T0)
    add(box, "B", T0 + timedelta(minutes=3))
    assert read_status(box.engine, T0).last_error is None
    now = T0 + timedelta(hours=2)
    rows = box.claim_due(now, 1, LEASE)
    box.mark_failed(
        [rows[0].id],
        "timeout: ReadTimeout",
        now + timedelta(minutes=1),
        attempted_at=now,
        batch_id="b-1",
    )
    clock.set(now + timedelta(minutes=30))
    status = read_status(box.engine, clock.now())
    assert status.counts == {"pending": 2, "sent": 0, "rejected": 0}
    assert status.oldest_pending_age == timedelta(hours=2, minutes=30)
    assert (status.last_error, status.last_error_at) == ("timeout: ReadTimeout", now)
    assert status.to_json()["oldest_pending_age_seconds"] == 9000


def test_status_counts_rows_in_flight(box):
    add(box, "A", T0)
    box.claim_due(T0 + WINDOW, 10, LEASE)
    assert read_status(box.engine, T0 + WINDOW).in_flight == 1
    assert read_status(box.engine, T0 + WINDOW + LEASE).in_flight == 0
