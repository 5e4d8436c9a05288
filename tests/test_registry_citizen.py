"""The citizen API on a real registry: every status, ingestion timing, expiry boundary, single use
under 200 concurrent redemptions, rate limits, fault knobs and the admin API.

The same tests run on SQLite and on a throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from ephoto.clock import parse_utc
from ephoto.validity import expires_at
from tests.registry_server import ADMIN_TOKEN, registry_settings, start_threaded


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def registry(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'registry.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database()
    server = start_threaded(url, tmp)
    yield server
    server.stop()


@pytest.fixture
def booth(registry):
    return registry.booth()


@pytest.fixture
def citizen(registry):
    """A client with an address of its own (X-Forwarded-For from the loopback proxy), so the
    per-client rate limit of one test never spills into another."""
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    with httpx.Client(base_url=registry.url, timeout=30, headers={"X-Forwarded-For": address}) as c:
        yield c


@pytest.fixture
def admin(registry):
    with httpx.Client(
        base_url=registry.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        yield client


def check(client, code, procedure="permis", lang=None):
    headers = {"Accept-Language": lang} if lang else {}
    response = client.get(f"/v1/codes/{code}", params={"procedure": procedure}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def drain_queue(registry):
    """Move the clock past the FIFO's tail, so the next code finds the queue empty."""
    tail = registry.store.stats(registry.clock.now()).queue_tail
    if tail is not None and tail > registry.clock.now():
        registry.clock.set(tail)


def active_codes(registry, booth, count, product="ephoto-permis"):
    codes = booth.new_codes(count)
    assert booth.upload(booth.batch(codes, product=product)).status_code == 200
    last = max(registry.store.find(c).active_at for c in codes)
    if last > registry.clock.now():
        registry.clock.set(last)
    return codes


# --- ingestion timing ----------------------------------------------------------------------


def test_a_code_turns_active_exactly_when_the_fifo_says(registry, booth, citizen):
    drain_queue(registry)
    t0 = registry.clock.now()
    codes = booth.new_codes(3)
    booth.upload(booth.batch(codes))
    # 60 codes per hour, no base delay: one minute each, first come first served.
    for n, code in enumerate(codes, start=1):
        stored = registry.store.find(code)
        assert stored.received_at == t0
        assert stored.processing_end == stored.active_at == t0 + timedelta(minutes=n)
    registry.clock.set(t0 + timedelta(minutes=2) - timedelta(seconds=1))
    assert check(citizen, codes[1])["status"] == "not_found"  # pending looks like unknown
    registry.clock.set(t0 + timedelta(minutes=2))
    assert [check(citizen, c)["status"] for c in codes] == ["active", "active", "not_found"]


def test_a_later_batch_waits_behind_the_backlog(registry, booth):
    drain_queue(registry)
    t0 = registry.clock.now()
    first = booth.new_codes(30)
    booth.upload(booth.batch(first))
    registry.clock.advance(timedelta(minutes=10))
    late = booth.new_codes(1)
    booth.upload(booth.batch(late))
    # The queue still holds 20 minutes of work when the late code arrives.
    assert registry.store.find(late[0]).active_at == t0 + timedelta(minutes=31)


# --- every citizen status ------------------------------------------------------------------


def test_unknown_well_formed_code_is_not_found_with_the_72_hour_advice(registry, booth, citizen):
    answer = check(citizen, booth.new_codes(1)[0])
    assert answer["status"] == "not_found"
    assert "72 heures" in answer["message"] and "0 et O" in answer["message"]
    english = check(citizen, booth.new_codes(1)[0], lang="en-GB,en;q=0.9")
    assert "72 hours" in english["message"]


def test_malformed_code_message_names_the_rule_in_both_languages(registry, booth, citizen):
    code = booth.new_codes(1)[0]
    cases = [
        (code.lower(), "majuscules", "capitals"),
        (code[:10], "10 caractères", "10 characters"),
        ("AB12" + code[4:], "9PMT", "9PMT"),
        (code[:5] + "*" + code[6:], "non autorisés", "not allowed"),
    ]
    for typed, fr, en in cases:
        answer = check(citizen, typed)
        assert answer["status"] == "malformed", typed
        assert fr in answer["message"], answer
        assert en in check(citizen, typed, lang="en")["message"]


def test_a_confusable_typo_is_caught_by_the_check_character(registry, booth, citizen):
    code = active_codes(registry, booth, 1)[0]
    swaps = {"0": "O", "O": "0", "1": "I", "I": "1", "5": "S", "S": "5"}
    index = next((i for i, c in enumerate(code) if i >= 4 and c in swaps), None)
    if index is None:  # no confusable character in this code: swap the last one instead
        typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    else:
        typo = code[:index] + swaps[code[index]] + code[index + 1 :]
    answer = check(citizen, typo)
    assert answer["status"] == "malformed"
    assert "0 et O" in answer["message"]


def test_spaces_between_groups_are_accepted(registry, booth, citizen):
    code = active_codes(registry, booth, 1)[0]
    grouped = " ".join(code[i : i + 4] for i in range(0, 22, 4))
    assert check(citizen, grouped)["status"] == "active"


def test_active_code_names_the_procedure_and_the_last_day(registry, booth, citizen):
    code = active_codes(registry, booth, 1)[0]
    answer = check(citizen, code, procedure="permis")
    assert answer["status"] == "active"
    assert "permis de conduire" in answer["message"]
    assert "achet" not in answer["message"]  # bought for this procedure: no note


def test_a_code_bought_for_the_other_procedure_is_accepted_with_a_note(registry, booth, citizen):
    code = active_codes(registry, booth, 1, product="ephoto-titre-sejour")[0]
    answer = check(citizen, code, procedure="permis")
    assert answer["status"] == "active"
    assert "acheté pour un titre de séjour" in answer["message"]
    assert citizen.post(f"/v1/codes/{code}/redeem", json={"procedure": "permis"}).status_code == 200
    assert registry.store.find(code).redeemed_procedure == "permis"


def test_a_code_redeems_once_then_reads_used_with_the_date(registry, booth, citizen):
    code = active_codes(registry, booth, 1)[0]
    first = citizen.post(f"/v1/codes/{code}/redeem", json={"procedure": "permis"})
    assert first.status_code == 200 and first.json()["status"] == "redeemed"
    second = citizen.post(f"/v1/codes/{code}/redeem", json={"procedure": "permis"})
    assert second.status_code == 409 and second.json()["status"] == "used"
    answer = check(citizen, code)
    assert answer["status"] == "used"
    when = registry.store.find(code).redeemed_at
    from ephoto.clock import format_paris

    assert format_paris(when, "fr") in answer["message"]


def test_redeem_answers_404_for_unknown_and_pending_and_422_for_malformed(registry, booth, citizen):
    drain_queue(registry)
    unknown = booth.new_codes(1)[0]
    assert (
        citizen.post(f"/v1/codes/{unknown}/redeem", json={"procedure": "permis"}).status_code == 404
    )
    pending = booth.new_codes(1)
    booth.upload(booth.batch(pending))
    response = citizen.post(f"/v1/codes/{pending[0]}/redeem", json={"procedure": "permis"})
    assert response.status_code == 404 and response.json()["status"] == "not_found"
    assert registry.store.find(pending[0]).redeemed_at is None
    bad = citizen.post(f"/v1/codes/{unknown.lower()}/redeem", json={"procedure": "permis"})
    assert bad.status_code == 422 and bad.json()["status"] == "malformed"
    wrong_procedure = citizen.post(f"/v1/codes/{unknown}/redeem", json={"procedure": "passeport"})
    assert wrong_procedure.status_code == 422


def test_expiry_boundary_six_calendar_months_after_issue(registry, booth, citizen):
    code = active_codes(registry, booth, 1)[0]
    issued = registry.store.find(code).issued_at
    boundary = expires_at(issued)
    registry.clock.set(boundary - timedelta(seconds=1))
    assert check(citizen, code)["status"] == "active"
    registry.clock.set(boundary)
    answer = check(citizen, code)
    assert answer["status"] == "expired"
    from ephoto.clock import format_paris

    assert format_paris(boundary, "fr") in answer["message"]
    response = citizen.post(f"/v1/codes/{code}/redeem", json={"procedure": "permis"})
    assert response.status_code == 410 and response.json()["status"] == "expired"


def test_of_200_concurrent_redeems_exactly_one_wins(registry, booth):
    code = active_codes(registry, booth, 1)[0]

    async def storm():
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=registry.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/v1/codes/{code}/redeem",
                        json={"procedure": "permis"},
                        headers={"X-Forwarded-For": f"10.9.{i // 250}.{i % 250}"},
                    )
                    for i in range(200)
                )
            )

    responses = asyncio.run(storm())
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1
    assert statuses.count(409) == 199


# --- rate limits ---------------------------------------------------------------------------


def test_100_failed_checks_per_client_then_429_with_retry_after(registry, booth, citizen):
    good = active_codes(registry, booth, 1)[0]
    for _ in range(120):  # good checks cost nothing
        assert citizen.get(f"/v1/codes/{good}", params={"procedure": "permis"}).status_code == 200
    unknown = booth.new_codes(1)[0]
    for _ in range(100):
        assert check(citizen, unknown)["status"] == "not_found"
    refused = citizen.get(f"/v1/codes/{unknown}", params={"procedure": "permis"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # Spent budget: even a good number is refused until the window ends.
    assert citizen.get(f"/v1/codes/{good}", params={"procedure": "permis"}).status_code == 429
    other = httpx.get(
        f"{registry.url}/v1/codes/{good}",
        params={"procedure": "permis"},
        headers={"X-Forwarded-For": "10.250.0.1"},
    )
    assert other.status_code == 200


def test_global_limit_refuses_everyone_with_retry_after(tmp_path):
    server = start_threaded(
        f"sqlite:///{tmp_path / 'r.sqlite'}",
        tmp_path,
        registry_settings(rate_limit_global="5/minute"),
    )
    try:
        booth = server.booth()
        code = booth.new_codes(1)[0]
        statuses = [
            httpx.get(
                f"{server.url}/v1/codes/{code}",
                params={"procedure": "permis"},
                headers={"X-Forwarded-For": f"10.1.1.{i}"},
            )
            for i in range(7)
        ]
        assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
        assert int(statuses[-1].headers["Retry-After"]) >= 1
    finally:
        server.stop()


# --- admin API and fault knobs -------------------------------------------------------------


def test_admin_needs_the_bearer_token(registry):
    assert httpx.get(registry.url + "/admin/stats").status_code == 401
    wrong = httpx.get(registry.url + "/admin/stats", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_admin_shows_a_codes_internal_times_and_state(registry, booth, admin):
    drain_queue(registry)
    code = booth.new_codes(1)[0]
    booth.upload(booth.batch([code]))
    info = admin.get(f"/admin/codes/{code}").json()
    assert info["state"] == "pending"
    assert info["procedure"] == "permis" and info["booth_id"] == "booth-001"
    assert info["active_at"] == info["processing_end"]
    assert admin.get(f"/admin/codes/{booth.new_codes(1)[0]}").status_code == 404


def test_admin_clock_moves_the_registry_forward(tmp_path):
    server = start_threaded(f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        booth = server.booth()
        code = booth.new_codes(1)[0]
        booth.upload(booth.batch([code]))
        url = f"{server.url}/v1/codes/{code}"
        assert httpx.get(url, params={"procedure": "permis"}).json()["status"] == "not_found"
        moved = httpx.post(
            server.url + "/admin/clock", json={"advance_seconds": 60}, headers=headers
        ).json()
        assert moved["offset_seconds"] == 60
        assert parse_utc(moved["now"]) == server.clock.now() + timedelta(seconds=60)
        assert httpx.get(url, params={"procedure": "permis"}).json()["status"] == "active"
        back = httpx.post(
            server.url + "/admin/clock", json={"advance_seconds": -5}, headers=headers
        )
        assert back.status_code == 422
    finally:
        server.stop()


def test_admin_stats_counts_states_and_the_backlog(registry, booth, citizen, admin):
    drain_queue(registry)
    before = admin.get("/admin/stats").json()
    codes = booth.new_codes(5)
    booth.upload(booth.batch(codes))
    stats = admin.get("/admin/stats").json()
    assert stats["by_state"]["pending"] == before["by_state"]["pending"] + 5
    assert stats["backlog"] == before["backlog"] + 5
    assert stats["oldest_pending_age_seconds"] == 0
    registry.clock.advance(timedelta(minutes=2, seconds=30))
    later = admin.get("/admin/stats").json()
    assert later["by_state"]["pending"] == 3 and later["backlog"] == 3
    assert later["oldest_pending_age_seconds"] == 150


def test_fault_5xx_refuses_the_batch_without_storing_it(registry, booth, admin):
    admin.post("/admin/faults", json={"p_error_5xx": 1.0}).raise_for_status()
    try:
        codes = booth.new_codes(1)
        assert booth.upload(booth.batch(codes)).status_code == 503
        assert registry.store.find(codes[0]) is None
    finally:
        admin.post("/admin/faults", json={}).raise_for_status()


def test_fault_timeout_after_apply_stores_the_batch_but_the_booth_times_out(registry, booth, admin):
    admin.post("/admin/faults", json={"p_timeout_after_apply": 1.0}).raise_for_status()
    codes = booth.new_codes(2)
    batch = booth.batch(codes)
    try:
        body = batch.to_json()
        with pytest.raises(httpx.TimeoutException):
            booth.http.post(
                registry.url + "/v1/batches", content=body, headers=booth.signed(body), timeout=1.0
            )
        assert registry.store.find(codes[0]) is not None
    finally:
        admin.post("/admin/faults", json={}).raise_for_status()
    retry = booth.upload(batch)
    assert retry.status_code == 200 and retry.json() == {"accepted": 2, "duplicates": 0}


def test_fault_extra_latency_delays_batches(registry, booth, admin):
    admin.post("/admin/faults", json={"extra_latency_ms": 400}).raise_for_status()
    try:
        started = time.monotonic()
        assert booth.upload(booth.batch(booth.new_codes(1))).status_code == 200
        assert time.monotonic() - started >= 0.4
    finally:
        admin.post("/admin/faults", json={}).raise_for_status()
    assert admin.post("/admin/faults", json={"p_error_5xx": 2}).status_code == 422
