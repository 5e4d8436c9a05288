"""The report's plots (``simulation.plots``) and the line charts they are drawn with
(``simulation.chart``): round ticks written as the report's language writes numbers, data put
where the axes say, lines broken at missing values, and the three PNGs drawn on a thread."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageColor

from ephoto.texts import format_number
from simulation.chart import INK, Chart, nice_ticks, tick_decimals
from simulation.fleet import simulate
from simulation.plots import PLOTS, draw, draw_on_thread
from simulation.report import run_plot_data
from simulation.scenario import parse_scenario

RED = "#ff0000"


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


@settings(max_examples=300, deadline=None)
@given(
    low=st.floats(-1e6, 1e6),
    # An axis spans at least a thousandth of its values' size (no offset notation here).
    relative=st.floats(1e-3, 1e4),
    most=st.integers(4, 10),
)
def test_ticks_are_round_evenly_spaced_and_inside_the_range(low, relative, most):
    high = low + relative * max(1.0, abs(low))
    ticks = nice_ticks(low, high, most)
    assert 2 <= ticks.size <= most + 1
    tolerance = 1e-9 * max(abs(low), abs(high))
    assert ticks[0] >= low - tolerance and ticks[-1] <= high + tolerance
    steps = np.diff(ticks)
    step = float(steps[0])
    np.testing.assert_allclose(steps, step, rtol=1e-6)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-6
    # Every tick is a whole number of steps, and its label tells it from its neighbours.
    np.testing.assert_allclose(ticks / step, np.round(ticks / step), atol=1e-6)
    labels = [format_number(float(t), tick_decimals(ticks), "en") for t in ticks]
    assert len(set(labels)) == len(labels)


def test_ticks_of_a_single_value_and_refused_ranges():
    assert nice_ticks(3.0, 3.0).size >= 1
    with pytest.raises(ValueError, match="no ticks"):
        nice_ticks(2.0, 1.0)
    with pytest.raises(ValueError, match="no ticks"):
        nice_ticks(0.0, math.inf)


@pytest.mark.parametrize(
    "values, digits",
    [([0.0, 0.25, 0.5], 2), ([0.0, 0.2, 0.4], 1), ([0.0, 2500.0, 5000.0], 0), ([1.0], 0)],
)
def test_tick_labels_have_the_fewest_decimals_that_write_them(values, digits):
    assert tick_decimals(np.array(values)) == digits


def plot_frame(image: Image.Image) -> tuple[int, int, int, int]:
    """The plot area's frame (left, top, right, bottom) found from the pixels: the longest
    rows and columns of the frame's colour."""
    ink = np.array(ImageColor.getrgb(INK))
    pixels = np.asarray(image.convert("RGB")).astype(int)
    dark = np.abs(pixels - ink).sum(axis=2) < 60
    rows, columns = dark.sum(axis=1), dark.sum(axis=0)
    top, bottom = np.flatnonzero(rows > 0.8 * rows.max())[[0, -1]]
    left, right = np.flatnonzero(columns > 0.8 * columns.max())[[0, -1]]
    return int(left), int(top), int(right), int(bottom)


def red_pixels(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB")).astype(int)
    return (pixels[:, :, 0] > 180) & (pixels[:, :, 1] < 120) & (pixels[:, :, 2] < 120)


def test_data_lands_where_the_axes_say():
    chart = Chart("t", "x", "y", xlim=(0.0, 10.0), ylim=(0.0, 1.0))
    chart.line(np.array([0.0, 10.0]), np.array([0.25, 0.25]), color=RED, width=2)
    chart.rule(x=2.5, color=RED, width=2)
    image = chart.render()
    assert image.size == (880, 495)
    left, top, right, bottom = plot_frame(image)
    red = red_pixels(image)
    quarter_row = round(top + (bottom - top) * 0.75)
    quarter_column = round(left + (right - left) / 4)
    line_rows = np.flatnonzero(red[:, round((left + right) * 0.6)])
    rule_columns = np.flatnonzero(red[round(top + (bottom - top) * 0.4), :])
    assert abs(line_rows.mean() - quarter_row) <= 1.5
    assert abs(rule_columns.mean() - quarter_column) <= 1.5
    # Nothing red outside the plot area.
    assert not red[: top - 1].any() and not red[bottom + 2 :].any()
    assert not red[:, : left - 1].any() and not red[:, right + 2 :].any()


def test_a_line_is_broken_where_a_value_is_missing():
    chart = Chart("t", "x", "y", xlim=(0.0, 4.0), ylim=(0.0, 1.0))
    chart.line(np.arange(5.0), np.array([0.5, 0.5, np.nan, 0.5, 0.5]), color=RED, width=2)
    image = chart.render()
    left, _, right, _ = plot_frame(image)
    red = red_pixels(image).any(axis=0)

    def column(x: float) -> int:
        return round(left + (right - left) * x / 4)

    assert red[column(0.5)] and red[column(3.5)]
    assert not red[column(1.3) : column(2.7)].any()


def test_a_filled_line_tints_down_to_zero_only():
    chart = Chart("t", "x", "y", xlim=(0.0, 1.0), ylim=(0.0, 2.0))
    chart.line(np.array([0.0, 1.0]), np.array([1.0, 1.0]), color="#0000ff", width=1, fill=0.5)
    image = chart.render()
    left, top, right, bottom = plot_frame(image)
    pixels = np.asarray(image.convert("RGB")).astype(int)
    x = round(left + (right - left) * 0.55)  # between grid lines
    below = pixels[round(top + (bottom - top) * 0.8), x]
    above = pixels[round(top + (bottom - top) * 0.2), x]
    assert tuple(above) == (255, 255, 255)
    assert below[2] == 255 and 100 < below[0] < 160  # half-way between white and blue


def test_the_same_chart_is_the_same_image(tmp_path):
    def make(path):
        chart = Chart("titre", "heures", "part", "fr")
        chart.line(np.linspace(0, 100, 400), np.linspace(0, 1, 400), color="#1f5fa8", width=3)
        chart.rule(x=72.0, color="#c0392b", dashed=True, label="promesse")
        chart.note("99,3 %", 72.0, 0.9, "#c0392b")
        return chart.save(path).read_bytes()

    assert make(tmp_path / "a.png") == make(tmp_path / "b.png")


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


def test_the_legend_goes_where_it_hides_no_line():
    # Lines along the top and the bottom: every corner would hide one.
    chart = Chart("t", "x", "y", xlim=(0.0, 1.0), ylim=(0.0, 1.0))
    chart.line(np.array([0.0, 1.0]), np.array([0.97, 0.97]), color=RED, width=2, label="top")
    chart.line(np.array([0.0, 1.0]), np.array([0.03, 0.03]), color=RED, width=2, label="bottom")
    image = chart.render()
    left, top, right, bottom = plot_frame(image)
    red = red_pixels(image)
    for fraction in (0.97, 0.03):
        row = round(top + (bottom - top) * (1 - fraction))
        line = red[row - 2 : row + 3, left + 2 : right - 2].any(axis=0)
        assert line.all(), f"the line at {fraction} is hidden over {np.count_nonzero(~line)} px"


def test_a_band_tints_between_its_bounds_and_categories_label_the_axis():
    chart = Chart("t", "x", "y", ylim=(0.0, 1.0), xticks=[(0.0, "mardi"), (1.0, "mercredi")])
    chart.band(np.array([0.0, 1.0]), np.array([0.2, 0.2]), np.array([0.4, 0.4]), "#0000ff", 0.5)
    image = chart.render()
    left, top, right, bottom = plot_frame(image)
    pixels = np.asarray(image.convert("RGB")).astype(int)
    x = round(left + (right - left) * 0.55)
    inside = pixels[round(top + (bottom - top) * 0.7), x]
    outside = pixels[round(top + (bottom - top) * 0.3), x]
    assert inside[2] == 255 and inside[0] < 160 and tuple(outside) == (255, 255, 255)
    with pytest.raises(ValueError, match="three arrays"):
        chart.band(np.arange(3.0), np.zeros(2), np.ones(3), "#0000ff")
