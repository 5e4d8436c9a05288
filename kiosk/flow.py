"""The sale's work, without a screen: what happens when the sale machine enters each state.

:class:`SaleFlow` hooks the sale machine's state entries and does the sale: it opens the sale
when the customer accepts a product, takes and checks the photo after the countdown, keeps the
photo and the signature, takes payment (each coin in the ledger as it goes in), issues, renders
and prints, closes an unpaid sale (giving its coins back or recording a refund due), and at
start closes what a crash left open and prints what was paid but not printed. In maintenance
it checks now and then whether what closed the booth is fixed (a stopped queue resumed): then
the sales left unprinted are printed and the booth opens again by itself.

Slow work runs on an injected executor (threads on the touchscreen, inline in the FAQ library
and tests); each result comes back on a queue and :meth:`SaleFlow.pump`, called on the host's
own thread, turns it into a machine event. A result for a sale or screen the booth has left
is dropped. The touchscreen (``kiosk.ui``) only lays out and paints :attr:`SaleFlow.progress`
and turns taps into the calls below.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from ephoto.money import Money
from kiosk.booth import Booth, RenderedSheet
from kiosk.devices import LiveView, PrintFailed, RuleFailure
from kiosk.ledger import Issued, IssueFailed, MoneyBack
from kiosk.payment import CARD, COINS, CoinBox, PaymentResult
from kiosk.sale import SaleMachine, State

log = logging.getLogger(__name__)

REOPEN_CHECK_SECONDS = 2.0
"""How often a booth in maintenance asks whether it may open again (monotonic seconds)."""


class InlineExecutor(Executor):
    """Runs each job at once on the caller's thread: the flow without threads, for the FAQ
    library, the tests and scripts that need every step to finish before the next."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed back like a thread pool would
            future.set_exception(exc)
        return future


@dataclass
class SaleProgress:
    """What the current sale has produced so far, for the screens to show."""

    photo: Image.Image | None = None
    photo_preview: Image.Image | None = None
    failures: list[RuleFailure] | None = None  # None until the photo is checked
    coins: CoinBox | None = None
    payment: PaymentResult | None = None
    issued: Issued | None = None
    sheet: RenderedSheet | None = None
    sheet_preview: Image.Image | None = None
    change_given: bool = True
    money_back: MoneyBack | None = None
    print_problem: str | None = None  # message key when the sheet could not be printed
    shooting: bool = False
    busy: str | None = None  # the work under way on this screen (charge, keep, sign)
    live_frame: Image.Image | None = None
    """The camera's latest frame during the countdown, mirrored and filling the capture
    screen's frame, when the camera gives frames (:class:`kiosk.devices.LiveView`)."""

    @property
    def photo_ok(self) -> bool:
        return self.failures is not None and not self.failures


@dataclass(frozen=True)
class _Finished:
    kind: str
    ticket: tuple[State, int] | None
    future: Future[Any]


@dataclass
class PreviewSizes:
    """Boxes (pixels) the screens show the photo and the sheet in; previews are fitted off the
    screen's thread."""

    photo: tuple[int, int] = (620, 800)
    sheet: tuple[int, int] = (700, 760)
    live: tuple[int, int] = (600, 772)
    """The capture screen's frame, for the camera's live view."""


def fitted(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    copy = image.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    return copy


@dataclass
class SaleFlow:
    booth: Booth
    machine: SaleMachine
    executor: Executor = field(default_factory=InlineExecutor)
    previews: PreviewSizes | None = field(default_factory=PreviewSizes)
    """None: no screen shows the photo or the sheet (the FAQ library, the live fleet), so no
    preview is made."""
    on_error: Callable[[BaseException], None] | None = None
    progress: SaleProgress = field(default_factory=SaleProgress, init=False)
    recovered: list[int] = field(default_factory=list, init=False)
    errors: list[BaseException] = field(default_factory=list, init=False)
    _finished: queue.SimpleQueue[_Finished] = field(default_factory=queue.SimpleQueue, init=False)
    _listeners: list[Callable[[str], None]] = field(default_factory=list, init=False)
    _entered_at: float = field(default=0.0, init=False)
    _said: set[str] = field(default_factory=set, init=False)
    _reopen_check_at: float | None = field(default=None, init=False)  # None: one is running
    _framing: bool = field(default=False, init=False)  # a live frame is being read
    _no_live_view: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.machine.on_enter(self._entered)
        self._entered_at = self.booth.monotonic()
        # Before the first tap: a sale a crash left open must not be mistaken for a new one.
        self.booth.close_abandoned_sales()

    # -- wiring -------------------------------------------------------------------------------
    def on_change(self, listener: Callable[[str], None]) -> None:
        """``listener(what)`` is called (on the host's thread) when progress changes without
        a state change: coins inserted, a card declined, the sheet's preview ready."""
        self._listeners.append(listener)

    def _changed(self, what: str) -> None:
        for listener in self._listeners:
            listener(what)

    def start(self) -> None:
        """After the first screen is up: finish paid sales a crash left unprinted."""
        self._submit("recover", self.booth.recover, bound=False)

    # -- state entries ------------------------------------------------------------------------
    def _entered(self, machine: SaleMachine, source: State, target: State) -> None:
        session = machine.session
        self._entered_at = self.booth.monotonic()
        self._said.clear()
        if target is State.ATTRACT:
            ended = machine.finished_session
            self.progress = SaleProgress()
            if ended is not None and ended.sale_id is not None:
                # Only an open (unpaid) sale is closed; a paid one is left as it is.
                self.booth.close_unpaid(ended.sale_id, f"ended in {source.value}")
        elif target is State.LANGUAGE:
            self.booth.voice.say("welcome", session.lang)
        elif target is State.CAPTURE:
            if session.sale_id is None and session.product is not None:
                session.sale_id = self.booth.ledger.open_sale(session.product, session.lang)
            self.progress.shooting = False
            self.progress.photo_preview = None
            self.progress.live_frame = None
            self._framing = self._no_live_view = False
            self.booth.voice.say("look_at_lens", session.lang)
        elif target is State.PAYMENT:
            self.progress.busy = None
            if self.progress.coins is None and session.product is not None:
                self.progress.coins = CoinBox(session.product.price)
        elif target is State.MONEY_BACK:
            assert session.sale_id is not None
            self.progress.money_back = self.booth.close_unpaid(
                session.sale_id, f"{machine.history[-1].event} with coins in"
            )
        elif target is State.ISSUING:
            assert session.sale_id is not None and self.progress.payment is not None
            self._submit("issue", self.booth.issue, session.sale_id, self.progress.payment)
        elif target is State.PRINTING:
            assert session.sale_id is not None
            self._submit("render", self._render, session.sale_id, self.progress.issued)
        elif target is State.DONE:
            if session.product is not None and session.product.ephoto:
                self.booth.voice.say("number_printed", session.lang)
            self.booth.voice.say("take_sheet", session.lang)
        elif target is State.FAILSAFE:
            # A paid sale interrupted by the error is finished now, not lost.
            self._submit("recover", self.booth.recover, bound=False)
        elif target is State.MAINTENANCE:
            self._reopen_check_at = self._entered_at + REOPEN_CHECK_SECONDS

    # -- the host's frame ---------------------------------------------------------------------
    def tick(self) -> None:
        """Timeouts, the capture countdown, and finished work turned into events.

        No timeout while work is under way on the screen (a card being charged): the sale is
        never given up under a payment whose answer has not come back."""
        if self.progress.busy is None:
            self.machine.tick()
        if self.machine.state is State.CAPTURE:
            left = self.countdown_left()
            if left > 0 and f"countdown_{left}" not in self._said:
                self._said.add(f"countdown_{left}")
                self.booth.voice.say(f"countdown_{left}", self.machine.session.lang)
            if left == 0 and not self.progress.shooting:
                self.progress.shooting = True
                self._submit("photo", self._shoot)
            elif left > 0 and self._wants_frames():
                # One frame at a time: the next is asked for when this one is shown.
                self._framing = True
                self._submit("frame", self._live_frame)
        elif self.machine.state is State.MAINTENANCE:
            due = self._reopen_check_at
            if due is not None and self.booth.monotonic() >= due:
                self._reopen_check_at = None
                self._submit("reopen", self.booth.reopen)
        self.pump()

    def countdown_left(self) -> int:
        import math

        elapsed = self.booth.monotonic() - self._entered_at
        return max(0, math.ceil(self.booth.settings.countdown_seconds - elapsed))

    def pump(self) -> None:
        """Apply every finished piece of work, in order, on the caller's thread."""
        while True:
            try:
                done = self._finished.get_nowait()
            except queue.Empty:
                return
            if done.ticket is not None and done.ticket != self._ticket():
                log.info("dropping late %s result: the booth has moved on", done.kind)
                continue
            try:
                getattr(self, f"_done_{done.kind.replace('-', '_')}")(done.future)
            except Exception as exc:  # noqa: BLE001 - any failure must reach the failsafe
                self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.errors.append(exc)
        if self.on_error is not None:
            self.on_error(exc)
            return
        log.error("sale flow error in %s: %s", self.machine.state.value, exc, exc_info=exc)
        if self.machine.state is not State.FAILSAFE:
            self.machine.fire("error")

    def settle(self, rounds: int = 100) -> None:
        """With an inline executor: run until no work is left (the FAQ library and tests)."""
        for _ in range(rounds):
            if self._finished.empty():
                self.tick()
                if self._finished.empty():
                    return
            self.pump()

    # -- background work ----------------------------------------------------------------------
    def _ticket(self) -> tuple[State, int]:
        return (self.machine.state, id(self.machine.session))

    def _submit(self, kind: str, fn: Callable[..., Any], *args: Any, bound: bool = True) -> None:
        ticket = self._ticket() if bound else None
        future = self.executor.submit(fn, *args)
        future.add_done_callback(lambda f: self._finished.put(_Finished(kind, ticket, f)))

    def _wants_frames(self) -> bool:
        return (
            self.previews is not None
            and not self._framing
            and not self._no_live_view
            and isinstance(self.booth.camera, LiveView)
        )

    def _live_frame(self) -> Image.Image | None:
        """A frame for the live preview, mirrored as customers expect to see themselves; None
        when the camera fails to give one (the photo itself will say so)."""
        assert self.previews is not None and isinstance(self.booth.camera, LiveView)
        try:
            frame = self.booth.camera.frame().convert("RGB")
        except Exception as exc:  # noqa: BLE001 - a preview never stops the sale
            log.warning("no live preview from %s: %s", self.booth.camera.name, exc)
            return None
        return ImageOps.fit(ImageOps.mirror(frame), self.previews.live)

    def _shoot(self) -> tuple[Image.Image, list[RuleFailure], Image.Image | None]:
        image, failures = self.booth.take_photo()
        if self.previews is None:
            return image, failures, None
        return image, failures, fitted(image, self.previews.photo)

    def _render(
        self, sale_id: int, issued: Issued | None
    ) -> tuple[RenderedSheet, Image.Image | None]:
        if self.previews is None:
            return self.booth.render(sale_id, issued, preview=False), None
        sheet = self.booth.render(sale_id, issued)
        assert sheet.preview is not None
        return sheet, fitted(sheet.preview, self.previews.sheet)

    # -- results ------------------------------------------------------------------------------
    def _done_recover(self, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            log.error("crash recovery failed: %s", error)
        elif future.result():
            self.recovered.extend(future.result())
            log.warning("finished sales interrupted by a restart: %s", future.result())

    def _done_reopen(self, future: Future[Any]) -> None:
        self._reopen_check_at = self.booth.monotonic() + REOPEN_CHECK_SECONDS
        if future.result():
            self.machine.fire("reopened")

    def _done_frame(self, future: Future[Any]) -> None:
        self._framing = False
        frame = future.result()
        if frame is None:
            self._no_live_view = True  # for the rest of this countdown
        else:
            self.progress.live_frame = frame

    def _done_photo(self, future: Future[Any]) -> None:
        image, failures, preview = future.result()
        self.progress.photo, self.progress.failures = image, failures
        self.progress.photo_preview = preview
        self.machine.session.photos_taken += 1
        self.machine.fire("photo_taken")

    def _done_keep(self, future: Future[Any]) -> None:
        future.result()
        self.machine.fire("keep")

    def _done_sign(self, future: Future[Any]) -> None:
        future.result()
        self.machine.fire("signed")

    def _done_charge(self, future: Future[Any]) -> None:
        result: PaymentResult = future.result()
        session = self.machine.session
        self.progress.busy = None
        if result.approved:
            session.payment_method = CARD
            self.progress.payment = result
            self.machine.fire("paid")
            return
        session.declined += 1
        assert session.sale_id is not None
        self.booth.ledger.record_declined(session.sale_id, CARD, result.amount.cents, result.detail)
        self.machine.fire("declined")
        self._changed("declined")

    def _done_issue(self, future: Future[Any]) -> None:
        error = future.exception()
        if isinstance(error, IssueFailed):
            self.machine.fire("issue_failed")
            return
        issued, change_given = future.result()
        self.progress.issued, self.progress.change_given = issued, change_given
        self.machine.session.code = issued.code
        self.machine.fire("issued")

    def _done_render(self, future: Future[Any]) -> None:
        sheet, preview = future.result()
        self.progress.sheet, self.progress.sheet_preview = sheet, preview
        self._changed("preview")
        sale_id = self.machine.session.sale_id
        assert sale_id is not None
        self._submit("print", self.booth.print_sheet, sale_id, sheet)

    def _done_print(self, future: Future[Any]) -> None:
        error = future.exception()
        if isinstance(error, PrintFailed):
            # The sale stays paid and unprinted: recovery prints it, once, at the next start or
            # when the booth leaves the maintenance a stopped printer sent it to.
            self.progress.print_problem = error.problem
            self.machine.fire("print_failed")
            return
        future.result()  # None: crash recovery printed this sale first; it is out either way
        self.machine.fire("printed")

    # -- what the customer does ---------------------------------------------------------------
    def retake(self) -> State:
        self.progress.photo_preview = None
        return self.machine.fire("retake")

    def keep_photo(self) -> None:
        """Keep the photo: stored with the sale, then on to the signature or payment."""
        session = self.machine.session
        assert session.sale_id is not None and self.progress.photo is not None
        self.progress.busy = "keep"
        self._submit("keep", self.booth.keep_photo, session.sale_id, self.progress.photo)

    def sign(self, rgb: bytes, size: tuple[int, int]) -> None:
        """The customer signed: the pad's pixels (RGB) are stored, then on to payment."""
        sale_id = self.machine.session.sale_id
        assert sale_id is not None
        self.progress.busy = "sign"

        def save() -> Any:
            import io

            buffer = io.BytesIO()
            Image.frombytes("RGB", size, rgb).save(buffer, format="PNG")
            return self.booth.keep_signature(sale_id, buffer.getvalue())

        self._submit("sign", save)

    def pay_card(self, *, test_card: str = "approved") -> None:
        product = self.machine.session.product
        assert product is not None
        if test_card == "declined":
            self.booth.terminal.next_card = "declined"
        self.progress.busy = "charge"
        self._submit("charge", self.booth.charge_card, product.price)

    def insert_coin(self, cents: int) -> None:
        """A coin goes in: in the ledger at once; paid when the price is reached."""
        session = self.machine.session
        coins = self.progress.coins
        assert session.sale_id is not None and coins is not None
        coins.insert(cents)
        session.money_in_cents = self.booth.ledger.record_coin(session.sale_id, cents)
        if coins.is_paid():
            session.payment_method = COINS
            self.progress.payment = coins.result()
            self.machine.fire("paid")
        else:
            self._changed("coins")

    @property
    def change(self) -> Money:
        return self.progress.payment.change if self.progress.payment else Money(0)


@dataclass(frozen=True)
class CustomerVisit:
    """One customer's walk through a sale without a screen (:func:`serve_customer`)."""

    ended: State
    """Where the walk stopped: DONE for a sale made, else the state that held it."""
    sale_id: int | None
    issued: Issued | None
    path: tuple[str, ...]
    """Every state the machine went through, the return to the start included."""


def serve_customer(booth: Booth, product_id: str, lang: str) -> CustomerVisit:
    """A customer buys ``product_id`` as the touchscreen drives the booth: the sale opens at
    capture, the photo is taken, checked and kept, the signature drawn, the card charged, the
    number issued, the sheet rendered and printed. Each step is taken only if the booth got
    there; the walk ends where the booth stopped it (the FAQ library and the live fleet)."""
    machine = booth.machine()
    flow = SaleFlow(booth, machine, InlineExecutor(), previews=None)
    product = booth.catalog.get(product_id)
    machine.fire("start")
    if machine.state is not State.LANGUAGE:  # the booth refused to open (out of paper, ...)
        return CustomerVisit(machine.state, None, None, tuple(s.value for s in machine.path()))
    machine.choose_language(lang)
    machine.choose_category(product.category)
    machine.choose_product(product_id)
    machine.fire("accept")
    flow.settle()
    sale_id = machine.session.sale_id
    if machine.state is State.REVIEW:
        flow.keep_photo()
        flow.settle()
    if machine.state is State.SIGNATURE:
        flow.sign(*drawn_signature())
        flow.settle()
    if machine.state is State.PAYMENT:
        flow.pay_card()
        flow.settle()
    ended, issued = machine.state, flow.progress.issued  # the next customer's screen clears it
    if ended is State.DONE:
        machine.fire("finish")
    path = tuple(s.value for s in machine.path())
    return CustomerVisit(ended, sale_id, issued, path)


def drawn_signature(size: tuple[int, int] = (1600, 640)) -> tuple[bytes, tuple[int, int]]:
    """A signature stroke as the pad would give it (RGB pixels): for the FAQ library and tests."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    w, h = size
    points = [(w * (0.15 + 0.7 * i / 40), h * (0.5 + 0.2 * ((i % 7) - 3) / 3)) for i in range(41)]
    draw.line(points, fill=(20, 20, 30), width=7)
    return image.tobytes(), size
