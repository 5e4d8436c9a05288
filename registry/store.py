"""The registry's store: codes with their ingestion times, batches, nonces, and the QA knobs.

SQLAlchemy Core over SQLite (WAL, the default) or PostgreSQL. Every rule that must hold when
several workers serve at once is enforced by the database, not by a process lock:

- one row per code (unique constraint); a code already stored is a duplicate, never changed;
- one row per batch id, holding the answer given, so a retried batch gets the same answer;
- one row per nonce until its signature is stale, so a replayed request is refused;
- batches queue one at a time behind the single ``registry_state`` row, which holds the FIFO's
  tail (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writer lock does the same);
- a code is redeemed by one conditional ``UPDATE``, so of many concurrent redeems one wins.

A code's state is derived from its stored times and the clock (:func:`state_of`), so no
background job flips states.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    case,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from ephoto.clock import OffsetClock, ensure_utc
from ephoto.dbtypes import UTCDateTime, configure_sqlite_durability
from ephoto.validity import expires_at
from ephoto.vocabulary import CODE_STATES, CodeState
from registry.ingestion import IngestionModel

metadata = MetaData()

codes = Table(
    "codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(22), nullable=False),
    Column("booth_id", String(40), nullable=False),
    Column("batch_id", String(64), nullable=False),
    Column("product", String(40), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processing_end", UTCDateTime, nullable=False),
    Column("base_delay_hours", Float, nullable=False),
    Column("active_at", UTCDateTime, nullable=False),
    Column("redeemed_at", UTCDateTime, nullable=True),
    Column("redeemed_procedure", String(20), nullable=True),
    # The digests of the file the state fetched and checked when the number was used.
    Column("redeemed_photo_sha256", String(64), nullable=True),
    Column("redeemed_signature_sha256", String(64), nullable=True),
    UniqueConstraint("code", name="codes_code_unique"),
)

# Columns added after the first release: a store made before them gets them on start.
_ADDED_CODE_COLUMNS = ("redeemed_photo_sha256", "redeemed_signature_sha256")

# Fetches at use that came back with no usable file (not the collector being away): the
# operator's to mend, so QA and the support desk can see them.
fetch_failures = Table(
    "fetch_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(22), nullable=False, index=True),
    Column("operator", String(4), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("booth_id", String(40), nullable=False),
    Column("content_digest", String(64), nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

nonces = Table(
    "nonces",
    metadata,
    Column("nonce", String(200), primary_key=True),
    Column("booth_id", String(40), nullable=False),
    Column("forget_after", UTCDateTime, nullable=False),
)

registry_state = Table(
    "registry_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("queue_tail", UTCDateTime, nullable=True),
    Column("clock_offset_seconds", Float, nullable=False),
    Column("p_error_5xx", Float, nullable=False),
    Column("p_timeout_after_apply", Float, nullable=False),
    Column("extra_latency_ms", Float, nullable=False),
)

# Nonces are purged at most this often per process: a cheap delete, but not on every batch.
_NONCE_PURGE_EVERY = 50


class ReplayedRequest(Exception):
    """The signature's nonce was already seen within the signature window."""

    def __init__(self, nonce: str):
        self.nonce = nonce
        super().__init__(f"nonce {nonce!r} was already used: the request is a replay")


class ControlChanged(Exception):
    """The registry's clock offset or fault knobs are not what the caller assumed: nothing
    was stored; read them (``control``) and handle the batch again."""


class BatchIdReused(Exception):
    """A batch id came back with different codes: idempotency cannot hold."""

    def __init__(self, batch_id: str):
        self.batch_id = batch_id
        super().__init__(
            f"batch_id {batch_id!r} was already received with different codes; "
            "a new batch needs a new batch_id"
        )


class IncomingCode(NamedTuple):
    """A code as a booth uploaded it, checked (a tuple: a batch makes thousands of them)."""

    code: str
    issued_at: datetime
    product: str


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    duplicates: int
    replayed_batch: bool = False
    faults: Faults | None = None
    """The fault knobs as they stood while the batch was stored."""


@dataclass(frozen=True)
class StoredCode:
    code: str
    booth_id: str
    batch_id: str
    product: str
    issued_at: datetime
    expires_at: datetime
    received_at: datetime
    processing_end: datetime
    base_delay_hours: float
    active_at: datetime
    redeemed_at: datetime | None
    redeemed_procedure: str | None
    redeemed_photo_sha256: str | None = None
    redeemed_signature_sha256: str | None = None


@dataclass(frozen=True)
class FetchFailure:
    code: str
    operator: str
    kind: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class CodeTimes:
    """What a citizen check needs to know about a stored code (a slimmer read than
    :class:`StoredCode`)."""

    code: str
    product: str
    active_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None


@dataclass(frozen=True)
class Faults:
    p_error_5xx: float = 0.0
    p_timeout_after_apply: float = 0.0
    extra_latency_ms: float = 0.0

    @property
    def before_apply(self) -> bool:
        """Faults that act before a batch is stored (added latency, injected 5xx)."""
        return self.p_error_5xx > 0 or self.extra_latency_ms > 0


@dataclass(frozen=True)
class Stats:
    by_state: dict[str, int]
    backlog: int
    oldest_pending_received_at: datetime | None
    queue_tail: datetime | None


def state_of(row: StoredCode | CodeTimes, now: datetime) -> CodeState:
    """pending, active, used or expired at ``now``.

    Used wins over everything (it happened); an expired code is expired even if it never
    became active (uploaded too late); otherwise it is pending until ``active_at``.
    """
    if row.redeemed_at is not None:
        return CodeState.USED
    if now >= row.expires_at:
        return CodeState.EXPIRED
    if now < row.active_at:
        return CodeState.PENDING
    return CodeState.ACTIVE


def content_digest(booth_id: str, items: Sequence[IncomingCode]) -> str:
    """What a batch says, independent of JSON spacing or key order."""
    text = "".join(
        [f"\n{item.code}|{ensure_utc(item.issued_at).isoformat()}|{item.product}" for item in items]
    )
    return hashlib.sha256((booth_id + text).encode()).hexdigest()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and synchronous=FULL, PostgreSQL a pool
    big enough for the threads a worker runs requests on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, pool_size=20, max_overflow=20, pool_timeout=30, pool_use_lifo=True
        )
        configure_sqlite_durability(engine)
        return engine
    return create_engine(url, pool_size=20, max_overflow=30, pool_timeout=30, pool_pre_ping=False)


class RegistryStore:
    """All the registry's reads and writes, one ``engine.begin()`` per unit of work."""

    def __init__(self, engine: Engine, model: IngestionModel):
        self.engine = engine
        self.model = model
        self._batches_since_purge = 0
        self._readers = threading.local()
        self._insert_skipping_stored = _insert_skipping_stored(engine)
        # The clock offset and fault knobs last read by this process, or None after it
        # changed them (see ``known_control``).
        self._control_seen: tuple[float, Faults] | None = None

    @classmethod
    def from_url(cls, url: str, model: IngestionModel) -> RegistryStore:
        store = cls(make_engine(url), model)
        store.create_schema()
        return store

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        self._add_missing_columns()
        with self.engine.begin() as conn:
            present = conn.execute(select(registry_state.c.id)).first()
            if present is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(registry_state).values(
                                id=1,
                                queue_tail=None,
                                clock_offset_seconds=0.0,
                                p_error_5xx=0.0,
                                p_timeout_after_apply=0.0,
                                extra_latency_ms=0.0,
                            )
                        )
                except IntegrityError:
                    pass  # another worker created it first

    def _add_missing_columns(self) -> None:
        present = {c["name"] for c in inspect(self.engine).get_columns("codes")}
        for name in _ADDED_CODE_COLUMNS:
            if name in present:
                continue
            column = codes.c[name]
            kind = column.type.compile(dialect=self.engine.dialect)
            try:
                with self.engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE codes ADD COLUMN {name} {kind}"))
            except (OperationalError, ProgrammingError):
                pass  # another worker added it meanwhile

    def dispose(self) -> None:
        self._drop_reader()
        self.engine.dispose()

    # --- booth uploads -------------------------------------------------------------------

    def remember_nonce(self, nonce: str, booth_id: str, forget_after: datetime) -> None:
        """Record a nonce on its own (for requests refused after the signature check)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(nonces).values(nonce=nonce, booth_id=booth_id, forget_after=forget_after)
                )
        except IntegrityError:
            raise ReplayedRequest(nonce) from None

    def ingest(
        self,
        batch_id: str,
        booth_id: str,
        items: Sequence[IncomingCode],
        *,
        received_at: datetime,
        nonce: str,
        nonce_forget_after: datetime,
        assumed_offset: float | None = None,
    ) -> BatchResult:
        """Store a batch's new codes behind the FIFO's tail; the same batch again gets the
        same answer. Raises :class:`ReplayedRequest` or :class:`BatchIdReused`.

        ``assumed_offset``: the clock offset the caller took ``received_at`` from without
        reading it first (``known_control``). The offset and fault knobs are read under the
        queue's lock; if the offset differs or a fault acts before storing, nothing is stored
        and :class:`ControlChanged` is raised.
        """
        received_at = ensure_utc(received_at)
        digest = content_digest(booth_id, items)
        try:
            with self.engine.begin() as conn:
                # The nonce first: it is a write, so on SQLite it also takes the writer lock.
                conn.execute(
                    _INSERT_NONCE,
                    {"nonce": nonce, "booth_id": booth_id, "forget_after": nonce_forget_after},
                )
                self._maybe_purge_nonces(conn, received_at)
                # The FIFO's tail, locked: batches queue one at a time. The earlier batch is
                # read after the lock is held, by a statement of its own, so that on
                # PostgreSQL it sees a concurrent twin of this batch that committed meanwhile.
                tail, offset, *knobs = conn.execute(_QUEUE_TAIL_FOR_UPDATE).one()
                faults = Faults(*knobs)
                self._control_seen = (offset, faults)
                if assumed_offset is not None and (offset != assumed_offset or faults.before_apply):
                    raise ControlChanged()
                earlier = conn.execute(_EARLIER_BATCH, {"batch_id": batch_id}).first()
                if earlier is not None:
                    if earlier.content_digest != digest:
                        raise BatchIdReused(batch_id)
                    return BatchResult(
                        earlier.accepted, earlier.duplicates, replayed_batch=True, faults=faults
                    )
                rows, duplicates, tail = self._store_new_codes(
                    conn, batch_id, booth_id, items, received_at, tail
                )
                if rows:
                    conn.execute(_SET_QUEUE_TAIL, {"tail": tail})
                conn.execute(
                    _INSERT_BATCH,
                    {
                        "batch_id": batch_id,
                        "booth_id": booth_id,
                        "content_digest": digest,
                        "accepted": len(rows),
                        "duplicates": duplicates,
                        "received_at": received_at,
                    },
                )
                return BatchResult(len(rows), duplicates, faults=faults)
        except IntegrityError as exc:
            if _is_nonce_conflict(exc):
                raise ReplayedRequest(nonce) from None
            raise

    def _store_new_codes(
        self,
        conn: Connection,
        batch_id: str,
        booth_id: str,
        items: Sequence[IncomingCode],
        received_at: datetime,
        tail: datetime | None,
    ) -> tuple[list[dict[str, Any]], int, datetime | None]:
        """Insert the batch's codes not stored yet, in queue order behind ``tail``; returns
        the rows stored, the duplicates and the new tail.

        Optimistic where the engine counts rows of a multi-row insert: every code is taken as
        new and inserted with conflicts on the code skipped. If the count falls short, some
        were stored already (or came twice): the rows just inserted, all carrying this
        batch's id, are taken back and the batch is stored again knowing which are new, so
        no queue slot is left to a duplicate.
        """
        if self._insert_skipping_stored is not None:
            rows, _, new_tail = self._rows(batch_id, booth_id, items, received_at, tail)
            if conn.execute(self._insert_skipping_stored, rows).rowcount == len(rows):
                return rows, 0, new_tail
            conn.execute(_DELETE_BATCH_CODES, {"batch_id": batch_id})
        wanted = [item.code for item in items]
        stored: set[str] = set()
        # Chunked so a big batch stays under every engine's bound-parameter limit.
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            stored.update(conn.execute(_STORED_CODES, {"wanted": chunk}).scalars())
        rows, duplicates, tail = self._rows(batch_id, booth_id, items, received_at, tail, stored)
        if rows:
            conn.execute(_INSERT_CODE, rows)
        return rows, duplicates, tail

    def _rows(
        self,
        batch_id: str,
        booth_id: str,
        items: Sequence[IncomingCode],
        received_at: datetime,
        tail: datetime | None,
        stored: set[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int, datetime | None]:
        """The rows to store for ``items`` minus those in ``stored`` and repeats."""
        if stored is None:
            fresh, duplicates = items, 0
        else:
            fresh, duplicates = [], 0
            for item in items:
                if item.code in stored:
                    duplicates += 1
                    continue
                stored.add(item.code)
                fresh.append(item)
        model = self.model
        delay = model.base_delay
        ends = model.processing_ends(received_at, tail, len(fresh))
        rows: list[dict[str, Any]] = []
        append = rows.append
        for item, end in zip(fresh, ends, strict=True):
            base_hours = delay.for_code(item.code)
            append(
                {
                    "code": item.code,
                    "booth_id": booth_id,
                    "batch_id": batch_id,
                    "product": item.product,
                    "issued_at": item.issued_at,
                    "expires_at": expires_at(item.issued_at),
                    "received_at": received_at,
                    "processing_end": end,
                    "base_delay_hours": base_hours,
                    "active_at": end + timedelta(hours=base_hours) if base_hours else end,
                    "redeemed_at": None,
                    "redeemed_procedure": None,
                }
            )
        return rows, duplicates, ends[-1] if ends else tail

    def _maybe_purge_nonces(self, conn: Any, now: datetime) -> None:
        self._batches_since_purge += 1
        if self._batches_since_purge >= _NONCE_PURGE_EVERY:
            self._batches_since_purge = 0
            conn.execute(delete(nonces).where(nonces.c.forget_after < now))

    # --- citizens ------------------------------------------------------------------------

    def find(self, code: str) -> StoredCode | None:
        with self.engine.connect() as conn:
            row = conn.execute(_SELECT_CODE.where(codes.c.code == code)).first()
        return StoredCode(**row._mapping) if row is not None else None

    def lookup(self, code: str, clock: OffsetClock) -> tuple[StoredCode | None, datetime]:
        """The stored code (or None) and the registry's "now", in one query: the QA clock
        offset lives in the store so every worker agrees on it."""
        with self.engine.connect() as conn:
            row = conn.execute(_LOOKUP, {"code": code}).one()
        now = _synced_now(clock, row[0])
        return (StoredCode(*row[1:]) if row[1] is not None else None), now

    def check_lookup(self, code: str, clock: OffsetClock) -> tuple[CodeTimes | None, datetime]:
        """Like :meth:`lookup` with only what a citizen check needs, on a connection the
        calling thread keeps (autocommit, so each read sees the latest commits): the hottest
        read of the registry skips the pool and most of the row decoding."""
        try:
            row = self._reader().execute(_CHECK_LOOKUP, {"code": code}).one()
        except DBAPIError:
            self._drop_reader()  # a broken connection (database restarted): retry on a new one
            row = self._reader().execute(_CHECK_LOOKUP, {"code": code}).one()
        now = _synced_now(clock, row[0])
        return (CodeTimes(*row[1:]) if row[1] is not None else None), now

    def _reader(self) -> Connection:
        conn = getattr(self._readers, "conn", None)
        if conn is None or conn.closed:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._readers.conn = conn
        return conn

    def _drop_reader(self) -> None:
        conn = getattr(self._readers, "conn", None)
        self._readers.conn = None
        if conn is not None:
            try:
                conn.invalidate()
            except DBAPIError:
                pass

    def now(self, clock: OffsetClock) -> datetime:
        """The registry's "now": ``clock`` brought up to the offset QA set in the store."""
        with self.engine.connect() as conn:
            seconds = conn.execute(
                select(registry_state.c.clock_offset_seconds).where(registry_state.c.id == 1)
            ).scalar_one()
        return _synced_now(clock, seconds)

    def redeem(
        self,
        code: str,
        procedure: str,
        clock: OffsetClock,
        photo_sha256: str | None = None,
        signature_sha256: str | None = None,
    ) -> tuple[bool, StoredCode | None, datetime]:
        """Mark an active code used by one conditional UPDATE, keeping the digests of the file
        the state checked (None when its operator has no collector).

        Returns (won, the code as stored afterwards, now): ``won`` is True for the one caller
        that redeemed it, however many try at once.
        """
        with self.engine.begin() as conn:
            seconds = conn.execute(
                select(registry_state.c.clock_offset_seconds).where(registry_state.c.id == 1)
            ).scalar_one()
            now = _synced_now(clock, seconds)
            result = conn.execute(
                update(codes)
                .where(
                    codes.c.code == code,
                    codes.c.redeemed_at.is_(None),
                    codes.c.active_at <= now,
                    codes.c.expires_at > now,
                )
                .values(
                    redeemed_at=now,
                    redeemed_procedure=procedure,
                    redeemed_photo_sha256=photo_sha256,
                    redeemed_signature_sha256=signature_sha256,
                )
            )
            row = conn.execute(_SELECT_CODE.where(codes.c.code == code)).first()
        return result.rowcount == 1, (StoredCode(**row._mapping) if row is not None else None), now

    def record_fetch_failure(self, failure: FetchFailure) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(fetch_failures).values(
                    code=failure.code,
                    operator=failure.operator,
                    kind=failure.kind,
                    reason=failure.reason[:500],
                    at=failure.at,
                )
            )

    def fetch_failures(
        self, code: str | None = None, limit: int = 100, operator: str | None = None
    ) -> list[FetchFailure]:
        """The latest recorded fetch failures, newest first (of one number, one operator, or
        all)."""
        query = select(
            fetch_failures.c.code,
            fetch_failures.c.operator,
            fetch_failures.c.kind,
            fetch_failures.c.reason,
            fetch_failures.c.at,
        ).order_by(fetch_failures.c.id.desc())
        if code is not None:
            query = query.where(fetch_failures.c.code == code)
        if operator is not None:
            query = query.where(fetch_failures.c.operator == operator)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [FetchFailure(*row) for row in rows]

    def control(self, clock: OffsetClock) -> tuple[datetime, Faults]:
        """The registry's "now" and the fault knobs, in one query (read per batch). A pooled
        connection, not a reader kept per thread: batches run on the thread pool, whose
        threads would each hold a connection for good."""
        with self.engine.connect() as conn:
            row = conn.execute(_CONTROL).one()
        faults = Faults(*row[1:])
        self._control_seen = (row[0], faults)
        return _synced_now(clock, row[0]), faults

    def known_control(self) -> tuple[float, Faults] | None:
        """The clock offset (seconds) and fault knobs this process last read, None when it
        has not read them since changing them. Another worker may have changed them since:
        :meth:`ingest` checks the offset it was given under the queue's lock.

        Always None on PostgreSQL: there the plain read also keeps the one ``registry_state``
        row quick to reach. Touched only by locking reads and updates, its dead versions
        piled up and each batch took longer than the one before (store alone, batches of
        100: 15 ms growing to 80 ms within 180 batches; flat at 13-16 ms with the read)."""
        if self.engine.dialect.name != "sqlite":
            return None
        return self._control_seen

    def advance_clock(self, seconds: float, reset: bool = False) -> timedelta:
        """Move the registry's clock forward for every worker, after putting it back to the
        shared clock first when ``reset``; returns the new offset. Raises
        :class:`ClockOutOfBounds` (and moves nothing) past ``MAX_CLOCK_OFFSET``."""
        if not seconds >= 0:
            raise ValueError(f"advance_seconds must be >= 0 (the clock never goes back): {seconds}")
        with self.engine.begin() as conn:
            current = conn.execute(
                select(registry_state.c.clock_offset_seconds).where(registry_state.c.id == 1)
            ).scalar_one()
            start = 0.0 if reset else min(current, MAX_CLOCK_OFFSET.total_seconds())
            if start + seconds > MAX_CLOCK_OFFSET.total_seconds():
                raise ClockOutOfBounds(
                    f"advance_seconds {seconds:g} would put the registry's clock "
                    f"{(start + seconds) / 86400:.0f} days ahead; at most "
                    f'{MAX_CLOCK_OFFSET.days} days in all (reset it with "reset": true)'
                )
            if reset or current != start:
                conn.execute(
                    update(registry_state)
                    .where(registry_state.c.id == 1)
                    .values(clock_offset_seconds=start)
                )
            conn.execute(
                update(registry_state)
                .where(registry_state.c.id == 1)
                .values(clock_offset_seconds=registry_state.c.clock_offset_seconds + seconds)
            )
            total = conn.execute(
                select(registry_state.c.clock_offset_seconds).where(registry_state.c.id == 1)
            ).scalar_one()
        self._control_seen = None
        return timedelta(seconds=total)

    def set_faults(self, faults: Faults) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(registry_state)
                .where(registry_state.c.id == 1)
                .values(
                    p_error_5xx=faults.p_error_5xx,
                    p_timeout_after_apply=faults.p_timeout_after_apply,
                    extra_latency_ms=faults.extra_latency_ms,
                )
            )
        self._control_seen = None

    def stats(self, now: datetime) -> Stats:
        used = codes.c.redeemed_at.is_not(None)
        expired = ~used & (codes.c.expires_at <= now)
        pending = ~used & (codes.c.expires_at > now) & (codes.c.active_at > now)
        active = ~used & (codes.c.expires_at > now) & (codes.c.active_at <= now)

        def count(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    count(pending),
                    count(active),
                    count(used),
                    count(expired),
                    count(codes.c.processing_end > now),
                )
            ).one()
            oldest = conn.execute(select(func.min(codes.c.received_at)).where(pending)).scalar_one()
            tail = conn.execute(
                select(registry_state.c.queue_tail).where(registry_state.c.id == 1)
            ).scalar_one()
        by_state = dict(zip(CODE_STATES, (int(v) for v in row[:4]), strict=True))
        if oldest is not None:
            oldest = UTCDateTime().process_result_value(oldest, self.engine.dialect)
        return Stats(by_state, int(row[4]), oldest, tail)


_SELECT_CODE = select(
    codes.c.code,
    codes.c.booth_id,
    codes.c.batch_id,
    codes.c.product,
    codes.c.issued_at,
    codes.c.expires_at,
    codes.c.received_at,
    codes.c.processing_end,
    codes.c.base_delay_hours,
    codes.c.active_at,
    codes.c.redeemed_at,
    codes.c.redeemed_procedure,
    codes.c.redeemed_photo_sha256,
    codes.c.redeemed_signature_sha256,
)


# Built once: the citizen check runs it on every request.
_LOOKUP = (
    select(registry_state.c.clock_offset_seconds, *_SELECT_CODE.selected_columns)
    .select_from(registry_state.outerjoin(codes, codes.c.code == bindparam("code")))
    .where(registry_state.c.id == 1)
)


_CHECK_LOOKUP = (
    select(
        registry_state.c.clock_offset_seconds,
        codes.c.code,
        codes.c.product,
        codes.c.active_at,
        codes.c.expires_at,
        codes.c.redeemed_at,
    )
    .select_from(registry_state.outerjoin(codes, codes.c.code == bindparam("code")))
    .where(registry_state.c.id == 1)
)


# Statements built once: building one per batch cost more than running it.
_INSERT_NONCE = insert(nonces)
_CONTROL = select(
    registry_state.c.clock_offset_seconds,
    registry_state.c.p_error_5xx,
    registry_state.c.p_timeout_after_apply,
    registry_state.c.extra_latency_ms,
).where(registry_state.c.id == 1)

# The FIFO's tail, locked, with the control columns: a batch checks them in the same read.
_QUEUE_TAIL_FOR_UPDATE = (
    select(registry_state.c.queue_tail, *_CONTROL.selected_columns)
    .where(registry_state.c.id == 1)
    .with_for_update()
)
_EARLIER_BATCH = select(batches.c.content_digest, batches.c.accepted, batches.c.duplicates).where(
    batches.c.batch_id == bindparam("batch_id")
)
_STORED_CODES = select(codes.c.code).where(codes.c.code.in_(bindparam("wanted", expanding=True)))
_INSERT_CODE = insert(codes)
_DELETE_BATCH_CODES = delete(codes).where(codes.c.batch_id == bindparam("batch_id"))
_SET_QUEUE_TAIL = (
    update(registry_state).where(registry_state.c.id == 1).values(queue_tail=bindparam("tail"))
)
_INSERT_BATCH = insert(batches)
_CLOCK_SYNC = threading.Lock()

MAX_CLOCK_OFFSET = timedelta(days=50 * 366)
"""How far QA may move the registry's clock ahead in all (the stored offset's bound): far past
any validity rule, and far from the calendar's end, where every date computation would fail."""


class ClockOutOfBounds(ValueError):
    """A QA clock move would take the registry's clock past ``MAX_CLOCK_OFFSET``."""


class RegistryClock(OffsetClock):
    """The registry's clock: the shared clock plus the QA offset stored in the registry, which
    QA moves forward and may put back to zero (``/admin/clock``)."""

    def __init__(self, base: Any):
        super().__init__(base)
        self._shift_lock = threading.Lock()
        self._shift = timedelta(0)

    @property
    def offset(self) -> timedelta:
        with self._shift_lock:
            return self._shift

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"clock cannot go back by {delta}")
        with self._shift_lock:
            self._shift += delta
        return self.now()

    def set_offset(self, offset: timedelta) -> None:
        with self._shift_lock:
            self._shift = offset

    def now(self) -> datetime:
        return self.base.now() + self.offset


def _insert_skipping_stored(engine: Engine) -> Any:
    """``INSERT ... ON CONFLICT (code) DO NOTHING`` where the driver reports how many rows a
    multi-row insert stored (sqlite3 sums them); None elsewhere, where the store looks the
    codes up first (psycopg answers -1 for ``executemany``)."""
    if engine.dialect.name != "sqlite":
        return None
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(codes).on_conflict_do_nothing(index_elements=[codes.c.code])


def _synced_now(clock: OffsetClock, offset_seconds: float) -> datetime:
    """``clock.now()`` once its offset has caught up with the stored one (which only grows,
    unless QA resets it). An offset stored past the bound (before there was one) counts as the
    bound, so such a store keeps serving and QA can reset it.

    Under a lock: two request threads that both saw the clock behind must not both move it.
    """
    target = min(timedelta(seconds=offset_seconds), MAX_CLOCK_OFFSET)
    if isinstance(clock, RegistryClock):
        if clock.offset != target:
            with _CLOCK_SYNC:
                clock.set_offset(target)
        return clock.now()
    if clock.offset < target:
        with _CLOCK_SYNC:
            behind = target - clock.offset
            if behind > timedelta(0):
                clock.advance(behind)
    return clock.now()


def _is_nonce_conflict(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "nonce" in text
