"""The registry's ingestion model: FIFO at capacity plus a lognormal base delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from registry.ingestion import BaseDelay, Capacity, IngestionModel, processing_ends

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)


def test_an_idle_queue_serves_a_code_in_one_service_time():
    model = IngestionModel(Capacity(per_hour=60))
    assert model.processing_end(T0, None) == T0 + timedelta(minutes=1)
    assert model.processing_end(T0, T0 - timedelta(hours=1)) == T0 + timedelta(minutes=1)


def test_a_busy_queue_makes_the_next_code_wait_for_the_previous_one():
    model = IngestionModel(Capacity(per_hour=60))
    previous_end = T0 + timedelta(hours=3)
    assert model.processing_end(T0, previous_end) == previous_end + timedelta(minutes=1)


def test_capacity_by_month_uses_the_paris_calendar():
    cap = Capacity(per_hour=100, by_month={9: 40})
    assert cap.at(datetime(2026, 9, 1, 12, tzinfo=UTC)) == 40
    # 31 August 22:30 UTC is already 1 September in Paris.
    assert cap.at(datetime(2026, 8, 31, 22, 30, tzinfo=UTC)) == 40
    assert cap.at(datetime(2026, 8, 31, 21, 30, tzinfo=UTC)) == 100


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="positive"):
        Capacity(per_hour=0)
    with pytest.raises(ValueError, match="p95_hours"):
        BaseDelay(median_hours=10, p95_hours=5)


def test_base_delay_matches_its_median_and_p95():
    delay = BaseDelay(median_hours=6, p95_hours=30)
    sample = delay.sample_hours(np.random.default_rng(1), 200_000)
    assert np.median(sample) == pytest.approx(6, rel=0.02)
    assert np.quantile(sample, 0.95) == pytest.approx(30, rel=0.03)
    assert delay.for_code("9PMTX") == delay.for_code("9PMTX")
    assert BaseDelay().for_code("9PMTX") == 0.0


def test_per_code_delays_follow_the_same_distribution():
    delay = BaseDelay(median_hours=6, p95_hours=30)
    per_code = np.array([delay.for_code(f"9PMT{n:018d}") for n in range(40_000)])
    assert np.median(per_code) == pytest.approx(6, rel=0.03)
    assert np.quantile(per_code, 0.95) == pytest.approx(30, rel=0.05)


def test_vectorised_processing_ends_equal_the_scalar_rule():
    rng = np.random.default_rng(3)
    arrivals = np.sort(rng.uniform(0, 100, 5000))
    model = IngestionModel(Capacity(per_hour=45))
    previous = None
    expected = []
    for hours in arrivals:
        end = model.processing_end(T0 + timedelta(hours=float(hours)), previous)
        expected.append((end - T0).total_seconds() / 3600)
        previous = end
    np.testing.assert_allclose(processing_ends(arrivals, 45), expected, atol=1e-6)


def test_vectorised_processing_with_capacity_by_month_equals_the_scalar_rule():
    # Arrivals across two Paris month boundaries, heavy enough that a backlog crosses them.
    from registry.ingestion import capacity_schedule, processing_times

    origin = datetime(2026, 6, 20, tzinfo=UTC)
    capacity = Capacity(per_hour=50, by_month={7: 20, 8: 80})
    rng = np.random.default_rng(7)
    arrivals = np.sort(rng.uniform(0, 60 * 24, 40_000))
    model = IngestionModel(capacity)
    previous = None
    expected = []
    for hours in arrivals:
        end = model.processing_end(origin + timedelta(hours=float(hours)), previous)
        expected.append((end - origin).total_seconds() / 3600)
        previous = end
    schedule = capacity_schedule(capacity, origin, origin + timedelta(days=400))
    starts, ends = processing_times(arrivals, schedule)
    np.testing.assert_allclose(ends, expected, atol=1e-5)
    # The July step really was a bottleneck that carried a backlog into August.
    july_end = (datetime(2026, 7, 31, 22, tzinfo=UTC) - origin).total_seconds() / 3600
    in_july = arrivals < july_end
    assert (ends[in_july] - arrivals[in_july]).max() > 24
    assert np.all(starts >= arrivals) and np.all(np.diff(ends) > 0)


def test_capacity_schedule_steps_at_paris_month_starts():
    from registry.ingestion import capacity_schedule

    origin = datetime(2026, 8, 15, tzinfo=UTC)
    schedule = capacity_schedule(Capacity(10, {9: 4}), origin, datetime(2026, 10, 15, tzinfo=UTC))
    # 1 September 00:00 Paris is 31 August 22:00 UTC: 16 days and 22 hours after the origin.
    assert list(schedule.starts_hours) == [0.0, 16 * 24 + 22, (16 + 30) * 24 + 22]
    assert list(schedule.per_hour) == [10, 4, 10]


def test_processing_ends_of_a_batch_equal_the_one_by_one_rule_across_a_month_change():
    model = IngestionModel(Capacity(per_hour=100, by_month={9: 40}))
    # 31 August 21:00 UTC is 23:00 in Paris: September (capacity 40) starts an hour later.
    received = datetime(2026, 8, 31, 21, tzinfo=UTC)
    previous = received - timedelta(minutes=5)
    expected, end = [], previous
    for _ in range(250):
        end = model.processing_end(received, end)
        expected.append(end)
    assert model.processing_ends(received, previous, 250) == expected
    assert model.processing_ends(received, None, 0) == []
