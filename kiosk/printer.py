"""Printers behind one interface. The simulator's printer "prints" by writing the sheet into the
prints folder; a CUPS printer can be added later as another :class:`Printer`.

A printer is ready only if it has paper: the paper count is the ledger's, so it survives a
restart and the operator's "refill paper" is recorded.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PrinterStatus:
    ready: bool
    paper_left: int
    problem: str | None = None  # message key when not ready


@dataclass(frozen=True)
class PrintJob:
    sale_id: int
    png: Path
    pdf: Path | None = None
    kind: str = "sale"  # sale, recovery, reprint


class Printer(Protocol):
    def status(self) -> PrinterStatus: ...

    def print_sheet(self, job: PrintJob) -> Path:
        """Print the sheet; blocks until it is out. Returns where the printed copy is."""
        ...


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
        self._paper_left = paper_left
        self.seconds = seconds
        self._sleep = sleep

    def status(self) -> PrinterStatus:
        left = self._paper_left()
        if left <= 0:
            return PrinterStatus(False, left, "refused.paper")
        return PrinterStatus(True, left)

    def print_sheet(self, job: PrintJob) -> Path:
        status = self.status()
        if not status.ready:
            raise RuntimeError(f"printer not ready: {status.problem} ({status.paper_left} sheets)")
        self._sleep(self.seconds)
        target = self.folder / f"sale-{job.sale_id:06d}-{job.kind}-{job.png.stem}.png"
        partial = target.with_suffix(".png.part")
        shutil.copyfile(job.png, partial)
        os.replace(partial, target)
        if job.pdf is not None and job.pdf.exists():
            shutil.copyfile(job.pdf, target.with_suffix(".pdf"))
        return target
