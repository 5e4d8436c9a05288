"""A worker of the live fleet: several real booths in one process, each without a screen.

Each booth is the one ``cabine kiosk`` runs (``Booth.from_settings``, its devices, its own
``booth.db``) with its own transmitter (``transmitter.service.Transmitter``, APScheduler) to
the collector; sales go through the booth's sale flow (``kiosk.flow``) as the touchscreen
drives it: photo and its check, signature, card, the number issued with its file, the sheet
rendered and printed to files. The sales come from the plan the fleet drew from the scenario;
each is made when the session clock reaches its time. The worker keeps no record of its own
beyond its progress file: what happened is in each booth's ledger.

Run as ``python -m simulation.live_worker PLAN.json``; SIGTERM ends it after the sale in hand.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ephoto.clock import Clock, clock_scale, parse_utc
from transmitter.latency import Outage

log = logging.getLogger("cabine.fleet.worker")

BOOTH_TIMINGS = {
    "countdown_seconds": 0,
    "payment_seconds": 0,
    "print_seconds": 0,
    "render_in_process": False,
}
"""No waits a customer would see: the fleet's clock runs fast, the work is real."""
PROGRESS_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class PlannedSale:
    booth: str
    at: datetime
    product: str
    lang: str


@dataclass(frozen=True)
class Plan:
    configs: dict[str, Path]
    """Each booth's configuration file, by booth id."""
    sales: list[PlannedSale]
    """In time order."""
    progress: Path
    outages: dict[str, tuple[Outage, ...]]
    """Each booth's windows without connectivity (a fault of the schedule)."""
    paper_out: dict[str, tuple[Outage, ...]] = field(default_factory=dict)
    """Each booth's windows without paper (a fault of the schedule), refilled at their end."""


def load_plan(path: Path) -> Plan:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    configs = {booth: Path(config) for booth, config in raw["booths"].items()}
    sales = [
        PlannedSale(s["booth"], parse_utc(s["at"]), s["product"], s["lang"]) for s in raw["sales"]
    ]
    sales.sort(key=lambda s: s.at)

    def windows(key: str) -> dict[str, tuple[Outage, ...]]:
        return {
            booth: tuple(Outage(parse_utc(start), parse_utc(end)) for start, end in spans)
            for booth, spans in raw.get(key, {}).items()
        }

    return Plan(configs, sales, Path(raw["progress"]), windows("outages"), windows("paper_out"))


class Worker:
    """The booths of one worker process, their transmitters, and the sales to make."""

    def __init__(self, plan: Plan):
        self.configs = plan.configs
        self.sales = plan.sales
        self.progress = plan.progress
        self.outages = plan.outages
        self.paper_out = plan.paper_out
        self.paper_done: set[tuple[str, int, str]] = set()
        self.stop = threading.Event()
        self.booths: dict[str, Any] = {}
        self.transmitters: dict[str, Any] = {}
        self.done = 0
        self.issued = 0
        self.ended: dict[str, int] = {}
        self.lags: list[float] = []
        self.sales_cpu_seconds = 0.0

    def open(self) -> Clock:
        """Start every booth and its transmitter; the session clock they share.

        A booth that has sold before (the worker was killed and started again) recovers what
        the crash left and sells on from the first planned sale its ledger has not seen: the
        sales it opened, made or not, are the customers already served."""
        from cabine.config import load_settings
        from kiosk.booth import Booth
        from transmitter.service import Transmitter, config_from_settings

        clock: Clock | None = None
        for index, (booth_id, config_file) in enumerate(sorted(self.configs.items())):
            settings = load_settings(config_file)
            clock = settings.clock.make()
            self.booths[booth_id] = Booth.from_settings(
                settings.kiosk.model_copy(update=BOOTH_TIMINGS),
                settings.data_dir,
                clock,
                operator_prefix=settings.operator.prefix,
                batch_window=timedelta(minutes=settings.transmitter.batch_window_minutes),
                default_lang=settings.lang,
                headless=True,
                camera_seed=index + 1,
            )
            sending = config_from_settings(settings.transmitter, settings.data_dir, None, None)
            if booth_id in self.outages:
                stage = replace(sending.stage, outages=self.outages[booth_id])
                sending = replace(sending, stage=stage)
            transmitter = Transmitter(sending, clock)
            transmitter.start()
            self.transmitters[booth_id] = transmitter
        assert clock is not None, "a worker has at least one booth"
        # The customers already served (or turned away) are those planned up to the last sale
        # each booth's ledger opened.
        never = datetime.min.replace(tzinfo=UTC)
        last = {
            b: max((s.opened_at for s in booth.ledger.all_sales()), default=never)
            for b, booth in self.booths.items()
        }
        self.sales = [s for s in self.sales if s.at > last[s.booth]]
        return clock

    def apply_paper(self, now: datetime) -> None:
        """The schedule's paper faults that have come: the roll runs out (the ledger's paper
        count, which the printer reads, set to 0), then the operator refills it. Each step
        once: after a restart, a window still open is applied again (the count is kept)."""
        for booth_id, windows in self.paper_out.items():
            booth = self.booths[booth_id]
            for index, window in enumerate(windows):
                if now >= window.start and (booth_id, index, "out") not in self.paper_done:
                    self.paper_done.add((booth_id, index, "out"))
                    if now < window.end:
                        booth.ledger.set_paper_left(0)
                if now >= window.end and (booth_id, index, "refilled") not in self.paper_done:
                    self.paper_done.add((booth_id, index, "refilled"))
                    booth.refill_paper()

    def run(self, clock: Clock, scale: float, stopped: threading.Event | None = None) -> None:
        """Make each sale when the session clock reaches it; progress every half second."""
        from kiosk.flow import serve_customer
        from kiosk.sale import State

        if stopped is not None:
            self.stop = stopped
        last_progress = 0.0
        for sale in self.sales:
            while not self.stop.is_set():
                ahead = (sale.at - clock.now()).total_seconds()
                if ahead <= 0:
                    break
                self.stop.wait(min(ahead / scale, PROGRESS_EVERY_SECONDS))
                self.apply_paper(clock.now())
                if time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS:
                    self.write_progress()
                    last_progress = time.monotonic()
            if self.stop.is_set():
                break
            self.apply_paper(clock.now())
            self.lags.append((clock.now() - sale.at).total_seconds())
            started = time.process_time()
            try:
                visit = serve_customer(self.booths[sale.booth], sale.product, sale.lang)
                ended = visit.ended.value if visit.ended is not State.DONE else "done"
                self.issued += visit.issued is not None and visit.issued.code is not None
            except Exception:  # one sale's failure is the booth's, not the fleet's
                log.exception("sale of %s at %s failed", sale.product, sale.booth)
                ended = "error"
            self.sales_cpu_seconds += time.process_time() - started
            self.ended[ended] = self.ended.get(ended, 0) + 1
            self.done += 1
            if time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS:
                self.write_progress()
                last_progress = time.monotonic()
        self.write_progress(finished=not self.stop.is_set())

    def write_progress(self, finished: bool = False) -> None:
        """The worker's figures so far (its sales, how far they lagged the clock, its CPU),
        for the fleet's progress line: summaries, not every sale."""
        from ephoto.private import write_private

        lags = sorted(self.lags)
        data = {
            "pid": os.getpid(),
            "booths": sorted(self.booths),
            "planned": len(self.sales),
            "done": self.done,
            "issued": self.issued,
            "ended": self.ended,
            "finished": finished,
            "lag_p99_seconds": lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0.0,
            "lag_max_seconds": lags[-1] if lags else 0.0,
            "cpu_seconds": time.process_time(),
            "cpu_sales_seconds": self.sales_cpu_seconds,
        }
        write_private(self.progress, json.dumps(data).encode(), durable=False)

    def close(self) -> None:
        for transmitter in self.transmitters.values():
            transmitter.stop()
        for booth in self.booths.values():
            booth.close()


def serve_plan(plan_path: str, stopped: threading.Event) -> dict[str, Any]:
    """Open the plan's booths, make their sales, keep their transmitters running until
    ``stopped``, close them; the worker's last progress."""
    worker = Worker(load_plan(Path(plan_path)))
    clock = worker.open()
    try:
        worker.run(clock, clock_scale(clock), stopped)
        # The sales are made; the transmitters go on until the fleet says the run is over.
        stopped.wait()
    finally:
        worker.close()
    return {"booths": sorted(worker.booths), "done": worker.done, "pid": os.getpid()}


def run_on_cluster(plan_path: str, stop_file: str) -> dict[str, Any]:
    """A booth group as a long-lived task on a Dask worker: the fleet asks it to stop by
    creating ``stop_file`` (a task cannot be signalled), which it looks for twice a second."""
    stopped = threading.Event()

    def watch() -> None:
        while not stopped.wait(PROGRESS_EVERY_SECONDS):
            if Path(stop_file).exists():
                stopped.set()

    threading.Thread(target=watch, daemon=True, name="fleet-stop-watch").start()
    try:
        return serve_plan(plan_path, stopped)
    finally:
        stopped.set()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    stopped = threading.Event()

    def ask_stop(_signum: int, _frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    serve_plan(argv[0], stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
