"""The booth's services behind the sale machine: ledger, devices, card terminal, renderer.

Each method here is one piece of work the sale flow (``kiosk.flow``) starts, usually on its
executor; the guards the sale machine checks before side effects live here too, each with its
own message. Crash recovery runs at start: a sale left open is closed (its coins owed back as a
refund), and a sale paid but not printed is printed once, with the number it already has. The
same recovery prints the sales a stopped printer left unprinted, once the booth can open again.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from ephoto.clock import Clock
from ephoto.money import Money
from ephoto.private import private_folder, write_private
from kiosk.catalog import Catalog, Product, load_catalog
from kiosk.devices import (
    SPAWN_LOCK,
    Camera,
    CameraUnavailable,
    PhotoCheck,
    Printer,
    PrintFailed,
    PrintJob,
    PrintResult,
    RuleFailure,
    SilentVoice,
    Voice,
)
from kiosk.framing import FramingPhotoCheck
from kiosk.ledger import (
    BOOTH_DB_FILE,
    MAINTENANCE,
    PAID,
    DayCounters,
    Issued,
    IssueFailed,
    Ledger,
    MoneyBack,
    OutboxStatus,
    RefundDue,
    Sale,
)
from kiosk.operator import PinPad, hash_pin
from kiosk.payment import PaymentResult, SimulatedCardTerminal, SimulatedCoinMechanism
from kiosk.printer import FolderPrinter
from kiosk.sale import SaleMachine
from kiosk.settings import DEFAULT_PIN, KioskSettings

log = logging.getLogger(__name__)

PRINT_ATTEMPTS = 2
"""A failed print job is sent once more, a sale's and a recovery's alike, if the printer is
still ready; otherwise (or if it fails again) the sale stays paid and unprinted for recovery."""


@dataclass(frozen=True)
class SheetRequest:
    """Everything the printed sheet shows about one sale."""

    sale: Sale
    product: Product
    photo: Image.Image
    issued: Issued | None
    lang: str
    preview: bool = True
    """Whether a screen will show the sheet: a booth without one, or a recovery, needs none."""


@dataclass(frozen=True)
class RenderedSheet:
    png: Path
    pdf: Path | None
    preview: Image.Image | None
    """The sheet at the largest size the screens show it; None when none was asked for."""


SheetRenderer = Callable[[SheetRequest, Path], RenderedSheet]


@dataclass(frozen=True)
class PrintOutcome:
    sale_id: int
    sheet: RenderedSheet
    job_id: str
    paper_left: int


@dataclass(frozen=True)
class OperatorSnapshot:
    outbox: OutboxStatus
    paper_left: int
    paper_capacity: int
    sheets_printed: int
    today: DayCounters
    last_sales: list[Sale]
    recovered: list[Sale]
    refunds_due: list[RefundDue]
    printer: str
    maintenance: bool


@dataclass(frozen=True)
class DeviceProblem:
    """Why a device keeps the booth in maintenance: a message key and the device's words."""

    key: str
    detail: str


@dataclass
class BoothPaths:
    data_dir: Path
    db: Path = field(init=False)
    prints: Path = field(init=False)
    photos: Path = field(init=False)
    sheets: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.db = self.data_dir / BOOTH_DB_FILE
        self.prints = self.data_dir / "prints"
        self.photos = self.data_dir / "photos"
        self.sheets = self.data_dir / "sheets"
        if not self.data_dir.exists():
            private_folder(self.data_dir)
        # Portraits, signatures and the sheets that show them: personal data, owner only.
        for folder in (self.prints, self.photos, self.sheets):
            private_folder(folder)


def default_camera(settings: KioskSettings) -> Camera:
    from kiosk.camera import SyntheticCamera

    return SyntheticCamera(seed=int(time.monotonic_ns() % 10_000))


def default_renderer(request: SheetRequest, folder: Path) -> RenderedSheet:
    """The sheet from ``kiosk.receipt``, written as PNG and PDF into ``folder``."""
    from ephoto.code import EphotoCode
    from kiosk.receipt import SheetInfo, compose_sheet, save_to_prints

    issued = request.issued
    info = SheetInfo(
        product=request.product,
        code=EphotoCode(issued.code) if issued is not None and issued.code else None,
        issued_at=issued.issued_at if issued is not None else request.sale.opened_at,
        booth_id=request.sale.booth_id,
        sale_id=request.sale.display_id(),
    )
    sheet = compose_sheet(info, [request.photo], request.lang)
    png, pdf = save_to_prints(sheet.image, folder, request.sale.display_id())
    if not request.preview:
        return RenderedSheet(png=png, pdf=pdf, preview=None)
    preview = sheet.image.copy()
    preview.thumbnail(PREVIEW_SIZE, Image.Resampling.LANCZOS)
    return RenderedSheet(png=png, pdf=pdf, preview=preview)


PREVIEW_SIZE = (800, 1200)  # the largest the screens show the sheet


class ProcessRenderer:
    """Renders sheets in a separate process, so drawing, PNG and PDF encoding never compete
    with the touchscreen's frames for the interpreter lock. The worker starts on
    :meth:`warm_up` (the touchscreen calls it once the first screen is up, so it does not slow
    the start) or at the first sheet; it exits with the booth, even if the booth is killed."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._lock = threading.Lock()
        self._closed = False

    def _started(self) -> Any:
        with self._lock:
            if self._closed:
                raise RuntimeError("the sheet renderer is closed")
            if self._pool is None:
                import multiprocessing

                with SPAWN_LOCK:  # not while OpenCV's loader has sys.path rewritten
                    self._pool = multiprocessing.get_context("spawn").Pool(
                        1, initializer=_exit_with_parent, initargs=(os.getpid(),)
                    )
            return self._pool

    def warm_up(self) -> None:
        """Start the worker from a thread: spawning a process must not hold up a frame."""

        def start() -> None:
            try:
                self._started().apply_async(_warm_up)
            except Exception as exc:  # noqa: BLE001 - the first sheet starts it again
                log.warning("sheet renderer did not start ahead: %s", exc)

        threading.Thread(target=start, daemon=True, name="renderer-start").start()

    def __call__(self, request: SheetRequest, folder: Path) -> RenderedSheet:
        return self._started().apply_async(default_renderer, (request, folder)).get()

    def close(self) -> None:
        """Stop the worker now: a half-rendered sheet is redone by recovery at the next start."""
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.terminate()
                self._pool.join()
                self._pool = None


def _exit_with_parent(parent: int) -> None:
    """In the render worker: leave as soon as the booth's process is gone (even SIGKILLed)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _warm_up() -> None:
    import kiosk.receipt  # noqa: F401 - load the renderer's modules before the first sale


class Booth:
    def __init__(
        self,
        settings: KioskSettings,
        data_dir: Path,
        clock: Clock,
        *,
        operator_prefix: str = "9PMT",
        batch_window: timedelta = timedelta(minutes=15),
        catalog: Catalog | None = None,
        camera: Camera | None = None,
        renderer: SheetRenderer | None = None,
        printer: Printer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        default_lang: str = "fr",
    ):
        self.settings = settings
        self.default_lang = default_lang
        self.clock = clock
        self.paths = BoothPaths(data_dir)
        self.catalog = catalog or load_catalog()
        self.ledger = Ledger(
            self.paths.db,
            clock,
            booth_id=settings.booth_id,
            operator_prefix=operator_prefix,
            batch_window=batch_window,
            paper_capacity=settings.paper_capacity,
        )
        self.camera = camera or default_camera(settings)
        if renderer is None and settings.render_in_process:
            renderer = ProcessRenderer()
        self.renderer = renderer or default_renderer
        self.printer = printer or FolderPrinter(
            self.paths.prints, self.ledger.paper_left, seconds=settings.print_seconds
        )
        self.terminal = SimulatedCardTerminal(seconds=settings.payment_seconds)
        self.coins = SimulatedCoinMechanism(gives_back=settings.coins_given_back)
        self.photo_check: PhotoCheck = FramingPhotoCheck()
        self.voice: Voice = SilentVoice()
        self.device_problem: DeviceProblem | None = None
        self.monotonic = monotonic
        self._print_lock = threading.RLock()
        self.pinpad = PinPad(
            settings.operator_pin_hash or (lambda: hash_pin(DEFAULT_PIN)),
            monotonic,
            max_tries=settings.pin_max_tries,
            lockout_seconds=settings.pin_lockout_seconds,
            store=self.ledger,
        )

    @classmethod
    def from_settings(
        cls,
        settings: KioskSettings,
        data_dir: Path,
        clock: Clock,
        *,
        operator_prefix: str = "9PMT",
        batch_window: timedelta = timedelta(minutes=15),
        default_lang: str = "fr",
        headless: bool = False,
        camera_seed: int | None = None,
    ) -> Booth:
        """The booth with the devices its settings name (``kiosk.devices.choose``), cameras
        started. The one way ``cabine kiosk``, the demo and the FAQ library build a booth.

        A device that fails at start does not stop the booth: it stays in maintenance with the
        reason (:attr:`device_problem`), as an operator would want to read it on the screen.
        Raises ``ValueError`` for a device kind the settings name but this booth does not know.
        """
        from kiosk.devices import choose

        choose.require_printer_library(settings)
        booth = cls(
            settings,
            data_dir,
            clock,
            operator_prefix=operator_prefix,
            batch_window=batch_window,
            default_lang=default_lang,
            camera=choose.open_camera(settings, camera_seed),
        )
        booth.printer = choose.open_printer(settings, booth.paths.prints, booth.ledger.paper_left)
        booth.photo_check = choose.open_photo_check(settings)
        booth.voice = choose.open_voice(settings, headless=headless, cache=data_dir / "voice")
        booth.restore_voice_choice()
        booth.start_devices()
        return booth

    def restore_voice_choice(self) -> None:
        """The volume and mute the operator chose in the menu outlive a restart."""
        volume, muted = self.ledger.load_voice_choice()
        if volume is not None and hasattr(self.voice, "volume"):
            self.voice.volume = volume
        if muted is not None and hasattr(self.voice, "muted"):
            self.voice.muted = muted

    def save_voice_choice(self, volume: float, muted: bool) -> None:
        self.ledger.save_voice_choice(volume, muted)

    def start_devices(self) -> None:
        """Start the camera; a failure is kept as the reason the booth is in maintenance."""
        try:
            self.camera.start()
        except CameraUnavailable as exc:
            log.error("camera %s unavailable: %s", self.camera.name, exc)
            self.device_problem = DeviceProblem("refused.camera", f"{self.camera.name}: {exc}")
        else:
            self.device_problem = None

    @property
    def maintenance_requested(self) -> bool:
        """The operator put the booth in maintenance; kept in the ledger across restarts."""
        return self.ledger.counter(MAINTENANCE) == 1

    @maintenance_requested.setter
    def maintenance_requested(self, value: bool) -> None:
        self.ledger.set_counter(MAINTENANCE, 1 if value else 0)

    # -- guards (None: go on; else the message key saying why not) ------------------------------
    def booth_open(self, _machine: SaleMachine | None = None) -> str | None:
        if self.maintenance_requested:
            return "refused.maintenance"
        if self.device_problem is not None:
            return self.device_problem.key
        return self.printer_ready()

    def printer_ready(self, _machine: SaleMachine | None = None) -> str | None:
        status = self.printer.status()
        return None if status.ready else (status.problem or "refused.printer")

    def ledger_ready(self, _machine: SaleMachine | None = None) -> str | None:
        return self.ledger.ready()

    def needs_maintenance(self) -> bool:
        return self.booth_open() is not None

    def machine(self) -> SaleMachine:
        from kiosk.sale import Timeouts

        machine = SaleMachine(
            self.catalog,
            self.monotonic,
            retake_limit=self.settings.retake_limit,
            default_lang=self.default_lang,
            timeouts=Timeouts(
                customer=self.settings.idle_timeout_seconds,
                payment=self.settings.payment_timeout_seconds,
                resting=self.settings.message_timeout_seconds,
            ),
        )
        machine.set_guard("booth_open", self.booth_open)
        machine.set_guard("printer_ready", self.printer_ready)
        machine.set_guard("ledger_ready", self.ledger_ready)
        return machine

    # -- work (blocking: run it in the background) --------------------------------------------
    def take_photo(self) -> tuple[Image.Image, list[RuleFailure]]:
        """A picture and the photo rules it breaks (none: accepted)."""
        image = self.camera.capture().convert("RGB")
        return image, self.photo_check.check(image)

    def close_unpaid(self, sale_id: int, reason: str) -> MoneyBack | None:
        """End an unpaid sale; its coins go back to the customer if the coin box can."""
        cents = self.ledger.coins_in(sale_id)
        given = cents == 0 or self.coins.give_back(cents)
        return self.ledger.close_unpaid(sale_id, reason, coins_returned=given)

    def close_abandoned_sales(self) -> list[MoneyBack]:
        """At start: every sale a crash left open is closed. Its customer has gone, so coins
        in it cannot be handed back: they are recorded as a refund due, for the operator."""
        owed = []
        for sale_id in self.ledger.open_sales():
            back = self.ledger.close_unpaid(sale_id, "open at restart", coins_returned=False)
            if back is not None:
                log.warning("sale %s was open at restart: %s cents refund due", sale_id, back.cents)
                owed.append(back)
        return owed

    def keep_photo(self, sale_id: int, image: Image.Image) -> Path:
        path = self.paths.photos / f"sale-{sale_id:06d}.png"
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        write_private(path, buffer.getvalue(), durable=False)
        self.ledger.attach_photo(sale_id, path)
        return path

    def keep_signature(self, sale_id: int, png: bytes) -> Path:
        path = self.paths.photos / f"sale-{sale_id:06d}-signature.png"
        write_private(path, png, durable=False)
        return path

    def charge_card(self, amount: Money) -> PaymentResult:
        return self.terminal.charge(amount)

    def issue(self, sale_id: int, payment: PaymentResult) -> tuple[Issued, bool]:
        """The issuing transaction, then the change of a coin payment given (or, when the coin
        box cannot, recorded as owed in that same transaction). Returns the issue and whether
        the change was given. On failure the payment is marked for refund and re-raised.

        An ePhoto number's file is made from the photo and the signature this sale kept
        (:meth:`keep_photo`, :meth:`keep_signature`); without them no number is issued."""
        method, amount = payment.method, payment.amount
        change = payment.change.cents
        given = change == 0 or self.coins.can_give(change)
        try:
            sale = self.ledger.sale(sale_id)
            photo = signature = None
            procedure = None
            if sale.ephoto:
                photo = self._kept_photo(sale)
                signature = self._signature_for(sale)
                procedure = self.catalog.get(sale.product).procedure
            issued = self.ledger.issue(
                sale_id,
                method,
                amount.cents,
                photo=photo,
                signature=signature,
                procedure=procedure,
                change_cents=change,
                change_given=given,
            )
        except IssueFailed as exc:
            recorded = self.ledger.mark_refund_due(sale_id, method, amount.cents, str(exc))
            log.error(
                "issuing failed for sale %s (refund recorded: %s): %s", sale_id, recorded, exc
            )
            raise
        if change and given:
            self.coins.give_back(change)
        return issued, given

    def _kept_photo(self, sale: Sale) -> Image.Image | None:
        """The photo the customer accepted, as kept for this sale; None if it was not kept."""
        if not sale.photo_path or not Path(sale.photo_path).exists():
            return None
        with Image.open(sale.photo_path) as opened:
            return opened.convert("RGB")

    def _photo_for(self, sale: Sale) -> Image.Image:
        if sale.photo_path and Path(sale.photo_path).exists():
            with Image.open(sale.photo_path) as opened:
                return opened.convert("RGB")
        log.warning("sale %s has no stored photo; printing a fresh capture", sale.id)
        return self.camera.capture().convert("RGB")

    def _signature_for(self, sale: Sale) -> Image.Image | None:
        """The signature kept for this sale: it goes into the ePhoto file, not on the sheet."""
        path = self.paths.photos / f"sale-{sale.id:06d}-signature.png"
        if not path.exists():
            return None
        with Image.open(path) as opened:
            return opened.convert("RGBA")

    def render(
        self, sale_id: int, issued: Issued | None = None, *, preview: bool = True
    ) -> RenderedSheet:
        sale = self.ledger.sale(sale_id)
        if issued is None and sale.code is not None:
            issued = self._issued_from_ledger(sale)
        request = SheetRequest(
            sale=sale,
            product=self.catalog.get(sale.product),
            photo=self._photo_for(sale),
            issued=issued,
            lang=sale.lang,
            preview=preview,
        )
        return self.renderer(request, self.paths.sheets)

    def _issued_from_ledger(self, sale: Sale) -> Issued:
        from sqlalchemy import select

        from kiosk.ledger import issued_codes

        with self.ledger.engine.connect() as conn:
            row = conn.execute(select(issued_codes).where(issued_codes.c.sale_id == sale.id)).one()
        return Issued(sale.id, row.code, row.issued_at, row.expires_at)

    def print_sheet(
        self, sale_id: int, sheet: RenderedSheet, kind: str = "sale"
    ) -> PrintOutcome | None:
        """Print a sale's sheet; None if it was printed meanwhile (a sale prints once).

        Printing is serialised and the sale's status checked under the lock, so the sale
        screen and crash recovery can never both print the same sale. Raises
        :class:`PrintFailed` when the sheet did not come out (see :meth:`_send`).
        """
        with self._print_lock:
            if kind != "reprint" and self.ledger.sale(sale_id).status != PAID:
                log.info("sale %s already printed: not printing it again", sale_id)
                return None
            printed = self._send(PrintJob(sale_id, sheet.png, sheet.pdf, kind))
            left = self.ledger.record_print(sale_id, printed.job_id, kind)
            return PrintOutcome(sale_id, sheet, printed.job_id, left)

    def _send(self, job: PrintJob) -> PrintResult:
        """The one retry rule, whoever prints: a failed job is sent again (up to
        :data:`PRINT_ATTEMPTS` in all) only while the printer is ready; a job sent to a
        stopped queue would only wait again, so the sale is left to recovery at once."""
        for attempt in range(1, PRINT_ATTEMPTS + 1):
            try:
                return self.printer.print_sheet(job)
            except PrintFailed as exc:
                log.error(
                    "sale %s: %s print attempt %s failed: %s", job.sale_id, job.kind, attempt, exc
                )
                if attempt == PRINT_ATTEMPTS:
                    raise
                problem = self.printer_ready()
                if problem is not None:
                    log.error(
                        "sale %s: not sent again, the printer is not ready (%s)",
                        job.sale_id,
                        problem,
                    )
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def render_and_print(self, sale_id: int, issued: Issued | None, kind: str = "sale"):  # noqa: ANN201
        return self.print_sheet(sale_id, self.render(sale_id, issued, preview=False), kind)

    def recover(self) -> list[int]:
        """Finish every sale left paid but unprinted (by a crash, or by a printer that failed or
        stopped): print it once, with its number. Stops at the first sale the printer is not
        ready for; a sale whose print fails with the printer still ready stays paid for the next
        recovery, and the sales after it are still printed."""
        finished = []
        for sale in self.ledger.paid_not_printed():
            problem = self.printer_ready()
            if problem is not None:
                log.warning("sale %s waits for the printer to be ready (%s)", sale.id, problem)
                break
            with self._print_lock:
                if self.ledger.sale(sale.id).status != PAID:
                    continue  # the sale screen printed it meanwhile
                try:
                    outcome = self.render_and_print(sale.id, None, kind="recovery")
                except PrintFailed as exc:
                    log.error(
                        "sale %s: recovery print failed, kept for the next one: %s", sale.id, exc
                    )
                    continue
                if outcome is not None:
                    finished.append(sale.id)
        return finished

    def reopen(self) -> bool:
        """In maintenance: whether the booth may sell again, nothing keeping it closed any more
        (a stopped queue resumed). The sales left paid but unprinted meanwhile are printed first,
        so the next customer's sheet never comes out before them."""
        if self.booth_open() is not None:
            return False
        recovered = self.recover()
        if recovered:
            log.warning("printed after maintenance: sales %s", recovered)
        return self.booth_open() is None

    def reprint_last(self) -> PrintOutcome | None:
        last = self.ledger.last_print()
        if last is None:
            return None
        sale_id, _ = last
        return self.render_and_print(sale_id, None, kind="reprint")

    def warm_up(self) -> None:
        """Once the first screen is up: start what the first sale would otherwise wait for
        (the sheet renderer's process, the photo check's detector), off the screen's thread."""
        renderer_warm_up = getattr(self.renderer, "warm_up", None)
        if renderer_warm_up is not None:
            renderer_warm_up()
        check_warm_up = getattr(self.photo_check, "warm_up", None)
        if check_warm_up is not None:
            self._check_warm_up = threading.Thread(
                target=check_warm_up, daemon=True, name="check-warm-up"
            )
            self._check_warm_up.start()

    def refill_paper(self) -> None:
        self.ledger.refill_paper()

    def snapshot(self) -> OperatorSnapshot:
        return OperatorSnapshot(
            outbox=self.ledger.outbox_status(),
            paper_left=self.ledger.paper_left(),
            paper_capacity=self.settings.paper_capacity,
            sheets_printed=self.ledger.counter("sheets_printed"),
            today=self.ledger.today(),
            last_sales=self.ledger.last_sales(6),
            recovered=self.ledger.recovered_sales(4),
            refunds_due=self.ledger.refunds_due(4),
            printer=self.printer.status().detail,
            maintenance=self.maintenance_requested,
        )

    def close(self) -> None:
        # A process that ends while OpenCV is still loading its detector on that thread is
        # aborted by the C++ runtime ("terminate called without an active exception").
        warming = getattr(self, "_check_warm_up", None)
        if warming is not None:
            warming.join()
        for device in (self.renderer, self.voice, self.camera):
            closer = getattr(device, "close", None)
            if closer is not None:
                closer()
        self.ledger.dispose()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
