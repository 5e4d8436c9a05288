"""Settings every process of a live session shares: the clock and the operator."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from ephoto.clock import Clock, clock_from_settings, ensure_utc
from ephoto.code import DEFAULT_PREFIX


class ClockSettings(BaseModel):
    epoch: datetime | None = Field(
        default=None,
        description="Instant (ISO 8601 with offset) from which a scaled clock runs faster; "
        "processes of one live session must share it. Empty: the process's start.",
    )
    scale: float = Field(
        default=1.0,
        gt=0,
        description="Domain seconds per real second: 1 is real time, 3600 makes 72 h pass in 72 s.",
    )

    origin: datetime | None = Field(
        default=None,
        description="Domain time at the epoch (ISO 8601 with offset); empty: the epoch itself. "
        "Lets a new session continue the domain time where the last one stopped.",
    )

    session_file: Path | None = Field(
        default=None,
        description="A live session's file (the demo's demo-session.json) whose QA clock offset "
        "every process adds to its clock and watches, so that one move (`cabine clock advance`, "
        "or the registry's POST /admin/clock) moves them all. Empty: no shared offset.",
    )

    @field_validator("epoch", "origin")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return ensure_utc(value) if value is not None else None

    def make(self) -> Clock:
        return clock_from_settings(self.epoch, self.scale, self.origin, self.session_file)


class OperatorSettings(BaseModel):
    prefix: str = Field(
        default=DEFAULT_PREFIX,
        pattern=r"^[A-Z0-9]{4}$",
        description="The 4 characters every ePhoto number of this operator starts with.",
    )
