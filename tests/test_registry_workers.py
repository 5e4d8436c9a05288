"""`cabine registry --workers 2` on PostgreSQL: two processes behave as one registry.

Nonces, the FIFO's tail, idempotency, redemption and the QA clock all live in the database, so
it does not matter which worker a request reaches. Every request here opens a new connection,
so the kernel spreads them over both workers.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from ephoto.clock import parse_utc
from tests.registry_server import start_process

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def registry(postgres_cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-workers")
    server = start_process(postgres_cluster.create_database(), tmp, workers=2)
    yield server
    server.stop()


def fresh(method, url, **kwargs):
    """One request on a new connection (no keep-alive), so either worker may take it."""
    return httpx.request(method, url, timeout=30, **kwargs)


async def all_at_once(requests):
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.request(*args, **kwargs) for args, kwargs in requests))


def test_the_cli_serves_two_worker_processes(registry):
    import subprocess

    children = subprocess.run(
        ["pgrep", "-P", str(registry.process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(children) >= 2, registry.log.read_text()


def test_a_replay_is_refused_whichever_worker_gets_it(registry):
    booth = registry.booth()
    body = booth.batch(booth.new_codes(2)).to_json()
    headers = booth.signed(body)
    answers = [
        fresh("POST", registry.url + "/v1/batches", content=body, headers=headers).status_code
        for _ in range(6)
    ]
    assert answers == [200] + [401] * 5


def test_concurrent_batches_queue_one_behind_the_other(registry):
    booth = registry.booth()
    codes = booth.new_codes(40)
    batches = [booth.batch(codes[i : i + 5]) for i in range(0, 40, 5)]
    # The same first batch twice more: idempotency under concurrency.
    batches += [batches[0], batches[0]]
    requests = []
    for batch in batches:
        body = batch.to_json()
        requests.append(
            (
                ("POST", registry.url + "/v1/batches"),
                {"content": body, "headers": booth.signed(body)},
            )
        )
    responses = asyncio.run(all_at_once(requests))
    assert [r.status_code for r in responses] == [200] * 10
    answers = [r.json() for r in responses]
    assert answers[0] == answers[8] == answers[9] == {"accepted": 5, "duplicates": 0}
    assert sum(a["accepted"] for a in answers[:8]) == 40
    with registry.admin() as admin:
        ends = sorted(
            parse_utc(admin.get(f"/admin/codes/{c}").json()["processing_end"]) for c in codes
        )
    gaps = {(b - a) for a, b in zip(ends, ends[1:], strict=False)}
    assert gaps == {timedelta(minutes=1)}  # 60 per hour, no two codes served at once


def test_of_200_concurrent_redeems_on_two_workers_exactly_one_wins(registry):
    booth = registry.booth()
    code = booth.new_codes(1)[0]
    assert booth.upload(booth.batch([code])).status_code == 200
    registry.advance(3600)
    requests = [
        (
            ("POST", f"{registry.url}/v1/codes/{code}/redeem"),
            {
                "json": {"procedure": "permis"},
                "headers": {"X-Forwarded-For": f"10.7.{i // 200}.{i % 200}"},
            },
        )
        for i in range(200)
    ]
    statuses = [r.status_code for r in asyncio.run(all_at_once(requests))]
    assert statuses.count(200) == 1 and statuses.count(409) == 199


def test_the_admin_clock_moves_every_worker(registry):
    booth = registry.booth()
    code = booth.new_codes(1)[0]
    uploaded = booth.upload(booth.batch([code]))
    assert uploaded.status_code == 200, uploaded.text
    url = f"{registry.url}/v1/codes/{code}"
    registry.advance(7 * 24 * 3600)
    statuses = {
        fresh("GET", url, params={"procedure": "permis"}).json()["status"] for _ in range(8)
    }
    with registry.admin() as admin:
        info = admin.get(f"/admin/codes/{code}").json()
    assert statuses == {"active"}, info
