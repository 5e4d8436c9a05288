"""The record of what was run, kept with every simulation's results so that a run can be told
apart from another and made again: cabine's version, the command line, the seeds and the
scenario as the simulator saw it (every parameter, defaults included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ephoto import __version__
from simulation.scenario import Scenario

RECORD_FILE = "record.json"
"""A sweep's record, beside its ``results.csv`` (a table has no room for a nested record)."""

MIN_SEEDS = 5
"""Fewer seeds than this and a 95 % band across seeds says little: with 2 seeds Student's t
is 12.7, with 3 it is 4.3, with 5 it is 2.8 (near the 1.96 of many seeds)."""


def run_record(
    scenario: Scenario,
    seeds: list[int],
    command_line: str,
    parameters: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    """The record of one run or of a sweep: ``scenario`` resolved (every key, defaults
    included; a sweep's base scenario, before ``parameters`` vary it)."""
    record: dict[str, Any] = {
        "cabine_version": __version__,
        "command_line": command_line,
        "seeds": list(seeds),
        "scenario": scenario.model_dump(mode="json"),
    }
    if parameters is not None:
        record["parameters"] = parameters
    return record


def write_record(record: dict[str, Any], out: Path) -> Path:
    path = out / RECORD_FILE
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_record(out: Path) -> dict[str, Any] | None:
    """A sweep's record in ``out``, or None for a table written before records were kept."""
    path = out / RECORD_FILE
    if not path.is_file():
        return None
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else None
