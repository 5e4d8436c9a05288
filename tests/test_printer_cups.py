"""Printing through a real CUPS server (a private cupsd with a cups-pdf virtual printer, started
by the tests): the sheet comes out once as a 10 x 15 cm PDF whose QR code is the ledger's
number; a stopped queue keeps the booth from selling, and one that stops in the middle of a job
ends the wait at once, the sale printed once by recovery when the queue resumes; a cancelled job,
a sale's or a recovery's, is printed again once."""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from ephoto.clock import ManualClock
from kiosk.booth import SheetRequest, default_renderer
from kiosk.camera import synthetic_portrait
from kiosk.catalog import load_catalog
from kiosk.devices import Printer, PrintFailed, PrintJob
from kiosk.devices.printer import CupsPrinter, problem_for
from kiosk.ledger import PRINTED, Ledger
from tests.cupsserver import CupsServer
from tests.kiosk_harness import customer

pytestmark = pytest.mark.cups

CATALOG = load_catalog()


def pdf_pages(pdf: Path, folder: Path) -> list[Image.Image]:
    """The PDF's pages rasterised at 300 dpi by poppler's pdftoppm."""
    prefix = folder / pdf.stem
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(pdf), str(prefix)], check=True)
    pages = []
    for path in sorted(folder.glob(f"{pdf.stem}*.png")):
        with Image.open(path) as opened:
            pages.append(opened.convert("L"))
    return pages


def paid_ephoto_sale(tmp_path: Path) -> tuple[Ledger, int, str, PrintJob]:
    """A paid ePhoto sale in a fresh ledger, its number issued, its sheet rendered."""
    clock = ManualClock(datetime(2026, 6, 2, 9, 30, tzinfo=UTC))
    ledger = Ledger(tmp_path / "booth.db", clock, booth_id="booth-cups")
    product = CATALOG.get("ephoto-permis")
    sale_id = ledger.open_sale(product, "fr")
    issued = ledger.issue(sale_id, "card", product.price.cents, **customer(product, seed=2))
    sheet = default_renderer(
        SheetRequest(ledger.sale(sale_id), product, synthetic_portrait(2), issued, "fr"),
        tmp_path / "sheets",
    )
    return ledger, sale_id, issued.code, PrintJob(sale_id, sheet.png, sheet.pdf)


def printer_for(cups_server: CupsServer, queue: str, **kwargs) -> CupsPrinter:
    return CupsPrinter(queue, cups_server.server, poll_seconds=0.1, **kwargs)


def queue_jobs(conn, queue: str, which: str = "all") -> list[int]:
    """The ids of the jobs sent to ``queue``, oldest first (the server is shared by the tests)."""
    jobs = conn.getJobs(which_jobs=which, requested_attributes=["job-id", "job-printer-uri"])
    return sorted(j for j, a in jobs.items() if str(a.get("job-printer-uri")).endswith("/" + queue))


def wait_for_jobs(conn, queue: str, count: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(queue_jobs(conn, queue)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return queue_jobs(conn, queue)


def hold_new_jobs(conn, queue: str) -> None:
    """Every job sent to ``queue`` from now on waits in it (``job-hold-until``), as behind a
    long roll, until :func:`release_jobs`; the queue itself keeps running."""
    conn.addPrinterOptionDefault(queue, "job-hold-until", "indefinite")


def release_jobs(conn, queue: str) -> None:
    """New jobs are no longer held, and those held so far go on."""
    conn.deletePrinterOptionDefault(queue, "job-hold-until")
    for job_id in queue_jobs(conn, queue, "not-completed"):
        if conn.getJobAttributes(job_id, requested_attributes=["job-state"])["job-state"] == 4:
            try:
                conn.setJobHoldUntil(job_id, "no-hold")
            except Exception:
                # Between the look and the release the booth may have cancelled the job.
                state = conn.getJobAttributes(job_id, requested_attributes=["job-state"])
                if state["job-state"] == 4:
                    raise


def join_releasing(worker: threading.Thread, conn, queue: str, timeout: float = 30) -> None:
    """Wait for ``worker``, releasing the jobs it sends meanwhile (a re-sent job may reach the
    queue before the hold is lifted)."""
    deadline = time.monotonic() + timeout
    while worker.is_alive() and time.monotonic() < deadline:
        release_jobs(conn, queue)
        worker.join(0.1)
    assert not worker.is_alive(), "the print never ended"


def cups_booth(cups_server: CupsServer, queue: str, data: Path, **settings):
    """The booth built from its settings as ``cabine kiosk`` builds it, printing to ``queue``."""
    from ephoto.clock import ManualClock
    from kiosk.booth import Booth
    from kiosk.settings import KioskSettings
    from tests.kiosk_harness import FAST, NOW

    values = {**FAST, "printer": f"cups:{queue}", "cups_server": cups_server.server, **settings}
    return Booth.from_settings(
        KioskSettings(**values), data, ManualClock(NOW), headless=True, camera_seed=7
    )


def paid_unprinted_sale(booth) -> int:
    """An ePhoto sale paid and issued but not printed: what a crash right after payment leaves."""
    from kiosk.payment import PaymentResult
    from tests.kiosk_harness import keep_customer

    product = booth.catalog.get("ephoto-permis")
    sale_id = booth.ledger.open_sale(product, "fr")
    keep_customer(booth, sale_id)
    booth.issue(sale_id, PaymentResult(True, "card", product.price))
    return sale_id


def wait_for_pdfs(cups_server: CupsServer, queue: str, count: int) -> list[Path]:
    deadline = time.monotonic() + 10
    while len(cups_server.pdfs(queue)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return cups_server.pdfs(queue)


def test_a_paid_ephoto_sale_prints_one_pdf_whose_qr_is_the_ledgers_number(cups_server, tmp_path):
    queue = cups_server.add_pdf_queue()
    printer = printer_for(cups_server, queue)
    assert isinstance(printer, Printer)
    assert printer.status().ready, printer.status()
    ledger, sale_id, code, job = paid_ephoto_sale(tmp_path)

    result = printer.print_sheet(job)
    ledger.record_print(sale_id, result.job_id, "sale", sheet=job.pdf)

    pdfs = wait_for_pdfs(cups_server, queue, 1)
    assert len(pdfs) == 1, pdfs
    time.sleep(0.3)  # nothing else comes out
    assert len(cups_server.pdfs(queue)) == 1
    pages = pdf_pages(pdfs[0], tmp_path)
    assert len(pages) == 1
    # 10 x 15 cm at 300 dpi, whichever way round the driver laid the page.
    assert sorted(pages[0].size) == pytest.approx([1181, 1772], abs=12)
    found = zxingcpp.read_barcodes(np.asarray(pages[0]))
    assert [b.text for b in found] == [code]
    assert ledger.sale(sale_id).status == PRINTED
    assert ledger.print_jobs(sale_id) == [result.job_id]
    assert result.job_id.isdigit()
    job_attrs = cups_server.connection().getJobAttributes(int(result.job_id))
    assert job_attrs["job-state"] == 9  # completed
    assert job_attrs["media"] == "Custom.100x150mm"
    ledger.dispose()


def test_a_stopped_queue_sends_the_booth_to_maintenance_before_payment(cups_server):
    queue = cups_server.add_pdf_queue()
    printer = printer_for(cups_server, queue)
    assert printer.status().ready
    conn = cups_server.connection()
    conn.disablePrinter(queue, reason="roll being changed")
    status = printer.status()
    assert not status.ready
    assert status.problem == "refused.stopped"
    assert queue in status.detail and "stopped" in status.detail
    conn.enablePrinter(queue)
    conn.rejectJobs(queue)
    assert printer.status().problem == "refused.stopped"
    conn.acceptJobs(queue)
    assert printer.status().ready


def test_a_missing_queue_or_server_reads_as_offline(cups_server):
    assert printer_for(cups_server, "no-such-queue").status().problem == "refused.offline"
    gone = CupsPrinter("any", "127.0.0.1:9", poll_seconds=0.1)
    status = gone.status()
    assert not status.ready and status.problem == "refused.offline"
    assert "cups:any" in status.detail


def test_printer_reasons_map_to_the_booths_messages():
    assert problem_for(3, True, ["none"]) is None
    assert problem_for(3, True, ["media-empty-error"]) == "refused.paper"
    assert problem_for(3, True, ["media-jam"]) == "refused.paper"
    assert problem_for(3, True, ["offline-report"]) is None  # information only
    assert problem_for(3, True, ["offline"]) == "refused.offline"
    assert problem_for(5, True, ["paused"]) == "refused.stopped"
    assert problem_for(3, False, []) == "refused.stopped"
    assert problem_for(3, True, ["toner-low-warning"]) is None
    assert problem_for(3, True, ["cover-open-error"]) == "refused.printer"


def test_a_job_cancelled_midway_is_printed_again_once(cups_server, tmp_path):
    queue = cups_server.add_pdf_queue()
    conn = cups_server.connection()
    printer = printer_for(cups_server, queue, retries=1)
    ledger, sale_id, code, job = paid_ephoto_sale(tmp_path)
    # The queue holds the job (behind a long roll); once it is in, someone cancels it and the
    # jobs go on again.
    hold_new_jobs(conn, queue)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = printer.print_sheet(job)
        except Exception as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while not conn.getJobs(which_jobs="not-completed") and time.monotonic() < deadline:
        time.sleep(0.05)
    [first] = conn.getJobs(which_jobs="not-completed")
    conn.cancelJob(first)
    join_releasing(worker, conn, queue)
    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert int(result.job_id) != first
    ledger.record_print(sale_id, result.job_id, "sale", sheet=job.pdf)
    pdfs = wait_for_pdfs(cups_server, queue, 1)
    time.sleep(0.3)
    assert len(cups_server.pdfs(queue)) == 1
    assert [
        b.text for b in zxingcpp.read_barcodes(np.asarray(pdf_pages(pdfs[0], tmp_path)[0]))
    ] == [code]
    assert conn.getJobAttributes(first)["job-state"] == 7  # cancelled, never printed
    assert ledger.print_jobs(sale_id) == [result.job_id]
    ledger.dispose()


def test_a_job_failing_every_time_is_left_to_the_operator_and_never_printed(cups_server, tmp_path):
    queue = cups_server.add_pdf_queue()
    conn = cups_server.connection()
    printer = printer_for(cups_server, queue, retries=1, job_timeout_seconds=1.0)
    ledger, sale_id, _code, job = paid_ephoto_sale(tmp_path)
    conn.disablePrinter(queue)  # stopped for good: each job waits, times out and is cancelled
    with pytest.raises(PrintFailed) as failed:
        printer.print_sheet(job)
    assert failed.value.problem == "refused.stopped"
    assert failed.value.job_id is not None
    conn.enablePrinter(queue)
    time.sleep(1.0)
    # The late job was cancelled before giving up: nothing comes out once the printer is back.
    assert cups_server.pdfs(queue) == []
    assert conn.getJobAttributes(int(failed.value.job_id))["job-state"] == 7
    assert [s.id for s in ledger.paid_not_printed()] == [sale_id]
    ledger.dispose()


def test_the_booth_sells_an_ephoto_through_a_cups_queue_and_refuses_when_it_stops(
    cups_server, tmp_path
):
    """The whole booth, built from its settings as ``cabine kiosk`` builds it, with the face
    check and the CUPS queue: a customer's taps give one PDF with the ledger's number and the
    job id in the ledger; once the queue is stopped the booth goes to maintenance."""
    from ephoto.clock import ManualClock
    from kiosk.booth import Booth
    from kiosk.devices.facecheck import FacePhotoCheck
    from kiosk.sale import State
    from kiosk.settings import KioskSettings
    from tests.kiosk_harness import FAST, NOW, buy, make_app, runner

    queue = cups_server.add_pdf_queue()
    settings = KioskSettings(
        **{**FAST, "printer": f"cups:{queue}", "cups_server": cups_server.server}
    )
    booth = Booth.from_settings(
        settings, tmp_path / "data", ManualClock(NOW), headless=True, camera_seed=7
    )
    app = make_app(booth)
    try:
        assert isinstance(booth.photo_check, FacePhotoCheck)
        assert booth.booth_open() is None
        report = buy(app, "ephoto-permis")
        assert report.ok, report.error
        [sale] = booth.ledger.last_sales(1)
        assert sale.code is not None
        pdfs = wait_for_pdfs(cups_server, queue, 1)
        time.sleep(0.3)
        assert len(cups_server.pdfs(queue)) == 1
        found = zxingcpp.read_barcodes(np.asarray(pdf_pages(pdfs[0], tmp_path)[0]))
        assert [b.text for b in found] == [sale.code]
        [job_id] = booth.ledger.print_jobs(sale.id)
        assert cups_server.connection().getJobAttributes(int(job_id))["job-state"] == 9

        cups_server.connection().disablePrinter(queue)
        assert booth.booth_open() == "refused.stopped"
        run = runner(app)
        run.tap({"tap": "start"})
        run.wait_for_state(State.MAINTENANCE, 10)
    finally:
        app.close()
        booth.close()


def test_a_recovery_print_cancelled_midway_is_sent_again_once_like_a_sales(cups_server, tmp_path):
    """After a crash, the paid sale's recovery print follows a sale's retry rule: the job the
    printer cancels is sent again once, and the sale comes out once, recorded as recovered."""
    from kiosk.flow import InlineExecutor, SaleFlow

    queue = cups_server.add_pdf_queue()
    conn = cups_server.connection()
    booth = cups_booth(cups_server, queue, tmp_path / "data")
    try:
        sale_id = paid_unprinted_sale(booth)
        code = booth.ledger.sale(sale_id).code
        hold_new_jobs(conn, queue)
        flow = SaleFlow(booth, booth.machine(), InlineExecutor())
        worker = threading.Thread(target=flow.start)  # the restarted booth's crash recovery
        worker.start()
        [first] = wait_for_jobs(conn, queue, 1)
        conn.cancelJob(first)
        join_releasing(worker, conn, queue)
        flow.pump()
        assert flow.recovered == [sale_id]
        sale = booth.ledger.sale(sale_id)
        assert sale.status == PRINTED and sale.recovered
        [job_id] = booth.ledger.print_jobs(sale_id)
        assert queue_jobs(conn, queue) == [first, int(job_id)]
        assert conn.getJobAttributes(first)["job-state"] == 7  # cancelled, never printed
        assert conn.getJobAttributes(int(job_id))["job-state"] == 9
        pdfs = wait_for_pdfs(cups_server, queue, 1)
        time.sleep(0.3)
        assert len(cups_server.pdfs(queue)) == 1
        found = zxingcpp.read_barcodes(np.asarray(pdf_pages(pdfs[0], tmp_path)[0]))
        assert [b.text for b in found] == [code]
    finally:
        release_jobs(conn, queue)
        booth.close()


def test_a_queue_stopped_mid_job_ends_the_wait_and_recovery_prints_the_sale_once_it_resumes(
    cups_server, tmp_path
):
    """A queue stopped while the booth follows the sale's job: the printing screen ends at once
    (not after the print timeout, twice), no job is sent to the stopped queue again, the
    customer sees the number, the booth goes to maintenance with the sale kept; once the queue
    is resumed the booth prints the sale by recovery, once, and opens again."""
    from kiosk.ledger import PAID
    from kiosk.sale import State
    from kiosk.ui.script import run_script
    from tests.kiosk_harness import journey, make_app, runner

    queue = cups_server.add_pdf_queue()
    conn = cups_server.connection()
    booth = cups_booth(cups_server, queue, tmp_path / "data", print_timeout_seconds=20)
    app = make_app(booth)
    run = runner(app)
    try:
        hold_new_jobs(conn, queue)
        steps = journey("ephoto-permis", finish=False)
        assert steps[-1]["wait_for"] == "done"
        report = run_script(app, steps[:-1], close=False)
        assert report.ok, report.error
        end = time.monotonic() + 30
        while not queue_jobs(conn, queue) and time.monotonic() < end:
            run.frame()
        [first] = queue_jobs(conn, queue)
        # The queue stops mid-job: CUPS puts the job back to pending on the stopped queue.
        stopped_at = time.monotonic()
        conn.disablePrinter(queue, reason="ribbon jammed")
        release_jobs(conn, queue)
        run.wait_for_state(State.DONE, 60)
        assert time.monotonic() - stopped_at < 10, "the booth waited for the print timeout"
        assert app.flow.progress.print_problem == "refused.stopped"
        [sale] = booth.ledger.last_sales(1)
        assert sale.code is not None and sale.status == PAID
        assert queue_jobs(conn, queue) == [first], "a job was sent to the stopped queue again"
        # Cancelled by the booth, so it cannot come out beside recovery's sheet.
        assert conn.getJobAttributes(first)["job-state"] == 7
        assert booth.ledger.print_jobs(sale.id) == []

        run_script(app, [{"tap": "finish"}], close=False)
        run.wait_for_state(State.MAINTENANCE, 10)
        assert [s.id for s in booth.ledger.paid_not_printed()] == [sale.id]

        conn.enablePrinter(queue)
        run.wait_for_state(State.ATTRACT, 30)
        again = booth.ledger.sale(sale.id)
        assert again.status == PRINTED and again.recovered
        [job_id] = booth.ledger.print_jobs(sale.id)
        assert queue_jobs(conn, queue) == [first, int(job_id)]
        assert conn.getJobAttributes(int(job_id))["job-state"] == 9
        pdfs = wait_for_pdfs(cups_server, queue, 1)
        time.sleep(0.3)
        assert len(cups_server.pdfs(queue)) == 1
        found = zxingcpp.read_barcodes(np.asarray(pdf_pages(pdfs[0], tmp_path)[0]))
        assert [b.text for b in found] == [sale.code]
    finally:
        release_jobs(conn, queue)
        conn.enablePrinter(queue)
        app.close()
        booth.close()


def test_the_kiosk_start_line_names_the_printer_once(cups_server, tmp_path, monkeypatch):
    """``cabine kiosk`` says which printer it uses and its state, the queue named once."""
    from typer.testing import CliRunner

    from cabine.cli import app

    queue = cups_server.add_pdf_queue()
    script = tmp_path / "idle.toml"
    script.write_text('[[step]]\nexpect = "attract"\n')
    monkeypatch.delenv("CABINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    for printer, data in ((f"cups:{queue}", "cups"), ("file", "file")):
        monkeypatch.setenv("CABINE_KIOSK__PRINTER", printer)
        monkeypatch.setenv("CABINE_KIOSK__CUPS_SERVER", cups_server.server)
        result = CliRunner().invoke(
            app, ["kiosk", "--data", str(tmp_path / data), "--script", str(script)]
        )
        assert result.exit_code == 0, result.output
        [line] = [x for x in result.output.splitlines() if x.startswith("printer ")]
        if printer == "file":
            assert line == f"printer file:{tmp_path / data / 'prints'}"
        else:
            assert line == f"printer cups:{queue}: idle"
