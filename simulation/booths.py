"""Connectivity outages of a fleet, and when a code can leave its booth, over numpy arrays.

The rule is the transmitter's booth stage: a code leaves after its batching window, and a code
ready while its booth is offline leaves when the outage ends (overlapping outages are one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutageWindows:
    """Merged outages, sorted by booth then start; hours on the scenario's clock."""

    booth: np.ndarray
    start: np.ndarray
    end: np.ndarray


def sample_outages(
    rng: np.random.Generator,
    booths: int,
    horizon_hours: float,
    rate_per_day: float,
    mean_hours: float,
) -> OutageWindows:
    """Poisson outages per booth over the horizon, each lasting an exponential time."""
    counts = rng.poisson(rate_per_day * horizon_hours / 24.0, booths)
    booth = np.repeat(np.arange(booths), counts)
    start = rng.uniform(0.0, horizon_hours, booth.size)
    end = start + rng.exponential(mean_hours, booth.size)
    return merge_outages(booth, start, end)


def merge_outages(booth: np.ndarray, start: np.ndarray, end: np.ndarray) -> OutageWindows:
    """Join a booth's overlapping or touching outages into one."""
    if booth.size == 0:
        return OutageWindows(booth.astype(np.int64), start, end)
    order = np.lexsort((start, booth))
    booth, start, end = booth[order], start[order], end[order]
    # Running latest end within each booth: shift each booth to its own band of the time axis.
    band = float(end.max() - min(start.min(), 0.0)) + 1.0
    reach = np.maximum.accumulate(end + booth * band) - booth * band
    new_booth = np.r_[True, booth[1:] != booth[:-1]]
    opens = new_booth | np.r_[True, start[1:] > reach[:-1]]
    first = np.flatnonzero(opens)
    last = np.r_[first[1:] - 1, booth.size - 1]
    return OutageWindows(booth[first], start[first], reach[last])


def departure_hours(ready: np.ndarray, booth: np.ndarray, outages: OutageWindows) -> np.ndarray:
    """When each code leaves: ``ready``, or the end of its booth's outage covering ``ready``."""
    if outages.booth.size == 0:
        return ready
    # Outages cover a small share of the fleet's time: rather than search every code's booth
    # among the outages, take each outage's slice of the codes in time order and hold back
    # those of its booth. A booth's merged outages do not overlap, so each code gets at most one.
    order = None if np.all(ready[1:] >= ready[:-1]) else np.argsort(ready, kind="stable")
    times = ready if order is None else ready[order]
    booths = booth if order is None else booth[order]
    first = np.searchsorted(times, outages.start, side="left")
    past = np.searchsorted(times, outages.end, side="left")
    out = times.copy()
    for b, end, lo, hi in zip(
        outages.booth.tolist(), outages.end.tolist(), first.tolist(), past.tolist(), strict=True
    ):
        if lo < hi:
            held = np.flatnonzero(booths[lo:hi] == b)
            out[lo + held] = end
    if order is None:
        return out
    departures = np.empty_like(out)
    departures[order] = out
    return departures
