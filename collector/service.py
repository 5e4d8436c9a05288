"""The collector's background work: registering received numbers with the state, and deleting
photos and signatures at the end of retention.

Registration reuses the booth's transmitter as it is: the collector's outbox is
``transmitter.outbox``'s table in the collector's own database, filled in the same transaction
as each file, and drained by ``transmitter.service.Transmitter`` (APScheduler, signed batches to
``POST /v1/batches``, backoff, leases) signing as booth ``collector-<PREFIX>``. Retention is one
more APScheduler interval job on the collector's clock (the shared clock plus the QA offset).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from collector.settings import CollectorSettings, collector_id
from collector.store import CollectorStore
from ephoto.clock import Clock
from transmitter.latency import BoothStage
from transmitter.service import JOB_DEFAULTS, Transmitter, TransmitterConfig

log = logging.getLogger("cabine.collector")

RETENTION_JOB = "retention"


def registration_config(
    settings: CollectorSettings, db_url: str, prefix: str, secret: bytes
) -> TransmitterConfig:
    return TransmitterConfig(
        outbox_url=db_url,
        registry_url=settings.registry_url,
        keys={collector_id(prefix): secret},
        batch_size=settings.registration_batch_size,
        poll_seconds=settings.registration_poll_seconds,
        request_timeout_seconds=settings.request_timeout_seconds,
        # Rows are enqueued with their own not_before (receipt plus the window).
        stage=BoothStage(batch_window=timedelta(0)),
    )


def sweep_retention(store: CollectorStore, clock: Clock) -> int:
    """Delete the images of every file whose retention ended by the collector's "now"; forget
    the nonces of stale signatures on the way."""
    store.forget_nonces(clock.now())
    now = store.now(clock)
    deleted = store.delete_expired(now)
    if deleted:
        log.info("retention: deleted the photo and signature of %d file(s)", deleted)
    return deleted


class CollectorJobs:
    """The registration transmitter and the retention job of one collector."""

    def __init__(
        self,
        settings: CollectorSettings,
        db_url: str,
        clock: Clock,
        prefix: str,
        registration_secret: bytes,
    ):
        self.settings = settings
        self.clock = clock
        self.store = CollectorStore.from_url(db_url)
        config = registration_config(settings, db_url, prefix, registration_secret)
        self.transmitter = Transmitter(config, clock, engine=self.store.engine)
        self.scheduler: BackgroundScheduler | None = None

    def sweep(self) -> int:
        return sweep_retention(self.store, self.clock)

    def start(self) -> None:
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults=dict(JOB_DEFAULTS))
        scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.settings.retention_sweep_seconds,
            id=RETENTION_JOB,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self.scheduler = scheduler
        self.transmitter.start()

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.transmitter.stop()  # finishes the batch in flight; disposes the engine
