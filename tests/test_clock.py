"""Clocks: UTC-aware, scaled clocks agree across processes, manual clocks only move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ephoto.clock import (
    ManualClock,
    OffsetClock,
    ScaledClock,
    SystemClock,
    ensure_utc,
    format_paris,
    parse_utc,
)


def test_system_clock_is_utc_aware():
    assert SystemClock().now().tzinfo is UTC


def test_scaled_clock_runs_faster_from_a_shared_epoch():
    epoch = SystemClock().now()
    a, b = ScaledClock(epoch, 3600), ScaledClock(epoch, 3600)
    t0 = a.now()
    time.sleep(0.05)
    elapsed = a.now() - t0
    assert timedelta(seconds=150) < elapsed < timedelta(seconds=3600)
    assert abs((a.now() - b.now()).total_seconds()) < 60  # two "processes" agree


def test_manual_clock_moves_only_when_told_and_never_back():
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    assert clock.now() == datetime(2026, 6, 1, tzinfo=UTC)
    clock.advance(timedelta(hours=72))
    assert clock.now() == datetime(2026, 6, 4, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(datetime(2026, 5, 1, tzinfo=UTC))


def test_offset_clock_moves_forward_only():
    base = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    clock = OffsetClock(base)
    clock.advance(timedelta(days=1))
    assert clock.now() == datetime(2026, 6, 2, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2026, 1, 1))  # noqa: DTZ001


def test_paris_display_and_utc_parsing():
    t = parse_utc("2026-07-01T08:00:00Z")
    assert format_paris(t, "fr") == "01/07/2026 10:00"
    assert format_paris(t, "en") == "2026-07-01 10:00"


def test_scaled_clock_can_continue_from_an_earlier_sessions_domain_time():
    epoch = SystemClock().now()
    origin = epoch + timedelta(days=3)
    clock = ScaledClock(epoch, 3600, origin=origin)
    assert origin <= clock.now() < origin + timedelta(hours=2)
