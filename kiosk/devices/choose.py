"""The one place that turns the kiosk settings into devices.

``Booth.from_settings`` (used by ``cabine kiosk``, the demo, the FAQ library and the benches)
calls these; nothing else builds a device from settings. Each device kind named in the config
maps to one implementation here; a new kind (a CUPS queue, an OpenCV camera, a face detector,
espeak-ng) is one more branch.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.devices import Camera, PhotoCheck, Printer, SilentVoice, Voice
from kiosk.settings import KioskSettings

log = logging.getLogger(__name__)


CUPS_MISSING = (
    "kiosk.printer = {printer!r} needs pycups, which is not installed: "
    "pip install 'cabine[cups]' (it builds against libcups: apt-get install libcups2-dev gcc "
    "python3-dev)"
)
"""pycups has no wheel, so it is an extra: the booth's default file printer does without it."""


def require_printer_library(settings: KioskSettings) -> None:
    """Raises ``ValueError`` naming the extra when the configured printer needs a library that
    is not installed; checked before the booth creates anything."""
    if settings.printer.startswith("cups:"):
        try:
            import cups  # noqa: F401
        except ImportError:
            raise ValueError(CUPS_MISSING.format(printer=settings.printer)) from None


def open_printer(settings: KioskSettings, prints: Path, paper_left: Callable[[], int]) -> Printer:
    """The configured printer. ``file``: sheets written to ``prints`` (the embedded default);
    ``cups:QUEUE``: that CUPS queue, on ``cups_server`` with ``printer_options``. The booth
    sends a failed job again (``kiosk.booth.PRINT_ATTEMPTS``), so the CUPS printer itself sends a
    job once."""
    kind = settings.printer
    if kind == "file":
        from kiosk.printer import FolderPrinter

        return FolderPrinter(prints, paper_left, seconds=settings.print_seconds)
    if kind.startswith("cups:"):
        require_printer_library(settings)
        from kiosk.devices.printer import CupsPrinter

        return CupsPrinter(
            kind.removeprefix("cups:"),
            settings.cups_server or None,
            options=settings.printer_options,
            retries=0,
            job_timeout_seconds=settings.print_timeout_seconds,
        )
    raise ValueError(f"kiosk.printer = {kind!r} is not a printer this booth knows")


def open_camera(settings: KioskSettings, seed: int | None = None) -> Camera:
    """The configured camera, not yet started (the booth starts it and reports a failure).

    ``synthetic``: drawn portraits, a new person each sale (``seed`` fixes the first one);
    ``opencv``: OpenCV's VideoCapture (``camera_device``: a number, a path or a video file);
    ``pictures``: a picture file or folder (``camera_device``);
    ``webcam``: pygame's camera module (``camera_device``, or the first one found).
    """
    kind = settings.camera
    if kind == "synthetic":
        from kiosk.camera import SyntheticCamera

        return SyntheticCamera(seed=int(time.monotonic_ns() % 10_000) if seed is None else seed)
    if kind == "opencv":
        from kiosk.devices.camera import OpenCvCamera

        device = settings.camera_device or "0"
        return OpenCvCamera(int(device) if device.isdigit() else device)
    if kind == "pictures":
        from kiosk.devices.camera import PictureCamera

        if not settings.camera_device:
            raise ValueError(
                "kiosk.camera = 'pictures' needs kiosk.camera_device, a file or folder"
            )
        return PictureCamera(Path(settings.camera_device))
    if kind == "webcam":
        from kiosk.ui.webcam import PygameWebcam  # pygame lives under kiosk.ui

        return PygameWebcam(settings.camera_device)
    raise ValueError(f"kiosk.camera = {kind!r} is not a camera this booth knows")


def open_photo_check(settings: KioskSettings) -> PhotoCheck:
    """``face``: OpenCV's face and eye detectors and the ID-photo rules (the default);
    ``framing``: the background, centring and head-size heuristic (no face detector)."""
    kind = settings.photo_check
    if kind == "face":
        from kiosk.devices.facecheck import FacePhotoCheck

        return FacePhotoCheck()
    if kind == "framing":
        from kiosk.framing import FramingPhotoCheck

        return FramingPhotoCheck()
    raise ValueError(f"kiosk.photo_check = {kind!r} is not a photo check this booth knows")


def open_voice(
    settings: KioskSettings,
    *,
    headless: bool,
    cache: Path | None = None,
    play: Callable[[Path, float], float] | None = None,
) -> Voice:
    """``auto``: espeak-ng on a real display, silent headless (and under SDL's dummy video
    driver, as the tests run); ``espeak``: spoken even headless (when asked, as a test does);
    ``off``: silent. Prompts are cached in ``cache``; ``play`` defaults to pygame's mixer."""
    kind = settings.voice
    if kind == "off" or cache is None:
        return SilentVoice()
    if kind == "auto" and (headless or os.environ.get("SDL_VIDEODRIVER") == "dummy"):
        return SilentVoice()
    from kiosk.devices.voice import EspeakRenderer, SpokenVoice

    if play is None:
        from kiosk.ui.sound import MixerPlayer  # pygame lives under kiosk.ui

        play = MixerPlayer()
    voice = SpokenVoice(
        EspeakRenderer(cache, speed=settings.voice_speed),
        play,
        volume=settings.voice_volume,
        muted=settings.voice_muted,
    )
    voice.warm_up()
    return voice
