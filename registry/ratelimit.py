"""Rate limits on the citizen API: failed checks per client address, and all checks together.

Numbers are guessed by trying many of them, and each wrong guess is a failed check, so the per
client budget counts failures only: a citizen who checks a good number is never slowed down,
and a client that used up its failures is refused every check until the window ends.

Windows run on the wall clock, not the registry's domain clock, on purpose: the limits protect
the real service against real traffic, so a scaled demo clock or a QA clock jump must neither
reset them nor stretch them. (The ``limits`` library only knows wall time anyway.)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter


class SweepingMemoryStorage(MemoryStorage):
    """limits' memory storage without its timer thread.

    The stock one starts a new ``threading.Timer`` whenever the last one has finished (10 ms),
    so under steady traffic nearly every request paid for a thread start. Fixed-window counters
    already expire lazily when read; the sweep that frees memory runs inline at most once a
    second instead.
    """

    SWEEP_EVERY_SECONDS = 1.0

    def __init__(self, uri: str | None = None, **options: Any):
        super().__init__(uri, **options)
        self._last_sweep = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the timer thread
        now = time.monotonic()
        if now - self._last_sweep >= self.SWEEP_EVERY_SECONDS:
            self._last_sweep = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def make_storage(url: str) -> Storage:
    if url.startswith("memory://"):
        return SweepingMemoryStorage(url)
    storage = storage_from_string(url)
    if not isinstance(storage, Storage):
        raise ValueError(f"rate_limit_storage {url!r} is an asyncio storage; use a synchronous one")
    return storage


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused and how many seconds to wait (``Retry-After``)."""

    scope: str  # "client" or "global"
    retry_after: int


class CitizenLimits:
    def __init__(self, failed_per_client: str, global_limit: str, storage_url: str = "memory://"):
        self._storage = make_storage(storage_url)
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._per_client = parse(failed_per_client)
        self._global = parse(global_limit)

    def admit(self, client: str) -> Refusal | None:
        """None if ``client`` may make a check now; counts the check against the global limit."""
        if not self._limiter.test(self._per_client, "failed", client):
            return Refusal("client", self._retry_after(self._per_client, "failed", client))
        if not self._limiter.hit(self._global, "all"):
            return Refusal("global", self._retry_after(self._global, "all"))
        return None

    def record_failure(self, client: str) -> None:
        self._limiter.hit(self._per_client, "failed", client)

    def _retry_after(self, item, *identifiers: str) -> int:  # type: ignore[no-untyped-def]
        reset = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def reset(self) -> None:
        self._storage.reset()
