"""The one place that turns the kiosk settings into devices.

``Booth.from_settings`` (used by ``cabine kiosk``, the demo, the FAQ library and the benches)
calls these; nothing else builds a device from settings. Each device kind named in the config
maps to one implementation here; a new kind (a CUPS queue, an OpenCV camera, a face detector,
espeak-ng) is one more branch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.devices import Camera, PhotoCheck, Printer, SilentVoice, Voice
from kiosk.settings import KioskSettings

log = logging.getLogger(__name__)


def open_printer(settings: KioskSettings, prints: Path, paper_left: Callable[[], int]) -> Printer:
    """The configured printer. ``file``: sheets written to ``prints`` (the embedded default)."""
    kind = settings.printer
    if kind == "file":
        from kiosk.printer import FolderPrinter

        return FolderPrinter(prints, paper_left, seconds=settings.print_seconds)
    raise ValueError(f"kiosk.printer = {kind!r} is not a printer this booth knows; use 'file'")


def open_camera(settings: KioskSettings, seed: int | None = None) -> Camera:
    """The configured camera, not yet started (the booth starts it and reports a failure).

    ``synthetic``: drawn portraits, a new person each sale (``seed`` fixes the first one);
    ``webcam``: pygame's camera module (``camera_device``, or the first one found).
    """
    kind = settings.camera
    if kind == "synthetic":
        from kiosk.camera import SyntheticCamera

        return SyntheticCamera(seed=int(time.monotonic_ns() % 10_000) if seed is None else seed)
    if kind == "webcam":
        from kiosk.ui.webcam import PygameWebcam  # pygame lives under kiosk.ui

        return PygameWebcam(settings.camera_device)
    raise ValueError(f"kiosk.camera = {kind!r} is not a camera this booth knows")


def open_photo_check(settings: KioskSettings) -> PhotoCheck:
    """``framing``: the background, centring and head-size heuristic (no face detector)."""
    kind = settings.photo_check
    if kind == "framing":
        from kiosk.framing import FramingPhotoCheck

        return FramingPhotoCheck()
    raise ValueError(f"kiosk.photo_check = {kind!r} is not a photo check this booth knows")


def open_voice(settings: KioskSettings, *, headless: bool) -> Voice:
    """``off``: silent. A headless booth is always silent."""
    if headless or settings.voice == "off":
        return SilentVoice()
    raise ValueError(f"kiosk.voice = {settings.voice!r} is not a voice this booth knows")
