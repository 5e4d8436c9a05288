"""The memory a simulation needs, estimated before it starts, against the memory available.

The simulator holds arrays of a few numbers per ePhoto sale for the whole run, and two counts
per booth and day, so its peak memory grows with ``booths x days x ePhoto sales a day``. The
factors below come from the peak resident size (``/usr/bin/time -v``, "Maximum resident set
size") of ``simulation.fleet.simulate`` on the off-season scenario at 200 to 10,000 booths:
about 155 bytes per ePhoto sale on top of about 60 MB for the interpreter and libraries
(3,000 booths: 192 MB; 10,000 booths: 519 MB; the same fleet selling twice the ePhotos: 966 MB;
selling only other products: 56 MB). The factors here carry a margin of about 10 %.

``cabine simulate`` and ``cabine sweep`` call :func:`memory_problem` before running, and refuse
with both figures when the estimate is larger than what is available. What is available is
``MemAvailable`` from ``/proc/meminfo``; the environment variable ``CABINE_MEMORY_AVAILABLE``
(bytes), read only here, takes its place (to test the refusal, or to allow a run the kernel
would swap).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from simulation.scenario import Scenario

BYTES_PER_EPHOTO_SALE = 170
BYTES_PER_BOOTH_DAY = 24
BASE_BYTES = 64 * 2**20
AVAILABLE_ENV = "CABINE_MEMORY_AVAILABLE"
MEMINFO = Path("/proc/meminfo")


def expected_ephoto_sales(scenario: Scenario) -> float:
    """ePhoto sales the run expects: booths x the day's rate x the month's season, every day."""
    start, demand = scenario.run.start, scenario.demand
    seasoned_days = sum(
        demand.season_factor((start + timedelta(days=n)).month) for n in range(scenario.run.days)
    )
    return scenario.fleet.booths * demand.ephoto_per_booth_day * seasoned_days


def estimated_bytes(scenario: Scenario) -> int:
    """Peak memory the simulation of ``scenario`` is expected to take, in bytes."""
    booth_days = scenario.fleet.booths * scenario.run.days
    return int(
        BASE_BYTES
        + BYTES_PER_EPHOTO_SALE * expected_ephoto_sales(scenario)
        + BYTES_PER_BOOTH_DAY * booth_days
    )


def available_bytes() -> int | None:
    """Memory available to a new run, in bytes: ``CABINE_MEMORY_AVAILABLE`` if set, else
    ``MemAvailable``; None when neither can be read (the check is then not made)."""
    given = os.environ.get(AVAILABLE_ENV)
    if given is not None:
        try:
            return int(given)
        except ValueError:
            raise ValueError(f"{AVAILABLE_ENV}={given!r} is not a number of bytes") from None
    try:
        for line in MEMINFO.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def memory_problem(scenario: Scenario, source: str) -> str | None:
    """One line saying the run of ``scenario`` would need more memory than is available, with
    both figures; None when it fits or nothing is known of the memory available."""
    need, have = estimated_bytes(scenario), available_bytes()
    if have is None or need <= have:
        return None
    sales = expected_ephoto_sales(scenario)
    return (
        f"{source}: the simulation would need about {_size(need)} of memory "
        f"({sales:,.0f} ePhoto sales expected) and {_size(have)} is available; "
        "simulate fewer booths, fewer days or a lower demand"
    )
