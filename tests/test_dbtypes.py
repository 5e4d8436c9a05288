"""UTCDateTime on SQLite: aware UTC in and out, stored in the dialect's own text format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, select, text
from sqlalchemy.exc import StatementError

from ephoto.dbtypes import UTCDateTime

metadata = MetaData()
moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
    Column("plain", DateTime),
)


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(instants)
def test_round_trip_and_same_text_as_the_dialects_datetime(value):
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(moments.insert(), {"id": 1, "at": value, "plain": value.replace(tzinfo=None)})
        back = conn.execute(select(moments.c.at)).scalar_one()
        stored, plain = conn.execute(text("SELECT at, plain FROM moments")).one()
    assert back == value and back.tzinfo is UTC
    # Files written before this type had its own SQLite processors read the same.
    assert stored == plain


def test_other_zones_are_stored_as_utc(engine):
    paris = datetime(2026, 7, 14, 12, 30, tzinfo=ZoneInfo("Europe/Paris"))
    with engine.begin() as conn:
        conn.execute(moments.insert(), {"id": 1, "at": paris})
        stored = conn.execute(text("SELECT at FROM moments")).scalar_one()
        back = conn.execute(select(moments.c.at)).scalar_one()
    assert stored == "2026-07-14 10:30:00.000000"
    assert back == paris and back.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(engine):
    with engine.begin() as conn, pytest.raises(StatementError, match="naive datetime"):
        conn.execute(moments.insert(), {"id": 1, "at": datetime(2026, 1, 1)})


def test_text_without_fraction_reads_and_sql_comparisons_follow_time(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO moments (id, at) VALUES (1, '2026-01-01 10:00:00')"))
        conn.execute(
            moments.insert(), {"id": 2, "at": datetime(2026, 1, 1, 10, 0, 0, 500, tzinfo=UTC)}
        )
        assert conn.execute(select(moments.c.at).where(moments.c.id == 1)).scalar_one() == (
            datetime(2026, 1, 1, 10, tzinfo=UTC)
        )
        later = select(moments.c.id).where(
            moments.c.at > datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=UTC)
        )
        assert conn.execute(later).scalars().all() == [2]


def test_text_that_carries_an_offset_reads_as_that_instant_in_utc(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO moments (id, at) VALUES (1, '2026-01-01 11:00:00+01:00')"))
        back = conn.execute(select(moments.c.at)).scalar_one()
    assert back == datetime(2026, 1, 1, 10, tzinfo=UTC) and back.tzinfo is UTC
