"""The transmitter's settings section."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, Field

from ephoto.epfile import MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES, PHOTO_MAX_BYTES

COLLECTOR: Final = "collector"
REGISTRY: Final = "registry"


class TransmitterSettings(BaseModel):
    destination: Literal["collector", "registry"] = Field(
        default=COLLECTOR,
        description="collector: upload each number's ePhoto file to the operator's collector "
        "(POST /v1/files), as a booth does; registry: upload bare numbers to the registry "
        "(POST /v1/batches), as the collector's own outbox does. --collector or --registry on "
        "the command line choose too.",
    )
    collector_url: str = Field(
        default="http://127.0.0.1:8720",
        description="Base URL of the operator's collector the booth uploads its files to.",
    )
    registry_url: str = Field(
        default="http://127.0.0.1:8700",
        description="Base URL of the registry bare numbers are uploaded to.",
    )
    uplink_kbps: float = Field(
        default=0.0,
        ge=0,
        description="The booth's uplink in kbit/s (e.g. 2000 on mobile data; 0: unlimited). An "
        "upload may take its bytes' time on it beyond the request timeout; the stand-in "
        "collector and the simulator hold uploads that long.",
    )
    files_per_upload: int = Field(
        default=20,
        ge=1,
        le=MAX_FILES_PER_UPLOAD,
        description="ePhoto files per upload to the collector, at most.",
    )
    upload_max_bytes: int = Field(
        default=2_000_000,
        ge=2 * PHOTO_MAX_BYTES,
        le=MAX_UPLOAD_BYTES,
        description="Bytes of one upload's body to the collector, at most (images travel in "
        "base64: a file takes about 100 kB there).",
    )
    outbox_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the outbox (a PostgreSQL URL for a central outbox shared "
        "by several workers); empty: booth.db in the data folder, shared with the kiosk.",
    )
    keys_file: Path | None = Field(
        default=None,
        description="TOML file of booth signing keys ([booths.BOOTH_ID] key = ...), the "
        "registry's format; empty: keys.toml in the data folder.",
    )
    batch_window_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Codes wait this long after issue so they leave in batches (booth stage).",
    )
    batch_size: int = Field(
        default=200, ge=1, le=5000, description="Bare numbers per upload to the registry."
    )
    parallel_uploads: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Batches in flight at once (a registry with several workers takes more).",
    )
    poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Real seconds between regular looks at the outbox (a wake-up is also set "
        "for the next code due).",
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Real seconds an upload may take before it is retried."
    )
    lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Real seconds a worker holds the rows it claimed; a crashed worker's rows "
        "come back after this. Keep it above the request timeout.",
    )
    backoff_base_seconds: float = Field(
        default=0.5, gt=0, description="First retry waits up to this many real seconds."
    )
    backoff_cap_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Retries wait at most this many real seconds (Retry-After may ask more).",
    )
    dead_letter_days: float = Field(
        default=7.0,
        gt=0,
        description="Codes still unsent this many days after issue are flagged for the operator "
        "(and keep being retried).",
    )
