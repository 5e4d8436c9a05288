"""The collector's store: every received file with its seal, the request nonces, the QA knobs,
and the registration outbox (``transmitter.outbox``'s table, in the same database).

Storage choice: the photo and the signature are blobs in the file's row. A file, its seal and
its outbox row commit in one transaction, so a refused upload stores nothing and a crash leaves
either the whole file or none of it, on SQLite (WAL, synchronous=FULL, secure_delete) and on
PostgreSQL alike (docs/integrator/collector.md, "Storage", for the measurement behind it).

Rules the database enforces, so they hold with several workers:

- one row per number (unique); a number already stored is never overwritten;
- one row per nonce until its signature is stale (replays refused);
- the QA knobs (clock offset, faults) live in the single ``collector_state`` row.

Retention keeps the row and clears both images (``deleted_at`` set): the number stays known
and the fetch answers 410.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ephoto.clock import Clock, ensure_utc
from ephoto.dbtypes import UTCDateTime, configure_sqlite_durability
from ephoto.epfile import EphotoFile, FileMeta
from transmitter import outbox as registration

metadata = MetaData()

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(22), nullable=False, unique=True),
    Column("booth_id", String(40), nullable=False),
    Column("operator", String(4), nullable=False),
    Column("product", String(40), nullable=False),
    Column("procedure", String(20), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("upload_id", String(64), nullable=False),
    # The whole metadata's digest: "the same file again" means the same digest.
    Column("meta_sha256", String(64), nullable=False),
    Column("photo_sha256", String(64), nullable=False),
    Column("signature_sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("seal", Text, nullable=False),
    Column("sealed_at", UTCDateTime, nullable=False),
    Column("photo", LargeBinary, nullable=True),
    Column("signature", LargeBinary, nullable=True),
    Column("delete_after", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
)
# The retention job walks files not yet deleted, soonest due first.
Index("files_retention", files.c.deleted_at, files.c.delete_after)

nonces = Table(
    "nonces",
    metadata,
    Column("nonce", String(200), primary_key=True),
    Column("signer", String(40), nullable=False),
    Column("forget_after", UTCDateTime, nullable=False),
)

collector_state = Table(
    "collector_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("clock_offset_seconds", Float, nullable=False),
    Column("down", Boolean, nullable=False),
    Column("extra_latency_ms", Float, nullable=False),
    Column("corrupt_files", Boolean, nullable=False),
)


class ReplayedRequest(Exception):
    def __init__(self, nonce: str):
        self.nonce = nonce
        super().__init__(f"nonce {nonce!r} was already used: the request is a replay")


class NumberTaken(Exception):
    """A different file came for a number already stored; nothing of the upload was stored."""

    def __init__(self, index: int, code: str):
        self.index = index
        self.code = code
        super().__init__(
            f"files[{index}].code {code}: a different file is already stored for this number; "
            "a stored file is never replaced"
        )


@dataclass(frozen=True)
class Faults:
    down: bool = False
    extra_latency_ms: float = 0.0
    corrupt_files: bool = False


@dataclass(frozen=True)
class SealedFile:
    """A checked file ready to store: the file, its seal and when it was sealed."""

    file: EphotoFile
    seal: str
    sealed_at: datetime
    delete_after: datetime


@dataclass(frozen=True)
class UploadResult:
    accepted: int
    duplicates: list[str]


@dataclass(frozen=True)
class FileRecord:
    code: str
    booth_id: str
    product: str
    procedure: str
    issued_at: datetime
    received_at: datetime
    sealed_at: datetime
    registered_at: datetime | None
    deleted_at: datetime | None
    delete_after: datetime
    photo_sha256: str
    signature_sha256: str
    size_bytes: int
    registration: str | None = None
    """Where its registration with the state stands: pending, sent or rejected (refused by the
    state for good and parked: the operator must act); None when it has no outbox row."""
    registration_refusal: str | None = None
    """The state's refusal, when it refused the number."""
    registration_refused_at: datetime | None = None


@dataclass(frozen=True)
class RefusedNumber:
    """A number the state refused to register, parked in the registration outbox."""

    code: str
    reason: str | None
    refused_at: datetime | None


@dataclass(frozen=True)
class StoredImages:
    code: str
    seal: str
    photo_jpeg: bytes | None
    signature_png: bytes | None
    deleted_at: datetime | None


@dataclass(frozen=True)
class Stats:
    files_received: int
    files_sealed: int
    registered: int
    pending_registration: int
    rejected_registration: int
    deleted: int
    bytes_stored: int
    refused: tuple[RefusedNumber, ...] = ()
    """The numbers refused at registration, newest first (at most ``REFUSED_LISTED``)."""


REFUSED_LISTED = 100
"""How many refused numbers the stats list by name (all are counted)."""


def meta_digest(meta: FileMeta) -> str:
    return hashlib.sha256(
        json.dumps(meta.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def make_engine(url: str) -> Engine:
    """SQLite files get WAL, synchronous=FULL and secure_delete (a deleted photo's bytes are
    overwritten, not left in free pages); PostgreSQL a pool for the request threads."""
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=20, max_overflow=20, pool_timeout=30)
        configure_sqlite_durability(engine)

        @event.listens_for(engine, "connect")
        def _secure_delete(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_size=20, max_overflow=30, pool_timeout=30)


class CollectorStore:
    """All the collector's reads and writes, one ``engine.begin()`` per unit of work."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> CollectorStore:
        store = cls(make_engine(url))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        registration.create_schema(self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(collector_state.c.id)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(collector_state).values(
                                id=1,
                                clock_offset_seconds=0.0,
                                down=False,
                                extra_latency_ms=0.0,
                                corrupt_files=False,
                            )
                        )
                except IntegrityError:
                    pass  # another worker created it first

    def dispose(self) -> None:
        self.engine.dispose()

    # --- the QA knobs --------------------------------------------------------------------

    def control(self, clock: Clock) -> tuple[datetime, Faults]:
        """The collector's "now" (``clock`` plus the QA offset) and the faults, in one read:
        they live in the store, so every worker obeys them."""
        with self.engine.connect() as conn:
            row = conn.execute(_CONTROL).one()
        return _offset_now(clock, row[0]), Faults(bool(row[1]), float(row[2]), bool(row[3]))

    def now(self, clock: Clock) -> datetime:
        return self.control(clock)[0]

    def set_faults(self, faults: Faults) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(collector_state)
                .where(collector_state.c.id == 1)
                .values(
                    down=faults.down,
                    extra_latency_ms=faults.extra_latency_ms,
                    corrupt_files=faults.corrupt_files,
                )
            )

    def advance_clock(self, seconds: float) -> timedelta:
        if seconds < 0:
            raise ValueError(f"advance_seconds must be >= 0: {seconds}")
        with self.engine.begin() as conn:
            conn.execute(
                update(collector_state)
                .where(collector_state.c.id == 1)
                .values(clock_offset_seconds=collector_state.c.clock_offset_seconds + seconds)
            )
            total = conn.execute(
                select(collector_state.c.clock_offset_seconds).where(collector_state.c.id == 1)
            ).scalar_one()
        return timedelta(seconds=total)

    def reset_clock(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(collector_state)
                .where(collector_state.c.id == 1)
                .values(clock_offset_seconds=0.0)
            )

    # --- uploads -------------------------------------------------------------------------

    def remember_nonce(
        self, nonce: str, signer: str, forget_after: datetime, *, durable: bool = True
    ) -> None:
        """Record a nonce; :class:`ReplayedRequest` if it is already known.

        ``durable=False`` (the state's fetches, a read) commits without waiting for the disk:
        a power cut may forget the last nonces, re-opening their replay window (at most the
        signature window) for requests already answered. It saves the fetch a flush (on
        SQLite, 12 of its 18 ms as measured); uploads always keep theirs.
        """
        if durable:
            try:
                with self.engine.begin() as conn:
                    self._insert_nonce(conn, nonce, signer, forget_after)
            except IntegrityError:
                raise ReplayedRequest(nonce) from None
            return
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
            try:
                with conn.begin():
                    if self.engine.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    self._insert_nonce(conn, nonce, signer, forget_after)
            except IntegrityError:
                raise ReplayedRequest(nonce) from None
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA synchronous=FULL")
                    conn.commit()

    def _insert_nonce(
        self, conn: Connection, nonce: str, signer: str, forget_after: datetime
    ) -> None:
        conn.execute(insert(nonces).values(nonce=nonce, signer=signer, forget_after=forget_after))

    def forget_nonces(self, now: datetime) -> int:
        """Drop nonces whose signatures are stale at ``now`` (the shared clock signatures are
        judged on): a replay of them is refused as stale anyway."""
        with self.engine.begin() as conn:
            return conn.execute(delete(nonces).where(nonces.c.forget_after < now)).rowcount or 0

    def store_upload(
        self,
        upload_id: str,
        sealed: Sequence[SealedFile],
        *,
        received_at: datetime,
        nonce: str,
        signer: str,
        nonce_forget_after: datetime,
        registration_booth_id: str,
        registration_not_before: datetime,
    ) -> UploadResult:
        """Store the upload's new files, each with its seal and its registration outbox row,
        in one transaction with the request's nonce. A file already stored (the same digest of
        metadata and images) is a duplicate; a different one for a stored number raises
        :class:`NumberTaken` and nothing is stored. Raises :class:`ReplayedRequest`."""
        received_at = ensure_utc(received_at)
        for attempt in range(2):
            try:
                return self._store_upload(
                    upload_id,
                    sealed,
                    received_at,
                    nonce,
                    signer,
                    nonce_forget_after,
                    registration_booth_id,
                    registration_not_before,
                )
            except IntegrityError as exc:
                if "nonce" in str(exc.orig).lower():
                    raise ReplayedRequest(nonce) from None
                if attempt == 1:
                    raise
                # Another worker stored one of these numbers meanwhile: look again.
        raise AssertionError("unreachable")

    def _store_upload(
        self,
        upload_id: str,
        sealed: Sequence[SealedFile],
        received_at: datetime,
        nonce: str,
        signer: str,
        nonce_forget_after: datetime,
        registration_booth_id: str,
        registration_not_before: datetime,
    ) -> UploadResult:
        digests = [meta_digest(s.file.meta) for s in sealed]
        with self.engine.begin() as conn:
            self._insert_nonce(conn, nonce, signer, nonce_forget_after)
            stored = {
                code: digest
                for code, digest in conn.execute(
                    select(files.c.code, files.c.meta_sha256).where(
                        files.c.code.in_([s.file.code for s in sealed])
                    )
                )
            }
            rows: list[dict[str, Any]] = []
            duplicates: list[str] = []
            for index, (item, digest) in enumerate(zip(sealed, digests, strict=True)):
                code = item.file.code
                earlier = stored.get(code)
                if earlier is not None:
                    if earlier != digest:
                        raise NumberTaken(index, code)
                    duplicates.append(code)
                    continue
                stored[code] = digest
                meta = item.file.meta
                rows.append(
                    {
                        "code": code,
                        "booth_id": meta.booth_id,
                        "operator": meta.operator,
                        "product": meta.product,
                        "procedure": meta.procedure,
                        "issued_at": meta.issued_at,
                        "received_at": received_at,
                        "upload_id": upload_id,
                        "meta_sha256": digest,
                        "photo_sha256": meta.photo_sha256,
                        "signature_sha256": meta.signature_sha256,
                        "size_bytes": item.file.size_bytes,
                        "seal": item.seal,
                        "sealed_at": item.sealed_at,
                        "photo": item.file.photo_jpeg,
                        "signature": item.file.signature_png,
                        "delete_after": item.delete_after,
                        "deleted_at": None,
                    }
                )
            if rows:
                conn.execute(insert(files), rows)
                registration.enqueue_many(
                    conn,
                    [(row["code"], row["issued_at"], row["product"]) for row in rows],
                    booth_id=registration_booth_id,
                    not_before=registration_not_before,
                )
            return UploadResult(len(rows), duplicates)

    # --- reads ---------------------------------------------------------------------------

    def record(self, code: str) -> FileRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(_RECORD.where(files.c.code == code)).first()
            if row is None:
                return None
            delivery = registration.read_delivery(conn, code)
        if delivery is None:
            return FileRecord(**row._mapping, registered_at=None)
        return FileRecord(
            **row._mapping,
            registered_at=delivery.sent_at,
            registration=delivery.status,
            registration_refusal=delivery.refusal,
            registration_refused_at=delivery.refused_at,
        )

    def images(self, code: str) -> StoredImages | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    files.c.code, files.c.seal, files.c.photo, files.c.signature, files.c.deleted_at
                ).where(files.c.code == code)
            ).first()
        return StoredImages(*row) if row is not None else None

    def stats(self, now: datetime) -> Stats:
        with self.engine.connect() as conn:
            received, deleted, stored_bytes = conn.execute(
                select(
                    func.count(),
                    func.count(files.c.deleted_at),
                    func.coalesce(
                        func.sum(
                            func.coalesce(func.length(files.c.photo), 0)
                            + func.coalesce(func.length(files.c.signature), 0)
                        ),
                        0,
                    ),
                )
            ).one()
            refused = registration.read_refused(conn, REFUSED_LISTED)
        status = registration.read_status(self.engine, now)
        return Stats(
            files_received=int(received),
            files_sealed=int(received),  # a file is stored only with its seal
            registered=status.counts.get(registration.SENT, 0),
            pending_registration=status.counts.get(registration.PENDING, 0),
            rejected_registration=status.counts.get(registration.REJECTED, 0),
            deleted=int(deleted),
            bytes_stored=int(stored_bytes),
            refused=tuple(RefusedNumber(d.code, d.refusal, d.refused_at) for d in refused),
        )

    # --- retention -----------------------------------------------------------------------

    def delete_expired(self, now: datetime, limit: int = 1000) -> int:
        """Clear the photo and signature of every file whose retention ended by ``now``; the
        row stays (the number remains known). Returns how many files were cleared."""
        now = ensure_utc(now)
        total = 0
        while True:
            with self.engine.begin() as conn:
                due = (
                    select(files.c.id)
                    .where(files.c.deleted_at.is_(None), files.c.delete_after <= now)
                    .limit(limit)
                    .scalar_subquery()
                )
                cleared = conn.execute(
                    update(files)
                    .where(files.c.id.in_(due))
                    .values(photo=None, signature=None, deleted_at=now)
                ).rowcount
            total += cleared or 0
            if not cleared or cleared < limit:
                break
        if total and self.engine.dialect.name == "sqlite":
            # secure_delete zeroed the freed pages; the checkpoint moves them into the main
            # file and empties the write-ahead log, which still held the images' old pages.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return total


_CONTROL = select(
    collector_state.c.clock_offset_seconds,
    collector_state.c.down,
    collector_state.c.extra_latency_ms,
    collector_state.c.corrupt_files,
).where(collector_state.c.id == 1)

_RECORD = select(
    files.c.code,
    files.c.booth_id,
    files.c.product,
    files.c.procedure,
    files.c.issued_at,
    files.c.received_at,
    files.c.sealed_at,
    files.c.deleted_at,
    files.c.delete_after,
    files.c.photo_sha256,
    files.c.signature_sha256,
    files.c.size_bytes,
)


def _offset_now(clock: Clock, offset_seconds: float) -> datetime:
    """The collector's "now": the shared clock plus the QA offset stored for every worker."""
    return clock.now() + timedelta(seconds=offset_seconds)
