"""Parameter sweeps: many runs of one scenario over parameters and seeds, as Dask tasks.

A sweep file names a base scenario, the scenario keys to vary (by dotted path, a list of values
each; several keys make a grid, or are paired with ``combine = "zip"``) and the seeds. Each
(parameters, seed) is one run, one task on a Dask cluster, one row of ``results.csv`` in the
output folder, appended and synced as soon as the run finishes. The table is the truth: a sweep
started again skips the runs it holds, so an interrupted sweep resumes where it stopped.

The task is :func:`run_figures`, a pure function of the scenario: the same seed gives the same
row on any worker of any machine.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import json
import math
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from ephoto import __version__
from simulation.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

RESULTS = "results.csv"

# The figures of a run kept in the table, in column order; all are numbers.
FIGURES = (
    "codes_issued",
    "share_active_within_72h",
    "activation_mean_hours",
    "activation_p50_hours",
    "activation_p95_hours",
    "activation_p99_hours",
    "activation_max_hours",
    "registry_wait_mean_hours",
    "backlog_max",
    "reports",
    "refunds",
)
# Figures a capacity target can name, per month or over the run (hours, or a share).
TARGET_FIGURES = {
    "mean": "activation_mean_hours",
    "p50": "activation_p50_hours",
    "p95": "activation_p95_hours",
    "p99": "activation_p99_hours",
    "max": "activation_max_hours",
    "share72": "share_active_within_72h",
}


class SweepError(ValueError):
    """A sweep that cannot run, in one line naming the key at fault."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its parameters' values, its seed and the scenario they make."""

    key: str
    params: dict[str, Any]
    seed: int
    scenario: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    name: str
    base: Scenario
    parameters: list[str]
    runs: list[RunSpec]
    seeds: list[int] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return ["run", *self.parameters, "seed", *FIGURES, "run_seconds", "cabine_version"]


# --- the sweep file -------------------------------------------------------------------------

_TOP_KEYS = {"scenario", "seeds", "vary", "combine", "name"}


def _field_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    annotation = model.model_fields[name].annotation
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _check_path(path: str) -> list[str]:
    """The parts of a scenario key, or SweepError if the scenario has no such value."""
    parts = path.split(".")
    model: type[BaseModel] = Scenario
    for i, part in enumerate(parts):
        if part not in model.model_fields:
            raise SweepError(f"vary.{path}: not a scenario key ({'.'.join(parts[: i + 1])})")
        inner = _field_model(model, part)
        if inner is not None:
            model = inner
            continue
        rest = parts[i + 1 :]
        is_table = str(model.model_fields[part].annotation).startswith("dict")
        if not rest or (is_table and len(rest) == 1):  # a value, or one entry of a table
            return parts
        raise SweepError(f"vary.{path}: not a scenario key ({'.'.join(parts[: i + 2])})")
    raise SweepError(f"vary.{path}: names a section, not a value")


def _set_path(data: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _one_line(error: ScenarioError) -> str:
    return "; ".join(line for line in str(error).splitlines()[1:] if line) or str(error)


def run_key(params: dict[str, Any], seed: int) -> str:
    """A run's name in the table: the same parameters and seed always give the same key."""
    text = json.dumps({"params": params, "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_sweep(data: dict[str, Any], source: str, base_dir: Path) -> Sweep:
    for key in data:
        if key not in _TOP_KEYS:
            raise SweepError(f"{source}: {key}: unknown key (expected one of {sorted(_TOP_KEYS)})")
    if "scenario" not in data:
        raise SweepError(f"{source}: scenario: missing (a bundled name or a path)")
    name = data["scenario"]
    if not isinstance(name, str) or not name:
        raise SweepError(f"{source}: scenario: must be a bundled name or a path, got {name!r}")
    path = base_dir / name
    try:
        base = load_scenario(path if path.exists() else name)
    except ScenarioError as exc:
        raise SweepError(f"{source}: scenario: {_one_line(exc)}") from None

    seeds_value = data.get("seeds", 1)
    if isinstance(seeds_value, bool) or not isinstance(seeds_value, int | list):
        raise SweepError(f"{source}: seeds: a count or a list of seeds, got {seeds_value!r}")
    if isinstance(seeds_value, int):
        if not 1 <= seeds_value <= 10_000:
            raise SweepError(f"{source}: seeds: must be 1 to 10000, got {seeds_value}")
        seeds = [base.run.seed + i for i in range(seeds_value)]
    else:
        if not seeds_value or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds_value
        ):
            raise SweepError(f"{source}: seeds: a list of seeds must hold integers >= 0")
        if len(set(seeds_value)) != len(seeds_value):
            raise SweepError(f"{source}: seeds: a seed appears twice")
        seeds = list(seeds_value)

    combine = data.get("combine", "grid")
    if combine not in ("grid", "zip"):
        raise SweepError(f'{source}: combine: must be "grid" or "zip", got {combine!r}')
    vary = data.get("vary", {})
    if not isinstance(vary, dict):
        raise SweepError(f"{source}: vary: must be a table of key = [values]")
    parameters, value_lists, paths = [], [], []
    for key, values in vary.items():
        if key == "run.seed":
            raise SweepError(f"{source}: vary.run.seed: give the seeds with seeds = N or a list")
        if isinstance(values, dict):
            raise SweepError(
                f'{source}: vary.{key}: a section; quote the dotted key ("{key}.NAME" = [...])'
            )
        if not isinstance(values, list) or not values:
            raise SweepError(f"{source}: vary.{key}: must be a non-empty list of values")
        try:
            paths.append(_check_path(key))
        except SweepError as exc:
            raise SweepError(f"{source}: {exc}") from None
        parameters.append(key)
        value_lists.append(values)
    if combine == "zip" and len({len(v) for v in value_lists}) > 1:
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in zip(parameters, value_lists, strict=True))
        raise SweepError(f'{source}: vary: combine = "zip" needs lists of one length ({sizes})')
    points: Iterable[tuple[Any, ...]] = (
        zip(*value_lists, strict=True) if combine == "zip" else itertools.product(*value_lists)
    )

    base_data = base.model_dump(mode="json")
    runs = []
    for point in points:
        params = dict(zip(parameters, point, strict=True))
        data_point = copy.deepcopy(base_data)
        for parts, value in zip(paths, point, strict=True):
            _set_path(data_point, parts, value)
        try:
            scenario = parse_scenario(data_point, "scenario")
        except ScenarioError as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
            raise SweepError(f"{source}: vary ({shown}): {_one_line(exc)}") from None
        for seed in seeds:
            runs.append(
                RunSpec(
                    run_key(params, seed),
                    params,
                    seed,
                    scenario.with_seed(seed).model_dump(mode="json"),
                )
            )
    if len({run.key for run in runs}) != len(runs):
        raise SweepError(f"{source}: vary: a combination of values appears twice")
    sweep_name = data.get("name", Path(source).stem)
    if not isinstance(sweep_name, str):
        raise SweepError(f"{source}: name: must be text")
    return Sweep(sweep_name, base, parameters, runs, seeds)


SWEEP_DIR = Path(__file__).resolve().parent / "sweeps"
"""The bundled example sweeps (``cabine sweep --example``), run by name like a file."""
DEFAULT_EXAMPLE = "capacity"


def bundled_sweeps() -> list[str]:
    return sorted(path.stem for path in SWEEP_DIR.glob("*.toml"))


def bundled_sweep_path(name: str) -> Path | None:
    path = SWEEP_DIR / f"{name}.toml"
    return path if path.is_file() else None


def load_sweep(path: str | Path) -> Sweep:
    """A sweep from a TOML file, or a bundled example by name (``capacity``)."""
    path = Path(path)
    if not path.exists():
        path = bundled_sweep_path(path.name) or path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        bundled = ", ".join(bundled_sweeps())
        raise SweepError(
            f"sweep file {path} does not exist; bundled sweeps: {bundled} (cabine sweep --example)"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path}: not valid TOML: {exc}") from None
    return parse_sweep(data, str(path), path.resolve().parent)


# --- one run: the task a worker executes ----------------------------------------------------


def run_figures(scenario_data: dict[str, Any]) -> dict[str, Any]:
    """Simulate one scenario and return its figures: :data:`FIGURES` over the run, the same per
    month of purchase under ``by_month``, and ``run_seconds``, the time the run took here."""
    from simulation.fleet import PROMISE_HOURS, simulate

    started = time.perf_counter()
    scenario = parse_scenario(scenario_data, "scenario")
    run = simulate(scenario)
    activation = run.activation_hours
    figures: dict[str, Any] = {
        "codes_issued": int(activation.size),
        **_activation_figures(activation, PROMISE_HOURS),
        "registry_wait_mean_hours": float(run.registry_wait_hours.mean())
        if activation.size
        else 0.0,
        "backlog_max": int(run.backlog_max),
        "reports": int(run.reports),
        "refunds": int(run.claims.get("refund", 0)),
    }
    # Months of purchase as YYYY-MM (a two-year run has two Junes).
    day_months = [
        f"{(scenario.run.start + timedelta(days=d)):%Y-%m}" for d in range(scenario.run.days)
    ]
    labels = sorted(set(day_months))
    month_index = np.array([labels.index(m) for m in day_months], dtype=np.int64)[run.day]
    by_month: dict[str, dict[str, float]] = {}
    for i, month in enumerate(labels):
        chosen = activation[month_index == i]
        if chosen.size:
            by_month[month] = _activation_figures(chosen, PROMISE_HOURS)
    figures["by_month"] = by_month
    figures["run_seconds"] = time.perf_counter() - started
    return figures


def _activation_figures(activation: np.ndarray, promise_hours: float) -> dict[str, float]:
    if activation.size == 0:
        return {name: 0.0 for name in TARGET_FIGURES.values()} | {"share_active_within_72h": 1.0}
    p50, p95, p99 = np.percentile(activation, [50, 95, 99])
    return {
        "share_active_within_72h": float((activation <= promise_hours).mean()),
        "activation_mean_hours": float(activation.mean()),
        "activation_p50_hours": float(p50),
        "activation_p95_hours": float(p95),
        "activation_p99_hours": float(p99),
        "activation_max_hours": float(activation.max()),
    }


# --- the table ------------------------------------------------------------------------------


class ResultTable:
    """``results.csv``: one row per finished run, appended and synced to disk as it comes.

    A row cut short by a crash (no final newline) is dropped on opening; a run is written at
    most once, whatever the cluster does (a task run twice after a worker died is kept once).
    """

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.rows: dict[str, dict[str, str]] = {}
        if path.exists():
            self._read_existing()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_text(_csv_line(columns))

    def _read_existing(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
            self._write_text(text, replace=True)
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None:
            self._write_text(_csv_line(self.columns), replace=True)
            return
        if header != self.columns and header == [c for c in self.columns if c != "cabine_version"]:
            raise SweepError(
                f"{self.path}: written by an older cabine (no cabine_version column); "
                "use another --out"
            )
        if header != self.columns:
            raise SweepError(
                f"{self.path}: written by another sweep (its columns differ); use another --out"
            )
        for values in reader:
            if len(values) == len(self.columns):
                row = dict(zip(self.columns, values, strict=True))
                self.rows.setdefault(row["run"], row)

    def _write_text(self, text: str, replace: bool = False) -> None:
        if replace:
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        else:
            with open(self.path, "a", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def append(self, row: dict[str, Any]) -> bool:
        """Write ``row`` unless its run is already in the table; True if written."""
        key = str(row["run"])
        if key in self.rows:
            return False
        values = [_cell(row.get(column, "")) for column in self.columns]
        self._write_text(_csv_line(values))
        self.rows[key] = dict(zip(self.columns, values, strict=True))
        return True


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def read_results(out: Path) -> list[dict[str, Any]]:
    """The rows of ``out/results.csv`` with numbers parsed, sorted by parameters and seed."""
    path = out / RESULTS
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [_parse_row(row) for row in reader]
        columns = list(reader.fieldnames or [])
    parameters = columns[1 : columns.index("seed")] if "seed" in columns else []
    return sorted(
        rows, key=lambda row: ([_sort_value(row[p]) for p in parameters], row.get("seed", 0))
    )


def _parse_row(row: dict[str, str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, value in row.items():
        if key == "run":
            parsed[key] = value
            continue
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


# --- running on Dask ------------------------------------------------------------------------


def table_row(spec: RunSpec, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": spec.key,
        **{name: json.dumps(value) for name, value in spec.params.items()},
        "seed": spec.seed,
        **{name: figures[name] for name in FIGURES},
        "run_seconds": round(float(figures["run_seconds"]), 6),
        # Each row says which cabine made it: a resumed sweep can mix versions.
        "cabine_version": __version__,
    }


@dataclass
class SweepOutcome:
    written: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def run_sweep(
    sweep: Sweep,
    out: Path,
    client: Any,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> SweepOutcome:
    """Run every run of ``sweep`` not yet in ``out/results.csv`` on the Dask ``client``, each
    row written as its run finishes."""
    from dask.distributed import as_completed

    table = ResultTable(out / RESULTS, sweep.columns)
    outcome = SweepOutcome(skipped=sum(1 for run in sweep.runs if run.key in table))
    todo = {f"cabine-run-{run.key}": run for run in sweep.runs if run.key not in table}
    if not todo:
        return outcome
    futures = [
        client.submit(run_figures, spec.scenario, key=key, pure=False) for key, spec in todo.items()
    ]
    for future in as_completed(futures):
        spec = todo[future.key]
        if future.status != "finished":
            outcome.failed[spec.key] = _error_line(future)
            continue
        row = table_row(spec, future.result())
        if table.append(row):
            outcome.written += 1
            if on_row is not None:
                on_row(row)
        future.release()
    return outcome


def _error_line(future: Any) -> str:
    try:
        error = future.exception(timeout=5)
    except Exception as exc:  # the error itself could not be fetched
        return f"{type(exc).__name__}: {exc}"
    return f"{type(error).__name__}: {error}".splitlines()[0]


# --- reading a sweep: means and 95 % confidence bands across seeds ---------------------------

# Student's t at 0.975 for 1 to 30 degrees of freedom.
_T975 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
    2.364624252, 2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
    2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
    2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
    2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
)  # fmt: skip


def t975(dof: int) -> float:
    """The 97.5th percentile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        return math.nan
    if dof <= len(_T975):
        return _T975[dof - 1]
    # Cornish-Fisher expansion around the normal quantile; error below 1e-5 past 30.
    z = 1.959963984540054
    return (
        z
        + (z**3 + z) / (4 * dof)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3)
    )


@dataclass(frozen=True)
class Estimate:
    mean: float
    half_width: float  # of the 95 % confidence interval; NaN with a single seed
    seeds: int


def estimate(values: Sequence[float]) -> Estimate:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return Estimate(math.nan, math.nan, 0)
    if array.size == 1:
        return Estimate(float(array[0]), math.nan, 1)
    sd = float(array.std(ddof=1))
    return Estimate(
        float(array.mean()), t975(array.size - 1) * sd / math.sqrt(array.size), array.size
    )


def group_estimates(
    rows: Sequence[dict[str, Any]], parameters: Sequence[str], figures: Sequence[str] = FIGURES
) -> list[tuple[dict[str, Any], dict[str, Estimate]]]:
    """Rows grouped by their parameters' values (across seeds), each figure estimated."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for row in rows:
        params = {name: row[name] for name in parameters}
        groups.setdefault(json.dumps(params, sort_keys=True), (params, []))[1].append(row)
    ordered = sorted(
        groups.values(), key=lambda item: [_sort_value(item[0][p]) for p in parameters]
    )
    return [
        (params, {name: estimate([float(r[name]) for r in members]) for name in figures})
        for params, members in ordered
    ]


def _sort_value(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, json.dumps(value))
