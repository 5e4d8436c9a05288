"""End to end: 10,000 sales through booth, collector and state, with 100 kill -9 of the booth's
transmitter and 20 of the collector; then every number is used once at the state, which fetches
its file from the collector and checks the seal and the digests.

The run is ``testkit.chain.run_chain`` (the slow test runs a smaller one). Prints what
each hop holds (numbers lost or stored twice at the collector and at the state), the numbers
registered by the collector, the uses answered with the booth's own photo and signature, the
databases' integrity and the time each phase took. Exits 1 if anything is lost, stored twice,
refused or damaged.

Run: .venv/bin/python bench/ephoto_chain.py [--sales 10000] [--transmitter-kills 100]
     [--collector-kills 20] [--max-life 1.0] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.chain import run_chain  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--transmitter-kills", type=int, default=100)
    parser.add_argument("--collector-kills", type=int, default=20)
    parser.add_argument("--max-life", type=float, default=1.0, help="Longest life, seconds.")
    parser.add_argument("--files-per-upload", type=int, default=20)
    parser.add_argument("--use-concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cabine-chain-") as tmp:
        result = run_chain(
            Path(tmp),
            sales=args.sales,
            transmitter_kills=args.transmitter_kills,
            collector_kills=args.collector_kills,
            max_life=args.max_life,
            files_per_upload=args.files_per_upload,
            use_concurrency=args.use_concurrency,
            seed=args.seed,
            say=lambda line: print(f"... {line}", flush=True),
        )
    for name, value in asdict(result).items():
        print(f"{name:>23}: {value}")
    used_seconds = result.phases[3]
    if used_seconds > 0:
        print(
            f"{'uses per second':>23}: {result.used / used_seconds:.0f} (fetch + seal check each)"
        )
    print(
        "0 lost, 0 stored twice, every file's seal verified by the state"
        if result.ok
        else "FAILED: see the figures above"
    )
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
