"""The FAQ scenario library: each case of the operator's FAQ replayed with the real kiosk,
transmitter, registry (on loopback) and support desk, with its expected outcome checked."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from simulation import faq

runner = CliRunner()


def test_the_library_covers_every_case_of_the_faq():
    expected = {
        "wrong-product",
        "too-early",
        "after-activation",
        "second-use",
        "expired",
        "lowercase",
        "transmission-lost",
        "busy-season",
        "collector-down-at-use",
        "file-corrupted-at-collector",
    } | {f"typo-{a}-{b}" for a, b in (("0", "O"), ("1", "I"), ("5", "S"))}
    assert expected <= set(faq.SCENARIOS)
    listed = json.loads(runner.invoke(app, ["scenarios", "list", "--json"]).output)
    assert [row["name"] for row in listed] == list(faq.SCENARIOS)


@pytest.mark.parametrize("name", [n for n in faq.SCENARIOS if n != "busy-season"])
def test_each_faq_case_happens_as_the_faq_says(name):
    outcome = faq.run_scenario(name)
    assert outcome.status == faq.PASSED, outcome.detail
    assert outcome.checks and all(check.ok for check in outcome.checks)


def test_a_scenario_whose_outcome_differs_fails_the_run(monkeypatch):
    def wrong_expectation(world):
        sold = world.sell("ephoto-permis")
        return "expects a number to work at once", [
            faq.Check("registry answer right after the sale", world.check(sold.code), "active")
        ]

    monkeypatch.setitem(
        faq.SCENARIOS, "instant-activation", ("Why not at once?", wrong_expectation)
    )
    result = runner.invoke(app, ["scenarios", "run", "instant-activation"])
    assert result.exit_code == 1
    assert result.output.startswith("FAIL")
    assert "expected 'active', got 'not_found'" in result.output
    result = runner.invoke(app, ["scenarios", "run", "instant-activation", "--json"])
    (row,) = json.loads(result.output)
    assert result.exit_code == 1 and row["status"] == "failed"
    assert row["checks"][0] == {
        "what": "registry answer right after the sale",
        "expected": "active",
        "actual": "not_found",
        "ok": False,
    }


def test_run_one_scenario_from_the_command_line():
    result = runner.invoke(app, ["scenarios", "run", "after-activation"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("PASS") and "after-activation" in result.output
    assert runner.invoke(app, ["scenarios", "run", "nope"]).exit_code == 2
    assert runner.invoke(app, ["scenarios", "run"]).exit_code == 2


def test_busy_season_replays_the_default_peak_and_off_season_scenarios():
    result = runner.invoke(app, ["scenarios", "run", "busy-season", "--json"])
    (row,) = json.loads(result.output)
    assert result.exit_code == 0 and row["status"] == "passed", row
