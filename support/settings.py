"""The support desk's settings section."""

from __future__ import annotations

from pathlib import Path

from limits import parse as parse_rate_limit
from pydantic import BaseModel, Field, field_validator


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
    booths: dict[str, Path] = Field(
        default_factory=dict,
        description="An operator's booths the desk serves, by booth id: each one's SQLite file. "
        "A report goes to the booth its sale reference names or whose ledger holds its number; "
        "empty: the one booth of booth_db.",
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
    collector_url: str | None = Field(
        default=None,
        description="Base URL of the operator's collector, whose admin API tells whether a "
        "number's file was received, sealed, registered or deleted; empty: not asked.",
    )
    collector_admin_token: str | None = Field(
        default=None,
        description="Bearer token of the collector's /admin API (its admin_token); better set "
        "through CABINE_SUPPORT__COLLECTOR_ADMIN_TOKEN than in a file.",
    )
    rate_limit_failed_per_client: str = Field(
        default="20/hour",
        description="Reports that prove nothing (no sale found, or a sale named without its "
        "ePhoto number) one client address may make (limits syntax); past it, 429.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies (comma-separated addresses) whose X-Forwarded-For names the "
        "client; empty: the connection's own address is the client, whatever the headers say.",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body accepted; larger ones get 413.",
    )

    @field_validator("rate_limit_failed_per_client")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"rate limit {value!r} is not like '20/hour': {exc}") from None
        return value
