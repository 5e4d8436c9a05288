"""The delay figures of a run (activation, registry wait, stages, months), from its arrays.

They need only what the run knows once the registry has answered, so ``simulate`` can have them
worked out on a thread while the citizens and the support desk are simulated (numpy releases
the interpreter while it partitions millions of values); ``simulation.report.metrics`` takes
them from there, or works them out itself for a run made without.

The percentiles are numpy's own (``np.percentile``, linear between the two nearest values). A
selection of our own by counting (each value to one of 16,384 bins, then numpy's selection in the
bin holding each rank) was measured against it on the national summer's arrays (2.75 million
codes; ``bench/report.py`` as of commit 31a3a02, medians of 5): 1.33 times as fast over all the
report's percentiles (172 ms against 229 ms), slower than numpy on the stages of few distinct
values, and 0.05 s of the delay figures' 0.27 s on their two threads beside the run. Not a large
gain: removed.
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


def hours_summary(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {k: 0.0 for k in ("mean", "p50", "p95", "p99", "max")}
    low, high = float(values.min()), float(values.max())
    if round(low, 3) == round(high, 3):
        # Every value, so every percentile, is written the same to the 3 decimals kept (a
        # stage every code spends the same time in, up to rounding): nothing to select.
        p50 = p95 = p99 = low
    else:
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "mean": round(float(values.mean()), 3),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "max": round(high, 3),
    }


def _p95(values: np.ndarray) -> float:
    return float(np.percentile(values, 95)) if values.size else 0.0


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
