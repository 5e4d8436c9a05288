"""How long an ePhoto number lives: active within 72 h (the operator's promise), usable once,
for 6 calendar months after issue (Europe/Paris); and which issue times the state accepts at all
(the collector refuses at upload what the state would refuse at registration)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from ephoto.clock import PARIS, ensure_utc

ACTIVATION_PROMISE = timedelta(hours=72)
"""The operator's promise: a number works on ANTS/ANEF at most this long after purchase.
It is also the support desk's threshold: no refund claim before it has passed."""

VALIDITY_MONTHS = 6

ISSUED_AT_MAX_AHEAD = timedelta(seconds=300)
"""How far after the receiver's "now" an issue time may be: the drift two honest clocks may
have (the same 300 s a request's signature is given). Further ahead, the booth's clock is wrong."""

ISSUED_AT_MAX_AGE = timedelta(days=730)
"""How long before the receiver's "now" an issue time may be: four times a number's 6-month
validity, room for a booth offline for months and for QA clock jumps; anything older (year 1,
1970) is a booth's clock gone wrong, refused rather than stored."""

IssueTimeProblem = Literal["ahead", "behind"]


def accepted_issue_times(now: datetime) -> tuple[datetime, datetime]:
    """The earliest and the latest issue time the state accepts when its clock reads ``now``."""
    now = ensure_utc(now)
    return now - ISSUED_AT_MAX_AGE, now + ISSUED_AT_MAX_AHEAD


def issue_time_problem(issued_at: datetime, now: datetime) -> IssueTimeProblem | None:
    """Why the state refuses a number issued at ``issued_at`` when its clock reads ``now``:
    ``ahead`` (more than :data:`ISSUED_AT_MAX_AHEAD` in its future), ``behind`` (more than
    :data:`ISSUED_AT_MAX_AGE` in its past), or None when it accepts it. The registry judges
    with it at registration, the collector at upload, so no file is sealed for a number the
    state will refuse."""
    earliest, latest = accepted_issue_times(now)
    issued = ensure_utc(issued_at)
    if issued > latest:
        return "ahead"
    if issued < earliest:
        return "behind"
    return None


def add_calendar_months(local: datetime, months: int) -> datetime:
    """Same wall-clock time ``months`` later, same ``tzinfo``; the day is clamped to the
    month's end (31 August + 6 months = 28 or 29 February)."""
    month_index = local.month - 1 + months
    year = local.year + month_index // 12
    month = month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    # The constructor rather than replace(): a third of the cost, on a path every stored
    # code takes. fold=0 picks the first of two repeated autumn hours.
    return datetime(
        year, month, day, local.hour, local.minute, local.second, local.microsecond, local.tzinfo
    )


def expires_at(issued_at: datetime) -> datetime:
    """The first instant at which the number is refused as expired (UTC).

    Computed on the Paris calendar: a number issued on 31/08 at 10:00 Paris time stops working
    on the last day of February at 10:00 Paris time. A local time that does not exist that day
    (the spring DST gap) moves forward by the gap, as the law of the clock on the wall does.

    Within one UTC hour the Paris date and offset of the issue, and the offset at the same wall
    time six months on, do not change (Paris offsets are whole hours), so the rule moves every
    instant of that hour by the same amount: it is worked out once per hour and remembered
    (the registry computes it for every code it stores).
    """
    issued = ensure_utc(issued_at)
    if issued.year < _WHOLE_HOUR_OFFSETS_SINCE:
        return _expiry_on_the_calendar(issued)
    return issued + _expiry_shift(issued.year, issued.month, issued.day, issued.hour)


# Before 1911 Paris kept its own mean time (+00:09:21), not a whole number of hours from UTC.
_WHOLE_HOUR_OFFSETS_SINCE = 1912


@lru_cache(maxsize=8192)
def _expiry_shift(year: int, month: int, day: int, hour: int) -> timedelta:
    start = datetime(year, month, day, hour, tzinfo=UTC)
    return _expiry_on_the_calendar(start) - start


def _expiry_on_the_calendar(issued: datetime) -> datetime:
    local = issued.astimezone(PARIS)
    target = add_calendar_months(local, VALIDITY_MONTHS)
    # Round-trip through UTC normalises a non-existent local time to a real instant.
    return target.astimezone(UTC)


def is_expired(issued_at: datetime, now: datetime) -> bool:
    return ensure_utc(now) >= expires_at(issued_at)


def activation_due_by(issued_at: datetime) -> datetime:
    """When the operator promises the number will work at the latest."""
    return ensure_utc(issued_at) + ACTIVATION_PROMISE
