"""The booth's settings section."""

from __future__ import annotations

from pydantic import BaseModel, Field


class KioskSettings(BaseModel):
    booth_id: str = Field(
        default="booth-001", pattern=r"^[A-Za-z0-9_-]{1,40}$", description="This booth's id."
    )
