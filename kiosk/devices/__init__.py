"""The booth's devices as small interfaces: printer, camera, photo check and voice.

The sale flow (``kiosk.flow``) talks only to these protocols; which implementation stands
behind each one is chosen from the config in one place (``kiosk.devices.choose``). Every
device has an embedded default that needs no hardware (the folder printer, drawn portraits,
the framing heuristic, a silent voice), so the demo and the tests run on a bare machine.

Each protocol is kept small on purpose: what the flow needs before payment (is the device
ready, and if not, which message explains why), the one action it performs, and the outcome
the flow records.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

# OpenCV's loader rewrites sys.path while cv2 is first imported (and puts it back after). A
# process spawned at that moment (the sheet renderer starts from a thread) inherits the rewritten
# path, finds cv2's own ``typing`` package before the standard one and dies at start. So the
# first import of cv2 and the spawning of a process take turns on this lock.
SPAWN_LOCK = threading.Lock()


def import_cv2() -> Any:
    """The cv2 module, imported so that no process is spawned meanwhile."""
    with SPAWN_LOCK:
        import cv2

    return cv2


__all__ = [
    "SPAWN_LOCK",
    "import_cv2",
    "Camera",
    "CameraUnavailable",
    "PhotoCheck",
    "PrintFailed",
    "PrintJob",
    "PrintResult",
    "Printer",
    "PrinterStatus",
    "RuleFailure",
    "SilentVoice",
    "Voice",
]


# -- printer ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrinterStatus:
    """Whether a sheet can be printed now. Checked as a guard before payment."""

    ready: bool
    problem: str | None = None
    """Message key shown to the customer and operator when not ready (``refused.paper``,
    ``refused.printer``)."""
    detail: str = ""
    """The device's own words for the operator and the log (queue name and state)."""


@dataclass(frozen=True)
class PrintJob:
    sale_id: int
    png: Path
    pdf: Path | None = None
    kind: str = "sale"  # sale, recovery, reprint


@dataclass(frozen=True)
class PrintResult:
    """A job the printer finished: ``job_id`` is what the ledger records for it."""

    job_id: str
    """The CUPS job id, or for a printer that writes files, the file written."""
    detail: str = ""


class PrintFailed(RuntimeError):
    """The printer did not complete the job; the sale stays paid and unprinted, so it is
    printed again (once) by recovery or from the operator menu. ``problem`` is a message key."""

    def __init__(self, message: str, problem: str = "refused.printer", job_id: str | None = None):
        super().__init__(message)
        self.problem = problem
        self.job_id = job_id


@runtime_checkable
class Printer(Protocol):
    name: str
    """Shown to the operator: ``file:/path`` or ``cups:QUEUE``."""

    def status(self) -> PrinterStatus: ...

    def print_sheet(self, job: PrintJob) -> PrintResult:
        """Print the sheet and follow it until it is out; blocks. Raises :class:`PrintFailed`."""
        ...


# -- camera -----------------------------------------------------------------------------------
class CameraUnavailable(RuntimeError):
    """The camera is missing or failed; the message says which device and why. The booth goes
    to maintenance with this reason rather than selling without a camera."""


@runtime_checkable
class Camera(Protocol):
    name: str

    def start(self) -> None:
        """Open the device; raise :class:`CameraUnavailable` with a clear reason if it cannot."""
        ...

    def capture(self) -> Image.Image:
        """One picture, RGB, cropped to the ID photo's proportions (35 x 45)."""
        ...


@runtime_checkable
class LiveView(Protocol):
    """A camera that also gives frames as they come, for the capture screen's live preview
    (a webcam; the drawn portraits and picture files have no live view)."""

    def frame(self) -> Image.Image:
        """The current frame, RGB, cropped like :meth:`Camera.capture`; not kept anywhere."""
        ...


# -- photo check ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleFailure:
    """One photo rule the picture breaks."""

    rule: str
    """Short rule name, one of the check's ``rules``."""
    message_key: str
    """Key of the sentence the review screen shows for this rule (``review.check_<rule>``)."""
    value: float | None = None
    """What was measured, for logs and the operator; not shown to customers."""


@runtime_checkable
class PhotoCheck(Protocol):
    rules: tuple[str, ...]
    """Every rule checked, in the order the review screen lists them."""

    def check(self, image: Image.Image) -> list[RuleFailure]:
        """The rules ``image`` breaks; an empty list means the photo is accepted."""
        ...


# -- voice ------------------------------------------------------------------------------------
@runtime_checkable
class Voice(Protocol):
    def say(self, prompt_key: str, lang: str) -> None:
        """Start saying the prompt (``welcome``, ``look_at_lens``, ``countdown_3`` ...) in
        ``lang``; returns at once, never raises (a voice that cannot speak stays silent)."""
        ...


class SilentVoice:
    """The voice of a headless booth and of tests: says nothing."""

    def say(self, prompt_key: str, lang: str) -> None:
        return None
