"""The registry's ingestion model: why activation takes hours, and days in busy season.

A received code joins a first-in first-out queue served at ``capacity_per_hour`` (deterministic
service, capacity varying by month), then waits a base delay (lognormal by median and p95). It
becomes active at ``processing_end + base_delay`` with
``processing_end = max(received_at, previous code's processing_end) + 1 / capacity``.

States derive from stored times and the clock, so nothing runs in the background to flip them.
The simulator imports this module as is; ``processing_ends`` is the same rule over arrays.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

import numpy as np

from ephoto.clock import PARIS, ensure_utc

Z95 = 1.6448536269514722  # standard normal quantile at 0.95
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class BaseDelay:
    """Lognormal extra delay after the queue; zero when ``median_hours`` is 0."""

    median_hours: float = 0.0
    p95_hours: float = 0.0

    def __post_init__(self) -> None:
        if self.median_hours < 0:
            raise ValueError(f"median_hours must be >= 0, got {self.median_hours}")
        if self.median_hours > 0 and self.p95_hours < self.median_hours:
            raise ValueError(
                f"p95_hours ({self.p95_hours}) must be >= median_hours ({self.median_hours})"
            )

    @property
    def sigma(self) -> float:
        if self.median_hours == 0 or self.p95_hours == self.median_hours:
            return 0.0
        return math.log(self.p95_hours / self.median_hours) / Z95

    def sample_hours(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.median_hours == 0:
            return np.zeros(size)
        return rng.lognormal(math.log(self.median_hours), self.sigma, size)

    def for_code(self, code: str) -> float:
        """A delay drawn from the distribution, the same every time for the same code.

        The code's SHA-256 gives a uniform number in (0, 1), turned into the lognormal by the
        inverse normal CDF: deterministic, and fast enough for every code of a big batch.
        """
        if self.median_hours == 0:
            return 0.0
        draw = int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big")
        uniform = (draw + 0.5) / 2.0**64
        return self.median_hours * math.exp(self.sigma * _STANDARD_NORMAL.inv_cdf(uniform))


@dataclass(frozen=True)
class Capacity:
    """Codes the registry registers per hour; ``by_month`` (1-12, Paris calendar) overrides."""

    per_hour: float
    by_month: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for month, value in {0: self.per_hour, **self.by_month}.items():
            if value <= 0:
                raise ValueError(f"capacity must be positive (month {month or 'default'}: {value})")
            if month and not 1 <= month <= 12:
                raise ValueError(f"month must be 1-12, got {month}")

    def next_change_after(self, when: datetime) -> datetime | None:
        """The first instant after ``when`` at which the capacity may differ (the next Paris
        month), or None when it never changes."""
        if not self.by_month:
            return None
        local = ensure_utc(when).astimezone(PARIS)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return datetime(year, month, 1, tzinfo=PARIS).astimezone(UTC)

    def at(self, when: datetime) -> float:
        if not self.by_month:
            return self.per_hour
        return self.by_month.get(ensure_utc(when).astimezone(PARIS).month, self.per_hour)


@dataclass(frozen=True)
class IngestionModel:
    capacity: Capacity
    base_delay: BaseDelay = BaseDelay()

    def processing_end(self, received_at: datetime, previous_end: datetime | None) -> datetime:
        """When the queue has registered this code (service starts at the later of its
        arrival and the end of the code before it)."""
        received_at = ensure_utc(received_at)
        start = received_at if previous_end is None else max(received_at, previous_end)
        return start + timedelta(hours=1.0 / self.capacity.at(start))

    def processing_ends(
        self, received_at: datetime, previous_end: datetime | None, count: int
    ) -> list[datetime]:
        """``processing_end`` of ``count`` codes received together, in queue order: exactly
        the loop over :meth:`processing_end`, but the capacity is looked up again only when
        service crosses into another Paris month (a batch of 1000 pays for it once)."""
        received_at = ensure_utc(received_at)
        start = received_at if previous_end is None else max(received_at, previous_end)
        ends: list[datetime] = []
        while len(ends) < count:
            step = timedelta(hours=1.0 / self.capacity.at(start))
            boundary = self.capacity.next_change_after(start)
            while len(ends) < count and (boundary is None or start < boundary):
                start = start + step
                ends.append(start)
        return ends

    def activation_at(self, processing_end: datetime, base_delay_hours: float) -> datetime:
        return ensure_utc(processing_end) + timedelta(hours=base_delay_hours)


def processing_ends(received_hours: np.ndarray, capacity_per_hour: float) -> np.ndarray:
    """``processing_end`` for sorted arrival times (hours) at constant capacity, vectorised.

    end_i = max_{j <= i}(a_j - j/C) + (i + 1)/C, which unrolls the FIFO recursion.
    """
    service = 1.0 / capacity_per_hour
    index = np.arange(received_hours.size, dtype=np.float64)
    return np.maximum.accumulate(received_hours - index * service) + (index + 1) * service


@dataclass(frozen=True)
class CapacitySchedule:
    """Capacity as a step function of time: segment ``k`` starts at ``starts_hours[k]`` (hours
    after an origin) and runs at ``per_hour[k]`` until the next start; the last one runs on."""

    starts_hours: np.ndarray
    per_hour: np.ndarray


def capacity_schedule(capacity: Capacity, origin: datetime, until: datetime) -> CapacitySchedule:
    """The months of the Paris calendar between ``origin`` and ``until`` as capacity steps.

    ``Capacity.at`` changes value only at a Paris month boundary, so one step per month gives
    exactly the capacity the scalar rule would look up at any instant.
    """
    origin = ensure_utc(origin)
    local = origin.astimezone(PARIS)
    starts = [0.0]
    values = [capacity.at(origin)]
    year, month = local.year, local.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        boundary = datetime(year, month, 1, tzinfo=PARIS).astimezone(origin.tzinfo)
        if boundary > ensure_utc(until):
            break
        starts.append((boundary - origin).total_seconds() / 3600)
        values.append(capacity.at(boundary))
    return CapacitySchedule(np.array(starts), np.array(values, dtype=np.float64))


def processing_times(
    received_hours: np.ndarray, schedule: CapacitySchedule
) -> tuple[np.ndarray, np.ndarray]:
    """(service starts, ``processing_end``) for sorted arrival times under a capacity schedule.

    The same FIFO rule as :meth:`IngestionModel.processing_end` (a code's service time is
    1 / capacity at its start), vectorised segment by segment: within one step the constant
    capacity formula of :func:`processing_ends` applies, carried over from the last code served
    in the step before. A code starts in step k only if it arrived before the step ends, so each
    step looks at the codes received before its end that are still waiting.
    """
    arrivals = np.asarray(received_hours, dtype=np.float64)
    n = arrivals.size
    starts = np.empty(n)
    ends = np.empty(n)
    free_at = -np.inf  # when the code before the next one to serve leaves the queue
    first = 0
    steps = schedule.starts_hours.size
    for k in range(steps):
        if first >= n:
            break
        step_end = schedule.starts_hours[k + 1] if k + 1 < steps else np.inf
        last = int(np.searchsorted(arrivals, step_end, side="left"))
        if last <= first:
            continue
        service = 1.0 / schedule.per_hour[k]
        offset = np.arange(last - first, dtype=np.float64)
        offset *= service
        waiting = arrivals[first:last]
        # start_i = max(free_at, max_{j <= i}(a_j - j * service)) + i * service, worked out in
        # the output's own slice (what lies past the codes served here is overwritten by the
        # next step): max(x, y) + o equals max(x + o, y + o) exactly, rounding being monotone.
        step_starts = starts[first:last]
        np.subtract(waiting, offset, out=step_starts)
        np.maximum.accumulate(step_starts, out=step_starts)
        np.maximum(step_starts, free_at, out=step_starts)
        step_starts += offset
        # Exact arithmetic never starts a code before it arrives; rounding could, by an ulp.
        np.maximum(step_starts, waiting, out=step_starts)
        served = int(np.searchsorted(step_starts, step_end, side="left"))
        if served == 0:
            continue
        np.add(step_starts[:served], service, out=ends[first : first + served])
        free_at = ends[first + served - 1]
        first += served
    if first < n:  # only possible with an empty schedule
        raise ValueError("capacity schedule has no steps")
    return starts, ends
