"""The delay figures of a run (activation, registry wait, stages, months), from its arrays.

They need only what the run knows once the registry has answered, so ``simulate`` can have them
worked out on a thread while the citizens and the support desk are simulated (numpy releases
the interpreter while it partitions millions of values); ``simulation.report.metrics`` takes
them from there, or works them out itself for a run made without.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import numpy as np

from ephoto.validity import ACTIVATION_PROMISE

PROMISE_HOURS = ACTIVATION_PROMISE.total_seconds() / 3600
STAGE_NAMES = ("booth", "collector", "state_queue", "base_delay")


def stage_split(
    issued: np.ndarray,
    uploaded: np.ndarray,
    received: np.ndarray,
    processed: np.ndarray,
    active: np.ndarray,
) -> dict[str, np.ndarray]:
    """The activation delay of each code split by stage; the stages add up to it.

    booth: issue to the collector (batch window, outages, upload over the uplink);
    collector: its registration window; state_queue: the registry's FIFO, service included;
    base_delay: the registry's base delay after the queue."""
    return {
        "booth": uploaded - issued,
        "collector": received - uploaded,
        "state_queue": processed - received,
        "base_delay": active - processed,
    }


# Below this many values numpy's own selection is as fast as counting.
COUNTING_FROM = 50_000
_BINS = 1 << 14


def order_statistics(values: np.ndarray, ranks: Sequence[int]) -> dict[int, float]:
    """The values of rank ``ranks`` (0 for the smallest) among finite ``values``, by counting.

    Each value gets one of 16,384 bins by a map that never decreases ((value - min) x scale,
    truncated), so the values of one bin sit between those of the bins on either side. One
    count per bin gives the bin holding each rank; only that bin's values are then selected
    from. Two passes over the values instead of numpy's introselect over all of them for
    each rank, about 2.5 times faster on millions of delays."""
    low, high = float(values.min()), float(values.max())
    if low == high:
        return {int(rank): low for rank in ranks}
    scale = (_BINS - 1) / (high - low)
    if not np.isfinite(scale):  # values a few ulps apart: numpy selects among them all
        chosen = np.partition(values, list(ranks))
        return {int(rank): float(chosen[rank]) for rank in ranks}
    index = np.subtract(values, low)
    index *= scale
    index = index.astype(np.int32)
    np.minimum(index, _BINS - 1, out=index)
    counts = np.bincount(index, minlength=_BINS)
    ends = np.cumsum(counts)
    wanted = np.asarray(ranks, dtype=np.int64)
    homes = np.searchsorted(ends, wanted, side="right")
    found: dict[int, float] = {}
    for home in np.unique(homes):
        first = int(ends[home] - counts[home])
        inside = [int(rank) - first for rank in wanted[homes == home]]
        chosen = np.partition(values[index == home], inside)
        for rank in inside:
            found[first + rank] = float(chosen[rank])
    return found


def _spread(values: np.ndarray) -> bool:
    """Whether ``values`` are finite and nearly all different, judged on 1,000 of them spread
    along the array. Counting pays where they are, as for lognormal delays; with few distinct
    values (a stage made of batch windows) numpy's selection is faster."""
    sample = values[:: max(1, values.size // 1000)]
    finite = bool(np.isfinite(values.min() + values.max()))
    return finite and np.unique(sample).size > 0.9 * sample.size


def percentiles(values: np.ndarray, q: Sequence[float]) -> list[float]:
    """``np.percentile(values, q)`` (its default, linear method) to the last bit, the order
    statistics found by :func:`order_statistics` for large arrays of finite values."""
    if values.size < COUNTING_FROM or not _spread(values):
        return [float(v) for v in np.percentile(values, q)]
    n = values.size
    # numpy's steps: the virtual index (n - 1) x q / 100, its floor and the next rank, then
    # its two-sided interpolation.
    virtual = (n - 1) * np.true_divide(np.asarray(q, dtype=np.float64), 100)
    previous = np.floor(virtual)
    gamma = virtual - previous
    below = previous.astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    at_end = virtual >= n - 1
    below[at_end] = above[at_end] = n - 1
    found = order_statistics(values, sorted({*below.tolist(), *above.tolist()}))
    a = np.array([found[int(rank)] for rank in below])
    b = np.array([found[int(rank)] for rank in above])
    difference = b - a
    result = a + difference * gamma
    np.subtract(b, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    return [float(v) for v in result]


def hours_summary(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {k: 0.0 for k in ("mean", "p50", "p95", "p99", "max")}
    low, high = float(values.min()), float(values.max())
    if round(low, 3) == round(high, 3):
        # Every value, so every percentile, is written the same to the 3 decimals kept (a
        # stage every code spends the same time in, up to rounding): nothing to select.
        p50 = p95 = p99 = low
    else:
        p50, p95, p99 = percentiles(values, [50, 95, 99])
    return {
        "mean": round(float(values.mean()), 3),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "max": round(high, 3),
    }


def _p95(values: np.ndarray) -> float:
    return percentiles(values, [95])[0] if values.size else 0.0


def month_parts(start: date, days: int, day: np.ndarray) -> list[tuple[int, np.ndarray | slice]]:
    """Each month of the run with the codes bought in it (``day``: each code's day of
    purchase): a slice when the codes are in order of purchase, as ``simulate`` makes them,
    else a mask."""
    months = np.array([(start + timedelta(days=d)).month for d in range(days)])
    in_order = day.size < 2 or bool((day[1:] >= day[:-1]).all())
    month_of = None if in_order else months[day]
    parts: list[tuple[int, np.ndarray | slice]] = []
    for month in dict.fromkeys(months.tolist()):
        if month_of is not None:
            parts.append((month, month_of == month))
            continue
        chosen = np.flatnonzero(months == month)
        if chosen.size == chosen[-1] - chosen[0] + 1:
            lo = int(np.searchsorted(day, chosen[0], side="left"))
            hi = int(np.searchsorted(day, chosen[-1], side="right"))
            parts.append((month, slice(lo, hi)))
        else:  # a run longer than a year: the month comes back
            parts.append((month, np.isin(day, chosen)))
    return parts


def _stage_summary(later: np.ndarray, earlier: np.ndarray) -> tuple[dict[str, float], float]:
    """A stage's summary and exact mean, its hours held only while they are summarised."""
    hours = np.subtract(later, earlier)
    return hours_summary(hours), float(hours.mean()) if hours.size else 0.0


def delay_figures(
    start: date,
    days: int,
    activation: np.ndarray,
    wait: np.ndarray,
    times: Sequence[np.ndarray] | None,
    day: np.ndarray,
    threads: int = 1,
) -> dict[str, Any]:
    """``metrics.json``'s figures about delays: the activation delay and the share within 72 h,
    the registry's wait, each stage's part (with its share of the mean) and each month's p95
    and share. ``times``: when each code was issued, uploaded, received, processed and
    active, the bounds of the stages of :func:`stage_split` (None: no stages). ``threads``:
    how many selections run at once."""
    within = activation <= PROMISE_HOURS
    months = month_parts(start, days, day)
    bounds = list(zip(times[1:], times[:-1], strict=True)) if times is not None else []
    with ThreadPoolExecutor(threads, thread_name_prefix="figures") as pool:
        summaries = pool.map(hours_summary, [activation, wait])
        stage_summaries = pool.map(lambda pair: _stage_summary(*pair), bounds)
        p95s = pool.map(_p95, [activation[part] for _, part in months])
        activation_summary, wait_summary = list(summaries)
        stage_figures = list(stage_summaries)
        month_p95 = list(p95s)
    by_month = []
    for (month, part), p95 in zip(months, month_p95, strict=True):
        codes = int(within[part].size) if isinstance(part, slice) else int(part.sum())
        if codes == 0:
            continue
        by_month.append(
            {
                "month": f"{month:02d}",
                "codes": codes,
                "p95_activation_hours": round(p95, 3),
                "share_active_within_72h": round(float(within[part].mean()), 4),
            }
        )
    total = float(activation.mean()) if activation.size else 0.0
    by_stage = {}
    for name, (summary, mean) in zip(STAGE_NAMES[: len(stage_figures)], stage_figures, strict=True):
        summary["share_of_mean"] = round(mean / total, 4) if total > 0 else 0.0
        by_stage[name] = summary
    return {
        "activation_hours": activation_summary,
        "share_active_within_72h": round(float(within.mean()) if activation.size else 1.0, 4),
        "registry_wait_hours_mean": round(float(wait.mean()), 4) if activation.size else 0.0,
        "registry_wait_hours": wait_summary,
        "activation_by_stage": by_stage,
        "by_month": by_month,
    }
