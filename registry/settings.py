"""The registry's settings section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class RegistrySettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the registry listens on.")
    port: int = Field(default=8700, ge=1, le=65535, description="Port the registry listens on.")
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the registry's store; empty: SQLite in the data folder.",
    )
    keys_file: Path | None = Field(
        default=None,
        description="TOML file of booth keys ([booths.BOOTH_ID] key, operator); "
        "empty: keys.toml in the data folder.",
    )
