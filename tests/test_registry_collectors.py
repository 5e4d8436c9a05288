"""The state's fetch client against a collector on loopback: a good file comes back checked, and
every way it can go wrong is one of two answers, retry later (unavailable) or refused (kind)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ephoto.code import generate
from ephoto.seal import KeyFileError, generate_key
from registry.collectors import (
    ANSWER,
    DENIED,
    DIGEST,
    MISSING,
    SEAL,
    Collector,
    CollectorClient,
    Fetched,
    Refused,
    Unavailable,
    check_answer,
    load_collector,
)
from tests.fake_collector import FakeCollector
from tests.test_epfile import booth_file


@pytest.fixture(scope="module")
def collector():
    fake = FakeCollector().start()
    yield fake
    fake.stop()


@pytest.fixture
def state_key(collector):
    key = generate_key()
    collector.trust_state(key)
    yield key
    collector.down = collector.corrupt = False
    collector.delay_seconds = 0.0


def client_for(collector, state_key, tmp_path, **options):
    link = load_collector("9PMT", collector.url, collector.public_key_file(tmp_path))
    return CollectorClient({"9PMT": link}, state_key, **options)


def now():
    return datetime.now(UTC)


def test_a_sealed_file_comes_back_checked(collector, state_key, tmp_path):
    file = booth_file(3)
    collector.add(file)
    client = client_for(collector, state_key, tmp_path)
    outcome = client.fetch(file.code, now())
    assert isinstance(outcome, Fetched), outcome
    assert outcome.file == file
    assert outcome.collector_id == "collector-test"
    assert client.knows(file.code) and not client.knows("XXXX" + file.code[4:])


def test_a_corrupted_photo_is_refused_as_a_digest_mismatch(collector, state_key, tmp_path):
    file = booth_file(4)
    collector.add(file)
    collector.corrupt = True
    outcome = client_for(collector, state_key, tmp_path).fetch(file.code, now())
    assert outcome == Refused(DIGEST, "the photo does not match the digest in the seal")


def test_a_seal_made_with_another_key_is_refused(collector, state_key, tmp_path):
    file = booth_file(5)
    collector.add(file, key=generate_key())
    outcome = client_for(collector, state_key, tmp_path).fetch(file.code, now())
    assert isinstance(outcome, Refused) and outcome.kind == SEAL


def test_an_unknown_file_is_missing(collector, state_key, tmp_path):
    outcome = client_for(collector, state_key, tmp_path).fetch(generate("9PMT").value, now())
    assert isinstance(outcome, Refused) and outcome.kind == MISSING


def test_a_state_key_the_collector_does_not_know_is_denied(collector, tmp_path):
    file = booth_file(6)
    collector.add(file)
    outcome = client_for(collector, generate_key(), tmp_path).fetch(file.code, now())
    assert isinstance(outcome, Refused) and outcome.kind == DENIED


def test_a_collector_that_is_down_is_unavailable_with_its_retry_after(
    collector, state_key, tmp_path
):
    file = booth_file(7)
    collector.add(file)
    collector.down = True
    outcome = client_for(collector, state_key, tmp_path).fetch(file.code, now())
    assert isinstance(outcome, Unavailable) and outcome.retry_after == 7


def test_a_slow_collector_is_unavailable_after_the_timeout(collector, state_key, tmp_path):
    file = booth_file(8)
    collector.add(file)
    collector.delay_seconds = 2.0
    client = client_for(collector, state_key, tmp_path, timeout_seconds=0.3, retry_after_seconds=11)
    outcome = client.fetch(file.code, now())
    assert outcome == Unavailable("collector 9PMT did not answer in time", 11)


def test_a_collector_nobody_listens_on_is_unavailable(state_key, tmp_path):
    from tests.pgcluster import free_port

    link = Collector("9PMT", f"http://127.0.0.1:{free_port()}", generate_key().public_key())
    outcome = CollectorClient({"9PMT": link}, state_key).fetch(generate("9PMT").value, now())
    assert isinstance(outcome, Unavailable) and "cannot be reached" in outcome.reason


def test_an_answer_for_another_number_or_not_a_file_is_refused():
    key = generate_key()
    link = Collector("9PMT", "http://unused", key.public_key())
    file = booth_file(9)
    from ephoto.seal import seal_file
    from ephoto.statefetch import FetchedFile

    token = seal_file(file.meta, key, now(), "c")
    body = FetchedFile(file.code, token, file.photo_jpeg, file.signature_png).to_json_dict()
    import json

    other = generate("9PMT").value
    assert check_answer(json.dumps({**body, "code": other}).encode(), other, link).kind == DIGEST
    assert check_answer(json.dumps(body).encode(), other, link).kind == DIGEST
    assert check_answer(b"[1, 2]", file.code, link).kind == ANSWER
    assert check_answer(b"{not json", file.code, link).kind == ANSWER
    assert isinstance(check_answer(json.dumps(body).encode(), file.code, link), Fetched)


def test_a_public_key_file_that_is_not_a_key_is_named(tmp_path):
    path = tmp_path / "op.pem"
    path.write_text("hello")
    with pytest.raises(KeyFileError, match="op.pem"):
        load_collector("9PMT", "http://x", path)
    with pytest.raises(KeyFileError, match="missing.pem"):
        load_collector("9PMT", "http://x", tmp_path / "missing.pem")
