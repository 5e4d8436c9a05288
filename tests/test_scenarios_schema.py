"""Scenario files: the bundled examples load, and every mistake is reported with its key."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from simulation.scenario import ScenarioError, bundled_scenarios, load_scenario, parse_scenario


def test_the_bundled_scenarios_load_with_the_sections_of_the_issue():
    names = {path.stem for path in bundled_scenarios()}
    assert {"off-season", "summer-peak", "national-summer"} <= names
    national = load_scenario("national-summer")
    assert national.fleet.booths == 2000 and national.run.days == 92
    assert national.run.start.isoformat() == "2026-06-01"
    assert national.demand.ephoto_per_booth_day == 15
    # The seasonal multipliers average about 1: about 2.8 million numbers over the summer.
    mean_season = sum(national.demand.season_factor(m) for m in (6, 7, 8)) / 3
    expected_codes = 2000 * 92 * 15 * mean_season
    assert 2.6e6 < expected_codes < 3.0e6


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"demand": {"season": {"13": 1.2}}}, "demand.season", "01 to 12"),
        ({"demand": {"season": {"09": 0}}}, "demand.season", "positive"),
        ({"demand": {"hourly_profile": {"24": 1}}}, "demand.hourly_profile", "00 to 23"),
        ({"fleet": {"booths": 0}}, "fleet.booths", "greater than or equal to 1"),
        ({"fleet": {"boths": 3}}, "fleet.boths", "unknown key"),
        ({"registry": {"capacity_per_hour": -5}}, "registry.capacity_per_hour", "greater than 0"),
        (
            {"registry": {"base_delay": {"median_hours": 10, "p95_hours": 2}}},
            "registry.base_delay",
            "p95_hours (2.0) must be >= median_hours (10.0)",
        ),
        ({"citizens": {"lowercase_share": 1.5}}, "citizens.lowercase_share", "less than or equal"),
        (
            {"citizens": {"first_attempt": {"kind": "gamma"}}},
            "citizens.first_attempt.kind",
            "'lognormal', 'exponential' or 'fixed'",
        ),
        (
            {"booth": {"outage_rate_per_day": 0.1}},
            "booth",
            "outage_mean_hours must be > 0",
        ),
        ({"run": {"start": "1st of June"}}, "run.start", "date"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(data, key, words):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, "test.toml")
    message = str(caught.value)
    assert f"\n{key}: " in message, message
    assert words in message


def test_a_missing_or_broken_file_is_a_clear_cli_error(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", str(tmp_path / "nope.toml"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "nope.toml n'existe pas" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[fleet]\nbooths = 'many'\n")
    result = runner.invoke(app, ["simulate", str(broken), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "fleet.booths" in result.output
