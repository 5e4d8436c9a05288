"""Uploading due outbox rows to the registry: signed batches, backoff, parking refused rows.

One ``drain`` claims due rows oldest first, uploads them in batches and records each answer:
2xx marks the rows sent; 429, 5xx, timeouts and broken connections are retried with exponential
backoff and full jitter (``Retry-After`` is a floor), measured on the monotonic clock; any other
4xx parks the rows as rejected with the registry's reason. A batch id is derived from the booth
and its codes, so a retry of the same rows is the same request and the registry applies it once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx
from sqlalchemy import Connection

from ephoto.clock import Clock, clock_scale, ensure_utc
from ephoto.wire import BATCH_PATH, Batch, WireCode, sign_request
from transmitter.latency import BoothStage
from transmitter.outbox import DEFAULT_DEAD_LETTER_AGE, Outbox, OutboxRow

log = logging.getLogger("cabine.transmitter")

Recorder = Callable[[Connection], None]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building it (loading the CA bundle) costs more
    than everything else a transmitter does at start."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def batch_id_for(booth_id: str, codes: Sequence[str]) -> str:
    """The same booth and codes always give the same id: a retry is the same batch."""
    digest = hashlib.sha256(f"{booth_id}\n{','.join(sorted(codes))}".encode()).hexdigest()
    return f"b-{digest[:40]}"


def form_batches(rows: Sequence[OutboxRow], batch_size: int) -> list[list[OutboxRow]]:
    """Rows in batches of at most ``batch_size``, one booth each, oldest first.

    Rows that failed together before keep their batch (same rows, same id); new rows are cut
    in age order.
    """
    groups: dict[tuple[str, str], list[OutboxRow]] = {}
    for row in rows:
        key = (row.booth_id, row.batch_id or "")
        groups.setdefault(key, []).append(row)
    batches: list[list[OutboxRow]] = []
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            batches.append(members[start : start + batch_size])
    batches.sort(key=lambda b: (b[0].issued_at, b[0].id))
    return batches


@dataclass(frozen=True)
class UploadResult:
    outcome: Literal["sent", "retry", "rejected"]
    detail: str
    status_code: int | None = None
    retry_after_seconds: float | None = None
    resent_codes: tuple[str, ...] = ()
    resent_count: int = 0  # codes the registry already had (it may answer with a count only)


def parse_retry_after(value: str | None, now: datetime, scale: float) -> float | None:
    """Real seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date in the
    registry's domain time), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (ensure_utc(when) - ensure_utc(now)).total_seconds() / scale)


class Uploader:
    """POSTs signed batches to the registry and says what the answer means for the rows."""

    def __init__(
        self,
        registry_url: str,
        keys: Mapping[str, bytes],
        clock: Clock,
        *,
        timeout_seconds: float = 10.0,
        client: httpx.Client | None = None,
    ):
        self.url = registry_url.rstrip("/") + BATCH_PATH
        self.keys = dict(keys)
        self.clock = clock
        self.scale = clock_scale(clock)
        self.client = client or httpx.Client(timeout=timeout_seconds, verify=tls_context())

    def close(self) -> None:
        self.client.close()

    def upload(self, batch: Batch) -> UploadResult:
        key = self.keys.get(batch.booth_id)
        if key is None:
            return UploadResult(
                "rejected", f"no signing key for booth {batch.booth_id!r} in this transmitter"
            )
        body = batch.to_json()
        headers = sign_request("POST", self.url, body, batch.booth_id, key, self.clock.now())
        headers["Content-Type"] = "application/json"
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return UploadResult("retry", f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return UploadResult("retry", f"connection failed: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            codes, count = _duplicates(response, batch)
            return UploadResult(
                "sent", f"HTTP {status}", status, resent_codes=codes, resent_count=count
            )
        detail = f"HTTP {status}: {_reason(response)}"
        if status == 429 or status >= 500 or status == 408:
            wait = parse_retry_after(
                response.headers.get("Retry-After"), self.clock.now(), self.scale
            )
            return UploadResult("retry", detail, status, retry_after_seconds=wait)
        if 400 <= status < 500:
            return UploadResult("rejected", detail, status)
        return UploadResult("retry", detail, status)


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return str(data)[:300]


def _duplicates(response: httpx.Response, batch: Batch) -> tuple[tuple[str, ...], int]:
    """Codes the registry says it already had, and how many: it answers with a list of codes
    or a count; a count covering the whole batch names them all."""
    try:
        data = response.json()
    except ValueError:
        return (), 0
    dups = data.get("duplicates") if isinstance(data, dict) else None
    if isinstance(dups, list):
        return tuple(str(c) for c in dups), len(dups)
    if isinstance(dups, int) and dups > 0:
        named = tuple(c.code for c in batch.codes) if dups >= len(batch.codes) else ()
        return named, dups
    return (), 0


class Backoff:
    """Exponential backoff with full jitter on the monotonic clock; ``Retry-After`` is a floor.

    After the n-th failure in a row the registry is left alone for a uniform draw in
    [0, min(cap, base * 2**(n-1))] seconds, or for ``Retry-After`` if that is longer.
    """

    def __init__(
        self,
        base_seconds: float = 0.5,
        cap_seconds: float = 60.0,
        *,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if base_seconds <= 0 or cap_seconds < base_seconds:
            raise ValueError(
                f"backoff needs 0 < base ({base_seconds}) <= cap ({cap_seconds}) seconds"
            )
        self.base = base_seconds
        self.cap = cap_seconds
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.failures = 0
        self.open_at = 0.0

    def failure(self, retry_after_seconds: float | None = None) -> float:
        """Record a failure; the real seconds until the next request may go."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 60))
        delay = self.rng.uniform(0.0, ceiling)
        if retry_after_seconds is not None:
            delay = max(delay, retry_after_seconds)
        self.open_at = self.monotonic() + delay
        return delay

    def success(self) -> None:
        self.failures = 0
        self.open_at = 0.0

    def wait_seconds(self) -> float:
        return max(0.0, self.open_at - self.monotonic())


@dataclass
class DrainReport:
    batches_sent: int = 0
    codes_sent: int = 0
    codes_resent: int = 0
    codes_rejected: int = 0
    failed_attempts: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DrainReport) -> None:
        self.batches_sent += other.batches_sent
        self.codes_sent += other.codes_sent
        self.codes_resent += other.codes_resent
        self.codes_rejected += other.codes_rejected
        self.failed_attempts += other.failed_attempts
        self.errors = (self.errors + other.errors)[-20:]


class Dispatcher:
    """Moves due outbox rows to the registry; one drain at a time."""

    def __init__(
        self,
        outbox: Outbox,
        uploader: Uploader,
        clock: Clock,
        *,
        batch_size: int = 200,
        stage: BoothStage | None = None,
        lease_seconds: float = 120.0,
        dead_letter_age: timedelta = DEFAULT_DEAD_LETTER_AGE,
        backoff: Backoff | None = None,
        stop: threading.Event | None = None,
        parallel_uploads: int = 2,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.outbox = outbox
        self.uploader = uploader
        self.clock = clock
        self.batch_size = batch_size
        self.stage = stage or BoothStage()
        self.scale = clock_scale(clock)
        # The lease is real time (how long an upload may take), counted on the domain clock.
        self.lease = timedelta(seconds=lease_seconds * self.scale)
        self.dead_letter_age = dead_letter_age
        self.backoff = backoff or Backoff()
        self.stop = stop or threading.Event()
        if parallel_uploads < 1:
            raise ValueError(f"parallel_uploads must be at least 1, got {parallel_uploads}")
        self.parallel_uploads = parallel_uploads
        self._pool = ThreadPoolExecutor(parallel_uploads, thread_name_prefix="upload")
        self._lock = threading.Lock()

    def domain(self, real_seconds: float) -> timedelta:
        return timedelta(seconds=real_seconds * self.scale)

    def drain(self, max_batches: int | None = None) -> DrainReport:
        """Upload what is due until nothing is, the registry needs a pause, or stop is set.

        Up to ``parallel_uploads`` batches are in flight at once. Batches in flight always
        finish and are recorded before stop takes effect. Answers are recorded in the same
        commit that claims the next rows (one durable write per batch); a crash before that
        commit leaves the rows claimed, their lease brings them back, and the registry then
        sees the same batch again and applies nothing twice.
        """
        with self._lock:
            report = DrainReport()
            self.outbox.flag_dead_letters(self.clock.now(), self.dead_letter_age)
            records: list[Recorder] = []
            claimed: deque[list[OutboxRow]] = deque()
            in_flight: deque[tuple[list[OutboxRow], Batch, Future[UploadResult]]] = deque()
            started = 0
            exhausted = False  # the last claim found nothing due
            while True:
                now = self.clock.now()
                go_on = (
                    not self.stop.is_set()
                    and (max_batches is None or started < max_batches)
                    and self.backoff.wait_seconds() == 0
                    and self.stage.offline_until(now) is None
                )
                need_rows = (
                    go_on
                    and not exhausted
                    and not claimed
                    and len(in_flight) < self.parallel_uploads
                )
                if records or need_rows:
                    with self.outbox.engine.begin() as conn:
                        for record in records:
                            record(conn)
                        records = []
                        rows = (
                            self.outbox.claim_due(now, self.batch_size, self.lease, conn=conn)
                            if need_rows
                            else []
                        )
                    claimed.extend(form_batches(rows, self.batch_size))
                    exhausted = need_rows and not rows
                while (
                    go_on
                    and claimed
                    and len(in_flight) < self.parallel_uploads
                    and (max_batches is None or started < max_batches)
                ):
                    rows_of_batch = claimed.popleft()
                    batch = self._batch(rows_of_batch)
                    in_flight.append(
                        (rows_of_batch, batch, self._pool.submit(self.uploader.upload, batch))
                    )
                    started += 1
                if not in_flight:
                    break
                if (
                    len(in_flight) < self.parallel_uploads
                    and go_on
                    and not exhausted
                    and (max_batches is None or started < max_batches)
                ):
                    continue  # claim the next batch while these are in flight
                rows_of_batch, batch, future = in_flight.popleft()
                records.append(self._outcome(rows_of_batch, batch, future.result(), report))
                exhausted = False
            leftover = [r.id for rows_of_batch in claimed for r in rows_of_batch]
            if records or leftover:
                with self.outbox.engine.begin() as conn:
                    for record in records:
                        record(conn)
                    if leftover:
                        self.outbox.release(leftover, self.clock.now(), conn=conn)
            return report

    @staticmethod
    def _batch(rows: list[OutboxRow]) -> Batch:
        booth_id = rows[0].booth_id
        return Batch(
            batch_id=batch_id_for(booth_id, [r.code for r in rows]),
            booth_id=booth_id,
            codes=tuple(WireCode(r.code, r.issued_at, r.product) for r in rows),
        )

    def _outcome(
        self, rows: list[OutboxRow], batch: Batch, result: UploadResult, report: DrainReport
    ) -> Recorder:
        """What the registry's answer means for the rows: counted now, written down in the
        next commit."""
        ids = [r.id for r in rows]
        now = self.clock.now()
        if result.outcome == "sent":
            self.backoff.success()
            report.batches_sent += 1
            report.codes_sent += len(ids)
            report.codes_resent += result.resent_count
            return lambda conn: self.outbox.mark_sent(
                ids, now, batch_id=batch.batch_id, resent_codes=result.resent_codes, conn=conn
            )
        if result.outcome == "rejected":
            report.codes_rejected += len(ids)
            report.errors.append(result.detail)
            log.warning("batch %s rejected: %s", batch.batch_id, result.detail)
            return lambda conn: self.outbox.mark_rejected(
                ids, result.detail, attempted_at=now, batch_id=batch.batch_id, conn=conn
            )
        delay = self.backoff.failure(result.retry_after_seconds)
        report.failed_attempts += 1
        report.errors.append(result.detail)
        log.info("batch %s failed (%s); next try in %.2f s", batch.batch_id, result.detail, delay)
        retry_at = now + self.domain(delay)
        return lambda conn: self.outbox.mark_failed(
            ids, result.detail, retry_at, attempted_at=now, batch_id=batch.batch_id, conn=conn
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def next_wake_seconds(self) -> float | None:
        """Real seconds until there may be something to send, or None when the outbox has no
        pending row."""
        next_due = self.outbox.next_due_at()
        if next_due is None:
            return None
        now = self.clock.now()
        at = max(next_due, now)
        at = self.stage.online_at(at)
        wait = (at - now).total_seconds() / self.scale
        return max(wait, self.backoff.wait_seconds())
