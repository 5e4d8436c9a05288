"""The one factory picks the real devices from the settings: a CUPS queue, an OpenCV camera or a
picture folder, the face detector, espeak-ng; bad or missing ones keep the booth in maintenance
with the reason, and the embedded defaults need no hardware."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ephoto.clock import ManualClock
from kiosk.booth import Booth
from kiosk.camera import synthetic_portrait
from kiosk.devices import SilentVoice
from kiosk.devices.camera import OpenCvCamera, PictureCamera
from kiosk.devices.choose import open_camera, open_photo_check, open_printer
from kiosk.devices.facecheck import FacePhotoCheck
from kiosk.devices.printer import SHEET_MEDIA, CupsPrinter
from kiosk.printer import FolderPrinter
from kiosk.settings import KioskSettings
from tests.kiosk_harness import NOW


def test_embedded_defaults_are_the_file_printer_drawn_portraits_and_the_face_check(tmp_path):
    booth = Booth.from_settings(
        KioskSettings(print_seconds=0), tmp_path, ManualClock(NOW), headless=True
    )
    try:
        assert isinstance(booth.printer, FolderPrinter)
        assert isinstance(booth.photo_check, FacePhotoCheck)
        assert isinstance(booth.voice, SilentVoice)
        assert booth.booth_open() is None
    finally:
        booth.close()


def test_a_cups_queue_is_chosen_with_its_server_and_options(tmp_path):
    settings = KioskSettings(
        printer="cups:Selphy_CP1500",
        cups_server="127.0.0.1:8631",
        printer_options={"media": "w288h432", "print-quality": "5"},
        print_timeout_seconds=60,
    )
    printer = open_printer(settings, tmp_path, lambda: 10)
    assert isinstance(printer, CupsPrinter)
    assert printer.name == "cups:Selphy_CP1500" and printer.server == "127.0.0.1:8631"
    assert printer.options == {"media": "w288h432", "print-quality": "5"}
    assert printer.job_timeout_seconds == 60
    assert KioskSettings().printer_options == {"media": SHEET_MEDIA}


@pytest.mark.parametrize(
    "field, value",
    [("printer", "cups:"), ("printer", "lpr:x"), ("cups_server", "host name"), ("camera", "gopro")],
)
def test_bad_device_settings_are_refused_naming_the_field(field, value):
    with pytest.raises(ValidationError, match=field):
        KioskSettings(**{field: value})


def test_cameras_are_chosen_by_kind_and_device(tmp_path):
    assert isinstance(open_camera(KioskSettings(camera="opencv")), OpenCvCamera)
    assert open_camera(KioskSettings(camera="opencv", camera_device="2")).device == 2
    named = open_camera(KioskSettings(camera="opencv", camera_device="/dev/video4"))
    assert named.device == "/dev/video4"
    folder = open_camera(KioskSettings(camera="pictures", camera_device=str(tmp_path)))
    assert isinstance(folder, PictureCamera)
    with pytest.raises(ValueError, match="camera_device"):
        open_camera(KioskSettings(camera="pictures"))
    assert isinstance(open_photo_check(KioskSettings(photo_check="face")), FacePhotoCheck)


def test_a_missing_opencv_camera_keeps_the_booth_in_maintenance_with_the_reason(tmp_path):
    settings = KioskSettings(
        camera="opencv", camera_device=str(tmp_path / "video9"), print_seconds=0
    )
    booth = Booth.from_settings(settings, tmp_path / "data", ManualClock(NOW), headless=True)
    try:
        assert booth.booth_open() == "refused.camera"
        assert booth.device_problem is not None
        assert "video9" in booth.device_problem.detail
        assert "cannot be opened" in booth.device_problem.detail
    finally:
        booth.close()


def test_a_picture_folder_camera_feeds_the_booth(tmp_path: Path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    synthetic_portrait(12).save(pictures / "a.png")
    settings = KioskSettings(camera="pictures", camera_device=str(pictures), print_seconds=0)
    booth = Booth.from_settings(settings, tmp_path / "data", ManualClock(NOW), headless=True)
    try:
        assert booth.booth_open() is None
        image, failures = booth.take_photo()
        assert image.size == (827, 1063)
        assert failures == []
    finally:
        booth.close()


def test_an_unreachable_cups_server_keeps_the_booth_from_selling(tmp_path):
    settings = KioskSettings(printer="cups:nowhere", cups_server="127.0.0.1:9", print_seconds=0)
    booth = Booth.from_settings(settings, tmp_path, ManualClock(NOW), headless=True)
    try:
        assert booth.booth_open() == "refused.offline"
    finally:
        booth.close()
