"""The simulator replayed on a live fleet's own sales (trace-driven), and the live run's
stages, number by number, for ``cabine fleet compare``.

The trace is the run's record (``numbers.csv``): each number's issue time and booth, with the
booths' outage windows of the fault schedule (``run.json``). The model then takes the
simulator's own rules, the same functions ``cabine simulate`` runs: the booth's batch window
and outages (``simulation.booths.departure_hours``), the upload (``uploaded_hours``; the live
booths upload over loopback, so at an unlimited uplink), the collector's registration window,
the state's FIFO at its capacity (``registry.ingestion.processing_times``) and the base delay
drawn from the registry's model. Instead of drawing the sales, it takes the live ones.

Stages, in hours, for live and model alike:

- ``booth``: issue to receipt at the collector;
- ``collector``: receipt at the collector to registration at the state;
- ``state``: registration to activation (the state's queue and its base delay);
- ``activation``: issue to activation, the FAQ's "up to 72 h".

Where the model is deterministic given the trace, the live run is compared number by number:
``queue`` is the state's processing end the model gives for the live arrivals, against the one
the live registry recorded.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from simulation.scenario import Scenario, parse_scenario

STAGES = ("booth", "collector", "state", "activation")
MODEL_DRAWS = 20
"""The model's base delays are drawn this many times per number: its distribution, not one
sample of it, is what the live run is held against."""


def _hours(text: str, origin: datetime) -> float:
    if not text:
        return float("nan")
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (at - origin).total_seconds() / 3600


@dataclass(frozen=True)
class Trace:
    """A live run's numbers (hours after the scenario's origin, NaN where a step never
    happened) and the facts of the run the model needs."""

    scenario: Scenario
    booths: tuple[str, ...]
    booth: np.ndarray
    issued: np.ndarray
    received: np.ndarray
    registered: np.ndarray
    processing_end: np.ndarray
    active: np.ndarray
    outages: dict[str, list[tuple[float, float]]]
    tick_hours: float
    scale: float


def read_trace(run_dir: Path) -> Trace:
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    scenario = parse_scenario(run["resolved_scenario"], f"{run_dir}/run.json")
    origin = scenario.origin
    booths = tuple(run["booths"])
    index = {b: i for i, b in enumerate(booths)}
    with (run_dir / "numbers.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: r["issued_at"])

    def column(name: str) -> np.ndarray:
        return np.array([_hours(r[name], origin) for r in rows], dtype=float)

    outages = {
        booth: [(_hours(a, origin), _hours(b, origin)) for a, b in windows]
        for booth, windows in run.get("uplink_outages", {}).items()
    }
    return Trace(
        scenario=scenario,
        booths=booths,
        booth=np.array([index[r["booth"]] for r in rows], dtype=np.int64),
        issued=column("issued_at"),
        received=column("collector_received_at"),
        registered=column("registered_at"),
        processing_end=column("processing_end"),
        active=column("active_at"),
        outages=outages,
        tick_hours=float(run.get("tick_seconds", 0.0)) / 3600,
        scale=float(run["scale"]),
    )


def live_stages(trace: Trace) -> dict[str, np.ndarray]:
    return {
        "booth": trace.received - trace.issued,
        "collector": trace.registered - trace.received,
        "state": trace.active - trace.registered,
        "activation": trace.active - trace.issued,
    }


def model_times(
    trace: Trace, overrides: dict[str, Any] | None = None, seed: int = 0, draws: int = MODEL_DRAWS
) -> dict[str, np.ndarray]:
    """The simulator's times (hours after the origin) for the live sales: ``uploaded``,
    ``registered`` and ``processing_end`` per number, ``active`` ``draws`` times per number
    (the base delay drawn each time, number by number in a row). ``overrides`` change the
    model's scenario (``{"booth": {"batch_window_minutes": 30}}``), for a model known to be
    wrong."""
    from registry.ingestion import capacity_schedule, processing_times
    from simulation.booths import departure_hours, merge_outages

    scenario = _overridden(trace.scenario, overrides or {})
    window = scenario.booth.batch_window_minutes / 60
    ready = trace.issued + window
    starts, ends, owners = [], [], []
    for booth, windows in trace.outages.items():
        for start, end in windows:
            owners.append(trace.booths.index(booth))
            starts.append(start)
            ends.append(end)
    merged = merge_outages(
        np.array(owners, dtype=np.int64), np.array(starts, dtype=float), np.array(ends, dtype=float)
    )
    departed = departure_hours(ready, trace.booth, merged)
    uploaded = departed  # the live booths upload over loopback: no uplink time
    registered = uploaded + scenario.collector.registration_window_minutes / 60
    order = np.argsort(registered, kind="stable")
    model = scenario.registry.ingestion_model()
    schedule = capacity_schedule(
        model.capacity, scenario.origin, scenario.end + timedelta(days=800)
    )
    _, processed = processing_times(registered[order], schedule)
    processing_end = np.empty_like(processed)
    processing_end[order] = processed
    rng = np.random.default_rng(seed)
    delays = model.base_delay.sample_hours(rng, processing_end.size * draws)
    return {
        "uploaded": uploaded,
        "registered": registered,
        "processing_end": processing_end,
        "active": np.repeat(processing_end, draws) + delays,
    }


def model_stages(
    trace: Trace, overrides: dict[str, Any] | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """The simulator's stages for the live sales (see :func:`model_times`)."""
    times = model_times(trace, overrides, seed)
    uploaded, registered, active = times["uploaded"], times["registered"], times["active"]
    return {
        "booth": uploaded - trace.issued,
        "collector": registered - uploaded,
        "state": active - np.repeat(registered, MODEL_DRAWS),
        "activation": active - np.repeat(trace.issued, MODEL_DRAWS),
    }


REPLAY_FILE = "replay.csv"
REPLAY_COLUMNS = (
    "code",
    "booth",
    "issued_at",
    "collector_received_at",
    "registered_at",
    "processing_end",
    "active_at",
)


class ReplayError(ValueError):
    """A replay source that is not a live fleet's record."""


def run_folder(source: Path) -> Path:
    """The run folder of ``source`` (the folder itself, or its ``numbers.csv``)."""
    folder = source.parent if source.name == "numbers.csv" else source
    for needed in ("run.json", "numbers.csv"):
        if not (folder / needed).is_file():
            raise ReplayError(
                f"{source}: not a live fleet's record (no {needed}; `cabine fleet run` makes one)"
            )
    return folder


def replay(source: Path, out: Path, seed: int = 0) -> dict[str, Any]:
    """The model on a live run's sales: ``replay.csv`` in ``out`` (each number's times as the
    model gives them, one draw of the base delay, seeded) and the model's stage figures
    (hours: mean, p50, p95, p99), returned."""
    folder = run_folder(source)
    trace = read_trace(folder)
    times = model_times(trace, seed=seed, draws=1)
    origin = trace.scenario.origin
    with (folder / "numbers.csv").open(newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: r["issued_at"])

    def when(hours: float) -> str:
        return (origin + timedelta(hours=float(hours))).isoformat() if np.isfinite(hours) else ""

    out.mkdir(parents=True, exist_ok=True)
    with (out / REPLAY_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPLAY_COLUMNS)
        for i, row in enumerate(rows):
            writer.writerow(
                [
                    row["code"],
                    row["booth"],
                    row["issued_at"],
                    when(times["uploaded"][i]),
                    when(times["registered"][i]),
                    when(times["processing_end"][i]),
                    when(times["active"][i]),
                ]
            )
    stages = {
        "booth": times["uploaded"] - trace.issued,
        "collector": times["registered"] - times["uploaded"],
        "state": times["active"] - times["registered"],
        "activation": times["active"] - trace.issued,
    }
    figures = {
        stage: {
            "mean": float(np.mean(values)),
            **{f"p{q}": float(np.percentile(values, q)) for q in (50, 95, 99)},
        }
        for stage, values in stages.items()
        if values.size
    }
    return {"numbers": len(rows), "file": str(out / REPLAY_FILE), "stages_hours": figures}


def queue_given_arrivals(trace: Trace) -> np.ndarray:
    """Live minus model processing end (hours) of each number, the model fed the live
    registry's own arrivals: the state's queue checked number by number."""
    from registry.ingestion import capacity_schedule, processing_times

    known = np.isfinite(trace.registered) & np.isfinite(trace.processing_end)
    arrivals = trace.registered[known]
    order = np.argsort(arrivals, kind="stable")
    model = trace.scenario.registry.ingestion_model()
    schedule = capacity_schedule(
        model.capacity, trace.scenario.origin, trace.scenario.end + timedelta(days=800)
    )
    _, processed = processing_times(arrivals[order], schedule)
    predicted = np.empty_like(processed)
    predicted[order] = processed
    return np.asarray(trace.processing_end[known] - predicted)


def _overridden(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    data = scenario.model_dump(mode="json")
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return parse_scenario(data, "the model's overrides")
