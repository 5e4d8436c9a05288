"""The support desk service: takes a problem report, checks the booth's ledger, the registry and
(for an active number, or one the booth sent that the state never got) the operator's
collector, decides with ``support.rules``, and records the decision, the refund and the
re-queue together.

Where things live: the desk works on the booth's SQLite file (the kiosk's ledger and the
transmitter's outbox), where it adds its own tables: every report received (``support_audit``),
one decision per distinct report (``support_claims``) and refunds (``support_refunds``, at most one
per sale). A refund, its decision and the code's return to the outbox commit in one transaction.

Idempotency: a report's key is a hash of what the customer typed (code as typed, sale id). The
same report again gets the stored decision, word for word, and never a second refund, even when
two arrive at the same instant (writes are serialised with ``BEGIN IMMEDIATE``; the decision is
made again inside the lock), as long as the facts it rests on are unchanged: the code's state at
the registry and whether the sale is refunded (``Facts``, stored with the decision as they stand
once it took effect). When they changed (the re-sent number became active, the number was used,
the sale was refunded at the booth), the report is decided again; the audit log keeps both
answers. A ``wait`` answer, or a refusal on the way given before 72 h, is also decided again
once the time it gave has come.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    update,
)

from ephoto import code as codes
from ephoto.clock import Clock, ensure_utc, parse_utc
from ephoto.dbtypes import UTCDateTime
from ephoto.money import Money
from ephoto.vocabulary import CODE_STATES, CodeState, parse_sale_reference
from kiosk import ledger as kiosk_ledger
from kiosk.catalog import Catalog
from support.rules import (
    ABSENT,
    NOT_ASKED,
    CollectorView,
    Decision,
    ProductName,
    RegistryView,
    Report,
    Resolution,
    SaleRecord,
    decide,
    resolve,
)
from transmitter import outbox as outbox_module

metadata = MetaData()

claims = Table(
    "support_claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_key", String(64), nullable=False, unique=True),
    Column("typed", String(80), nullable=True),
    Column("sale_ref", String(80), nullable=True),
    Column("outcome", String(24), nullable=False),
    Column("decision", Text, nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    # A wait answer (or a refusal on the way before 72 h) may be decided again from this
    # instant on (Decision.decided_again_at); None for final answers.
    Column("recheck_after", UTCDateTime, nullable=True),
    # The facts the decision rests on, as JSON (see Facts); a repeat with other facts is decided
    # again. None on claims stored before facts were kept: those are decided again too.
    Column("facts", Text, nullable=True),
)

refunds = Table(
    "support_refunds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sale_id", Integer, nullable=False, unique=True),
    Column("sale_ref", String(80), nullable=False),
    Column("code", String(22), nullable=True),
    Column("amount_cents", Integer, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("report_key", String(64), nullable=False),
    Column("refunded_at", UTCDateTime, nullable=False),
    Column("requeued", Boolean, nullable=False),
)

audit = Table(
    "support_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("report_key", String(64), nullable=False),
    Column("typed", String(80), nullable=True),
    Column("sale_ref", String(80), nullable=True),
    Column("outcome", String(24), nullable=True),
    Column("reason", String(40), nullable=True),
    Column("replayed", Boolean, nullable=False),
    Column("error", Text, nullable=True),
)


class RegistryUnavailable(RuntimeError):
    """The registry could not be asked; no decision was made or recorded.

    Its message may be shown to whoever made the report, so it never quotes the code (a report
    by sale number must not learn it) nor the registry's answer; ``detail`` has both, for the
    operator's audit log."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail or message


class CollectorUnavailable(RegistryUnavailable):
    """The operator's collector could not be asked about a number's file; no decision was made.
    (A kind of :class:`RegistryUnavailable`: the desk cannot check now, try again later.)"""


@dataclass(frozen=True)
class Facts:
    """What a decision rests on: the code's state at the registry (with the state's refusals
    of its file), the file's state at the collector, and the sale's refund."""

    registry_state: str
    used_at: str | None
    refunded: bool
    fetch_failures: tuple[str, ...] = ()
    collector_state: str = "not_asked"
    booth_refused: bool = False
    """The booth's outbox parked the number as refused (an operator's re-queue changes it)."""

    def to_json(self) -> str:
        facts: dict[str, object] = {
            "registry": self.registry_state,
            "used_at": self.used_at,
            "refunded": self.refunded,
        }
        # Only when there is something to say, so answers stored before files existed still
        # rest on the same facts.
        if self.fetch_failures:
            facts["fetch_failures"] = list(self.fetch_failures)
        if self.collector_state != "not_asked":
            facts["collector"] = self.collector_state
        if self.booth_refused:
            facts["booth"] = "refused"
        return json.dumps(facts, sort_keys=True)


def facts_of(
    sale: SaleRecord | None,
    view: RegistryView,
    refunded_now: bool = False,
    collector: CollectorView = NOT_ASKED,
) -> Facts:
    used_at = view.used_at.isoformat() if view.used_at is not None else None
    refunded = refunded_now or (sale is not None and sale.refunded_at is not None)
    booth_refused = sale is not None and sale.refused is not None
    return Facts(
        view.state, used_at, refunded, view.fetch_failures, collector.state(), booth_refused
    )


def report_key(report: Report) -> str:
    """The idempotency key: the same typed code (case kept, spaces removed) and sale id."""
    canonical = json.dumps({"code": report.code, "sale": report.sale_id}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reference_of(key: str) -> str:
    """The short reference shown to the customer; the same report always has the same one."""
    return "R-" + key[:10].upper()


# -- the registry --------------------------------------------------------------------------------


class AdminClient:
    """A client of a QA admin API (the registry's, the collector's): base URL and bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._client.close()


class RegistryAdmin(AdminClient):
    """Reads a code's internal state from the registry's admin API (bearer token)."""

    def code_state(self, code: str) -> RegistryView:
        try:
            response = self._client.get(f"/admin/codes/{code}")
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"registry at {self._client.base_url} did not answer ({type(exc).__name__})",
                f"registry at {self._client.base_url}, code {code}: {exc!r}",
            ) from None
        if response.status_code == 404:
            return ABSENT
        if response.status_code in (401, 403):
            raise RegistryUnavailable(
                f"registry refused the admin token ({response.status_code}): "
                "set support.registry_admin_token to the registry's admin_token"
            )
        if response.status_code != 200:
            raise RegistryUnavailable(
                f"registry answered {response.status_code}",
                f"registry answered {response.status_code} for code {code}: {response.text[:200]}",
            )
        try:
            return registry_view(response.json())
        except ValueError:
            raise RegistryUnavailable(
                "registry answered something that is not a code's state",
                f"registry's answer for code {code}: {response.text[:200]}",
            ) from None


def registry_view(data: dict[str, Any]) -> RegistryView:
    def when(*names: str) -> datetime | None:
        for name in names:
            value = data.get(name)
            if value:
                return parse_utc(value)
        return None

    state = data.get("state") or data.get("status")
    if state not in CODE_STATES:
        raise RegistryUnavailable(f"registry gave an unknown state {state!r} for a code")
    failures = data.get("fetch_failures") or []
    if not isinstance(failures, list):
        raise RegistryUnavailable("registry gave fetch_failures that are not a list")
    return RegistryView(
        state=CodeState(state),
        received_at=when("received_at"),
        active_at=when("active_at"),
        used_at=when("used_at", "redeemed_at"),
        expires_at=when("expires_at"),
        fetch_failures=tuple(
            str(f.get("kind")) for f in failures if isinstance(f, dict) and f.get("kind")
        ),
    )


# -- the operator's collector --------------------------------------------------------------------


class CollectorAdmin(AdminClient):
    """Reads a number's file record from the collector's admin API (bearer token): received,
    sealed, registered with the state (or refused by it), deleted."""

    def file_state(self, code: str) -> CollectorView:
        try:
            response = self._client.get(f"/admin/files/{code}")
        except httpx.HTTPError as exc:
            raise CollectorUnavailable(
                f"collector at {self._client.base_url} did not answer ({type(exc).__name__})",
                f"collector at {self._client.base_url}, code {code}: {exc!r}",
            ) from None
        if response.status_code == 404:
            return CollectorView(asked=True)
        if response.status_code in (401, 403):
            raise CollectorUnavailable(
                f"collector refused the admin token ({response.status_code}): "
                "set support.collector_admin_token to the collector's admin_token"
            )
        if response.status_code != 200:
            raise CollectorUnavailable(
                f"collector answered {response.status_code}",
                f"collector answered {response.status_code} for code {code}: {response.text[:200]}",
            )
        try:
            return collector_view(response.json())
        except (ValueError, AttributeError):
            raise CollectorUnavailable(
                "collector answered something that is not a file's record",
                f"collector's answer for code {code}: {response.text[:200]}",
            ) from None


def collector_view(data: dict[str, Any]) -> CollectorView:
    def when(name: str) -> datetime | None:
        value = data.get(name)
        return parse_utc(value) if value else None

    received = when("received_at")
    if received is None:
        raise ValueError("the collector's record has no received_at")
    return CollectorView(
        asked=True,
        received_at=received,
        sealed_at=when("sealed_at"),
        registered_at=when("registered_at"),
        deleted_at=when("deleted_at"),
        registration_refused=data.get("registration") == "rejected",
    )


# -- the booth's ledger --------------------------------------------------------------------------


class BoothLedger:
    """A read-only view of the kiosk's ledger shaped for the rules (``SaleRecord``)."""

    def __init__(self, catalog: Catalog, booth_id: str):
        self.catalog = catalog
        self.booth_id = booth_id

    def parse_sale_ref(self, ref: str) -> int | None:
        """The ledger id in a sale reference as printed (``booth-001-000042``) or typed (42)."""
        parsed = parse_sale_reference(ref)
        if parsed is None:
            return None
        booth, number = parsed
        if booth is not None and booth != self.booth_id:
            return None
        return number

    def _record(self, conn: Connection, sale: kiosk_ledger.SaleFacts | None) -> SaleRecord | None:
        if sale is None or not sale.settled:
            return None  # never paid, cancelled, or already refunded at the booth
        try:
            product = self.catalog.get(sale.product)
            name_fr, name_en, site = product.name_fr, product.name_en, product.site
        except KeyError:
            name_fr = name_en = sale.product
            site = None
        purchased_at = sale.issued_at or sale.paid_at or sale.closed_at or sale.opened_at
        delivery = outbox_module.read_delivery(conn, sale.code) if sale.code else None
        refunded_at = conn.execute(
            select(refunds.c.refunded_at).where(refunds.c.sale_id == sale.id)
        ).scalar_one_or_none()
        return SaleRecord(
            sale_id=sale.reference,
            product_id=sale.product,
            product_name_fr=name_fr,
            product_name_en=name_en,
            ephoto=sale.ephoto,
            site=site,
            code=sale.code,
            purchased_at=ensure_utc(purchased_at),
            amount=Money(sale.paid_cents if sale.paid_cents is not None else sale.price_cents),
            refunded_at=refunded_at,
            transmitted=None if delivery is None else delivery.sent,
            refused=(delivery.refusal or "refused") if delivery and delivery.rejected else None,
        )

    def sale_by_ref(self, conn: Connection, ref: str) -> SaleRecord | None:
        number = self.parse_sale_ref(ref)
        if number is None:
            return None
        return self._record(conn, kiosk_ledger.read_sale(conn, sale_id=number))

    def sale_by_code(self, conn: Connection, code: str) -> SaleRecord | None:
        return self._record(conn, kiosk_ledger.read_sale(conn, code=code))

    def printed_photos(self, product_id: str) -> int:
        try:
            return self.catalog.get(product_id).photos
        except KeyError:
            return 0


# -- the desk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportResult:
    reference: str
    decision: Decision
    decided_at: datetime
    replayed: bool
    """True when this is the stored answer to the same report made earlier."""

    def to_json(self, message_fr: str, message_en: str) -> dict[str, Any]:
        d = self.decision
        return {
            "reference": self.reference,
            "outcome": d.outcome.value,
            "reason": d.reason,
            "decided_at": self.decided_at.isoformat().replace("+00:00", "Z"),
            "replayed": self.replayed,
            "sale_id": d.sale_id,
            "code": None if d.code_hidden else d.code,
            "code_shown": d.shown_code(),
            "code_hidden": d.code_hidden,
            "refund_cents": d.amount.cents if d.refund and d.amount else None,
            "requeued": d.requeue,
            "when": d.to_dict()["when"],
            "message": {"fr": message_fr, "en": message_en},
        }


def open_booth_engine(path: Path) -> Engine:
    """An engine on the booth file whose every transaction starts with ``BEGIN IMMEDIATE``.

    Immediate transactions take SQLite's write lock up front, so two desks deciding the same
    report one after the other never both see "no decision yet".
    """
    engine = create_engine(f"sqlite:///{path}")
    outbox_module.configure_sqlite_durability(engine)

    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _immediate(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_schema(engine: Engine) -> None:
    """The desk's own tables; the ledger's and the outbox's belong to the kiosk. A claims table
    from before facts were kept gains the column (its claims are then decided again)."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("support_claims")}
        if "facts" not in columns:
            conn.exec_driver_sql("ALTER TABLE support_claims ADD COLUMN facts TEXT")


class SupportDesk:
    def __init__(
        self,
        engine: Engine,
        registry: RegistryAdmin,
        clock: Clock,
        catalog: Catalog,
        *,
        booth_id: str,
        prefixes: tuple[str, ...] = (codes.DEFAULT_PREFIX,),
        collector: CollectorAdmin | None = None,
    ):
        self.engine = engine
        self.registry = registry
        self.collector = collector
        self.clock = clock
        self.catalog = catalog
        self.ledger = BoothLedger(catalog, booth_id)
        self.prefixes = prefixes
        self.ephoto_products = tuple(
            ProductName(p.id, p.name_fr, p.name_en) for p in catalog.ephoto_products()
        )
        create_schema(engine)

    def _resolve(self, conn: Connection, report: Report) -> Resolution:
        return resolve(
            report,
            lambda ref: self.ledger.sale_by_ref(conn, ref),
            lambda code: self.ledger.sale_by_code(conn, code),
            self.prefixes,
        )

    def _stored(
        self, conn: Connection, key: str, now: datetime, facts: Facts
    ) -> ReportResult | None:
        """The stored answer to this report, if it may be given again: its facts unchanged and,
        for a wait answer, its time not yet come."""
        row = conn.execute(select(claims).where(claims.c.report_key == key)).one_or_none()
        if row is None or (row.recheck_after is not None and now >= row.recheck_after):
            return None
        if row.facts != facts.to_json():
            return None
        return ReportResult(
            reference_of(key), Decision.from_dict(json.loads(row.decision)), row.decided_at, True
        )

    def _audit(
        self,
        conn: Connection,
        key: str,
        report: Report,
        now: datetime,
        result: ReportResult | None,
        error: str | None = None,
    ) -> None:
        conn.execute(
            insert(audit).values(
                received_at=now,
                report_key=key,
                typed=report.code,
                sale_ref=report.sale_id,
                outcome=result.decision.outcome.value if result else None,
                reason=result.decision.reason if result else None,
                replayed=result.replayed if result else False,
                error=error,
            )
        )

    def submit(self, report: Report) -> ReportResult:
        """Decide on a report, record it, and refund and re-queue when the fault is ours.

        Raises :class:`RegistryUnavailable` (and records the attempt in the audit log) when the
        registry cannot be asked; nothing else is recorded then.
        """
        key = report_key(report)
        now = self.clock.now()
        with self.engine.begin() as conn:
            first_look = self._resolve(conn, report)

        # Ask the registry outside any transaction: the booth must not wait on the network.
        # Asked even for a report answered before: its answer is replayed only if the code's
        # state there is what it was.
        try:
            view = self._registry_view(first_look)
            file_view = self._collector_view(first_look, view)
        except RegistryUnavailable as exc:
            with self.engine.begin() as conn:
                self._audit(conn, key, report, now, None, error=exc.detail)
            raise

        with self.engine.begin() as conn:
            resolution = self._resolve(conn, report)
            facts = facts_of(resolution.sale, view, collector=file_view)
            stored = self._stored(conn, key, now, facts)
            if stored is not None:
                self._audit(conn, key, report, now, stored)
                return stored
            sale = resolution.sale
            if sale is not None and first_look.sale is not None:
                if sale.code != first_look.sale.code:  # cannot happen: codes never change
                    raise RuntimeError(f"sale {sale.sale_id} changed code during a report")
            printed = self.ledger.printed_photos(sale.product_id) if sale else 0
            decision = decide(
                report, resolution, view, now, self.ephoto_products, printed, file_view
            )
            if decision.refund and sale is not None and decision.amount is not None:
                self._refund(conn, key, sale, decision, now)
            if decision.requeue and decision.code is not None:
                outbox_module.requeue(conn, decision.code, now)
            values = dict(
                typed=report.code,
                sale_ref=report.sale_id,
                outcome=decision.outcome.value,
                decision=json.dumps(decision.to_dict(), ensure_ascii=False),
                decided_at=now,
                recheck_after=decision.decided_again_at(),
                facts=facts_of(
                    sale, view, refunded_now=decision.refund, collector=file_view
                ).to_json(),
            )
            updated = conn.execute(
                update(claims).where(claims.c.report_key == key).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(insert(claims).values(report_key=key, **values))
            result = ReportResult(reference_of(key), decision, now, False)
            self._audit(conn, key, report, now, result)
            return result

    def _registry_view(self, resolution: Resolution) -> RegistryView:
        sale = resolution.sale
        if sale is None or not sale.ephoto or sale.code is None:
            return ABSENT
        return self.registry.code_state(sale.code)

    def _collector_view(self, resolution: Resolution, view: RegistryView) -> CollectorView:
        """The collector's record of the sale's file, asked only where it can change the
        answer: the number is active and unused at the state (can its file be fetched?), or
        the booth sent it and the state never got it (did the state refuse it?)."""
        sale = resolution.sale
        if self.collector is None or sale is None or sale.code is None:
            return NOT_ASKED
        active = view.state == CodeState.ACTIVE and view.used_at is None
        lost_on_the_way = view.state == "absent" and bool(sale.transmitted)
        if not (active or lost_on_the_way):
            return NOT_ASKED
        return self.collector.file_state(sale.code)

    def _refund(
        self, conn: Connection, key: str, sale: SaleRecord, decision: Decision, now: datetime
    ) -> None:
        number = self.ledger.parse_sale_ref(sale.sale_id)
        assert number is not None and decision.amount is not None
        conn.execute(
            insert(refunds).values(
                sale_id=number,
                sale_ref=sale.sale_id,
                code=sale.code,
                amount_cents=decision.amount.cents,
                reason=decision.reason,
                report_key=key,
                refunded_at=now,
                requeued=decision.requeue,
            )
        )

    # -- reading for the operator and the tests ----------------------------------------------

    def refunds(self) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(select(refunds).order_by(refunds.c.id))]

    def audit_log(self) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(select(audit).order_by(audit.c.id))]


def read_record(booth_db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The desk's record in a booth's file, read only: every report received, each with the
    number its decision was about (``code``, None when no sale was found), and every refund;
    both empty when no report was ever decided there."""
    engine = create_engine(f"sqlite:///file:{booth_db}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(audit.name):
                return [], []
            decided = {
                row.report_key: json.loads(row.decision).get("code")
                for row in conn.execute(select(claims.c.report_key, claims.c.decision))
            }
            reports = [
                {**row._mapping, "code": decided.get(row.report_key)}
                for row in conn.execute(select(audit).order_by(audit.c.id))
            ]
            made = [dict(r._mapping) for r in conn.execute(select(refunds).order_by(refunds.c.id))]
            return reports, made
    finally:
        engine.dispose()


class FleetDesk:
    """One desk for an operator's booths: each report is decided by the desk of the booth that
    sold it, in that booth's file, so a refund, its decision and the number's return to that
    booth's outbox still commit together.

    The booth is the one a printed sale reference names (``booth-002-000042``); else the one
    whose ledger holds the number as typed, or its near miss when only one booth has one. A
    report that no booth's ledger answers (or answers twice) is decided and recorded by the
    first booth's desk, which then finds no sale (or an ambiguous one) by the same rules."""

    def __init__(self, desks: dict[str, SupportDesk]):
        if not desks:
            raise ValueError("a fleet desk serves at least one booth")
        self.desks = desks
        first = next(iter(desks.values()))
        self.prefixes = first.prefixes

    def desk_for(self, report: Report) -> SupportDesk:
        if report.sale_id:
            parsed = parse_sale_reference(report.sale_id)
            if parsed is not None and parsed[0] in self.desks:
                return self.desks[parsed[0]]
        if report.code:
            found = []
            for desk in self.desks.values():
                with desk.engine.connect() as conn:
                    resolution = desk._resolve(conn, report)
                if resolution.sale is not None:
                    if resolution.matched_by == "code":  # the number as typed: no doubt
                        return desk
                    found.append(desk)
            if len(found) == 1:
                return found[0]
        return next(iter(self.desks.values()))

    def submit(self, report: Report) -> ReportResult:
        return self.desk_for(report).submit(report)

    def refunds(self) -> list[dict[str, Any]]:
        return [
            {"booth": booth, **row} for booth, desk in self.desks.items() for row in desk.refunds()
        ]

    def audit_log(self) -> list[dict[str, Any]]:
        rows = [
            {"booth": booth, **row}
            for booth, desk in self.desks.items()
            for row in desk.audit_log()
        ]
        return sorted(rows, key=lambda row: (row["received_at"], row["booth"], row["id"]))


@contextmanager
def open_fleet_desk(
    booths: dict[str, Path],
    registry_url: str,
    token: str | None,
    clock: Clock,
    catalog: Catalog,
    *,
    prefixes: tuple[str, ...] = (codes.DEFAULT_PREFIX,),
    timeout: float = 5.0,
    collector_url: str | None = None,
    collector_token: str | None = None,
) -> Iterator[FleetDesk]:
    """A desk on several booths' files (``booths``: booth id to its SQLite file), sharing one
    registry client and one collector client; closed on exit."""
    missing = [str(path) for path in booths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"booth ledger {missing[0]} does not exist: start the kiosk first")
    registry = RegistryAdmin(registry_url, token, timeout=timeout)
    collector = (
        CollectorAdmin(collector_url, collector_token, timeout=timeout) if collector_url else None
    )
    engines = {booth: open_booth_engine(path) for booth, path in booths.items()}
    try:
        yield FleetDesk(
            {
                booth: SupportDesk(
                    engine,
                    registry,
                    clock,
                    catalog,
                    booth_id=booth,
                    prefixes=prefixes,
                    collector=collector,
                )
                for booth, engine in engines.items()
            }
        )
    finally:
        registry.close()
        if collector is not None:
            collector.close()
        for engine in engines.values():
            engine.dispose()


@contextmanager
def open_desk(
    booth_db: Path,
    registry_url: str,
    token: str | None,
    clock: Clock,
    catalog: Catalog,
    *,
    booth_id: str,
    prefixes: tuple[str, ...] = (codes.DEFAULT_PREFIX,),
    timeout: float = 5.0,
    collector_url: str | None = None,
    collector_token: str | None = None,
) -> Iterator[SupportDesk]:
    """A desk on the booth file at ``booth_db``, closed (engine and HTTP clients) on exit; it
    asks the operator's collector too when ``collector_url`` is given."""
    with open_fleet_desk(
        {booth_id: booth_db},
        registry_url,
        token,
        clock,
        catalog,
        prefixes=prefixes,
        timeout=timeout,
        collector_url=collector_url,
        collector_token=collector_token,
    ) as desks:
        yield desks.desks[booth_id]
