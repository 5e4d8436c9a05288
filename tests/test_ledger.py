"""The booth ledger: issuing is one transaction (sale paid + number + its ePhoto file + outbox
row), nothing is issued twice, and a failed write or a file that cannot be made leaves no number
anywhere and a refund to make."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text

from ephoto import code as codes
from ephoto.clock import ManualClock
from ephoto.epfile import PHOTO_SIZE, SIGNATURE_SIZE, file_problems, sha256_hex
from ephoto.validity import expires_at
from kiosk.catalog import load_catalog
from kiosk.ledger import (
    CANCELLED,
    PAID,
    PRINTED,
    REFUND_DUE,
    IssueFailed,
    Ledger,
    SaleNotOpen,
    issued_codes,
)
from tests.kiosk_harness import customer
from transmitter.outbox import outbox, outbox_files, read_file

NOW = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def ledger(tmp_path, clock):
    led = Ledger(
        tmp_path / "booth.db", clock, booth_id="b-7", operator_prefix="9PMT", paper_capacity=3
    )
    yield led
    led.dispose()


def pay(ledger, sale_id: int, method: str, cents: int, **given):
    """Issue as the booth does: with the customer's photo and signature for an ePhoto sale."""
    product = load_catalog().get(ledger.sale(sale_id).product)
    return ledger.issue(sale_id, method, cents, **{**customer(product), **given})


def count(ledger, table) -> int:
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_booth_db_is_durable_wal_and_synchronous_full(ledger):
    with ledger.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL


def test_issuing_an_ephoto_sale_records_payment_code_and_outbox_row_together(ledger):
    product = load_catalog().get("ephoto-permis")
    sale_id = ledger.open_sale(product, "fr")
    issued = pay(ledger, sale_id, "card", 800)
    assert codes.is_valid(issued.code, prefixes=("9PMT",))
    assert issued.expires_at == expires_at(NOW)
    sale = ledger.sale(sale_id)
    assert sale.status == PAID and sale.code == issued.code
    with ledger.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert (row.code, row.booth_id, row.product) == (issued.code, "b-7", "ephoto-permis")
    assert row.not_before == NOW + timedelta(minutes=15)


def test_a_non_ephoto_sale_gets_no_number_and_no_outbox_row(ledger):
    sale_id = ledger.open_sale(load_catalog().get("passport"), "fr")
    issued = pay(ledger, sale_id, "coins", 700)
    assert issued.code is None
    assert count(ledger, issued_codes) == 0 and count(ledger, outbox) == 0
    assert ledger.sale(sale_id).status == PAID


def test_a_sale_is_never_issued_twice(ledger):
    sale_id = ledger.open_sale(load_catalog().get("ephoto-titre-sejour"), "fr")
    pay(ledger, sale_id, "card", 800)
    with pytest.raises(SaleNotOpen, match="is paid, not open"):
        pay(ledger, sale_id, "card", 800)
    assert count(ledger, issued_codes) == 1 and count(ledger, outbox) == 1


def fill_the_disk(engine, at_table: str = "outbox"):
    """The disk fills up during the issuing transaction: SQLite's own SQLITE_FULL error is
    raised at the DBAPI level by the write into ``at_table``, the last write of the unit."""

    @event.listens_for(engine, "before_cursor_execute")
    def _full(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(f"INSERT INTO {at_table.upper()}"):
            raise sqlite3.OperationalError("database or disk is full")

    return _full


@pytest.mark.parametrize("at_table", ["payments", "codes", "outbox", "outbox_files"])
def test_disk_full_at_issuing_leaves_no_number_anywhere_and_a_refund_due(ledger, at_table):
    product = load_catalog().get("ephoto-permis")
    sale_id = ledger.open_sale(product, "fr")
    hook = fill_the_disk(ledger.engine, at_table)
    with pytest.raises(IssueFailed, match="disk is full"):
        pay(ledger, sale_id, "card", 800)
    event.remove(ledger.engine, "before_cursor_execute", hook)
    assert count(ledger, issued_codes) == 0 and count(ledger, outbox) == 0
    assert count(ledger, outbox_files) == 0
    assert ledger.sale(sale_id).status == "open" and ledger.sale(sale_id).code is None
    assert ledger.mark_refund_due(sale_id, "card", 800, "disk full")
    assert ledger.sale(sale_id).status == REFUND_DUE


def test_the_numbers_file_is_made_from_the_customers_photo_and_signature_and_stored_with_it(
    ledger,
):
    product = load_catalog().get("ephoto-titre-sejour")
    sale_id = ledger.open_sale(product, "fr")
    issued = pay(ledger, sale_id, "card", 800)
    file = read_file(ledger.engine, issued.code)
    assert file is not None and file_problems(file, ("9PMT",)) == []
    meta = file.meta
    assert (meta.code, meta.booth_id, meta.operator) == (issued.code, "b-7", "9PMT")
    assert (meta.product, meta.procedure, meta.issued_at) == (
        "ephoto-titre-sejour",
        "titre-sejour",
        NOW,
    )
    assert meta.photo_sha256 == sha256_hex(file.photo_jpeg)
    import io

    from PIL import Image

    with Image.open(io.BytesIO(file.photo_jpeg)) as photo:
        assert photo.size == PHOTO_SIZE
    with Image.open(io.BytesIO(file.signature_png)) as signature:
        assert (signature.size, signature.mode) == (SIGNATURE_SIZE, "L")


@pytest.mark.parametrize("missing", ["photo", "signature"])
def test_an_ephoto_sale_without_photo_or_signature_issues_no_number(ledger, missing):
    """No file, no number: the issue fails before anything is written, and the payment is to
    be refunded as after a full disk."""
    sale_id = ledger.open_sale(load_catalog().get("ephoto-permis"), "fr")
    with pytest.raises(IssueFailed, match=f"needs the customer's {missing}"):
        pay(ledger, sale_id, "card", 800, **{missing: None})
    assert count(ledger, issued_codes) == count(ledger, outbox) == count(ledger, outbox_files) == 0
    assert ledger.sale(sale_id).status == "open"
    assert ledger.mark_refund_due(sale_id, "card", 800, "no signature")
    assert ledger.sale(sale_id).status == REFUND_DUE


def test_a_photo_that_cannot_be_encoded_issues_no_number(ledger, tmp_path):
    """A capture cut short on disk: the photo fails to decode while the file is made."""
    import io

    from PIL import Image

    from kiosk.camera import synthetic_portrait

    whole = io.BytesIO()
    synthetic_portrait(3).save(whole, "JPEG")
    truncated = Image.open(io.BytesIO(whole.getvalue()[: whole.tell() // 2]))
    sale_id = ledger.open_sale(load_catalog().get("ephoto-permis"), "fr")
    with pytest.raises(IssueFailed, match="file could not be made"):
        pay(ledger, sale_id, "card", 800, photo=truncated)
    assert count(ledger, issued_codes) == count(ledger, outbox) == count(ledger, outbox_files) == 0
    assert ledger.sale(sale_id).status == "open"


def test_refund_due_is_recorded_when_the_disk_has_room_again(ledger):
    sale_id = ledger.open_sale(load_catalog().get("ephoto-permis"), "en")
    assert ledger.mark_refund_due(sale_id, "card", 800, "I/O error")
    assert ledger.sale(sale_id).status == REFUND_DUE
    assert ledger.today().refund_due == 1


def test_only_an_unpaid_sale_can_be_cancelled(ledger):
    product = load_catalog().get("fun")
    unpaid = ledger.open_sale(product, "fr")
    paid = ledger.open_sale(product, "fr")
    pay(ledger, paid, "card", 500)
    assert ledger.cancel_sale(unpaid, "timeout") is True
    assert ledger.cancel_sale(paid, "timeout") is False
    assert ledger.sale(unpaid).status == CANCELLED and ledger.sale(paid).status == PAID


def test_paid_but_unprinted_sales_are_listed_until_their_sheet_is_recorded(ledger, tmp_path):
    sale_id = ledger.open_sale(load_catalog().get("ephoto-permis"), "fr")
    pay(ledger, sale_id, "card", 800)
    assert [s.id for s in ledger.paid_not_printed()] == [sale_id]
    left = ledger.record_print(sale_id, tmp_path / "sheet.png", kind="recovery")
    assert left == 2
    assert ledger.paid_not_printed() == []
    sale = ledger.sale(sale_id)
    assert sale.status == PRINTED and sale.recovered
    assert [s.id for s in ledger.recovered_sales()] == [sale_id]


def test_paper_runs_down_per_sheet_and_refill_restores_the_roll(ledger, tmp_path):
    product = load_catalog().get("portrait")
    for _ in range(3):
        sale_id = ledger.open_sale(product, "fr")
        pay(ledger, sale_id, "card", 800)
        ledger.record_print(sale_id, tmp_path / "x.png")
    assert ledger.paper_left() == 0
    ledger.refill_paper()
    assert ledger.paper_left() == 3


def test_todays_counters_follow_the_paris_day(ledger, clock):
    product = load_catalog().get("ephoto-permis")
    pay(ledger, ledger.open_sale(product, "fr"), "card", 800)
    ledger.cancel_sale(ledger.open_sale(product, "fr"), "timeout")
    declined = ledger.open_sale(product, "fr")
    ledger.record_declined(declined, "card", 800, "test card")
    day = ledger.today()
    assert (day.opened, day.paid, day.ephoto, day.cancelled, day.declined) == (3, 1, 1, 1, 1)
    assert day.takings_cents == 800
    clock.advance(timedelta(days=1))
    assert ledger.today().opened == 0


def test_outbox_status_counts_pending_and_reports_the_oldest(ledger, clock):
    product = load_catalog().get("ephoto-permis")
    pay(ledger, ledger.open_sale(product, "fr"), "card", 800)
    clock.advance(timedelta(hours=2))
    pay(ledger, ledger.open_sale(product, "fr"), "card", 800)
    status = ledger.outbox_status()
    assert status.counts == {"pending": 2, "sent": 0, "rejected": 0}
    assert status.oldest_pending_age == timedelta(hours=2)


def test_print_job_ids_are_kept_and_an_older_ledger_gains_the_column(tmp_path):
    """The printer's job id (a CUPS job number) is recorded with the print; a ledger file made
    before the column existed is upgraded in place at open, its rows kept."""

    from ephoto.clock import ManualClock
    from kiosk.catalog import load_catalog
    from kiosk.ledger import Ledger

    clock = ManualClock(datetime(2026, 6, 2, 9, 30, tzinfo=UTC))
    db = tmp_path / "booth.db"
    ledger = Ledger(db, clock, booth_id="booth-jobs")
    product = load_catalog().get("ephoto-permis")
    sale_id = ledger.open_sale(product, "fr")
    pay(ledger, sale_id, "card", product.price.cents)
    ledger.record_print(sale_id, "417", sheet=tmp_path / "sheet.pdf")
    assert ledger.print_jobs(sale_id) == ["417"]
    ledger.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE prints DROP COLUMN job_id")
    reopened = Ledger(db, clock, booth_id="booth-jobs")
    assert reopened.print_jobs(sale_id) == [None]
    reopened.dispose()


def test_a_sale_paid_after_midnight_is_todays_takings_on_a_scaled_clock(ledger, clock):
    """A live session runs an hour a second: a sale opened at 23:50 in Paris is paid some
    simulated minutes later, on the next day, and the operator who opens the menu right after
    must see it among today's sales (counted by its opening, it fell on a day already gone)."""
    paris_midnight = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)  # 00:00 in Paris (UTC+1)
    clock.set(paris_midnight - timedelta(minutes=10))
    sale_id = ledger.open_sale(load_catalog().get("ephoto-permis"), "fr")
    cancelled = ledger.open_sale(load_catalog().get("fun"), "fr")
    before = ledger.today()
    assert (before.day, before.opened, before.paid) == ("2026-12-08", 2, 0)
    clock.set(paris_midnight + timedelta(minutes=20))
    pay(ledger, sale_id, "card", 800)
    ledger.cancel_sale(cancelled, "timeout")
    day = ledger.today()
    assert day.day == "2026-12-09"
    assert (day.paid, day.ephoto, day.takings_cents, day.cancelled) == (1, 1, 800, 1)
    assert day.opened == 0  # both were opened the day before
