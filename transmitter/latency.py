"""The booth stage of the activation delay: codes wait for a batching window before they leave.

The other stage, the registry's ingestion backlog, lives in ``registry.ingestion``. The simulator
imports both, so live runs and simulations share one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ephoto.clock import ensure_utc

DEFAULT_BATCH_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class BoothStage:
    batch_window: timedelta = DEFAULT_BATCH_WINDOW

    def not_before(self, issued_at: datetime) -> datetime:
        """The earliest time a code may be uploaded."""
        return ensure_utc(issued_at) + self.batch_window
