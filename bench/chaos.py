"""Long kill -9 run: transmitters killed with SIGKILL at random moments while codes are sold,
against the real registry on loopback; then every code must be in the registry exactly once.

The same run as the test suite's (``tests/transmitter_chaos.py``), with more kills. Prints the
kills, codes, what the registry holds, codes delivered more than once (counted on the wire),
``PRAGMA integrity_check`` and the time each phase took. Exits 1 if any code is lost or stored
twice, or the database is damaged.

Run: .venv/bin/python bench/chaos.py [--kills 1000] [--codes 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.transmitter_chaos import run_chaos  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--codes", type=int, default=20_000)
    parser.add_argument("--max-life", type=float, default=0.3, help="Longest life, seconds.")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cabine-chaos-") as tmp:
        result = run_chaos(
            Path(tmp),
            kills=args.kills,
            codes=args.codes,
            max_life=args.max_life,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    for name, value in asdict(result).items():
        print(f"{name:>18}: {value}")
    ok = (
        result.missing == 0
        and result.unexpected == 0
        and result.stored_twice == 0
        and result.integrity == "ok"
        and result.pending_left == 0
    )
    print("every code in the registry exactly once" if ok else "FAILED: see the figures above")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
