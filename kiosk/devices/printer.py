"""Printing through CUPS (pycups), for booths configured with ``kiosk.printer = "cups:QUEUE"``.

The sheet's PDF (100 x 150 mm) goes to the queue with ``media`` set to 10 x 15 cm plus the
operator's options for that queue (``kiosk.printer_options``: a dye-sublimation printer's
driver names its 4x6 paper and its finish its own way); everything else is the queue's default.

Printer states map to the booth (checked as a guard before payment, like paper out):

- queue missing, server unreachable, or the printer reports itself offline: ``refused.offline``
- queue stopped (disabled) or not accepting jobs: ``refused.stopped``
- out of paper, paper jam or ink ribbon out: ``refused.paper``
- any other error the printer reports: ``refused.printer``

A job is followed until CUPS says it is completed, the queue's state read at each look. A job
the printer aborted or someone cancelled is sent again, ``retries`` times, as long as the queue
is ready, then reported as :class:`PrintFailed` so the sale stays paid and unprinted for
recovery. A queue that stops while its job waits (disabled, or stopped by its backend's error
policy) ends the wait at once rather than at the time limit: the customer is not kept on the
printing screen for a sheet that cannot come, and the booth goes to maintenance. A job given up
(queue stopped, or still waiting when the time is up) is cancelled first, so that it cannot
come out later beside the sheet recovery prints: a sheet is never printed twice. Every job id
(the one printed, or the last tried) is returned for the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.devices import PrinterStatus, PrintFailed, PrintJob, PrintResult

log = logging.getLogger(__name__)

SHEET_MEDIA = "Custom.100x150mm"
"""10 x 15 cm, as CUPS names a custom size; a queue whose driver lists it under another name
(``w288h432``, ``4x6``) gets that name from ``kiosk.printer_options``."""

# IPP job states (RFC 8011 section 5.3.7).
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
JOB_STATE_NAMES = {
    3: "pending",
    4: "held",
    5: "processing",
    6: "stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}
# IPP printer states.
PRINTER_IDLE, PRINTER_PROCESSING, PRINTER_STOPPED = 3, 4, 5

PAPER_REASONS = ("media-empty", "media-needed", "media-jam", "marker-supply-empty", "input-tray")
OFFLINE_REASONS = ("offline", "shutdown", "connecting-to-device", "timed-out")


def problem_for(state: int, accepting: bool, reasons: list[str]) -> str | None:
    """The booth's message key for a queue in ``state`` with ``reasons``; None when ready.

    Reasons with the ``-report`` suffix are information only (RFC 8011); ``-warning`` does not
    stop a job either. Order: paper, offline, stopped, other errors, so the operator is told
    the most specific thing to fix.
    """
    blocking = [
        r
        for r in reasons
        if r and r != "none" and not r.endswith("-report") and not r.endswith("-warning")
    ]
    if any(r.startswith(PAPER_REASONS) for r in blocking):
        return "refused.paper"
    if any(r.startswith(OFFLINE_REASONS) for r in blocking):
        return "refused.offline"
    if state == PRINTER_STOPPED or not accepting:
        return "refused.stopped"
    if any(r.endswith("-error") for r in blocking):
        return "refused.printer"
    return None


def _connect(server: str | None) -> Callable[[], Any]:
    """A factory of pycups connections: one per call, since a connection is not thread-safe
    and the booth checks the printer from the UI thread while a job is followed elsewhere."""

    def connect() -> Any:
        import cups

        if server:
            # libcups keeps the server per thread, and creating a job looks the queue up on
            # that server whatever the connection: set it in the thread that connects.
            cups.setServer(server)
        return cups.Connection()

    return connect


class CupsPrinter:
    """:class:`kiosk.devices.Printer` for one CUPS queue."""

    def __init__(
        self,
        queue: str,
        server: str | None = None,
        *,
        options: Mapping[str, str] | None = None,
        retries: int = 1,
        job_timeout_seconds: float = 180.0,
        poll_seconds: float = 0.25,
        connect: Callable[[], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.queue = queue
        self.server = server or ""
        self.name = f"cups:{queue}"
        self.options = {"media": SHEET_MEDIA, **dict(options or {})}
        self.retries = retries
        self.job_timeout_seconds = job_timeout_seconds
        self.poll_seconds = poll_seconds
        self._connect = connect or _connect(server)
        self._sleep = sleep
        self._monotonic = monotonic

    # -- state ----------------------------------------------------------------------------------
    def status(self) -> PrinterStatus:
        try:
            attrs = self._connect().getPrinterAttributes(
                self.queue,
                requested_attributes=[
                    "printer-state",
                    "printer-state-reasons",
                    "printer-state-message",
                    "printer-is-accepting-jobs",
                ],
            )
        except Exception as exc:  # pycups raises IPPError / RuntimeError without a common base
            return PrinterStatus(False, "refused.offline", f"{self.name}: {_describe(exc)}")
        state = int(attrs.get("printer-state", PRINTER_STOPPED))
        reasons = _as_list(attrs.get("printer-state-reasons"))
        accepting = bool(attrs.get("printer-is-accepting-jobs", True))
        message = str(attrs.get("printer-state-message") or "").strip()
        words = {PRINTER_IDLE: "idle", PRINTER_PROCESSING: "printing", PRINTER_STOPPED: "stopped"}
        detail = f"{self.name}: {words.get(state, str(state))}"
        if not accepting:
            detail += ", not accepting jobs"
        shown = [r for r in reasons if r and r != "none"]
        if shown:
            detail += f" ({', '.join(shown)})"
        if message:
            detail += f": {message}"
        problem = problem_for(state, accepting, reasons)
        return PrinterStatus(problem is None, problem, detail)

    # -- printing -------------------------------------------------------------------------------
    def print_sheet(self, job: PrintJob) -> PrintResult:
        document = job.pdf if job.pdf is not None and job.pdf.exists() else job.png
        if not document.exists():
            raise PrintFailed(f"sale {job.sale_id}: the sheet {document} does not exist")
        title = f"cabine sale {job.sale_id} ({job.kind})"
        tried: list[str] = []
        last_state = "not sent"
        for attempt in range(self.retries + 1):
            try:
                job_id = int(
                    self._connect().printFile(self.queue, str(document), title, self.options)
                )
            except Exception as exc:
                raise PrintFailed(
                    f"{self.name} refused sale {job.sale_id}: {_describe(exc)}",
                    self.status().problem or "refused.printer",
                    tried[-1] if tried else None,
                ) from exc
            tried.append(str(job_id))
            state, reasons = self._follow(job_id)
            last_state = JOB_STATE_NAMES.get(state, str(state))
            if state == JOB_COMPLETED:
                log.info("%s printed sale %s as job %s", self.name, job.sale_id, job_id)
                return PrintResult(str(job_id), f"{self.name} job {job_id} completed")
            log.warning(
                "%s job %s for sale %s ended %s (%s); attempt %d of %d",
                self.name,
                job_id,
                job.sale_id,
                last_state,
                ", ".join(reasons) or "no reason given",
                attempt + 1,
                self.retries + 1,
            )
            if state not in (JOB_CANCELED, JOB_ABORTED):
                break  # given up and cancelled by us: recovery prints it when the queue is ready
            if attempt < self.retries and not self.status().ready:
                break  # a job sent to a queue that cannot print would only wait again
        raise PrintFailed(
            f"{self.name}: sale {job.sale_id} not printed (jobs {', '.join(tried)}, last "
            f"{last_state})",
            self.status().problem or "refused.printer",
            tried[-1],
        )

    def _follow(self, job_id: int) -> tuple[int, list[str]]:
        """Poll the job until it ends. A queue that stops meanwhile, or the time limit, ends the
        wait: the job is cancelled and reported stopped, unless it was printed meanwhile."""
        deadline = self._monotonic() + self.job_timeout_seconds
        state, reasons = JOB_PENDING, list[str]()
        while True:
            state, reasons = self._job_state(job_id, state, reasons)
            if state >= JOB_CANCELED:
                return state, reasons
            if self._queue_stopped():
                given_up = "queue stopped"
                break
            if self._monotonic() >= deadline:
                given_up = "timed out"
                break
            self._sleep(self.poll_seconds)
        try:
            self._connect().cancelJob(job_id)
        except Exception as exc:
            log.error("%s: could not cancel job %s: %s", self.name, job_id, _describe(exc))
        # The job may have ended between the last look and the cancel: a sheet that came out
        # is printed, and one that did not must not be reported printed.
        state, reasons = self._job_state(job_id, state, reasons)
        if state == JOB_COMPLETED:
            return state, reasons
        return JOB_STOPPED, [*reasons, f"{given_up} and cancelled"]

    def _job_state(self, job_id: int, state: int, reasons: list[str]) -> tuple[int, list[str]]:
        """The job's state and reasons now; the last known ones if CUPS cannot say."""
        try:
            attrs = self._connect().getJobAttributes(
                job_id, requested_attributes=["job-state", "job-state-reasons"]
            )
        except Exception as exc:
            log.warning("%s: cannot read job %s yet: %s", self.name, job_id, _describe(exc))
            return state, reasons
        return int(attrs.get("job-state", JOB_PENDING)), _as_list(attrs.get("job-state-reasons"))

    def _queue_stopped(self) -> bool:
        """Whether the queue is stopped now (a queue CUPS cannot be asked about is not taken
        for stopped: its job is followed to the time limit)."""
        try:
            attrs = self._connect().getPrinterAttributes(
                self.queue, requested_attributes=["printer-state"]
            )
        except Exception as exc:
            log.warning("%s: cannot read the queue's state: %s", self.name, _describe(exc))
            return False
        return int(attrs.get("printer-state", PRINTER_IDLE)) == PRINTER_STOPPED


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _describe(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) == 2 and isinstance(args[1], str):  # cups.IPPError(status, message)
        return f"{args[1]} (IPP status {args[0]})"
    return str(exc) or type(exc).__name__
