"""Scenario files for the fleet simulator: a TOML file checked by a pydantic schema.

A scenario says how many booths sell how much over which days, how the booths send their codes,
how fast the registry registers them, how customers type and retry, and how many ask support.
Every error names the key at fault (``demand.season.13: ...``).
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from collector.timing import REGISTRATION_WINDOW_MINUTES
from ephoto.clock import PARIS
from registry.ingestion import BaseDelay, Capacity, IngestionModel

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

# A typical ePhoto file: a 35 x 45 JPEG photo of about 55 KB and a PNG signature of about 8 KB,
# well within the budgets of ``ephoto.epfile`` (a test checks it).
DEFAULT_FILE_BYTES = 63_000

# Booths in shopping centres and stations sell most at lunch time and after work.
DEFAULT_HOURLY_PROFILE: dict[str, float] = {
    "09": 0.6,
    "10": 0.9,
    "11": 1.0,
    "12": 1.2,
    "13": 1.1,
    "14": 1.0,
    "15": 1.0,
    "16": 1.1,
    "17": 1.3,
    "18": 1.3,
    "19": 0.8,
}


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with one line per problem naming its key."""


class _Section(BaseModel):
    # No NaN or infinity anywhere: an infinite rate or capacity is refused naming its key.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _month_table(table: dict[str, float], what: str) -> dict[str, float]:
    for key, value in table.items():
        if len(key) != 2 or not key.isdigit() or not 1 <= int(key) <= 12:
            raise ValueError(f"month {key!r} must be written 01 to 12")
        if value <= 0 or not math.isfinite(value):
            raise ValueError(f"{what} for month {key} must be a positive number, got {value}")
    return table


class RunSection(_Section):
    seed: int = Field(default=1, ge=0, description="Seed of every random draw of the run.")
    start: date = Field(
        default=date(2026, 6, 1),
        ge=date(2000, 1, 1),
        le=date(2199, 12, 31),
        description="First simulated day (Paris calendar), 2000 to 2199.",
    )
    days: int = Field(default=30, ge=1, le=730, description="Days during which booths sell.")


class FleetSection(_Section):
    booths: int = Field(default=100, ge=1, le=100_000, description="Booths in the fleet.")


class DemandSection(_Section):
    ephoto_per_booth_day: float = Field(
        default=15.0,
        ge=0,
        le=2_000,
        description="Mean ePhoto sales per booth per day (Poisson); a booth sells at most "
        "about one a minute, so more than 2,000 a day is refused.",
    )
    other_per_booth_day: float = Field(
        default=20.0,
        ge=0,
        le=2_000,
        description="Mean sales of products without a number per booth per day (at most 2,000).",
    )
    wrong_product_share: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Share of those other sales made to customers who needed an ePhoto.",
    )
    season: dict[str, float] = Field(
        default_factory=dict,
        description='Demand multiplier per month ("01"-"12"); a month not listed is 1.',
    )
    hourly_profile: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_HOURLY_PROFILE),
        description='Relative sales per opening hour, Paris time ("00"-"23"); others are closed.',
    )

    @field_validator("season")
    @classmethod
    def _season_months(cls, value: dict[str, float]) -> dict[str, float]:
        return _month_table(value, "season multiplier")

    @field_validator("hourly_profile")
    @classmethod
    def _opening_hours(cls, value: dict[str, float]) -> dict[str, float]:
        for key, weight in value.items():
            if len(key) != 2 or not key.isdigit() or not 0 <= int(key) <= 23:
                raise ValueError(f"hour {key!r} must be written 00 to 23")
            if weight < 0 or not math.isfinite(weight):
                raise ValueError(f"weight of hour {key} must be >= 0, got {weight}")
        if not any(w > 0 for w in value.values()):
            raise ValueError("at least one opening hour needs a positive weight")
        return value

    def season_factor(self, month: int) -> float:
        return self.season.get(f"{month:02d}", 1.0)


class BoothSection(_Section):
    batch_window_minutes: float = Field(
        default=15.0, ge=0, description="Codes wait this long after issue before leaving."
    )
    outage_rate_per_day: float = Field(
        default=0.0, ge=0, description="Connectivity outages per booth per day (Poisson)."
    )
    outage_mean_hours: float = Field(
        default=0.0, ge=0, description="Mean length of an outage (exponential)."
    )
    uplink_kbps: float = Field(
        default=0.0,
        ge=0,
        description="The booth's uplink in kbit/s (e.g. 2000 on mobile data); 0: unlimited.",
    )
    file_bytes: int = Field(
        default=DEFAULT_FILE_BYTES,
        gt=0,
        description="Bytes of one ePhoto file (JPEG photo and PNG signature) a booth uploads.",
    )

    @field_validator("file_bytes")
    @classmethod
    def _file_within_budget(cls, value: int) -> int:
        if value != DEFAULT_FILE_BYTES:  # the default is tested to fit; spare the PIL import
            from ephoto.epfile import PHOTO_MAX_BYTES, SIGNATURE_MAX_BYTES

            budget = PHOTO_MAX_BYTES + SIGNATURE_MAX_BYTES
            if value > budget:
                raise ValueError(
                    f"a file holds at most {budget} bytes (photo {PHOTO_MAX_BYTES}, signature "
                    f"{SIGNATURE_MAX_BYTES}), got {value}"
                )
        return value

    @model_validator(mode="after")
    def _outages_have_a_length(self) -> BoothSection:
        if self.outage_rate_per_day > 0 and self.outage_mean_hours <= 0:
            raise ValueError("outage_mean_hours must be > 0 when outage_rate_per_day is > 0")
        return self


class CollectorSection(_Section):
    registration_window_minutes: float = Field(
        default=REGISTRATION_WINDOW_MINUTES,
        ge=0,
        description="Numbers wait this long at the collector after receipt, then leave for "
        "the state in its registration batches (the collector's own setting).",
    )


class BaseDelaySection(_Section):
    median_hours: float = Field(default=6.0, ge=0, description="Median base delay; 0: none.")
    p95_hours: float = Field(default=30.0, ge=0, description="95th percentile of the base delay.")

    @model_validator(mode="after")
    def _p95_above_median(self) -> BaseDelaySection:
        if self.median_hours > 0 and self.p95_hours < self.median_hours:
            raise ValueError(
                f"p95_hours ({self.p95_hours}) must be >= median_hours ({self.median_hours})"
            )
        return self


class RegistrySection(_Section):
    capacity_per_hour: float = Field(
        default=75.0, gt=0, description="Codes the registry registers per hour."
    )
    capacity_by_month: dict[str, float] = Field(
        default_factory=dict, description='Capacity per month ("01"-"12") where it differs.'
    )
    base_delay: BaseDelaySection = Field(default_factory=BaseDelaySection)

    @field_validator("capacity_by_month")
    @classmethod
    def _capacity_months(cls, value: dict[str, float]) -> dict[str, float]:
        return _month_table(value, "capacity")

    def ingestion_model(self) -> IngestionModel:
        """The registry's own model with this section's numbers."""
        return IngestionModel(
            Capacity(
                self.capacity_per_hour, {int(k): v for k, v in self.capacity_by_month.items()}
            ),
            BaseDelay(self.base_delay.median_hours, self.base_delay.p95_hours),
        )


class DelaySection(_Section):
    kind: Literal["lognormal", "exponential", "fixed"] = Field(
        default="lognormal", description="Shape of the delay."
    )
    median_hours: float = Field(default=24.0, ge=0, description="Median delay.")
    p95_hours: float | None = Field(default=240.0, description="95th percentile (lognormal only).")

    @model_validator(mode="after")
    def _shape_parameters(self) -> DelaySection:
        if self.kind == "lognormal":
            if self.median_hours <= 0:
                raise ValueError("median_hours must be > 0 for a lognormal delay")
            if self.p95_hours is None or self.p95_hours < self.median_hours:
                raise ValueError(
                    f"p95_hours ({self.p95_hours}) must be >= median_hours ({self.median_hours})"
                )
        if self.kind == "exponential" and self.median_hours <= 0:
            raise ValueError("median_hours must be > 0 for an exponential delay")
        return self


class CitizensSection(_Section):
    first_attempt: DelaySection = Field(
        default_factory=DelaySection, description="Delay from purchase to the first attempt."
    )
    lowercase_share: float = Field(
        default=0.05, ge=0, le=1, description="Share who type the code in lowercase."
    )
    confusable_share: float = Field(
        default=0.04, ge=0, le=1, description="Share who swap a confusable (0/O, 1/I, 5/S...)."
    )
    retry_share: float = Field(
        default=0.7, ge=0, le=1, description="Share who try again later after a refusal."
    )
    retry_after_hours: float = Field(
        default=24.0, gt=0, description="Mean wait before trying again (exponential)."
    )
    max_attempts: int = Field(default=4, ge=1, le=20, description="Attempts before giving up.")
    double_use_share: float = Field(
        default=0.02, ge=0, le=1, description="Share who enter the same code a second time."
    )


class SupportSection(_Section):
    report_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of refused customers who file a report once 72 h have passed.",
    )


class Scenario(_Section):
    name: str = Field(default="scenario", description="Short name shown in reports.")
    description: str = Field(default="", description="What the scenario represents.")
    run: RunSection = Field(default_factory=RunSection)
    fleet: FleetSection = Field(default_factory=FleetSection)
    demand: DemandSection = Field(default_factory=DemandSection)
    booth: BoothSection = Field(default_factory=BoothSection)
    collector: CollectorSection = Field(default_factory=CollectorSection)
    registry: RegistrySection = Field(default_factory=RegistrySection)
    citizens: CitizensSection = Field(default_factory=CitizensSection)
    support: SupportSection = Field(default_factory=SupportSection)

    @property
    def origin(self) -> datetime:
        """Midnight of the first day in Paris, as UTC: hour 0 of the simulation's clock."""
        start = self.run.start
        return datetime(start.year, start.month, start.day, tzinfo=PARIS).astimezone(UTC)

    @property
    def end(self) -> datetime:
        last = self.run.start + timedelta(days=self.run.days)
        return datetime(last.year, last.month, last.day, tzinfo=PARIS).astimezone(UTC)

    def with_seed(self, seed: int | None) -> Scenario:
        if seed is None:
            return self
        return self.model_copy(update={"run": self.run.model_copy(update={"seed": seed})})


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}")
    return "\n".join(lines)


def parse_scenario(data: dict, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}:\n{_describe(exc)}") from None


class ScenarioNotFound(ScenarioError):
    """No such file and no bundled scenario by that name; names the bundled ones."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bundled = bundled_names()
        super().__init__(
            f"scenario file {path} does not exist; bundled scenarios: {', '.join(self.bundled)}"
        )


class SweepFileGiven(ScenarioError):
    """A sweep file where a scenario was expected (it names a scenario and what to vary)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path} is a sweep file, not a scenario: run it with cabine sweep {path} --out FOLDER"
        )


def is_sweep_data(data: dict) -> bool:
    """True for a sweep file's table: it names its scenario or what to vary, keys no scenario
    has."""
    return isinstance(data.get("scenario"), str) or "vary" in data


def load_scenario(path: str | Path) -> Scenario:
    """A scenario from a TOML file, or a bundled one by name (``summer-peak``)."""
    path = Path(path)
    if not path.exists() and (SCENARIO_DIR / f"{path.name}.toml").is_file():
        path = SCENARIO_DIR / f"{path.name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioNotFound(path) from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    if is_sweep_data(data):
        raise SweepFileGiven(path)
    data.setdefault("name", path.stem)
    return parse_scenario(data, str(path))


def bundled_scenarios() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.toml"))


def bundled_names() -> list[str]:
    return [path.stem for path in bundled_scenarios()]
