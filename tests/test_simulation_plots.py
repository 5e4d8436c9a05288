"""The report's plots (``simulation.plots``, drawn by matplotlib through
``simulation.plotting``): the series of the run where the axes say, their words in the report's
language, ticks written as that language writes numbers, the series' colours in the PNGs of the
report's size, and the three PNGs drawn on a thread."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_rgb
from matplotlib.ticker import MaxNLocator
from PIL import Image

from ephoto.texts import format_number
from simulation.fleet import simulate
from simulation.plots import (
    BACKLOG_COLOUR,
    BY_DAY_COLOUR,
    CDF_COLOUR,
    PLOTS,
    PROMISE_COLOUR,
    activation_cdf,
    backlog,
    draw,
    draw_on_thread,
    share_by_day,
)
from simulation.plotting import LanguageFormatter, line_axes, save_png, tick_decimals
from simulation.report import run_plot_data
from simulation.scenario import parse_scenario


@pytest.fixture(scope="module")
def run():
    scenario = parse_scenario(
        {
            "run": {"seed": 4, "start": "2026-09-01", "days": 12},
            "fleet": {"booths": 40},
            "registry": {"capacity_per_hour": 30.0},
        }
    )
    return simulate(scenario)


def colour_share(path, colour: str, tolerance: int = 40) -> float:
    """The share of the image's pixels within ``tolerance`` (summed over R, G, B) of
    ``colour``."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    target = np.array([round(255 * c) for c in to_rgb(colour)])
    return float((np.abs(pixels - target).sum(axis=2) < tolerance).mean())


def tick_texts(axes, axis: str) -> list[str]:
    axes.get_figure().canvas.draw()
    ticks = axes.get_xticklabels() if axis == "x" else axes.get_yticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


@settings(max_examples=200, deadline=None)
@given(
    low=st.floats(-1e6, 1e6),
    # An axis spans at least a thousandth of its values' size.
    relative=st.floats(1e-3, 1e4),
    lang=st.sampled_from(["fr", "en"]),
)
def test_tick_labels_tell_every_tick_apart_and_write_its_value(low, relative, lang):
    high = low + relative * max(1.0, abs(low))
    ticks = MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    formatter = LanguageFormatter(lang)
    labels = formatter.format_ticks(ticks)
    assert len(set(labels)) == len(labels)
    for tick, label in zip(ticks, labels, strict=True):
        text = label.replace("\u2212", "-")
        if lang == "fr":
            text = text.replace("\u202f", "").replace(",", ".")
        else:
            text = text.replace(",", "")
        assert math.isclose(float(text), tick, rel_tol=1e-9, abs_tol=1e-9 * (high - low))


@pytest.mark.parametrize(
    "values, digits",
    [([0.0, 0.25, 0.5], 2), ([0.0, 0.2, 0.4], 1), ([0.0, 2500.0, 5000.0], 0), ([1.0], 0)],
)
def test_tick_labels_have_the_fewest_decimals_that_write_them(values, digits):
    assert tick_decimals(values) == digits


def test_ticks_are_written_as_the_language_writes_numbers():
    axes = line_axes("t", "x", "y", "fr")
    axes.plot([0.0, 20000.0], [0.0, 1.0])
    axes.set_xlim(0.0, 20000.0)
    axes.set_ylim(0.0, 1.0)
    assert "10\u202f000" in tick_texts(axes, "x") and "0,4" in tick_texts(axes, "y")
    axes = line_axes("t", "x", "y", "en")
    axes.plot([0.0, 20000.0], [-1.0, 1.0])
    axes.set_xlim(0.0, 20000.0)
    assert "10,000" in tick_texts(axes, "x") and "\u22120.50" in tick_texts(axes, "y")


@pytest.mark.parametrize("size", [(880, 495), (700, 400)])
def test_no_text_of_a_chart_is_cut_by_its_edges(size):
    # Tick labels as wide as the reports' widest (a sweep's codes issued, in millions), and
    # the longest axis label (the CDF's).
    axes = line_axes(
        "Délai d'activation (cumulé)",
        "heures entre l'achat et l'activation (le plus long : 1 063 h, hors du graphique)",
        "codes en attente au registre",
        "fr",
        size=size,
    )
    axes.plot([0.0, 20000.0], [0.0, 3_000_000.0])
    axes.set_ylim(0.0, 3_000_000.0)
    axes.set_xlim(0.0, 20000.0)
    figure = axes.get_figure()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [axes.title, axes.xaxis.label, axes.yaxis.label]
    texts += [t for t in axes.get_xticklabels() + axes.get_yticklabels() if t.get_text()]
    assert "2\u202f500\u202f000" in [t.get_text() for t in texts]
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0, text.get_text()
        assert box.x1 <= size[0] and box.y1 <= size[1], text.get_text()
    # The y label stays clear of the tick labels it names.
    labels = [t.get_window_extent(renderer).x0 for t in axes.get_yticklabels() if t.get_text()]
    assert axes.yaxis.label.get_window_extent(renderer).x1 <= min(labels)


def test_a_chart_is_a_png_of_its_size_in_pixels_and_the_same_bytes_each_time(tmp_path):
    def make(path):
        axes = line_axes("titre", "heures", "part", "fr", size=(700, 400))
        axes.plot(np.linspace(0, 100, 400), np.linspace(0, 1, 400), color="#1f5fa8")
        axes.axvline(72.0, color="#c0392b", linestyle="--", label="promesse")
        axes.legend()
        return save_png(axes, path).read_bytes()

    first = make(tmp_path / "a.png")
    assert first == make(tmp_path / "b.png")
    with Image.open(tmp_path / "a.png") as image:
        assert image.format == "PNG" and image.size == (700, 400)


def test_each_plot_shows_the_runs_series_in_its_colour(run, tmp_path):
    data = run_plot_data(run)
    cdf = activation_cdf(data)
    curve = cdf.lines[0]
    np.testing.assert_array_equal(curve.get_xdata(), data.cdf_hours)
    np.testing.assert_array_equal(curve.get_ydata(), data.cdf_share)
    assert curve.get_color() == CDF_COLOUR
    promise = [line for line in cdf.lines if line.get_label() == data.labels["promise"]]
    assert len(promise) == 1 and list(promise[0].get_xdata()) == [72.0, 72.0]
    assert promise[0].get_linestyle() == "--"
    assert cdf.get_legend().get_texts()[0].get_text() == data.labels["promise"]

    queue = backlog(data)
    np.testing.assert_array_equal(queue.lines[0].get_ydata(), data.backlog)
    assert queue.get_ylim()[0] == 0.0 and len(queue.collections) == 1  # filled down to zero

    by_day = share_by_day(data)
    np.testing.assert_array_equal(by_day.lines[0].get_ydata(), data.share_by_day)
    assert by_day.lines[0].get_marker() == "o"

    paths = draw(data, tmp_path)
    wanted = {
        "activation_cdf": [CDF_COLOUR, PROMISE_COLOUR],
        "backlog": [BACKLOG_COLOUR],
        "share_by_day": [BY_DAY_COLOUR],
    }
    for key, colours in wanted.items():
        for colour in colours:
            assert colour_share(paths[key], colour) > 0.002, (key, colour)
    # The colours are each plot's own: none of the others' series is drawn there.
    assert colour_share(paths["backlog"], CDF_COLOUR) == 0.0
    assert colour_share(paths["share_by_day"], BACKLOG_COLOUR) == 0.0


def test_the_cdf_curve_is_drawn_where_its_axes_put_it(run, tmp_path):
    data = run_plot_data(run)
    axes = activation_cdf(data)
    path = save_png(axes, tmp_path / "cdf.png")
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    height = pixels.shape[0]
    target = np.array([round(255 * c) for c in to_rgb(CDF_COLOUR)])
    # The point where half the codes are active, mapped to the image's pixels.
    middle = int(np.searchsorted(data.cdf_share, 0.5))
    x, y = axes.transData.transform((data.cdf_hours[middle], data.cdf_share[middle]))
    around = pixels[round(height - y) - 2 : round(height - y) + 3, round(x) - 2 : round(x) + 3]
    assert (np.abs(around - target).sum(axis=2) < 40).any()


def test_the_three_plots_are_drawn_on_a_thread(run, tmp_path):
    future = draw_on_thread(tmp_path / "out", lambda: run_plot_data(run))
    paths = future.result(timeout=60)
    assert set(paths) == set(PLOTS)
    for key, path in paths.items():
        assert path == tmp_path / "out" / PLOTS[key]
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (880, 495)
    # Drawn here or on the thread: the same pixels.
    here = draw(run_plot_data(run), tmp_path / "here")
    for key in PLOTS:
        assert here[key].read_bytes() == paths[key].read_bytes()


def test_a_failure_while_drawing_is_the_futures_error(run, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    future = draw_on_thread(blocked / "out", lambda: run_plot_data(run))
    with pytest.raises(OSError):
        future.result(timeout=60)

    def broken():
        raise ValueError("no values")

    with pytest.raises(ValueError, match="no values"):
        draw_on_thread(tmp_path / "out", broken).result(timeout=60)


def test_the_plots_speak_the_reports_language(run):
    french = run_plot_data(run)
    english = run_plot_data(run, "en")
    assert french.lang == "fr" and french.labels["cdf_title"] == "Délai d'activation (cumulé)"
    assert english.lang == "en" and english.labels["cdf_title"] == "Activation delay (cumulative)"
    assert set(french.labels) == set(english.labels)
    assert activation_cdf(english).get_title() == "Activation delay (cumulative)"
    assert backlog(french).get_xlabel() == "jours depuis le 01/09/2026"
    assert backlog(english).get_xlabel() == "days since 2026-09-01"
    share = format_number(100 * french.share_within, 1, "fr")
    assert "," in share
    assert [t.get_text() for t in activation_cdf(french).texts] == [
        f"{share}\u00a0% actifs sous 72 h"
    ]


def test_plot_values_per_day_are_the_same_in_order_or_not(run):
    data = run_plot_data(run)
    order = np.random.default_rng(0).permutation(run.day.size)
    from simulation.plots import plot_data

    shuffled = plot_data(
        run.scenario.run.start,
        run.scenario.run.days,
        run.activation_hours[order],
        run.day[order],
        run.backlog_times,
        run.backlog,
        run.backlog_max,
    )
    np.testing.assert_array_equal(shuffled.share_by_day, data.share_by_day)
    np.testing.assert_array_equal(shuffled.cdf_share, data.cdf_share)


def test_a_sweep_plot_draws_a_line_and_band_per_group_in_its_colour(tmp_path):
    from simulation.sweep import FIGURES, parse_sweep
    from simulation.sweep_report import COLOURS, write_sweep_report

    sweep = parse_sweep(
        {
            "scenario": "off-season",
            "seeds": 2,
            "vary": {"registry.capacity_per_hour": [100.0, 250.0], "fleet.booths": [10, 20]},
        },
        "sweep.toml",
        tmp_path,
    )
    rows = [
        {**run.params, "seed": run.seed, **{f: float(i % 3 + 1) for f in FIGURES}}
        for i, run in enumerate(sweep.runs)
    ]
    report = write_sweep_report(sweep, rows, tmp_path / "out", lang="en")
    assert len(report.plots) == len(FIGURES) * 2
    for path in report.plots:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (700, 400)
        # Two groups (one per number of booths) against each parameter: two colours.
        assert colour_share(path, COLOURS[0], 20) > 0.001, path.name
        assert colour_share(path, COLOURS[1], 20) > 0.001, path.name
        assert colour_share(path, COLOURS[2], 20) == 0.0, path.name
