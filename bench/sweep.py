"""Speed of cabine sweep on Dask: 2 worker processes against 1, and the scheduling overhead.

The same sweep (a mid-sized scenario, several parameter values and seeds) runs on a LocalCluster
of one single-threaded worker process, then of two, each writing its table as ``cabine sweep``
does. Before the clock starts, each cluster is up and each worker has run one small task (the
simulator's imports); the cluster start and that warm-up are printed apart.

- speed-up: wall time with 1 worker / wall time with 2 (goal >= 1.7x on a 2-core machine);
- overhead per run: (wall time with 1 worker - the runs' own time, measured inside each task)
  / runs, as a share of a run's own mean time (goal < 5 %).

Run: .venv/bin/python bench/sweep.py [--runs-per-seed 4] [--seeds 3] [--booths 1000] [--days 92]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Scripts here are named after what they measure: drop this folder from the import path so they
# do not shadow the packages of the same name.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from simulation.cluster import dask_client  # noqa: E402
from simulation.sweep import Sweep, parse_sweep, read_results, run_figures, run_sweep  # noqa: E402


def bench_sweep(folder: Path, values: int, seeds: int, booths: int, days: int) -> Sweep:
    scenario = folder / "bench.toml"
    scenario.write_text(
        f'name = "bench"\n[run]\nseed = 1\nstart = 2026-09-01\ndays = {days}\n'
        f"[fleet]\nbooths = {booths}\n[registry]\ncapacity_per_hour = {booths * 15 * 1.2 / 24}\n",
        encoding="utf-8",
    )
    capacities = [round(booths * 15 / 24 * (1.0 + 0.1 * i), 1) for i in range(values)]
    data = {
        "scenario": "bench.toml",
        "seeds": seeds,
        "vary": {"registry.capacity_per_hour": capacities},
    }
    return parse_sweep(data, "bench-sweep.toml", folder)


def timed_sweep(sweep: Sweep, workers: int, folder: Path) -> tuple[float, float, float, float]:
    """(cluster start, warm-up, sweep wall time, sum of the runs' own times) in seconds."""
    started = time.perf_counter()
    with dask_client(None, workers) as client:
        up = time.perf_counter()
        small = dict(sweep.runs[0].scenario)
        small["run"] = {**small["run"], "days": 1}
        small["fleet"] = {"booths": 1}
        warm = [
            client.submit(run_figures, small, key=f"warm-{i}", pure=False, workers=[address])
            for i, address in enumerate(client.scheduler_info()["workers"])
        ]
        client.gather(warm)
        warmed = time.perf_counter()
        out = folder / f"out-{workers}"
        run_sweep(sweep, out, client)
        finished = time.perf_counter()
    own = sum(float(row["run_seconds"]) for row in read_results(out))
    return up - started, warmed - up, finished - warmed, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-per-seed", type=int, default=4, help="Parameter values.")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--booths", type=int, default=1000)
    parser.add_argument("--days", type=int, default=92)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sweep = bench_sweep(folder, args.runs_per_seed, args.seeds, args.booths, args.days)
        runs = len(sweep.runs)
        results = {workers: timed_sweep(sweep, workers, folder) for workers in (1, 2)}
    one, two = results[1], results[2]
    mean_run = one[3] / runs
    overhead = (one[2] - one[3]) / runs
    print(f"sweep: {runs} runs of {args.booths} booths x {args.days} days")
    for workers, (start, warm, wall, own) in results.items():
        print(
            f"  {workers} worker(s): {wall:.2f} s for the runs ({own:.2f} s of runs' own time);"
            f" cluster start {start:.2f} s, warm-up {warm:.2f} s"
        )
    print(f"speed-up of 2 workers over 1: {one[2] / two[2]:.2f}x (goal >= 1.7x)")
    print(
        f"scheduling overhead per run: {overhead * 1000:.1f} ms = {overhead / mean_run:.1%}"
        f" of a run's own {mean_run:.2f} s (goal < 5 %)"
    )


if __name__ == "__main__":
    main()
