"""The live fleet's record and its reconciliation, from each component's own records.

The record (``numbers.csv``, a row per ePhoto number) is read from the booths' ledgers and
outboxes, the collector's admin API (``/admin/files/{number}``) and the registry's
(``/admin/codes/{code}``); the harness's own bookkeeping plays no part. The check holds every
number and every euro to these rules, each breach named with its number:

1. every number in a booth's ledger is at the collector exactly once, from that booth, with the
   booth's bytes (photo and signature digests) and sealed;
2. it is at the state, from the operator's collector, for the booth's product;
3. a used number's fetched file is the booth's (the digests the state recorded at use);
4. the state holds no number that no booth sold, and no booth sold a number twice;
5. a number is used at the state exactly when a buyer was told it worked, and only once;
6. each booth's approved payments equal the price of its paid sales (card and coins); its
   change, coins returned and refunds due are written beside them in ``money.csv``;
7. every report a buyer made is in the desk's record (``support.csv``, read from the booths'
   files) with the answer the buyer got, and each decision agrees with the state's record of
   the number at the time it was made (active or not, used, past the 72 h promise); each of the
   desk's refunds is of a paid sale of that booth, for what was paid, once.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ephoto.clock import ensure_utc
from ephoto.validity import ACTIVATION_PROMISE
from transmitter.outbox import PENDING

RECORD_FILE = "numbers.csv"
MONEY_FILE = "money.csv"
CHECK_FILE = "check.json"
RUN_FILE = "run.json"
ATTEMPTS_FILE = "citizens.csv"
"""The buyers' attempts, written by the fleet's citizens (``simulation.live_citizens``)."""
REPORTS_FILE = "reports.csv"
"""The buyers' reports to the support desk and the answers they got."""
SUPPORT_FILE = "support.csv"
"""The desk's own record of every report it decided, read from each booth's file."""

COLUMNS = (
    "code",
    "booth",
    "product",
    "sale",
    "issued_at",
    "collector_received_at",
    "collector_sealed_at",
    "collector_registration",
    "registered_at",
    "processing_end",
    "base_delay_hours",
    "active_at",
    "state",
    "used_at",
    "booth_photo_sha256",
    "collector_photo_sha256",
    "fetched_photo_sha256",
    "first_citizen_attempt_at",
    "citizen_attempts",
)


@dataclass
class Breach:
    rule: str
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


@dataclass
class CheckResult:
    numbers: int = 0
    booths: int = 0
    breaches: list[Breach] = field(default_factory=list)
    in_transit: int = 0
    """Numbers still on their way (waiting in a booth's outbox, or at the collector for
    registration): not lost, as after a run stopped early."""

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "numbers": self.numbers,
            "booths": self.booths,
            "in_transit": self.in_transit,
            "breaches": [b.__dict__ for b in self.breaches],
        }


def _iso(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class BoothBook:
    """What one booth's own records say: its sales, numbers, files and money."""

    booth: str
    sales: list[Any]
    files: dict[str, Any]
    money: dict[str, int]
    outbox: dict[str, str]
    """Each number's state in the booth's outbox: pending, sent or rejected."""
    reports: list[dict[str, Any]] = field(default_factory=list)
    """The support desk's record of the reports it decided in this booth's file."""
    refunds: list[dict[str, Any]] = field(default_factory=list)
    """The desk's refunds of this booth's sales."""


def read_booth(folder: Path, booth_id: str) -> BoothBook:
    """A booth's ledger and outbox, read only, through their owners' read functions."""
    from ephoto.clock import ManualClock
    from kiosk.ledger import Ledger
    from support.desk import read_record
    from transmitter.outbox import read_delivery, read_file

    ledger = Ledger(folder / "booth.db", ManualClock(), booth_id=booth_id)
    try:
        sales = ledger.all_sales()
        numbers = [s.code for s in sales if s.code]
        files = {code: read_file(ledger.engine, code) for code in numbers}
        with ledger.engine.connect() as conn:
            deliveries = {code: read_delivery(conn, code) for code in numbers}
        outbox = {code: d.status for code, d in deliveries.items() if d is not None}
        reports, refunds = read_record(folder / "booth.db")
        return BoothBook(booth_id, sales, files, ledger.money_by_status(), outbox, reports, refunds)
    finally:
        ledger.engine.dispose()


class Services:
    """Admin clients of the collector and the registry of a run."""

    def __init__(self, collector_url: str, registry_url: str, token: str):
        headers = {"Authorization": f"Bearer {token}"}
        self.collector = httpx.Client(base_url=collector_url, headers=headers, timeout=30)
        self.registry = httpx.Client(base_url=registry_url, headers=headers, timeout=30)

    def collector_file(self, code: str) -> dict[str, Any] | None:
        return _json_or_none(self.collector.get(f"/admin/files/{code}"))

    def registry_code(self, code: str) -> dict[str, Any] | None:
        return _json_or_none(self.registry.get(f"/admin/codes/{code}"))

    def registry_stats(self) -> dict[str, Any]:
        response = self.registry.get("/admin/stats")
        response.raise_for_status()
        return dict(response.json())

    def close(self) -> None:
        self.collector.close()
        self.registry.close()


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return dict(response.json())


def booth_folders(run_dir: Path) -> dict[str, Path]:
    run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    return {booth: run_dir / "booths" / booth for booth in run["booths"]}


def reconcile(run_dir: Path, services: Services) -> CheckResult:
    """Write ``numbers.csv`` and ``money.csv`` from the components' records and check them."""
    result = CheckResult()
    rows: list[dict[str, str]] = []
    money_rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    books: dict[str, BoothBook] = {}
    for booth_id, folder in booth_folders(run_dir).items():
        book = books[booth_id] = read_booth(folder, booth_id)
        result.booths += 1
        money_rows.append(_money(book, result))
        for sale in book.sales:
            if not sale.code:
                continue
            result.numbers += 1
            code = sale.code
            if code in seen:
                result.breaches.append(
                    Breach("sold_twice", code, f"sold by {seen[code]} and by {booth_id}")
                )
            seen[code] = booth_id
            rows.append(_number_row(book, sale, services, result))
    _with_citizens(run_dir, rows, result)
    support_rows = _support(run_dir, rows, books, money_rows, result)
    _write_csv(run_dir / SUPPORT_FILE, SUPPORT_COLUMNS, support_rows)
    _nothing_unsold(len(seen), services, result)
    _write_csv(run_dir / RECORD_FILE, COLUMNS, rows)
    money_columns = (
        "booth",
        "paid_sales_cents",
        "approved_cents",
        "change_cents",
        "returned_cents",
        "refund_due_cents",
        "refund_due_sales",
        "support_refund_cents",
        "support_refunds",
    )
    _write_csv(run_dir / MONEY_FILE, money_columns, money_rows)
    (run_dir / CHECK_FILE).write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    return result


def _number_row(book: BoothBook, sale: Any, services: Services, result: CheckResult) -> dict:
    code = sale.code
    breaches = result.breaches
    file = book.files.get(code)
    booth_photo = file.meta.photo_sha256 if file is not None else ""
    booth_signature = file.meta.signature_sha256 if file is not None else ""
    if file is None:
        breaches.append(Breach("booth_file", code, "the booth's outbox holds no file for it"))
    at_collector = services.collector_file(code)
    at_state = services.registry_code(code)
    waiting_at_booth = book.outbox.get(code) == PENDING
    if at_collector is None and waiting_at_booth:
        result.in_transit += 1
    elif at_collector is None:
        said = book.outbox.get(code, "missing")
        breaches.append(Breach("collector", code, f"not at the collector (booth's outbox: {said})"))
    else:
        if at_collector.get("booth_id") != book.booth:
            breaches.append(
                Breach("collector", code, f"from {at_collector.get('booth_id')}, not {book.booth}")
            )
        if file is not None and (
            at_collector.get("photo_sha256") != booth_photo
            or at_collector.get("signature_sha256") != booth_signature
        ):
            breaches.append(Breach("collector", code, "its bytes differ from the booth's"))
        if not at_collector.get("sealed_at"):
            breaches.append(Breach("collector", code, "received but not sealed"))
    waiting_at_collector = (at_collector or {}).get("registration") == PENDING
    if at_state is None and (waiting_at_booth or waiting_at_collector):
        if not waiting_at_booth:
            result.in_transit += 1
    elif at_state is None:
        breaches.append(Breach("state", code, "not registered at the state"))
    elif at_state.get("product") != sale.product:
        breaches.append(
            Breach("state", code, f"registered for {at_state.get('product')}, sold {sale.product}")
        )
    fetched = (at_state or {}).get("redeemed_photo_sha256") or ""
    if at_state is not None and at_state.get("redeemed_at"):
        if fetched != booth_photo or (at_state.get("redeemed_signature_sha256") != booth_signature):
            breaches.append(Breach("fetch", code, "the state used a file that is not the booth's"))
    collector = at_collector or {}
    state = at_state or {}
    return {
        "code": code,
        "booth": book.booth,
        "product": sale.product,
        "sale": sale.display_id(),
        "issued_at": _iso(file.meta.issued_at if file is not None else None),
        "collector_received_at": _iso(collector.get("received_at")),
        "collector_sealed_at": _iso(collector.get("sealed_at")),
        "collector_registration": _iso(collector.get("registration")),
        "registered_at": _iso(state.get("received_at")),
        "processing_end": _iso(state.get("processing_end")),
        "base_delay_hours": _iso(state.get("base_delay_hours")),
        "active_at": _iso(state.get("active_at")),
        "state": _iso(state.get("state")),
        "used_at": _iso(state.get("redeemed_at")),
        "booth_photo_sha256": booth_photo,
        "collector_photo_sha256": _iso(collector.get("photo_sha256")),
        "fetched_photo_sha256": fetched,
    }


def _with_citizens(run_dir: Path, rows: list[dict[str, str]], result: CheckResult) -> None:
    """The buyers' attempts (``citizens.csv``) beside each number, and the state's single use
    held against them: a number the state marks used is one a buyer was told it worked for,
    once, and every number a buyer was told worked is used at the state."""
    path = run_dir / ATTEMPTS_FILE
    attempts: dict[str, list[dict[str, str]]] = {}
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            for attempt in csv.DictReader(handle):
                attempts.setdefault(attempt["code"], []).append(attempt)
    for row in rows:
        tried = attempts.get(row["code"], [])
        row["first_citizen_attempt_at"] = min((a["at"] for a in tried), default="")
        row["citizen_attempts"] = str(len(tried))
        worked = sum(1 for a in tried if a["status"] == "200")
        if worked > 1:
            result.breaches.append(Breach("use", row["code"], f"used {worked} times"))
        if (worked == 1) != bool(row["used_at"]):
            said = "a buyer was told it worked" if worked else "no buyer was told it worked"
            state = "used" if row["used_at"] else "not used"
            result.breaches.append(Breach("use", row["code"], f"{said}, the state has it {state}"))


def _money(book: BoothBook, result: CheckResult) -> dict[str, Any]:
    from kiosk.ledger import (
        APPROVED,
        CHANGE,
        PAID,
        PRINTED,
        REFUND_DUE,
        REFUND_DUE_PAYMENT,
        RETURNED,
    )

    paid = sum(s.price_cents for s in book.sales if s.status in (PAID, PRINTED))
    approved = book.money.get(APPROVED, 0)
    if approved != paid:
        result.breaches.append(
            Breach(
                "money",
                book.booth,
                f"approved payments {approved} cents, paid sales {paid} cents",
            )
        )
    return {
        "booth": book.booth,
        "paid_sales_cents": paid,
        "approved_cents": approved,
        "change_cents": book.money.get(CHANGE, 0),
        "returned_cents": book.money.get(RETURNED, 0),
        "refund_due_cents": book.money.get(REFUND_DUE_PAYMENT, 0),
        "refund_due_sales": sum(1 for s in book.sales if s.status == REFUND_DUE),
    }


def _nothing_unsold(sold: int, services: Services, result: CheckResult) -> None:
    """The state holds exactly the numbers the booths sold: each sold one was found above, so
    a count above theirs is a number no booth sold."""
    stats = services.registry_stats()
    held = sum(int(n) for n in stats.get("by_state", {}).values())
    if held > sold:
        result.breaches.append(
            Breach("state", "registry", f"holds {held} numbers, the booths sold {sold}")
        )


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


@contextmanager
def services_of(run_dir: Path) -> Iterator[Services]:
    """The run's collector and registry, started again on the stores in ``run_dir`` (a run's
    folder may have been moved or copied: its files are taken from where it is now) and on
    their own ports, for a check after the run; stopped after."""
    from cabine.config import load_settings, write_settings
    from cabine.processes import ProcessGroup
    from cabine.topology import COLLECTOR_SEAL_PUBLIC

    run_dir = run_dir.resolve()
    config = run_dir / "config"
    registry = load_settings(config / "registry.toml")
    registry = registry.model_copy(
        update={
            "data_dir": run_dir / "registry",
            "registry": registry.registry.model_copy(
                update={
                    "collectors": {
                        prefix: link.model_copy(
                            update={"public_key_file": run_dir / "registry" / COLLECTOR_SEAL_PUBLIC}
                        )
                        for prefix, link in registry.registry.collectors.items()
                    }
                }
            ),
        }
    )
    collector = load_settings(config / "collector.toml")
    collector = collector.model_copy(update={"data_dir": run_dir / "collector"})
    checking = run_dir / "logs" / "check"
    registry_file = write_settings(registry, checking / "registry.toml")
    collector_file = write_settings(collector, checking / "collector.toml")
    registry_url = f"http://{registry.registry.host}:{registry.registry.port}"
    collector_url = f"http://{collector.collector.host}:{collector.collector.port}"
    token = registry.registry.admin_token or ""
    with ProcessGroup(checking) as group:
        group.start("registry", ["registry"], config=registry_file, url=registry_url)
        group.start("collector", ["collector", "serve"], config=collector_file, url=collector_url)
        group.get("registry").wait_serving()
        group.get("collector").wait_serving(path="/openapi.json")
        services = Services(collector_url, registry_url, token)
        try:
            yield services
        finally:
            services.close()


SUPPORT_COLUMNS = (
    "booth",
    "received_at",
    "typed",
    "code",
    "outcome",
    "reason",
    "replayed",
    "error",
)
_NOT_YET_ACTIVE = ("wait", "typo_wait", "refused_in_transit")
_ACTIVE_UNUSED = ("works", "typo")
_NEVER_ACTIVE_PAST_PROMISE = (
    "refund_not_activated",
    "refund_lost_in_transit",
    "refund_never_transmitted",
    "refund_too_late_to_resend",
    "refund_refused_in_transit",
)


def _support(
    run_dir: Path,
    rows: list[dict[str, str]],
    books: dict[str, BoothBook],
    money_rows: list[dict[str, Any]],
    result: CheckResult,
) -> list[dict[str, Any]]:
    """The desk's record held against the buyers' account and the state's record (rule 7)."""
    run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    slack = timedelta(seconds=float(run.get("tick_seconds", 0.0)))
    by_code = {row["code"]: row for row in rows}
    decided: list[dict[str, Any]] = []
    for booth, book in books.items():
        for report in book.reports:
            decided.append({"booth": booth, **report})
            if report["outcome"] is not None:
                _decision_agrees(report, by_code.get(report["code"] or ""), slack, result)
        _refunds_of(book, money_rows, result)
    decided.sort(key=lambda r: (r["received_at"], r["booth"]))
    _buyers_answered(run_dir, decided, result)
    return [{column: _iso(report.get(column)) for column in SUPPORT_COLUMNS} for report in decided]


def _when(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _decision_agrees(
    report: dict[str, Any], row: dict[str, str] | None, slack: timedelta, result: CheckResult
) -> None:
    """One decision against the state's record of its number when it was made: the desk asked
    the registry a moment before recording, so a change within one tick either way is allowed."""
    reason, at = report["reason"], _aware(report["received_at"])
    subject = report["code"] or report["typed"] or "?"

    def breach(detail: str) -> None:
        result.breaches.append(
            Breach("support", subject, f"{reason} at {at.isoformat()}: {detail}")
        )

    if row is None:
        if report["code"] is not None:
            breach("about a number no booth sold")
        return
    active = _when(row["active_at"])
    used = _when(row["used_at"])
    issued = _when(row["issued_at"])
    active_then = active is not None and active <= at + slack
    active_before = active is not None and active <= at - slack
    if reason in _ACTIVE_UNUSED and not active_then:
        breach("the state had not made it active")
    if reason in _ACTIVE_UNUSED and used is not None and used <= at - slack:
        breach("the state had it used already")
    if reason == "used" and (used is None or used > at + slack):
        breach("the state had not recorded its use")
    if reason in _NOT_YET_ACTIVE and active_before:
        breach("the state had made it active already")
    if reason in _NEVER_ACTIVE_PAST_PROMISE:
        if active_before:
            breach("refunded as never active, but the state had made it active")
        if issued is not None and at + slack < issued + ACTIVATION_PROMISE:
            breach("refunded before the 72 h promise passed")


def _aware(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return ensure_utc(when)


def _refunds_of(book: BoothBook, money_rows: list[dict[str, Any]], result: CheckResult) -> None:
    """Each refund is of a paid sale of this booth, for its price, at most once."""
    from kiosk.ledger import PAID, PRINTED

    sales = {sale.id: sale for sale in book.sales}
    refunded: set[int] = set()
    for refund in book.refunds:
        sale = sales.get(refund["sale_id"])
        subject = refund["sale_ref"]
        if sale is None or sale.status not in (PAID, PRINTED):
            result.breaches.append(Breach("refund", subject, "not a paid sale of this booth"))
        elif refund["amount_cents"] != sale.price_cents:
            result.breaches.append(
                Breach(
                    "refund",
                    subject,
                    f"{refund['amount_cents']} cents refunded, {sale.price_cents} paid",
                )
            )
        if refund["sale_id"] in refunded:
            result.breaches.append(Breach("refund", subject, "refunded twice"))
        refunded.add(refund["sale_id"])
    row = next(r for r in money_rows if r["booth"] == book.booth)
    row["support_refund_cents"] = sum(r["amount_cents"] for r in book.refunds)
    row["support_refunds"] = len(book.refunds)


def _buyers_answered(run_dir: Path, decided: list[dict[str, Any]], result: CheckResult) -> None:
    """Every answer a buyer got from the desk is one the desk recorded (same number as typed,
    same outcome and reason), and the desk recorded no decided report nobody made."""
    path = run_dir / REPORTS_FILE
    told: dict[tuple[str, str, str], int] = {}
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            for report in csv.DictReader(handle):
                if report["status"] == "200":
                    key = (report["typed"], report["outcome"], report["reason"])
                    told[key] = told.get(key, 0) + 1
    recorded: dict[tuple[str, str, str], int] = {}
    for report in decided:
        if report["outcome"] is not None:
            key = (report["typed"] or "", report["outcome"], report["reason"])
            recorded[key] = recorded.get(key, 0) + 1
    for key in sorted(set(told) | set(recorded)):
        if told.get(key, 0) != recorded.get(key, 0):
            typed, outcome, reason = key
            result.breaches.append(
                Breach(
                    "support",
                    typed,
                    f"{told.get(key, 0)} buyers told {outcome}/{reason}, "
                    f"the desk recorded {recorded.get(key, 0)}",
                )
            )
