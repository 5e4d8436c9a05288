"""The booth stage of the activation delay: codes wait for a batching window before they leave,
a booth cut off from the network (a scenario's connectivity outage) sends nothing, and an upload
takes the time its bytes need on the booth's uplink.

The other stage, the registry's ingestion backlog, lives in ``registry.ingestion``. The simulator
imports both, so live runs and simulations share one model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ephoto.clock import ensure_utc

DEFAULT_BATCH_WINDOW = timedelta(minutes=15)


def upload_seconds(n_bytes: int, uplink_kbps: float) -> float:
    """Seconds ``n_bytes`` take to leave the booth on an uplink of ``uplink_kbps`` kbit/s
    (1 kbit = 1000 bits; 0 means unlimited): ``n_bytes * 8 / uplink_kbps`` milliseconds.

    The live stand-in collector holds each upload this long and the simulator counts it, so both
    follow one rule. A 2 MB upload over mobile data at 2000 kbit/s takes 8 s.
    """
    if n_bytes < 0:
        raise ValueError(f"n_bytes must be >= 0, got {n_bytes}")
    if uplink_kbps < 0:
        raise ValueError(f"uplink_kbps must be >= 0 (0: unlimited), got {uplink_kbps}")
    if uplink_kbps == 0:
        return 0.0
    return n_bytes * 8 / uplink_kbps / 1000


@dataclass(frozen=True)
class Outage:
    """The booth has no connectivity from ``start`` (included) to ``end`` (excluded)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", ensure_utc(self.start))
        object.__setattr__(self, "end", ensure_utc(self.end))
        if self.end <= self.start:
            raise ValueError(
                f"outage ends at {self.end.isoformat()}, not after its start "
                f"{self.start.isoformat()}"
            )

    def covers(self, at: datetime) -> bool:
        return self.start <= ensure_utc(at) < self.end


def _merged(outages: Iterable[Outage]) -> tuple[Outage, ...]:
    """Outages sorted by start, overlapping or touching ones joined."""
    merged: list[Outage] = []
    for outage in sorted(outages, key=lambda o: o.start):
        if merged and outage.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Outage(last.start, max(last.end, outage.end))
        else:
            merged.append(outage)
    return tuple(merged)


@dataclass(frozen=True)
class BoothStage:
    batch_window: timedelta = DEFAULT_BATCH_WINDOW
    outages: tuple[Outage, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.batch_window < timedelta(0):
            raise ValueError(f"batch_window must be >= 0, got {self.batch_window}")
        object.__setattr__(self, "outages", _merged(self.outages))

    def not_before(self, issued_at: datetime) -> datetime:
        """The earliest time a code may be uploaded."""
        return ensure_utc(issued_at) + self.batch_window

    def offline_until(self, at: datetime) -> datetime | None:
        """The end of the outage under way at ``at``, or None when the booth is online."""
        for outage in self.outages:
            if outage.covers(at):
                return outage.end
        return None

    def online_at(self, at: datetime) -> datetime:
        """The first instant at or after ``at`` when the booth is online."""
        return self.offline_until(at) or ensure_utc(at)

    def departure_at(self, issued_at: datetime) -> datetime:
        """When a code issued at ``issued_at`` can first leave the booth: after its batching
        window, and not during an outage."""
        return self.online_at(self.not_before(issued_at))
