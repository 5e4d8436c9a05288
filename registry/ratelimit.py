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

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused and how many seconds to wait (``Retry-After``)."""

    scope: str  # "client" or "global"
    retry_after: int


class CitizenLimits:
    def __init__(self, failed_per_client: str, global_limit: str, storage_url: str = "memory://"):
        self._storage = storage_from_string(storage_url)
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
