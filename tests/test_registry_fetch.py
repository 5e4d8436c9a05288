"""The state fetches a number's file from the operator's collector when the number is used.

A real registry and a collector on loopback: the number is marked used only once its file's
seal and digests check; the answer (and the check page) carry the photo and the signature; a
collector that is away gets 503 with Retry-After and the number stays unused; a broken file is
refused (502 with the reason), stays unused and is recorded for the operator. Of many concurrent
redemptions, each fetching first, exactly one wins. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import uuid

import httpx
import pytest
from PIL import Image

from ephoto.epfile import EphotoFile, make_file, sha256_hex
from ephoto.seal import generate_key
from kiosk.camera import synthetic_portrait
from registry.settings import CollectorLink
from tests.fake_collector import FakeCollector
from tests.registry_server import ADMIN_TOKEN, registry_settings, start_threaded
from tests.test_epfile import signature_drawing


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-fetch")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'registry.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database()
    collector = FakeCollector().start()
    state_key = generate_key()
    collector.trust_state(state_key)
    settings = registry_settings(
        collectors={
            "9PMT": CollectorLink(url=collector.url, public_key_file=collector.public_key_file(tmp))
        },
        fetch_timeout_seconds=1.0,
        fetch_retry_after_seconds=13,
    )
    registry = start_threaded(url, tmp, settings=settings, fetch_key=state_key)
    collector.now = registry.clock.now  # one clock for both, as in a live session
    yield registry, collector
    registry.stop()
    collector.stop()


@pytest.fixture
def registry(world):
    return world[0]


@pytest.fixture
def collector(world):
    fake = world[1]
    yield fake
    fake.down = fake.corrupt = False
    fake.delay_seconds = 0.0


@pytest.fixture
def citizen(registry):
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    with httpx.Client(base_url=registry.url, timeout=30, headers={"X-Forwarded-For": address}) as c:
        yield c


@pytest.fixture
def admin(registry):
    with httpx.Client(
        base_url=registry.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        yield client


def file_for(code: str, issued_at, seed: int = 1) -> EphotoFile:
    return make_file(
        code=code,
        booth_id="booth-001",
        issued_at=issued_at,
        product="ephoto-permis",
        procedure="permis",
        photo=synthetic_portrait(seed),
        signature=signature_drawing(),
    )


def active_number(registry, collector, *, at_collector: bool = True, **seal) -> EphotoFile:
    """A number registered and active at the state, its sealed file at the collector."""
    booth = registry.booth()
    code = booth.new_codes(1)[0]
    issued = registry.clock.now()
    assert booth.upload(booth.batch([code], issued_at=issued)).status_code == 200
    active_at = registry.store.find(code).active_at
    if active_at > registry.clock.now():
        registry.clock.set(active_at)
    file = file_for(code, issued)
    if at_collector:
        collector.add(file, **seal)
    return file


def redeem(client, code):
    return client.post(f"/v1/codes/{code}/redeem", json={"procedure": "permis"})


def test_a_number_is_used_with_its_checked_file_and_keeps_its_digests(
    registry, collector, citizen, admin
):
    file = active_number(registry, collector)
    response = redeem(citizen, file.code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "redeemed"
    photo = base64.b64decode(body["file"]["photo_jpeg"])
    signature = base64.b64decode(body["file"]["signature_png"])
    assert photo == file.photo_jpeg and signature == file.signature_png
    assert Image.open(io.BytesIO(photo)).size == (413, 531)
    assert body["file"]["photo_sha256"] == sha256_hex(photo)
    stored = registry.store.find(file.code)
    assert stored.redeemed_at is not None
    assert stored.redeemed_photo_sha256 == file.meta.photo_sha256
    assert stored.redeemed_signature_sha256 == file.meta.signature_sha256
    record = admin.get(f"/admin/codes/{file.code}").json()
    assert record["redeemed_photo_sha256"] == file.meta.photo_sha256
    assert redeem(citizen, file.code).status_code == 409


def test_a_collector_that_is_down_gets_503_and_the_number_works_once_it_is_back(
    registry, collector, citizen
):
    file = active_number(registry, collector)
    collector.down = True
    response = redeem(citizen, file.code)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"  # the collector's own
    assert response.json()["status"] == "file_unavailable"
    assert "pas été utilisé" in response.json()["message"]
    assert registry.store.find(file.code).redeemed_at is None
    collector.down = False
    assert redeem(citizen, file.code).status_code == 200


def test_a_slow_collector_gets_503_after_the_timeout_and_the_number_stays_unused(
    registry, collector, citizen
):
    file = active_number(registry, collector)
    collector.delay_seconds = 3.0
    response = redeem(citizen, file.code)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "13"  # the settings' default
    assert registry.store.find(file.code).redeemed_at is None


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("corrupt", "digest"), ("other_key", "seal"), ("missing", "missing")],
)
def test_a_broken_or_missing_file_is_refused_not_used_and_recorded(
    registry, collector, citizen, admin, fault, reason
):
    file = active_number(
        registry,
        collector,
        at_collector=fault != "missing",
        **({"key": generate_key()} if fault == "other_key" else {}),
    )
    collector.corrupt = fault == "corrupt"
    response = redeem(citizen, file.code)
    assert response.status_code == 502, response.text
    assert response.json()["status"] == "file_refused"
    assert response.json()["reason"] == reason
    assert registry.store.find(file.code).redeemed_at is None
    failures = admin.get("/admin/fetch-failures").json()["failures"]
    assert failures[0]["code"] == file.code and failures[0]["kind"] == reason
    assert admin.get("/admin/fetch-failures", params={"operator": "9PMT"}).json()["failures"]
    record = admin.get(f"/admin/codes/{file.code}").json()
    assert record["state"] == "active"
    assert [f["kind"] for f in record["fetch_failures"]] == [reason]


def test_a_number_not_active_is_answered_without_asking_the_collector(registry, collector, citizen):
    booth = registry.booth()
    unknown, pending = booth.new_codes(2)
    tail = registry.store.stats(registry.clock.now()).queue_tail
    if tail is not None and tail > registry.clock.now():
        registry.clock.set(tail)
    booth.upload(booth.batch([pending]))
    before = collector.fetches
    assert redeem(citizen, unknown).status_code == 404
    assert redeem(citizen, pending).status_code == 404
    assert collector.fetches == before
    assert registry.store.find(pending).redeemed_at is None


def test_of_60_concurrent_redemptions_each_fetching_exactly_one_wins(registry, collector):
    file = active_number(registry, collector)

    async def storm():
        limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
        async with httpx.AsyncClient(base_url=registry.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/v1/codes/{file.code}/redeem",
                        json={"procedure": "permis"},
                        headers={"X-Forwarded-For": f"10.8.{i // 250}.{i % 250}"},
                    )
                    for i in range(60)
                )
            )

    before = collector.fetches
    statuses = sorted(r.status_code for r in asyncio.run(storm()))
    assert statuses.count(200) == 1 and statuses.count(409) == 59
    assert collector.fetches > before + 1  # several fetched before the one UPDATE decided


def test_the_check_page_shows_the_photo_and_signature_beside_active(registry, collector, citizen):
    file = active_number(registry, collector)
    page = citizen.post("/", data={"code": file.code, "procedure": "permis", "lang": "fr"})
    assert page.status_code == 200
    assert 'data-status="active"' in page.text and "Est-ce bien vous ?" in page.text
    sources = dict(
        re.findall(r'id="file-(photo|signature)" src="data:image/\w+;base64,([^"]+)"', page.text)
    )
    assert base64.b64decode(sources["photo"]) == file.photo_jpeg
    assert base64.b64decode(sources["signature"]) == file.signature_png
    english = citizen.post("/", data={"code": file.code, "procedure": "permis", "lang": "en"})
    assert "Is this you?" in english.text
    assert registry.store.find(file.code).redeemed_at is None  # looking does not use it


def test_the_check_page_says_when_the_photo_cannot_be_shown(registry, collector, citizen):
    file = active_number(registry, collector)
    collector.down = True
    page = citizen.post("/", data={"code": file.code, "procedure": "permis", "lang": "en"})
    assert page.status_code == 200 and 'data-status="active"' in page.text
    assert 'data-file="missing"' in page.text and "not answering" in page.text
    assert "file-photo" not in page.text


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_store_made_before_the_file_digests_gets_their_columns(engine, tmp_path, request):
    import sqlalchemy as sa

    from registry.store import RegistryStore, codes

    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database()
    added = ("redeemed_photo_sha256", "redeemed_signature_sha256")
    old = sa.MetaData()
    sa.Table(
        "codes",
        old,
        *(
            sa.Column(c.name, c.type, nullable=c.nullable)
            for c in codes.columns
            if c.name not in added
        ),
    )
    legacy = sa.create_engine(url)
    old.create_all(legacy)
    legacy.dispose()
    store = RegistryStore.from_url(url, registry_settings().ingestion_model())
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("codes")}
    assert {"redeemed_photo_sha256", "redeemed_signature_sha256"} <= columns
    store.dispose()
    RegistryStore.from_url(url, registry_settings().ingestion_model()).dispose()  # twice is fine


def test_cabine_registry_serves_the_fetch_with_the_key_it_prints(tmp_path):
    """`cabine registry public-key` makes the state's key on first use and prints the public
    half; `cabine registry` signs its fetches with that key, so a collector given it answers."""
    import subprocess
    import sys

    from ephoto.seal import key_id, load_public_key
    from tests.registry_server import start_process

    def public_key() -> bytes:
        command = [sys.executable, "-m", "cabine.cli", "registry", "public-key"]
        done = subprocess.run([*command, "--data", str(tmp_path)], capture_output=True, check=True)
        return done.stdout

    first = public_key()
    assert first.startswith(b"-----BEGIN PUBLIC KEY-----") and public_key() == first
    assert (tmp_path / "state-fetch.pem").stat().st_mode & 0o777 == 0o600
    collector = FakeCollector().start()
    state_public = load_public_key(first)
    collector.state_keys[key_id(state_public)] = state_public
    link = {"url": collector.url, "public_key_file": str(collector.public_key_file(tmp_path))}
    registry = start_process(
        f"sqlite:///{tmp_path / 'registry.sqlite'}", tmp_path, workers=1, collectors={"9PMT": link}
    )
    try:
        booth = registry.booth()
        code = booth.new_codes(1)[0]
        issued = registry.clock.now()
        assert booth.upload(booth.batch([code], issued_at=issued)).status_code == 200
        registry.advance(3600)
        collector.add(file_for(code, issued))
        response = httpx.post(
            f"{registry.url}/v1/codes/{code}/redeem", json={"procedure": "permis"}, timeout=30
        )
        assert response.status_code == 200, response.text
        assert (
            base64.b64decode(response.json()["file"]["photo_jpeg"])
            == collector.files[code][1].photo_jpeg
        )
    finally:
        registry.stop()
        collector.stop()


def test_cabine_registry_names_a_collector_key_file_it_cannot_read(tmp_path):
    import json
    import os
    import subprocess
    import sys

    link = {"url": "http://127.0.0.1:9", "public_key_file": str(tmp_path / "nowhere.pem")}
    done = subprocess.run(
        [sys.executable, "-m", "cabine.cli", "registry", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "CABINE_REGISTRY__COLLECTORS": json.dumps({"9PMT": link})},
        timeout=60,
    )
    assert done.returncode == 2
    assert "nowhere.pem" in done.stderr and "Traceback" not in done.stderr
