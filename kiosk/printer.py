"""The booth's default printer: "prints" by writing the sheet into the prints folder.

It implements :class:`kiosk.devices.Printer`, so a real printer (CUPS) takes its place by
config alone. It is ready only while the paper roll has sheets: the paper count is the
ledger's, so it survives a restart and the operator's "refill paper" is recorded.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.devices import Printer, PrinterStatus, PrintFailed, PrintJob, PrintResult

__all__ = ["FolderPrinter", "PrintJob", "PrintResult", "Printer", "PrinterStatus"]


class FolderPrinter:
    """Writes each printed sheet to ``folder`` (atomically), taking ``seconds`` like a real one."""

    def __init__(
        self,
        folder: Path,
        paper_left: Callable[[], int],
        seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = f"file:{self.folder}"
        self._paper_left = paper_left
        self.seconds = seconds
        self._sleep = sleep

    def status(self) -> PrinterStatus:
        left = self._paper_left()
        if left <= 0:
            return PrinterStatus(False, "refused.paper", self.name)
        return PrinterStatus(True, None, self.name)

    def print_sheet(self, job: PrintJob) -> PrintResult:
        status = self.status()
        if not status.ready:
            raise PrintFailed(f"printer not ready: {status.detail}", status.problem or "")
        self._sleep(self.seconds)
        target = self.folder / f"sale-{job.sale_id:06d}-{job.kind}-{job.png.stem}.png"
        partial = target.with_suffix(".png.part")
        shutil.copyfile(job.png, partial)
        os.replace(partial, target)
        if job.pdf is not None and job.pdf.exists():
            shutil.copyfile(job.pdf, target.with_suffix(".pdf"))
        return PrintResult(job_id=str(target), detail="written")
