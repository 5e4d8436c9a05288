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

A buyer still refused after the last attempt writes to the operator's support desk, at the
scenario's ``[support] report_share``, once the 72 h promise has passed (the simulator's rule,
``simulation.fleet._support``): the number as last typed, to the desk's real API, which decides
in the selling booth's file.

Run as ``python -m simulation.live_citizens PLAN.json``; every attempt is appended to
``citizens.csv`` and every report to ``reports.csv`` (the buyers' own account: what they typed,
when, and what the state or the desk said).
"""

from __future__ import annotations

import csv
import heapq
import json
import logging
import signal
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
import numpy as np

from ephoto import code as codes
from ephoto.clock import Clock, clock_scale
from ephoto.validity import ACTIVATION_PROMISE
from simulation.scenario import CitizensSection

log = logging.getLogger("cabine.fleet.citizens")

SCAN_SECONDS = 1.0
"""How often (real seconds) the booths' ledgers are read for new numbers."""
COLUMNS = ("code", "booth", "attempt", "at", "typed", "status", "answer")
REPORT_COLUMNS = ("code", "booth", "at", "typed", "status", "outcome", "reason", "reference")


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
    bought: datetime | None = field(compare=False, default=None)
    report: bool = field(compare=False, default=False)
    """Not an entry at the state but a report to the support desk."""


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
        self.report_share = float(plan.get("report_share", 0.0))
        self.desk = (
            httpx.Client(base_url=plan["support_url"], timeout=30)
            if plan.get("support_url")
            else None
        )
        self.out = Path(plan["record"])
        self.reports_out = Path(plan["reports"]) if plan.get("reports") else None
        self.followed: set[str] = set()
        """Numbers whose buyers tried them before a resumed run's stop: their journey ended
        with the stop (what they did is in the record)."""
        if plan.get("resume") and self.out.exists():
            with self.out.open(newline="", encoding="utf-8") as handle:
                self.followed = {row["code"] for row in csv.DictReader(handle)}
        self.stop = threading.Event()

    def scan(self) -> None:
        """New numbers on the booths' ledgers become buyers with their first attempt."""
        from kiosk.ledger import numbers_after

        for booth, folder in self.booths.items():
            new = numbers_after(folder / "booth.db", self.seen[booth])
            for issued in new:
                self.seen[booth] = issued.sale_id
                if issued.code is None or issued.product not in self.procedures:
                    continue
                if issued.code in self.followed:
                    continue
                wait = float(self._delays(self.rng, self.people.first_attempt, 1)[0])
                heapq.heappush(
                    self.queue,
                    Attempt(
                        issued.issued_at + timedelta(hours=wait),
                        issued.code,
                        booth,
                        self.procedures[issued.product],
                        typed_form(issued.code, self.rng, self.people),
                        bought=issued.issued_at,
                    ),
                )

    def play_due(self, writer: Any, reports: Any = None) -> None:
        now = self.clock.now()
        while self.queue and self.queue[0].at <= now and not self.stop.is_set():
            attempt = heapq.heappop(self.queue)
            if attempt.report:
                if not self._report(attempt, now, reports):
                    return
                continue
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
                wait = float(self.rng.exponential(people.retry_after_hours))
                again = replace(
                    attempt, at=now + timedelta(hours=wait), number=attempt.number + 1, worked=True
                )
                heapq.heappush(self.queue, again)
            return
        refused = status in (404, 422)
        if not refused:
            return
        if attempt.number >= people.max_attempts or self.rng.random() >= people.retry_share:
            self._maybe_report(attempt, now)
            return
        typed = attempt.typed.upper() if status == 422 else attempt.typed
        wait = float(self.rng.exponential(people.retry_after_hours))
        retry = replace(
            attempt, at=now + timedelta(hours=wait), typed=typed, number=attempt.number + 1
        )
        heapq.heappush(self.queue, retry)

    def _maybe_report(self, attempt: Attempt, now: datetime) -> None:
        """A buyer refused for good writes to support, at the scenario's share, once the 72 h
        promise has passed."""
        if self.desk is None or self.rng.random() >= self.report_share:
            return
        at = max(now, (attempt.bought or now) + ACTIVATION_PROMISE)
        heapq.heappush(self.queue, replace(attempt, at=at, report=True))

    def _report(self, attempt: Attempt, now: datetime, writer: Any) -> bool:
        """Send one report to the desk; False when it must wait (the desk or the registry
        away: the same report is sent again in an hour)."""
        assert self.desk is not None
        try:
            response = self.desk.post(
                "/v1/reports",
                json={"code": attempt.typed},
                headers={"X-Forwarded-For": buyer_address(attempt.code)},
            )
        except httpx.HTTPError as exc:
            log.info("report for %s not answered: %s", attempt.code, exc)
            response = None
        if response is None or response.status_code in (502, 503, 429):
            attempt.at = now + timedelta(hours=1)
            heapq.heappush(self.queue, attempt)
            return response is not None
        data = _json(response)
        if writer is not None:
            writer.writerow(
                [
                    attempt.code,
                    attempt.booth,
                    now.isoformat(),
                    attempt.typed,
                    response.status_code,
                    data.get("outcome", ""),
                    data.get("reason", ""),
                    data.get("reference", ""),
                ]
            )
        return True

    def run(self) -> None:
        scale = clock_scale(self.clock)
        with ExitStack() as files:
            handle = files.enter_context(_appending(self.out, COLUMNS))
            writer = csv.writer(handle)
            reports, report_writer = None, None
            if self.reports_out is not None:
                reports = files.enter_context(_appending(self.reports_out, REPORT_COLUMNS))
                report_writer = csv.writer(reports)
            while not self.stop.is_set():
                self.scan()
                self.play_due(writer, report_writer)
                handle.flush()
                if reports is not None:
                    reports.flush()
                wait = SCAN_SECONDS
                if self.queue:
                    ahead = (self.queue[0].at - self.clock.now()).total_seconds() / scale
                    wait = max(0.05, min(wait, ahead))
                self.stop.wait(wait)
        self.client.close()
        if self.desk is not None:
            self.desk.close()


def _appending(path: Path, columns: tuple[str, ...]) -> TextIO:
    """A CSV file opened to add rows, its header written when it is new."""
    new_file = not path.exists()
    handle = path.open("a", newline="", encoding="utf-8")
    if new_file:
        csv.writer(handle).writerow(columns)
    return handle


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _status_of(response: httpx.Response) -> str:
    return str(_json(response).get("status", ""))


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
