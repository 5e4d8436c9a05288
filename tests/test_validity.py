"""Validity: 6 calendar months in Europe/Paris, 72 h activation promise."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ephoto.clock import PARIS
from ephoto.validity import ACTIVATION_PROMISE, activation_due_by, expires_at, is_expired


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def test_six_calendar_months_same_paris_time():
    assert expires_at(paris(2026, 3, 15, 10, 0)) == paris(2026, 9, 15, 10, 0)


def test_august_31_plus_six_months_is_the_last_day_of_february():
    assert expires_at(paris(2026, 8, 31, 10, 0)) == paris(2027, 2, 28, 10, 0)
    assert expires_at(paris(2027, 8, 31, 10, 0)) == paris(2028, 2, 29, 10, 0)  # leap year


def test_across_the_dst_change_the_paris_wall_time_is_kept():
    # Issued in winter time (+01:00), expires in summer time (+02:00): same 10:00 on the wall.
    issued = paris(2026, 1, 10, 10, 0)
    assert expires_at(issued).astimezone(PARIS).hour == 10
    assert expires_at(issued) - issued != timedelta(days=(expires_at(issued) - issued).days)


def test_a_wall_time_in_the_spring_gap_moves_forward():
    # 29/03/2026 02:30 does not exist in Paris; issued 29/09/2025 02:30 expires at 03:30.
    issued = paris(2025, 9, 29, 2, 30)
    assert expires_at(issued).astimezone(PARIS).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_expired_from_the_expiry_instant_on():
    issued = paris(2026, 1, 10, 10, 0)
    end = expires_at(issued)
    assert not is_expired(issued, end - timedelta(seconds=1))
    assert is_expired(issued, end)


def test_a_utc_instant_late_in_the_evening_uses_the_paris_day():
    # 31/01 23:30 UTC is 01/02 00:30 in Paris: the months are counted from 1 February.
    issued = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert expires_at(issued).astimezone(PARIS).date().isoformat() == "2026-08-01"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_expiry_is_about_six_months_later(naive):
    issued = naive.replace(tzinfo=UTC)
    delta = expires_at(issued) - issued
    assert timedelta(days=181 - 3) - timedelta(hours=2) <= delta <= timedelta(days=184, hours=2)


def test_activation_promise_is_72_hours():
    assert ACTIVATION_PROMISE == timedelta(hours=72)
    t = paris(2026, 6, 1, 12)
    assert activation_due_by(t) == t + timedelta(hours=72)


def reference_expiry(issued: datetime) -> datetime:
    """The rule spelled out step by step: Paris wall time, six months on the calendar (day
    clamped to the month's end), back to a real instant."""
    local = issued.astimezone(PARIS).replace(tzinfo=None)
    month_index = local.month - 1 + 6
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    wall = local.replace(year=year, month=month, day=day)
    return wall.replace(tzinfo=PARIS, fold=0).astimezone(UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_expiry_follows_the_rule_step_by_step(naive):
    issued = naive.replace(tzinfo=UTC)
    assert expires_at(issued) == reference_expiry(issued)
    assert expires_at(issued).tzinfo is UTC


@pytest.mark.parametrize("first_day", ["2026-03-01", "2026-09-01", "2027-03-01", "2027-09-01"])
def test_expiry_matches_the_rule_minute_by_minute_around_the_clock_changes(first_day):
    """Every 7 minutes and 13 seconds for two months whose issue days or expiry days change
    the clock (and the months after them): each instant of every hour, not only its start."""
    issued = datetime.fromisoformat(first_day).replace(tzinfo=UTC)
    end = issued + timedelta(days=61)
    step = timedelta(minutes=7, seconds=13, microseconds=7)
    while issued < end:
        assert expires_at(issued) == reference_expiry(issued), issued
        issued += step
