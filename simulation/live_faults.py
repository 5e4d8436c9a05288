"""The live fleet's faults: a TOML schedule in simulated time, applied through the real
mechanisms and recorded with their times (``faults.json`` in the run's folder).

Each ``[[fault]]`` has a ``kind``, ``at`` (simulated hours after midnight of the first day,
Paris) and, for those that last, ``hours``:

- ``collector_kill``, ``registry_kill``: SIGKILL of the service process, started again after
  ``hours`` (0: at once, as a supervisor would);
- ``worker_kill`` (``worker``, from 1): SIGKILL of a booth worker process, started again after
  ``hours``; its booths recover what the crash left (a sale open is closed, a paid sale
  printed) and sell on from the next sale their ledgers have not seen;
- ``collector_down`` (uploads and fetches answer 503), ``collector_slow`` (``ms`` added),
  ``collector_corrupt`` (the files it hands the state at a number's use no longer match their
  seal, so the state refuses them and the buyer is told to try again),
  ``registry_5xx`` (``share`` of the batches answered 500), ``registry_slow`` (``ms``): the
  services' own fault APIs, for ``hours``;
- ``uplink_down`` (``booth``): the booth's transmitter has no connectivity for ``hours``, the
  outage window the transmitter itself honours (``transmitter.latency.Outage``);
- ``printer_out_of_paper`` (``booth``): the booth's paper runs out (its ledger's paper count,
  which its printer reads, set to 0) and the operator refills it after ``hours``; meanwhile
  the booth refuses to open a sale, as on site, and its customers go away without buying.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FAULTS_RECORD = "faults.json"

Kind = Literal[
    "collector_kill",
    "registry_kill",
    "worker_kill",
    "collector_down",
    "collector_slow",
    "collector_corrupt",
    "registry_5xx",
    "registry_slow",
    "uplink_down",
    "printer_out_of_paper",
]
BOOTH_FAULTS = ("uplink_down", "printer_out_of_paper")
"""Faults a booth's own worker applies at their times (the schedule is in its plan)."""
KILLS = ("collector_kill", "registry_kill", "worker_kill")


class FaultError(ValueError):
    """The faults file has a mistake; the message names the line and the key."""


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    at: float = Field(ge=0, description="Simulated hours after midnight of the first day.")
    hours: float = Field(default=0.0, ge=0, description="How long it lasts.")
    booth: str | None = Field(
        default=None, description="uplink_down, printer_out_of_paper: the booth's id."
    )
    worker: int | None = Field(default=None, ge=1, description="worker_kill: the worker, from 1.")
    share: float = Field(default=1.0, gt=0, le=1, description="registry_5xx: batches refused.")
    ms: float = Field(default=0.0, ge=0, le=60_000, description="*_slow: milliseconds added.")

    @model_validator(mode="after")
    def _needs(self) -> Fault:
        if self.kind in BOOTH_FAULTS and self.booth is None:
            raise ValueError(f"{self.kind} needs booth")
        if self.kind == "worker_kill" and self.worker is None:
            raise ValueError("worker_kill needs worker")
        if self.kind.endswith("_slow") and self.ms <= 0:
            raise ValueError(f"{self.kind} needs ms > 0")
        if self.kind not in KILLS and self.hours <= 0:
            raise ValueError(f"{self.kind} needs hours > 0")
        return self


def load_faults(path: Path, booths: tuple[str, ...], workers: int) -> list[Fault]:
    """The schedule in ``path``, checked against the fleet; :class:`FaultError` names the
    line of the faulty ``[[fault]]`` and its key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FaultError(f"faults file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FaultError(f"faults file {path} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FaultError(f"faults file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"fault"})
    if unknown:
        raise FaultError(f"faults file {path}: unknown table {unknown[0]!r} (only [[fault]])")
    lines = [
        n for n, line in enumerate(text.splitlines(), 1) if re.match(r"\s*\[\[fault\]\]", line)
    ]
    faults = []
    for index, raw in enumerate(data.get("fault", [])):
        where = f"faults file {path}, line {lines[index] if index < len(lines) else '?'}"
        try:
            fault = Fault.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "fault"
            raise FaultError(f"{where}: {key}: {first['msg']}") from None
        if fault.booth is not None and fault.booth not in booths:
            raise FaultError(f"{where}: booth: {fault.booth!r} is not a booth of this fleet")
        if fault.worker is not None and fault.worker > workers:
            raise FaultError(f"{where}: worker: {fault.worker} but the fleet has {workers}")
        faults.append(fault)
    return faults


def booth_windows(
    faults: list[Fault], origin: datetime, kind: str
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each booth's windows of one kind of booth fault (``uplink_down`` for its transmitter,
    ``printer_out_of_paper`` for its worker), in the session's time."""
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for fault in faults:
        if fault.kind == kind and fault.booth is not None:
            start = origin + timedelta(hours=fault.at)
            windows.setdefault(fault.booth, []).append(
                (start, start + timedelta(hours=fault.hours))
            )
    return windows


def windows_json(
    windows: dict[str, list[tuple[datetime, datetime]]], booths: Iterable[str] | None = None
) -> dict[str, list[list[str]]]:
    """Booth windows as JSON (ISO 8601 pairs), for ``booths`` only when given."""
    return {
        booth: [[start.isoformat(), end.isoformat()] for start, end in spans]
        for booth, spans in windows.items()
        if booths is None or booth in booths
    }


@dataclass
class FaultRunner:
    """Applies the schedule as the session clock passes each start and end, and records it."""

    faults: list[Fault]
    origin: datetime
    fleet: Any
    """The running fleet (its process group, its workers, its admin clients)."""
    record: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    held_down: set[str] = field(default_factory=set)
    """Processes a fault keeps stopped: not a failure of the run."""
    _started: set[int] = field(default_factory=set)
    _ended: set[int] = field(default_factory=set)
    _on: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"collector": {}, "registry": {}}
    )
    """Each service's faults now: its API takes them all at once, so overlapping faults of one
    service (slow and refusing) are sent together."""

    def step(self, now: datetime) -> None:
        for index, fault in enumerate(self.faults):
            start = self.origin + timedelta(hours=fault.at)
            end = start + timedelta(hours=fault.hours)
            if index not in self._started and now >= start:
                self._started.add(index)
                self._apply(fault, start=True)
                self._log(fault, "started", now)
            if index in self._started and index not in self._ended and now >= end:
                self._ended.add(index)
                self._apply(fault, start=False)
                self._log(fault, "ended", now)

    @property
    def started(self) -> set[int]:
        """The faults applied so far (by their place in the schedule)."""
        return self._started

    def resume_at(self, now: datetime) -> None:
        """A resumed run: the record so far is kept, and the faults that had started before the
        stop are over (every service and booth starts afresh); the later ones come on time."""
        try:
            self.events = list(json.loads(self.record.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            self.events = []
        for index, fault in enumerate(self.faults):
            if self.origin + timedelta(hours=fault.at) < now:
                self._started.add(index)
                self._ended.add(index)

    def finish(self, now: datetime) -> None:
        """End every fault still on (the chain must settle), then write the record."""
        for index, fault in enumerate(self.faults):
            if index in self._started and index not in self._ended:
                self._ended.add(index)
                self._apply(fault, start=False)
                self._log(fault, "ended", now)
        self.save()

    def _process(self, fault: Fault) -> Any:
        if fault.kind == "worker_kill":
            assert fault.worker is not None
            return self.fleet.workers[fault.worker - 1]
        return self.fleet.group.get(fault.kind.removesuffix("_kill"))

    def _apply(self, fault: Fault, *, start: bool) -> None:
        kind = fault.kind
        if kind in KILLS:
            process = self._process(fault)
            if start:
                self.held_down.add(process.name)
                process.kill()
            else:
                again = self.fleet.group.restart(process)
                if kind == "worker_kill":
                    assert fault.worker is not None
                    self.fleet.workers[fault.worker - 1] = again
                self.held_down.discard(process.name)
        elif kind not in BOOTH_FAULTS:
            service, knob, value = {
                "collector_down": ("collector", "down", True),
                "collector_slow": ("collector", "extra_latency_ms", fault.ms),
                "collector_corrupt": ("collector", "corrupt_files", True),
                "registry_5xx": ("registry", "p_error_5xx", fault.share),
                "registry_slow": ("registry", "extra_latency_ms", fault.ms),
            }[kind]
            on = self._on[service]
            if start:
                on[knob] = value
            else:
                on.pop(knob, None)
            client = getattr(self.fleet.services, service)
            client.post("/admin/faults", json=on).raise_for_status()
        # A booth's fault: its worker already holds the window (its plan).

    def _log(self, fault: Fault, what: str, now: datetime) -> None:
        self.events.append({"fault": fault.model_dump(exclude_none=True), what: now.isoformat()})
        self.save()

    def save(self) -> None:
        self.record.write_text(json.dumps(self.events, indent=2), encoding="utf-8")
