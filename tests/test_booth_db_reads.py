"""booth.db's tables belong to the kiosk's ledger and the transmitter's outbox: any other package
reads a sale or a code's delivery through their read functions, never the tables."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table

import kiosk.ledger
import transmitter.outbox
from ephoto.clock import ManualClock
from kiosk.catalog import load_catalog
from kiosk.ledger import Ledger, read_sale
from tests.kiosk_harness import customer
from transmitter.outbox import Outbox, read_delivery

ROOT = Path(__file__).resolve().parent.parent
OWNERS = {"kiosk.ledger": kiosk.ledger, "transmitter.outbox": transmitter.outbox}
# Every package but the two owners (kiosk's UI and the transmitter's service use their own).
READERS = ("cabine", "ephoto", "registry", "simulation", "support", "collector")
NOW = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


def _tables(module: object) -> set[str]:
    return {name for name, value in vars(module).items() if isinstance(value, Table)}


TABLES = {name: _tables(module) for name, module in OWNERS.items()}


def table_reads(source: str) -> list[str]:
    """Each place ``source`` names a ledger or outbox table: imported by name, or read as an
    attribute of the module (``from kiosk import ledger as l; l.sales``)."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> owner module
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in OWNERS:
                    aliases[alias.asname or alias.name] = full
                elif node.module in OWNERS and alias.name in TABLES[node.module]:
                    found.append(f"line {node.lineno}: {full}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in OWNERS and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = None
        if isinstance(node.value, ast.Name) and node.value.id in aliases:
            owner = aliases[node.value.id]
        elif isinstance(node.value, ast.Attribute):
            dotted = ast.unparse(node.value)
            owner = dotted if dotted in OWNERS else None
        if owner is not None and node.attr in TABLES[owner]:
            found.append(f"line {node.lineno}: {owner}.{node.attr}")
    return found


def test_no_other_package_reads_the_ledgers_or_the_outboxs_tables() -> None:
    found = []
    for package in READERS:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            found += [
                f"{path.relative_to(ROOT)}: {hit}"
                for hit in table_reads(path.read_text(encoding="utf-8"))
            ]
    assert found == [], "use kiosk.ledger.read_sale / transmitter.outbox.read_delivery:\n" + (
        "\n".join(found)
    )


@pytest.mark.parametrize(
    "source",
    [
        "from transmitter.outbox import outbox\n",
        "from kiosk import ledger as kiosk_ledger\nq = kiosk_ledger.sales.c.id\n",
        "import kiosk.ledger\nq = kiosk.ledger.payments\n",
        "import transmitter.outbox as ob\nq = ob.outbox.c.status\n",
    ],
)
def test_the_scan_sees_a_table_read_by_hand(source: str) -> None:
    assert table_reads(source) != []


def test_the_scan_lets_the_read_functions_through() -> None:
    source = (
        "from kiosk import ledger as kiosk_ledger\nfrom transmitter import outbox as ob\n"
        "kiosk_ledger.read_sale(conn, sale_id=1)\nob.read_delivery(conn, 'X')\nob.requeue\n"
    )
    assert table_reads(source) == []


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(tmp_path / "booth.db", ManualClock(NOW), booth_id="b-7", operator_prefix="9PMT")
    yield led
    led.dispose()


def test_read_sale_tells_a_paid_ephoto_sale_by_id_and_by_code(ledger: Ledger) -> None:
    product = load_catalog().get("ephoto-permis")
    sale_id = ledger.open_sale(product, "fr")
    issued = ledger.issue(sale_id, "card", 800, **customer(product))
    with ledger.engine.connect() as conn:
        by_id = read_sale(conn, sale_id=sale_id)
        by_code = read_sale(conn, code=issued.code or "")
        assert read_sale(conn, sale_id=sale_id + 1) is None
        assert read_sale(conn, code="9PMT" + "A" * 18) is None
    assert by_id == by_code
    assert by_id is not None and by_id.settled and by_id.ephoto
    assert (by_id.code, by_id.issued_at, by_id.paid_cents, by_id.paid_at) == (
        issued.code,
        NOW,
        800,
        NOW,
    )
    assert by_id.reference == f"b-7-{sale_id:06d}"


def test_read_sale_tells_an_unpaid_or_cancelled_sale_is_not_settled(ledger: Ledger) -> None:
    product = load_catalog().get("ephoto-permis")
    open_id = ledger.open_sale(product, "fr")
    cancelled_id = ledger.open_sale(product, "fr")
    ledger.cancel_sale(cancelled_id, "customer left")
    with ledger.engine.connect() as conn:
        for sale_id in (open_id, cancelled_id):
            sale = read_sale(conn, sale_id=sale_id)
            assert sale is not None and not sale.settled
            assert sale.code is None and sale.paid_cents is None
    with pytest.raises(ValueError):
        with ledger.engine.connect() as conn:
            read_sale(conn)


def test_read_delivery_follows_a_code_from_pending_to_sent(ledger: Ledger) -> None:
    product = load_catalog().get("ephoto-permis")
    sale_id = ledger.open_sale(product, "fr")
    code = ledger.issue(sale_id, "card", 800, **customer(product)).code or ""
    with ledger.engine.connect() as conn:
        pending = read_delivery(conn, code)
        assert read_delivery(conn, "9PMT" + "A" * 18) is None
    assert pending is not None and pending.status == "pending"
    assert not pending.sent and not pending.rejected and pending.issued_at == NOW
    box = Outbox(ledger.engine)
    rows = box.claim_due(NOW + timedelta(hours=1), limit=10, lease=timedelta(minutes=1))
    box.mark_sent([row.id for row in rows], NOW + timedelta(hours=1), batch_id="b1")
    with ledger.engine.connect() as conn:
        sent = read_delivery(conn, code)
    assert sent is not None and sent.sent and sent.sent_at == NOW + timedelta(hours=1)
