"""Uploading due outbox rows: signed uploads, backoff, parking refused rows.

Two destinations, one code path. A booth's transmitter sends ePhoto files to the operator's
collector (``POST /v1/files``, :class:`ephoto.epfile.FileUpload`, cut by count and by bytes); the
collector's own outbox sends bare numbers to the registry (``POST /v1/batches``,
:class:`ephoto.wire.Batch`). Both are signed per booth with :func:`ephoto.wire.sign_request`.

One ``drain`` claims due rows oldest first, uploads them and records each answer: 2xx marks the
rows sent; 429, 5xx, timeouts and broken connections are retried with exponential backoff and
full jitter (``Retry-After`` is a floor), measured on the monotonic clock; any other 4xx parks
the rows as rejected with the reason (when the refusal names some items, ``files[i]`` of an
upload or ``codes[i]`` of a batch, only those are parked and the others leave again at once in a
new upload: one refused number must not sink the numbers beside it). An upload id is derived
from the booth and its numbers, so a retry of the same rows is the same request and is applied
once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import re
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
from ephoto.epfile import FILES_PATH, MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES, EphotoFile, FileUpload
from ephoto.wire import BATCH_PATH, Batch, WireCode, sign_request
from transmitter.latency import BoothStage, upload_seconds
from transmitter.outbox import DEFAULT_DEAD_LETTER_AGE, Outbox, OutboxRow, files_of, wire_bytes

log = logging.getLogger("cabine.transmitter")

Recorder = Callable[[Connection], None]
Payload = Batch | FileUpload
"""What one upload carries: bare numbers for the registry, or files for the collector."""

NO_FILE = "no ePhoto file stored with this number; the collector takes files only"
# Room in an upload body for everything but its files: ids, booth and brackets.
UPLOAD_ENVELOPE_BYTES = 256


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building it (loading the CA bundle) costs more
    than everything else a transmitter does at start."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def batch_id_for(booth_id: str, codes: Sequence[str], prefix: str = "b-") -> str:
    """The same booth and codes always give the same id: a retry is the same batch."""
    digest = hashlib.sha256(f"{booth_id}\n{','.join(sorted(codes))}".encode()).hexdigest()
    return f"{prefix}{digest[:40]}"


def upload_id_for(booth_id: str, codes: Sequence[str]) -> str:
    """The id of a file upload: the same booth and numbers always give the same id."""
    return batch_id_for(booth_id, codes, prefix="f-")


def payload_id(payload: Payload) -> str:
    return payload.upload_id if isinstance(payload, FileUpload) else payload.batch_id


def payload_codes(payload: Payload) -> tuple[str, ...]:
    if isinstance(payload, FileUpload):
        return tuple(f.code for f in payload.files)
    return tuple(c.code for c in payload.codes)


def form_batches(
    rows: Sequence[OutboxRow],
    batch_size: int,
    *,
    max_bytes: int | None = None,
    size_of: Callable[[OutboxRow], int] | None = None,
) -> list[list[OutboxRow]]:
    """Rows in batches of at most ``batch_size`` rows (and, when ``max_bytes`` is given, of at
    most ``max_bytes`` by ``size_of``; a row larger than that goes alone), one booth each,
    oldest first.

    Rows that failed together before keep their batch (same rows, same id); new rows are cut
    in age order.
    """
    groups: dict[tuple[str, str], list[OutboxRow]] = {}
    for row in rows:
        key = (row.booth_id, row.batch_id or "")
        groups.setdefault(key, []).append(row)
    batches: list[list[OutboxRow]] = []
    for members in groups.values():
        if max_bytes is None or size_of is None:
            for start in range(0, len(members), batch_size):
                batches.append(members[start : start + batch_size])
            continue
        current: list[OutboxRow] = []
        used = 0
        for row in members:
            size = size_of(row)
            if current and (len(current) >= batch_size or used + size > max_bytes):
                batches.append(current)
                current, used = [], 0
            current.append(row)
            used += size
        if current:
            batches.append(current)
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
    # The numbers a refusal names (a file of the upload or a number of the batch, by index or
    # by number); empty when it is about the whole upload.
    named_codes: tuple[str, ...] = ()


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
    """POSTs signed uploads and says what the answer means for the rows: batches of numbers to
    ``base_url``'s ``/v1/batches`` (the registry), file uploads to its ``/v1/files`` (the
    operator's collector).

    ``uplink_kbps`` is the share of the booth's uplink one upload gets (the uplink divided by
    the uploads in flight at once; 0: unlimited): an upload is given the time its bytes need on
    it (:func:`transmitter.latency.upload_seconds`) on top of ``timeout_seconds`` before it
    counts as timed out.
    """

    def __init__(
        self,
        base_url: str,
        keys: Mapping[str, bytes],
        clock: Clock,
        *,
        timeout_seconds: float = 10.0,
        client: httpx.Client | None = None,
        uplink_kbps: float = 0.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + BATCH_PATH
        self.files_url = self.base_url + FILES_PATH
        self.keys = dict(keys)
        self.clock = clock
        self.scale = clock_scale(clock)
        self.timeout_seconds = timeout_seconds
        self.uplink_kbps = uplink_kbps
        self.client = client or httpx.Client(timeout=timeout_seconds, verify=tls_context())

    def close(self) -> None:
        self.client.close()

    def upload(self, payload: Payload) -> UploadResult:
        key = self.keys.get(payload.booth_id)
        if key is None:
            return UploadResult(
                "rejected", f"no signing key for booth {payload.booth_id!r} in this transmitter"
            )
        url = self.files_url if isinstance(payload, FileUpload) else self.url
        body = payload.to_json()
        headers = sign_request("POST", url, body, payload.booth_id, key, self.clock.now())
        headers["Content-Type"] = "application/json"
        try:
            if self.uplink_kbps:
                timeout = self.timeout_seconds + upload_seconds(len(body), self.uplink_kbps)
                response = self.client.post(url, content=body, headers=headers, timeout=timeout)
            else:
                response = self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return UploadResult("retry", f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return UploadResult("retry", f"connection failed: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            codes, count = _duplicates(response, payload)
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
            named = _named_codes(response, payload)
            return UploadResult("rejected", detail, status, named_codes=named)
        return UploadResult("retry", detail, status)


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return str(data)[:300]


_ITEM_INDEX = {kind: re.compile(rf"{kind}\[(\d+)\]") for kind in ("files", "codes")}


def _named_codes(response: httpx.Response, payload: Payload) -> tuple[str, ...]:
    """The items of ``payload`` a refusal is about: named as ``files[i]`` (a file upload) or
    ``codes[i]`` (a registration batch) in its text, as ``[..., "files", i, ...]`` or
    ``[..., "codes", i, ...]`` in a validation error's ``loc``, or by their number."""
    kind = "files" if isinstance(payload, FileUpload) else "codes"
    codes = payload_codes(payload)
    text = response.text
    named: set[str] = set()
    for match in _ITEM_INDEX[kind].finditer(text):
        index = int(match.group(1))
        if index < len(codes):
            named.add(codes[index])
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        for item in detail:
            loc = item.get("loc") if isinstance(item, dict) else None
            if isinstance(loc, list) and kind in loc:
                at = loc.index(kind) + 1
                if at < len(loc) and isinstance(loc[at], int) and loc[at] < len(codes):
                    named.add(codes[loc[at]])
    named.update(code for code in codes if code in text)
    return tuple(code for code in codes if code in named)


def _duplicates(response: httpx.Response, batch: Payload) -> tuple[tuple[str, ...], int]:
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
        codes = payload_codes(batch)
        return (codes if dups >= len(codes) else ()), dups
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
    """Moves due outbox rows to their destination; one drain at a time.

    ``files=False``: bare numbers, in batches of ``batch_size`` (the registry's ``/v1/batches``).
    ``files=True``: each row's stored file, in uploads of at most ``batch_size`` files (at most
    :data:`ephoto.epfile.MAX_FILES_PER_UPLOAD`) and ``max_upload_bytes`` of body (the
    collector's ``/v1/files``); a row stored without a file is parked as rejected.
    """

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
        files: bool = False,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if files and batch_size > MAX_FILES_PER_UPLOAD:
            raise ValueError(
                f"a file upload carries at most {MAX_FILES_PER_UPLOAD} files, not {batch_size}"
            )
        if not UPLOAD_ENVELOPE_BYTES < max_upload_bytes <= MAX_UPLOAD_BYTES:
            raise ValueError(
                f"max_upload_bytes must be above {UPLOAD_ENVELOPE_BYTES} and at most "
                f"{MAX_UPLOAD_BYTES}, got {max_upload_bytes}"
            )
        self.files = files
        self.max_upload_bytes = max_upload_bytes
        # Files of the rows claimed and not yet uploaded, by number, with their body size.
        self._files: dict[str, tuple[EphotoFile, int]] = {}
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
            in_flight: deque[tuple[list[OutboxRow], Payload, Future[UploadResult]]] = deque()
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
                        claimed_any = bool(rows)
                        if rows and self.files:
                            rows = self._with_files(rows, now, conn, report)
                    claimed.extend(self._cut(rows))
                    exhausted = need_rows and not claimed_any
                    if claimed_any and not rows and not in_flight:
                        continue  # every row claimed was parked (no file): claim again
                while (
                    go_on
                    and claimed
                    and len(in_flight) < self.parallel_uploads
                    and (max_batches is None or started < max_batches)
                ):
                    rows_of_batch = claimed.popleft()
                    batch = self._payload(rows_of_batch)
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
            self._files.clear()
            return report

    def _with_files(
        self, rows: list[OutboxRow], now: datetime, conn: Connection, report: DrainReport
    ) -> list[OutboxRow]:
        """Load the claimed rows' files (in the claim's transaction); park rows that have none."""
        files = files_of(conn, [r.code for r in rows])
        kept: list[OutboxRow] = []
        for row in rows:
            file = files.get(row.code)
            if file is None:
                self.outbox.mark_rejected(
                    [row.id],
                    NO_FILE,
                    attempted_at=now,
                    batch_id=upload_id_for(row.booth_id, [row.code]),
                    conn=conn,
                )
                report.codes_rejected += 1
                report.errors.append(f"{row.code}: {NO_FILE}")
                log.warning("%s parked: %s", row.code, NO_FILE)
                continue
            self._files[row.code] = (file, wire_bytes(file))
            kept.append(row)
        return kept

    def _cut(self, rows: list[OutboxRow]) -> list[list[OutboxRow]]:
        if not self.files:
            return form_batches(rows, self.batch_size)
        return form_batches(
            rows,
            self.batch_size,
            max_bytes=self.max_upload_bytes - UPLOAD_ENVELOPE_BYTES,
            size_of=lambda row: self._files[row.code][1],
        )

    def _payload(self, rows: list[OutboxRow]) -> Payload:
        booth_id = rows[0].booth_id
        codes = [r.code for r in rows]
        if self.files:
            return FileUpload(
                upload_id=upload_id_for(booth_id, codes),
                booth_id=booth_id,
                files=tuple(self._files.pop(code)[0] for code in codes),
            )
        return Batch(
            batch_id=batch_id_for(booth_id, codes),
            booth_id=booth_id,
            codes=tuple(WireCode(r.code, r.issued_at, r.product) for r in rows),
        )

    def _outcome(
        self, rows: list[OutboxRow], payload: Payload, result: UploadResult, report: DrainReport
    ) -> Recorder:
        """What the answer means for the rows: counted now, written down in the next commit."""
        ids = [r.id for r in rows]
        now = self.clock.now()
        upload_id = payload_id(payload)
        if result.outcome == "sent":
            self.backoff.success()
            report.batches_sent += 1
            report.codes_sent += len(ids)
            report.codes_resent += result.resent_count
            return lambda conn: self.outbox.mark_sent(
                ids, now, batch_id=upload_id, resent_codes=result.resent_codes, conn=conn
            )
        if result.outcome == "rejected":
            named = set(result.named_codes)
            parked = [r.id for r in rows if r.code in named] if named else ids
            back = [i for i in ids if i not in set(parked)]
            report.codes_rejected += len(parked)
            report.errors.append(result.detail)
            log.warning(
                "upload %s: %d of %d rejected: %s",
                upload_id,
                len(parked),
                len(ids),
                result.detail,
            )

            def park(conn: Connection) -> None:
                self.outbox.mark_rejected(
                    parked, result.detail, attempted_at=now, batch_id=upload_id, conn=conn
                )
                if back:  # refused for another item: they leave again at once, in a new upload
                    self.outbox.release(back, now, conn=conn, regroup=True)

            return park
        delay = self.backoff.failure(result.retry_after_seconds)
        report.failed_attempts += 1
        report.errors.append(result.detail)
        log.info("upload %s failed (%s); next try in %.2f s", upload_id, result.detail, delay)
        retry_at = now + self.domain(delay)
        return lambda conn: self.outbox.mark_failed(
            ids, result.detail, retry_at, attempted_at=now, batch_id=upload_id, conn=conn
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
