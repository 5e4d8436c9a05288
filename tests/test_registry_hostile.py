"""The registry against hostile and careless clients (issue 18 items 4-10, issue 17 item 8): every
malformed body gets 422 with a short excerpt, oversized bodies 413 before they are read, the QA
clock stays within bounds and can be reset, absurd issue times are refused naming the field, a
keys file broken while the registry runs leaves the last good keys in force, forwarded addresses
are believed only from configured proxies, slow clients are cut off, and a booth that drops its
connection mid-upload is an info line, not an error."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import update

from ephoto.clock import ManualClock
from registry.app import create_app
from registry.serving import NoDelayHttpToolsProtocol
from registry.store import MAX_CLOCK_OFFSET, RegistryStore, registry_state
from tests.pgcluster import free_port
from tests.registry_server import (
    ADMIN_TOKEN,
    Booth,
    registry_settings,
    start_process,
    start_threaded,
)

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-hostile")
    server = start_threaded(
        f"sqlite:///{tmp / 'registry.sqlite'}",
        tmp,
        registry_settings(max_body_bytes=256 * 1024),
        ManualClock(START),
    )
    yield server
    server.stop()


def raw_json(url: str, path: str, body: str, headers: dict[str, str] | None = None):
    return httpx.post(
        url + path,
        content=body.encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=30,
    )


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize(
    ("path", "field", "admin"),
    [
        ("/admin/clock", "advance_seconds", True),
        ("/admin/faults", "p_error_5xx", True),
        ("/admin/faults", "extra_latency_ms", True),
        ("/v1/codes/9PMTAAAAAAAAAAAAAAAAAA/redeem", "procedure", False),
    ],
)
def test_non_finite_numbers_in_a_body_get_422_naming_the_field(registry, path, field, admin, value):
    response = raw_json(registry.url, path, f'{{"{field}": {value}}}', ADMIN if admin else None)
    assert response.status_code == 422, response.text
    assert field in {part for e in response.json()["detail"] for part in e["loc"]}


def test_a_validation_answer_echoes_only_a_short_excerpt(registry):
    huge = "p" * 100_000
    response = httpx.post(
        registry.url + "/v1/codes/9PMTAAAAAAAAAAAAAAAAAA/redeem", json={"procedure": huge}
    )
    assert response.status_code == 422 and len(response.content) < 1_000
    with_key = raw_json(registry.url, "/admin/clock", f'{{"{huge}": 1}}', ADMIN)
    assert with_key.status_code == 422 and len(with_key.content) < 1_000


def test_an_oversized_upload_is_refused_with_413_before_it_is_read(registry):
    # Declared: refused from Content-Length, unsigned as it is.
    declared = httpx.post(
        registry.url + "/v1/batches",
        content=b"x" * (300 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413

    # Streamed (chunked, no length): refused once past the limit, without reading the rest.
    sent = 0

    def chunks():
        nonlocal sent
        for _ in range(10_000):
            sent += 64 * 1024
            yield b"y" * (64 * 1024)

    try:
        streamed = httpx.post(
            registry.url + "/v1/batches",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
    except httpx.TransportError:
        pass  # the server closed the connection after answering 413 mid-stream
    assert sent < 100 * 64 * 1024  # 640 MB were offered; a few MB at most were taken
    assert httpx.get(registry.url + "/v1/codes/9PMTX?procedure=permis").status_code == 200


def test_the_qa_clock_is_bounded_and_can_be_reset(registry):
    admin = httpx.Client(base_url=registry.url, headers=ADMIN, timeout=30)
    largest = 10 * 366 * 24 * 3600
    refused = None
    for _ in range(10):
        answer = admin.post("/admin/clock", json={"advance_seconds": largest})
        if answer.status_code != 200:
            refused = answer
            break
    assert refused is not None and refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "advance_seconds"]
    offset = admin.get("/admin/stats").json()
    assert offset["now"] < "2100"
    assert httpx.get(registry.url + "/v1/codes/9PMTX?procedure=permis").status_code == 200
    reset = admin.post("/admin/clock", json={"reset": True})
    assert reset.status_code == 200 and reset.json()["offset_seconds"] == 0
    assert registry.app_clock().now() == registry.clock.now()
    admin.close()


def test_an_offset_stored_past_the_calendar_is_survived_and_reset(registry):
    """A store broken before the bound existed (offset beyond year 9999): every endpoint still
    answers, and QA can put the clock back."""
    with registry.store.engine.begin() as conn:
        conn.execute(
            update(registry_state)
            .where(registry_state.c.id == 1)
            .values(clock_offset_seconds=400_000 * 366 * 24 * 3600.0)
        )
    registry.store._control_seen = None
    with httpx.Client(base_url=registry.url, headers=ADMIN, timeout=30) as admin:
        assert httpx.get(registry.url + "/v1/codes/9PMTX?procedure=permis").status_code == 200
        assert admin.get("/admin/stats").status_code == 200
        assert admin.post("/admin/clock", json={"reset": True}).json()["offset_seconds"] == 0
    assert registry.app_clock().offset == timedelta(0)
    assert MAX_CLOCK_OFFSET < timedelta(days=400 * 366)


@pytest.mark.parametrize(
    "issued_at", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]
)
def test_an_issue_time_outside_a_sane_window_is_refused_naming_the_field(registry, issued_at):
    booth = registry.booth()
    code = booth.new_codes(1)[0]
    body = (
        f'{{"batch_id":"edge-{issued_at[:4]}-{issued_at[-3:]}","booth_id":"booth-001",'
        f'"codes":[{{"code":"{code}","issued_at":"{issued_at}","product":"ephoto-permis"}}]}}'
    ).encode()
    response = booth.upload(body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "codes", 0, "issued_at"]
    assert registry.store.find(code) is None


def test_a_keys_file_broken_while_running_keeps_the_last_good_keys_and_logs(registry, caplog):
    booth = registry.booth()
    good = registry.keys_file.read_bytes()
    caplog.set_level(logging.ERROR, logger="ephoto.keyring")
    try:
        registry.keys_file.write_bytes(good + b"\n[booths\n")
        first = booth.upload(booth.batch(booth.new_codes(2)))
        second = booth.upload(booth.batch(booth.new_codes(2)))
        assert (first.status_code, second.status_code) == (200, 200)
        errors = [r for r in caplog.records if r.name == "ephoto.keyring"]
        assert len(errors) == 1 and "not valid TOML" in errors[0].getMessage()
    finally:
        registry.keys_file.write_bytes(good)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_booth_that_drops_mid_upload_is_an_info_line_not_an_error(registry):
    """Issue 17 item 8: headers and half a body on a raw socket, then closed."""
    records = _Records()
    watched = [logging.getLogger(n) for n in ("uvicorn.error", "registry.batches")]
    for logger in watched:
        logger.addHandler(records)
    old_level = watched[1].level
    watched[1].setLevel(logging.INFO)
    try:
        port = int(registry.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b"{" * 500
            )
            time.sleep(0.3)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            r.name == "registry.batches" for r in records.records
        ):
            time.sleep(0.05)
    finally:
        for logger in watched:
            logger.removeHandler(records)
        watched[1].setLevel(old_level)
    assert [r.levelname for r in records.records if r.levelno >= logging.ERROR] == []
    [line] = [r for r in records.records if r.name == "registry.batches"]
    assert line.levelno == logging.INFO and "disconnected" in line.getMessage()


class QuickDeadlineProtocol(NoDelayHttpToolsProtocol):
    header_timeout = 1.0


def test_slow_clients_are_cut_off_header_and_body(tmp_path):
    """Issue 18 item 10: fifty half-open connections (nothing sent, or half the headers) are
    closed with 408 after the header deadline; a body that stalls gets 408 from the app."""
    settings = registry_settings(keys_file=tmp_path / "keys.toml", body_timeout_seconds=1.0)
    store = RegistryStore.from_url(f"sqlite:///{tmp_path / 'r.sqlite'}", settings.ingestion_model())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, ManualClock(START), store),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http=QuickDeadlineProtocol,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        sockets = []
        for i in range(50):
            sock = socket.create_connection(("127.0.0.1", port))
            if i % 2:
                sock.sendall(b"GET /v1/codes/9PMTX?procedure=permis HTTP/1.1\r\nHost: x\r\n")
            sockets.append(sock)
        started = time.monotonic()
        for sock in sockets:
            sock.settimeout(10)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), answer[:40]
            sock.close()
        assert time.monotonic() - started < 8
        # A body announced and never finished.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(10)
            sock.sendall(
                b"POST /admin/clock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:60]
        # The service still serves.
        assert (
            httpx.get(f"http://127.0.0.1:{port}/v1/codes/9PMTX?procedure=permis").status_code == 200
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        store.dispose()


def test_forwarded_addresses_are_believed_only_from_configured_proxies(tmp_path):
    """Issue 18 item 9: `cabine registry` on loopback with default settings: a client that has
    used up its failed checks cannot start afresh by changing X-Forwarded-For."""
    server = start_process(
        f"sqlite:///{tmp_path / 'registry.sqlite'}",
        tmp_path,
        workers=1,
        rate_limit_failed_per_client="3/hour",
    )
    try:
        for i in range(3):
            check = httpx.get(
                f"{server.url}/v1/codes/9PMTNOPE{i}?procedure=permis",
                headers={"X-Forwarded-For": f"10.0.0.{i}"},
            )
            assert check.status_code == 200
        again = httpx.get(
            f"{server.url}/v1/codes/9PMTNOPE9?procedure=permis",
            headers={"X-Forwarded-For": "10.0.0.99"},
        )
        assert again.status_code == 429
    finally:
        server.stop()


def test_booth_upload_still_works_through_the_guards(registry):
    booth: Booth = registry.booth()
    answer = booth.upload(booth.batch(booth.new_codes(3)))
    assert answer.status_code == 200 and answer.json() == {"accepted": 3, "duplicates": 0}
