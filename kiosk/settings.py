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
    camera: Literal["synthetic", "webcam"] = Field(
        default="synthetic",
        description="synthetic: generated portraits; webcam: pygame's camera module if present.",
    )
    camera_device: str | None = Field(
        default=None, description="Webcam device name for camera = 'webcam'; empty: the first."
    )
    printer: str = Field(
        default="file",
        pattern=r"^(file|cups:[A-Za-z0-9_.@-]+)$",
        description="file: sheets written to the data folder's prints/ (no printer needed); "
        "cups:QUEUE: the CUPS queue QUEUE.",
    )
    photo_check: Literal["framing"] = Field(
        default="framing",
        description="How the review screen checks the photo; framing: background, centring and "
        "head size, no face detector.",
    )
    voice: Literal["off"] = Field(
        default="off", description="Spoken prompts; off: silent (always silent headless)."
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
