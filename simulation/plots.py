"""The report's three plots: what they show, worked out from a run's arrays, and their drawing
(matplotlib, through :mod:`simulation.plotting`).

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
from typing import TYPE_CHECKING

import numpy as np

from ephoto.texts import DEFAULT_LANGUAGE, format_number, texts
from simulation.figures import PROMISE_HOURS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Each plot's series colour, and the promise's.
CDF_COLOUR, BACKLOG_COLOUR, BY_DAY_COLOUR = "#1f5fa8", "#6b3fa0", "#1e8449"
PROMISE_COLOUR = "#c0392b"

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
    # matplotlib: imported beside the run (ReportLibraries), or here.
    from simulation.plotting import save_png

    out.mkdir(parents=True, exist_ok=True)
    charts = {
        "activation_cdf": activation_cdf,
        "backlog": backlog,
        "share_by_day": share_by_day,
    }
    return {key: save_png(chart(data), out / PLOTS[key]) for key, chart in charts.items()}


def _since(data: PlotData) -> str:
    return f"{data.first_day:%d/%m/%Y}" if data.lang == "fr" else data.first_day.isoformat()


def activation_cdf(data: PlotData) -> Axes:
    """The share of codes active against the hours since purchase, the promise marked."""
    from simulation.plotting import line_axes

    words = data.labels
    share = format_number(100 * data.share_within, 1, data.lang) + "\u00a0%"
    hours, cumulative = data.cdf_hours, data.cdf_share
    # The lognormal base delay has a long tail; stop at the 99.9th percentile so the body shows.
    shown = float(hours[np.searchsorted(cumulative, 0.999)]) if data.codes else 0.0
    xlabel = words["cdf_x"]
    if data.codes and shown < data.longest:
        xlabel = words["cdf_x_longest"].format(hours=format_number(data.longest, 0, data.lang))
    axes = line_axes(words["cdf_title"], xlabel, words["cdf_y"], data.lang)
    axes.plot(hours, cumulative, color=CDF_COLOUR, linewidth=3)
    axes.axvline(
        PROMISE_HOURS, color=PROMISE_COLOUR, linewidth=2.3, linestyle="--", label=words["promise"]
    )
    axes.axhline(data.share_within, color=PROMISE_COLOUR, linewidth=1.2, alpha=0.5)
    axes.annotate(
        words["within"].format(share=share),
        (PROMISE_HOURS, data.share_within),
        xytext=(8, -6),
        textcoords="offset points",
        verticalalignment="top",
        color=PROMISE_COLOUR,
    )
    axes.set_xlim(0.0, max(shown * 1.05, PROMISE_HOURS * 1.3))
    axes.set_ylim(0.0, 1.01)
    # The curve climbs along the left and runs along the top: the bottom right is free.
    axes.legend(loc="lower right")
    return axes


def backlog(data: PlotData) -> Axes:
    """The registry's queue hour by hour, filled down to zero."""
    from simulation.plotting import line_axes

    words = data.labels
    axes = line_axes(
        words["backlog_title"].format(max=format_number(data.backlog_max, 0, data.lang)),
        words["backlog_x"].format(start=_since(data)),
        words["backlog_y"],
        data.lang,
    )
    axes.plot(data.backlog_days, data.backlog, color=BACKLOG_COLOUR, linewidth=1.5)
    axes.fill_between(
        data.backlog_days, data.backlog, color=BACKLOG_COLOUR, alpha=0.15, linewidth=0
    )
    axes.set_ylim(bottom=0.0)
    return axes


def share_by_day(data: PlotData) -> Axes:
    """The share of each day's codes active within the promise (no point on a day without
    sales: the line breaks there)."""
    from simulation.plotting import line_axes

    words = data.labels
    axes = line_axes(
        words["by_day_title"],
        words["by_day_x"].format(start=_since(data)),
        words["by_day_y"],
        data.lang,
    )
    axes.plot(
        np.arange(data.share_by_day.size),
        data.share_by_day,
        color=BY_DAY_COLOUR,
        linewidth=2.3,
        marker="o",
        markersize=4.5,
    )
    axes.set_ylim(-0.02, 1.02)
    return axes


def draw_on_thread(out: Path, make: Callable[[], PlotData]) -> Future[dict[str, Path]]:
    """Work out the plots' values with ``make`` and draw them into ``out`` on a thread of
    their own, while the caller goes on; the future holds :func:`draw`'s paths or its
    error."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="plots")
    try:
        return executor.submit(lambda: draw(make(), out))
    finally:
        executor.shutdown(wait=False)
