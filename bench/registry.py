"""Speed of the registry: batch ingest against a raw insert of the same rows, and citizen checks.

Run: .venv/bin/python bench/registry.py [--db URL | --postgres] [--checks N] [--concurrency C]

One registry worker (``cabine registry``, a separate process, SQLite by default) receives signed
batches of 100 and 1000 codes from one booth, one batch at a time; in turn with each, a raw
SQLAlchemy ``executemany`` inserts the same rows into the same table of a scratch store, one
transaction per batch. The ratio of the two is the goal (ingest >= 50 % of the raw rate). Each
side's preparation is done before its clock starts (the raw rows; the upload's JSON and
signature, the booth's work, whose time is printed apart), and the upload goes out on one kept-alive
connection through a few lines of HTTP/1.1, so the client's own cost stays out of the figure. Then
a client keeps C checks in flight on active codes and reports checks/s and latency percentiles
(goal: 1,500 checks/s on one worker). On a machine with two cores or more the worker is pinned
to one core and the client to the others. Everything is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ephoto.clock import SystemClock  # noqa: E402
from ephoto.code import SeededCodeGeneratorForSimulation  # noqa: E402
from ephoto.wire import BATCH_PATH, Batch, WireCode, add_booth_key, sign_request  # noqa: E402
from registry.settings import RegistrySettings  # noqa: E402
from registry.store import codes, make_engine, metadata  # noqa: E402

SIZES = (100, 1000)
CODES_PER_SIZE = 20_000
WALL_LIMIT_SECONDS = 240


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """One core for the server under test, the others for this client, when there are two or
    more: the worker then has a core to itself, as "one worker" means. Read once, before this
    process pins itself to the client's share."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return {allowed[0]}, set(allowed[1:])


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child to ``cpus`` (it would otherwise inherit ours)."""
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def start_registry(
    db_url: str, data: Path, keys: Path, cpus: set[int] | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CABINE_REGISTRY__RATE_LIMIT_GLOBAL": "1000000/second",
        "CABINE_REGISTRY__RATE_LIMIT_FAILED_PER_CLIENT": "1000000/hour",
        # Every code active at once, so the checks below find active codes.
        "CABINE_REGISTRY__BASE_DELAY_MEDIAN_HOURS": "0",
        "CABINE_REGISTRY__BASE_DELAY_P95_HOURS": "0",
        "CABINE_REGISTRY__CAPACITY_PER_HOUR": "1e9",
        "CABINE_REGISTRY__CAPACITY_BY_MONTH": "{}",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cabine.cli",
            "registry",
            "--port",
            str(port),
            "--db",
            db_url,
            "--data",
            str(data),
            "--keys",
            str(keys),
            "--workers",
            "1",
        ],
        env=env,
        cwd=data,
        preexec_fn=pinned(cpus),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("registry did not start within 60 s")


FLOOR_APP = """
import sys, uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
app = FastAPI()

@app.get("/v1/codes/{code}")
async def check(code: str):
    return JSONResponse({"status": "active", "message": "m" * 160})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def floor_cpu_per_request(total: int, concurrency: int, cpus: set[int] | None) -> float:
    """CPU per request of a FastAPI app that answers a constant: what this machine charges for
    HTTP and the framework alone, right now."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", FLOOR_APP, str(port)], preexec_fn=pinned(cpus)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/v1/codes/x", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        before = cpu_seconds(process.pid)
        asyncio.run(check_load(url, ["x"], total, concurrency))
        return (cpu_seconds(process.pid) - before) / total
    finally:
        process.terminate()
        process.wait(timeout=15)


def make_batches(size: int, seed: int, booth_id: str) -> list[Batch]:
    generator = SeededCodeGeneratorForSimulation(seed)
    now = SystemClock().now() - timedelta(minutes=1)
    return [
        Batch(
            f"bench-{seed}-{n}",
            booth_id,
            tuple(WireCode(generator.next_code().value, now, "ephoto-permis") for _ in range(size)),
        )
        for n in range(CODES_PER_SIZE // size)
    ]


def raw_rows(batches: list[Batch], settings: RegistrySettings) -> list[list[dict]]:
    """The rows the registry stores for these batches, computed the way it computes them."""
    from ephoto.validity import expires_at

    model = settings.ingestion_model()
    received = SystemClock().now()
    tail = None
    out = []
    for batch in batches:
        rows = []
        for c in batch.codes:
            end = model.processing_end(received, tail)
            tail = end
            delay = model.base_delay.for_code(c.code)
            rows.append(
                {
                    "code": c.code,
                    "booth_id": batch.booth_id,
                    "batch_id": batch.batch_id,
                    "product": c.product,
                    "issued_at": c.issued_at,
                    "expires_at": expires_at(c.issued_at),
                    "received_at": received,
                    "processing_end": end,
                    "base_delay_hours": delay,
                    "active_at": model.activation_at(end, delay),
                    "redeemed_at": None,
                    "redeemed_procedure": None,
                }
            )
        out.append(rows)
    return out


class KeepAliveClient:
    """HTTP/1.1 POSTs on one kept-alive connection, in a few lines: with httpx the client added
    about 1.4 ms to every batch's round trip, which the raw insert beside it does not pay."""

    def __init__(self, url: str):
        address = httpx.URL(url)
        self.host = f"{address.host}:{address.port}"
        self.sock = socket.create_connection((address.host, address.port), timeout=60)
        self.reader = self.sock.makefile("rb")

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += ["Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = int(self.reader.readline().split()[1])
        length = 0
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, self.reader.read(length)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def ingest_beside_raw(
    url: str, batches: list[Batch], key: bytes, rows_per_batch: list[list[dict]], raw_url: str
) -> tuple[float, float, float]:
    """Codes/s of ingest over HTTP and of a raw ``executemany`` of the same rows, one batch of
    each in turn, so that both see the machine in the same state; and the booth's signing time
    per batch.

    What each side prepares is left out of its time: the raw insert's rows are computed
    beforehand, and so are the upload's JSON body and signature (the booth's work, not the
    registry's; the signature is still fresh, well inside its 300 s window).
    """
    engine = make_engine(raw_url)
    metadata.create_all(engine)
    clock = SystemClock()
    ingest_seconds = raw_seconds = signing_seconds = 0.0
    client = KeepAliveClient(url)
    try:
        for batch, rows in zip(batches, rows_per_batch, strict=True):
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(codes.insert(), rows)
            raw_seconds += time.perf_counter() - started

            body = batch.to_json()
            started = time.perf_counter()
            headers = sign_request("POST", url + BATCH_PATH, body, batch.booth_id, key, clock.now())
            signing_seconds += time.perf_counter() - started
            started = time.perf_counter()
            status, answer = client.post(BATCH_PATH, body, headers)
            ingest_seconds += time.perf_counter() - started
            if status != 200 or json.loads(answer)["accepted"] != len(batch.codes):
                raise RuntimeError(f"batch refused: {status} {answer[:200]!r}")
    finally:
        client.close()
        engine.dispose()
    total = sum(len(b.codes) for b in batches)
    return total / ingest_seconds, total / raw_seconds, signing_seconds / len(batches)


async def check_load(
    url: str, sample: list[str], total: int, concurrency: int
) -> tuple[float, list[float]]:
    """Keep ``concurrency`` checks in flight on keep-alive connections until ``total`` are done.

    The client is a few lines of HTTP/1.1 on asyncio streams rather than httpx: with httpx the
    client's own core ran out at about 400 checks/s, so on a 2-core machine it, not the worker,
    set the pace. Every answer is still read in full and checked.
    """
    address = httpx.URL(url)
    host, port = address.host, address.port or 80
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in counter:
                request = (
                    f"GET /v1/codes/{sample[n % len(sample)]}?procedure=permis HTTP/1.1\r\n"
                    f"Host: {host}:{port}\r\n\r\n"
                ).encode()
                t = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t)
                if head[9:12] != b"200" or b'"status":"active"' not in body:
                    raise RuntimeError(f"check failed: {head[:12]!r} {body[:200]!r}")
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return total / elapsed, latencies


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used: what a request costs the worker, whatever
    else the machine is doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="registry store URL (default: SQLite in a temp folder)")
    parser.add_argument("--raw-db", help="scratch store URL for the raw insert (default: SQLite)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="both stores in a throwaway PostgreSQL cluster (Debian's postgresql, as the tests)",
    )
    parser.add_argument("--checks", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not args.postgres:
        run(args)
        return
    from testkit.pgcluster import start_cluster, stop_cluster

    root = Path(tempfile.mkdtemp(prefix="cabine-bench-pg-"))
    cluster = start_cluster(root)  # before this process pins itself: the server may use any core
    try:
        args.db, args.raw_db = cluster.create_database("registry"), cluster.create_database("raw")
        run(args)
    finally:
        stop_cluster(cluster)
        shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    server, client = split_cpus()
    if client is not None:
        os.sched_setaffinity(0, client)
    begun = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cabine-bench-") as folder:
        data = Path(folder)
        keys = data / "keys.toml"
        key = add_booth_key(keys, "bench-booth", "9PMT")
        db_url = args.db or f"sqlite:///{data / 'registry.sqlite'}"
        process, url = start_registry(db_url, data, keys, server)
        settings = RegistrySettings(
            base_delay_median_hours=0,
            base_delay_p95_hours=0,
            capacity_per_hour=1e9,
            capacity_by_month={},
        )
        try:
            cpus = sorted(os.sched_getaffinity(process.pid))
            where = f"on CPU {cpus}, client on {sorted(os.sched_getaffinity(0))}"
            print(f"registry: 1 worker ({where}), store {db_url.split('@')[-1]}")
            checked: list[str] = []
            for seed, size in enumerate(SIZES, start=1):
                batches = make_batches(size, seed, "bench-booth")
                rows = raw_rows(batches, settings)
                gc.collect()
                gc.freeze()  # the prepared rows stay out of the raw insert's collections
                raw_url = args.raw_db or f"sqlite:///{data / f'raw-{size}.sqlite'}"
                cpu_before = cpu_seconds(process.pid)
                ingest, raw, signing = ingest_beside_raw(url, batches, key.secret, rows, raw_url)
                cpu = cpu_seconds(process.pid) - cpu_before
                print(
                    f"batches of {size:>4}: ingest {ingest:>9,.0f} codes/s, "
                    f"raw executemany {raw:>9,.0f} codes/s, ratio {ingest / raw:.0%} "
                    f"(goal >= 50 %); worker CPU {cpu / CODES_PER_SIZE * 1e6:.0f} us/code; "
                    f"booth signing {signing * 1000:.2f} ms/batch, not counted"
                )
                checked += [c.code for b in batches[:2] for c in b.codes]
                if time.monotonic() - begun > WALL_LIMIT_SECONDS:
                    raise SystemExit("bench took too long; stopping")
            cpu_before = cpu_seconds(process.pid)
            rate, latencies = asyncio.run(check_load(url, checked, args.checks, args.concurrency))
            cpu_per_check = (cpu_seconds(process.pid) - cpu_before) / args.checks
            print(
                f"citizen checks: {rate:,.0f} checks/s with {args.concurrency} in flight "
                f"(goal 1,500), latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, {len(latencies)} checks"
            )
            print(
                f"worker CPU per check {cpu_per_check * 1e6:.0f} us: one free core would serve "
                f"{1 / cpu_per_check:,.0f} checks/s"
            )
            floor = floor_cpu_per_request(args.checks, args.concurrency, server)
            print(
                f"same machine, same moment: a FastAPI endpoint answering a constant costs "
                f"{floor * 1e6:.0f} us CPU per request ({1 / floor:,.0f}/s on a free core)"
            )
        finally:
            process.terminate()
            process.wait(timeout=15)
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
