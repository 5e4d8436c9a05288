"""The booth's durable outbox: every issued code waits here until the registry has it.

The kiosk writes the outbox row in the same database transaction as the sale (transactional
outbox), so a code exists only if its row does. Rows are never deleted: sent, rejected and
dead-lettered rows stay visible for audit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
)

from ephoto.clock import ensure_utc
from ephoto.dbtypes import UTCDateTime
from transmitter.latency import DEFAULT_BATCH_WINDOW

metadata = MetaData()

PENDING = "pending"
SENT = "sent"
REJECTED = "rejected"

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
    Column("attempts", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("batch_id", String(64), nullable=True),
)
Index("outbox_due", outbox.c.status, outbox.c.not_before)


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)


def configure_sqlite_durability(engine: Engine) -> None:
    """WAL journal and synchronous=FULL: a committed row survives a crash or power loss."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def enqueue(
    conn: Connection,
    code: str,
    issued_at: datetime,
    product: str,
    *,
    booth_id: str,
    batch_window: timedelta = DEFAULT_BATCH_WINDOW,
) -> None:
    """Add a code to the outbox inside the caller's transaction.

    Raises on any database error; the caller's transaction then rolls back and no code is
    considered issued.
    """
    issued_at = ensure_utc(issued_at)
    conn.execute(
        insert(outbox).values(
            code=code,
            booth_id=booth_id,
            product=product,
            issued_at=issued_at,
            not_before=issued_at + batch_window,
            status=PENDING,
            attempts=0,
        )
    )
