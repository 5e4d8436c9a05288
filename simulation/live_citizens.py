"""The live fleet's citizens: each buyer of an ePhoto uses the number on the registry's real
citizen endpoint, as the scenario's ``[citizens]`` says.

A buyer reads the number off the sheet (the booth's ledger: what was printed) and first tries it
after the scenario's first-attempt delay, typing it in lowercase or with one confusable swapped
at the scenario's shares. The registry answers by its own rules; a refusal (not found yet,
malformed) is tried again at the retry share after an exponential wait, a malformed answer
teaching the buyer to type capitals, up to the scenario's attempts; a share of those it worked
for type it once more (the registry answers: used). The rules are the simulator's
(``simulation.fleet._citizens``), here met by the real service.

Each buyer has an address of their own (``X-Forwarded-For`` from the benchmarking range
198.18.0.0/15, trusted from loopback by the fleet's registry), so the registry's limit on failed
checks per client applies per buyer, as on the real site.

Run as ``python -m simulation.live_citizens PLAN.json``; every attempt is appended to
``citizens.csv`` (the buyers' own account: what they typed, when, and what the state said).
"""

from __future__ import annotations

import csv
import heapq
import json
import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from ephoto import code as codes
from ephoto.clock import Clock, clock_scale
from simulation.scenario import CitizensSection

log = logging.getLogger("cabine.fleet.citizens")

SCAN_SECONDS = 1.0
"""How often (real seconds) the booths' ledgers are read for new numbers."""
COLUMNS = ("code", "booth", "attempt", "at", "typed", "status", "answer")


@dataclass(order=True)
class Attempt:
    at: datetime
    code: str = field(compare=False)
    booth: str = field(compare=False)
    procedure: str = field(compare=False)
    typed: str = field(compare=False)
    number: int = field(compare=False, default=1)
    worked: bool = field(compare=False, default=False)
    """A second entry of a number that already worked (the double use)."""


def typed_form(code: str, rng: np.random.Generator, people: CitizensSection) -> str:
    """How a buyer types ``code``: maybe one confusable swapped, maybe in lowercase."""
    text = code
    if rng.random() < people.confusable_share:
        swaps = list(codes._single_swaps(code[codes.PREFIX_LENGTH :]))
        if swaps:
            text = code[: codes.PREFIX_LENGTH] + swaps[int(rng.integers(len(swaps)))]
    if rng.random() < people.lowercase_share:
        text = text.lower()
    return text


def buyer_address(code: str) -> str:
    """A stable address per buyer, in the range kept for benchmarks (RFC 2544)."""
    digest = int.from_bytes(code.encode(), "big") % (2 * 256 * 256)
    return f"198.{18 + digest // 65536}.{digest // 256 % 256}.{digest % 256}"


class Citizens:
    """Follows the booths' ledgers and plays each buyer's attempts at their times."""

    def __init__(self, plan: dict[str, Any], clock: Clock):
        from simulation.fleet import _delays

        self.people = CitizensSection.model_validate(plan["citizens"])
        self.procedures: dict[str, str] = plan["procedures"]
        self.booths = {b: Path(folder) for b, folder in plan["booths"].items()}
        self.clock = clock
        self.rng = np.random.default_rng(plan["seed"])
        self._delays = _delays
        self.seen = dict.fromkeys(self.booths, 0)
        self.queue: list[Attempt] = []
        self.client = httpx.Client(base_url=plan["registry_url"], timeout=30)
        self.out = Path(plan["record"])
        self.stop = threading.Event()

    def scan(self) -> None:
        """New numbers on the booths' ledgers become buyers with their first attempt."""
        from kiosk.ledger import numbers_after

        for booth, folder in self.booths.items():
            new = numbers_after(folder / "booth.db", self.seen[booth])
            for sale in new:
                self.seen[booth] = sale.id
                if sale.code is None or sale.product not in self.procedures:
                    continue
                wait = float(self._delays(self.rng, self.people.first_attempt, 1)[0])
                heapq.heappush(
                    self.queue,
                    Attempt(
                        sale.opened_at + timedelta(hours=wait),
                        sale.code,
                        booth,
                        self.procedures[sale.product],
                        typed_form(sale.code, self.rng, self.people),
                    ),
                )

    def play_due(self, writer: Any) -> None:
        now = self.clock.now()
        while self.queue and self.queue[0].at <= now and not self.stop.is_set():
            attempt = heapq.heappop(self.queue)
            try:
                response = self.client.post(
                    f"/v1/codes/{attempt.typed}/redeem",
                    json={"procedure": attempt.procedure},
                    headers={"X-Forwarded-For": buyer_address(attempt.code)},
                )
            except httpx.HTTPError as exc:  # the registry away (a fault): try again soon
                log.info("attempt for %s not answered: %s", attempt.code, exc)
                attempt.at = now + timedelta(minutes=30)
                heapq.heappush(self.queue, attempt)
                return
            status = response.status_code
            answer = _status_of(response)
            writer.writerow(
                [
                    attempt.code,
                    attempt.booth,
                    attempt.number,
                    now.isoformat(),
                    attempt.typed,
                    status,
                    answer,
                ]
            )
            self._next(attempt, status, now)

    def _next(self, attempt: Attempt, status: int, now: datetime) -> None:
        people = self.people
        if status in (502, 503, 429):  # not the buyer's refusal: the same try later
            attempt.at = now + timedelta(hours=1)
            heapq.heappush(self.queue, attempt)
            return
        if status == 200 and not attempt.worked:
            if self.rng.random() < people.double_use_share:
                again = Attempt(
                    now + timedelta(hours=float(self.rng.exponential(people.retry_after_hours))),
                    attempt.code,
                    attempt.booth,
                    attempt.procedure,
                    attempt.typed,
                    attempt.number + 1,
                    worked=True,
                )
                heapq.heappush(self.queue, again)
            return
        refused = status in (404, 422)
        if not refused or attempt.number >= people.max_attempts:
            return
        if self.rng.random() >= people.retry_share:
            return
        typed = attempt.typed.upper() if status == 422 else attempt.typed
        wait = float(self.rng.exponential(people.retry_after_hours))
        heapq.heappush(
            self.queue,
            Attempt(
                now + timedelta(hours=wait),
                attempt.code,
                attempt.booth,
                attempt.procedure,
                typed,
                attempt.number + 1,
            ),
        )

    def run(self) -> None:
        scale = clock_scale(self.clock)
        new_file = not self.out.exists()
        with self.out.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(COLUMNS)
            while not self.stop.is_set():
                self.scan()
                self.play_due(writer)
                handle.flush()
                wait = SCAN_SECONDS
                if self.queue:
                    ahead = (self.queue[0].at - self.clock.now()).total_seconds() / scale
                    wait = max(0.05, min(wait, ahead))
                self.stop.wait(wait)
        self.client.close()


def _status_of(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("status", "")) if isinstance(data, dict) else ""


def main(argv: list[str]) -> int:
    from cabine.config import load_settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    clock = load_settings(Path(plan["clock_config"])).clock.make()
    citizens = Citizens(plan, clock)

    def ask_stop(_signum: int, _frame: object) -> None:
        citizens.stop.set()

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    citizens.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
