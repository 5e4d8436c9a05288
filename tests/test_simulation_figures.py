"""The delay figures' summaries (``simulation.figures.hours_summary``): mean, the 50th, 95th and
99th percentiles (linear between the two nearest values, numpy's default) and the maximum, to
the thousandth of an hour, as ``metrics.json`` gives them."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.figures import hours_summary


def test_percentiles_interpolate_between_the_two_nearest_values():
    # 1 to 100 in any order: the p-th percentile sits (n - 1) x p / 100 = 0.99 p ranks above 1.
    values = np.random.default_rng(3).permutation(np.arange(1.0, 101.0))
    assert hours_summary(values) == {
        "mean": 50.5,
        "p50": 50.5,
        "p95": 95.05,
        "p99": 99.01,
        "max": 100.0,
    }


@pytest.mark.parametrize("kind", ["lognormal", "few values"])
def test_percentiles_of_millions_of_delays_are_rounded_to_the_thousandth(kind):
    rng = np.random.default_rng(5)
    n = 1_000_003
    values = rng.lognormal(2.5, 0.9, n) if kind == "lognormal" else rng.choice([0.25, 19.4], n)
    summary = hours_summary(values)
    ordered = np.sort(values)
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        rank = (n - 1) * q / 100
        low, high = ordered[int(rank)], ordered[int(rank) + 1]
        exact = low + (high - low) * (rank - int(rank))
        assert summary[name] == round(float(exact), 3)
    assert summary["max"] == round(float(ordered[-1]), 3)


def test_a_stage_every_code_spends_the_same_time_in_has_that_time_everywhere():
    values = np.full(50_000, 0.25) + np.random.default_rng(1).uniform(0, 1e-6, 50_000)
    summary = hours_summary(values)
    assert {summary[k] for k in ("mean", "p50", "p95", "p99", "max")} == {0.25}


def test_no_values_give_zeros():
    assert hours_summary(np.zeros(0)) == {
        "mean": 0.0,
        "p50": 0.0,
        "p95": 0.0,
        "p99": 0.0,
        "max": 0.0,
    }
