"""The FAQ scenario library: each way an ePhoto number "does not work", replayed end to end.

Every scenario runs the real components on one ManualClock: the kiosk's sale machine and
ledger sell, the transmitter's dispatcher uploads signed batches to the registry app served on
loopback, a citizen checks and uses the number through the registry's API, and the support
desk answers the customer's report. The collector's cases run the whole ePhoto chain: the
booth's dispatcher uploads files to the operator's collector (``collector.app``), whose own
outbox registers the numbers with the registry, which fetches each file back from it at use.
Each scenario states the outcome the operator's FAQ promises and checks it; the busy-season
case runs the fleet simulator instead.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cabine.processes import free_port
from ephoto import code as codes
from ephoto.clock import ManualClock, format_paris
from ephoto.epfile import MAX_FILES_PER_UPLOAD
from ephoto.validity import ACTIVATION_PROMISE, expires_at
from ephoto.vocabulary import Procedure
from ephoto.wire import BoothKey
from kiosk.catalog import Catalog

BOOTH_ID = "booth-faq"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday morning, off season
PASSED, FAILED = "passed", "failed"


@dataclass
class Check:
    what: str
    actual: Any
    expected: Any

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass
class Outcome:
    name: str
    status: str
    summary: str
    checks: list[Check] = field(default_factory=list)
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "detail": self.detail,
            "checks": [
                {"what": c.what, "expected": c.expected, "actual": c.actual, "ok": c.ok}
                for c in self.checks
            ],
        }


@contextmanager
def serve_on_loopback(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="faq-registry", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"registry did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class Sold:
    sale_id: int
    sale_ref: str
    product_id: str
    code: str | None
    at: datetime
    path: tuple[str, ...]


class World:
    """One booth, its transmitter, the registry on loopback, a citizen and the support desk;
    with ``collector_url``, the operator's collector between the booth and the registry."""

    def __init__(
        self,
        folder: Path,
        registry_url: str,
        admin_token: str,
        parts: dict[str, Any],
        collector_url: str | None = None,
    ):
        self.folder = folder
        self.registry_url = registry_url
        self.collector_url = collector_url
        self.admin_token = admin_token
        self.collector_store: Any = parts.get("collector_store")
        self.registration_secret: bytes | None = parts.get("registration_secret")
        self.clock: ManualClock = parts["clock"]
        self.catalog: Catalog = parts["catalog"]
        self.booth = parts["booth"]
        self.ledger = self.booth.ledger
        self.secret: bytes = parts["secret"]
        self.citizen = httpx.Client(base_url=registry_url, timeout=10)
        self.admin = httpx.Client(
            base_url=registry_url,
            timeout=10,
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        self._desk: Any = None
        self._desk_parts: tuple[Any, ...] = ()

    # -- the booth ------------------------------------------------------------------------------
    def sell(self, product_id: str, lang: str = "fr") -> Sold:
        """A customer buys ``product_id`` at the booth, through the booth's own sale flow
        (``kiosk.flow``) as the touchscreen drives it: the sale opens at capture, the photo is
        taken and checked, the card charged, the number issued, the sheet rendered and printed.
        """
        from kiosk.flow import serve_customer
        from kiosk.sale import State

        visit = serve_customer(self.booth, product_id, lang)
        if visit.ended is not State.DONE or visit.sale_id is None:
            raise RuntimeError(f"the booth stopped at {visit.ended.value}, not done")
        sale_id, path = visit.sale_id, visit.path
        sale = self.ledger.sale(sale_id)
        issued_at = visit.issued.issued_at if visit.issued else sale.opened_at
        return Sold(sale_id, sale.display_id(), product_id, sale.code, issued_at, path)

    def transmit(self, stage: Any = None) -> Any:
        """One drain of the booth's outbox by the real dispatcher, at the clock's time: bare
        numbers to the registry, or files to the collector when the world has one (which then
        registers the numbers with the registry from its own outbox, drained here too)."""
        from transmitter.dispatch import Dispatcher, Uploader
        from transmitter.latency import BoothStage
        from transmitter.outbox import Outbox

        to = self.collector_url or self.registry_url
        uploader = Uploader(to, {BOOTH_ID: self.secret}, self.clock)
        try:
            dispatcher = Dispatcher(
                Outbox(self.ledger.engine),
                uploader,
                self.clock,
                stage=stage or BoothStage(),
                files=self.collector_url is not None,
                batch_size=MAX_FILES_PER_UPLOAD if self.collector_url else 200,
            )
            report = dispatcher.drain()
        finally:
            uploader.close()
        if self.collector_url is not None:
            self.register()
        return report

    def register(self) -> Any:
        """One drain of the collector's registration outbox to the registry, as the collector's
        own transmitter does (signed as ``collector-PREFIX``)."""
        from collector.settings import collector_id
        from transmitter.dispatch import Dispatcher, Uploader
        from transmitter.latency import BoothStage
        from transmitter.outbox import Outbox

        assert self.collector_store is not None and self.registration_secret is not None
        name = collector_id(codes.DEFAULT_PREFIX)
        uploader = Uploader(self.registry_url, {name: self.registration_secret}, self.clock)
        try:
            dispatcher = Dispatcher(
                Outbox(self.collector_store.engine),
                uploader,
                self.clock,
                stage=BoothStage(batch_window=timedelta(0)),
            )
            return dispatcher.drain()
        finally:
            uploader.close()

    def collector_file(self, code: str) -> dict[str, Any] | None:
        """The collector's record of a number's file (admin API), or None."""
        assert self.collector_url is not None
        response = httpx.get(
            f"{self.collector_url}/admin/files/{code}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def collector_faults(self, **knobs: Any) -> None:
        """Set the collector's QA fault knobs (down, extra_latency_ms, corrupt_files)."""
        assert self.collector_url is not None
        response = httpx.post(
            f"{self.collector_url}/admin/faults",
            json=knobs,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()

    # -- the citizen and the registry -----------------------------------------------------------
    def check(self, typed: str, procedure: str = Procedure.PERMIS) -> str:
        response = self.citizen.get(f"/v1/codes/{typed}", params={"procedure": procedure})
        if response.status_code == 422 and "status" not in response.json():
            return "malformed"
        return str(response.json()["status"])

    def redeem(self, typed: str, procedure: str = Procedure.PERMIS) -> str:
        return str(self.redeem_response(typed, procedure).json()["status"])

    def redeem_response(self, typed: str, procedure: str = Procedure.PERMIS) -> httpx.Response:
        return self.citizen.post(f"/v1/codes/{typed}/redeem", json={"procedure": procedure})

    def registry_state(self, code: str) -> dict[str, Any]:
        response = self.admin.get(f"/admin/codes/{code}")
        if response.status_code == 404:
            return {"state": "absent"}
        response.raise_for_status()
        return dict(response.json())

    def advance_to(self, when: datetime) -> None:
        self.clock.set(when)

    # -- support --------------------------------------------------------------------------------
    def report(self, *, code: str | None = None, sale_ref: str | None = None) -> Any:
        """The customer's problem report to the support desk; its decision."""
        desk = self.desk()
        from support.rules import Report

        return desk.submit(Report(code=code, sale_id=sale_ref)).decision

    def refunds(self) -> list[dict[str, Any]]:
        return list(self.desk().refunds())

    def desk(self) -> Any:
        if self._desk is None:
            from support.desk import (
                CollectorAdmin,
                RegistryAdmin,
                SupportDesk,
                open_booth_engine,
            )

            engine = open_booth_engine(self.ledger.path)
            admin = RegistryAdmin(self.registry_url, self.admin_token)
            collector = (
                CollectorAdmin(self.collector_url, self.admin_token) if self.collector_url else None
            )
            self._desk = SupportDesk(
                engine, admin, self.clock, self.catalog, booth_id=BOOTH_ID, collector=collector
            )
            self._desk_parts = (engine, admin, collector)
        return self._desk

    def close(self) -> None:
        self.citizen.close()
        self.admin.close()
        if self._desk_parts:
            engine, admin, collector = self._desk_parts
            admin.close()
            if collector is not None:
                collector.close()
            engine.dispose()
        self.booth.close()


@contextmanager
def faq_world(
    start: datetime = START,
    base_delay: tuple[float, float] = (30.0, 45.0),
    collector: bool = False,
) -> Iterator[World]:
    """A fresh world in a temporary folder. The registry's base delay (median, p95 hours) is
    long enough that a number is never active 10 h after purchase and short enough that it
    is within the 72 h, so each FAQ case happens when the FAQ says it does. With
    ``collector``, the operator's collector sits between the booth and the registry, keys
    wired both ways, and the registry fetches each file from it at use."""
    clock = ManualClock(start)
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="cabine-faq-") as tmp:
        folder = Path(tmp)
        if not collector:
            with _registry_world(folder, clock, token, base_delay) as world:
                yield world
            return
        with _chain_world(folder, clock, token, base_delay) as world:
            yield world


def _registry_settings(
    folder: Path, token: str, base_delay: tuple[float, float], **more: Any
) -> Any:
    from registry.settings import RegistrySettings

    return RegistrySettings(
        db_url=f"sqlite:///{folder / 'registry.db'}",
        capacity_per_hour=1000.0,
        capacity_by_month={},
        base_delay_median_hours=base_delay[0],
        base_delay_p95_hours=base_delay[1],
        admin_enabled=True,
        admin_token=token,
        **more,
    )


def _faq_booth(folder: Path, clock: ManualClock) -> Any:
    from kiosk.booth import Booth
    from kiosk.settings import KioskSettings

    return Booth.from_settings(
        KioskSettings(
            booth_id=BOOTH_ID,
            countdown_seconds=0,
            payment_seconds=0,
            print_seconds=0,
            render_in_process=False,
        ),
        folder / "booth",
        clock,
        headless=True,
        camera_seed=1,
    )


@contextmanager
def _chain_world(
    folder: Path, clock: ManualClock, token: str, base_delay: tuple[float, float]
) -> Iterator[World]:
    """Booth -> collector -> registry, and the registry's fetch back from the collector."""
    from collector.app import create_app as create_collector
    from collector.settings import CollectorSettings, collector_id
    from collector.store import CollectorStore
    from ephoto.seal import generate_key, key_id, public_pem
    from registry.app import create_app
    from registry.settings import CollectorLink
    from registry.store import RegistryStore

    booth_secret = secrets.token_bytes(32)
    registration_secret = secrets.token_bytes(32)
    prefix = codes.DEFAULT_PREFIX
    booth_key = BoothKey(BOOTH_ID, booth_secret, prefix)
    state_key, seal_key = generate_key(), generate_key()
    (folder / "collector-seal.pub.pem").write_bytes(public_pem(seal_key))
    collector_store = CollectorStore.from_url(f"sqlite:///{folder / 'collector.db'}")
    collector_app = create_collector(
        CollectorSettings(admin_enabled=True, admin_token=token, registration_window_minutes=0.0),
        clock,
        collector_store,
        seal_key=seal_key,
        state_keys={key_id(state_key): state_key.public_key()},
        keys={BOOTH_ID: booth_key},
        operator_prefix=prefix,
    )
    with serve_on_loopback(collector_app) as collector_url:
        link = CollectorLink(url=collector_url, public_key_file=folder / "collector-seal.pub.pem")
        settings = _registry_settings(folder, token, base_delay, collectors={prefix: link})
        store = RegistryStore.from_url(settings.db_url or "", settings.ingestion_model())
        name = collector_id(prefix)
        app = create_app(
            settings,
            clock,
            store,
            keys={name: BoothKey(name, registration_secret, prefix)},
            fetch_key=state_key,
        )
        booth = _faq_booth(folder, clock)
        parts = {
            "clock": clock,
            "catalog": booth.catalog,
            "booth": booth,
            "secret": booth_secret,
            "collector_store": collector_store,
            "registration_secret": registration_secret,
        }
        with serve_on_loopback(app) as url:
            world = World(folder, url, token, parts, collector_url)
            try:
                yield world
            finally:
                world.close()
                store.dispose()
                collector_store.dispose()


@contextmanager
def _registry_world(
    folder: Path, clock: ManualClock, token: str, base_delay: tuple[float, float]
) -> Iterator[World]:
    """Booth -> registry, bare numbers."""
    from registry.app import create_app
    from registry.store import RegistryStore

    secret = secrets.token_bytes(32)
    settings = _registry_settings(folder, token, base_delay)
    store = RegistryStore.from_url(settings.db_url or "", settings.ingestion_model())
    app = create_app(
        settings,
        clock,
        store,
        keys={BOOTH_ID: BoothKey(BOOTH_ID, secret, codes.DEFAULT_PREFIX)},
    )
    booth = _faq_booth(folder, clock)
    parts = {"clock": clock, "catalog": booth.catalog, "booth": booth, "secret": secret}
    with serve_on_loopback(app) as url:
        world = World(folder, url, token, parts)
        try:
            yield world
        finally:
            world.close()
            store.dispose()


# -- the scenarios ----------------------------------------------------------------------------

Scenario = Callable[[World], tuple[str, list[Check]]]
SCENARIOS: dict[str, tuple[str, Scenario | None]] = {}


def scenario(name: str, question: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = (question, fn)
        return fn

    return register


def _sell_ephoto(world: World) -> Sold:
    sold = world.sell("ephoto-permis")
    assert sold.code is not None
    world.advance_to(sold.at + timedelta(minutes=16))
    world.transmit()
    return sold


@scenario("wrong-product", "I bought ID photos, where is my ePhoto number?")
def wrong_product(world: World) -> tuple[str, list[Check]]:
    sold = world.sell("id-card-adult")
    world.advance_to(sold.at + ACTIVATION_PROMISE + timedelta(hours=1))
    decision = world.report(sale_ref=sold.sale_ref)
    checks = [
        Check("sale path skips the signature (no ePhoto)", "signature" in sold.path, False),
        Check("number issued", sold.code, None),
        Check("support decision", decision.outcome.value, "not_ephoto_product"),
        Check("refund", decision.refund, False),
        Check("refunds recorded", len(world.refunds()), 0),
    ]
    return "no number, no refund; support names the ePhoto products", checks


@scenario("too-early", "I typed my number 10 hours after buying it and it is not found.")
def too_early(world: World) -> tuple[str, list[Check]]:
    sold = _sell_ephoto(world)
    world.advance_to(sold.at + timedelta(hours=10))
    stored = world.registry_state(sold.code or "")
    answer = world.check(sold.code or "")
    decision = world.report(code=sold.code)
    wait_until = sold.at + ACTIVATION_PROMISE
    checks = [
        Check("registry received it", stored["state"], "pending"),
        Check("registry answer at 10 h", answer, "not_found"),
        Check("support decision", decision.outcome.value, "wait"),
        Check("support says wait until", decision.when, wait_until),
        Check("refund", decision.refund, False),
    ]
    return f"not found; support says wait until {format_paris(wait_until, 'en')}", checks


@scenario("after-activation", "I typed it after activation.")
def after_activation(world: World) -> tuple[str, list[Check]]:
    sold = _sell_ephoto(world)
    active_at = datetime.fromisoformat(world.registry_state(sold.code or "")["active_at"])
    world.advance_to(active_at + timedelta(minutes=1))
    checks = [
        Check("active within the 72 h promise", active_at <= sold.at + ACTIVATION_PROMISE, True),
        Check("registry answer", world.check(sold.code or ""), "active"),
        Check("use it for the driving licence", world.redeem(sold.code or ""), "redeemed"),
    ]
    return "active, and it works once", checks


@scenario("second-use", "I typed it a second time for another application.")
def second_use(world: World) -> tuple[str, list[Check]]:
    sold = _sell_ephoto(world)
    world.advance_to(sold.at + ACTIVATION_PROMISE)
    first = world.redeem(sold.code or "")
    world.advance_to(sold.at + ACTIVATION_PROMISE + timedelta(days=3))
    second = world.redeem(sold.code or "", Procedure.TITRE_SEJOUR)
    decision = world.report(code=sold.code)
    checks = [
        Check("first use", first, "redeemed"),
        Check("second use", second, "used"),
        Check("registry answer", world.check(sold.code or ""), "used"),
        Check("support decision", decision.outcome.value, "used"),
        Check("refund", decision.refund, False),
    ]
    return "used: one use only, no refund", checks


@scenario("expired", "I typed it 6 months and 1 day after buying it.")
def expired(world: World) -> tuple[str, list[Check]]:
    sold = _sell_ephoto(world)
    world.advance_to(expires_at(sold.at) + timedelta(days=1))
    answer = world.check(sold.code or "")
    decision = world.report(code=sold.code)
    checks = [
        Check("registry answer", answer, "expired"),
        Check("support decision", decision.outcome.value, "expired"),
        Check(
            "support says the printed photos still serve",
            "note.photos_on_paper" in decision.notes,
            True,
        ),
        Check("refund", decision.refund, False),
    ]
    return "expired; the printed photos are still usable", checks


def _typo_scenario(pair: tuple[str, str]) -> Scenario:
    def run(world: World) -> tuple[str, list[Check]]:
        # Sell until a number holds one of the pair's characters after the prefix.
        for _ in range(60):
            sold = world.sell("ephoto-permis")
            body = (sold.code or "")[codes.PREFIX_LENGTH :]
            spot = next((i for i, c in enumerate(body) if c in pair), None)
            if spot is not None:
                break
        else:  # pragma: no cover - probability below 1e-10
            raise RuntimeError(f"no number with {pair} in 60 sales")
        code = sold.code or ""
        i = codes.PREFIX_LENGTH + spot
        typed = code[:i] + (pair[1] if code[i] == pair[0] else pair[0]) + code[i + 1 :]
        world.advance_to(sold.at + timedelta(minutes=16))
        world.transmit()
        world.advance_to(sold.at + ACTIVATION_PROMISE)
        decision = world.report(code=typed)
        checks = [
            Check("registry answer to the mistyped number", world.check(typed), "malformed"),
            Check("support decision", decision.outcome.value, "typo"),
            Check("support gives the right number", decision.code, code),
            Check("the right number works", world.check(code), "active"),
        ]
        return f"{code[i]} typed as {typed[i]}: refused; support finds the right number", checks

    return run


for _a, _b in codes.CONFUSABLE_PAIRS:
    SCENARIOS[f"typo-{_a}-{_b}"] = (
        f"Did I mix up {_a} and {_b}?",
        _typo_scenario((_a, _b)),
    )


@scenario("lowercase", "I typed my number in lowercase.")
def lowercase(world: World) -> tuple[str, list[Check]]:
    sold = _sell_ephoto(world)
    world.advance_to(sold.at + ACTIVATION_PROMISE)
    typed = (sold.code or "").lower()
    decision = world.report(code=typed)
    checks = [
        Check("registry answer", world.check(typed), "malformed"),
        Check("support decision", decision.outcome.value, "typo"),
        Check("support gives the right number", decision.code, sold.code),
        Check("in capitals it works", world.check(sold.code or ""), "active"),
    ]
    return "refused (capitals); support gives the number in capitals", checks


@scenario("transmission-lost", "72 hours have passed and my number still does not work.")
def transmission_lost(world: World) -> tuple[str, list[Check]]:
    from transmitter.latency import BoothStage, Outage

    sold = world.sell("ephoto-permis")
    # The booth loses its connection for five days: its transmitter can send nothing.
    offline = BoothStage(outages=(Outage(sold.at, sold.at + timedelta(days=5)),))
    for hours in (1, 24, 48):
        world.advance_to(sold.at + timedelta(hours=hours))
        world.transmit(offline)
    world.advance_to(sold.at + ACTIVATION_PROMISE + timedelta(minutes=5))
    received_before = world.registry_state(sold.code or "")["state"]
    answer = world.check(sold.code or "")
    decision = world.report(code=sold.code)
    again = world.report(code=sold.code)
    world.advance_to(sold.at + timedelta(days=5, minutes=1))
    world.transmit(offline)
    received_after = world.registry_state(sold.code or "")["state"]
    checks = [
        Check("registry state after 72 h", received_before, "absent"),
        Check("registry answer after 72 h", answer, "not_found"),
        Check("support decision", decision.outcome.value, "refund"),
        Check("support reason", decision.reason, "refund_never_transmitted"),
        Check("number sent again", decision.requeue, True),
        Check("refunds after the same report twice", len(world.refunds()), 1),
        Check("second report, same answer", again.outcome.value, "refund"),
        Check("back online, the number reaches the registry", received_after, "pending"),
    ]
    return "fault confirmed after 72 h: refunded once, number sent again", checks


@scenario("busy-season", "Why does it take longer before summer?")
def busy_season(world: World | None) -> tuple[str, list[Check]]:
    from simulation.fleet import simulate
    from simulation.report import metrics
    from simulation.scenario import load_scenario

    peak = metrics(simulate(load_scenario("summer-peak")))["activation_hours"]["p95"]
    off = metrics(simulate(load_scenario("off-season")))["activation_hours"]["p95"]
    checks = [
        Check("summer-peak p95 activation above 72 h", peak > 72, True),
        Check("off-season p95 activation below 72 h", off < 72, True),
    ]
    return f"p95 activation {peak:.0f} h at the peak, {off:.0f} h off season", checks


def _active_with_its_file(world: World) -> Sold:
    """An ePhoto sold, its file at the collector, its number registered and active."""
    sold = _sell_ephoto(world)
    active_at = datetime.fromisoformat(world.registry_state(sold.code or "")["active_at"])
    world.advance_to(active_at + timedelta(minutes=1))
    return sold


@scenario(
    "collector-down-at-use",
    "The site says my photo cannot be retrieved right now.",
)
def collector_down_at_use(world: World) -> tuple[str, list[Check]]:
    sold = _active_with_its_file(world)
    code = sold.code or ""
    world.collector_faults(down=True)
    refused = world.redeem_response(code)
    state_while_down = world.registry_state(code)["state"]
    world.advance_to(world.clock.now() + timedelta(minutes=10))
    world.collector_faults(down=False)
    used = world.redeem_response(code)
    checks = [
        Check("file at the collector before use", world.collector_file(code) is not None, True),
        Check("answer while the collector is down", refused.status_code, 503),
        Check("status while the collector is down", refused.json()["status"], "file_unavailable"),
        Check("told when to try again", refused.headers.get("Retry-After", "").isdigit(), True),
        Check("number not used while it is down", state_while_down, "active"),
        Check("once it is back, the number works", used.status_code, 200),
        Check("the photo comes with the answer", bool(used.json().get("file") or {}), True),
        Check("then the number is used", world.registry_state(code)["state"], "used"),
    ]
    return "503 with Retry-After, number kept; it works once the collector is back", checks


@scenario(
    "file-corrupted-at-collector",
    "The site says my photo file failed its checks.",
)
def file_corrupted_at_collector(world: World) -> tuple[str, list[Check]]:
    sold = _active_with_its_file(world)
    code = sold.code or ""
    world.collector_faults(corrupt_files=True)
    refused = world.redeem_response(code)
    record = world.registry_state(code)
    failures = [f["kind"] for f in record.get("fetch_failures", [])]
    decision = world.report(code=code)
    again = world.report(code=code)
    checks = [
        Check("answer to the use", refused.status_code, 502),
        Check("status", refused.json()["status"], "file_refused"),
        Check("reason", refused.json()["reason"], "digest"),
        Check("number not used", record["state"], "active"),
        Check("recorded for the operator", failures, ["digest"]),
        Check("support decision", decision.outcome.value, "file_unavailable"),
        Check("support reason", decision.reason, "file_refused_at_use"),
        Check(
            "refunded and the file sent again", (decision.refund, decision.requeue), (True, True)
        ),
        Check("refunds after the same report twice", len(world.refunds()), 1),
        Check("second report, same answer", again.outcome.value, "file_unavailable"),
    ]
    return "refused (502, digest), number kept, recorded; support refunds and re-sends", checks


NEEDS_NO_WORLD = {"busy-season"}
NEEDS_COLLECTOR = {"collector-down-at-use", "file-corrupted-at-collector"}


def run_scenario(name: str) -> Outcome:
    """Run one scenario in a fresh world; never raises for a scenario's own failure."""
    if name not in SCENARIOS:
        raise KeyError(f"no FAQ scenario {name!r}; see `cabine scenarios list`")
    _, fn = SCENARIOS[name]
    assert fn is not None
    try:
        if name in NEEDS_NO_WORLD:
            summary, checks = fn(None)  # type: ignore[arg-type]
        else:
            with faq_world(collector=name in NEEDS_COLLECTOR) as world:
                summary, checks = fn(world)
    except Exception as exc:  # a crash is a failed scenario, reported with its cause
        return Outcome(name, FAILED, "crashed", detail=f"{type(exc).__name__}: {exc}")
    failed = [c for c in checks if not c.ok]
    detail = "; ".join(f"{c.what}: expected {c.expected!r}, got {c.actual!r}" for c in failed)
    return Outcome(name, FAILED if failed else PASSED, summary, checks, detail)
