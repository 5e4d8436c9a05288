"""The ePhoto chain end to end under kill -9 (a smaller run than ``bench/ephoto_chain.py``):
numbers sold with their files while the booth's transmitter and the collector are killed with
SIGKILL; every number reaches the collector and the state once, and every use at the state
answers with the booth's own photo and signature, the seal checked."""

from __future__ import annotations

import pytest

from testkit.chain import run_chain


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_of_the_transmitter_and_the_collector_lose_and_duplicate_nothing(tmp_path):
    result = run_chain(
        tmp_path, sales=240, transmitter_kills=10, collector_kills=3, max_life=0.5, seed=3
    )
    assert result.collector_kills == 3
    assert (result.collector_missing, result.collector_stored_twice) == (0, 0)
    assert (result.registry_missing, result.registry_unexpected, result.registry_stored_twice) == (
        0,
        0,
        0,
    )
    assert result.registered == 240 and result.booth_pending_left == 0
    assert result.used == result.seals_verified == 240, result.use_refusals
    assert (result.booth_integrity, result.collector_integrity) == ("ok", "ok")
    assert result.ok
