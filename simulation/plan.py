"""Capacity planning: the smallest registry capacity that meets a target, by monotone search.

More capacity never makes a code wait longer (the FIFO serves each code no later), so whether a
capacity meets a target such as ``p95<=72`` is monotone in the capacity, and a search between a
capacity that misses and one that meets finds the smallest that meets, to the code per hour.
Each step runs the scenario for every seed as Dask tasks (:func:`simulation.sweep.run_figures`),
several candidate capacities at once when the cluster has room, and a capacity meets the target
only if every month of purchase meets it for every seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulation.scenario import Scenario, ScenarioError, parse_scenario
from simulation.sweep import TARGET_FIGURES, run_figures

_TARGET = re.compile(r"^\s*([a-z0-9]+)\s*(<=|<|>=|>)\s*([0-9]+(?:\.[0-9]*)?)\s*$")
LARGEST = 10_000_000.0  # codes per hour: past this the search gives up


class PlanError(ValueError):
    """A plan that cannot be made, in one line naming the option at fault."""


@dataclass(frozen=True)
class Target:
    text: str
    name: str  # p95, share72, ...
    figure: str  # the column of the run's figures
    op: str
    limit: float

    @property
    def lower_is_better(self) -> bool:
        return self.name != "share72"

    def met(self, value: float) -> bool:
        return {
            "<=": value <= self.limit,
            "<": value < self.limit,
            ">=": value >= self.limit,
            ">": value > self.limit,
        }[self.op]

    def worse(self, a: float, b: float) -> bool:
        """True if ``a`` is further from meeting the target than ``b``."""
        return a > b if self.lower_is_better else a < b


def figure_text(target: Target, value: float) -> str:
    """``value`` of the target's figure as the plan prints it (``72.1 h``, ``94.9%``), to the
    tenth, so that it never reads as the opposite of its verdict: a miss of ``p95<=72`` at
    72.04 h is ``72.1 h``, not ``72.0 h``; a pass of ``p95<72`` at 71.96 h is ``71.9 h``."""
    scale, unit = (1.0, " h") if target.lower_is_better else (100.0, "%")

    def tenths(number: float) -> float:
        return round(number * scale * 10, 6)  # no float dust: 0.95 is 950 tenths of a percent

    shown = round(tenths(value))
    if shown == tenths(target.limit):
        met = target.met(value)
        inclusive = target.op in ("<=", ">=")
        if not met and inclusive:  # one tenth further on the side that misses
            shown += 1 if target.lower_is_better else -1
        elif met and not inclusive:  # one tenth further on the side that meets
            shown += -1 if target.lower_is_better else 1
    return f"{shown / 10:.1f}{unit}"


def parse_target(text: str) -> Target:
    """``p95<=72``, ``p99<120``, ``mean<=30``, ``max<=400`` (activation hours) or
    ``share72>=0.95`` (share of numbers active within 72 h)."""
    match = _TARGET.match(text)
    names = ", ".join(TARGET_FIGURES)
    if match is None:
        raise PlanError(f"--target {text!r}: write FIGURE<=LIMIT, e.g. p95<=72 (figures: {names})")
    name, op, limit = match.group(1), match.group(2), float(match.group(3))
    if name not in TARGET_FIGURES:
        raise PlanError(f"--target {text!r}: unknown figure {name!r} (figures: {names})")
    target = Target(text.strip(), name, TARGET_FIGURES[name], op, limit)
    if target.lower_is_better and op not in ("<=", "<"):
        raise PlanError(f"--target {text!r}: {name} is in hours, so the target is {name}<=LIMIT")
    if not target.lower_is_better and op not in (">=", ">"):
        raise PlanError(f"--target {text!r}: share72 is a share, so the target is share72>=LIMIT")
    if not target.lower_is_better and not 0 < limit <= 1:
        raise PlanError(f"--target {text!r}: a share is between 0 and 1")
    return target


@dataclass(frozen=True)
class Verdict:
    """How one capacity plan did across seeds: the worst month and its figure."""

    capacities: dict[str, float]  # "all" or month "MM" -> codes per hour
    meets: bool
    worst: float
    worst_month: str


@dataclass
class PlanResult:
    target: Target
    seeds: list[int]
    capacity: float | None = None  # the flat answer
    by_month: dict[str, float] = field(default_factory=dict)  # the per-month answer
    verdict: Verdict | None = None  # at the answer
    below: float = 0.0  # how much less capacity misses the target (flat search)
    steps: list[Verdict] = field(default_factory=list)

    def to_json(self, scenario: str) -> dict[str, Any]:
        """The answer as a program reads it (``capacity`` null when no capacity meets)."""

        def verdict_json(verdict: Verdict) -> dict[str, Any]:
            return {
                "capacities": verdict.capacities,
                "meets": verdict.meets,
                "worst": verdict.worst,
                "worst_month": verdict.worst_month,
            }

        return {
            "scenario": scenario,
            "target": self.target.text,
            "figure": self.target.name,
            "limit": self.target.limit,
            "seeds": self.seeds,
            "capacity": self.capacity,
            "by_month": self.by_month,
            "below": self.below if self.capacity is not None else None,
            "verdict": verdict_json(self.verdict) if self.verdict is not None else None,
            "steps": [verdict_json(step) for step in self.steps],
            "toml": self.toml_lines() if self.capacity is not None else [],
        }

    def toml_lines(self) -> list[str]:
        if self.by_month:
            months = ", ".join(f'"{m}" = {c:.1f}' for m, c in sorted(self.by_month.items()))
            return ["[registry]", f"capacity_by_month = {{ {months} }}"]
        assert self.capacity is not None
        return ["[registry]", f"capacity_per_hour = {self.capacity:.1f}", "capacity_by_month = {}"]


def scenario_months(scenario: Scenario) -> list[str]:
    from datetime import timedelta

    days = (scenario.run.start + timedelta(days=d) for d in range(scenario.run.days))
    return list(dict.fromkeys(f"{day.month:02d}" for day in days))


def _scenario_data(scenario: Scenario, capacities: dict[str, float], seed: int) -> dict[str, Any]:
    data = scenario.model_dump(mode="json")
    registry = data["registry"]
    if "all" in capacities:
        registry["capacity_per_hour"] = capacities["all"]
        registry["capacity_by_month"] = {}
    else:
        registry["capacity_by_month"] = dict(capacities)
    data["run"]["seed"] = seed
    try:
        parse_scenario(data, "scenario")
    except ScenarioError as exc:  # a capacity the schema refuses: a bug of the search
        raise PlanError(str(exc).splitlines()[-1]) from None
    return data


class Evaluator:
    """Runs capacity plans on a Dask client, all seeds (and several plans) at once."""

    def __init__(self, client: Any, scenario: Scenario, target: Target, seeds: Sequence[int]):
        self.client = client
        self.scenario = scenario
        self.target = target
        self.seeds = list(seeds)
        self._submitted = 0

    def verdicts(self, plans: Sequence[dict[str, float]]) -> list[Verdict]:
        futures = []
        for plan in plans:
            for seed in self.seeds:
                self._submitted += 1
                data = _scenario_data(self.scenario, plan, seed)
                key = f"cabine-plan-{id(self)}-{self._submitted}"
                futures.append(self.client.submit(run_figures, data, key=key, pure=False))
        results = self.client.gather(futures)
        out = []
        for i, plan in enumerate(plans):
            chunk = results[i * len(self.seeds) : (i + 1) * len(self.seeds)]
            worst, worst_month = math.nan, ""
            for figures in chunk:
                for month, values in figures["by_month"].items():
                    value = float(values[self.target.figure])
                    if worst_month == "" or self.target.worse(value, worst):
                        worst, worst_month = value, month
            meets = worst_month == "" or self.target.met(worst)
            out.append(Verdict(dict(plan), meets, worst, worst_month))
        return out


def _search(
    evaluator: Evaluator,
    plan_at: Callable[[float], dict[str, float]],
    low: float,
    high: Verdict,
    high_value: float,
    width: int,
    on_step: Callable[[Verdict], None],
) -> tuple[float, Verdict, float]:
    """Smallest whole capacity in (low, high_value] that meets, knowing ``low`` misses (or is
    0) and ``high_value`` meets: (capacity, its verdict, the largest capacity seen to miss)."""
    best_value, best = high_value, high
    while best_value - low > 1.0:
        span = best_value - low
        count = min(width, int(span) - 1)
        if count < 1:
            break
        candidates = sorted(
            {math.floor(low + span * (i + 1) / (count + 1)) for i in range(count)} - {low}
        )
        candidates = [c for c in candidates if low < c < best_value]
        if not candidates:
            break
        verdicts = evaluator.verdicts([plan_at(c) for c in candidates])
        for verdict in verdicts:
            on_step(verdict)
        for capacity, verdict in zip(candidates, verdicts, strict=True):
            if verdict.meets:
                if capacity < best_value:
                    best_value, best = capacity, verdict
            else:
                low = max(low, capacity)
    return best_value, best, low


def plan_capacity(
    client: Any,
    scenario: Scenario,
    target: Target,
    seeds: Sequence[int],
    per_month: bool = False,
    width: int = 1,
    on_step: Callable[[Verdict], None] = lambda verdict: None,
) -> PlanResult:
    """The smallest flat capacity (and, with ``per_month``, the smallest per month) meeting
    ``target`` in every month for every seed; ``width`` capacities are tried per step."""
    evaluator = Evaluator(client, scenario, target, seeds)
    result = PlanResult(target, list(seeds))

    def step(verdict: Verdict) -> None:  # every step kept in the result, and reported
        result.steps.append(verdict)
        on_step(verdict)

    def flat(capacity: float) -> dict[str, float]:
        return {"all": float(capacity)}

    # A capacity that meets: the scenario's own, doubled until it does.
    # When doubling no longer changes the worst figure, capacity is not what holds it back
    # (the base delay alone can miss a target): the target cannot be met.
    high_value = float(math.ceil(scenario.registry.capacity_per_hour))
    low = 0.0
    previous: Verdict | None = None
    while True:
        (verdict,) = evaluator.verdicts([flat(high_value)])
        step(verdict)
        if verdict.meets:
            break
        low = high_value
        # Less than 0.1 % better for twice the capacity.
        stuck = previous is not None and abs(verdict.worst - previous.worst) <= 1e-3 * abs(
            previous.worst
        )
        if high_value >= LARGEST or stuck:
            result.verdict = verdict
            return result
        previous = verdict
        high_value = min(LARGEST, high_value * 2)
    capacity, verdict, low = _search(evaluator, flat, low, verdict, high_value, width, step)
    result.capacity, result.verdict, result.below = capacity, verdict, capacity - low
    if not per_month:
        return result

    # Month by month in calendar order: a month's capacity also serves earlier months' backlog,
    # so every step checks every month, the later ones still at the flat answer.
    months = scenario_months(scenario)
    plan = {month: capacity for month in months}
    for month in months:

        def with_month(value: float, month: str = month) -> dict[str, float]:
            return {**plan, month: float(value)}

        value, verdict, _ = _search(evaluator, with_month, 0.0, verdict, plan[month], width, step)
        plan[month] = value
    result.by_month, result.verdict = plan, verdict
    return result
