"""Booth uploads to a real registry on loopback: signatures, idempotency, prefix rule, body rules.

The same tests run on SQLite and on a throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from ephoto.wire import Batch, WireCode
from tests.registry_server import start_threaded


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


def test_a_signed_batch_is_stored_and_answered_with_counts(registry, booth):
    codes = booth.new_codes(3)
    response = booth.upload(booth.batch(codes))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3, "duplicates": 0}
    assert all(registry.store.find(c) is not None for c in codes)


def test_unsigned_request_is_refused_401(registry, booth):
    body = booth.batch(booth.new_codes(1)).to_json()
    response = booth.http.post(registry.url + "/v1/batches", content=body)
    assert response.status_code == 401
    assert "missing Signature" in response.json()["detail"]


def test_wrong_key_is_refused_401(registry, booth):
    codes = booth.new_codes(1)
    response = booth.upload(booth.batch(codes), key=b"x" * 32)
    assert response.status_code == 401
    assert "does not verify" in response.json()["detail"]
    assert registry.store.find(codes[0]) is None


def test_unknown_booth_is_refused_401(registry, booth):
    body = Batch(
        "b", "booth-999", (WireCode(booth.new_codes(1)[0], booth.clock.now(), "ephoto-permis"),)
    ).to_json()
    from ephoto.wire import sign_request

    headers = sign_request(
        "POST", registry.url + "/v1/batches", body, "booth-999", b"k" * 32, booth.clock.now()
    )
    response = booth.http.post(registry.url + "/v1/batches", content=body, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("skew", [timedelta(seconds=301), timedelta(seconds=-301)])
def test_stale_signature_is_refused_401(registry, booth, skew):
    response = booth.upload(booth.batch(booth.new_codes(1)), now=booth.clock.now() + skew)
    assert response.status_code == 401
    assert "more than 300 s" in response.json()["detail"]


def test_signature_within_the_window_is_accepted(registry, booth):
    response = booth.upload(
        booth.batch(booth.new_codes(1)), now=booth.clock.now() - timedelta(seconds=290)
    )
    assert response.status_code == 200, response.text


def test_replayed_request_is_refused_401_and_stores_nothing_new(registry, booth):
    batch = booth.batch(booth.new_codes(2))
    body = batch.to_json()
    headers = booth.signed(body)
    first = booth.http.post(registry.url + "/v1/batches", content=body, headers=headers)
    again = booth.http.post(registry.url + "/v1/batches", content=body, headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401
    assert "replay" in again.json()["detail"]


def test_a_refused_request_cannot_be_replayed_either(registry, booth):
    body = booth.batch(["9PMT123"]).to_json()
    headers = booth.signed(body)
    assert (
        booth.http.post(registry.url + "/v1/batches", content=body, headers=headers).status_code
        == 422
    )
    assert (
        booth.http.post(registry.url + "/v1/batches", content=body, headers=headers).status_code
        == 401
    )


def test_body_changed_after_signing_is_refused_401(registry, booth):
    body = booth.batch(booth.new_codes(1)).to_json()
    headers = booth.signed(body)
    tampered = body.replace(b"ephoto-permis", b"ephoto-titre-sejour")
    response = booth.http.post(registry.url + "/v1/batches", content=tampered, headers=headers)
    assert response.status_code == 401
    assert "Content-Digest" in response.json()["detail"]


def test_signature_for_another_path_is_refused_401(registry, booth):
    body = booth.batch(booth.new_codes(1)).to_json()
    headers = booth.signed(body, path="/v1/other")
    response = booth.http.post(registry.url + "/v1/batches", content=body, headers=headers)
    assert response.status_code == 401


def test_same_batch_again_gets_the_same_answer_and_changes_nothing(registry, booth):
    codes = booth.new_codes(4)
    batch = booth.batch(codes)
    first = booth.upload(batch)
    before = [registry.store.find(c) for c in codes]
    registry.clock.advance(timedelta(minutes=5))
    again = booth.upload(batch)
    assert first.json() == again.json() == {"accepted": 4, "duplicates": 0}
    assert [registry.store.find(c) for c in codes] == before


def test_codes_already_stored_count_as_duplicates_and_keep_their_times(registry, booth):
    codes = booth.new_codes(3)
    booth.upload(booth.batch(codes[:2]))
    kept = registry.store.find(codes[0])
    registry.clock.advance(timedelta(minutes=1))
    later = booth.clock.now()
    response = booth.upload(booth.batch(codes + [codes[2]], issued_at=later))
    assert response.json() == {"accepted": 1, "duplicates": 3}
    assert registry.store.find(codes[0]) == kept


def test_a_batch_id_reused_for_other_codes_is_refused_422(registry, booth):
    batch_id = uuid.uuid4().hex
    assert booth.upload(booth.batch(booth.new_codes(1), batch_id=batch_id)).status_code == 200
    response = booth.upload(booth.batch(booth.new_codes(1), batch_id=batch_id))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "batch_id"]


def test_code_of_another_operator_is_refused_403(registry, booth):
    other = registry.booth("booth-ab12", operator="AB12")
    codes = booth.new_codes(1) + other.new_codes(1)
    response = booth.upload(booth.batch(codes))
    assert response.status_code == 403
    assert "AB12" in response.json()["detail"] and "codes[1]" in response.json()["detail"]
    assert registry.store.find(codes[0]) is None  # the whole batch is refused
    assert other.upload(other.batch(other.new_codes(1))).status_code == 200


def test_body_booth_id_must_be_the_signing_booth_403(registry, booth):
    registry.booth("booth-002")
    batch = Batch(
        "b-" + uuid.uuid4().hex,
        "booth-002",
        (WireCode(booth.new_codes(1)[0], booth.clock.now(), "ephoto-permis"),),
    )
    response = booth.upload(batch)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["codes"][0].update(code="9PMT123"), ["body", "codes", 0, "code"]),
        (
            lambda d: d["codes"][0].update(code=d["codes"][0]["code"].lower()),
            ["body", "codes", 0, "code"],
        ),
        (lambda d: d["codes"][0].update(product="passport"), ["body", "codes", 0, "product"]),
        (
            lambda d: d["codes"][0].update(issued_at="2026-01-05T09:00:00"),
            ["body", "codes", 0, "issued_at"],
        ),
        (lambda d: d["codes"][0].pop("issued_at"), ["body", "codes", 0, "issued_at"]),
        (lambda d: d.update(codes=[]), ["body", "codes"]),
        (lambda d: d.update(batch_id="has space"), ["body", "batch_id"]),
    ],
    ids=[
        "short-code",
        "lowercase-code",
        "not-ephoto-product",
        "naive-time",
        "no-time",
        "no-codes",
        "bad-batch-id",
    ],
)
def test_malformed_body_is_refused_422_naming_the_field(registry, booth, mutate, field):
    data = json.loads(booth.batch(booth.new_codes(1)).to_json())
    mutate(data)
    response = booth.upload(json.dumps(data).encode())
    assert response.status_code == 422, response.text
    assert field in [e["loc"] for e in response.json()["detail"]]


def test_a_code_with_a_wrong_check_character_is_refused_422(registry, booth):
    code = booth.new_codes(1)[0]
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    response = booth.upload(booth.batch([wrong]))
    assert response.status_code == 422
    assert "check character" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda d: d.update(code=" ".join(d["code"][i : i + 4] for i in range(0, 22, 4))),
            "code",
            "spaces or dashes",
        ),
        (
            lambda d: d.update(code=d["code"][:21] + ("A" if d["code"][21] != "A" else "B")),
            "code",
            "check character",
        ),
        (lambda d: d.update(product="photo-identite"), "product", "issues no ePhoto number"),
        (
            lambda d: d.update(issued_at="2099-01-01T00:00:00Z"),
            "issued_at",
            "in the future of the registry's clock",
        ),
    ],
    ids=["grouped", "check-character", "product", "future"],
)
def test_one_bad_code_among_good_ones_is_named_by_its_index(registry, booth, mutate, field, words):
    data = json.loads(booth.batch(booth.new_codes(4)).to_json())
    mutate(data["codes"][2])
    response = booth.upload(json.dumps(data).encode())
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "codes", 2, field]
    assert words in error["msg"]
    assert all(registry.store.find(c["code"]) is None for c in data["codes"])


def test_not_json_is_refused_422(registry, booth):
    response = booth.upload(b"{not json")
    assert response.status_code == 422


def test_a_booth_added_to_the_keys_file_while_running_can_upload(registry):
    newcomer = registry.booth("booth-" + uuid.uuid4().hex[:8])
    assert newcomer.upload(newcomer.batch(newcomer.new_codes(1))).status_code == 200


def test_stored_times_follow_the_ingestion_model_with_base_delay_and_season(tmp_path):
    """The store applies registry.ingestion as is: the month's capacity, then the code's own
    base delay (BaseDelay.for_code) after the FIFO."""
    from datetime import UTC, datetime

    from registry.ingestion import BaseDelay, Capacity, IngestionModel
    from registry.store import IncomingCode, RegistryStore, state_of
    from tests.registry_server import seeded_codes

    model = IngestionModel(Capacity(per_hour=120, by_month={9: 30}), BaseDelay(6, 30))
    store = RegistryStore.from_url(f"sqlite:///{tmp_path / 'r.sqlite'}", model)
    september = datetime(2026, 9, 10, 8, tzinfo=UTC)
    codes = seeded_codes(7, 3)
    items = [IncomingCode(c, september, "ephoto-permis") for c in codes]
    result = store.ingest(
        "b1", "booth-001", items, received_at=september, nonce="n1", nonce_forget_after=september
    )
    assert result.accepted == 3
    for n, code in enumerate(codes, start=1):
        stored = store.find(code)
        assert stored.processing_end == september + timedelta(minutes=2 * n)  # 30 per hour
        assert stored.base_delay_hours == model.base_delay.for_code(code) > 0
        assert stored.active_at == model.activation_at(
            stored.processing_end, stored.base_delay_hours
        )
        assert state_of(stored, stored.active_at - timedelta(microseconds=1)) == "pending"
        assert state_of(stored, stored.active_at) == "active"
    store.dispose()


@pytest.mark.parametrize("optimistic", [True, False], ids=["insert-first", "look-up-first"])
@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_duplicates_take_no_place_in_the_queue(request, tmp_path, engine, optimistic):
    """Codes already stored, or sent twice in one batch, are counted as duplicates and the
    new codes queue one service time apart, as if the duplicates had not been sent; the
    stored ones keep their times. Both ways of finding duplicates are checked."""
    from datetime import UTC, datetime

    from registry.ingestion import Capacity, IngestionModel
    from registry.store import IncomingCode, RegistryStore
    from tests.registry_server import seeded_codes

    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database()
    store = RegistryStore.from_url(url, IngestionModel(Capacity(per_hour=3600)))
    if not optimistic:
        store._insert_skipping_stored = None
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    c = seeded_codes(11, 6)

    def ingest(batch_id, codes, at):
        items = [IncomingCode(code, t0, "ephoto-permis") for code in codes]
        return store.ingest(
            batch_id, "booth-001", items, received_at=at, nonce=batch_id, nonce_forget_after=at
        )

    assert ingest("first", c[:2], t0).accepted == 2
    kept = store.find(c[0])
    result = ingest("second", [c[2], c[0], c[3], c[3], c[4], c[1]], t0)
    assert (result.accepted, result.duplicates) == (3, 3)
    assert store.find(c[0]) == kept
    ends = [store.find(code).processing_end for code in c[:5]]
    assert ends == [t0 + timedelta(seconds=n) for n in range(1, 6)]
    assert all(store.find(code).batch_id == "second" for code in c[2:5])
    assert store.find(c[5]) is None
    assert ingest("third", [c[5]], t0).accepted == 1
    assert store.find(c[5]).processing_end == t0 + timedelta(seconds=6)
    store.dispose()


def test_the_signature_window_is_300_real_seconds_on_a_scaled_clock(tmp_path):
    # At a demo's scale (an hour per second) a request that takes 0.3 s to arrive is 18 domain
    # minutes old: still fresh. A signature 400 real seconds old is stale.
    import time

    from ephoto.clock import ScaledClock, SystemClock

    clock = ScaledClock(SystemClock().now(), 3600)
    server = start_threaded(f"sqlite:///{tmp_path / 'registry.sqlite'}", tmp_path, clock=clock)
    try:
        booth = server.booth()
        body = booth.batch(booth.new_codes(1)).to_json()
        headers = booth.signed(body)
        time.sleep(0.3)
        response = booth.http.post(server.url + "/v1/batches", content=body, headers=headers)
        assert response.status_code == 200, response.text
        old = booth.upload(
            booth.batch(booth.new_codes(1)), now=clock.now() - timedelta(seconds=400 * 3600)
        )
        assert old.status_code == 401
        assert "away from the registry's clock" in old.json()["detail"]
    finally:
        server.stop()


def test_moving_the_registrys_qa_clock_does_not_make_booth_signatures_stale(registry, booth):
    registry.store.advance_clock(3 * 24 * 3600)
    response = booth.upload(booth.batch(booth.new_codes(1)))
    assert response.status_code == 200, response.text


# A worker handles a batch on the clock offset and fault knobs it last read, and checks them
# under the queue's lock; what another worker changed in between must still count.


@pytest.fixture
def lone(tmp_path):
    server = start_threaded(f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path)
    yield server
    server.stop()


@pytest.fixture
def other_worker(lone):
    from registry.store import RegistryStore, make_engine

    store = RegistryStore(make_engine(str(lone.store.engine.url)), lone.store.model)
    yield store
    store.dispose()


def test_faults_set_by_another_worker_act_on_the_next_batch(lone, other_worker):
    from registry.store import Faults

    booth = lone.booth()
    assert booth.upload(booth.batch(booth.new_codes(1))).status_code == 200
    other_worker.set_faults(Faults(p_error_5xx=1.0))
    codes = booth.new_codes(2)
    response = booth.upload(booth.batch(codes))
    assert response.status_code == 503
    assert all(lone.store.find(c) is None for c in codes)
    other_worker.set_faults(Faults())
    assert booth.upload(booth.batch(codes)).json() == {"accepted": 2, "duplicates": 0}


def test_a_clock_moved_by_another_worker_dates_the_next_batch(lone, other_worker):
    booth = lone.booth()
    assert booth.upload(booth.batch(booth.new_codes(1))).status_code == 200
    other_worker.advance_clock(3600)
    [code] = booth.new_codes(1)
    assert booth.upload(booth.batch([code])).json() == {"accepted": 1, "duplicates": 0}
    assert lone.store.find(code).received_at == lone.clock.now() + timedelta(hours=1)
    other_worker.advance_clock(3600)
    [ahead] = booth.new_codes(1)
    # Issued 30 minutes ahead of the booths' clock: ahead of the registry's clock as this
    # worker last saw it, not of the registry's clock now.
    issued = lone.clock.now() + timedelta(hours=1, minutes=30)
    response = booth.upload(booth.batch([ahead], issued_at=issued))
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert lone.store.find(ahead).received_at == lone.clock.now() + timedelta(hours=2)
