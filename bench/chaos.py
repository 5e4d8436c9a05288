"""Long kill -9 run: transmitters killed with SIGKILL at random moments while numbers are sold;
then every number must be at the server exactly once.

The same run as the test suite's (``testkit/chaos.py``), with more kills, both ways
a transmitter sends: the booth's ePhoto files to the stand-in collector (which checks each file),
and bare numbers to the real registry (the collector's own registration path). Prints, for each,
the kills, numbers, what the server holds, numbers delivered more than once (counted on the wire),
``PRAGMA integrity_check`` and the time each phase took. Exits 1 if any number is lost or stored
twice, or the database is damaged.

Run: .venv/bin/python bench/chaos.py [--kills 1000] [--codes 20000] [--files 5000]
     [--only files|numbers] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.chaos import ChaosResult, run_chaos  # noqa: E402


def report(title: str, result: ChaosResult) -> bool:
    print(title)
    for name, value in asdict(result).items():
        print(f"{name:>18}: {value}")
    ok = (
        result.missing == 0
        and result.unexpected == 0
        and result.stored_twice == 0
        and result.integrity == "ok"
        and result.pending_left == 0
    )
    print("every number at the server exactly once" if ok else "FAILED: see the figures above")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--codes", type=int, default=20_000, help="Bare numbers sold.")
    parser.add_argument("--files", type=int, default=5_000, help="Numbers sold with files.")
    parser.add_argument("--only", choices=("files", "numbers"), help="Run one way only.")
    parser.add_argument("--max-life", type=float, default=0.3, help="Longest life, seconds.")
    parser.add_argument("--batch-size", type=int, default=50, help="Bare numbers per batch.")
    parser.add_argument("--files-per-upload", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ok = True
    if args.only != "numbers":
        with tempfile.TemporaryDirectory(prefix="cabine-chaos-") as tmp:
            result = run_chaos(
                Path(tmp),
                kills=args.kills,
                codes=args.files,
                max_life=args.max_life,
                batch_size=args.files_per_upload,
                seed=args.seed,
                files=True,
            )
        ok &= report("ePhoto files to the stand-in collector", result)
    if args.only != "files":
        with tempfile.TemporaryDirectory(prefix="cabine-chaos-") as tmp:
            result = run_chaos(
                Path(tmp),
                kills=args.kills,
                codes=args.codes,
                max_life=args.max_life,
                batch_size=args.batch_size,
                seed=args.seed,
            )
        ok &= report("bare numbers to the real registry", result)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
