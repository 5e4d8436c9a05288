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
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

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
    from transmitter.outbox import Delivery

DEFAULT_SCALE = 3600.0
DEFAULT_REGISTRY_PORT = 8700
DEFAULT_SUPPORT_PORT = 8710
DEFAULT_COLLECTOR_PORT = 8720
HOST = "127.0.0.1"
SESSION_FILE = "demo-session.json"
STOP_GRACE_SECONDS = 10.0


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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to stop the child if the demo itself dies, so nothing is left running."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


CHILD_ROLES = {
    "registry": "registry",
    "collector": "collector",
    "transmitter": "transmitter",
    "support desk": "support",
}
"""Each child's name (its log file's) and the role its messages name."""


@dataclass
class Children:
    """The demo's child processes; stopped in reverse order, gently then firmly."""

    log_dir: Path
    env: dict[str, str]
    started: list[Child] = field(default_factory=list)

    @property
    def lang(self) -> str:
        """The language the children were told to speak, that of the demo's messages too."""
        return self.env.get("CABINE_LANG", "fr")

    def start(self, name: str, *args: str) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cabine.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops them in order
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log)
        self.started.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.started:
            code = child.process.poll()
            if code is not None:
                t = texts("demo", self.lang)
                role = t.get(f"run.error.role_{CHILD_ROLES.get(child.name, child.name)}")
                stopped = t.get("run.error.child_stopped", role=role, code=code, log=child.log)
                raise DemoError(f"{stopped}\n{tail(child.log)}")

    def stop(self) -> None:
        for child in reversed(self.started):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in reversed(self.started):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait(timeout=5)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_until_serving(url: str, child: Child, children: Children, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers, failing early if the child dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children.check_alive()
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    t = texts("demo", children.lang)
    role = t.get(f"run.error.role_{CHILD_ROLES.get(child.name, child.name)}")
    silent = t.get("run.error.child_silent", role=role, url=url, seconds=f"{timeout:.0f}")
    raise DemoError(f"{silent}\n{tail(child.log)}")


@dataclass(frozen=True)
class Services:
    registry_url: str
    support_url: str
    admin_token: str
    collector_url: str = ""


@dataclass(frozen=True)
class DemoKeys:
    """Where the demo put each key the services need of each other (all in the data folder)."""

    state_public: Path
    collector_public: Path


def wire_keys(data_dir: Path, prefix: str) -> DemoKeys:
    """Make (first run) and exchange the keys: the state's fetch key, whose public half the
    collector checks fetches with; the collector's seal key, whose public half the registry
    checks seals with; the collector's registration key in the registry's keys file, as
    ``cabine booth-key collector-PREFIX`` gives it."""
    from collector.settings import SEAL_KEY_FILE, STATE_KEY_FILE, collector_id
    from ephoto.seal import load_or_create_private_key, public_pem
    from ephoto.wire import add_booth_key
    from registry.settings import FETCH_KEY_FILE

    state = load_or_create_private_key(data_dir / FETCH_KEY_FILE)
    seal = load_or_create_private_key(data_dir / SEAL_KEY_FILE)
    keys = DemoKeys(data_dir / STATE_KEY_FILE, data_dir / "collector-seal.pub.pem")
    keys.state_public.write_bytes(public_pem(state))
    keys.collector_public.write_bytes(public_pem(seal))
    add_booth_key(data_dir / "keys.toml", collector_id(prefix), prefix)
    return keys


def child_environment(
    data_dir: Path,
    clock: SessionClock,
    registry_port: int,
    support_port: int,
    admin_token: str,
    lang: str,
    collector_port: int = DEFAULT_COLLECTOR_PORT,
    prefix: str = "9PMT",
) -> dict[str, str]:
    """The configuration every child reads (environment overrides the TOML file)."""
    import json

    scaled = scaled_base(clock)
    data = data_dir.resolve()
    collector_url = f"http://{HOST}:{collector_port}"
    # The services poll their outboxes this often (real seconds): at a high scale a slow poll
    # would add hours of domain time the real booth does not have.
    poll = repr(max(0.2, min(5.0, 900.0 / scaled.scale)))
    env = dict(os.environ)
    env.update(
        {
            "CABINE_DATA_DIR": str(data_dir.resolve()),
            "CABINE_LANG": lang,
            "CABINE_CLOCK__EPOCH": scaled.epoch.isoformat(),
            "CABINE_CLOCK__ORIGIN": scaled.origin.isoformat(),
            "CABINE_CLOCK__SCALE": repr(scaled.scale),
            "CABINE_CLOCK__SESSION_FILE": str(clock.path.resolve()),
            "CABINE_REGISTRY__HOST": HOST,
            "CABINE_REGISTRY__PORT": str(registry_port),
            "CABINE_REGISTRY__ADMIN_ENABLED": "true",
            "CABINE_REGISTRY__ADMIN_TOKEN": admin_token,
            # The state fetches each file from the operator's collector, checking its seal.
            "CABINE_REGISTRY__COLLECTORS": json.dumps(
                {
                    prefix: {
                        "url": collector_url,
                        "public_key_file": str(data / "collector-seal.pub.pem"),
                    }
                }
            ),
            "CABINE_COLLECTOR__HOST": HOST,
            "CABINE_COLLECTOR__PORT": str(collector_port),
            "CABINE_COLLECTOR__ADMIN_ENABLED": "true",
            "CABINE_COLLECTOR__ADMIN_TOKEN": admin_token,
            "CABINE_COLLECTOR__REGISTRY_URL": f"http://{HOST}:{registry_port}",
            "CABINE_COLLECTOR__REGISTRATION_POLL_SECONDS": poll,
            # The booth sends files to the collector; the collector registers the numbers.
            "CABINE_TRANSMITTER__DESTINATION": "collector",
            "CABINE_TRANSMITTER__COLLECTOR_URL": collector_url,
            "CABINE_TRANSMITTER__REGISTRY_URL": f"http://{HOST}:{registry_port}",
            "CABINE_TRANSMITTER__POLL_SECONDS": poll,
            "CABINE_SUPPORT__HOST": HOST,
            "CABINE_SUPPORT__PORT": str(support_port),
            "CABINE_SUPPORT__REGISTRY_URL": f"http://{HOST}:{registry_port}",
            "CABINE_SUPPORT__REGISTRY_ADMIN_TOKEN": admin_token,
            "CABINE_SUPPORT__COLLECTOR_URL": collector_url,
            "CABINE_SUPPORT__COLLECTOR_ADMIN_TOKEN": admin_token,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


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
    prefix: str = "9PMT",
) -> Iterator[Services]:
    """Start the registry, the collector, the transmitter and the support desk, their keys
    wired; stop them all on exit."""
    wire_keys(data_dir, prefix)
    env = child_environment(
        data_dir, clock, registry_port, support_port, admin_token, lang, collector_port, prefix
    )
    children = Children(data_dir / "logs", env)
    registry_url = f"http://{HOST}:{registry_port}"
    support_url = f"http://{HOST}:{support_port}"
    collector_url = f"http://{HOST}:{collector_port}"
    try:
        registry = children.start("registry", "registry")
        wait_until_serving(f"{registry_url}/", registry, children)
        t = texts("demo", lang)
        say(t.get("run.service_registry", url=registry_url))
        collector = children.start("collector", "collector", "serve")
        wait_until_serving(f"{collector_url}/openapi.json", collector, children)
        say(t.get("run.service_collector", url=collector_url))
        children.start("transmitter", "transmitter")
        support = children.start("support desk", "support", "serve")
        wait_until_serving(f"{support_url}/", support, children)
        say(t.get("run.service_support", url=support_url))
        children.check_alive()
        yield Services(registry_url, support_url, admin_token, collector_url)
        children.check_alive()
    finally:
        children.stop()


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
    classic_sale: str
    timeline: Timeline
    first_redeem: tuple[int, dict[str, Any]]
    second_redeem: tuple[int, dict[str, Any]]
    support_answer: dict[str, Any]
    screenshots: list[Path]
    sheets: list[Path]
    wall_seconds: float
    summary: Path | None = None
    fetched: FetchedAtUse | None = None
    """The photo and signature the state fetched from the collector when the number was used."""


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
        first = redeem(services, ephoto_sale.code, permis.procedure or Procedure.PERMIS, lang)
        say(
            t.get(
                "run.redeem_first",
                site=permis.site,
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
        second = redeem(services, ephoto_sale.code, permis.procedure or Procedure.PERMIS, lang)
        say(t.get("run.redeem_second", http=second[0], message=second[1].get("message", "")))
        answer = httpx.post(
            f"{services.support_url}/v1/reports",
            json={"sale_id": classic_sale.display_id()},
            timeout=10.0,
        )
        answer.raise_for_status()
        support = answer.json()
        outcome = texts("support", lang).get(f"outcome.{support['outcome']}")
        say(t.get("run.support", sale=classic_sale.display_id(), outcome=outcome))
        sheets = sorted(booth.paths.prints.glob("*.png"))
        return DemoResult(
            data_dir=data_dir,
            ephoto_code=ephoto_sale.code,
            ephoto_sale=ephoto_sale.display_id(),
            classic_sale=classic_sale.display_id(),
            timeline=timeline,
            first_redeem=first,
            second_redeem=second,
            support_answer=support,
            screenshots=list(report.screenshots),
            sheets=sheets,
            wall_seconds=0.0,  # the caller measures the whole demo
            fetched=fetched,
        )
    finally:
        booth.close()


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
) -> DemoResult | None:
    """The whole demo; returns the scripted customer's result when headless."""
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
    from ephoto.wire import add_booth_key  # the keys file shared by registry and transmitter

    add_booth_key(data_dir / "keys.toml", settings.kiosk.booth_id, settings.operator.prefix)
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
            settings.operator.prefix,
        ) as services:
            if headless:
                result = scripted_customer(settings, clock, services, say, show_table, lang)
                result.wall_seconds = time.monotonic() - started
                result.summary = write_summary(result, lang)
                return result
            from kiosk.booth import Booth
            from kiosk.ui.app import KioskApp

            booth = Booth.from_settings(
                settings.kiosk,
                data_dir,
                clock,
                operator_prefix=settings.operator.prefix,
                batch_window=timedelta(minutes=settings.transmitter.batch_window_minutes),
                default_lang=lang,
            )
            try:
                say(t.get("run.window_open"))
                KioskApp(
                    booth,
                    size=(settings.kiosk.width, settings.kiosk.height),
                    fullscreen=settings.kiosk.fullscreen,
                ).run()
            finally:
                booth.close()
            return None
    finally:
        session.domain_time = clock.now()
        session.save()
