"""A collector killed with SIGKILL in the middle of uploads loses no answered file, keeps no
half file, and has a registration outbox row for every file it stored; the booth's retries after
the restart store each remaining file once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from collector.store import files
from ephoto.clock import SystemClock
from ephoto.epfile import FILES_PATH
from ephoto.seal import check_sealed_file, generate_key, load_private_key, public_pem
from ephoto.wire import add_booth_key, sign_request
from testkit.chain import CollectorProcess
from tests.collector_world import booth_file
from tests.pgcluster import free_port
from transmitter.outbox import outbox


def collector(data: Path, port: int, log: Path) -> CollectorProcess:
    """The collector on ``data``, registering nothing (another process's work)."""
    return CollectorProcess(
        data,
        port,
        f"http://127.0.0.1:{free_port()}",
        settings={"CABINE_COLLECTOR__REGISTRATION_WINDOW_MINUTES": "100000"},
        log=log,
    )


def test_sigkill_during_uploads_loses_nothing_answered_and_keeps_no_half_file(tmp_path):
    data = tmp_path / "collector"
    data.mkdir()
    booth = add_booth_key(data / "keys.toml", "booth-001", "9PMT")
    add_booth_key(data / "keys.toml", "collector-9PMT", "9PMT")
    (data / "state-fetch.pub.pem").write_bytes(public_pem(generate_key()))
    port, log = free_port(), tmp_path / "collector.log"
    url = f"http://127.0.0.1:{port}"
    clock = SystemClock()
    uploads = [
        [booth_file(seed=i * 4 + j, issued_at=clock.now()) for j in range(4)] for i in range(24)
    ]
    answered: list[int] = []

    def send(index: int, client: httpx.Client) -> httpx.Response:
        body = json.dumps(
            {
                "upload_id": uuid.uuid4().hex,
                "booth_id": "booth-001",
                "files": [f.to_wire() for f in uploads[index]],
            }
        ).encode()
        headers = sign_request(
            "POST", url + FILES_PATH, body, "booth-001", booth.secret, clock.now()
        )
        return client.post(
            url + FILES_PATH, content=body, headers={**headers, "Content-Type": "application/json"}
        )

    def booth_loop() -> None:
        with httpx.Client(timeout=10) as client:
            for index in range(len(uploads)):
                try:
                    if send(index, client).status_code == 200:
                        answered.append(index)
                except httpx.HTTPError:
                    return

    process = collector(data, port, log)
    process.start()
    sender = threading.Thread(target=booth_loop)
    sender.start()
    while len(answered) < 5 and sender.is_alive():
        time.sleep(0.02)
    process.kill()
    sender.join(timeout=30)
    assert 5 <= len(answered) < len(uploads), "the kill should land mid-way"

    engine = create_engine(f"sqlite:///{data / 'collector.sqlite'}")
    seal_key = load_private_key(data / "collector-seal.pem").public_key()
    with engine.connect() as conn:
        stored = {row.code: row for row in conn.execute(select(files))}
        queued = set(conn.execute(select(outbox.c.code)).scalars())
    engine.dispose()
    for index in answered:
        for file in uploads[index]:
            assert file.code in stored, f"answered upload {index} lost {file.code}"
    assert set(stored) == queued  # a file and its registration row, or neither
    for row in stored.values():
        check_sealed_file(row.seal, row.photo, row.signature, seal_key, row.code)

    process = collector(data, port, log)
    process.start()
    try:
        accepted = duplicates = 0
        with httpx.Client(timeout=30) as client:
            for index in range(len(uploads)):  # the booth re-sends what it is unsure of
                answer = send(index, client)
                assert answer.status_code == 200, answer.text
                accepted += answer.json()["accepted"]
                duplicates += len(answer.json()["duplicates"])
        assert accepted + duplicates == 4 * len(uploads)
        assert duplicates == len(stored)
        engine = create_engine(f"sqlite:///{data / 'collector.sqlite'}")
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(files)).scalar_one() == 96
            assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 96
        engine.dispose()
    finally:
        process.stop(timeout=30)
