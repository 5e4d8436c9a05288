"""The transmitter's settings section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TransmitterSettings(BaseModel):
    registry_url: str = Field(
        default="http://127.0.0.1:8700", description="Base URL of the registry to upload to."
    )
    batch_window_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Codes wait this long after issue so they leave in batches (booth stage).",
    )
    batch_size: int = Field(default=200, ge=1, le=5000, description="Codes per upload.")
