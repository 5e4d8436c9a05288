"""The booth's durable outbox: every issued code waits here until the registry has it.

The kiosk writes the outbox row in the same database transaction as the sale (transactional
outbox), so a code exists only if its row does. Rows are never deleted: sent, rejected and
dead-lettered rows stay visible for audit.

A row is ``pending`` until the registry acknowledges it (``sent``) or refuses it for good
(``rejected``, with the reason). ``due_at`` says when a pending row may next be claimed: its
``not_before`` at first, then its retry time after a failure, and while a worker holds it, the end
of that worker's lease, so the rows of a worker that died come back by themselves. On PostgreSQL
several workers share one outbox: claiming uses ``FOR UPDATE SKIP LOCKED``.

An ePhoto number's file (photo, signature and metadata, :mod:`ephoto.epfile`) is stored with
its row, in ``outbox_files``, in the same transaction: the booth's transmitter uploads files to
the operator's collector, and a number without its file is never issued. Rows without a file are
bare numbers (the collector's own outbox to the registry).

Where it lives: on a booth, the SQLite file ``booth.db`` (:data:`BOOTH_DB_FILE`) in the data
folder, shared with the kiosk's ledger so the sale and its outbox row commit together; WAL
journal and ``synchronous=FULL``. A central outbox is a PostgreSQL URL instead.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    any_,
    bindparam,
    column,
    create_engine,
    func,
    insert,
    select,
    update,
)

from ephoto.clock import ensure_utc
from ephoto.dbtypes import UTCDateTime
from ephoto.dbtypes import configure_sqlite_durability as configure_sqlite_durability
from ephoto.epfile import EphotoFile, FileMeta
from ephoto.private import private_file
from ephoto.validity import expires_at
from transmitter.latency import DEFAULT_BATCH_WINDOW as DEFAULT_BATCH_WINDOW

metadata = MetaData()

BOOTH_DB_FILE = "booth.db"
"""The booth's SQLite file in the data folder: the kiosk ledger and the outbox, one database."""

DEFAULT_DEAD_LETTER_AGE = timedelta(days=7)

PENDING = "pending"
SENT = "sent"
REJECTED = "rejected"
STATES = (PENDING, SENT, REJECTED)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(22), nullable=False, unique=True),
    Column("booth_id", String(40), nullable=False),
    Column("product", String(40), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("not_before", UTCDateTime, nullable=False),
    Column("status", String(12), nullable=False, default=PENDING),
    # When a pending row may next be claimed: not_before, then retry_at, or the lease's end.
    Column("due_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("batch_id", String(64), nullable=True),
    # The registry already had the code when it was sent: an earlier answer was lost.
    Column("resent", Boolean, nullable=False, default=False),
    Column("dead_letter", Boolean, nullable=False, default=False),
)
# Claiming walks pending rows oldest first, so retries keep their place by age.
Index("outbox_pending_by_age", outbox.c.status, outbox.c.issued_at, outbox.c.id)


outbox_files = Table(
    "outbox_files",
    metadata,
    Column("code", String(22), ForeignKey("outbox.code"), primary_key=True),
    # The metadata exactly as made at issue (JSON), so every upload of the file is the same.
    Column("meta", Text, nullable=False),
    Column("photo_jpeg", LargeBinary, nullable=False),
    Column("signature_png", LargeBinary, nullable=False),
)


def _base64_length(n_bytes: int) -> int:
    return 4 * ((n_bytes + 2) // 3)


_IMAGE_KEYS = len(',"photo_jpeg":""') + len(',"signature_png":""')


def wire_bytes(file: EphotoFile) -> int:
    """The bytes ``file`` takes in an upload's JSON body, its images in base64, and the comma
    after it: what uploads are cut by."""
    meta = len(json.dumps(file.meta.to_dict(), separators=(",", ":")))
    images = _base64_length(len(file.photo_jpeg)) + _base64_length(len(file.signature_png))
    return meta + _IMAGE_KEYS + images + 1


def booth_db_path(data_dir: Path) -> Path:
    return Path(data_dir) / BOOTH_DB_FILE


def booth_db_url(data_dir: Path) -> str:
    return f"sqlite:///{booth_db_path(data_dir)}"


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)


def open_outbox_engine(url: str) -> Engine:
    """An engine on the outbox at ``url`` (SQLite file or PostgreSQL), schema created."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        private_file(path)  # 0600: the booth's numbers and their files
    engine = create_engine(url)
    configure_sqlite_durability(engine)
    create_schema(engine)
    return engine


def enqueue(
    conn: Connection,
    code: str,
    issued_at: datetime,
    product: str,
    *,
    booth_id: str,
    batch_window: timedelta = DEFAULT_BATCH_WINDOW,
    file: EphotoFile | None = None,
    not_before: datetime | None = None,
) -> None:
    """Add a code to the outbox inside the caller's transaction, with its ePhoto ``file`` when
    the booth made one (the booth's transmitter sends files; without one the code is a bare
    number, as the collector's own outbox holds).

    The row leaves ``batch_window`` after issue, or at ``not_before`` when given (the
    collector counts its window from receipt, not from issue).
    Raises on any database error, and ``ValueError`` when the file is of another number, booth
    or product; the caller's transaction then rolls back and no code is considered issued.
    """
    issued_at = ensure_utc(issued_at)
    if file is not None:
        meta = file.meta
        if (meta.code, meta.booth_id, meta.product) != (code, booth_id, product):
            raise ValueError(
                f"the file is of {meta.code} ({meta.booth_id}, {meta.product}), "
                f"not of {code} ({booth_id}, {product})"
            )
    not_before = ensure_utc(not_before) if not_before is not None else issued_at + batch_window
    conn.execute(
        insert(outbox).values(
            code=code,
            booth_id=booth_id,
            product=product,
            issued_at=issued_at,
            not_before=not_before,
            due_at=not_before,
            status=PENDING,
            attempts=0,
            resent=False,
            dead_letter=False,
        )
    )
    if file is not None:
        conn.execute(
            insert(outbox_files).values(
                code=code,
                meta=json.dumps(file.meta.to_dict(), separators=(",", ":")),
                photo_jpeg=file.photo_jpeg,
                signature_png=file.signature_png,
            )
        )


def enqueue_many(
    conn: Connection,
    codes: Sequence[tuple[str, datetime, str]],
    *,
    booth_id: str,
    not_before: datetime,
) -> None:
    """Add bare numbers ``(code, issued_at, product)`` to the outbox inside the caller's
    transaction, all due at ``not_before``, in one statement (the collector queues an upload's
    numbers with its files)."""
    if not codes:
        return
    due = ensure_utc(not_before)
    conn.execute(
        insert(outbox),
        [
            {
                "code": code,
                "booth_id": booth_id,
                "product": product,
                "issued_at": ensure_utc(issued_at),
                "not_before": due,
                "due_at": due,
                "status": PENDING,
                "attempts": 0,
                "resent": False,
                "dead_letter": False,
            }
            for code, issued_at, product in codes
        ],
    )


def files_of(conn: Connection, codes: Collection[str]) -> dict[str, EphotoFile]:
    """The stored files of ``codes`` (codes without a file are left out)."""
    if not codes:
        return {}
    rows = conn.execute(
        select(
            outbox_files.c.code,
            outbox_files.c.meta,
            outbox_files.c.photo_jpeg,
            outbox_files.c.signature_png,
        ).where(outbox_files.c.code.in_(list(codes)))
    )
    return {
        code: EphotoFile(FileMeta.from_dict(json.loads(meta)), bytes(photo), bytes(signature))
        for code, meta, photo, signature in rows
    }


def read_file(engine: Engine, code: str) -> EphotoFile | None:
    """The file stored with ``code`` at issue, or None (read-only; support and the demo)."""
    with engine.connect() as conn:
        return files_of(conn, [code]).get(code)


# Six calendar months are never shorter than 180 days and 23 hours (the end of August to the
# end of February, across a clock change): rows issued less than 180 days before now cannot
# have expired, and are not read.
_SHORTEST_VALIDITY = timedelta(days=180)


def clear_expired_images(engine: Engine, now: datetime, limit: int = 500) -> int:
    """Clear the photo and signature the booth keeps of a file once the collector has it
    (status sent) and the number's validity has ended (``ephoto.validity``): until then the
    support desk may have it sent again after a confirmed fault, after that a new send would
    only store an expired number. The images become empty; the metadata, with each image's
    SHA-256, stays. On SQLite the freed pages are overwritten (``secure_delete``), so the
    images do not linger in the file. Up to ``limit`` files per call; returns how many."""
    now = ensure_utc(now)
    with engine.begin() as conn:
        candidates = conn.execute(
            select(outbox.c.code, outbox.c.issued_at)
            .select_from(outbox.join(outbox_files, outbox_files.c.code == outbox.c.code))
            .where(
                outbox.c.status == SENT,
                outbox.c.issued_at <= now - _SHORTEST_VALIDITY,
                func.length(outbox_files.c.photo_jpeg) > 0,
            )
            .order_by(outbox.c.issued_at)
            .limit(limit)
        ).all()
        expired = [code for code, issued_at in candidates if expires_at(issued_at) <= now]
        if not expired:
            return 0
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        try:
            conn.execute(
                update(outbox_files)
                .where(outbox_files.c.code.in_(expired))
                .values(photo_jpeg=b"", signature_png=b"")
            )
        finally:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA secure_delete=OFF")
    return len(expired)


def requeue(conn: Connection, code: str, now: datetime) -> bool:
    """Send a code again, inside the caller's transaction (the support desk, after a confirmed
    fault): its row goes back to pending and due at ``now``, whatever state it was in.

    Safe when the registry already has the code: it counts it as a duplicate and changes
    nothing. Returns False when the code has no outbox row.
    """
    now = ensure_utc(now)
    result = conn.execute(
        update(outbox)
        .where(outbox.c.code == code)
        # A fresh send: no lease, no retry time, and no old batch id, so it leaves with the next
        # batch instead of repeating a batch the registry already answered.
        .values(
            status=PENDING,
            due_at=now,
            retry_at=None,
            lease_until=None,
            dead_letter=False,
            batch_id=None,
        )
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class Delivery:
    """Where one code stands in the outbox, as other actors (the support desk, the demo) may
    read it."""

    code: str
    status: str
    """pending, sent or rejected."""
    issued_at: datetime
    sent_at: datetime | None
    refusal: str | None = None
    """Why the destination refused it for good, when it did (the rejected row's last error)."""
    refused_at: datetime | None = None

    @property
    def sent(self) -> bool:
        """The registry acknowledged the code."""
        return self.status == SENT

    @property
    def rejected(self) -> bool:
        """The registry refused the code for good."""
        return self.status == REJECTED


_DELIVERY = select(
    outbox.c.code,
    outbox.c.status,
    outbox.c.issued_at,
    outbox.c.sent_at,
    outbox.c.last_error,
    outbox.c.last_attempt_at,
)


def _delivery(row: Row[Any, Any, Any, Any, Any, Any]) -> Delivery:
    rejected = row.status == REJECTED
    return Delivery(
        row.code,
        row.status,
        row.issued_at,
        row.sent_at,
        refusal=row.last_error if rejected else None,
        refused_at=row.last_attempt_at if rejected else None,
    )


def read_delivery(conn: Connection, code: str) -> Delivery | None:
    """Where ``code`` stands, read in the caller's transaction; None when it has no row."""
    row = conn.execute(_DELIVERY.where(outbox.c.code == code)).one_or_none()
    return None if row is None else _delivery(row)


def read_refused(conn: Connection, limit: int = 100) -> list[Delivery]:
    """The numbers parked as refused for good, most recently refused first, at most ``limit``:
    what the operator must act on (they are never sent again on their own)."""
    rows = conn.execute(
        _DELIVERY.where(outbox.c.status == REJECTED)
        .order_by(outbox.c.last_attempt_at.desc(), outbox.c.id.desc())
        .limit(limit)
    )
    return [_delivery(row) for row in rows]


@dataclass(frozen=True)
class OutboxRow:
    """A claimed row, as the uploader needs it."""

    id: int
    code: str
    booth_id: str
    product: str
    issued_at: datetime
    attempts: int
    batch_id: str | None


@dataclass(frozen=True)
class OutboxStatus:
    """What the operator needs to know about the outbox at ``at``."""

    at: datetime
    counts: dict[str, int]
    in_flight: int
    dead_letter: int
    resent: int
    oldest_pending_issued_at: datetime | None
    next_due_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    rejected_reasons: dict[str, int]
    files_pending: int = 0  # pending rows that carry an ePhoto file
    file_bytes_pending: int = 0  # their photos' and signatures' bytes (base64 adds a third)

    @property
    def oldest_pending_age(self) -> timedelta | None:
        if self.oldest_pending_issued_at is None:
            return None
        return self.at - self.oldest_pending_issued_at

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, object]:
        age = self.oldest_pending_age
        return {
            "at": self.at.isoformat(),
            "counts": dict(self.counts),
            "in_flight": self.in_flight,
            "dead_letter": self.dead_letter,
            "resent": self.resent,
            "oldest_pending_issued_at": _iso(self.oldest_pending_issued_at),
            "oldest_pending_age_seconds": None if age is None else age.total_seconds(),
            "next_due_at": _iso(self.next_due_at),
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "rejected_reasons": dict(self.rejected_reasons),
            "files_pending": self.files_pending,
            "file_bytes_pending": self.file_bytes_pending,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _ids(rows: Collection[int]) -> list[int]:
    ids = list(rows)
    if not ids:
        raise ValueError("no outbox row ids given")
    return ids


class Outbox:
    """The outbox's operations for the transmitter; one ``engine.begin()`` per unit of work.

    Each operation runs in its own transaction, or in the caller's when ``conn`` is given (the
    dispatcher records a batch's answer and claims the next batch in one commit).
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def _id_in(self, ids: list[int]) -> ColumnElement[bool]:
        """``id IN (ids)`` with the ids bound as one value: a JSON array read by ``json_each``
        on SQLite, an array on PostgreSQL. An expanding ``IN`` renders a placeholder per id,
        about 6 us each: a third of the booth's cost of recording a batch of 1000."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            listed = select(column("value", Integer)).select_from(
                func.json_each(bindparam("ids", json.dumps(ids)))
            )
            return outbox.c.id.in_(listed.scalar_subquery())
        if dialect == "postgresql":
            # Imported here: the booth, on SQLite, starts 20 ms sooner without PostgreSQL's dialect.
            from sqlalchemy.dialects import postgresql

            return outbox.c.id == any_(bindparam("ids", ids, type_=postgresql.ARRAY(Integer)))
        return outbox.c.id.in_(ids)

    @contextmanager
    def _unit(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as own:
                yield own

    def claim_due(
        self, now: datetime, limit: int, lease: timedelta, *, conn: Connection | None = None
    ) -> list[OutboxRow]:
        """Take up to ``limit`` due pending rows, oldest first, for ``lease``.

        Claimed rows are not due again until the lease ends, so a worker that dies holding them
        gives them back by itself. On PostgreSQL rows another worker is claiming are skipped.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        now = ensure_utc(now)
        due = (
            select(outbox.c.id)
            .where(outbox.c.status == PENDING, outbox.c.due_at <= now)
            .order_by(outbox.c.issued_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(due), outbox.c.status == PENDING, outbox.c.due_at <= now)
            .values(lease_until=now + lease, due_at=now + lease)
            .returning(
                outbox.c.id,
                outbox.c.code,
                outbox.c.booth_id,
                outbox.c.product,
                outbox.c.issued_at,
                outbox.c.attempts,
                outbox.c.batch_id,
            )
        )
        with self._unit(conn) as unit:
            rows = [OutboxRow(*r) for r in unit.execute(claim)]
        rows.sort(key=lambda r: (r.issued_at, r.id))
        return rows

    def mark_sent(
        self,
        ids: Collection[int],
        sent_at: datetime,
        *,
        batch_id: str,
        resent_codes: Collection[str] = (),
        conn: Connection | None = None,
    ) -> None:
        """The registry has these rows' codes. ``resent_codes`` it already had before."""
        ids = _ids(ids)
        sent_at = ensure_utc(sent_at)
        with self._unit(conn) as unit:
            unit.execute(
                update(outbox)
                .where(self._id_in(ids), outbox.c.status != SENT)
                .values(
                    status=SENT,
                    sent_at=sent_at,
                    batch_id=batch_id,
                    lease_until=None,
                    attempts=outbox.c.attempts + 1,
                    last_attempt_at=sent_at,
                )
            )
            if resent_codes:
                unit.execute(
                    update(outbox)
                    .where(self._id_in(ids), outbox.c.code.in_(list(resent_codes)))
                    .values(resent=True)
                )

    def mark_failed(
        self,
        ids: Collection[int],
        error: str,
        retry_at: datetime,
        *,
        attempted_at: datetime,
        batch_id: str,
        conn: Connection | None = None,
    ) -> None:
        """The upload failed in a way worth retrying: the rows come back at ``retry_at``,
        grouped under the same batch id so the retry is the same request."""
        ids = _ids(ids)
        retry_at = ensure_utc(retry_at)
        with self._unit(conn) as unit:
            unit.execute(
                update(outbox)
                .where(self._id_in(ids), outbox.c.status == PENDING)
                .values(
                    due_at=retry_at,
                    retry_at=retry_at,
                    lease_until=None,
                    attempts=outbox.c.attempts + 1,
                    last_error=error,
                    last_attempt_at=ensure_utc(attempted_at),
                    batch_id=batch_id,
                )
            )

    def mark_rejected(
        self,
        ids: Collection[int],
        reason: str,
        *,
        attempted_at: datetime,
        batch_id: str,
        conn: Connection | None = None,
    ) -> None:
        """The registry refused these rows for good: park them with the reason."""
        ids = _ids(ids)
        with self._unit(conn) as unit:
            unit.execute(
                update(outbox)
                .where(self._id_in(ids), outbox.c.status == PENDING)
                .values(
                    status=REJECTED,
                    lease_until=None,
                    attempts=outbox.c.attempts + 1,
                    last_error=reason,
                    last_attempt_at=ensure_utc(attempted_at),
                    batch_id=batch_id,
                )
            )

    def release(
        self,
        ids: Collection[int],
        due_at: datetime,
        *,
        conn: Connection | None = None,
        regroup: bool = False,
    ) -> None:
        """Hand claimed rows back unsent (the worker is stopping or the registry is failing):
        no attempt is counted. ``regroup``: forget the upload they were part of, so they leave
        in a new one (their upload was refused for another row)."""
        values: dict[str, object] = {"lease_until": None, "due_at": ensure_utc(due_at)}
        if regroup:
            values["batch_id"] = None
        with self._unit(conn) as unit:
            unit.execute(
                update(outbox)
                .where(self._id_in(_ids(ids)), outbox.c.status == PENDING)
                .values(**values)
            )

    def release_leases(self) -> int:
        """Give back every claimed row at once; only for a worker that knows it is the only
        one (the booth's single transmitter, after a crash)."""
        with self.engine.begin() as conn:
            leased = outbox.c.lease_until.is_not(None)
            back = func.coalesce(outbox.c.retry_at, outbox.c.not_before)
            result = conn.execute(
                update(outbox)
                .where(outbox.c.status == PENDING, leased)
                .values(lease_until=None, due_at=back)
            )
            return result.rowcount or 0

    def requeue_rejected(self, now: datetime, ids: Collection[int] | None = None) -> int:
        """An operator's decision to try rejected rows again (never done automatically)."""
        now = ensure_utc(now)
        stmt = update(outbox).where(outbox.c.status == REJECTED)
        if ids is not None:
            stmt = stmt.where(self._id_in(_ids(ids)))
        with self.engine.begin() as conn:
            return (
                conn.execute(stmt.values(status=PENDING, due_at=now, retry_at=None)).rowcount or 0
            )

    def flag_dead_letters(self, now: datetime, age: timedelta = DEFAULT_DEAD_LETTER_AGE) -> int:
        """Flag pending rows issued more than ``age`` ago. They stay pending and keep being
        retried (the customer paid for the code); the flag is for the operator and support."""
        cutoff = ensure_utc(now) - age
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(
                    outbox.c.status == PENDING,
                    outbox.c.issued_at <= cutoff,
                    outbox.c.dead_letter.is_(False),
                )
                .values(dead_letter=True)
            )
            return result.rowcount or 0

    def next_due_at(self) -> datetime | None:
        """When the next pending row becomes due (may be in the past), or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.min(outbox.c.due_at)).where(outbox.c.status == PENDING)
            ).scalar_one()

    def status(
        self, now: datetime, dead_letter_age: timedelta = DEFAULT_DEAD_LETTER_AGE
    ) -> OutboxStatus:
        return read_status(self.engine, now, dead_letter_age)


def read_status(
    engine: Engine, now: datetime, dead_letter_age: timedelta = DEFAULT_DEAD_LETTER_AGE
) -> OutboxStatus:
    """The outbox's status, read-only: counts by state, rows in flight, dead letters (pending
    rows older than ``dead_letter_age``, flagged or not yet), oldest pending, last error.

    The kiosk's operator menu and ``cabine transmitter status`` both call this.
    """
    now = ensure_utc(now)
    cutoff = now - dead_letter_age
    pending = outbox.c.status == PENDING
    with engine.connect() as conn:
        counts = {state: 0 for state in STATES}
        for state, n in conn.execute(
            select(outbox.c.status, func.count()).group_by(outbox.c.status)
        ):
            counts[state] = n
        in_flight = conn.execute(
            select(func.count()).where(
                pending, outbox.c.lease_until.is_not(None), outbox.c.lease_until > now
            )
        ).scalar_one()
        dead = conn.execute(
            select(func.count()).where(
                pending, (outbox.c.dead_letter.is_(True)) | (outbox.c.issued_at <= cutoff)
            )
        ).scalar_one()
        resent = conn.execute(select(func.count()).where(outbox.c.resent.is_(True))).scalar_one()
        oldest, next_due = conn.execute(
            select(func.min(outbox.c.issued_at), func.min(outbox.c.due_at)).where(pending)
        ).one()
        last = conn.execute(
            select(outbox.c.last_error, outbox.c.last_attempt_at)
            .where(outbox.c.last_error.is_not(None))
            .order_by(outbox.c.last_attempt_at.desc(), outbox.c.id.desc())
            .limit(1)
        ).first()
        reasons = {
            reason: n
            for reason, n in conn.execute(
                select(outbox.c.last_error, func.count())
                .where(outbox.c.status == REJECTED)
                .group_by(outbox.c.last_error)
            )
        }
        # length() reads a blob's size from its record, not its pages.
        files_pending, file_bytes = conn.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(
                        func.length(outbox_files.c.photo_jpeg)
                        + func.length(outbox_files.c.signature_png)
                    ),
                    0,
                ),
            )
            .select_from(outbox.join(outbox_files, outbox_files.c.code == outbox.c.code))
            .where(pending)
        ).one()
    return OutboxStatus(
        at=now,
        counts=counts,
        in_flight=in_flight,
        dead_letter=dead,
        resent=resent,
        oldest_pending_issued_at=oldest,
        next_due_at=next_due,
        last_error=last[0] if last else None,
        last_error_at=last[1] if last else None,
        rejected_reasons=reasons,
        files_pending=int(files_pending),
        file_bytes_pending=int(file_bytes),
    )
