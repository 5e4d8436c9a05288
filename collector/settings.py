"""The collector's settings section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from collector.timing import REGISTRATION_WINDOW_MINUTES
from ephoto.code import DEFAULT_PREFIX
from ephoto.settings import ClockSettings

DB_FILE = "collector.sqlite"
SEAL_KEY_FILE = "collector-seal.pem"
STATE_KEY_FILE = "state-fetch.pub.pem"
KEYS_FILE = "keys.toml"


class CollectorSettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the collector listens on.")
    port: int = Field(default=8720, ge=1, le=65535, description="Port the collector listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=16,
        description="uvicorn worker processes; more than one is meant for PostgreSQL.",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the collector's store; empty: collector.sqlite in the "
        "data folder.",
    )
    keys_file: Path | None = Field(
        default=None,
        description="TOML file of booth keys (the registry's format): verifies booth uploads "
        "and holds the collector's own key for the registry; empty: keys.toml in the data folder.",
    )
    seal_key_file: Path | None = Field(
        default=None,
        description="The operator's Ed25519 sealing key (PEM, made on first start); empty: "
        "collector-seal.pem in the data folder.",
    )
    state_public_key_file: Path | None = Field(
        default=None,
        description="The state's Ed25519 public key (PEM) that signs fetches; empty: "
        "state-fetch.pub.pem in the data folder, else the state's private key "
        "state-fetch.pem there (one machine).",
    )
    registry_url: str = Field(
        default="http://127.0.0.1:8700",
        description="Base URL of the state registry the collector registers numbers with.",
    )
    registration_window_minutes: float = Field(
        default=REGISTRATION_WINDOW_MINUTES,
        ge=0,
        description="Numbers wait this long after receipt so they leave for the state in batches.",
    )
    registration_batch_size: int = Field(
        default=500, ge=1, le=5000, description="Numbers per registration batch."
    )
    registration_poll_seconds: float = Field(
        default=5.0, gt=0, description="Real seconds between looks at the registration outbox."
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Real seconds a registration request may take."
    )
    retention_margin_days: int = Field(
        default=30,
        ge=0,
        le=366,
        description="Days photos and signatures are kept after their number expires (6 months "
        "after issue), for late disputes; then they are deleted.",
    )
    retention_sweep_seconds: float = Field(
        default=60.0, gt=0, description="Real seconds between runs of the retention job."
    )
    admin_enabled: bool = Field(
        default=False, description="Serve the QA API under /admin (files, stats, faults, clock)."
    )
    admin_token: str | None = Field(
        default=None,
        description="Bearer token the /admin API requires; must be set when admin is enabled.",
    )


class CollectorRuntime(BaseModel):
    """Everything a collector worker needs, resolved, so several workers agree on it."""

    collector: CollectorSettings
    clock: ClockSettings
    operator_prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[A-Z0-9]{4}$")
    data_dir: Path


def collector_id(prefix: str) -> str:
    """The collector's name: in its seals, and as the booth id it registers numbers under."""
    return f"collector-{prefix}"
