"""Speed of the fleet simulator: the national summer end to end, beside its floor and SimPy.

The floor: ``cabine simulate SCENARIO --no-plots`` as a whole process (interpreter start,
imports, every stage, metrics, report) against a bare numpy core of the same model as a whole
process: Poisson sales per booth per day by season and hourly profile, one sort, the FIFO as a
cumulative maximum at the registry's capacity, the lognormal base delay and the percentiles,
nothing else (goal: within 2x). The plots have a budget of their own: ``cabine simulate`` with
its three plots within 0.5 s of the run without them (``bench/report.py`` measures the
plotting library alone). The processes take turns, ``--repeat`` times each; the median of each
is compared.

The SimPy model is the straightforward way to write the same scenario: one process per booth
selling through the day, one process per code waiting for its batch window, the registry as a
resource serving one code at a time at the month's capacity, then the base delay. It runs on a
tenth of the fleet (with a tenth of the registry's capacity, so the load is the same) and its
codes per second are extrapolated to the whole fleet, in this process.

Run: .venv/bin/python bench/simulate.py [SCENARIO] [--repeat 3] [--fraction 0.1] [--no-simpy]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# Scripts here are named after what they measure (bench/registry.py): drop this folder from the
# import path so they do not shadow the packages of the same name.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from simulation.fleet import PROMISE_HOURS, simulate  # noqa: E402
from simulation.scenario import Scenario, load_scenario  # noqa: E402


def simpy_model(scenario: Scenario, seed: int) -> tuple[int, float, float]:
    """(codes, share active within 72 h, p95 activation hours) of the SimPy model."""
    import simpy  # the comparison's yardstick, installed with the test extra

    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    registry = simpy.Resource(env, capacity=1)
    model = scenario.registry.ingestion_model()
    origin = scenario.origin
    window = scenario.booth.batch_window_minutes / 60
    weights = np.zeros(24)
    for hour, weight in scenario.demand.hourly_profile.items():
        weights[int(hour)] = weight
    weights /= weights.sum()
    delays: list[float] = []

    def code(issued: float):
        yield env.timeout(window)
        with registry.request() as turn:
            yield turn
            capacity = model.capacity.at(origin + timedelta(hours=env.now))
            yield env.timeout(1.0 / capacity)
        yield env.timeout(float(model.base_delay.sample_hours(rng, 1)[0]))
        delays.append(env.now - issued)

    def booth():
        for day in range(scenario.run.days):
            date = scenario.run.start + timedelta(days=day)
            mean = scenario.demand.ephoto_per_booth_day * scenario.demand.season_factor(date.month)
            sales = np.sort(day * 24 + rng.choice(24, rng.poisson(mean), p=weights) + rng.random())
            for at in sales:
                yield env.timeout(max(0.0, at - env.now))
                env.process(code(env.now))
            yield env.timeout(max(0.0, (day + 1) * 24 - env.now))

    for _ in range(scenario.fleet.booths):
        env.process(booth())
    env.run()
    values = np.array(delays)
    return values.size, float((values <= PROMISE_HOURS).mean()), float(np.percentile(values, 95))


# The bare core, run as its own process with ``python -c``: numpy and nothing of cabine.
BARE_CORE = """
import json, sys
import numpy as np
p = json.loads(sys.argv[1])
rng = np.random.default_rng(p["seed"])
season = np.array(p["season_by_day"])
counts = rng.poisson(p["per_booth_day"] * season[:, None], (season.size, p["booths"]))
n = int(counts.sum())
day = np.repeat(np.arange(season.size), counts.sum(axis=1))
weights = np.array(p["hourly"])
issued = day * 24.0 + rng.choice(24, size=n, p=weights / weights.sum()) + rng.random(n)
issued.sort()
arrivals = issued + p["window_hours"]
service = 1.0 / p["capacity"]
slots = np.arange(n) * service
ends = np.maximum.accumulate(arrivals - slots) + slots + service
active = ends + rng.lognormal(np.log(p["median"]), p["sigma"], n)
activation = active - issued
print(n, np.percentile(activation, [50, 95, 99]).round(1).tolist())
"""


def core_parameters(scenario: Scenario) -> dict:
    """The bare core's inputs, read from the scenario (constant capacity only)."""
    if scenario.registry.capacity_by_month:
        raise SystemExit("the bare core models a constant registry capacity")
    days = [scenario.run.start + timedelta(days=d) for d in range(scenario.run.days)]
    hourly = [0.0] * 24
    for hour, weight in scenario.demand.hourly_profile.items():
        hourly[int(hour)] = weight
    model = scenario.registry.ingestion_model()
    return {
        "seed": scenario.run.seed,
        "booths": scenario.fleet.booths,
        "per_booth_day": scenario.demand.ephoto_per_booth_day,
        "season_by_day": [scenario.demand.season_factor(d.month) for d in days],
        "hourly": hourly,
        # The booth's batch window and the collector's registration window: both fixed.
        "window_hours": (
            scenario.booth.batch_window_minutes + scenario.collector.registration_window_minutes
        )
        / 60,
        "capacity": scenario.registry.capacity_per_hour,
        "median": model.base_delay.median_hours,
        "sigma": model.base_delay.sigma,
    }


def timed_process(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def floor_comparison(scenario_arg: str, scenario: Scenario, repeat: int) -> None:
    cabine = str(Path(sys.executable).with_name("cabine"))
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "bare numpy core": [
                sys.executable,
                "-c",
                BARE_CORE,
                json.dumps(core_parameters(scenario)),
            ],
            "cabine simulate": [cabine, "simulate", scenario_arg, "--out", out, "--force"],
            "cabine simulate --no-plots": [
                cabine,
                "simulate",
                scenario_arg,
                "--out",
                out,
                "--no-plots",
                "--force",
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):
            for name, command in commands.items():
                times[name].append(timed_process(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    core = median["bare numpy core"]
    print(f"whole processes, median of {repeat} (load average {os.getloadavg()[0]:.1f}):")
    # The speed goal is the simulator's, without plots; the plots have a budget of their own.
    goals = {
        "cabine simulate --no-plots": (
            f" = {median['cabine simulate --no-plots'] / core:.2f}x the core (goal <= 2x)"
        ),
        "cabine simulate": (
            f" = {median['cabine simulate'] - median['cabine simulate --no-plots']:+.2f} s for"
            " the three plots beyond the run (goal <= 0.5 s)"
        ),
    }
    for name, seconds in median.items():
        spread = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"  {name}: {seconds:.2f} s ({spread}){goals.get(name, '')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="national-summer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--no-simpy", action="store_true", help="Skip the SimPy comparison.")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    floor_comparison(args.scenario, scenario, args.repeat)
    if args.no_simpy:
        return
    try:
        import simpy  # noqa: F401
    except ImportError:
        print("SimPy comparison skipped: simpy is not installed (pip install -e '.[test]')")
        return

    simulate(scenario.model_copy(update={"run": scenario.run.model_copy(update={"days": 2})}))
    started = time.perf_counter()
    run = simulate(scenario)
    ours_wall = time.perf_counter() - started
    ours_codes = run.issued_hours.size
    ours_rate = ours_codes / ours_wall
    activation = run.activation_hours

    part = scenario.model_copy(
        update={
            "fleet": scenario.fleet.model_copy(
                update={"booths": max(1, round(scenario.fleet.booths * args.fraction))}
            ),
            "registry": scenario.registry.model_copy(
                update={
                    "capacity_per_hour": scenario.registry.capacity_per_hour * args.fraction,
                    "capacity_by_month": {
                        k: v * args.fraction for k, v in scenario.registry.capacity_by_month.items()
                    },
                }
            ),
        }
    )
    started = time.perf_counter()
    simpy_codes, simpy_share, simpy_p95 = simpy_model(part, scenario.run.seed)
    simpy_wall = time.perf_counter() - started
    simpy_rate = simpy_codes / simpy_wall

    print(f"scenario: {scenario.name} ({scenario.fleet.booths} booths, {scenario.run.days} days)")
    print(
        f"cabine simulator: {ours_codes:,} codes in {ours_wall:.2f} s = {ours_rate:,.0f} codes/s"
        f" (goal < 30 s); p95 activation {np.percentile(activation, 95):.1f} h,"
        f" {np.mean(activation <= PROMISE_HOURS):.1%} within 72 h"
    )
    print(
        f"SimPy model, {part.fleet.booths} booths: {simpy_codes:,} codes in {simpy_wall:.2f} s"
        f" = {simpy_rate:,.0f} codes/s; p95 activation {simpy_p95:.1f} h,"
        f" {simpy_share:.1%} within 72 h"
    )
    print(
        f"SimPy extrapolated to the whole fleet: {ours_codes / simpy_rate:.0f} s;"
        f" speed ratio {ours_rate / simpy_rate:.1f}x (goal >= 10x)"
    )


if __name__ == "__main__":
    main()
