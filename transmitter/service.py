"""The transmitter process: APScheduler runs the dispatcher until told to stop.

A booth's transmitter uploads ePhoto files to the operator's collector; pointed at a registry
instead (``--registry``, the collector's own outbox) it uploads bare numbers. One dispatcher does
both (:mod:`transmitter.dispatch`).

An interval job drains the outbox regularly; after each drain a one-shot job is set for the next
moment something becomes due (a batching window ending, a backoff or an outage over). Late runs
are never dropped (``misfire_grace_time=None``), piled-up runs collapse into one
(``coalesce=True``) and a job never overlaps itself (``max_instances=1``). APScheduler only
decides when to look: the outbox table is the truth, so a restart loses nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, create_engine

from ephoto.clock import Clock
from ephoto.gcwork import freeze_startup_objects
from ephoto.wire import BoothKeysError
from ephoto.wire import load_booth_keys as wire_keys
from transmitter.dispatch import Backoff, Dispatcher, DrainReport, Uploader
from transmitter.latency import BoothStage, upload_seconds
from transmitter.outbox import (
    DEFAULT_DEAD_LETTER_AGE,
    Outbox,
    OutboxStatus,
    booth_db_url,
    clear_expired_images,
    open_outbox_engine,
    read_status,
)
from transmitter.settings import COLLECTOR, TransmitterSettings

log = logging.getLogger("cabine.transmitter")

JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
DRAIN_JOB = "drain"
WAKE_UP_JOB = "wake-up"
IMAGES_JOB = "clear-expired-images"
# Real seconds between looks for images the booth no longer needs (a cheap indexed query).
IMAGES_SWEEP_SECONDS = 60.0


class AnotherTransmitterRunning(RuntimeError):
    """A second transmitter on the same booth database would fight over its rows."""


@dataclass(frozen=True)
class TransmitterConfig:
    """``collector_url`` set: files to the collector; else bare numbers to ``registry_url``."""

    outbox_url: str
    registry_url: str
    keys: Mapping[str, bytes]
    collector_url: str | None = None
    uplink_kbps: float = 0.0
    files_per_upload: int = 20
    upload_max_bytes: int = 2_000_000
    batch_size: int = 200
    parallel_uploads: int = 2
    poll_seconds: float = 5.0
    request_timeout_seconds: float = 10.0
    lease_seconds: float = 120.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 60.0
    dead_letter_age: timedelta = DEFAULT_DEAD_LETTER_AGE
    stage: BoothStage = BoothStage()

    @property
    def sends_files(self) -> bool:
        return self.collector_url is not None

    @property
    def destination_url(self) -> str:
        return self.collector_url if self.collector_url is not None else self.registry_url

    @property
    def effective_lease_seconds(self) -> float:
        """The lease, long enough for the largest upload over the uplink (twice over), so a
        slow upload is not taken back while it is still on its way."""
        if not self.sends_files:
            return self.lease_seconds
        longest = self.request_timeout_seconds + upload_seconds(
            self.upload_max_bytes, self.uplink_share_kbps
        )
        return max(self.lease_seconds, 2 * longest)

    @property
    def uplink_share_kbps(self) -> float:
        """What one upload gets of the uplink: the uploads in flight at once share it."""
        return self.uplink_kbps / self.parallel_uploads


KEYS_FILE = "keys.toml"


def load_booth_keys(path: Path) -> dict[str, bytes]:
    """Booth signing secrets from the registry's keys file (``ephoto.wire`` reads it, so the
    booth and the registry can never disagree on the key's encoding)."""
    keys = {booth_id: key.secret for booth_id, key in wire_keys(path).items()}
    if not keys:
        raise BoothKeysError(
            f"{path} has no [booths.BOOTH_ID] table with a key: add one with `cabine booth-key`"
        )
    return keys


def config_from_settings(
    settings: TransmitterSettings,
    data_dir: Path,
    registry_url: str | None = None,
    collector_url: str | None = None,
) -> TransmitterConfig:
    """The transmitter's configuration from its settings section and the data folder.

    ``collector_url`` (files to that collector) or ``registry_url`` (bare numbers to that
    registry) override the settings' destination; giving both is an error.
    """
    if registry_url and collector_url:
        raise ValueError("give --collector (files) or --registry (bare numbers), not both")
    if collector_url:
        collector: str | None = collector_url
    elif registry_url:
        collector = None
    else:
        collector = settings.collector_url if settings.destination == COLLECTOR else None
    keys_file = settings.keys_file or Path(data_dir) / KEYS_FILE
    return TransmitterConfig(
        outbox_url=settings.outbox_url or booth_db_url(Path(data_dir)),
        registry_url=registry_url or settings.registry_url,
        collector_url=collector,
        uplink_kbps=settings.uplink_kbps,
        files_per_upload=settings.files_per_upload,
        upload_max_bytes=settings.upload_max_bytes,
        keys=load_booth_keys(keys_file),
        batch_size=settings.batch_size,
        parallel_uploads=settings.parallel_uploads,
        poll_seconds=settings.poll_seconds,
        request_timeout_seconds=settings.request_timeout_seconds,
        lease_seconds=settings.lease_seconds,
        backoff_base_seconds=settings.backoff_base_seconds,
        backoff_cap_seconds=settings.backoff_cap_seconds,
        dead_letter_age=timedelta(days=settings.dead_letter_days),
        stage=BoothStage(batch_window=timedelta(minutes=settings.batch_window_minutes)),
    )


def booth_status(outbox_url: str, clock: Clock, dead_letter_age: timedelta) -> OutboxStatus:
    """The outbox status for ``cabine transmitter status``; never creates a database."""
    if outbox_url.startswith("sqlite:///"):
        path = Path(outbox_url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise FileNotFoundError(f"no booth database at {path}")
    engine = create_engine(outbox_url)
    try:
        return read_status(engine, clock.now(), dead_letter_age)
    finally:
        engine.dispose()


def single_worker_lock(outbox_url: str) -> IO[str] | None:
    """On a booth's SQLite outbox, take the lock file that makes this the only transmitter.

    The kernel drops the lock when the holder dies, even by SIGKILL, so the next transmitter
    knows every lease in the file belongs to a dead process and may take the rows back at once.
    PostgreSQL outboxes are shared by design and need no lock (leases expire instead).
    """
    if not outbox_url.startswith("sqlite:///"):
        return None
    path = Path(outbox_url.removeprefix("sqlite:///") + ".transmitter.lock")
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AnotherTransmitterRunning(
            f"another transmitter already holds {path}; one transmitter per booth database"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class Transmitter:
    """Owns the outbox engine, the uploader and the scheduler of one transmitter process."""

    def __init__(self, config: TransmitterConfig, clock: Clock, engine: Engine | None = None):
        self.config = config
        self.clock = clock
        self._lock_file = single_worker_lock(config.outbox_url)
        self.engine = engine or open_outbox_engine(config.outbox_url)
        self.outbox = Outbox(self.engine)
        if self._lock_file is not None:
            back = self.outbox.release_leases()
            if back:
                log.info("took back %d rows claimed by a transmitter that stopped", back)
        self.stop_event = threading.Event()
        self.uploader = Uploader(
            config.destination_url,
            config.keys,
            clock,
            timeout_seconds=config.request_timeout_seconds,
            uplink_kbps=config.uplink_share_kbps if config.sends_files else 0.0,
        )
        self.dispatcher = Dispatcher(
            self.outbox,
            self.uploader,
            clock,
            batch_size=config.files_per_upload if config.sends_files else config.batch_size,
            files=config.sends_files,
            max_upload_bytes=config.upload_max_bytes,
            parallel_uploads=config.parallel_uploads,
            stage=config.stage,
            lease_seconds=config.effective_lease_seconds,
            dead_letter_age=config.dead_letter_age,
            backoff=Backoff(config.backoff_base_seconds, config.backoff_cap_seconds),
            stop=self.stop_event,
        )
        self.report = DrainReport()
        self.missed_runs = 0
        self.scheduler: BackgroundScheduler | None = None

    # -- one pass ---------------------------------------------------------------------------

    def drain_once(self) -> DrainReport:
        report = self.dispatcher.drain()
        self.report.add(report)
        return report

    def run_once(self, max_failures: int = 5) -> DrainReport:
        """Send what is due now, then return. A failing registry is tried again after its
        backoff, up to ``max_failures`` failures in a row; what is left waits for the next run."""
        total = DrainReport()
        while not self.stop_event.is_set():
            total.add(self.drain_once())
            failures = self.dispatcher.backoff.failures
            if failures == 0:
                offline = self.config.stage.offline_until(self.clock.now()) is not None
                if offline or not self._due_now():
                    break
                continue
            if failures >= max_failures:
                break
            self.stop_event.wait(self.dispatcher.backoff.wait_seconds())
        return total

    def _due_now(self) -> bool:
        next_due = self.outbox.next_due_at()
        return next_due is not None and next_due <= self.clock.now()

    # -- the scheduled service ----------------------------------------------------------------

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            self.missed_runs += 1
            log.error("run of %s at %s was missed", event.job_id, event.scheduled_run_time)
        elif event.exception is not None:
            log.error("run of %s failed: %r", event.job_id, event.exception)

    def clear_expired_images(self) -> int:
        """Clear the images of files the collector has whose numbers have expired
        (``transmitter.outbox.clear_expired_images``), on the booth's clock."""
        cleared = clear_expired_images(self.engine, self.clock.now())
        if cleared:
            log.info("cleared the photo and signature of %d expired numbers", cleared)
        return cleared

    def _scheduled_drain(self) -> None:
        try:
            self.drain_once()
        finally:
            self._set_wake_up()

    def _set_wake_up(self) -> None:
        if self.scheduler is None or self.stop_event.is_set():
            return
        wait = self.dispatcher.next_wake_seconds()
        if wait is None or wait >= self.config.poll_seconds:
            return  # the interval job comes first
        # APScheduler triggers run on the real wall clock; domain time was already converted.
        run_at = datetime.now(UTC) + timedelta(seconds=wait)
        self.scheduler.add_job(
            self._scheduled_drain,
            "date",
            run_date=run_at,
            id=WAKE_UP_JOB,
            replace_existing=True,
        )

    def start(self) -> BackgroundScheduler:
        # A run that finds the previous one still draining is skipped on purpose
        # (max_instances=1): the running drain takes what is due. APScheduler would log each.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults=dict(JOB_DEFAULTS))
        scheduler.add_listener(self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        scheduler.add_job(
            self._scheduled_drain,
            "interval",
            seconds=self.config.poll_seconds,
            id=DRAIN_JOB,
            next_run_time=datetime.now(UTC),
        )
        if self.config.sends_files:
            scheduler.add_job(
                self.clear_expired_images,
                "interval",
                seconds=IMAGES_SWEEP_SECONDS,
                id=IMAGES_JOB,
                next_run_time=datetime.now(UTC),
            )
        self.scheduler = scheduler
        scheduler.start()
        if self.config.sends_files:
            log.info(
                "transmitter started: outbox %s, files to the collector %s, uploads of at most "
                "%d files and %d bytes, uplink %s",
                self.engine.url.render_as_string(hide_password=True),
                self.config.destination_url,
                self.config.files_per_upload,
                self.config.upload_max_bytes,
                f"{self.config.uplink_kbps:g} kbit/s" if self.config.uplink_kbps else "unlimited",
            )
        else:
            log.info(
                "transmitter started: outbox %s, numbers to the registry %s, batches of %d",
                self.engine.url.render_as_string(hide_password=True),
                self.config.registry_url,
                self.config.batch_size,
            )
        return scheduler

    def stop(self) -> None:
        """Let the batch in flight finish and be recorded, then stop."""
        self.stop_event.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.close()

    def close(self) -> None:
        self.dispatcher.close()
        self.uploader.close()
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def hold_stop_signals() -> None:
    """Keep SIGTERM and SIGINT pending while the transmitter starts, so a stop asked for during
    start-up is a clean stop too (``run_until_signalled`` releases them)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def run_until_signalled(transmitter: Transmitter) -> DrainReport:
    """Run the scheduled transmitter until SIGTERM or SIGINT, then stop cleanly: the batch in
    flight is finished and recorded."""
    stop = threading.Event()

    def _ask_stop(signum: int, _frame: object) -> None:
        log.info("signal %d received: finishing the batch in flight", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _ask_stop) for sig in STOP_SIGNALS}
    freeze_startup_objects()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        transmitter.start()
        while not stop.wait(1.0):
            pass
    finally:
        transmitter.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return transmitter.report
