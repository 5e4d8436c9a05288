"""`cabine demo`: the whole booth on one machine, on one scaled clock.

The registry, the operator's collector, the transmitter and the support desk run as child
processes on loopback, sharing one data folder (the demo wires their keys: the state's public key
to the collector, the collector's seal key to the registry, the collector's registration key in
the keys file); the booth's transmitter sends each file to the collector, which seals it and
registers the number with the registry, which fetches the file back when the number is used.
The booth runs in this process, in a window, or headless with a scripted customer when there is
no display. Every process gets the same clock (epoch, scale, origin) so
they agree on "now": at the default scale an hour passes every second, and a number bought now
activates within about 72 s.

A second demo reuses the data folder: domain time continues from where the last one stopped, so
numbers still pending are picked up, never seen going back in time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from cabine.processes import ProcessFailed, ProcessGroup, ProcessSilent
from cabine.processes import child_environment as processes_environment
from cabine.topology import COLLECTOR, REGISTRY, SUPPORT, Topology
from ephoto.clock import (
    SESSION_OFFSET_KEY,
    Clock,
    ScaledClock,
    SessionClock,
    SystemClock,
    ensure_utc,
    parse_utc,
    read_session_file,
    session_offset,
    update_session_file,
)
from ephoto.money import Money
from ephoto.texts import texts
from ephoto.vocabulary import CodeState, Procedure

if TYPE_CHECKING:
    from cabine.config import Settings
    from kiosk.booth import Booth
    from kiosk.ledger import Sale
    from transmitter.outbox import Delivery

DEFAULT_SCALE = 3600.0
DEFAULT_REGISTRY_PORT = 8700
DEFAULT_SUPPORT_PORT = 8710
DEFAULT_COLLECTOR_PORT = 8720
HOST = "127.0.0.1"
SESSION_FILE = "demo-session.json"


class DemoError(RuntimeError):
    """The demo cannot start or go on; the message says why and what to do."""


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(ports: dict[str, tuple[int, str]], lang: str = "fr") -> None:
    """Refuse to start when a port is taken, naming the port and the option that changes it.
    ``ports`` maps a role (registry, support, collector) to its port and option."""
    t = texts("demo", lang)
    for role, (port, option) in ports.items():
        if not port_is_free(port):
            raise DemoError(
                t.get(
                    "run.error.port_busy",
                    port=port,
                    role=t.get(f"run.error.role_{role}"),
                    host=HOST,
                    option=option,
                )
            )


@dataclass
class DemoSession:
    """What a demo keeps in its data folder between runs, in the session file.

    The same file carries the session's QA clock offset (``clock_offset_seconds``), which every
    process of a running demo watches (``ephoto.clock.SessionClock``) and ``cabine clock
    advance`` or the registry's ``POST /admin/clock`` moves. Between runs it holds the domain
    time the last run reached and any move made since; a new run starts from their sum with
    the offset back at zero.
    """

    data_dir: Path
    admin_token: str
    domain_time: datetime | None = None

    @property
    def path(self) -> Path:
        return self.data_dir / SESSION_FILE

    @classmethod
    def open(cls, data_dir: Path) -> DemoSession:
        data_dir.mkdir(parents=True, exist_ok=True)
        raw = read_session_file(data_dir / SESSION_FILE)
        last = raw.get("domain_time")
        token = raw.get("admin_token") or secrets.token_urlsafe(24)
        session = cls(data_dir, token, parse_utc(last) if last else None)
        if "admin_token" not in raw:
            session.save()
        return session

    def save(self) -> None:
        """Record the domain time reached; QA moves so far are part of it (offset back to 0)."""
        update_session_file(
            self.path,
            {
                "admin_token": self.admin_token,
                "domain_time": self.domain_time.isoformat() if self.domain_time else None,
                SESSION_OFFSET_KEY: 0.0,
            },
        )

    def clock(self, scale: float) -> SessionClock:
        """The run's clock: scaled from now on, continuing the last run's domain time (and any
        move made since) if that is ahead, behind the session's offset, which starts at 0."""
        wall = SystemClock().now()
        origin = wall
        if self.domain_time is not None:
            moved = session_offset(read_session_file(self.path), self.path)
            origin = max(wall, self.domain_time + moved)
        scaled = ScaledClock(wall, scale, origin=origin)
        update_session_file(
            self.path,
            {
                SESSION_OFFSET_KEY: 0.0,
                "epoch": scaled.epoch.isoformat(),
                "origin": scaled.origin.isoformat(),
                "scale": scaled.scale,
            },
        )
        return SessionClock(scaled, self.path)


def recorded_clock(path: Path) -> SessionClock | None:
    """The clock of the demo session whose file is ``path``, as its processes run it; None when
    the file records no clock (no demo has run with it)."""
    raw = read_session_file(path)
    if not all(raw.get(key) for key in ("epoch", "origin", "scale")):
        return None
    scaled = ScaledClock(parse_utc(raw["epoch"]), float(raw["scale"]), parse_utc(raw["origin"]))
    return SessionClock(scaled, path)


def scaled_base(clock: SessionClock) -> ScaledClock:
    """The scaled clock under a demo's session clock."""
    if not isinstance(clock.base, ScaledClock):
        raise TypeError(f"a demo runs on a scaled clock, not {type(clock.base).__name__}")
    return clock.base


CHILD_ROLES = {
    "registry": "registry",
    "collector": "collector",
    "transmitter": "transmitter",
    "support": "support",
}
"""Each child's name (its log file's) and the role its messages name."""


def demo_error(failure: ProcessFailed, lang: str) -> DemoError:
    """A child that ended or stayed silent, said in the demo's language with its log's end."""
    t = texts("demo", lang)
    role = t.get(f"run.error.role_{CHILD_ROLES.get(failure.role, failure.role)}")
    if isinstance(failure, ProcessSilent):
        said = t.get(
            "run.error.child_silent", role=role, url=failure.url, seconds=f"{failure.seconds:.0f}"
        )
    else:
        said = t.get("run.error.child_stopped", role=role, code=failure.code, log=failure.log)
    return DemoError(f"{said}\n{failure.log_tail()}")


@dataclass(frozen=True)
class Services:
    registry_url: str
    support_url: str
    admin_token: str
    collector_url: str = ""
    check: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)
    """Raise :class:`DemoError` if one of the services has ended."""


def demo_topology(
    data_dir: Path,
    clock: SessionClock,
    registry_port: int,
    support_port: int,
    admin_token: str,
    lang: str,
    collector_port: int = DEFAULT_COLLECTOR_PORT,
    base: Settings | None = None,
) -> Topology:
    """The demo's session: the booth of ``base`` (the user's configuration) with the
    registry, the collector and the support desk, all in the one data folder, on the demo's
    scaled session clock."""
    from cabine.config import load_settings
    from ephoto.settings import ClockSettings

    base = base if base is not None else load_settings()
    scaled = scaled_base(clock)
    return Topology(
        data_dir=data_dir,
        clock=ClockSettings(
            epoch=scaled.epoch,
            origin=scaled.origin,
            scale=scaled.scale,
            session_file=clock.path.resolve(),
        ),
        admin_token=admin_token,
        base=base.model_copy(update={"lang": lang}),
        booths=(base.kiosk.booth_id,),
        registry_port=registry_port,
        collector_port=collector_port,
        support_port=support_port,
        shared=True,
    )


def child_environment(
    data_dir: Path,
    clock: SessionClock,
    registry_port: int,
    support_port: int,
    admin_token: str,
    lang: str,
    collector_port: int = DEFAULT_COLLECTOR_PORT,
) -> dict[str, str]:
    """The environment of a booth process started beside a running demo (tests start
    ``cabine kiosk`` so): the booth's configuration file of the demo's topology."""
    topology = demo_topology(
        data_dir, clock, registry_port, support_port, admin_token, lang, collector_port
    )
    booth = topology.booths[0]
    return processes_environment(topology.write()[booth])


@contextlib.contextmanager
def running_services(
    data_dir: Path,
    clock: SessionClock,
    registry_port: int,
    support_port: int,
    admin_token: str,
    lang: str,
    say: Callable[[str], None],
    collector_port: int = DEFAULT_COLLECTOR_PORT,
    base: Settings | None = None,
) -> Iterator[Services]:
    """Start the registry, the collector, the booth's transmitter and the support desk, their
    keys wired and one configuration file each; stop them all on exit."""
    topology = demo_topology(
        data_dir, clock, registry_port, support_port, admin_token, lang, collector_port, base
    )
    topology.wire()
    files = topology.write()
    create_booth_ledger(topology, clock)
    group = ProcessGroup(data_dir / "logs")
    t = texts("demo", lang)
    try:
        try:
            registry = group.start(
                "registry", ["registry"], config=files[REGISTRY], url=topology.url(REGISTRY)
            )
            registry.wait_serving()
            say(t.get("run.service_registry", url=topology.url(REGISTRY)))
            collector = group.start(
                "collector",
                ["collector", "serve"],
                config=files[COLLECTOR],
                url=topology.url(COLLECTOR),
            )
            collector.wait_serving(path="/openapi.json")
            say(t.get("run.service_collector", url=topology.url(COLLECTOR)))
            group.start("transmitter", ["transmitter"], config=files[topology.booths[0]])
            support = group.start(
                "support", ["support", "serve"], config=files[SUPPORT], url=topology.url(SUPPORT)
            )
            support.wait_serving()
            say(t.get("run.service_support", url=topology.url(SUPPORT)))
            group.check()
        except ProcessFailed as failure:
            raise demo_error(failure, lang) from None

        def check() -> None:
            try:
                group.check()
            except ProcessFailed as failure:
                raise demo_error(failure, lang) from None

        yield Services(
            topology.url(REGISTRY),
            topology.url(SUPPORT),
            admin_token,
            topology.url(COLLECTOR),
            check,
        )
        check()
    finally:
        group.stop()


def create_booth_ledger(topology: Topology, clock: Clock) -> None:
    """The booth's ledger, made as the booth makes it, before the services start: the support
    desk reads it and refuses to start without it, and the booth opens only after them."""
    from kiosk.ledger import Ledger
    from transmitter.outbox import booth_db_path

    booth = topology.booths[0]
    settings = topology.base
    Ledger(
        booth_db_path(topology.folder(booth)),
        clock,
        booth_id=booth,
        operator_prefix=settings.operator.prefix,
        paper_capacity=settings.kiosk.paper_capacity,
    ).dispose()


def registry_admin(services: Services, code: str) -> dict[str, Any] | None:
    response = httpx.get(
        f"{services.registry_url}/admin/codes/{code}",
        headers={"Authorization": f"Bearer {services.admin_token}"},
        timeout=5.0,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def collector_admin(services: Services, code: str) -> dict[str, Any] | None:
    """The collector's record of a number's file (received, sealed, registered), or None."""
    response = httpx.get(
        f"{services.collector_url}/admin/files/{code}",
        headers={"Authorization": f"Bearer {services.admin_token}"},
        timeout=5.0,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def hours_between(start: datetime, end: datetime) -> float:
    return (ensure_utc(end) - ensure_utc(start)).total_seconds() / 3600


@dataclass
class TimelineEvent:
    hours: float
    step: str  # a key of assets/text/demo.*.toml under [step]


@dataclass
class Timeline:
    """What happened to one number, in domain hours since it was issued."""

    code: str
    issued_at: datetime
    events: list[TimelineEvent] = field(default_factory=list)

    def add(self, when: datetime, step: str) -> TimelineEvent:
        event = TimelineEvent(round(hours_between(self.issued_at, when), 2), step)
        self.events.append(event)
        return event


def follow_number(
    code: str,
    issued_at: datetime,
    outbox_state: Callable[[str], Delivery | None],
    services: Services,
    clock: Clock,
    say: Callable[[str], None],
    lang: str = "fr",
    max_domain_hours: float = 400.0,
    poll_seconds: float = 0.2,
) -> Timeline:
    """Watch a number leave the booth's outbox and become active in the registry."""
    t = texts("demo", lang)
    timeline = Timeline(code, issued_at)

    def note(when: datetime, step: str) -> None:
        event = timeline.add(when, step)
        say(f"+{event.hours:6.1f} h  {t.get('step.' + step)}")

    note(issued_at, "issued")
    seen_acknowledged = seen_received = seen_sealed = False
    while True:
        if services.collector_url and not seen_sealed:
            record = collector_admin(services, code)
            if record is not None and record.get("sealed_at"):
                seen_sealed = True
                note(parse_utc(record["sealed_at"]), "sealed")
        # The booth's acknowledgement comes before the state's receipt (the collector registers
        # numbers after it has answered the booth), so it is looked at first.
        delivery = outbox_state(code)
        if delivery is not None and delivery.sent and not seen_acknowledged:
            seen_acknowledged = True
            note(delivery.sent_at or clock.now(), "acknowledged")
        stored = registry_admin(services, code)
        if stored is not None and not seen_received:
            seen_received = True
            note(parse_utc(stored["received_at"]), "received")
        if delivery is not None and delivery.rejected:
            raise DemoError(t.get("run.error.refused", code=code))
        if stored is not None and stored["state"] == CodeState.ACTIVE:
            note(parse_utc(stored["active_at"]), "active")
            timeline.events.sort(key=lambda event: event.hours)
            return timeline
        if hours_between(issued_at, clock.now()) > max_domain_hours:
            outbox_said = delivery.status if delivery else "absent"
            registry_said = stored["state"] if stored else "absent"
            raise DemoError(
                t.get(
                    "run.error.not_active",
                    code=code,
                    hours=f"{max_domain_hours:.0f}",
                    outbox=outbox_said,
                    registry=registry_said,
                )
            )
        time.sleep(poll_seconds)


def redeem(services: Services, code: str, procedure: str, lang: str) -> tuple[int, dict[str, Any]]:
    response = httpx.post(
        f"{services.registry_url}/v1/codes/{code}/redeem",
        json={"procedure": procedure},
        headers={"Accept-Language": lang},
        timeout=5.0,
    )
    return response.status_code, response.json()


def purchase_steps(product_id: str, category: str, ephoto: bool, lang: str) -> list[dict[str, Any]]:
    """The taps of a customer buying one product, by button id (see kiosk.ui.script)."""
    steps: list[dict[str, Any]] = [
        {"wait_for": "attract"},
        {"tap": "start"},
        {"tap": f"lang-{lang}"},
        {"tap": f"category-{category}"},
        {"tap": f"product-{product_id}"},
        {"screenshot": f"confirm-{product_id}"},
        {"tap": "accept"},
        {"wait_for": "review", "timeout": 30},
        {"tap": "keep"},
    ]
    if ephoto:
        steps += [{"wait_for": "signature"}, {"sign": True}, {"tap": "signed"}]
    steps += [
        {"wait_for": "payment"},
        {"tap": "card"},
        {"wait_for": "done", "timeout": 60},
        {"screenshot": f"done-{product_id}"},
        {"tap": "finish"},
        {"wait_for": "attract"},
    ]
    return steps


@dataclass
class DemoResult:
    data_dir: Path
    ephoto_code: str
    ephoto_sale: str
    classic_sale: str | None
    """The sale of a product without a number the support desk was asked about, if any."""
    timeline: Timeline
    first_redeem: tuple[int, dict[str, Any]]
    second_redeem: tuple[int, dict[str, Any]]
    support_answer: dict[str, Any] | None
    screenshots: list[Path]
    sheets: list[Path]
    wall_seconds: float
    summary: Path | None = None
    fetched: FetchedAtUse | None = None
    """The photo and signature the state fetched from the collector when the number was used."""
    bought_in_window: str | None = None
    """The product's name when the number followed was bought by a person in the window."""


@dataclass(frozen=True)
class FetchedAtUse:
    """The file the registry's answer carried at use, written to the data folder, and whether
    it is, byte for byte, the file the booth made at issue."""

    photo: Path
    signature: Path
    photo_sha256: str
    signature_sha256: str
    sealed_at: str
    collector: str
    same_as_booth: bool


def keep_fetched_file(
    answer: dict[str, Any], code: str, booth_file: Any, data_dir: Path
) -> FetchedAtUse | None:
    """Write the photo and signature of a redemption's answer next to the prints; None when
    the answer carries no file."""
    import base64

    from ephoto.epfile import sha256_hex

    file = answer.get("file")
    if not isinstance(file, dict):
        return None
    photo = base64.b64decode(file["photo_jpeg"])
    signature = base64.b64decode(file["signature_png"])
    folder = data_dir / "fetched"
    folder.mkdir(parents=True, exist_ok=True)
    photo_path = folder / f"{code}-photo.jpg"
    signature_path = folder / f"{code}-signature.png"
    photo_path.write_bytes(photo)
    signature_path.write_bytes(signature)
    same = booth_file is not None and (
        sha256_hex(photo) == booth_file.meta.photo_sha256
        and sha256_hex(signature) == booth_file.meta.signature_sha256
    )
    return FetchedAtUse(
        photo_path,
        signature_path,
        sha256_hex(photo),
        sha256_hex(signature),
        str(file.get("sealed_at", "")),
        str(file.get("collector", "")),
        same,
    )


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


DEMO_KIOSK_TIMINGS = {"countdown_seconds": 1, "payment_seconds": 0.5, "print_seconds": 0.5}


def outbox_reader(engine: Any) -> Callable[[str], Delivery | None]:
    from transmitter.outbox import read_delivery

    def state(code: str) -> Delivery | None:
        with engine.connect() as conn:
            return read_delivery(conn, code)

    return state


def outbox_issued_at(engine: Any, code: str, lang: str = "fr") -> datetime:
    from transmitter.outbox import read_delivery

    with engine.connect() as conn:
        delivery = read_delivery(conn, code)
    if delivery is None:
        raise DemoError(texts("demo", lang).get("run.error.not_in_outbox", code=code))
    return delivery.issued_at


def scripted_customer(
    settings: Any,
    clock: SessionClock,
    services: Services,
    say: Callable[[str], None],
    show_table: Callable[[list[list[str]], list[str], str], None],
    lang: str,
) -> DemoResult:
    """Buy an ePhoto for a driving licence and a classic ID sheet, then follow the number."""
    from kiosk.booth import Booth
    from kiosk.ui.script import run_headless

    data_dir: Path = settings.data_dir
    shots = data_dir / "screenshots"
    booth = Booth.from_settings(
        settings.kiosk.model_copy(update=DEMO_KIOSK_TIMINGS),
        data_dir,
        clock,
        operator_prefix=settings.operator.prefix,
        batch_window=timedelta(minutes=settings.transmitter.batch_window_minutes),
        default_lang=lang,
        headless=True,
    )
    t = texts("demo", lang)
    try:
        permis = booth.catalog.get("ephoto-permis")
        classic = booth.catalog.get("id-card-adult")
        say(t.get("run.customer_buys", first=permis.name(lang), second=classic.name(lang)))
        steps = purchase_steps(permis.id, permis.category, True, lang) + purchase_steps(
            classic.id, classic.category, False, lang
        )
        report = run_headless(booth, steps, shots, (settings.kiosk.width, settings.kiosk.height))
        if not report.ok:
            raise DemoError(t.get("run.error.customer_failed", error=report.error))
        recent = booth.ledger.last_sales(2)
        by_product = {sale.product: sale for sale in recent}
        ephoto_sale, classic_sale = by_product[permis.id], by_product[classic.id]
        if ephoto_sale.code is None or classic_sale.code is not None:
            raise DemoError(t.get("run.error.ledger_mismatch"))
        return follow_sales(
            booth,
            ephoto_sale,
            classic_sale,
            list(report.screenshots),
            services,
            clock,
            say,
            show_table,
            lang,
        )
    finally:
        booth.close()


def follow_sales(
    booth: Booth,
    ephoto_sale: Sale,
    classic_sale: Sale | None,
    screenshots: list[Path],
    services: Services,
    clock: SessionClock,
    say: Callable[[str], None],
    show_table: Callable[[list[list[str]], list[str], str], None],
    lang: str,
) -> DemoResult:
    """What the demo shows after the purchases: the ledger, the ePhoto number from the outbox to
    active, its use (the state fetching the file) and second use, and the support desk's answer
    about the sale without a number, if there is one."""
    t = texts("demo", lang)
    data_dir = booth.paths.data_dir
    assert ephoto_sale.code is not None
    product = booth.catalog.get(ephoto_sale.product)
    statuses = t.keys()
    rows = [
        [
            sale.display_id(),
            booth.catalog.get(sale.product).name(lang),
            t.get(f"run.status.{sale.status}")
            if f"run.status.{sale.status}" in statuses
            else sale.status,
            Money(sale.price_cents).format(lang),
            sale.code or t.get("run.no_number"),
        ]
        for sale in booth.ledger.last_sales(6)
    ]
    columns = ["sale", "product", "status", "price", "number"]
    show_table(rows, [t.get(f"run.column_{c}") for c in columns], t.get("run.ledger_title"))

    issued = outbox_issued_at(booth.ledger.engine, ephoto_sale.code, lang)
    say(t.get("run.following", code=ephoto_sale.code))
    timeline = follow_number(
        ephoto_sale.code,
        issued,
        outbox_reader(booth.ledger.engine),
        services,
        clock,
        say,
        lang,
    )
    procedure = product.procedure or Procedure.PERMIS
    first = redeem(services, ephoto_sale.code, procedure, lang)
    say(
        t.get(
            "run.redeem_first",
            site=product.site,
            http=first[0],
            message=first[1].get("message", ""),
        )
    )
    from transmitter.outbox import read_file

    fetched = keep_fetched_file(
        first[1], ephoto_sale.code, read_file(booth.ledger.engine, ephoto_sale.code), data_dir
    )
    if fetched is not None:
        same = t.get("run.fetched_same" if fetched.same_as_booth else "run.fetched_different")
        say(
            t.get(
                "run.fetched",
                collector=fetched.collector,
                same=same,
                digest=fetched.photo_sha256[:16],
            )
        )
    second = redeem(services, ephoto_sale.code, procedure, lang)
    say(t.get("run.redeem_second", http=second[0], message=second[1].get("message", "")))
    support: dict[str, Any] | None = None
    if classic_sale is not None:
        answer = httpx.post(
            f"{services.support_url}/v1/reports",
            json={"sale_id": classic_sale.display_id()},
            timeout=10.0,
        )
        answer.raise_for_status()
        support = answer.json()
        outcome = texts("support", lang).get(f"outcome.{support['outcome']}")
        say(t.get("run.support", sale=classic_sale.display_id(), outcome=outcome))
    return DemoResult(
        data_dir=data_dir,
        ephoto_code=ephoto_sale.code,
        ephoto_sale=ephoto_sale.display_id(),
        classic_sale=classic_sale.display_id() if classic_sale is not None else None,
        timeline=timeline,
        first_redeem=first,
        second_redeem=second,
        support_answer=support,
        screenshots=screenshots,
        sheets=sorted(booth.paths.prints.glob("*.png")),
        wall_seconds=0.0,  # the caller measures the whole demo
        fetched=fetched,
    )


def window_purchases(booth: Booth, after: int) -> tuple[Sale | None, Sale | None]:
    """The last printed ePhoto sale and the last printed sale without a number made after sale
    id ``after`` (the person's purchases in the window), each None when there is none."""
    made = [sale for sale in booth.ledger.all_sales() if sale.id > after]
    printed = [sale for sale in made if sale.status == "printed"]
    ephoto = [sale for sale in printed if sale.code is not None]
    other = [sale for sale in printed if sale.code is None]
    return (ephoto[-1] if ephoto else None, other[-1] if other else None)


def write_summary(result: DemoResult, lang: str) -> Path:
    """A short HTML page in the data folder: the number's story, the sheets, the screens."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from ephoto.assets import asset
    from ephoto.code import group

    env = Environment(
        loader=FileSystemLoader(asset("templates")), autoescape=select_autoescape(["html"])
    )
    html = env.get_template("demo/summary.html").render(
        lang=lang,
        t=texts("demo", lang),
        result=result,
        grouped=group(result.ephoto_code),
        rel=lambda path: Path(path).resolve().relative_to(result.data_dir.resolve()).as_posix(),
    )
    out = result.data_dir / "summary.html"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    return out


def run_demo(
    settings: Any,
    *,
    scale: float,
    headless: bool,
    registry_port: int,
    support_port: int,
    lang: str,
    say: Callable[[str], None],
    show_table: Callable[[list[list[str]], list[str], str], None],
    collector_port: int = DEFAULT_COLLECTOR_PORT,
    keep_running: bool = False,
    wait: Callable[[Services], None] | None = None,
) -> DemoResult:
    """The whole demo: the customers' purchases (a person's in the window, else the scripted
    customer's), the number followed to its use, ``summary.html``; its last line says where to
    look. With ``keep_running`` the services stay up, their addresses printed, until ``wait``
    returns (by default: until Ctrl-C)."""
    started = time.monotonic()
    data_dir: Path = settings.data_dir
    check_ports(
        {
            "registry": (registry_port, "--registry-port"),
            "support": (support_port, "--support-port"),
            "collector": (collector_port, "--collector-port"),
        },
        lang,
    )
    session = DemoSession.open(data_dir)
    clock = session.clock(scale)
    t = texts("demo", lang)
    say(t.get("run.data_folder", folder=data_dir.resolve(), seconds=f"{3600 / scale:g}"))
    try:
        with running_services(
            data_dir,
            clock,
            registry_port,
            support_port,
            session.admin_token,
            lang,
            say,
            collector_port,
            base=settings,
        ) as services:
            if headless:
                result = scripted_customer(settings, clock, services, say, show_table, lang)
            else:
                result = window_session(settings, clock, services, say, show_table, lang)
            result.wall_seconds = time.monotonic() - started
            result.summary = write_summary(result, lang)
            folder = data_dir.resolve()
            say(t.get("run.finished", seconds=f"{result.wall_seconds:.0f}", folder=folder))
            if keep_running:
                say(t.get("run.keep_running"))
                say(t.get("run.service_registry", url=services.registry_url))
                say(t.get("run.service_support", url=services.support_url))
                say(t.get("run.service_collector", url=services.collector_url))
                say(t.get("run.keep_running_stop"))
                (wait or wait_for_interrupt)(services)
                say(t.get("run.kept_stopped", folder=folder))
            return result
    finally:
        session.domain_time = clock.now()
        session.save()


def wait_for_interrupt(services: Services, poll_seconds: float = 0.5) -> None:
    """Keep the services up until Ctrl-C (or SIGTERM, as a service manager stops things); a
    service that ends stops the demo with its log. Ctrl-C counts even when the demo was
    started with SIGINT ignored (in the background of a script)."""
    from cabine.processes import interrupted_by_signals

    try:
        with interrupted_by_signals():
            while True:
                services.check()
                time.sleep(poll_seconds)
    except KeyboardInterrupt:
        return


def window_session(
    settings: Any,
    clock: SessionClock,
    services: Services,
    say: Callable[[str], None],
    show_table: Callable[[list[list[str]], list[str], str], None],
    lang: str,
) -> DemoResult:
    """The booth in a window until the person closes it, each screen saved as it appears; then
    the number they bought is followed, or, if they bought none, the scripted customer buys."""
    from kiosk.booth import Booth
    from kiosk.ui.app import KioskApp

    t = texts("demo", lang)
    booth = Booth.from_settings(
        settings.kiosk,
        settings.data_dir,
        clock,
        operator_prefix=settings.operator.prefix,
        batch_window=timedelta(minutes=settings.transmitter.batch_window_minutes),
        default_lang=lang,
    )
    try:
        before = max((sale.id for sale in booth.ledger.last_sales(1)), default=0)
        say(t.get("run.window_open"))
        app = KioskApp(
            booth,
            size=(settings.kiosk.width, settings.kiosk.height),
            fullscreen=settings.kiosk.fullscreen,
            screenshots=settings.data_dir / "screenshots",
        )
        app.run()
        ephoto_sale, other_sale = window_purchases(booth, before)
        if ephoto_sale is not None:
            product = booth.catalog.get(ephoto_sale.product).name(lang)
            say(t.get("run.window_closed_bought", product=product))
            result = follow_sales(
                booth,
                ephoto_sale,
                other_sale,
                list(app.saved_screenshots),
                services,
                clock,
                say,
                show_table,
                lang,
            )
            result.bought_in_window = product
            return result
    finally:
        booth.close()
    say(t.get("run.window_closed_none"))
    result = scripted_customer(settings, clock, services, say, show_table, lang)
    result.screenshots = [*app.saved_screenshots, *result.screenshots]
    return result
