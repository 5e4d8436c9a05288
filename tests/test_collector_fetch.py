"""The state's fetch and the QA admin API: only the state's signature opens a file; unknown,
deleted and malformed numbers get their own answers; faults and the clock act on every route."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ephoto.seal import SealBroken, check_sealed_file, generate_key, key_id
from ephoto.statefetch import FetchedFile, sign_fetch
from tests.collector_world import booth_file, make_world, new_code


@pytest.fixture()
def world(tmp_path):
    w = make_world(tmp_path)
    yield w
    w.client.close()
    w.store.dispose()


def test_the_state_fetches_a_file_whose_seal_verifies(world):
    file = booth_file()
    world.upload([file])
    answer = world.fetch(file.code)
    assert answer.status_code == 200, answer.text
    fetched = FetchedFile.from_json_dict(answer.json())
    checked = check_sealed_file(
        fetched.seal,
        fetched.photo_jpeg,
        fetched.signature_png,
        world.seal_key.public_key(),
        file.code,
    )
    assert checked.meta == file.meta
    assert (fetched.photo_jpeg, fetched.signature_png) == (file.photo_jpeg, file.signature_png)


def test_the_state_may_name_its_key_by_its_id(world):
    file = booth_file()
    world.upload([file])
    assert world.fetch(file.code, key_id=key_id(world.state_key)).status_code == 200


def test_an_unsigned_fetch_is_refused(world):
    file = booth_file()
    world.upload([file])
    answer = world.client.get(f"/v1/files/{file.code}")
    assert answer.status_code == 401
    assert "photo_jpeg" not in answer.text
    still_fetches(world)


def test_a_fetch_signed_with_another_key_is_refused(world):
    file = booth_file()
    world.upload([file])
    assert world.fetch(file.code, key=generate_key()).status_code == 401
    still_fetches(world)


def test_a_fetch_signed_for_another_number_is_refused(world):
    mine, other = booth_file(), booth_file()
    world.upload([mine, other])
    headers = sign_fetch(
        world.base_url + f"/v1/files/{other.code}", "state", world.state_key, world.clock.now()
    )
    assert world.client.get(f"/v1/files/{mine.code}", headers=headers).status_code == 401


def test_a_replayed_fetch_is_refused(world):
    file = booth_file()
    world.upload([file])
    path = f"/v1/files/{file.code}"
    headers = sign_fetch(world.base_url + path, "state", world.state_key, world.clock.now())
    assert world.client.get(path, headers=headers).status_code == 200
    assert world.client.get(path, headers=headers).status_code == 401


def test_an_unknown_number_is_404(world):
    assert world.fetch(new_code()).status_code == 404


@pytest.mark.parametrize(
    "code",
    [
        "9PMT",
        "9pmtABCDEFGHIJKLMNOPQR",
        "..%2F..%2Fcollector.sqlite",
        "9PMTABCDEFGH/JKLMNOPQR",
        "9PMT%2F..%2F..%2Fetc%2Fpasswd",
        "9PMT%00ABCDEFGHIJKLMNOP",
    ],
)
def test_a_malformed_number_is_422_even_with_path_characters(world, code):
    answer = world.fetch(code)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "path", "code"]
    still_fetches(world)


def still_fetches(world) -> None:
    """After a refusal, the state still gets a good file."""
    file = booth_file()
    assert world.upload([file]).status_code == 200
    assert world.fetch(file.code).status_code == 200


def test_a_deleted_file_is_410_and_its_record_remains(world):
    file = booth_file()
    world.upload([file])
    world.admin("POST", "/admin/clock", json={"advance_seconds": 400 * 24 * 3600})
    from collector.service import sweep_retention

    assert sweep_retention(world.store, world.clock) == 1
    assert world.fetch(file.code).status_code == 410
    record = world.admin("GET", f"/admin/files/{file.code}").json()
    assert record["deleted_at"] is not None


def test_admin_needs_the_token(world):
    assert world.client.get("/admin/stats").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert world.client.get("/admin/stats", headers=bad).status_code == 401


def test_admin_file_record_has_the_agreed_shape(world):
    file = booth_file()
    world.upload([file])
    record = world.admin("GET", f"/admin/files/{file.code}").json()
    for key in (
        "code",
        "received_at",
        "sealed_at",
        "registered_at",
        "deleted_at",
        "photo_sha256",
        "signature_sha256",
    ):
        assert key in record
    assert record["photo_sha256"] == file.meta.photo_sha256
    assert record["registered_at"] is None and record["deleted_at"] is None
    assert world.admin("GET", f"/admin/files/{new_code()}").status_code == 404


def test_admin_stats_count_files_and_bytes(world):
    batch = [booth_file(seed=i) for i in range(2)]
    world.upload(batch)
    stats = world.admin("GET", "/admin/stats").json()
    assert stats["files_received"] == 2 and stats["files_sealed"] == 2
    assert stats["pending_registration"] == 2 and stats["registered"] == 0
    assert stats["deleted"] == 0
    assert stats["bytes_stored"] == sum(f.size_bytes for f in batch)


def test_down_answers_503_with_retry_after_on_uploads_and_fetches(world):
    file = booth_file()
    world.upload([file])
    world.admin("POST", "/admin/faults", json={"down": True})
    fetch = world.fetch(file.code)
    assert fetch.status_code == 503 and fetch.headers["Retry-After"]
    upload = world.upload([booth_file()])
    assert upload.status_code == 503 and upload.headers["Retry-After"]
    world.admin("POST", "/admin/faults", json={"down": False})
    assert world.fetch(file.code).status_code == 200


def test_a_corrupted_file_no_longer_matches_its_seal(world):
    file = booth_file()
    world.upload([file])
    world.admin("POST", "/admin/faults", json={"corrupt_files": True})
    fetched = FetchedFile.from_json_dict(world.fetch(file.code).json())
    with pytest.raises(SealBroken):
        check_sealed_file(
            fetched.seal,
            fetched.photo_jpeg,
            fetched.signature_png,
            world.seal_key.public_key(),
            file.code,
        )
    assert world.store.images(file.code).photo_jpeg == file.photo_jpeg  # stored file intact


def test_the_clock_moves_forward_within_bounds_and_resets(world):
    answer = world.admin("POST", "/admin/clock", json={"advance_seconds": 3600})
    assert answer.json()["offset_seconds"] == 3600
    assert world.store.now(world.clock) == world.clock.now() + timedelta(hours=1)
    too_far = world.admin("POST", "/admin/clock", json={"advance_seconds": 10 * 366 * 86400})
    assert too_far.status_code == 422
    assert world.admin("POST", "/admin/clock", json={"advance_seconds": -1}).status_code == 422
    reset = world.admin("POST", "/admin/clock", json={"reset": True})
    assert reset.json()["offset_seconds"] == 0
    assert world.store.now(world.clock) == world.clock.now()


def test_faults_are_bounded(world):
    answer = world.admin("POST", "/admin/faults", json={"extra_latency_ms": -5})
    assert answer.status_code == 422
    answer = world.admin("POST", "/admin/faults", json={"slow": True})
    assert answer.status_code == 422


def test_a_fetch_leaves_its_connection_durable_for_the_next_write(world):
    """The fetch's nonce is written without a flush; the connection goes back to the pool with
    synchronous=FULL (2), so the next upload's commit still waits for the disk."""
    file = booth_file()
    world.upload([file])
    for _ in range(3):
        assert world.fetch(file.code).status_code == 200
    with world.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
