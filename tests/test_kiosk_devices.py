"""The booth's devices: chosen from the settings in one factory, each behind its protocol."""

from __future__ import annotations

from pathlib import Path

from ephoto.clock import ManualClock
from kiosk.booth import Booth
from kiosk.camera import SyntheticCamera
from kiosk.devices import Camera, PhotoCheck, Printer, PrintJob, Voice
from kiosk.framing import FramingPhotoCheck
from kiosk.printer import FolderPrinter
from kiosk.settings import KioskSettings
from tests.kiosk_harness import NOW


def test_default_devices_implement_the_protocols(tmp_path: Path) -> None:
    booth = Booth.from_settings(
        KioskSettings(print_seconds=0), tmp_path, ManualClock(NOW), headless=True
    )
    try:
        assert isinstance(booth.printer, Printer) and isinstance(booth.printer, FolderPrinter)
        assert isinstance(booth.camera, Camera) and isinstance(booth.camera, SyntheticCamera)
        assert isinstance(booth.photo_check, PhotoCheck)
        assert isinstance(booth.voice, Voice)
        assert booth.device_problem is None and booth.booth_open() is None
    finally:
        booth.close()


def test_missing_webcam_puts_the_booth_in_maintenance_with_the_reason(tmp_path: Path) -> None:
    settings = KioskSettings(camera="webcam", camera_device="/dev/no-such-camera")
    booth = Booth.from_settings(settings, tmp_path, ManualClock(NOW), headless=True)
    try:
        assert booth.device_problem is not None
        assert "no-such-camera" in booth.device_problem.detail or "webcam" in (
            booth.device_problem.detail
        )
        assert booth.booth_open() == "refused.camera"
    finally:
        booth.close()


def test_framing_check_reports_failed_rules_with_message_keys() -> None:
    from PIL import Image

    check = FramingPhotoCheck()
    assert check.check(SyntheticCamera(seed=3).capture()) == []
    white = Image.new("RGB", (827, 1063), (255, 255, 255))
    failures = check.check(white)
    assert {f.rule for f in failures} >= {"background", "centred"}
    assert all(f.message_key == f"review.check_{f.rule}" for f in failures)


def test_folder_printer_reports_the_file_as_the_job_id(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    SyntheticCamera(seed=1).capture().save(sheet)
    printer = FolderPrinter(tmp_path / "prints", lambda: 5, seconds=0)
    result = printer.print_sheet(PrintJob(12, sheet))
    assert Path(result.job_id).exists() and Path(result.job_id).parent == tmp_path / "prints"
