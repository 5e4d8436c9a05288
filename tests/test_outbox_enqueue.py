"""The transactional outbox: a code's row exists exactly when the caller's transaction commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError

from transmitter.outbox import configure_sqlite_durability, create_schema, enqueue, outbox

NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'booth.db'}")
    configure_sqlite_durability(engine)
    create_schema(engine)
    return engine


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)).scalar_one()


def test_enqueue_commits_with_the_callers_transaction(engine):
    with engine.begin() as conn:
        enqueue(conn, "9PMTA", NOW, "ephoto-permis", booth_id="b1")
    with engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.status == "pending" and row.issued_at == NOW
    assert row.not_before == NOW + timedelta(minutes=15)


def test_a_rolled_back_sale_leaves_no_outbox_row(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        enqueue(conn, "9PMTA", NOW, "ephoto-permis", booth_id="b1")
        raise RuntimeError("printer caught fire before commit")
    assert count(engine) == 0


def test_the_same_code_cannot_be_queued_twice(engine):
    with engine.begin() as conn:
        enqueue(conn, "9PMTA", NOW, "ephoto-permis", booth_id="b1")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        enqueue(conn, "9PMTA", NOW, "ephoto-permis", booth_id="b1")
    assert count(engine) == 1


def test_wal_and_full_sync_are_on(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
