"""The activation delay by stage: booth (batch window, outages, the file over the uplink),
collector (registration window), the state's queue and its base delay, adding up code by code,
each following the live system's rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cabine.cli import app
from collector.settings import CollectorSettings
from ephoto.epfile import PHOTO_MAX_BYTES, SIGNATURE_MAX_BYTES
from simulation.booths import sample_outages
from simulation.fleet import file_wire_bytes, simulate, uploaded_hours
from simulation.report import metrics
from simulation.scenario import DEFAULT_FILE_BYTES, ScenarioError, parse_scenario
from transmitter.latency import upload_seconds

SMALL = {
    "run": {"seed": 3, "start": "2026-09-01", "days": 10},
    "fleet": {"booths": 30},
    "registry": {"capacity_per_hour": 25.0},
}


def with_booth(**booth) -> dict:
    return {**SMALL, "booth": booth}


def test_the_stages_add_up_to_the_activation_delay_code_by_code():
    run = simulate(
        parse_scenario(with_booth(outage_rate_per_day=0.5, outage_mean_hours=4, uplink_kbps=500))
    )
    stages = run.stage_hours()
    assert list(stages) == ["booth", "collector", "state_queue", "base_delay"]
    total = sum(stages.values())
    np.testing.assert_allclose(total, run.activation_hours, atol=1e-9)
    for name, hours in stages.items():
        assert (hours >= -1e-9).all(), name
    window = CollectorSettings.model_fields["registration_window_minutes"].default / 60
    np.testing.assert_allclose(stages["collector"], window)
    # The registry's queue is the one recorded as its wait plus one service time.
    np.testing.assert_allclose(stages["state_queue"], run.registry_wait_hours + 1 / 25.0, atol=1e-9)
    figures = metrics(run)["activation_by_stage"]
    assert sum(figures[s]["mean"] for s in stages) == pytest.approx(
        metrics(run)["activation_hours"]["mean"], abs=0.005
    )
    assert sum(figures[s]["share_of_mean"] for s in stages) == pytest.approx(1.0, abs=1e-3)


def test_the_booths_uplink_sends_one_file_after_another_as_the_transmitter_times_it():
    rng = np.random.default_rng(4)
    outages = sample_outages(rng, booths=5, horizon_hours=48, rate_per_day=2, mean_hours=3)
    departed = np.sort(rng.uniform(0, 48, 600))
    booth = rng.integers(0, 5, 600)
    # Codes held by an outage leave together when it ends: a burst on the uplink.
    from simulation.booths import departure_hours

    departed = departure_hours(departed, booth, outages)
    kbps, file_bytes = 16.0, 60_000
    got = uploaded_hours(departed, booth, kbps, file_bytes)
    each = upload_seconds(file_wire_bytes(file_bytes), kbps) / 3600
    expected = np.empty_like(departed)
    for b in range(5):
        free = -np.inf
        for i in sorted(np.flatnonzero(booth == b), key=lambda i: (departed[i], i)):
            free = max(free, departed[i]) + each
            expected[i] = free
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert (got - departed > 1.5 * each).sum() > 10  # files really queued behind others
    # An unlimited uplink (the transmitter's 0) adds nothing.
    np.testing.assert_array_equal(uploaded_hours(departed, booth, 0.0, file_bytes), departed)


def test_a_slow_uplink_lengthens_the_booth_stage_by_the_files_upload_time():
    fast = simulate(parse_scenario(with_booth(uplink_kbps=0)))
    slow = simulate(parse_scenario(with_booth(uplink_kbps=8, file_bytes=90_000)))
    each = upload_seconds(file_wire_bytes(90_000), 8) / 3600  # 120,400 bytes: about 2 minutes
    assert each == pytest.approx(120_400 * 8 / 8 / 1000 / 3600)
    assert slow.stage_hours()["booth"].min() >= 0.25 + each - 1e-9
    assert fast.stage_hours()["booth"].max() == pytest.approx(0.25)


def test_file_sizes_follow_the_ephoto_files_byte_budget():
    assert DEFAULT_FILE_BYTES <= PHOTO_MAX_BYTES + SIGNATURE_MAX_BYTES
    parse_scenario(with_booth(file_bytes=PHOTO_MAX_BYTES + SIGNATURE_MAX_BYTES))
    with pytest.raises(ScenarioError, match="booth.file_bytes: a file holds at most 132000"):
        parse_scenario(with_booth(file_bytes=PHOTO_MAX_BYTES + SIGNATURE_MAX_BYTES + 1))
    with pytest.raises(ScenarioError, match="booth.uplink_kbps"):
        parse_scenario(with_booth(uplink_kbps=-1))


def test_metrics_json_and_the_report_split_the_activation_delay_by_stage(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "[run]\nseed = 3\nstart = 2026-09-01\ndays = 5\n[fleet]\nbooths = 20\n"
        "[booth]\nuplink_kbps = 2000\n[registry]\ncapacity_per_hour = 20.0\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(out), "--no-plots"])
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "metrics.json").read_text())
    stages = figures["activation_by_stage"]
    assert set(stages) == {"booth", "collector", "state_queue", "base_delay"}
    assert set(stages["booth"]) == {"mean", "p50", "p95", "p99", "max", "share_of_mean"}
    html = (out / "report.html").read_text()
    assert 'id="stages"' in html and "serveur du photographe" in html  # French by default
    assert not list(out.glob("*.png"))  # --no-plots
