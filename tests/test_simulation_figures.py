"""The delay figures' percentiles (``simulation.figures.percentiles``): numpy's to the last
bit, whether the order statistics are found by counting or by numpy's own selection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import figures
from simulation.figures import order_statistics, percentiles

values_strategy = st.lists(
    st.one_of(st.floats(0.0, 2000.0), st.sampled_from([0.0, 72.0, 1e-9, 1999.5])),
    min_size=1,
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(values=values_strategy, data=st.data())
def test_order_statistics_are_the_sorted_values(values, data):
    array = np.array(values)
    ranks = data.draw(st.lists(st.integers(0, array.size - 1), min_size=1, max_size=6))
    found = order_statistics(array, ranks)
    ordered = np.sort(array)
    assert found == {rank: float(ordered[rank]) for rank in ranks}


@settings(max_examples=200, deadline=None)
@given(
    values=values_strategy,
    q=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=5),
)
def test_percentiles_are_numpys_to_the_last_bit(values, q):
    array = np.array(values)
    original = figures.COUNTING_FROM
    figures.COUNTING_FROM = 0  # count even for these few values
    try:
        assert percentiles(array, q) == [float(v) for v in np.percentile(array, q)]
    finally:
        figures.COUNTING_FROM = original


@pytest.mark.parametrize("kind", ["lognormal", "few values", "one value", "with nan"])
def test_percentiles_of_millions_of_delays(kind):
    rng = np.random.default_rng(5)
    n = 1_000_003
    if kind == "lognormal":
        values = rng.lognormal(2.5, 0.9, n)
    elif kind == "few values":
        values = rng.choice([0.25, 0.5, 19.4], n)
    elif kind == "one value":
        values = np.full(n, 1 / 12)
    else:
        values = rng.lognormal(2.5, 0.9, n)
        values[17] = np.nan
    q = [50, 95, 99, 99.9, 100]
    np.testing.assert_array_equal(percentiles(values, q), np.percentile(values, q))
