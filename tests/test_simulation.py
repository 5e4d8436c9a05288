"""The fleet simulator: reproducible for a seed, built on the live system's models, and the
figures, plots and report QA reads."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cabine.cli import app
from ephoto.clock import PARIS
from simulation.booths import departure_hours, merge_outages
from simulation.claims import ReportBatch, decide_each_report, decide_reports
from simulation.fleet import OUTCOMES, simulate
from simulation.report import metrics
from simulation.scenario import load_scenario, parse_scenario

SMALL = {
    "run": {"seed": 3, "start": "2026-09-01", "days": 10},
    "fleet": {"booths": 30},
    "registry": {"capacity_per_hour": 25.0},
}
ISSUE_KEYS = {
    "codes_issued",
    "activation_hours",
    "share_active_within_72h",
    "registry_wait_hours_mean",
    "backlog_max",
    "by_month",
    "citizen_attempts",
    "claims",
    "wall_seconds",
}


def without_wall_time(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "wall_seconds"}


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    scenario = parse_scenario(SMALL)
    first, second = simulate(scenario), simulate(scenario)
    assert without_wall_time(metrics(first)) == without_wall_time(metrics(second))
    np.testing.assert_array_equal(first.active_hours, second.active_hours)
    other = simulate(scenario.with_seed(4))
    assert metrics(other)["codes_issued"] != metrics(first)["codes_issued"]


def test_metrics_hold_every_key_of_the_issue_and_add_up():
    run = simulate(parse_scenario(SMALL))
    figures = metrics(run)
    assert ISSUE_KEYS <= set(figures)
    assert set(figures["activation_hours"]) == {"mean", "p50", "p95", "p99", "max"}
    assert set(figures["citizen_attempts"]) == set(OUTCOMES)
    assert sum(row["codes"] for row in figures["by_month"]) == figures["codes_issued"]
    # Each buyer's first attempt is counted once; retries and second uses add to it.
    assert sum(figures["citizen_attempts"].values()) >= figures["codes_issued"]
    assert sum(figures["claims"].values()) == figures["reports"]
    # Nobody's number is active before the booth's batch window has passed.
    assert run.activation_hours.min() >= 15 / 60
    # Sales happen in opening hours, Paris time (09:00-20:00 by default).
    local = [
        (run.scenario.origin + timedelta(hours=float(h))).astimezone(PARIS)
        for h in run.issued_hours[:: max(1, run.issued_hours.size // 500)]
    ]
    assert all(9 <= t.hour < 20 for t in local)


def test_busy_season_breaks_the_72_hour_promise_and_off_season_keeps_it():
    peak = metrics(simulate(load_scenario("summer-peak")))
    off = metrics(simulate(load_scenario("off-season")))
    assert peak["activation_hours"]["p95"] > 72
    assert off["activation_hours"]["p95"] < 48
    assert off["share_active_within_72h"] > 0.98 > peak["share_active_within_72h"]
    # September, the operator's peak month, is the worst month of the peak scenario.
    worst = max(peak["by_month"], key=lambda row: row["p95_activation_hours"])
    assert worst["month"] == "09"
    # Late numbers become refund claims the desk confirms; off season, far fewer per code.
    assert peak["claims"]["refund"] / peak["codes_issued"] > 10 * (
        off["claims"].get("refund", 0) / off["codes_issued"]
    )


def test_more_capacity_means_shorter_waits():
    slow = metrics(simulate(parse_scenario({**SMALL, "registry": {"capacity_per_hour": 20.0}})))
    fast = metrics(simulate(parse_scenario({**SMALL, "registry": {"capacity_per_hour": 60.0}})))
    assert slow["registry_wait_hours_mean"] > 3 * fast["registry_wait_hours_mean"]
    assert slow["backlog_max"] > fast["backlog_max"]


def test_lowercase_and_confusable_typing_is_refused_by_the_registrys_check():
    careful = {**SMALL, "citizens": {"lowercase_share": 0.0, "confusable_share": 0.0}}
    sloppy = {**SMALL, "citizens": {"lowercase_share": 0.5, "confusable_share": 0.0}}
    swapped = {**SMALL, "citizens": {"lowercase_share": 0.0, "confusable_share": 0.5}}
    careful_run = metrics(simulate(parse_scenario(careful)))
    assert careful_run["citizen_attempts"]["malformed"] == 0
    sloppy_run = metrics(simulate(parse_scenario(sloppy)))
    # Half of the buyers are refused as malformed once, then fix the case as they are told.
    share = sloppy_run["citizen_attempts"]["malformed"] / sloppy_run["codes_issued"]
    assert 0.45 < share < 0.55
    swapped_run = metrics(simulate(parse_scenario(swapped)))
    # The check character catches every swap: refused each time, never active.
    answers = swapped_run["citizen_attempts"]
    assert answers["malformed"] > 0.45 * swapped_run["codes_issued"]
    assert answers["active"] < 0.55 * swapped_run["codes_issued"]
    # Support finds the right number for those who report a swapped character.
    ephoto_reports = swapped_run["reports"] - swapped_run["claims"].get("not_ephoto_product", 0)
    assert swapped_run["claims"]["typo"] > 0.8 * ephoto_reports


def test_outages_hold_codes_until_the_booth_is_back_online():
    booth = np.array([0, 0, 1, 1, 2])
    outages = merge_outages(
        np.array([0, 0, 0, 1]),
        np.array([1.0, 1.5, 10.0, 4.0]),
        np.array([2.0, 3.0, 11.0, 5.0]),
    )
    # Booth 0's first two outages overlap: one outage from 1 h to 3 h.
    assert outages.start.tolist() == [1.0, 10.0, 4.0]
    assert outages.end.tolist() == [3.0, 11.0, 5.0]
    ready = np.array([2.5, 3.0, 4.5, 6.0, 4.5])
    assert departure_hours(ready, booth, outages).tolist() == [3.0, 3.0, 5.0, 6.0, 4.5]
    calm = simulate(parse_scenario(SMALL))
    stormy = simulate(
        parse_scenario({**SMALL, "booth": {"outage_rate_per_day": 0.5, "outage_mean_hours": 6}})
    )
    # When codes leave the booth (they reach the registry after the collector's hop).
    assert (stormy.departed_hours - stormy.issued_hours).max() > 1.0
    assert np.isclose((calm.departed_hours - calm.issued_hours).max(), 0.25)


def test_grouped_support_decisions_equal_the_rules_run_on_every_report():
    scenario = parse_scenario(
        {**SMALL, "citizens": {"lowercase_share": 0.3, "confusable_share": 0.3}}
    )
    from simulation.fleet import typed_forms

    forms = typed_forms(3, 50)
    rng = np.random.default_rng(0)
    n = 400
    issued = rng.uniform(0, 200, n)
    pool = rng.integers(0, 50, n)
    form = rng.integers(0, 4, n)
    batch = ReportBatch(
        issued=issued,
        report_at=issued + rng.uniform(72, 300, n),
        active=issued + rng.uniform(1, 400, n),
        expires=issued + np.where(rng.random(n) < 0.1, 100, 5000),
        code=[forms.codes[p] for p in pool],
        typed=[forms.texts[p][f] for p, f in zip(pool, form, strict=True)],
        form=form,
    )
    _, grouped = decide_reports(scenario, batch, 0)
    assert grouped == decide_each_report(scenario, batch)
    assert {"typo", "works", "refund_not_activated", "expired"} <= set(grouped)


def test_simulate_command_writes_metrics_plots_and_report(tmp_path):
    scenario = tmp_path / "small.toml"
    scenario.write_text(
        "[run]\nseed = 3\nstart = 2026-09-01\ndays = 10\n[fleet]\nbooths = 30\n"
        "[registry]\ncapacity_per_hour = 25.0\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(out), "--seed", "9"])
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "metrics.json").read_text())
    assert ISSUE_KEYS <= set(figures) and figures["seed"] == 9
    for name in ("activation-cdf.png", "backlog.png", "share-within-72h-by-day.png"):
        with Image.open(out / name) as image:
            assert image.size[0] >= 600
    html = (out / "report.html").read_text()
    for name in ("activation-cdf.png", "backlog.png", "share-within-72h-by-day.png"):
        assert f'src="{name}"' in html
    assert f"{figures['codes_issued']:,}".replace(",", "\u202f") in html
    assert '<html lang="fr">' in html and "actifs sous 72 h" in html and "small" in html
    assert "codes émis" in result.output and "rapport :" in result.output


def test_simulate_command_speaks_english_when_asked(tmp_path):
    scenario = tmp_path / "small.toml"
    scenario.write_text("[run]\nseed = 3\nstart = 2026-09-01\ndays = 5\n[fleet]\nbooths = 20\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["simulate", str(scenario), "--out", str(out), "--no-plots", "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "metrics.json").read_text())
    html = (out / "report.html").read_text()
    assert '<html lang="en">' in html and "active within 72 h of purchase" in html
    assert f"{figures['codes_issued']:,}" in html
    assert "codes issued" in result.output and "report:" in result.output
    assert not list(out.glob("*.png"))
    refused = CliRunner().invoke(app, ["simulate", str(scenario), "--lang", "de"])
    assert refused.exit_code == 2 and "--lang de" in refused.output


@pytest.mark.parametrize(("days", "expired"), [(178, False), (182, True)])
def test_numbers_tried_six_calendar_months_after_issue_are_expired(days, expired):
    # Sales from 1 to 10 September; 6 calendar months later is 1 to 10 March.
    late = {
        **SMALL,
        "citizens": {
            "lowercase_share": 0.0,
            "confusable_share": 0.0,
            "first_attempt": {"kind": "fixed", "median_hours": 24 * days},
        },
    }
    figures = metrics(simulate(parse_scenario(late)))
    answers = figures["citizen_attempts"]
    if expired:
        assert answers["expired"] == figures["codes_issued"] and answers["active"] == 0
        assert figures["claims"]["expired"] > 0
    else:
        assert answers["expired"] == 0 and answers["active"] == figures["codes_issued"]


@pytest.mark.parametrize("name", ["off-season", "summer-peak", "national-summer"])
def test_bundled_scenarios_describe_themselves(name):
    assert load_scenario(name).description


def test_vectorised_departures_equal_the_transmitters_booth_stage():
    # The fleet's outages, applied over arrays, give what BoothStage.departure_at gives per code.
    from datetime import UTC, datetime

    from simulation.booths import sample_outages
    from transmitter.latency import BoothStage, Outage

    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    rng = np.random.default_rng(12)
    outages = sample_outages(rng, booths=6, horizon_hours=240, rate_per_day=0.8, mean_hours=9)
    issued = rng.uniform(0, 260, 3000)
    booth = rng.integers(0, 6, 3000)
    window = timedelta(minutes=15)
    departures = departure_hours(issued + 0.25, booth, outages)

    def at(hours):
        return t0 + timedelta(hours=float(hours))

    stages = {
        b: BoothStage(
            batch_window=window,
            outages=tuple(
                Outage(at(s), at(e))
                for ob, s, e in zip(outages.booth, outages.start, outages.end, strict=True)
                if ob == b
            ),
        )
        for b in range(6)
    }
    expected = [
        (stages[b].departure_at(at(h)) - t0).total_seconds() / 3600
        for h, b in zip(issued, booth, strict=True)
    ]
    np.testing.assert_allclose(departures, expected, atol=1e-5)
    assert (departures > issued + 0.25 + 1e-6).sum() > 100  # outages really held codes back


@pytest.mark.browser
def test_report_shows_its_plots_and_key_figures_in_chromium(tmp_path, browser):
    from simulation.report import write_report

    run = simulate(parse_scenario(SMALL))
    files = write_report(run, tmp_path / "out")
    figures = metrics(run)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(files.html.as_uri())
    widths = page.eval_on_selector_all(
        "figure img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
    )
    cards = page.inner_text("#key-figures")
    months = page.locator("#by-month tr").count()
    page.close()
    assert len(widths) == 3 and all(w >= 600 for w in widths)
    # French by default: thousands split by a narrow no-break space.
    codes = f"{figures['codes_issued']:,}".replace(",", "\u202f")
    assert codes in cards and "actifs sous 72 h" in cards
    assert months == 1 + len(figures["by_month"])


def test_a_simulation_does_not_load_what_it_does_not_use():
    # What `cabine simulate` imports is most of its start-up time: no database layer, no
    # service settings models, no plotting library (matplotlib comes on a thread, to plot).
    code = (
        "import sys, cabine.cli, simulation.fleet, simulation.report, simulation.scenario;"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    unwanted = {"sqlalchemy", "collector.settings", "ephoto.settings", "matplotlib", "fastapi"}
    assert not unwanted & loaded
