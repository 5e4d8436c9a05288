"""The live fleet: many real booths and the real collector and registry on one session clock
(``cabine fleet run``).

The fleet is a :class:`cabine.topology.Topology` with a folder per process: the registry and
the collector run as service processes, the booths in worker processes
(:mod:`simulation.live_worker`, several booths each). Sales are drawn from the scenario's demand
as the simulator draws them (the same hourly profile, season, opening hours, ePhoto and other
sales per booth-day, wrong-product share), from the seed, and each worker makes its booths'
sales when the session clock reaches them. When the last day is sold, the fleet lets the chain
run until every number has reached the state (or a settling time has passed), then writes the
record and reconciles it (:mod:`simulation.live_record`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cabine.processes import free_port
from registry.settings import DEFAULT_PRODUCTS
from simulation.live_faults import (
    FAULTS_RECORD,
    Fault,
    FaultError,
    FaultRunner,
    booth_windows,
    load_faults,
    windows_json,
)
from simulation.live_record import (
    ATTEMPTS_FILE,
    REPORTS_FILE,
    RUN_FILE,
    CheckResult,
    Services,
    reconcile,
)
from simulation.live_worker import PlannedSale, run_on_cluster
from simulation.scenario import Scenario

log = logging.getLogger("cabine.fleet")

SETTLE_DAYS = 6.0
"""After the last sale, the chain runs until every number is at the state and the state's queue
is empty, at most this long (domain time): beyond the FAQ's 72 h, so that a busy registry's
backlog is seen to clear."""
CITIZENS_DAYS = 3.0
"""By default the buyers go on for the 72 h promise after the last sale, so that those refused
for good reach the support desk (they write once it has passed)."""
SALE_CPU_SECONDS = 0.5
"""A sale's CPU (photo check, number and file, sheet), measured from the workers' progress on
this 2-core machine (23 s for 45 sales), for the default scale."""
EN_SHARE = 0.1
"""Customers who choose English at the booth."""


class FleetError(ValueError):
    """The fleet cannot start: one line, nothing started."""


@dataclass(frozen=True)
class FleetOptions:
    scenario: Scenario
    booths: int
    days: int
    out: Path
    scale: float | None = None
    seed: int | None = None
    booths_per_worker: int | None = None
    faults: Path | None = None
    scheduler: str | None = None
    """A running Dask scheduler (``tcp://HOST:8786``): the booth groups run on its workers."""
    citizens_days: float = CITIZENS_DAYS
    """Simulated days the buyers go on trying and reporting after the last sale."""
    resume: bool = False
    """Go on with the run stopped in ``out``, from where its session clock stopped."""


def booth_ids(count: int) -> tuple[str, ...]:
    return tuple(f"booth-{i:03d}" for i in range(1, count + 1))


def plan_sales(scenario: Scenario, booths: tuple[str, ...]) -> list[PlannedSale]:
    """Every sale of the run, in time order: ePhoto and other sales at each booth drawn as the
    simulator draws them (Poisson in each real hour of each day, DST-exact), the product drawn
    among the catalogue's of that kind; a wrong-product sale is an ID-card sheet bought by a
    customer who needed an ePhoto."""
    import numpy as np

    from kiosk.catalog import load_catalog
    from simulation.fleet import _hourly_weights, _slot_rates, local_hours, poisson_arrivals

    rng = np.random.default_rng(np.random.SeedSequence(scenario.run.seed).spawn(6)[5])
    catalog = load_catalog()
    ephoto = sorted(p.id for p in catalog.products if p.ephoto)
    other = sorted(p.id for p in catalog.products if not p.ephoto)
    hours = local_hours(scenario)
    season = np.array([scenario.demand.season_factor(m) for m in hours.months])
    rates = _slot_rates(hours, _hourly_weights(scenario), season).ravel()
    starts = np.nan_to_num(hours.start).ravel()
    origin = scenario.origin
    sales: list[PlannedSale] = []
    for booth in booths:
        for per_day, products in (
            (scenario.demand.ephoto_per_booth_day, ephoto),
            (scenario.demand.other_per_booth_day, other),
        ):
            times, _ = poisson_arrivals(rng, starts, rates * per_day)
            wrong = rng.random(times.size) < (
                scenario.demand.wrong_product_share if products is other else 0.0
            )
            chosen = rng.integers(0, len(products), times.size)
            english = rng.random(times.size) < EN_SHARE
            for hour, is_wrong, pick, en in zip(times, wrong, chosen, english, strict=True):
                product = "id-card-adult" if is_wrong else products[int(pick)]
                at = origin + timedelta(hours=float(hour))
                sales.append(PlannedSale(booth, at, product, "en" if en else "fr"))
    sales.sort(key=lambda s: (s.at, s.booth))
    return sales


def default_scale(scenario: Scenario, booths: int, cores: int) -> float:
    """The fastest scale at which the booths keep up: the busiest hour's sales must take at
    most half the machine's cores, so that the services and the transmitters have the rest."""
    demand = scenario.demand
    peak_share = _profile_peak(scenario)
    season = max([1.0, *demand.season.values()])
    peak_per_hour = booths * (demand.ephoto_per_booth_day + demand.other_per_booth_day)
    peak_per_hour *= season * peak_share
    if peak_per_hour <= 0:
        return 3600.0
    real_seconds_per_hour = peak_per_hour * SALE_CPU_SECONDS / (0.5 * cores)
    return float(min(3600.0, max(30.0, 3600.0 / real_seconds_per_hour)))


def _profile_peak(scenario: Scenario) -> float:
    profile = scenario.demand.hourly_profile
    total = sum(profile.values())
    return max(profile.values()) / total if total else 0.0


def worker_groups(options: FleetOptions) -> list[tuple[str, ...]]:
    """The booths of each worker process: by default as many workers as cores (at least 2)."""
    booths = booth_ids(options.booths)
    cores = os.cpu_count() or 2
    per_worker = options.booths_per_worker or max(1, math.ceil(options.booths / max(2, cores)))
    return [booths[i : i + per_worker] for i in range(0, len(booths), per_worker)]


def check_options(options: FleetOptions) -> list[Fault]:
    """Refuse bad options before anything starts (:class:`FleetError`, one line); the fault
    schedule, checked against the fleet."""
    resume = options.resume
    if options.booths < 1:
        raise FleetError(f"--booths {options.booths}: a fleet has at least one booth")
    if options.days < 1:
        raise FleetError(f"--days {options.days}: at least one day")
    if not (0 <= options.citizens_days <= SETTLE_DAYS):
        raise FleetError(
            f"--citizens-days {options.citizens_days:g}: between 0 and {SETTLE_DAYS:g} days"
        )
    if options.scale is not None and not (0 < options.scale <= 86_400):
        raise FleetError(f"--scale {options.scale:g}: between 0 and 86400 domain seconds a second")
    out = options.out
    if out.exists() and not out.is_dir():
        raise FleetError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not resume:
        raise FleetError(
            f"--out {out} is not empty: choose a new folder, or --resume a stopped run"
        )
    if resume:
        previous = stopped_run(out)
        _same_as(options, previous)
    if options.scheduler is not None:
        _reach(options.scheduler)
    if options.faults is None:
        return []
    try:
        faults = load_faults(options.faults, booth_ids(options.booths), len(worker_groups(options)))
    except FaultError as exc:
        raise FleetError(str(exc)) from None
    if options.scheduler is not None and any(f.kind == "worker_kill" for f in faults):
        raise FleetError(
            f"faults file {options.faults}: worker_kill kills a booth worker this machine "
            "started; with --scheduler the booths run on the cluster's workers"
        )
    return faults


def stopped_run(out: Path) -> dict[str, Any]:
    """The ``run.json`` of the run stopped in ``out``; :class:`FleetError` when there is none
    or it went to its end."""
    try:
        run = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        raise FleetError(f"--resume: {out} holds no fleet run ({RUN_FILE})") from None
    except ValueError:
        raise FleetError(f"--resume: {out / RUN_FILE} is damaged") from None
    if run.get("finished"):
        raise FleetError(
            f"--resume: the run in {out} went to its end; `cabine fleet check {out}` "
            "reconciles it again"
        )
    return dict(run)


def _same_as(options: FleetOptions, run: dict[str, Any]) -> None:
    """A resumed run goes on with the fleet it started with."""
    given = {
        "scenario": options.scenario.name,
        "booths": options.booths,
        "days": options.days,
        "seed": options.scenario.with_seed(options.seed).run.seed,
    }
    had = {
        "scenario": run["scenario"],
        "booths": len(run["booths"]),
        "days": run["days"],
        "seed": run["seed"],
    }
    for key, value in given.items():
        if value != had[key]:
            raise FleetError(
                f"--resume: the run in {options.out} has {key} {had[key]}, not {value}"
            )


def stopped_at(out: Path, run: dict[str, Any]) -> datetime:
    """Where the stopped run's session clock was: recorded at Ctrl-C, else (a harder stop)
    the last sale any booth opened, else the run's start."""
    from ephoto.clock import ManualClock
    from kiosk.ledger import Ledger

    if run.get("stopped_at"):
        return datetime.fromisoformat(run["stopped_at"])
    last = datetime.fromisoformat(run["origin"])
    for booth in run["booths"]:
        path = out / "booths" / booth / "booth.db"
        if path.exists():
            ledger = Ledger(path, ManualClock(), booth_id=booth)
            try:
                last = max([last, *(s.opened_at for s in ledger.all_sales())])
            finally:
                ledger.engine.dispose()
    return last


def _reach(scheduler: str) -> None:
    """Refuse, before anything starts, a scheduler that does not answer."""
    from simulation.cluster import ClusterError, dask_client

    try:
        with dask_client(scheduler):
            pass
    except ClusterError as exc:
        raise FleetError(str(exc)) from None


@dataclass
class ClusterTask:
    """A booth group running as a long-lived task on a Dask worker; stopped by a file."""

    name: str
    future: Any
    stop_file: Path

    def check(self) -> None:
        from cabine.processes import ProcessStopped

        if self.future.done() and not self.stop_file.exists():
            error = self.future.exception()
            log = self.stop_file.with_suffix(".log")
            log.write_text(f"{error!r}\n" if error else "ended early\n", encoding="utf-8")
            raise ProcessStopped(self.name, log, f"the task ended: {error!r}")

    def stop(self, grace: float = 30.0) -> None:
        self.stop_file.touch()
        try:
            self.future.result(timeout=grace)
        except Exception as exc:  # what it left undone, the record's check reports
            log.warning("%s ended with %r", self.name, exc)


@dataclass
class FleetRun:
    """A started fleet: its topology, its processes, its record folder."""

    options: FleetOptions
    scenario: Scenario
    topology: Any
    group: Any
    workers: list[Any]
    progress_files: list[Path]
    sales: int
    services: Services
    faults: FaultRunner = field(init=False)
    client: Any = None
    """The Dask client, when the booth groups run on a cluster."""

    def checked(self) -> list[Any]:
        """What must be running: the processes started here and the cluster's tasks."""
        tasks = [w for w in self.workers if isinstance(w, ClusterTask)]
        return [*self.group.started, *tasks]

    def progress(self) -> dict[str, Any]:
        """The workers' figures added up; the lag is the worst worker's p99 and maximum."""
        total = {
            "sales_done": 0,
            "issued": 0,
            "workers_finished": 0,
            "sales_cpu_seconds": 0.0,
            "workers_cpu_seconds": 0.0,
        }
        p99, worst = 0.0, 0.0
        for path in self.progress_files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):  # not written yet, or being replaced
                continue
            total["sales_done"] += int(data["done"])
            total["issued"] += int(data["issued"])
            total["workers_finished"] += bool(data["finished"])
            total["sales_cpu_seconds"] += float(data["cpu_sales_seconds"])
            total["workers_cpu_seconds"] += float(data["cpu_seconds"])
            p99 = max(p99, float(data["lag_p99_seconds"]))
            worst = max(worst, float(data["lag_max_seconds"]))
        return {
            **total,
            "sales_planned": self.sales,
            "lag_p99_seconds": p99,
            "lag_max_seconds": worst,
        }


def start_fleet(
    options: FleetOptions, say: Callable[[str], None], faults: list[Fault] | None = None
) -> FleetRun:
    """Wire and start the services and the booth workers; returns once all serve."""
    from cabine.config import Settings
    from cabine.processes import ProcessGroup
    from cabine.topology import COLLECTOR, REGISTRY, SUPPORT, Topology
    from ephoto.settings import ClockSettings

    scenario = options.scenario.with_seed(options.seed)
    scenario = scenario.model_copy(
        update={"run": scenario.run.model_copy(update={"days": options.days})}
    )
    booths = booth_ids(options.booths)
    cores = os.cpu_count() or 2
    scale = options.scale or default_scale(scenario, options.booths, cores)
    sales = plan_sales(scenario, booths)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    # The session starts a moment from now so that every process is up before its first sale.
    epoch = datetime.now(UTC) + timedelta(seconds=8)
    origin = scenario.origin - timedelta(minutes=30)
    previous: dict[str, Any] | None = None
    resumed_from = origin
    if options.resume:
        # The same fleet on its own stores, its clock going on from where it stopped.
        previous = stopped_run(out)
        scale = options.scale or float(previous["scale"])
        # The clock reads the stop's time now and runs on while the processes start: never
        # back before a time the stores already hold.
        resumed_from = stopped_at(out, previous)
        origin = resumed_from + (epoch - datetime.now(UTC)) * scale
    model = scenario.registry
    topology = Topology(
        data_dir=out,
        clock=ClockSettings(epoch=epoch, origin=origin, scale=scale),
        admin_token=secrets.token_urlsafe(24),
        base=Settings(),
        booths=booths,
        registry_port=free_port(),
        collector_port=free_port(),
        support_port=free_port(),
        shared=False,
        overrides={
            "registry": {
                "capacity_per_hour": model.capacity_per_hour,
                "base_delay_median_hours": model.base_delay.median_hours,
                "base_delay_p95_hours": model.base_delay.p95_hours,
                # Each buyer has an address of their own (X-Forwarded-For from the citizens).
                "forwarded_allow_ips": "127.0.0.1",
            },
            "collector": {
                "registration_window_minutes": scenario.collector.registration_window_minutes
            },
            "transmitter": {"batch_window_minutes": scenario.booth.batch_window_minutes},
            # Each reporting buyer has their own address too.
            "support": {"forwarded_allow_ips": "127.0.0.1"},
        },
    )
    topology.wire()
    files = topology.write()
    groups = worker_groups(options)
    outages = booth_windows(faults or [], scenario.origin, "uplink_down")
    paper_out = booth_windows(faults or [], scenario.origin, "printer_out_of_paper")
    resumes = [] if previous is None else [*previous.get("resumes", []), resumed_from.isoformat()]
    (out / RUN_FILE).write_text(
        json.dumps(
            {
                "resumes": resumes,
                "scenario": scenario.name,
                "seed": scenario.run.seed,
                "start": scenario.run.start.isoformat(),
                "days": options.days,
                "booths": list(booths),
                "scale": scale,
                "epoch": epoch.isoformat(),
                "origin": origin.isoformat(),
                "sales_planned": len(sales),
                "workers": [list(g) for g in groups],
                # One poll of the services and transmitters, in simulated seconds: the live
                # chain's resolution at this scale.
                "tick_seconds": topology.poll * scale,
                "uplink_outages": windows_json(outages),
                "resolved_scenario": scenario.model_dump(mode="json"),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    group = ProcessGroup(out / "logs")
    client = None
    if options.scheduler is not None:
        from dask.distributed import Client

        client = Client(options.scheduler, timeout="10s")
    try:
        group.start("registry", ["registry"], config=files[REGISTRY], url=topology.url(REGISTRY))
        group.start(
            "collector",
            ["collector", "serve"],
            config=files[COLLECTOR],
            url=topology.url(COLLECTOR),
        )
        group.get("registry").wait_serving()
        group.get("collector").wait_serving(path="/openapi.json")
        workers: list[Any] = []
        progress_files: list[Path] = []
        for index, members in enumerate(groups, start=1):
            plan = out / "plans" / f"worker-{index:02d}.json"
            plan.parent.mkdir(exist_ok=True)
            progress = out / "plans" / f"worker-{index:02d}.progress.json"
            plan.write_text(
                json.dumps(
                    {
                        "booths": {b: str(files[b]) for b in members},
                        "sales": [
                            {
                                "booth": s.booth,
                                "at": s.at.isoformat(),
                                "product": s.product,
                                "lang": s.lang,
                            }
                            for s in sales
                            if s.booth in members
                        ],
                        "progress": str(progress),
                        "outages": windows_json(outages, members),
                        "paper_out": windows_json(paper_out, members),
                    }
                ),
                encoding="utf-8",
            )
            name = f"worker-{index:02d}"
            if client is not None:
                stop_file = plan.with_suffix(".stop")
                future = client.submit(
                    run_on_cluster,
                    str(plan),
                    str(stop_file),
                    key=f"{name}-{out.name}",
                    pure=False,
                )
                workers.append(ClusterTask(name, future, stop_file))
            else:
                workers.append(
                    group.start(
                        name, ["-m", "simulation.live_worker", str(plan)], config=None, module=None
                    )
                )
            progress_files.append(progress)
        # The desk opens every booth's file: started once the booths have made them.
        _wait_for_booths(topology, workers)
        group.start(
            "support", ["support", "serve"], config=files[SUPPORT], url=topology.url(SUPPORT)
        )
        group.get("support").wait_serving(path="/healthz")
        citizens = out / "plans" / "citizens.json"
        citizens.write_text(
            json.dumps(
                {
                    "booths": {b: str(topology.folder(b)) for b in booths},
                    "citizens": scenario.citizens.model_dump(mode="json"),
                    "procedures": dict(DEFAULT_PRODUCTS),
                    "seed": [scenario.run.seed, 23],
                    "registry_url": topology.url(REGISTRY),
                    "record": str(out / ATTEMPTS_FILE),
                    "support_url": topology.url(SUPPORT),
                    "report_share": scenario.support.report_share,
                    "reports": str(out / REPORTS_FILE),
                    "clock_config": str(files[booths[0]]),
                    "resume": options.resume,
                }
            ),
            encoding="utf-8",
        )
        group.start(
            "citizens",
            ["-m", "simulation.live_citizens", str(citizens)],
            config=None,
            module=None,
        )
    except BaseException:
        group.stop()
        if client is not None:
            client.close()
        raise
    say(
        f"fleet: {options.booths} booths in {len(groups)} workers, {len(sales)} sales over "
        f"{options.days} days, scale {scale:g} (one simulated hour every {3600 / scale:.1f} s)"
    )
    services = Services(topology.url(COLLECTOR), topology.url(REGISTRY), topology.admin_token)
    fleet = FleetRun(
        options,
        scenario,
        topology,
        group,
        workers,
        progress_files,
        len(sales),
        services,
        client=client,
    )
    fleet.faults = FaultRunner(faults or [], scenario.origin, fleet, out / FAULTS_RECORD)
    if options.resume:
        fleet.faults.resume_at(resumed_from)
    return fleet


def _wait_for_booths(topology: Any, workers: list[Any], timeout: float = 120.0) -> None:
    """Until every booth's file exists (its worker has opened the booth), or a worker died."""
    from transmitter.outbox import booth_db_path

    deadline = time.monotonic() + timeout
    waiting = [booth_db_path(topology.folder(b)) for b in topology.booths]
    while waiting:
        for worker in workers:
            worker.check()
        waiting = [path for path in waiting if not path.exists()]
        if waiting and time.monotonic() > deadline:
            raise FleetError(f"{waiting[0]} was not created within {timeout:.0f} s")
        time.sleep(0.1)


def chain_settled(services: Services, sold: int) -> bool:
    """Every number the booths sold is at the state and its queue is empty: from then on each
    number's activation time is fixed (the registry records it at receipt, its base delay
    included), whether or not that time has come."""
    try:
        stats = services.registry_stats()
    except httpx.HTTPError:  # the registry restarting after a fault
        return False
    held = sum(int(n) for n in stats.get("by_state", {}).values())
    return held >= sold and int(stats.get("backlog", 0)) == 0


def run_fleet(
    options: FleetOptions,
    say: Callable[[str], None],
    show: Callable[[dict[str, Any]], None],
    poll_seconds: float = 1.0,
) -> CheckResult:
    """Start the fleet, make every sale, let the chain settle, write the record and check it."""
    from kiosk.ledger import issued_count

    faults = check_options(options)
    started = time.monotonic()
    fleet = start_fleet(options, say, faults)
    topology = fleet.topology
    clock = topology.clock.make()
    services = fleet.services
    finished = False
    issued: int | None = None
    try:
        selling_ends = fleet.scenario.end
        settle_by = selling_ends + timedelta(days=SETTLE_DAYS)
        buyers_done = selling_ends + timedelta(days=options.citizens_days)
        while True:
            now = clock.now()
            fleet.faults.step(now)
            for process in fleet.checked():
                if process.name not in fleet.faults.held_down:
                    process.check()
            progress = fleet.progress()
            progress["now"] = now
            progress["faults_started"] = len(fleet.faults.started)
            progress["faults_total"] = len(fleet.faults.faults)
            progress.update(_stage_counts(services))
            show(progress)
            if progress["workers_finished"] == len(fleet.workers) and now >= selling_ends:
                # Settled by the booths' own records, read once the selling is over (no
                # number is issued after it).
                if issued is None:
                    issued = sum(
                        issued_count(topology.folder(b) / "booth.db") for b in topology.booths
                    )
                if (
                    now >= buyers_done
                    and not fleet.faults.held_down
                    and chain_settled(services, issued)
                ):
                    break
                if now >= settle_by:
                    break
            time.sleep(poll_seconds)
        fleet.faults.finish(clock.now())
        _write_cpu(options.out, fleet, time.monotonic() - started)
        fleet.group.get("citizens").stop()
        for worker in fleet.workers:  # the transmitters stop with their booths
            worker.stop(grace=30)
        result = reconcile(options.out, services)
        finished = True
    finally:
        _mark_run(options.out, finished, clock.now())
        services.close()
        for worker in fleet.workers:
            if isinstance(worker, ClusterTask):
                worker.stop_file.touch()
        fleet.group.stop()
        if fleet.client is not None:
            fleet.client.close()
    return result


def _mark_run(out: Path, finished: bool, now: datetime) -> None:
    """In ``run.json``: the run went to its end, or where its clock stopped (for --resume)."""
    path = out / RUN_FILE
    run = json.loads(path.read_text(encoding="utf-8"))
    if finished:
        run["finished"] = True
    else:
        run["stopped_at"] = now.isoformat()
    path.write_text(json.dumps(run, indent=2), encoding="utf-8")


def _write_cpu(out: Path, fleet: FleetRun, wall_seconds: float) -> None:
    """Where the run's CPU went, by process (``cpu.json``), with the sales per CPU-second of
    the booth workers and the share of their CPU the sales themselves took."""
    progress = fleet.progress()
    by_process = {
        p.name: round(p.cpu_seconds(), 3)
        for p in fleet.group.started
        if not p.name.startswith("worker-")
    }
    # The booth workers' own account (their process time), on this machine or a cluster's.
    workers = by_process["booth-workers"] = round(progress["workers_cpu_seconds"], 3)
    data = {
        "wall_seconds": round(wall_seconds, 3),
        "cpu_seconds_by_process": by_process,
        "cpu_seconds": round(sum(by_process.values()), 3),
        "sales": progress["sales_done"],
        "sales_per_worker_cpu_second": progress["sales_done"] / workers if workers else 0.0,
        "sales_share_of_worker_cpu": progress["sales_cpu_seconds"] / workers if workers else 0.0,
        "lag_p99_seconds": progress["lag_p99_seconds"],
        "lag_max_seconds": progress["lag_max_seconds"],
    }
    (out / "cpu.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _stage_counts(services: Services) -> dict[str, int]:
    try:
        collector = services.collector.get("/admin/stats").json()
        registry = services.registry_stats()
    except Exception:  # a service restarting: counts come back at the next look
        return {}
    by_state = registry.get("by_state", {})
    return {
        "at_collector": int(collector.get("files_received", 0)),
        "registered": int(collector.get("registered", 0)),
        "at_state": sum(int(n) for n in by_state.values()),
        "active": int(by_state.get("active", 0)),
        "used": int(by_state.get("used", 0)),
    }
