"""The simulator against queueing theory: with the season off, no booth delay, no base delay
and Poisson arrivals at rate lambda into the registry's capacity C, the FIFO is an M/D/1 queue.

Arrivals are Poisson because every hour of the day has the same weight: Poisson sales per booth
per day at uniform instants within each hour add up to one Poisson stream of
lambda = booths x sales per day / 24 per hour. The dates avoid the DST changes.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulation.fleet import simulate
from simulation.scenario import parse_scenario

BOOTHS = 1000


def poisson_into_registry(
    rate_per_hour: float, capacity: float, days: int, seed: int, base_median: float = 0.0
):
    base = {"median_hours": base_median, "p95_hours": base_median * 4}
    return parse_scenario(
        {
            "run": {"seed": seed, "start": "2026-04-01", "days": days},
            "fleet": {"booths": BOOTHS},
            "demand": {
                "ephoto_per_booth_day": rate_per_hour * 24 / BOOTHS,
                "season": {},
                "hourly_profile": {f"{h:02d}": 1.0 for h in range(24)},
            },
            "booth": {"batch_window_minutes": 0.0},
            "registry": {"capacity_per_hour": capacity, "base_delay": base},
            # Citizens and support do not touch the queue; keep them cheap.
            "citizens": {"max_attempts": 1, "double_use_share": 0.0},
            "support": {"report_share": 0.0},
        }
    )


@pytest.mark.parametrize(
    ("rho", "days"),
    [
        pytest.param(0.5, 120, id="rho=0.5"),
        # Waits are strongly correlated near saturation: about 4.8 million codes give a standard
        # error near 0.4 %, so the 2 % band is a real check and not luck.
        pytest.param(0.8, 250, id="rho=0.8", marks=pytest.mark.slow),
    ],
)
def test_mean_registry_wait_matches_md1(rho, days):
    capacity = 1000.0
    run = simulate(poisson_into_registry(rho * capacity, capacity, days, seed=21))
    assert run.issued_hours.size > 1_000_000
    # No booth delay: the registry receives each code when it is sold.
    np.testing.assert_array_equal(run.received_hours, run.issued_hours)
    md1_wait = rho / (2 * capacity * (1 - rho))
    assert run.registry_wait_hours.mean() == pytest.approx(md1_wait, rel=0.02)
    # No base delay: a code is active as soon as its service ends.
    np.testing.assert_allclose(
        run.active_hours - run.received_hours, run.registry_wait_hours + 1 / capacity, atol=1e-6
    )


def test_overload_backlog_grows_at_lambda_minus_capacity():
    rate, capacity, days = 150.0, 100.0, 20
    run = simulate(poisson_into_registry(rate, capacity, days, seed=5))
    for hours in (120, 240, 480):
        backlog = run.backlog[np.searchsorted(run.backlog_times, hours)]
        assert backlog == pytest.approx((rate - capacity) * hours, rel=0.05)
    # After the last sale the registry drains the backlog at its capacity.
    drained = run.backlog_times[np.argmax(run.backlog_times > days * 24)]
    assert run.backlog[-1] == 0 and drained < run.backlog_times[-1]


def test_littles_law_holds_for_the_pending_count():
    # Pending = received by the registry and not active yet (queue, service and base delay).
    rate, capacity = 400.0, 500.0
    run = simulate(poisson_into_registry(rate, capacity, 40, seed=8, base_median=6.0))
    received = np.sort(run.received_hours)
    active = np.sort(run.active_hours)
    window = (48.0, 40 * 24.0 - 48.0)  # away from the empty start and the end of sales
    grid = np.arange(*window, 0.05)
    pending = np.searchsorted(received, grid, side="right") - np.searchsorted(
        active, grid, side="right"
    )
    arriving = (run.received_hours >= window[0]) & (run.received_hours < window[1])
    arrival_rate = arriving.sum() / (window[1] - window[0])
    time_in_system = (run.active_hours - run.received_hours)[arriving].mean()
    assert pending.mean() == pytest.approx(arrival_rate * time_in_system, rel=0.02)
    assert arrival_rate == pytest.approx(rate, rel=0.01)
