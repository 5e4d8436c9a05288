"""Live and simulated agree: the same sales replayed through the real registry and transmitter
processes on loopback (scaled clock) give activation delays distributed as the simulator's.

The simulator draws the scenario's sales; the test issues exactly those sales, at their domain
times, into a booth outbox; ``cabine transmitter`` uploads them to ``cabine registry``, which
stamps each code's activation with its own ingestion model. Both runs share the seed, the
arrivals and the parameters; their base delays are independent draws of the same distribution.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from scipy.stats import ks_2samp

from ephoto.clock import ScaledClock, parse_utc
from ephoto.code import SeededCodeGeneratorForSimulation
from ephoto.wire import add_booth_key
from simulation.fleet import simulate
from simulation.scenario import parse_scenario
from transmitter.outbox import booth_db_url, create_schema, enqueue, open_outbox_engine

CABINE = str(Path(sys.executable).with_name("cabine"))
BOOTH = "booth-live"
SCALE = 360.0  # one real second is 6 domain minutes
STARTUP_HOURS = 2.5  # 25 real seconds for both processes to start on a busy machine
TOKEN = "live-vs-sim-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scenario():
    # 300 sales in three opening hours into a registry of 90 codes/h: a queue builds, then the
    # base delay (median 1 h, p95 3 h) spreads the activations.
    return parse_scenario(
        {
            "run": {"seed": 77, "start": "2026-03-03", "days": 1},
            "fleet": {"booths": 1},
            "demand": {
                "ephoto_per_booth_day": 300.0,
                "other_per_booth_day": 0.0,
                "hourly_profile": {"09": 1.0, "10": 1.0, "11": 1.0},
            },
            "booth": {"batch_window_minutes": 15.0},
            "registry": {
                "capacity_per_hour": 90.0,
                "base_delay": {"median_hours": 1.0, "p95_hours": 3.0},
            },
            "support": {"report_share": 0.0},
        }
    )


def write_config(path: Path, data: Path, port: int, epoch: datetime, origin: datetime) -> None:
    path.write_text(
        f'data_dir = "{data}"\n'
        "[clock]\n"
        f'epoch = "{epoch.isoformat()}"\n'
        f'origin = "{origin.isoformat()}"\n'
        f"scale = {SCALE}\n"
        "[registry]\n"
        f"port = {port}\n"
        "capacity_per_hour = 90.0\n"
        "capacity_by_month = {}\n"
        "base_delay_median_hours = 1.0\n"
        "base_delay_p95_hours = 3.0\n"
        "admin_enabled = true\n"
        f'admin_token = "{TOKEN}"\n'
        'rate_limit_global = "100000/second"\n'
        "[transmitter]\n"
        'destination = "registry"\n'
        f'registry_url = "http://127.0.0.1:{port}"\n'
        "batch_window_minutes = 15.0\n"
        "poll_seconds = 0.2\n"
    )


def received_count(admin: httpx.Client) -> int:
    try:
        response = admin.get("/admin/stats")
    except httpx.HTTPError:
        return -1
    return sum(response.json()["by_state"].values()) if response.status_code == 200 else -1


def wait_until_serving(admin: httpx.Client, engine, clock: ScaledClock) -> None:
    """Both processes work end to end: a probe code put in the outbox reaches the registry.

    The probe is registered hours before the first sale, so it leaves no queue behind it."""
    deadline = time.monotonic() + 40
    while received_count(admin) < 0:
        if time.monotonic() > deadline:
            raise AssertionError("registry did not answer within 40 s")
        time.sleep(0.2)
    probe = SeededCodeGeneratorForSimulation(1).next_code().value
    with engine.begin() as conn:
        enqueue(
            conn, probe, clock.now(), "ephoto-permis", booth_id=BOOTH, batch_window=timedelta(0)
        )
    while received_count(admin) < 1:
        if time.monotonic() > deadline:
            raise AssertionError("transmitter did not deliver a probe code within 40 s")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.slow
def test_live_and_simulated_activation_delays_agree(tmp_path):
    plan = scenario()
    simulated = simulate(plan)
    sale_hours = np.sort(simulated.issued_hours)
    assert sale_hours.size > 200

    data = tmp_path / "data"
    data.mkdir()
    add_booth_key(data / "keys.toml", BOOTH, "9PMT")
    engine = open_outbox_engine(booth_db_url(data))
    create_schema(engine)
    port = free_port()
    # The domain clock starts now, STARTUP domain hours before the first sale, so both
    # processes are up and polling before anything is sold (checked below).
    epoch = datetime.now(UTC)
    origin = plan.origin + timedelta(hours=float(sale_hours[0]) - STARTUP_HOURS)
    config = tmp_path / "cabine.toml"
    write_config(config, data, port, epoch, origin)
    env = {**os.environ, "CABINE_CONFIG": str(config)}
    logs = (tmp_path / "registry.log").open("w"), (tmp_path / "transmitter.log").open("w")
    registry = subprocess.Popen(
        [CABINE, "registry", "--data", str(data), "--port", str(port)],
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    transmitter = subprocess.Popen(
        [CABINE, "transmitter", "--data", str(data)],
        env=env,
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    admin = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        clock = ScaledClock(epoch, SCALE, origin)
        wait_until_serving(admin, engine, clock)
        first_sale = plan.origin + timedelta(hours=float(sale_hours[0]))
        assert clock.now() < first_sale, "registry and transmitter took too long to start"
        codes = SeededCodeGeneratorForSimulation(plan.run.seed)
        issued: list[str] = []
        for hours in sale_hours:
            due = plan.origin + timedelta(hours=float(hours))
            wait = (due - clock.now()).total_seconds() / SCALE
            if wait > 0:
                time.sleep(wait)
            code = codes.next_code().value
            with engine.begin() as conn:
                enqueue(
                    conn,
                    code,
                    clock.now(),
                    "ephoto-permis",
                    booth_id=BOOTH,
                    batch_window=timedelta(minutes=15),
                )
            issued.append(code)
        deadline = time.monotonic() + 60
        while received_count(admin) < len(issued) + 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert received_count(admin) == len(issued) + 1, (tmp_path / "transmitter.log").read_text()[
            -2000:
        ]
        live = []
        for code in issued:
            stored = admin.get(f"/admin/codes/{code}").json()
            delay = parse_utc(stored["active_at"]) - parse_utc(stored["issued_at"])
            live.append(delay.total_seconds() / 3600)
    finally:
        admin.close()
        stop(transmitter)
        stop(registry)
        for log in logs:
            log.close()
        engine.dispose()

    live_delays = np.array(live)
    sim_delays = simulated.activation_hours
    result = ks_2samp(live_delays, sim_delays)
    assert result.pvalue > 0.01, (
        f"KS p={result.pvalue:.4f}; live median {np.median(live_delays):.2f} h, "
        f"simulated median {np.median(sim_delays):.2f} h"
    )
    # Not a vacuous agreement: the delays span hours, well beyond the batch window.
    assert np.percentile(sim_delays, 90) > 2.0 and np.percentile(live_delays, 90) > 2.0
    print(
        f"live vs simulated: n={live_delays.size}, KS p={result.pvalue:.3f}, medians "
        f"{np.median(live_delays):.2f} h / {np.median(sim_delays):.2f} h"
    )
