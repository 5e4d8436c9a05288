"""The support desk's settings section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class SupportSettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the support desk listens on.")
    port: int = Field(
        default=8710, ge=1, le=65535, description="Port of the support desk's web form and API."
    )
    booth_db: Path | None = Field(
        default=None,
        description="The booth's SQLite file (ledger and outbox) the desk checks and refunds "
        "in; empty: booth.db in the data folder.",
    )
    registry_url: str = Field(
        default="http://127.0.0.1:8700",
        description="Base URL of the registry whose admin API tells a code's internal state.",
    )
    registry_admin_token: str | None = Field(
        default=None,
        description="Bearer token of the registry's /admin API (the registry's admin_token); "
        "better set through CABINE_SUPPORT__REGISTRY_ADMIN_TOKEN than in a file.",
    )
    registry_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="How long to wait for the registry's answer."
    )
