"""The report's plots drawn by their own process (``simulation.plots.PlotProcess``): the same
images as drawn in-process, a clear error when the process fails, nothing left running."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from simulation.fleet import simulate
from simulation.plots import PLOTS, PlotError, PlotProcess, draw, import_pyplot
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


def pixels(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_the_plot_process_draws_what_drawing_here_draws(run, tmp_path):
    (tmp_path / "here").mkdir()
    here = draw(import_pyplot(), run_plot_data(run), tmp_path / "here")
    with PlotProcess() as plotter:
        plotter.send(tmp_path / "process", lambda: run_plot_data(run))
        there = plotter.finish()
    assert set(there) == set(PLOTS) == set(here)
    for key in PLOTS:
        assert there[key] == tmp_path / "process" / PLOTS[key]
        np.testing.assert_array_equal(pixels(there[key]), pixels(here[key]))


def test_a_failing_plot_process_is_a_clear_error(run, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with PlotProcess() as plotter:
        plotter.send(blocked / "out", lambda: run_plot_data(run))
        with pytest.raises(PlotError, match="plotting process failed.*(exit 1)"):
            plotter.finish()


def test_values_that_cannot_be_worked_out_stop_the_process(tmp_path):
    def broken():
        raise ValueError("no values")

    with PlotProcess() as plotter:
        plotter.send(tmp_path / "out", broken)
        with pytest.raises(ValueError, match="no values"):
            plotter.finish()
        assert plotter._process.poll() is not None


def test_leaving_without_finishing_stops_the_process(tmp_path):
    with PlotProcess() as plotter:
        process = plotter._process
    assert process.poll() is not None
    with pytest.raises(PlotError, match="never sent"):
        plotter.finish()


def test_the_plots_speak_the_reports_language(run):
    french = run_plot_data(run)
    english = run_plot_data(run, "en")
    assert french.lang == "fr" and french.labels["cdf_title"] == "Délai d'activation (cumulé)"
    assert english.lang == "en" and english.labels["cdf_title"] == "Activation delay (cumulative)"
    assert set(french.labels) == set(english.labels)
