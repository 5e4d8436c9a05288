"""The collector on PostgreSQL: the same store rules (one file per number, nothing stored from a
refused upload, retention clears the images), and `cabine collector serve --workers 2` on one
database: uploads from concurrent booths, the state's fetch, faults obeyed by every worker,
registration reaching a real registry."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from collector.store import CollectorStore, NumberTaken
from ephoto.clock import SystemClock
from ephoto.epfile import FILES_PATH
from ephoto.seal import check_sealed_file, generate_key, load_private_key, public_pem
from ephoto.statefetch import FetchedFile, fetch_path, sign_fetch
from ephoto.wire import add_booth_key, sign_request
from testkit.chain import CollectorProcess
from tests.collector_world import booth_file, make_world
from tests.pgcluster import free_port
from tests.registry_server import ADMIN_TOKEN as REGISTRY_TOKEN
from tests.registry_server import start_process

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "pg-collector-token"


def test_store_rules_hold_on_postgres(tmp_path, postgres_url):
    world = make_world(tmp_path, db_url=postgres_url)
    try:
        first, second = booth_file(seed=0), booth_file(seed=1)
        assert world.upload([first, second]).json() == {"accepted": 2, "duplicates": []}
        assert world.upload([first]).json() == {"accepted": 0, "duplicates": [first.code]}
        impostor = booth_file(code=first.code, seed=2)
        bystander = booth_file(seed=3)
        assert world.upload([bystander, impostor]).status_code == 409
        assert world.store.images(bystander.code) is None
        assert world.fetch(first.code).status_code == 200
        world.admin("POST", "/admin/clock", json={"advance_seconds": 250 * 86400})
        from collector.service import sweep_retention

        assert sweep_retention(world.store, world.clock) == 2
        stored = world.store.images(first.code)
        assert stored is not None and stored.photo_jpeg is None and stored.signature_png is None
        assert world.fetch(first.code).status_code == 410
        stats = world.admin("GET", "/admin/stats").json()
        assert stats["deleted"] == 2 and stats["bytes_stored"] == 0
    finally:
        world.client.close()
        world.store.dispose()


def test_two_stores_racing_for_one_number_keep_one_file(tmp_path, postgres_url):
    world = make_world(tmp_path, db_url=postgres_url)
    other = CollectorStore.from_url(postgres_url)
    try:
        from collector.routes.uploads import seal_one

        state = world.client.app.state.collector
        now = world.clock.now()
        mine = booth_file(seed=0)
        theirs = booth_file(code=mine.code, seed=1)
        results: list[object] = []

        def store(target: CollectorStore, file) -> None:
            try:
                results.append(
                    target.store_upload(
                        uuid.uuid4().hex,
                        [seal_one(state, file, now)],
                        received_at=now,
                        nonce=uuid.uuid4().hex,
                        signer="booth-001",
                        nonce_forget_after=now + timedelta(minutes=5),
                        registration_booth_id="collector-9PMT",
                        registration_not_before=now,
                    )
                )
            except NumberTaken as exc:
                results.append(exc)

        threads = [
            threading.Thread(target=store, args=(world.store, mine)),
            threading.Thread(target=store, args=(other, theirs)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(type(r).__name__ for r in results) == ["NumberTaken", "UploadResult"]
        kept = world.store.images(mine.code)
        assert kept is not None and kept.photo_jpeg in (mine.photo_jpeg, theirs.photo_jpeg)
    finally:
        other.dispose()
        world.client.close()
        world.store.dispose()


def test_two_workers_on_postgres_serve_as_one_collector(tmp_path, postgres_url):
    (tmp_path / "registry").mkdir()
    registry = start_process(f"sqlite:///{tmp_path / 'registry.sqlite'}", tmp_path / "registry")
    data = tmp_path / "collector"
    data.mkdir()
    booth = add_booth_key(registry.keys_file, "booth-001", "9PMT")
    add_booth_key(registry.keys_file, "collector-9PMT", "9PMT")
    state_key = generate_key()
    (data / "state-fetch.pub.pem").write_bytes(public_pem(state_key))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "collector.log"
    process = CollectorProcess(
        data,
        port,
        registry.url,
        settings={
            "CABINE_COLLECTOR__ADMIN_ENABLED": "true",
            "CABINE_COLLECTOR__ADMIN_TOKEN": ADMIN,
            "CABINE_COLLECTOR__KEYS_FILE": str(registry.keys_file),
            "CABINE_COLLECTOR__REGISTRATION_WINDOW_MINUTES": "0",
            "CABINE_COLLECTOR__REGISTRATION_POLL_SECONDS": "0.5",
        },
        args=("--db", postgres_url, "--workers", "2"),
        log=log,
    )
    clock = SystemClock()
    try:
        process.start()
        files = [booth_file(seed=i, issued_at=clock.now()) for i in range(12)]

        def upload(chunk, client: httpx.Client) -> httpx.Response:
            body = json.dumps(
                {
                    "upload_id": uuid.uuid4().hex,
                    "booth_id": "booth-001",
                    "files": [f.to_wire() for f in chunk],
                }
            ).encode()
            headers = sign_request(
                "POST", url + FILES_PATH, body, "booth-001", booth.secret, clock.now()
            )
            return client.post(
                url + FILES_PATH,
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )

        answers: list[httpx.Response] = []

        def booth_thread(chunk) -> None:
            with httpx.Client(timeout=30) as client:
                answers.append(upload(chunk, client))
                answers.append(upload(chunk, client))  # a retry: duplicates only

        threads = [threading.Thread(target=booth_thread, args=(files[i::3],)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        assert sum(a.json()["accepted"] for a in answers) == 12
        assert sum(len(a.json()["duplicates"]) for a in answers) == 12

        admin = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {ADMIN}"})
        seal_key = load_private_key(data / "collector-seal.pem")
        with httpx.Client(timeout=30) as client:
            for file in files[:3]:
                path = fetch_path(file.code)
                headers = sign_fetch(url + path, "state", state_key, clock.now())
                answer = client.get(url + path, headers=headers)
                assert answer.status_code == 200, answer.text
                fetched = FetchedFile.from_json_dict(answer.json())
                check_sealed_file(
                    fetched.seal,
                    fetched.photo_jpeg,
                    fetched.signature_png,
                    seal_key.public_key(),
                    file.code,
                )
            # Down, set through one worker, is obeyed by every worker (new connections).
            admin.post("/admin/faults", json={"down": True}).raise_for_status()
            for _ in range(8):
                with httpx.Client(timeout=30) as fresh:
                    path = fetch_path(files[0].code)
                    headers = sign_fetch(url + path, "state", state_key, clock.now())
                    assert fresh.get(url + path, headers=headers).status_code == 503
            admin.post("/admin/faults", json={"down": False}).raise_for_status()

        deadline = time.monotonic() + 60
        with httpx.Client(
            base_url=registry.url, timeout=30, headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"}
        ) as reg:
            for file in files:
                while reg.get(f"/admin/codes/{file.code}").status_code != 200:
                    assert time.monotonic() < deadline, f"{file.code} never reached the registry"
                    time.sleep(0.2)
        stats = admin.get("/admin/stats").json()
        assert stats["files_received"] == 12 and stats["registered"] == 12
        admin.close()
    finally:
        process.stop(timeout=30)
        registry.stop()
    assert process.returncode == 0, log.read_text()
