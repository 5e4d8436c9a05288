"""The report's three plots: what they show, worked out from a run's arrays, and their drawing
(:mod:`simulation.chart`).

A plot needs only a few thousand values (the delay distribution on a grid, the backlog hour by
hour, the share on time day by day), all known once the registry has answered. ``cabine
simulate`` draws them on a thread (:func:`draw_on_thread`) as soon as the registry stage is
done, while the run simulates the citizens and the support desk.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ephoto.texts import DEFAULT_LANGUAGE, format_number, texts
from simulation.figures import PROMISE_HOURS

PLOTS = {
    "activation_cdf": "activation-cdf.png",
    "backlog": "backlog.png",
    "share_by_day": "share-within-72h-by-day.png",
}


@dataclass(frozen=True)
class PlotData:
    """Everything the three plots show, a few thousand values."""

    cdf_hours: np.ndarray
    cdf_share: np.ndarray
    codes: int
    share_within: float
    longest: float
    first_day: date
    backlog_days: np.ndarray
    backlog: np.ndarray
    backlog_max: int
    share_by_day: np.ndarray
    # The plots' words in the report's language (``simulation.*.toml``, [plot]), and that
    # language for the numbers in them.
    labels: dict[str, str]
    lang: str


def cumulative_share(hours: np.ndarray, points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """The share of ``hours`` at or below each point of a grid from 0 to the largest value:
    the exact empirical distribution at the grid's points, by counting rather than sorting
    millions of values."""
    if hours.size == 0:
        return np.zeros(1), np.zeros(1)
    top = max(float(hours.max()), 1e-9)
    step = top / points
    # A value in (k - 1, k] steps is counted at grid point k.
    index = np.divide(hours, step)
    np.ceil(index, out=index)
    np.clip(index, 0, points, out=index)
    index = index.astype(np.int32)
    counts = np.bincount(index, minlength=points + 1)
    return np.arange(points + 1) * step, np.cumsum(counts) / hours.size


def _by_day(day: np.ndarray, on_time: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes bought each day, and those of them active within the promise. Codes in order of
    purchase (as ``simulate`` gives them) are counted day by day in their own slices."""
    if day.size and bool((day[1:] >= day[:-1]).all()):
        bounds = np.searchsorted(day, np.arange(days + 1), side="left")
        in_time = np.array(
            [np.count_nonzero(on_time[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        )
        return np.diff(bounds), in_time
    return np.bincount(day, minlength=days), np.bincount(day[on_time], minlength=days)


def plot_data(
    first_day: date,
    days: int,
    activation: np.ndarray,
    day: np.ndarray,
    backlog_times: np.ndarray,
    backlog: np.ndarray,
    backlog_max: int,
    lang: str = DEFAULT_LANGUAGE,
) -> PlotData:
    """The plots' values from a run's arrays (``activation``: hours from purchase to
    activation, ``day``: day of purchase, per code), with their words in ``lang``."""
    hours, share = cumulative_share(activation)
    on_time = activation <= PROMISE_HOURS
    sold, in_time = _by_day(day, on_time, days)
    return PlotData(
        cdf_hours=hours,
        cdf_share=share,
        codes=int(activation.size),
        share_within=float(on_time.mean()) if activation.size else 1.0,
        longest=float(activation.max()) if activation.size else 0.0,
        first_day=first_day,
        backlog_days=backlog_times / 24.0,
        backlog=np.asarray(backlog),
        backlog_max=int(backlog_max),
        share_by_day=np.divide(in_time, sold, out=np.full(days, np.nan), where=sold > 0),
        labels={
            key.removeprefix("plot."): value
            for key, value in texts("simulation", lang).entries.items()
            if key.startswith("plot.")
        },
        lang=lang,
    )


def draw(data: PlotData, out: Path) -> dict[str, Path]:
    """Draw the three PNGs into ``out`` (created if needed); their paths by key of
    :data:`PLOTS`."""
    from simulation.chart import Chart  # Pillow: imported beside the run (ReportLibraries)

    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in PLOTS.items()}
    since = f"{data.first_day:%d/%m/%Y}" if data.lang == "fr" else data.first_day.isoformat()
    words = data.labels
    share = format_number(100 * data.share_within, 1, data.lang) + "\u00a0%"

    hours, cumulative = data.cdf_hours, data.cdf_share
    # The lognormal base delay has a long tail; stop at the 99.9th percentile so the body shows.
    shown = float(hours[np.searchsorted(cumulative, 0.999)]) if data.codes else 0.0
    xlabel = words["cdf_x"]
    if data.codes and shown < data.longest:
        xlabel = words["cdf_x_longest"].format(hours=format_number(data.longest, 0, data.lang))
    chart = Chart(
        words["cdf_title"],
        xlabel,
        words["cdf_y"],
        data.lang,
        xlim=(0.0, max(shown * 1.05, PROMISE_HOURS * 1.3)),
        ylim=(0.0, 1.01),
    )
    chart.line(hours, cumulative, color="#1f5fa8", width=3)
    chart.rule(x=PROMISE_HOURS, color="#c0392b", width=2.3, dashed=True, label=words["promise"])
    chart.rule(y=data.share_within, color="#c0392b", width=1.2, alpha=0.5)
    chart.note(words["within"].format(share=share), PROMISE_HOURS, data.share_within, "#c0392b")
    chart.save(paths["activation_cdf"])

    chart = Chart(
        words["backlog_title"].format(max=format_number(data.backlog_max, 0, data.lang)),
        words["backlog_x"].format(start=since),
        words["backlog_y"],
        data.lang,
    )
    chart.line(data.backlog_days, data.backlog, color="#6b3fa0", width=1.5, fill=0.15)
    chart.save(paths["backlog"])

    days = data.share_by_day.size
    chart = Chart(
        words["by_day_title"],
        words["by_day_x"].format(start=since),
        words["by_day_y"],
        data.lang,
        ylim=(-0.02, 1.02),
    )
    chart.line(np.arange(days), data.share_by_day, color="#1e8449", width=2.3, marker=4.5)
    chart.save(paths["share_by_day"])
    return paths


def draw_on_thread(out: Path, make: Callable[[], PlotData]) -> Future[dict[str, Path]]:
    """Work out the plots' values with ``make`` and draw them into ``out`` on a thread of
    their own, while the caller goes on; the future holds :func:`draw`'s paths or its
    error."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="plots")
    try:
        return executor.submit(lambda: draw(make(), out))
    finally:
        executor.shutdown(wait=False)
