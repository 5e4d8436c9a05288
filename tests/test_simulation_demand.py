"""The simulator's demand and queue helpers against their definitions: the fleet's sales drawn
as one Poisson process in time order, the longest FIFO queue, and the metrics by month."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.fleet import longest_queue, poisson_arrivals, simulate
from simulation.report import metrics
from simulation.scenario import parse_scenario


def test_poisson_arrivals_are_sorted_in_their_hours_with_poisson_counts():
    rng = np.random.default_rng(5)
    hours = 2000
    starts = np.arange(hours, dtype=float) * 1.5  # gaps between the hours are allowed
    rates = np.where(np.arange(hours) % 4 == 3, 0.0, 40.0)  # one hour in four sells nothing
    times, slot = poisson_arrivals(rng, starts, rates)
    assert (np.diff(times) >= 0).all()
    assert (np.diff(slot) >= 0).all()
    assert ((times >= starts[slot]) & (times <= starts[slot] + 1)).all()
    assert not (rates[slot] == 0).any()
    counts = np.bincount(slot, minlength=hours)[rates > 0]
    # Poisson(40): mean and variance 40, within a few standard errors over 1,500 hours.
    assert counts.mean() == pytest.approx(40, abs=4 * np.sqrt(40 / counts.size))
    assert counts.var() == pytest.approx(40, rel=0.15)
    # Uniform within its hour: the position in the hour has mean 1/2 and variance 1/12.
    position = times - starts[slot]
    assert position.mean() == pytest.approx(0.5, abs=0.005)
    assert position.var() == pytest.approx(1 / 12, rel=0.02)


def test_poisson_arrivals_of_nothing_and_of_a_large_total():
    rng = np.random.default_rng(1)
    times, slot = poisson_arrivals(rng, np.arange(3.0), np.zeros(3))
    assert times.size == 0 and slot.size == 0
    times, slot = poisson_arrivals(rng, np.arange(2.0), np.array([0.0, 2e6]))
    assert abs(times.size - 2e6) < 6 * np.sqrt(2e6)
    assert (slot == 1).all() and (np.diff(times) >= 0).all()


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 3.0), min_size=0, max_size=300),
    service=st.floats(0.01, 2.0),
    per_window=st.integers(1, 40),
)
def test_longest_queue_equals_counting_at_every_arrival(gaps, service, per_window):
    arrivals = np.cumsum(np.array(gaps, dtype=float))
    n = arrivals.size
    slots = np.arange(n) * service
    ends = np.maximum.accumulate(arrivals - slots) + slots + service if n else arrivals
    expected = max(
        (i + 1 - int((ends <= arrivals[i]).sum()) for i in range(n)),
        default=0,
    )
    assert longest_queue(arrivals, ends, per_window) == expected


def test_metrics_by_month_are_the_same_whether_codes_are_in_order_or_not():
    scenario = parse_scenario(
        {
            "run": {"seed": 3, "start": "2026-06-20", "days": 20},
            "fleet": {"booths": 50},
            "registry": {"capacity_per_hour": 40.0},
        }
    )
    run = simulate(scenario, figures=True)
    assert (np.diff(run.day) >= 0).all()  # simulate gives codes in order of purchase
    in_order = metrics(run)
    # The figures worked out on a thread while simulating are the ones metrics works out.
    assert in_order == metrics(run.__class__(**{**run.__dict__, "delay_figures": None}))
    shuffle = np.random.default_rng(0).permutation(run.day.size)
    arrays = {
        name: getattr(run, name)[shuffle]
        for name in (
            "issued_hours",
            "booth",
            "day",
            "received_hours",
            "registry_wait_hours",
            "active_hours",
            "departed_hours",
            "uploaded_hours",
            "processed_hours",
        )
    }
    shuffled = metrics(run.__class__(**{**run.__dict__, **arrays, "delay_figures": None}))
    assert [m["month"] for m in in_order["by_month"]] == ["06", "07"]
    assert shuffled["by_month"] == in_order["by_month"]
    assert shuffled["activation_hours"] == in_order["activation_hours"]
