"""Clocks: the only place in cabine that reads the wall clock for domain time.

Every component takes a :class:`Clock`. ``SystemClock`` for production, ``ScaledClock`` so a live
demo shows 72 h pass in 72 s, ``ManualClock`` for tests and the simulator. All datetimes are
timezone-aware UTC; :func:`to_paris` converts for display.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current domain time, timezone-aware UTC."""
        ...


def ensure_utc(value: datetime) -> datetime:
    """``value`` in UTC; refuses naive datetimes, which would be ambiguous."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone; use UTC")
    return value.astimezone(UTC)


def to_paris(value: datetime) -> datetime:
    return ensure_utc(value).astimezone(PARIS)


def format_paris(value: datetime, lang: str = "fr", with_time: bool = True) -> str:
    """A date (and time) as people in France read it, in Europe/Paris."""
    local = to_paris(value)
    if lang == "fr":
        return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def parse_utc(text: str) -> datetime:
    """An ISO 8601 timestamp with an offset (``Z`` accepted), as UTC."""
    return ensure_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)


class ScaledClock:
    """Time that runs ``scale`` times faster than the wall clock from ``epoch`` on.

    now = origin + (wall - epoch) * scale, where ``origin`` (the domain time at the wall instant
    ``epoch``) defaults to ``epoch``. Every process given the same three values agrees on "now"
    without talking to the others; a later session continues from where the last one stopped by
    passing that instant as ``origin``.
    """

    def __init__(self, epoch: datetime, scale: float, origin: datetime | None = None):
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.epoch = ensure_utc(epoch)
        self.origin = ensure_utc(origin) if origin is not None else self.epoch
        self.scale = float(scale)
        self._epoch_ts = self.epoch.timestamp()
        self._origin_ts = self.origin.timestamp()

    def now(self) -> datetime:
        elapsed = time.time() - self._epoch_ts
        return datetime.fromtimestamp(self._origin_ts + elapsed * self.scale, UTC)

    def real_seconds(self, domain_seconds: float) -> float:
        """How long ``domain_seconds`` of domain time take on the wall clock."""
        return domain_seconds / self.scale


class ManualClock:
    """Time that moves only when told to; thread-safe."""

    def __init__(self, start: datetime | None = None):
        self._now = ensure_utc(start) if start else datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, value: datetime) -> None:
        value = ensure_utc(value)
        with self._lock:
            if value < self._now:
                raise ValueError(
                    f"clock cannot go back from {self._now.isoformat()} to {value.isoformat()}"
                )
            self._now = value

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"clock cannot go back by {step}")
        with self._lock:
            self._now += step
            return self._now


class OffsetClock:
    """Another clock moved forward by a settable offset (the registry's QA clock knob)."""

    def __init__(self, base: Clock, offset: timedelta = timedelta(0)):
        self.base = base
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"clock cannot go back by {delta}")
        with self._lock:
            self._offset += delta
        return self.now()

    def now(self) -> datetime:
        return self.base.now() + self.offset


def clock_scale(clock: Clock) -> float:
    """Domain seconds per real second of ``clock``: its scale for a scaled clock (also behind an
    offset), 1 for real and manual clocks. Transport timeouts and signature windows are real
    durations; multiply by this to compare them with domain times."""
    if isinstance(clock, ScaledClock):
        return clock.scale
    if isinstance(clock, OffsetClock):
        return clock_scale(clock.base)
    return 1.0


def clock_from_settings(
    epoch: datetime | None, scale: float, origin: datetime | None = None
) -> Clock:
    """The clock a process of a live session uses: real time, or scaled from a shared epoch."""
    if scale == 1.0 and origin is None:
        return SystemClock()
    return ScaledClock(epoch or SystemClock().now(), scale, origin)


HOUR = timedelta(hours=1)
