"""The booth's settings section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

DEFAULT_PIN = "1234"
"""Used only while ``operator_pin_hash`` is empty, so a fresh simulator can be opened."""


class KioskSettings(BaseModel):
    booth_id: str = Field(
        default="booth-001", pattern=r"^[A-Za-z0-9_-]{1,40}$", description="This booth's id."
    )
    width: int = Field(default=1920, ge=320, le=7680, description="Window width in pixels.")
    height: int = Field(default=1080, ge=240, le=4320, description="Window height in pixels.")
    fullscreen: bool = Field(default=False, description="Fill the screen instead of a window.")
    dpi: float = Field(
        default=92.0,
        gt=20,
        le=600,
        description="Pixels per inch of the touchscreen (a 24-inch 1920x1080 panel is about 92); "
        "sizes buttons in millimetres.",
    )
    min_button_mm: float = Field(
        default=15.0, ge=9, description="Smallest side of any button, in millimetres."
    )
    retake_limit: int = Field(
        default=2, ge=0, le=10, description="Photos a customer may retake after the first one."
    )
    countdown_seconds: int = Field(
        default=3, ge=0, le=10, description="Countdown shown before each photo."
    )
    idle_timeout_seconds: float = Field(
        default=90.0, gt=0, description="A customer screen left alone this long ends the sale."
    )
    payment_timeout_seconds: float = Field(
        default=120.0, gt=0, description="The payment screen left alone this long cancels the sale."
    )
    message_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        description="The final, error and refusal screens go back to the start after this long.",
    )
    camera: Literal["synthetic", "opencv", "pictures", "webcam"] = Field(
        default="synthetic",
        description="synthetic: drawn portraits (no camera needed); opencv: a webcam through "
        "OpenCV (camera_device: its number, 0 for /dev/video0, or a device path or video file); "
        "pictures: a picture file or a folder of pictures taken in turn (camera_device: its "
        "path); webcam: pygame's camera module.",
    )
    camera_device: str | None = Field(
        default=None,
        description="Which camera: for opencv a number or path (empty: 0), for pictures the file "
        "or folder, for webcam pygame's device name (empty: the first).",
    )
    printer: str = Field(
        default="file",
        pattern=r"^(file|cups:[A-Za-z0-9_.@-]+)$",
        description="file: sheets written to the data folder's prints/ (no printer needed); "
        "cups:QUEUE: the CUPS queue QUEUE (lpstat -p lists them).",
    )
    cups_server: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_.-]+(:[0-9]{1,5})?|/[^\s]+)?$",
        description="CUPS server as host:port or a socket path; empty: the system's (CUPS_SERVER "
        "or /run/cups/cups.sock).",
    )
    printer_options: dict[str, str] = Field(
        default_factory=lambda: {"media": "Custom.100x150mm"},
        description="IPP options sent with every sheet (lpoptions -p QUEUE -l lists the queue's); "
        "media is the 10 x 15 cm paper's name in the queue's driver.",
    )
    print_timeout_seconds: float = Field(
        default=180.0,
        ge=5,
        le=3600,
        description="A CUPS job not printed after this long is cancelled, so it cannot come out "
        "later as a second copy, and sent once more if the queue is ready; otherwise the sale "
        "is printed by recovery once the booth can print (a stopped queue ends the wait at once).",
    )
    photo_check: Literal["face", "framing"] = Field(
        default="face",
        description="How the review screen checks the photo; face: OpenCV's face and eye "
        "detectors (one face, eyes, 32-36 mm face, centred, level, plain light background); "
        "framing: background, centring and head size only, no face detector.",
    )
    voice: Literal["auto", "espeak", "off"] = Field(
        default="auto",
        description="Spoken prompts made by espeak-ng; auto: spoken on a real display, silent "
        "headless; espeak: always spoken; off: silent.",
    )
    voice_volume: float = Field(
        default=0.8, ge=0, le=1, description="Voice volume from 0 to 1 (the operator menu sets it)."
    )
    voice_muted: bool = Field(default=False, description="Voice muted (the operator menu sets it).")
    voice_speed: int = Field(
        default=150, ge=80, le=300, description="Speaking speed in words per minute."
    )
    payment_seconds: float = Field(
        default=1.0, ge=0, le=30, description="How long the simulated card terminal takes."
    )
    coins_given_back: bool = Field(
        default=True,
        description="The coin box returns the coins of a cancelled sale and gives change; "
        "false: it keeps them and the booth records a refund due for the operator.",
    )
    print_seconds: float = Field(
        default=2.0, ge=0, le=600, description="How long the simulated printer takes per sheet."
    )
    render_in_process: bool = Field(
        default=True,
        description="Render printed sheets in a separate process so the screen stays smooth.",
    )
    paper_capacity: int = Field(
        default=400, ge=1, le=10000, description="Sheets in a full paper roll (refill restores it)."
    )
    operator_pin_hash: str = Field(
        default="",
        description="PBKDF2 hash of the operator PIN (``cabine kiosk --hash-pin PIN`` makes one); "
        "empty: the PIN is 1234, change it on a real booth.",
    )
    pin_max_tries: int = Field(
        default=5, ge=1, le=20, description="Wrong PINs in a row before the operator pad locks."
    )
    pin_lockout_seconds: float = Field(
        default=300.0, ge=1, description="How long the operator pad stays locked."
    )
    operator_hold_seconds: float = Field(
        default=3.0,
        ge=0.5,
        le=30,
        description="Press and hold the top-right corner this long to open the operator menu.",
    )

    @field_validator("operator_pin_hash")
    @classmethod
    def _pin_hash_format(cls, value: str) -> str:
        if value and value.count("$") != 3:
            raise ValueError(
                "operator_pin_hash must look like pbkdf2-sha256$ITERATIONS$SALT$HASH "
                "(make one with `cabine kiosk --hash-pin PIN`)"
            )
        return value
