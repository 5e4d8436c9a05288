"""The fleet simulator: a season of sales, transmissions, registrations and customer attempts.

Time is a virtual clock in hours after midnight (Paris) of the scenario's first day, held in
numpy arrays, so a national summer of millions of codes runs in seconds. The delays come from
the live system's own models, imported: the booth stage (``transmitter.latency``), the
registry's FIFO and base delay (``registry.ingestion``), the validity rule (``ephoto.validity``)
and the code rules (``ephoto.code``). The same seed gives the same run.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from ephoto import code as codes
from ephoto.clock import PARIS
from ephoto.validity import ACTIVATION_PROMISE, expires_at
from ephoto.vocabulary import CodeState
from registry.citizen import MALFORMED as MALFORMED_ANSWER
from registry.citizen import NOT_FOUND as NOT_FOUND_ANSWER
from registry.citizen import is_wire_code
from registry.ingestion import capacity_schedule, processing_times
from simulation.booths import departure_hours, sample_outages
from simulation.figures import delay_figures as work_out_delay_figures
from simulation.figures import stage_split
from simulation.scenario import Scenario
from transmitter.latency import BoothStage, upload_seconds

PROMISE_HOURS = ACTIVATION_PROMISE.total_seconds() / 3600

STAGES = ("demand", "booths", "registry", "citizens", "support", "metrics")

# What the registry answers a citizen (DESIGN section 4, step 5).
NOT_FOUND, MALFORMED, ACTIVE, USED, EXPIRED = range(5)
OUTCOMES = (
    NOT_FOUND_ANSWER,
    MALFORMED_ANSWER,
    CodeState.ACTIVE.value,
    CodeState.USED.value,
    CodeState.EXPIRED.value,
)

# How a typed text relates to the code it was meant to be, decided once per distinct text by
# the registry's own check (``registry.citizen.is_wire_code``, which applies the code rules,
# check character included): refused as malformed (the answer says which rule), or looked up,
# where it is either the code itself or a text the registry never stored (not_found).
_TEXT_MALFORMED, _TEXT_UNKNOWN, _TEXT_IS_CODE = range(3)

# Typed forms: bit 0 lowercase, bit 1 one confusable swapped.
_CORRECT, _LOWER, _SWAP, _LOWER_SWAP = range(4)

CODE_POOL = 2048
"""Distinct real codes a run draws. A run with more sales reuses them cyclically for the typing
rules only; every sale keeps its own times and state."""


@dataclass(frozen=True)
class TypedForms:
    """The real codes of a run and how the registry's rules see each way of typing them."""

    codes: list[str]
    texts: list[tuple[str, str, str, str]]
    kind: np.ndarray  # (pool, 4) of _TEXT_*


def registry_view_of(text: str, meant: str) -> int:
    """How the registry's citizen check sees ``text`` typed for the code ``meant``."""
    typed = codes.normalize(text)
    # The registry answers malformed exactly when its check finds a problem, that is when the
    # text fails the whole test a valid code takes (the answer's wording is not needed here).
    if not is_wire_code(typed, codes.DEFAULT_PREFIX):
        return _TEXT_MALFORMED
    return _TEXT_IS_CODE if typed == meant else _TEXT_UNKNOWN


@lru_cache(maxsize=4)
def typed_forms(seed: int, count: int) -> TypedForms:
    generator = codes.SeededCodeGeneratorForSimulation(seed)
    rng = np.random.default_rng([seed, 17])
    pool, texts, kinds = [], [], []
    for _ in range(count):
        value = generator.next_code().value
        swaps = list(codes._single_swaps(value[codes.PREFIX_LENGTH :]))
        swapped = (
            value[: codes.PREFIX_LENGTH] + swaps[int(rng.integers(len(swaps)))] if swaps else value
        )
        forms = (value, value.lower(), swapped, swapped.lower())
        pool.append(value)
        texts.append(forms)
        kinds.append([registry_view_of(text, value) for text in forms])
    return TypedForms(pool, texts, np.array(kinds, dtype=np.int8).reshape(count, 4))


@dataclass(frozen=True)
class FleetRun:
    """Everything a run produced; arrays are per ePhoto sale in order of issue."""

    scenario: Scenario
    issued_hours: np.ndarray
    booth: np.ndarray
    day: np.ndarray
    received_hours: np.ndarray
    registry_wait_hours: np.ndarray
    active_hours: np.ndarray
    backlog_times: np.ndarray
    backlog: np.ndarray
    backlog_max: int
    attempts: dict[str, int]
    claims: dict[str, int]
    claim_reasons: dict[str, int]
    other_sales: int
    wrong_product_sales: int
    reports: int
    wall_seconds: float
    extras: dict[str, float] = field(default_factory=dict)
    # When each code left its booth (after its batch window and any outage), reached the
    # collector (its file uploaded) and left the registry's queue; None in runs made by hand.
    departed_hours: np.ndarray | None = None
    uploaded_hours: np.ndarray | None = None
    processed_hours: np.ndarray | None = None
    # ``metrics.json``'s delay figures, being worked out on a thread (``simulate(...,
    # figures=True)``); None: ``metrics`` works them out.
    delay_figures: Future[dict[str, Any]] | None = None

    @property
    def activation_hours(self) -> np.ndarray:
        return self.active_hours - self.issued_hours

    def stage_times(self) -> tuple[np.ndarray, ...] | None:
        """When each code was issued, uploaded, received, processed and active: the bounds of
        the stages of :meth:`stage_hours`; None in runs made by hand."""
        if self.uploaded_hours is None or self.processed_hours is None:
            return None
        return (
            self.issued_hours,
            self.uploaded_hours,
            self.received_hours,
            self.processed_hours,
            self.active_hours,
        )

    def stage_hours(self) -> dict[str, np.ndarray]:
        """The activation delay of each code split by stage (``simulation.figures.stage_split``)."""
        assert self.uploaded_hours is not None and self.processed_hours is not None
        return stage_split(
            self.issued_hours,
            self.uploaded_hours,
            self.received_hours,
            self.processed_hours,
            self.active_hours,
        )


@dataclass(frozen=True)
class RegistryDone:
    """What a run knows once the registry has answered every code, handed to ``simulate``'s
    ``on_registry`` (the report's plots need nothing more); arrays in order of issue."""

    scenario: Scenario
    day: np.ndarray
    activation_hours: np.ndarray
    backlog_times: np.ndarray
    backlog: np.ndarray
    backlog_max: int


@dataclass(frozen=True)
class LocalHours:
    """The hours each simulated day really has on the Paris clock, DST-exact.

    A day has 24 hours, 23 on the last Sunday of March (02:00 to 03:00 does not exist) and 25 on
    the last Sunday of October (02:00 to 03:00 happens twice). ``start[d, k]`` is when the day's
    k-th real hour begins (hours after the origin) and ``label[d, k]`` what the wall clock reads
    then (0-23); slots past the day's last hour hold NaN and -1.
    """

    start: np.ndarray  # (days, 25) float
    label: np.ndarray  # (days, 25) int
    noon: np.ndarray  # (days,) hours after the origin of each day's 12:00
    months: list[int]


def local_hours(scenario: Scenario) -> LocalHours:
    origin = scenario.origin
    days = scenario.run.days
    start = np.full((days, 25), np.nan)
    label = np.full((days, 25), -1, dtype=np.int64)
    noon = np.empty(days)
    months = []
    for d in range(days):
        day = scenario.run.start + timedelta(days=d)
        following = day + timedelta(days=1)
        months.append(day.month)
        # Midnight exists every day in Paris (the clock changes at 02:00 or 03:00).
        midnight = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
        next_midnight = datetime(
            following.year, following.month, following.day, tzinfo=PARIS
        ).astimezone(UTC)
        first = (midnight - origin).total_seconds() / 3600
        for k in range(round((next_midnight - midnight).total_seconds() / 3600)):
            start[d, k] = first + k
            label[d, k] = (midnight + timedelta(hours=k)).astimezone(PARIS).hour
        twelve = datetime(day.year, day.month, day.day, 12, tzinfo=PARIS).astimezone(UTC)
        noon[d] = (twelve - origin).total_seconds() / 3600
    return LocalHours(start, label, noon, months)


def _hourly_weights(scenario: Scenario) -> np.ndarray:
    weights = np.zeros(24)
    for key, value in scenario.demand.hourly_profile.items():
        weights[int(key)] = value
    return weights / weights.sum()


def _slot_rates(hours: LocalHours, weights: np.ndarray, per_day: np.ndarray) -> np.ndarray:
    """Expected sales in each real hour of each day, ``(days, 25)``: the day's sales times the
    profile's weight of the hour's wall-clock label. The hour that does not exist in March
    sells nothing, the October hour that happens twice sells its share twice."""
    labelled = hours.label >= 0
    return np.where(labelled, weights[np.where(labelled, hours.label, 0)], 0.0) * per_day[:, None]


def poisson_arrivals(
    rng: np.random.Generator, starts: np.ndarray, rates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson process with rate ``rates[s]`` per hour over the hour ``[starts[s], starts[s]
    + 1)``: (arrival times in order, the hour each falls in).

    Drawn by time change: the points of a unit-rate process (cumulative sums of exponential
    draws) mapped through the inverse of the cumulative intensity, which is linear within each
    hour. The counts per hour are Poisson and the times within an hour uniform, as drawing the
    counts and then the times would give, but already sorted: no sort of millions of values.
    ``starts`` must increase by at least one hour from one entry to the next."""
    selling = np.flatnonzero(rates > 0)
    if selling.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    rate = rates[selling]
    before = np.concatenate(([0.0], np.cumsum(rate)))  # intensity before each selling hour
    total = float(before[-1])
    # Enough unit-rate points to pass the total intensity (many standard deviations above its
    # mean); in the rare case they fall short, more are drawn.
    chunks, reached = [], 0.0
    while reached <= total:
        extra = max(total - reached, 0.0)
        size = int(extra + 8.0 * math.sqrt(extra) + 64)
        points = rng.standard_exponential(size)
        np.cumsum(points, out=points)
        points += reached
        chunks.append(points)
        reached = float(points[-1])
    points = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    points = points[: int(np.searchsorted(points, total, side="right"))]
    # The points are sorted: each selling hour s takes those in [before_s, before_s+1).
    counts = np.diff(np.searchsorted(points, before, side="left"))
    # Within a selling hour s: t = start_s + (point - before_s) / rate_s.
    scale = 1.0 / rate
    offset = starts[selling] - before[:-1] * scale
    times = points  # reused in place
    times *= np.repeat(scale, counts)
    times += np.repeat(offset, counts)
    # Rounding at an hour's end could put a time an ulp past the next hour's first one.
    np.maximum.accumulate(times, out=times)
    return times, np.repeat(selling, counts)


def _expiry_offsets(scenario: Scenario, hours: LocalHours) -> np.ndarray:
    """Hours from issue to expiry for a sale each day. The 6 calendar months of
    ``ephoto.validity`` give the same offset to every opening hour of a day."""
    origin = scenario.origin
    offsets = np.empty(scenario.run.days)
    for d in range(scenario.run.days):
        issued = origin + timedelta(hours=float(hours.noon[d]))
        offsets[d] = (expires_at(issued) - issued).total_seconds() / 3600
    return offsets


def _delays(rng: np.random.Generator, spec, size: int) -> np.ndarray:
    if spec.kind == "fixed":
        return np.full(size, spec.median_hours)
    if spec.kind == "exponential":
        return rng.exponential(spec.median_hours / np.log(2), size)
    sigma = np.log(spec.p95_hours / spec.median_hours) / 1.6448536269514722
    return rng.lognormal(np.log(spec.median_hours), sigma, size)


def simulate(
    scenario: Scenario,
    on_stage: Callable[[str], None] | None = None,
    *,
    figures: bool = False,
    on_registry: Callable[[RegistryDone], None] | None = None,
) -> FleetRun:
    """Run ``scenario``; ``on_stage`` is told as each of :data:`STAGES` finishes. ``figures``:
    work out the delay figures of ``metrics.json`` on a thread while the citizens and the
    support desk are simulated (for a caller that writes the report). ``on_registry`` is
    called once the registry has answered, before the citizens are simulated."""
    started = time.perf_counter()

    def done(stage: str) -> None:
        if on_stage is not None:
            on_stage(stage)

    streams = np.random.SeedSequence(scenario.run.seed).spawn(5)
    demand_rng, booth_rng, registry_rng, citizen_rng, support_rng = (
        np.random.default_rng(s) for s in streams
    )
    days, booths = scenario.run.days, scenario.fleet.booths
    demand = scenario.demand

    # Demand: Poisson sales at each booth, at the same rate for every booth, by the month's
    # season and the hourly profile of the real hours of each day (DST-exact). The fleet's sales
    # are their superposition, a Poisson process at the sum of the rates, each sale at a booth
    # drawn uniformly: drawn in time order, nothing to sort.
    hours = local_hours(scenario)
    weights = _hourly_weights(scenario)
    season = np.array([demand.season_factor(m) for m in hours.months])
    # Booth-days of selling in each real hour: booths x season x the profile's weight.
    booth_days = _slot_rates(hours, weights, season * booths)
    issued, slot = poisson_arrivals(
        demand_rng,
        np.nan_to_num(hours.start).ravel(),
        booth_days.ravel() * demand.ephoto_per_booth_day,
    )
    n = issued.size
    day = (slot // hours.label.shape[1]).astype(np.int32)
    booth = demand_rng.integers(0, booths, n, dtype=np.int32)
    other_sales = int(demand_rng.poisson(float(booth_days.sum()) * demand.other_per_booth_day))
    wrong_product = int(demand_rng.binomial(other_sales, demand.wrong_product_share))
    # Work that needs only the sales, done on threads while the stages below run here: the
    # citizens' codes (plain Python: code rules, check characters) on one; on the other, the
    # draws of the registry's base delays, of how and when each buyer first types the number,
    # and each number's expiry (numpy fills them without holding the interpreter). Each stage
    # has its own random stream, drawn in the same order whichever thread draws it. The same
    # two threads work out the delay figures once the registry has answered.
    pool_size = max(1, min(n, CODE_POOL))
    helpers = ThreadPoolExecutor(2, thread_name_prefix="fleet-helper")
    forms_ready = helpers.submit(typed_forms, scenario.run.seed, pool_size)
    # The support desk's rules (the catalogue, the refund rules) are loaded beside the run.
    helpers.submit(importlib.import_module, "simulation.claims")
    model = scenario.registry.ingestion_model()
    base_delays = helpers.submit(model.base_delay.sample_hours, registry_rng, n)
    first_draws = helpers.submit(_first_attempts, scenario, citizen_rng, issued, pool_size)
    expiry = helpers.submit(_expiries, scenario, hours, day, issued)
    del slot
    done("demand")

    # Booth stage: each code waits for its batch window (and, in scenarios, outages) to leave.
    stage = BoothStage(batch_window=timedelta(minutes=scenario.booth.batch_window_minutes))
    departed = issued + stage.batch_window.total_seconds() / 3600
    departed = _apply_outages(scenario, booth_rng, booth, departed)
    # The file's bytes over the booth's uplink, one upload after the other, to the collector;
    # it registers the number with the state once its registration window has passed.
    uploaded = uploaded_hours(
        departed, booth, scenario.booth.uplink_kbps, scenario.booth.file_bytes
    )
    received = uploaded + scenario.collector.registration_window_minutes / 60
    done("booths")

    # Registry: FIFO at the month's capacity, then the base delay.
    # Codes reach the registry in order of issue unless an outage or the uplink held some back:
    # then they are put in order of arrival, and the answers put back in order of issue.
    in_order = n < 2 or bool((received[1:] >= received[:-1]).all())
    by_arrival = None if in_order else np.argsort(received, kind="stable")
    arrivals = received if by_arrival is None else received[by_arrival]
    horizon = scenario.end + timedelta(days=800)
    starts, ends = processing_times(
        arrivals, capacity_schedule(model.capacity, scenario.origin, horizon)
    )
    active_sorted = base_delays.result()
    active_sorted += ends
    backlog_max = longest_queue(arrivals, ends)
    last = float(ends[-1]) if n else 0.0
    backlog_times = np.arange(0.0, max(last, days * 24.0) + 1.0, 1.0)
    backlog = np.searchsorted(arrivals, backlog_times, side="right") - np.searchsorted(
        ends, backlog_times, side="right"
    )
    pending_mean = _time_average_pending(arrivals, active_sorted)
    waited = np.subtract(starts, arrivals, out=starts)
    if by_arrival is None:
        active, wait, processed = active_sorted, waited, ends
    else:
        # Back in order of issue, each into a buffer of this stage that its values have left
        # (arrivals here are a reordered copy): no new memory for millions of values.
        processed = arrivals
        processed[by_arrival] = ends
        wait = ends
        wait[by_arrival] = waited
        active = waited
        active[by_arrival] = active_sorted
    del starts, ends, arrivals, by_arrival, waited, active_sorted
    delay_figures = None
    # One array of activation delays for the figures and the plots, when either is wanted.
    activation = active - issued if figures or on_registry is not None else None
    if figures:
        assert activation is not None
        delay_figures = helpers.submit(
            _delay_figures,
            scenario,
            activation,
            (issued, uploaded, received, processed, active),
            wait,
            day,
        )
    helpers.shutdown(wait=False)  # nothing more to hand over: the threads end with their work
    if on_registry is not None:
        assert activation is not None
        on_registry(RegistryDone(scenario, day, activation, backlog_times, backlog, backlog_max))
    done("registry")

    expires = expiry.result()
    attempts, refused, last_attempt, forms, pool = _citizens(
        scenario, citizen_rng, active, expires, forms_ready, first_draws
    )
    done("citizens")

    claims, claim_reasons, reports = _support(
        scenario,
        support_rng,
        issued,
        active,
        expires,
        refused,
        last_attempt,
        forms,
        pool,
        wrong_product,
    )
    done("support")

    return FleetRun(
        scenario=scenario,
        issued_hours=issued,
        booth=booth,
        day=day,
        received_hours=received,
        registry_wait_hours=wait,
        departed_hours=departed,
        uploaded_hours=uploaded,
        processed_hours=processed,
        active_hours=active,
        backlog_times=backlog_times,
        backlog=backlog,
        backlog_max=backlog_max,
        attempts=attempts,
        claims=claims,
        claim_reasons=claim_reasons,
        other_sales=other_sales,
        wrong_product_sales=wrong_product,
        reports=reports,
        wall_seconds=time.perf_counter() - started,
        extras={"pending_time_average": pending_mean},
        delay_figures=delay_figures,
    )


# What one file adds to its upload's JSON besides its images (number, booth, times, product,
# procedure, digests): cabine's wire format, 370 bytes measured on a real upload, rounded up.
FILE_METADATA_BYTES = 400


def file_wire_bytes(file_bytes: int) -> int:
    """Bytes one file takes in a booth's upload: its images in base64 (4 bytes for 3) inside
    the JSON body (``ephoto.epfile.FileUpload``), and its metadata."""
    return 4 * math.ceil(file_bytes / 3) + FILE_METADATA_BYTES


def uploaded_hours(
    departed: np.ndarray, booth: np.ndarray, uplink_kbps: float, file_bytes: int
) -> np.ndarray:
    """When each file has reached the collector: the booth's uplink sends one file after the
    other (``transmitter.latency.upload_seconds`` each), starting when the file leaves the
    booth or when the booth's previous upload ends, whichever is later (``departed`` itself
    when the uplink takes no time)."""
    seconds = upload_seconds(file_wire_bytes(file_bytes), uplink_kbps)
    if seconds == 0 or departed.size == 0:
        return departed
    each = seconds / 3600
    order = np.lexsort((departed, booth))
    times, booths = departed[order], booth[order]
    first_of_booth = np.r_[True, booths[1:] != booths[:-1]]
    starts = np.flatnonzero(first_of_booth)
    position = np.arange(times.size) - np.repeat(starts, np.diff(np.r_[starts, times.size]))
    # A FIFO per booth at one file per `each` hours: end_i = max_{j <= i}(t_j - j * each)
    # + (i + 1) * each within the booth (``registry.ingestion.processing_ends``'s rule), the
    # running maximum kept from crossing booths by lifting each booth above the one before.
    slack = times - position * each
    lift = np.cumsum(first_of_booth) * (float(slack.max() - slack.min()) + 1.0)
    ends = np.maximum.accumulate(slack + lift) - lift + (position + 1) * each
    out = np.empty_like(departed)
    out[order] = ends
    return out


def _delay_figures(
    scenario: Scenario,
    activation: np.ndarray,
    times: tuple[np.ndarray, ...],
    wait: np.ndarray,
    day: np.ndarray,
) -> dict[str, Any]:
    return work_out_delay_figures(
        scenario.run.start, scenario.run.days, activation, wait, times, day, threads=2
    )


def _apply_outages(
    scenario: Scenario, rng: np.random.Generator, booth: np.ndarray, ready: np.ndarray
) -> np.ndarray:
    section = scenario.booth
    if section.outage_rate_per_day <= 0:
        return ready
    outages = sample_outages(
        rng,
        scenario.fleet.booths,
        scenario.run.days * 24.0,
        section.outage_rate_per_day,
        section.outage_mean_hours,
    )
    return departure_hours(ready, booth, outages)


def longest_queue(arrivals: np.ndarray, ends: np.ndarray, per_window: int = 512) -> int:
    """The most codes in a FIFO at once (service included): the queue is longest just after an
    arrival, when it holds the codes received so far less those whose service has ended.

    ``arrivals`` and ``ends`` are sorted, one per code in FIFO order. Counting at every arrival
    is a search among millions of ends for each of millions of arrivals; instead the time is
    cut into windows of about ``per_window`` arrivals, and the queue during a window is at most
    the arrivals before its end less the codes ended by its start. Windows are counted exactly,
    largest bound first, until no bound left can beat the longest queue found: a few windows
    around the peak."""
    n = arrivals.size
    if n == 0:
        return 0
    low, high = float(arrivals[0]), float(arrivals[-1])
    count = max(1, min(n // max(1, per_window), 1 << 20))
    edges = np.linspace(low, high, count + 1)
    edges[-1] = np.inf  # the last window takes the last arrival
    first = np.searchsorted(arrivals, edges[:-1], side="left")
    stop = np.searchsorted(arrivals, edges[1:], side="left")
    bound = stop - np.searchsorted(ends, edges[:-1], side="right")
    longest = 0
    for window in np.argsort(-bound, kind="stable"):
        if bound[window] <= longest:
            break
        lo, hi = int(first[window]), int(stop[window])
        if hi == lo:
            continue
        counted = np.searchsorted(ends, arrivals[lo:hi], side="right")
        longest = max(longest, int((np.arange(lo + 1, hi + 1) - counted).max()))
    return longest


def _time_average_pending(arrivals: np.ndarray, active: np.ndarray) -> float:
    """Mean number of received, not yet active codes over [first arrival, last arrival]."""
    if arrivals.size < 2:
        return 0.0
    t0, t1 = float(arrivals[0]), float(arrivals[-1])
    # Each code contributes the part of its pending interval that falls inside the window
    # (arrivals are sorted: none is before t0). One buffer, worked in place.
    inside = np.minimum(active, t1)
    inside -= arrivals
    np.maximum(inside, 0.0, out=inside)
    return float(inside.sum() / (t1 - t0))


def _expiries(
    scenario: Scenario, hours: LocalHours, day: np.ndarray, issued: np.ndarray
) -> np.ndarray:
    expires = _expiry_offsets(scenario, hours)[day]
    expires += issued
    return expires


def _first_attempts(
    scenario: Scenario, rng: np.random.Generator, issued: np.ndarray, pool_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """How each buyer first types the number, as one index (pool * 4 + form: the sale's real
    code in the pool of ``pool_size`` and how it is typed), and when: the first draws of the
    citizens' stream."""
    people = scenario.citizens
    n = issued.size
    code_form = np.resize(np.arange(0, 4 * pool_size, 4, dtype=np.int32), n)
    code_form[_chosen(rng, n, people.lowercase_share)] |= _LOWER
    code_form[_chosen(rng, n, people.confusable_share)] |= _SWAP
    at = _delays(rng, people.first_attempt, n)
    at += issued
    return code_form, at


def _citizens(
    scenario: Scenario,
    rng: np.random.Generator,
    active: np.ndarray,
    expires: np.ndarray,
    forms_ready: Future[TypedForms],
    first_draws: Future[tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, int], np.ndarray, np.ndarray, TypedForms, np.ndarray]:
    """Each buyer types the number, maybe wrongly, and retries; the registry answers by the
    real rules: unknown or not yet active -> not_found, then active once, then used. ``rng``
    goes on from where :func:`_first_attempts` left it."""
    people = scenario.citizens
    n = active.size
    forms = forms_ready.result()
    code_form, at = first_draws.result()
    kind = forms.kind.reshape(-1)
    counts = np.zeros(len(OUTCOMES), dtype=np.int64)
    redeemed = np.zeros(n, dtype=bool)
    last_attempt = np.full(n, np.nan)
    # Everyone tries once; later rounds take the subset that retries (None: everyone).
    trying: np.ndarray | None = None
    for _ in range(people.max_attempts):
        if trying is None:
            when, view, until, since = at, kind[code_form], expires, active
            last_attempt[:] = when
        else:
            if trying.size == 0:
                break
            when, view = at[trying], kind[code_form[trying]]
            until, since = expires[trying], active[trying]
            last_attempt[trying] = when
        # The registry's answer, the first rule that applies winning: malformed, unknown text,
        # expired, not yet active, else active.
        outcome = np.where(when < since, np.int8(NOT_FOUND), np.int8(ACTIVE))
        outcome[when >= until] = EXPIRED
        outcome[view == _TEXT_UNKNOWN] = NOT_FOUND
        malformed = view == _TEXT_MALFORMED
        outcome[malformed] = MALFORMED
        counts += [np.count_nonzero(outcome == k) for k in range(len(OUTCOMES))]
        everyone: np.ndarray | None = trying
        if trying is None:
            redeemed = outcome == ACTIVE
        else:
            redeemed[trying[outcome == ACTIVE]] = True
        refused = (outcome == NOT_FOUND) | malformed
        # The malformed answer says what is wrong (capitals): the next try fixes the case.
        fix_case = np.flatnonzero(malformed) if everyone is None else everyone[malformed]
        code_form[fix_case] &= ~_LOWER
        again = refused & (rng.random(refused.size, dtype=np.float32) < people.retry_share)
        trying = np.flatnonzero(again) if everyone is None else everyone[again]
        at[trying] += rng.exponential(people.retry_after_hours, trying.size)
    # Some enter the same number again after it worked: it is used now.
    twice = np.flatnonzero(redeemed & (rng.random(n, dtype=np.float32) < people.double_use_share))
    counts[USED] += twice.size
    attempts = {name: int(c) for name, c in zip(OUTCOMES, counts, strict=True)}
    return attempts, ~redeemed, last_attempt, forms, code_form


def _chosen(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """The indexes of the ``n`` draws that fall under ``share`` (single-precision uniforms:
    a share is kept to one part in 16 million)."""
    return np.flatnonzero(rng.random(n, dtype=np.float32) < share)


def _support(
    scenario: Scenario,
    rng: np.random.Generator,
    issued: np.ndarray,
    active: np.ndarray,
    expires: np.ndarray,
    refused: np.ndarray,
    last_attempt: np.ndarray,
    forms: TypedForms,
    pool_and_form: np.ndarray,
    wrong_product: int,
) -> tuple[dict[str, int], dict[str, int], int]:
    """Refused customers who write to support once the 72 h have passed, and what they hear."""
    from simulation.claims import ReportBatch, decide_reports

    share = scenario.support.report_share
    reporting = np.flatnonzero(refused & (rng.random(issued.size, dtype=np.float32) < share))
    report_at = np.maximum(last_attempt[reporting], issued[reporting] + PROMISE_HOURS)
    wrong_reports = int(rng.binomial(wrong_product, share))
    pool, form = np.divmod(pool_and_form[reporting], 4)
    batch = ReportBatch(
        issued=issued[reporting],
        report_at=report_at,
        active=active[reporting],
        expires=expires[reporting],
        code=np.array(forms.codes, dtype=object)[pool].tolist(),
        typed=np.array(forms.texts, dtype=object)[pool, form].tolist(),
        form=form,
    )
    outcomes, reasons = decide_reports(scenario, batch, wrong_reports)
    return outcomes, reasons, int(reporting.size + wrong_reports)
