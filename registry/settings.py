"""The registry's settings section."""

from __future__ import annotations

import re
from pathlib import Path

from limits import parse as parse_rate_limit
from pydantic import BaseModel, Field, field_validator

from ephoto.code import DEFAULT_PREFIX
from ephoto.settings import ClockSettings
from ephoto.vocabulary import PROCEDURES, Procedure
from registry.ingestion import BaseDelay, Capacity, IngestionModel

DEFAULT_PRODUCTS = {f"ephoto-{p.value}": p.value for p in Procedure}
FETCH_KEY_FILE = "state-fetch.pem"


class CollectorLink(BaseModel):
    """Where the state fetches one operator's files, and the key their seals must verify with."""

    url: str = Field(description="Base URL of the operator's collector, e.g. http://host:8720.")
    public_key_file: Path = Field(
        description="PEM file of the operator's Ed25519 public key (the collector's seal key)."
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"collector url {value!r} must start with http:// or https://")
        return value.rstrip("/")


class RegistrySettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the registry listens on.")
    port: int = Field(default=8700, ge=1, le=65535, description="Port the registry listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=16,
        description="uvicorn worker processes; more than one needs PostgreSQL and a shared "
        "rate-limit storage to behave as one service.",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the registry's store; empty: SQLite in the data folder.",
    )
    keys_file: Path | None = Field(
        default=None,
        description="TOML file of booth keys ([booths.BOOTH_ID] key, operator); "
        "empty: keys.toml in the data folder.",
    )
    capacity_per_hour: float = Field(
        default=1000.0,
        gt=0,
        description="Codes the registry registers per hour (the FIFO's service rate).",
    )
    capacity_by_month: dict[int, float] = Field(
        default_factory=lambda: {6: 600.0, 7: 700.0, 9: 400.0},
        description="Capacity per hour for some months (1-12, Paris calendar): the busy season "
        "before summer and September, the operator's peak month.",
    )
    base_delay_median_hours: float = Field(
        default=6.0, ge=0, description="Median of the lognormal delay after the queue, in hours."
    )
    base_delay_p95_hours: float = Field(
        default=30.0, ge=0, description="95th percentile of that delay, in hours."
    )
    products: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PRODUCTS),
        description="ePhoto products a booth may upload, and the procedure each was sold for "
        "(permis or titre-sejour).",
    )
    rate_limit_failed_per_client: str = Field(
        default="100/hour",
        description="Failed citizen checks (malformed, not found) one client address may make "
        "(limits syntax, e.g. '100/hour'); past it every check is refused with 429.",
    )
    rate_limit_global: str = Field(
        default="5000/second",
        description="Citizen checks and redemptions all clients together may make.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live (limits storage URL); memory:// is per "
        "worker, a redis:// URL shares them between workers.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies (comma-separated addresses) whose X-Forwarded-For names the "
        "client address for rate limits; empty: the connection's own address is the client, "
        "whatever the headers say.",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="Largest request body accepted (a batch of 5000 codes is about 500 kB); "
        "larger ones get 413 before they are read.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long a request body may stall before the request is refused (408).",
    )
    admin_enabled: bool = Field(
        default=False, description="Serve the QA API under /admin (clock, faults, stats)."
    )
    admin_token: str | None = Field(
        default=None,
        description="Bearer token the /admin API requires; must be set when admin is enabled.",
    )
    collectors: dict[str, CollectorLink] = Field(
        default_factory=dict,
        description="Per operator prefix (e.g. 9PMT), its collector: url and public_key_file. "
        "A number is redeemed only once its file, fetched from there, passes the seal and "
        "digest checks; an operator with no collector here is redeemed on the number alone.",
    )
    fetch_key_file: Path | None = Field(
        default=None,
        description="The state's Ed25519 private key (PEM) that signs fetches, made on first "
        "start; empty: state-fetch.pem in the data folder. `cabine registry public-key` prints "
        "its public key for the collectors.",
    )
    fetch_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="How long a fetch from a collector may take before the citizen is told to "
        "try again (503), the number not used.",
    )
    fetch_retry_after_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="Retry-After given with that 503 when the collector names no delay.",
    )
    fault_hold_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a batch hit by the timeout-after-apply fault waits before "
        "answering: long enough for the booth to give up.",
    )

    @field_validator("capacity_by_month")
    @classmethod
    def _months(cls, value: dict[int, float]) -> dict[int, float]:
        Capacity(per_hour=1.0, by_month=value)
        return value

    @field_validator("products")
    @classmethod
    def _procedures(cls, value: dict[str, str]) -> dict[str, str]:
        for product, procedure in value.items():
            if procedure not in PROCEDURES:
                raise ValueError(
                    f"product {product!r}: procedure {procedure!r} must be "
                    + " or ".join(PROCEDURES)
                )
        return value

    @field_validator("collectors")
    @classmethod
    def _prefixes(cls, value: dict[str, CollectorLink]) -> dict[str, CollectorLink]:
        for prefix in value:
            if not re.fullmatch(r"[A-Z0-9]{4}", prefix):
                raise ValueError(f"collector prefix {prefix!r} must be 4 characters A-Z 0-9")
        return value

    @field_validator("rate_limit_failed_per_client", "rate_limit_global")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"rate limit {value!r} is not like '100/hour': {exc}") from None
        return value

    def ingestion_model(self) -> IngestionModel:
        return IngestionModel(
            Capacity(self.capacity_per_hour, dict(self.capacity_by_month)),
            BaseDelay(self.base_delay_median_hours, self.base_delay_p95_hours),
        )


class RegistryRuntime(BaseModel):
    """Everything a registry worker needs, resolved (db URL, keys file, clock epoch), so that
    several uvicorn workers started from one command agree on it."""

    registry: RegistrySettings
    clock: ClockSettings
    operator_prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[A-Z0-9]{4}$")
