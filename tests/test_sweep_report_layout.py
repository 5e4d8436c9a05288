"""The sweep report read at 1280 px (issue 26 section 6): its table fits the window, the
parameters are named in the report's language (their keys beside), and two series that
coincide are both visible on the charts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from PIL import Image

from ephoto.texts import LANGUAGES, texts
from simulation.scenario import Scenario
from simulation.sweep import FIGURES, Sweep, parse_sweep
from simulation.sweep_report import COLOURS, _plot, parameter_label, write_sweep_report

VARY = {
    "booth.outage_rate_per_day": [0.02, 0.1, 0.3],
    "citizens.double_use_share": [0.0, 0.5],
}
COUNTS = ("codes_issued", "backlog_max", "reports", "refunds")


def grid_sweep(tmp_path: Path) -> Sweep:
    (tmp_path / "base.toml").write_text("[run]\nseed = 1\n[booth]\noutage_mean_hours = 3.0\n")
    return parse_sweep(
        {"scenario": "base.toml", "seeds": [1, 2, 3], "vary": VARY}, "s.toml", tmp_path
    )


def table_rows(sweep: Sweep) -> list[dict]:
    """Rows of a results table with six-digit counts (the widest cells a report shows) where
    the double-use share, as in the simulator, changes no activation figure."""
    rows = []
    for spec in sweep.runs:
        rate = spec.params["booth.outage_rate_per_day"]
        row = {"run": spec.key, **spec.params, "seed": spec.seed, "run_seconds": 0.1}
        for figure in FIGURES:
            base = 146806.0 if figure in COUNTS else 40.0
            spread = (spec.seed - 2) * base * 0.05
            row[figure] = (
                0.9 - rate / 2 if figure.startswith("share") else base * (1 + rate) + spread
            )
        rows.append(row)
    return rows


def scenario_keys(model: type = Scenario, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        inner = field.annotation
        if isinstance(inner, type) and hasattr(inner, "model_fields"):
            keys += scenario_keys(inner, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_scenario_key_has_a_name_in_each_language(lang):
    words = texts("sweep", lang)
    for key in scenario_keys():
        assert parameter_label(key, words) != key, key
    month = parameter_label("demand.season.09", words)
    assert month.endswith(" 09") and month != "demand.season.09"


def colour_pixels(path: Path, colour: str) -> int:
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image - rgb).sum(axis=2) <= 30).sum())


def test_two_series_that_coincide_are_both_visible(tmp_path):
    sweep = grid_sweep(tmp_path)
    path = tmp_path / "p95.png"
    words = texts("sweep", "fr")
    _plot(
        sweep,
        table_rows(sweep),
        "booth.outage_rate_per_day",
        "activation_p95_hours",
        path,
        words,
        "fr",
    )
    # The two lines (double use 0 and 0.5) lie on each other; the one drawn first still shows
    # along the whole chart, not only in the legend's sample (about 150 pixels).
    first, second = colour_pixels(path, COLOURS[0]), colour_pixels(path, COLOURS[1])
    assert first > 600 and second > 600, (first, second)


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sweep_report_fits_1280_pixels_with_parameters_named(tmp_path, browser, lang):
    sweep = grid_sweep(tmp_path)
    report = write_sweep_report(sweep, table_rows(sweep), tmp_path / "out", lang)
    html = report.html.read_text()
    words = texts("sweep", lang)
    for key in VARY:
        assert str(escape(parameter_label(key, words))) in html and f"<code>{key}</code>" in html
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(report.html.as_uri())
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        table = page.locator("#summary")
        box = table.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
        wrap = page.evaluate(
            "(() => { const w = document.querySelector('.table-wrap');"
            " return [w.scrollWidth, w.clientWidth]; })()"
        )
        assert wrap[0] <= wrap[1], wrap  # the table needs no scrolling
        # No value wraps inside its cell ("146 806 ± 10 870" on one line).
        heights = page.evaluate(
            "Array.from(document.querySelectorAll('#summary td'))"
            ".map(td => td.getBoundingClientRect().height)"
        )
        assert max(heights) < 2 * min(heights)
        images = page.evaluate(
            "Array.from(document.images).map(i => i.getBoundingClientRect().right)"
        )
        assert images and max(images) <= 1280
    finally:
        context.close()
