"""Column types shared by every store: timezone-aware UTC datetimes on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ephoto.clock import ensure_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes whatever the engine (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = ensure_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite, one function each way instead of this class's step plus the dialect's: the
    # dialect formats and parses DATETIME text field by field in Python, which was the largest
    # cost of storing a batch of codes. The text is the dialect's own storage format
    # ("2026-11-27 03:00:00.000000"), so files written either way read the same.

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not UTC:
                value = ensure_utc(value)
            # "2026-11-27 03:00:00.000000+00:00" cut before the offset: cheaper than
            # replace(tzinfo=None) first.
            return value.isoformat(" ", "microseconds")[:-6]

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | datetime | None) -> datetime | None:
            if isinstance(value, str):
                try:
                    # The stored text is UTC without an offset; parsed with one, the result
                    # carries the UTC singleton at once (a fifth of parse-then-replace).
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    value = datetime.fromisoformat(value)  # text that carries its own offset
            return self.process_result_value(value, dialect)

        return process


def configure_sqlite_durability(engine: Engine) -> None:
    """WAL journal and synchronous=FULL: a committed row survives a crash or power loss.

    Readers never wait for the writer in WAL mode; a writer waits up to 10 s for another.
    Each connection keeps up to 64 MiB of pages (the default 2 MB no longer held the
    registry's code index past about 100,000 codes).
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()
