"""Re-queueing a code (the support desk's answer to a confirmed fault): whatever state its row
is in, it becomes pending and due now, inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from transmitter.outbox import Outbox, configure_sqlite_durability, create_schema, enqueue, requeue
from transmitter.outbox import outbox as outbox_table

NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'booth.db'}")
    configure_sqlite_durability(engine)
    create_schema(engine)
    with engine.begin() as conn:
        enqueue(conn, "9PMTA", NOW, "ephoto-permis", booth_id="b1")
    return engine


def row(engine):
    with engine.connect() as conn:
        return conn.execute(select(outbox_table)).one()


@pytest.mark.parametrize("state", ["sent", "rejected", "leased"])
def test_a_requeued_code_is_pending_and_due_at_once_whatever_it_was(engine, state):
    box = Outbox(engine)
    [claimed] = box.claim_due(NOW + timedelta(minutes=20), 10, lease=timedelta(minutes=5))
    at = NOW + timedelta(minutes=21)
    if state == "sent":
        box.mark_sent([claimed.id], at, batch_id="b-1")
    elif state == "rejected":
        box.mark_rejected([claimed.id], "403 prefix", attempted_at=at, batch_id="b-1")
    later = NOW + timedelta(hours=80)
    with engine.begin() as conn:
        assert requeue(conn, "9PMTA", later)
    again = row(engine)
    assert again.status == "pending" and again.due_at == later and again.lease_until is None
    assert again.batch_id is None
    assert [r.code for r in box.claim_due(later, 10, lease=timedelta(minutes=5))] == ["9PMTA"]


def test_requeue_of_an_unknown_code_says_so_and_changes_nothing(engine):
    with engine.begin() as conn:
        assert not requeue(conn, "9PMTB", NOW)
    assert row(engine).due_at == NOW + timedelta(minutes=15)
