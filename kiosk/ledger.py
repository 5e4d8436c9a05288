"""The booth's ledger: sales, payments, codes, prints and counters in one durable SQLite file.

The outbox table (``transmitter.outbox``) lives in the same file, so issuing is ONE transaction:
the sale becomes paid, its ePhoto number is drawn and recorded, and the outbox row is added with
the number's ePhoto file (the customer's photo and signature, :func:`ephoto.epfile.make_file`).
A number is shown or printed only after that transaction commits; if it fails (disk full, I/O
error, a photo or signature missing or that cannot be encoded) no number exists anywhere and the
payment is marked for refund.

WAL journal and ``synchronous=FULL``: a committed sale survives a crash or a power cut.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from ephoto import code as codes
from ephoto.clock import PARIS, Clock, ensure_utc
from ephoto.dbtypes import UTCDateTime
from ephoto.epfile import EphotoFile, make_file
from ephoto.private import private_file
from ephoto.validity import expires_at
from ephoto.vocabulary import sale_reference
from kiosk.catalog import Product
from transmitter import outbox as outbox_module
from transmitter.outbox import BOOTH_DB_FILE, DEFAULT_BATCH_WINDOW, OutboxStatus

__all__ = ["BOOTH_DB_FILE", "Ledger", "OutboxStatus"]


metadata = MetaData()

# Sale statuses, in the order a sale normally goes through them.
OPEN = "open"
CANCELLED = "cancelled"
PAID = "paid"  # paid and, for ePhoto, its number issued: the sheet still has to be printed
PRINTED = "printed"
REFUND_DUE = "refund_due"

sales = Table(
    "sales",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("booth_id", String(40), nullable=False),
    Column("product", String(40), nullable=False),
    Column("ephoto", Boolean, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("lang", String(2), nullable=False),
    Column("status", String(12), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("photo_path", Text, nullable=True),
    Column("recovered", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=True),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sale_id", Integer, ForeignKey("sales.id"), nullable=False),
    Column("method", String(12), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("status", String(12), nullable=False),  # approved, declined, refund_due
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=True),
)

issued_codes = Table(
    "codes",
    metadata,
    Column("code", String(22), primary_key=True),
    Column("sale_id", Integer, ForeignKey("sales.id"), nullable=False, unique=True),
    Column("product", String(40), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

prints = Table(
    "prints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sale_id", Integer, ForeignKey("sales.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("kind", String(10), nullable=False),  # sale, recovery, reprint
    Column("printed_at", UTCDateTime, nullable=False),
    # The printer's own id for the job (CUPS job id); NULL for sheets written to files.
    Column("job_id", Text, nullable=True),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)

# Payment row statuses. Card: approved or declined. Coins: each coin is a row the moment it is
# inserted ("inserted"); the sale's end settles them: "approved" when the sale is paid,
# "returned" when the coin box gave them back, "refund_due" when it could not. Change given on
# an overpayment is a row "change"; change the booth could not give is a row "refund_due".
INSERTED = "inserted"
APPROVED = "approved"
DECLINED = "declined"
RETURNED = "returned"
CHANGE = "change"
REFUND_DUE_PAYMENT = "refund_due"
COINS = "coins"

PAPER_LEFT = "paper_left"
SHEETS_PRINTED = "sheets_printed"
MAINTENANCE = "maintenance"  # 1 while the operator keeps the booth in maintenance
PIN_WRONG = "pin_wrong"  # wrong operator PINs in a row
PIN_LOCKED_UNTIL_MS = "pin_locked_until_ms"  # monotonic milliseconds; 0 when not locked
VOICE_VOLUME_PCT = "voice_volume_pct"  # the operator's choice, 0-100; -1: the settings' value
VOICE_MUTED = "voice_muted"  # 1 muted, 0 not, -1: the settings' value
MIN_FREE_BYTES = 5 * 1024 * 1024


class IssueFailed(RuntimeError):
    """The issuing transaction did not commit: no number exists, the payment is to be refunded."""


class SaleNotOpen(RuntimeError):
    """The sale was already paid, cancelled or refunded: issuing it again would issue twice."""


@dataclass(frozen=True)
class Sale:
    id: int
    booth_id: str
    product: str
    ephoto: bool
    price_cents: int
    lang: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    photo_path: str | None
    recovered: bool
    code: str | None

    def display_id(self) -> str:
        return sale_reference(self.booth_id, self.id)


@dataclass(frozen=True)
class Issued:
    sale_id: int
    code: str | None
    issued_at: datetime
    expires_at: datetime | None
    product: str | None = None
    """The sale's product, where the reader asked for it."""


@dataclass(frozen=True)
class MoneyBack:
    """How an unpaid sale's coins ended: given back, or a refund due the operator must pay."""

    sale_id: int
    cents: int
    returned: bool


@dataclass(frozen=True)
class RefundDue:
    sale_ref: str
    cents: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class DayCounters:
    day: str
    opened: int
    cancelled: int
    paid: int
    ephoto: int
    refund_due: int
    takings_cents: int
    declined: int


def _coins_in(conn: Connection, sale_id: int) -> int:
    return int(
        conn.execute(
            select(func.coalesce(func.sum(payments.c.amount_cents), 0)).where(
                payments.c.sale_id == sale_id, payments.c.status == INSERTED
            )
        ).scalar_one()
    )


def _record_payment(
    conn: Connection, sale_id: int, method: str, amount_cents: int, now: datetime
) -> None:
    """The sale's payment, inside the issuing transaction: a card payment is one new row; the
    coins, already rows since they went in, are marked approved."""
    if method == COINS:
        settled = conn.execute(
            update(payments)
            .where(payments.c.sale_id == sale_id, payments.c.status == INSERTED)
            .values(status=APPROVED)
        )
        if settled.rowcount > 0:
            return
    conn.execute(
        insert(payments).values(
            sale_id=sale_id, method=method, amount_cents=amount_cents, status=APPROVED, at=now
        )
    )


def booth_engine(path: Path) -> Engine:
    if Path(path).parent.is_dir():
        private_file(path)  # 0600: sales, payments and the customers' files
    engine = create_engine(f"sqlite:///{path}")
    outbox_module.configure_sqlite_durability(engine)
    return engine


def issued_count(path: Path) -> int:
    """How many numbers the booth database at ``path`` has issued (0 before its first sale);
    read only, for a fleet watching many booths."""
    if not Path(path).exists():
        return 0
    engine = _read_only_engine(path)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(issued_codes)).scalar_one())
    except SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


def numbers_after(path: Path, sale_id: int) -> list[Issued]:
    """The numbers issued by sales opened after sale ``sale_id`` in the booth database at
    ``path``, in order of sale, with their sales' products: what a reader following a running
    booth (the live fleet's buyers) has not seen yet. Read only; nothing before the booth has
    made its database."""
    if not Path(path).exists():
        return []
    engine = _read_only_engine(path)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    issued_codes.c.sale_id,
                    issued_codes.c.code,
                    issued_codes.c.issued_at,
                    issued_codes.c.expires_at,
                    sales.c.product,
                )
                .join(sales, issued_codes.c.sale_id == sales.c.id)
                .where(issued_codes.c.sale_id > sale_id, issued_codes.c.code.is_not(None))
                .order_by(issued_codes.c.sale_id)
            ).all()
        return [
            Issued(r.sale_id, r.code, r.issued_at, r.expires_at, product=r.product) for r in rows
        ]
    except SQLAlchemyError:  # the booth is still making its tables
        return []
    finally:
        engine.dispose()


def _read_only_engine(path: Path) -> Engine:
    return create_engine(f"sqlite:///file:{Path(path).resolve()}?mode=ro&uri=true")


class Ledger:
    """The booth's durable record. One ``engine.begin()`` per unit of work."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        booth_id: str,
        operator_prefix: str = codes.DEFAULT_PREFIX,
        batch_window: timedelta = DEFAULT_BATCH_WINDOW,
        paper_capacity: int = 400,
    ):
        self.path = Path(path)
        self.clock = clock
        self.booth_id = booth_id
        self.operator_prefix = operator_prefix
        self.batch_window = batch_window
        self.paper_capacity = paper_capacity
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = booth_engine(self.path)
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
        outbox_module.create_schema(self.engine)
        with self.engine.begin() as conn:
            for name, start in (
                (PAPER_LEFT, paper_capacity),
                (SHEETS_PRINTED, 0),
                (MAINTENANCE, 0),
                (PIN_WRONG, 0),
                (PIN_LOCKED_UNTIL_MS, 0),
                (VOICE_VOLUME_PCT, -1),
                (VOICE_MUTED, -1),
            ):
                exists = conn.execute(
                    select(counters.c.value).where(counters.c.name == name)
                ).scalar_one_or_none()
                if exists is None:
                    conn.execute(insert(counters).values(name=name, value=start))

    # -- sales --------------------------------------------------------------------------------
    def open_sale(self, product: Product, lang: str) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    insert(sales).values(
                        booth_id=self.booth_id,
                        product=product.id,
                        ephoto=product.ephoto,
                        price_cents=product.price.cents,
                        lang=lang,
                        status=OPEN,
                        opened_at=self.clock.now(),
                        recovered=False,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]  # always set after an insert
            )

    def attach_photo(self, sale_id: int, photo_path: Path) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(sales).where(sales.c.id == sale_id).values(photo_path=str(photo_path))
            )

    def cancel_sale(self, sale_id: int, reason: str) -> bool:
        """Cancel a sale that was never paid; a paid sale is left alone (returns False)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(sales)
                .where(sales.c.id == sale_id, sales.c.status == OPEN)
                .values(status=CANCELLED, closed_at=self.clock.now(), note=reason)
            )
            return result.rowcount == 1

    def record_coin(self, sale_id: int, cents: int) -> int:
        """A coin went into the coin box for ``sale_id``: recorded at once, before anything else
        happens, so a cancel, a timeout or a crash can never lose it. Returns the sale's total."""
        with self.engine.begin() as conn:
            status = conn.execute(
                select(sales.c.status).where(sales.c.id == sale_id)
            ).scalar_one_or_none()
            if status != OPEN:
                raise SaleNotOpen(f"sale {sale_id} is {status}, it cannot take coins")
            conn.execute(
                insert(payments).values(
                    sale_id=sale_id,
                    method=COINS,
                    amount_cents=cents,
                    status=INSERTED,
                    at=self.clock.now(),
                )
            )
            return _coins_in(conn, sale_id)

    def coins_in(self, sale_id: int) -> int:
        """Cents of coins inserted for the sale and not yet settled."""
        with self.engine.connect() as conn:
            return _coins_in(conn, sale_id)

    def close_unpaid(self, sale_id: int, reason: str, *, coins_returned: bool) -> MoneyBack | None:
        """End a sale that was never paid (cancel, timeout, error, crash), in one transaction.

        Its coins, if any, are settled: ``returned`` when the coin box gave them back, else
        the sale becomes ``refund_due`` for that amount, for the operator to pay. Returns None
        when the sale held no money (or was not open: a paid sale is left alone).
        """
        now = self.clock.now()
        with self.engine.begin() as conn:
            status = conn.execute(
                select(sales.c.status).where(sales.c.id == sale_id)
            ).scalar_one_or_none()
            if status != OPEN:
                return None
            cents = _coins_in(conn, sale_id)
            settled = RETURNED if coins_returned or cents == 0 else REFUND_DUE_PAYMENT
            conn.execute(
                update(payments)
                .where(payments.c.sale_id == sale_id, payments.c.status == INSERTED)
                .values(status=settled, detail=reason[:500])
            )
            conn.execute(
                update(sales)
                .where(sales.c.id == sale_id)
                .values(
                    status=CANCELLED if settled == RETURNED else REFUND_DUE,
                    closed_at=now,
                    note=reason[:500],
                )
            )
        if cents == 0:
            return None
        return MoneyBack(sale_id, cents, settled == RETURNED)

    def open_sales(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(select(sales.c.id).where(sales.c.status == OPEN).order_by(sales.c.id))
                .scalars()
                .all()
            )

    def refunds_due(self, limit: int = 8) -> list[RefundDue]:
        """Money the booth owes customers (coins it could not give back, change it lacked,
        payments whose issue failed), newest first, for the operator."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    payments.c.sale_id,
                    func.sum(payments.c.amount_cents).label("cents"),
                    func.max(payments.c.detail).label("reason"),
                    func.max(payments.c.at).label("at"),
                    sales.c.booth_id,
                )
                .select_from(payments.join(sales, sales.c.id == payments.c.sale_id))
                .where(payments.c.status == REFUND_DUE_PAYMENT)
                .group_by(payments.c.sale_id, sales.c.booth_id)
                .order_by(payments.c.sale_id.desc())
                .limit(limit)
            ).all()
        return [
            RefundDue(sale_reference(r.booth_id, r.sale_id), int(r.cents), r.reason or "", r.at)
            for r in rows
        ]

    def record_declined(self, sale_id: int, method: str, amount_cents: int, detail: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(payments).values(
                    sale_id=sale_id,
                    method=method,
                    amount_cents=amount_cents,
                    status=DECLINED,
                    at=self.clock.now(),
                    detail=detail,
                )
            )

    def issue(
        self,
        sale_id: int,
        method: str,
        amount_cents: int,
        *,
        photo: Image.Image | None = None,
        signature: Image.Image | None = None,
        procedure: str | None = None,
        change_cents: int = 0,
        change_given: bool = True,
    ) -> Issued:
        """Payment, paid sale, ePhoto number, its file and outbox row: all committed together,
        or nothing.

        An ePhoto sale needs the customer's ``photo`` and ``signature`` and its product's
        ``procedure``: its file is made from them (other sales ignore them).

        This is the booth's one issuing transaction: whatever else must exist exactly when a
        number exists belongs inside it. A card payment is recorded here; coins were recorded
        as they went in and are settled here, with the change on an overpayment (given, or
        owed as a refund when the coin box could not give it).

        Raises :class:`SaleNotOpen` if the sale is not open (never issues twice) and
        :class:`IssueFailed` if the file cannot be made or the database refuses the write.
        """
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                row = conn.execute(select(sales).where(sales.c.id == sale_id)).one_or_none()
                if row is None:
                    raise SaleNotOpen(f"sale {sale_id} does not exist")
                if row.status != OPEN:
                    raise SaleNotOpen(f"sale {sale_id} is {row.status}, not open")
                code: str | None = None
                file: EphotoFile | None = None
                if row.ephoto:
                    # Encoded before the first write: the booth.db write lock is held only for
                    # the inserts (the driver begins the transaction at the first write).
                    code = codes.generate(self.operator_prefix).value
                    file = self._make_file(code, now, row.product, photo, signature, procedure)
                _record_payment(conn, sale_id, method, amount_cents, now)
                if change_cents > 0:
                    conn.execute(
                        insert(payments).values(
                            sale_id=sale_id,
                            method=method,
                            amount_cents=change_cents,
                            status=CHANGE if change_given else REFUND_DUE_PAYMENT,
                            at=now,
                            detail=None if change_given else "change the coin box could not give",
                        )
                    )
                claimed = conn.execute(
                    update(sales)
                    .where(sales.c.id == sale_id, sales.c.status == OPEN)
                    .values(status=PAID)
                )
                if claimed.rowcount != 1:
                    raise SaleNotOpen(f"sale {sale_id} changed while being paid")
                expiry: datetime | None = None
                if code is not None:
                    expiry = expires_at(now)
                    conn.execute(
                        insert(issued_codes).values(
                            code=code,
                            sale_id=sale_id,
                            product=row.product,
                            issued_at=now,
                            expires_at=expiry,
                        )
                    )
                    outbox_module.enqueue(
                        conn,
                        code,
                        now,
                        row.product,
                        booth_id=self.booth_id,
                        batch_window=self.batch_window,
                        file=file,
                    )
        except (SaleNotOpen, IssueFailed):
            raise
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise IssueFailed(
                f"sale {sale_id}: the ledger refused the issuing write: {exc}"
            ) from exc
        return Issued(sale_id, code, now, expiry)

    def _make_file(
        self,
        code: str,
        issued_at: datetime,
        product: str,
        photo: Image.Image | None,
        signature: Image.Image | None,
        procedure: str | None,
    ) -> EphotoFile:
        given = {"photo": photo, "signature": signature, "procedure": procedure}
        missing = [name for name, value in given.items() if value is None]
        if missing:
            raise IssueFailed(f"an ePhoto number needs the customer's {' and '.join(missing)}")
        assert photo is not None and signature is not None and procedure is not None
        try:
            return make_file(
                code=code,
                booth_id=self.booth_id,
                issued_at=issued_at,
                product=product,
                procedure=procedure,
                photo=photo,
                signature=signature,
            )
        except (OSError, ValueError) as exc:
            raise IssueFailed(f"the ePhoto file could not be made: {exc}") from exc

    def mark_refund_due(self, sale_id: int, method: str, amount_cents: int, reason: str) -> bool:
        """Best effort after a failed issue: the payment taken must be given back.

        Returns False if even this could not be written (the error screen still tells the
        customer to ask for a refund, with the sale id).
        """
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(sales)
                    .where(sales.c.id == sale_id, sales.c.status == OPEN)
                    .values(status=REFUND_DUE, closed_at=self.clock.now(), note=reason[:500])
                )
                if method == COINS:  # the coins are already rows: they become the refund
                    conn.execute(
                        update(payments)
                        .where(payments.c.sale_id == sale_id, payments.c.status == INSERTED)
                        .values(status=REFUND_DUE_PAYMENT, detail=reason[:500])
                    )
                else:
                    conn.execute(
                        insert(payments).values(
                            sale_id=sale_id,
                            method=method,
                            amount_cents=amount_cents,
                            status=REFUND_DUE_PAYMENT,
                            at=self.clock.now(),
                            detail=reason[:500],
                        )
                    )
            return True
        except (SQLAlchemyError, OSError):
            return False

    def record_print(
        self, sale_id: int, job_id: str | Path, kind: str = "sale", sheet: Path | None = None
    ) -> int:
        """A sheet came out of the printer: record it, close the sale, use one sheet of paper.

        ``job_id`` is the printer's name for the job: a CUPS job id, or the file written; it is
        kept in its own column. ``sheet`` is the file sent, when the job id is not one."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            conn.execute(
                insert(prints).values(
                    sale_id=sale_id,
                    path=str(sheet if sheet is not None else job_id),
                    kind=kind,
                    printed_at=now,
                    job_id=str(job_id),
                )
            )
            if kind != "reprint":
                conn.execute(
                    update(sales)
                    .where(sales.c.id == sale_id, sales.c.status == PAID)
                    .values(status=PRINTED, closed_at=now, recovered=kind == "recovery")
                )
            conn.execute(
                update(counters)
                .where(counters.c.name == PAPER_LEFT, counters.c.value > 0)
                .values(value=counters.c.value - 1)
            )
            conn.execute(
                update(counters)
                .where(counters.c.name == SHEETS_PRINTED)
                .values(value=counters.c.value + 1)
            )
            return int(
                conn.execute(
                    select(counters.c.value).where(counters.c.name == PAPER_LEFT)
                ).scalar_one()
            )

    # -- reading ------------------------------------------------------------------------------
    @staticmethod
    def _sale_query():  # type: ignore[no-untyped-def]
        return select(sales, issued_codes.c.code).select_from(
            sales.outerjoin(issued_codes, issued_codes.c.sale_id == sales.c.id)
        )

    @staticmethod
    def _sale(row) -> Sale:  # type: ignore[no-untyped-def]
        return Sale(
            id=row.id,
            booth_id=row.booth_id,
            product=row.product,
            ephoto=bool(row.ephoto),
            price_cents=row.price_cents,
            lang=row.lang,
            status=row.status,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            photo_path=row.photo_path,
            recovered=bool(row.recovered),
            code=row.code,
        )

    def sale(self, sale_id: int) -> Sale:
        with self.engine.connect() as conn:
            row = conn.execute(self._sale_query().where(sales.c.id == sale_id)).one()
        return self._sale(row)

    def last_sales(self, limit: int = 8) -> list[Sale]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._sale_query().order_by(sales.c.id.desc()).limit(limit)).all()
        return [self._sale(r) for r in rows]

    def all_sales(self) -> list[Sale]:
        """Every sale in the order it opened, with its number if it has one."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._sale_query().order_by(sales.c.id)).all()
        return [self._sale(r) for r in rows]

    def money_by_status(self) -> dict[str, int]:
        """Cents per payment status (approved, change, returned, refund_due, ...), over the
        booth's whole life: what a reconciliation of its takings starts from."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(payments.c.status, func.coalesce(func.sum(payments.c.amount_cents), 0))
                .group_by(payments.c.status)
            ).all()
        return {status: int(cents) for status, cents in rows}

    def paid_not_printed(self) -> list[Sale]:
        """Sales a crash interrupted after payment: they must be finished, never issued again."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._sale_query().where(sales.c.status == PAID).order_by(sales.c.id)
            ).all()
        return [self._sale(r) for r in rows]

    def recovered_sales(self, limit: int = 8) -> list[Sale]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._sale_query()
                .where(sales.c.recovered.is_(True))
                .order_by(sales.c.id.desc())
                .limit(limit)
            ).all()
        return [self._sale(r) for r in rows]

    def print_jobs(self, sale_id: int) -> list[str | None]:
        """The printer's job ids of a sale's printed sheets, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(prints.c.job_id).where(prints.c.sale_id == sale_id).order_by(prints.c.id)
            ).all()
        return [row.job_id for row in rows]

    def last_print(self) -> tuple[int, Path] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(prints.c.sale_id, prints.c.path).order_by(prints.c.id.desc()).limit(1)
            ).one_or_none()
        return (row.sale_id, Path(row.path)) if row else None

    def counter(self, name: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar_one()
            )

    def paper_left(self) -> int:
        return self.counter(PAPER_LEFT)

    def refill_paper(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(counters)
                .where(counters.c.name == PAPER_LEFT)
                .values(value=self.paper_capacity)
            )

    def set_paper_left(self, sheets: int) -> None:
        self.set_counter(PAPER_LEFT, sheets)

    def set_counter(self, name: str, value: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(counters).where(counters.c.name == name).values(value=value))

    def load_pin_state(self) -> tuple[int, float]:
        """The operator pad's wrong tries and lockout end (monotonic seconds), kept across
        restarts (``kiosk.operator.PinStore``)."""
        return self.counter(PIN_WRONG), self.counter(PIN_LOCKED_UNTIL_MS) / 1000

    def save_pin_state(self, wrong: int, locked_until: float) -> None:
        with self.engine.begin() as conn:
            for name, value in (
                (PIN_WRONG, wrong),
                (PIN_LOCKED_UNTIL_MS, round(locked_until * 1000)),
            ):
                conn.execute(update(counters).where(counters.c.name == name).values(value=value))

    def load_voice_choice(self) -> tuple[float | None, bool | None]:
        """The volume (0-1) and mute the operator last chose, or None where they never did."""
        volume, muted = self.counter(VOICE_VOLUME_PCT), self.counter(VOICE_MUTED)
        return (None if volume < 0 else volume / 100), (None if muted < 0 else bool(muted))

    def save_voice_choice(self, volume: float, muted: bool) -> None:
        with self.engine.begin() as conn:
            for name, value in ((VOICE_VOLUME_PCT, round(volume * 100)), (VOICE_MUTED, int(muted))):
                conn.execute(update(counters).where(counters.c.name == name).values(value=value))

    def today(self) -> DayCounters:
        """Today's counters, "today" being the Paris calendar day of the booth's clock.

        Each sale counts on the day its outcome happened, as a till counts it: a paid sale on
        the day of its approved payment, a cancelled one or a refund due on the day it closed,
        a declined payment on its own day. On a scaled session clock a sale opened before
        midnight and paid after it is today's takings (counted by its opening, it fell on a day
        the operator no longer sees).
        """
        local = self.clock.now().astimezone(PARIS)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start_utc, end_utc = ensure_utc(start), ensure_utc(start + timedelta(days=1))

        def within(column: Any) -> Any:
            return (column >= start_utc) & (column < end_utc)

        paid_at = (
            select(payments.c.sale_id, func.max(payments.c.at).label("at"))
            .where(payments.c.status == APPROVED)
            .group_by(payments.c.sale_id)
            .subquery()
        )
        with self.engine.connect() as conn:
            opened = conn.execute(
                select(func.count()).select_from(sales).where(within(sales.c.opened_at))
            ).scalar_one()
            paid = conn.execute(
                select(sales.c.ephoto, sales.c.price_cents)
                .join(paid_at, paid_at.c.sale_id == sales.c.id)
                .where(sales.c.status.in_((PAID, PRINTED)), within(paid_at.c.at))
            ).all()
            closed = conn.execute(
                select(sales.c.status, func.count())
                .where(sales.c.status.in_((CANCELLED, REFUND_DUE)), within(sales.c.closed_at))
                .group_by(sales.c.status)
            ).all()
            declined = conn.execute(
                select(func.count())
                .select_from(payments)
                .where(payments.c.status == DECLINED, within(payments.c.at))
            ).scalar_one()
        by_status = {status: int(n) for status, n in closed}
        return DayCounters(
            day=start.date().isoformat(),
            opened=int(opened),
            cancelled=by_status.get(CANCELLED, 0),
            paid=len(paid),
            ephoto=sum(1 for r in paid if r.ephoto),
            refund_due=by_status.get(REFUND_DUE, 0),
            takings_cents=sum(r.price_cents for r in paid),
            declined=int(declined),
        )

    def ready(self) -> str | None:
        """None if a sale can be recorded now, else the reason (message key) it cannot."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(func.count()).select_from(counters)).scalar_one()
        except SQLAlchemyError:
            return "refused.ledger"
        if shutil.disk_usage(self.path.parent).free < MIN_FREE_BYTES:
            return "refused.disk"
        return None

    def outbox_status(self) -> OutboxStatus:
        """The transmitter's read-only view of the outbox that shares this file."""
        return outbox_module.read_status(self.engine, self.clock.now())

    def dispose(self) -> None:
        self.engine.dispose()


# -- what other actors may read -------------------------------------------------------------------
# The support desk shares booth.db but not these tables: it reads a sale through here, inside its
# own transaction, so the ledger's table layout and status words stay the ledger's business.


@dataclass(frozen=True)
class SaleFacts:
    """One sale as the booth's ledger tells it to another actor."""

    id: int
    booth_id: str
    product: str
    ephoto: bool
    price_cents: int
    status: str
    opened_at: datetime
    closed_at: datetime | None
    code: str | None
    issued_at: datetime | None
    """When its ePhoto number was issued; None without a number."""
    paid_cents: int | None
    """What the customer paid (approved payments); None when nothing was paid."""
    paid_at: datetime | None
    """When the first approved payment was taken."""

    @property
    def reference(self) -> str:
        return sale_reference(self.booth_id, self.id)

    @property
    def settled(self) -> bool:
        """Paid and delivered or being delivered: not open, cancelled or refunded at the booth."""
        return self.status in (PAID, PRINTED)


def read_sale(
    conn: Connection, *, sale_id: int | None = None, code: str | None = None
) -> SaleFacts | None:
    """The sale with ledger id ``sale_id``, or the one that issued ePhoto number ``code``, read in
    the caller's transaction; None when the ledger has no such sale."""
    if (sale_id is None) == (code is None):
        raise ValueError("read_sale needs exactly one of sale_id and code")
    query = select(sales, issued_codes.c.code, issued_codes.c.issued_at).select_from(
        sales.outerjoin(issued_codes, issued_codes.c.sale_id == sales.c.id)
    )
    query = query.where(sales.c.id == sale_id if code is None else issued_codes.c.code == code)
    row = conn.execute(query).one_or_none()
    if row is None:
        return None
    paid = conn.execute(
        select(func.sum(payments.c.amount_cents), func.min(payments.c.at)).where(
            payments.c.sale_id == row.id, payments.c.status == "approved"
        )
    ).one()
    return SaleFacts(
        id=row.id,
        booth_id=row.booth_id,
        product=row.product,
        ephoto=bool(row.ephoto),
        price_cents=row.price_cents,
        status=row.status,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        code=row.code,
        issued_at=row.issued_at,
        paid_cents=None if paid[0] is None else int(paid[0]),
        paid_at=None if paid[1] is None else ensure_utc(paid[1]),
    )


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to the ledger after a booth's file was created (SQLite's ADD COLUMN keeps
    every row; the new column is NULL in old rows)."""
    with engine.begin() as conn:
        present = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(prints)")}
        if "job_id" not in present:
            conn.exec_driver_sql("ALTER TABLE prints ADD COLUMN job_id TEXT")
