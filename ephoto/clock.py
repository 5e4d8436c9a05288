"""Clocks: the only place in cabine that reads the wall clock for domain time.

Every component takes a :class:`Clock`. ``SystemClock`` for production, ``ScaledClock`` so a live
demo shows 72 h pass in 72 s, ``ManualClock`` for tests and the simulator. All datetimes are
timezone-aware UTC; :func:`to_paris` converts for display.

A live session's processes also share one QA offset, kept in the session file and watched by
each of them (:class:`SessionClock`): QA moves it once and every process moves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ephoto.private import write_private

log = logging.getLogger(__name__)

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


SESSION_OFFSET_KEY = "clock_offset_seconds"
"""The session file's entry every process of a live session adds to its clock, in seconds."""


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def _session_lock(path: Path) -> Iterator[None]:
    """Writers of one session file take turns (the demo saving its state, QA moving the clock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock_path(path).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_session_file(path: Path) -> dict[str, Any]:
    """The session file's entries; empty when there is no file yet."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a session file holds a JSON object")
    return data


def session_offset(data: Mapping[str, Any], path: Path | str = "session file") -> timedelta:
    """The QA offset in a session file's entries (none: zero)."""
    value = data.get(SESSION_OFFSET_KEY, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{path}: {SESSION_OFFSET_KEY} must be a number of seconds, not {value!r}")
    if value < 0:
        raise ValueError(f"{path}: {SESSION_OFFSET_KEY} cannot be negative ({value})")
    return timedelta(seconds=value)


def _rewrite_session_file(path: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``change`` to the session file's entries under the writers' lock, atomically (a
    reader sees the old file or the new one, never half of one) and durably."""
    path = Path(path)
    with _session_lock(path):
        data = read_session_file(path)
        change(data)
        # 0600: the demo keeps its admin token in it.
        write_private(path, json.dumps(data, indent=2).encode())
    return data


def update_session_file(path: Path, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set some entries of the session file and keep the others; returns the new entries."""
    return _rewrite_session_file(path, lambda data: data.update(changes))


def advance_session_offset(path: Path, delta: timedelta) -> timedelta:
    """Move every process of the session forward by ``delta``; returns the new offset."""
    if delta < timedelta(0):
        raise ValueError(f"the session clock cannot go back (by {-delta})")

    def move(data: dict[str, Any]) -> None:
        data[SESSION_OFFSET_KEY] = (session_offset(data, path) + delta).total_seconds()

    return session_offset(_rewrite_session_file(path, move), path)


class SessionClock:
    """``base`` moved forward by the QA offset written in a live session's file.

    QA moves the offset once (``cabine clock advance``, or the registry's ``POST
    /admin/clock`` in a session) and every process of the session follows: each one watches
    the file. ``now()`` looks at the file's modification stamp at most every ``check_seconds``
    of monotonic time and reads the offset again only when the stamp changed, so the usual call
    costs a monotonic read and a comparison. A file that cannot be read keeps the last offset.
    """

    def __init__(self, base: Clock, path: Path, check_seconds: float = 0.05):
        self.base = base
        self.path = Path(path)
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._offset = timedelta(0)
        self._next_check = 0.0
        self._refresh()

    @property
    def offset(self) -> timedelta:
        if time.monotonic() >= self._next_check:
            self._refresh()
        return self._offset

    def now(self) -> datetime:
        if time.monotonic() >= self._next_check:
            self._refresh()
        return self.base.now() + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move every process of the session forward by ``delta``; this one at once."""
        advance_session_offset(self.path, delta)
        with self._lock:
            self._next_check = 0.0
        return self.now()

    def _refresh(self) -> None:
        with self._lock:
            started = time.monotonic()
            if started < self._next_check:
                return  # another thread looked meanwhile
            self._next_check = started + self.check_seconds
            try:
                status = os.stat(self.path)
                stamp: tuple[int, int, int] | None = (
                    status.st_mtime_ns,
                    status.st_size,
                    status.st_ino,
                )
            except FileNotFoundError:
                stamp = None
            if stamp == self._stamp:
                return
            try:
                offset = session_offset(read_session_file(self.path), self.path)
            except (OSError, ValueError) as exc:
                log.warning("session clock keeps its offset %s: %s", self._offset, exc)
                return
            self._stamp = stamp
            self._offset = offset


def clock_scale(clock: Clock) -> float:
    """Domain seconds per real second of ``clock``: its scale for a scaled clock (also behind an
    offset), 1 for real and manual clocks. Transport timeouts and signature windows are real
    durations; multiply by this to compare them with domain times."""
    if isinstance(clock, ScaledClock):
        return clock.scale
    if isinstance(clock, OffsetClock | SessionClock):
        return clock_scale(clock.base)
    return 1.0


def clock_from_settings(
    epoch: datetime | None,
    scale: float,
    origin: datetime | None = None,
    session_file: Path | None = None,
) -> Clock:
    """The clock a process of a live session uses: real time, or scaled from a shared epoch;
    behind the session's QA offset when the session has a file."""
    base: Clock
    if scale == 1.0 and origin is None:
        base = SystemClock()
    else:
        base = ScaledClock(epoch or SystemClock().now(), scale, origin)
    return SessionClock(base, session_file) if session_file is not None else base


HOUR = timedelta(hours=1)
