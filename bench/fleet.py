"""The live fleet's figures: does it keep up, where its CPU goes, does it reconcile, and does the
simulator replayed on its sales agree with it.

Runs ``cabine fleet run`` (then ``cabine fleet compare``) as a user would, once per seed, and
prints for each run: wall time, sales made, the booths' lag behind the session clock (the worst
worker's p99 and the maximum, in simulated minutes), sales per CPU-second of the booth workers
and the share of it the sales themselves take, the CPU by process, the reconciliation, and each
stage's comparison with the model (means, KS statistic and its limit, verdict).

    .venv/bin/python bench/fleet.py --scenario off-season --booths 20 --days 7 --seeds 1 2 3

Needs only cabine's runtime dependencies.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: argparse.Namespace, seed: int, folder: Path) -> dict:
    out = folder / f"seed-{seed}"
    command = [
        sys.executable,
        "-m",
        "cabine.cli",
        "fleet",
        "run",
        args.scenario,
        "--booths",
        str(args.booths),
        "--days",
        str(args.days),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--citizens-days",
        str(args.citizens_days),
    ]
    if args.scale:
        command += ["--scale", str(args.scale)]
    if args.faults:
        command += ["--faults", args.faults]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    if not (out / "check.json").exists():
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"seed {seed}: the fleet did not finish (exit {done.returncode})")
    subprocess.run(
        [sys.executable, "-m", "cabine.cli", "fleet", "compare", str(out), "--lang", "en"],
        capture_output=True,
        text=True,
    )
    # The check must be able to fail: a model with the batch window doubled is flagged.
    window = json.loads((out / "run.json").read_text())["resolved_scenario"]["booth"][
        "batch_window_minutes"
    ]
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "cabine.cli",
            "fleet",
            "compare",
            str(out),
            "--json",
            "--set",
            f"booth.batch_window_minutes={2 * window}",
        ],
        capture_output=True,
        text=True,
    )
    flagged = [s["stage"] for s in json.loads(wrong.stdout)["stages"] if not s["agrees"]]
    subprocess.run(  # compare.json and compare.html of the right model again
        [sys.executable, "-m", "cabine.cli", "fleet", "compare", str(out), "--lang", "en"],
        capture_output=True,
    )
    return {
        "seed": seed,
        "wall": wall,
        "wrong_model_flagged": flagged,
        "check": json.loads((out / "check.json").read_text()),
        "cpu": json.loads((out / "cpu.json").read_text()),
        "compare": json.loads((out / "compare.json").read_text()),
        "run": json.loads((out / "run.json").read_text()),
    }


def report(result: dict) -> None:
    cpu, check, compare, run_info = (
        result["cpu"],
        result["check"],
        result["compare"],
        result["run"],
    )
    print(
        f"\nseed {result['seed']}: scale {run_info['scale']:g}, "
        f"tick {run_info['tick_seconds'] / 60:.1f} simulated min, wall {result['wall']:.0f} s"
    )
    print(
        f"  sales {cpu['sales']}, numbers {check['numbers']}, "
        f"reconciliation: {'ok' if check['ok'] else str(len(check['breaches'])) + ' breaches'}"
    )
    print(
        f"  lag behind the clock: p99 {cpu['lag_p99_seconds'] / 60:.1f} min, "
        f"max {cpu['lag_max_seconds'] / 60:.1f} min (simulated, worst worker)"
    )
    print(
        f"  {cpu['sales_per_worker_cpu_second']:.2f} sales per worker CPU-second, "
        f"{100 * cpu['sales_share_of_worker_cpu']:.0f} % of the workers' CPU in the sales"
    )
    total = cpu["cpu_seconds"] or 1.0
    split = sorted(cpu["cpu_seconds_by_process"].items(), key=lambda kv: -kv[1])
    print("  CPU: " + ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f} %)" for k, v in split))
    print(f"  {'stage':<11} {'live mean h':>11} {'model mean h':>12} {'KS':>6} {'limit':>6}")
    for s in compare["stages"]:
        verdict = "agrees" if s["agrees"] else "DIFFERS"
        print(
            f"  {s['stage']:<11} {s['live']['mean']:>11.2f} {s['model']['mean']:>12.2f} "
            f"{s['ks']:>6.3f} {s['ks_limit']:>6.3f}  {verdict}"
        )
    queue = compare["queue_live_minus_model_hours"]
    print(f"  state's queue, live minus model: largest gap {queue['worst'] * 60:.2f} min")
    flagged = ", ".join(result["wrong_model_flagged"]) or "nothing (the check failed to fail)"
    print(f"  the model with its batch window doubled: flagged on {flagged}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="off-season")
    parser.add_argument("--booths", type=int, default=5)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--scale", type=float, default=None, help="default: the fleet's own")
    parser.add_argument("--faults", default=None, help="a faults TOML for every run")
    parser.add_argument(
        "--citizens-days",
        type=float,
        default=0.0,
        help="days the buyers go on after the last sale (default 0: the chain's figures only)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cabine-fleet-bench-") as scratch:
        folder = args.keep or Path(scratch)
        print(f"{args.booths} booths x {args.days} days of {args.scenario}, seeds {args.seeds}")
        for seed in args.seeds:
            report(run(args, seed, folder))


if __name__ == "__main__":
    main()
