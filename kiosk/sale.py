"""The sale flow as an explicit state machine: named states, a listed transition table, guards.

No pygame here: the touchscreen (``kiosk.ui``) draws the current state and turns taps into
events; the scripted runner and the tests drive the same machine. Every transition is a row of
:data:`TRANSITIONS`, so tests can enumerate every path and a diagram can be drawn from it.

Two kinds of checks sit on a transition:

- ``when``: a branch condition (``needs_signature``). When false the row is skipped and the
  next row for the same event is tried; it is not a refusal.
- ``guards``: checks before a side effect (``printer_ready`` before payment). The first guard
  that refuses sends the machine to ``on_refusal`` (the ``refused`` screen by default) with that
  guard's own message key, never to a crash.

Idle timeouts are measured on monotonic seconds supplied by the caller: a customer who walks
away sends the booth back to ``attract`` and the unpaid sale is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.catalog import Catalog, Product


class State(StrEnum):
    ATTRACT = "attract"
    LANGUAGE = "language"
    CATEGORY = "category"
    PRODUCT = "product"
    CONFIRM = "confirm"
    CAPTURE = "capture"
    REVIEW = "review"
    SIGNATURE = "signature"
    PAYMENT = "payment"
    ISSUING = "issuing"
    PRINTING = "printing"
    DONE = "done"
    ISSUE_FAILED = "issue_failed"
    MONEY_BACK = "money_back"
    REFUSED = "refused"
    FAILSAFE = "failsafe"
    MAINTENANCE = "maintenance"
    OPERATOR_PIN = "operator_pin"
    OPERATOR = "operator"


# Screens where a customer is expected to act; leaving one alone long enough ends the sale.
CUSTOMER_STATES: frozenset[State] = frozenset(
    {
        State.LANGUAGE,
        State.CATEGORY,
        State.PRODUCT,
        State.CONFIRM,
        State.REVIEW,
        State.SIGNATURE,
        State.PAYMENT,
    }
)
# Screens that return to attract by themselves after a while, sale finished or never started.
RESTING_STATES: frozenset[State] = frozenset(
    {
        State.DONE,
        State.ISSUE_FAILED,
        State.MONEY_BACK,
        State.REFUSED,
        State.FAILSAFE,
        State.OPERATOR_PIN,
    }
)
# Before payment the customer may walk away and nothing has been charged.
UNPAID_STATES: frozenset[State] = frozenset(
    {
        State.LANGUAGE,
        State.CATEGORY,
        State.PRODUCT,
        State.CONFIRM,
        State.CAPTURE,
        State.REVIEW,
        State.SIGNATURE,
        State.PAYMENT,
    }
)


@dataclass(frozen=True)
class Transition:
    source: State
    event: str
    target: State
    when: str | None = None
    guards: tuple[str, ...] = ()
    on_refusal: State = State.REFUSED


def _rows() -> tuple[Transition, ...]:
    t = Transition
    s = State
    rows = [
        t(s.ATTRACT, "start", s.LANGUAGE, guards=("booth_open",), on_refusal=s.MAINTENANCE),
        t(s.ATTRACT, "maintenance_needed", s.MAINTENANCE),
        t(s.ATTRACT, "operator_gesture", s.OPERATOR_PIN),
        t(s.MAINTENANCE, "operator_gesture", s.OPERATOR_PIN),
        # What closed the booth is fixed (a stopped queue resumed); its unprinted sales printed.
        t(s.MAINTENANCE, "reopened", s.ATTRACT),
        t(s.LANGUAGE, "choose_language", s.CATEGORY),
        t(s.CATEGORY, "choose_category", s.PRODUCT),
        t(s.CATEGORY, "back", s.LANGUAGE),
        t(s.PRODUCT, "choose_product", s.CONFIRM),
        t(s.PRODUCT, "back", s.CATEGORY),
        t(s.CONFIRM, "accept", s.CAPTURE, guards=("booth_open",)),
        t(s.CONFIRM, "show_ephoto", s.PRODUCT),
        t(s.CONFIRM, "back", s.PRODUCT),
        t(s.CAPTURE, "photo_taken", s.REVIEW),
        t(s.REVIEW, "retake", s.CAPTURE, guards=("retakes_left",), on_refusal=s.REVIEW),
        t(s.REVIEW, "keep", s.SIGNATURE, when="needs_signature"),
        t(
            s.REVIEW,
            "keep",
            s.PAYMENT,
            guards=("booth_open", "printer_ready", "ledger_ready"),
        ),
        t(
            s.SIGNATURE,
            "signed",
            s.PAYMENT,
            guards=("booth_open", "printer_ready", "ledger_ready"),
        ),
        t(s.PAYMENT, "paid", s.ISSUING),
        # Coins already inserted are given back (or a refund recorded) on a screen that says so.
        t(s.PAYMENT, "cancel", s.MONEY_BACK, when="money_in"),
        t(s.PAYMENT, "timeout", s.MONEY_BACK, when="money_in"),
        t(s.MONEY_BACK, "finish", s.ATTRACT),
        t(s.PAYMENT, "declined", s.PAYMENT),
        t(s.ISSUING, "issued", s.PRINTING),
        t(s.ISSUING, "issue_failed", s.ISSUE_FAILED),
        t(s.PRINTING, "printed", s.DONE),
        t(s.PRINTING, "print_failed", s.DONE),  # the number is shown; the operator reprints
        t(s.DONE, "finish", s.ATTRACT),
        t(s.ISSUE_FAILED, "finish", s.ATTRACT),
        t(s.REFUSED, "finish", s.ATTRACT),
        t(s.FAILSAFE, "finish", s.ATTRACT),
        t(s.OPERATOR_PIN, "pin_ok", s.OPERATOR),
        t(s.OPERATOR_PIN, "cancel", s.ATTRACT),
        t(s.OPERATOR, "exit", s.ATTRACT),
        t(s.OPERATOR, "maintenance_on", s.MAINTENANCE),
    ]
    for state in sorted(UNPAID_STATES - {State.CAPTURE}):
        rows.append(t(state, "cancel", s.ATTRACT))
    for state in sorted(CUSTOMER_STATES | RESTING_STATES | {State.OPERATOR}):
        rows.append(t(state, "timeout", s.ATTRACT))
    # Any state can fail; the failsafe screen is calm and leads back to attract.
    for state in State:
        if state is not State.FAILSAFE:
            rows.append(t(state, "error", s.FAILSAFE))
    return tuple(rows)


TRANSITIONS: tuple[Transition, ...] = _rows()


def transitions_from(state: State) -> tuple[Transition, ...]:
    return tuple(row for row in TRANSITIONS if row.source is state)


def events_from(state: State) -> tuple[str, ...]:
    return tuple(dict.fromkeys(row.event for row in transitions_from(state)))


def happy_path(ephoto: bool) -> tuple[State, ...]:
    """The states a customer goes through when everything works."""
    middle = (State.SIGNATURE,) if ephoto else ()
    return (
        State.ATTRACT,
        State.LANGUAGE,
        State.CATEGORY,
        State.PRODUCT,
        State.CONFIRM,
        State.CAPTURE,
        State.REVIEW,
        *middle,
        State.PAYMENT,
        State.ISSUING,
        State.PRINTING,
        State.DONE,
        State.ATTRACT,
    )


@dataclass
class SaleSession:
    """What one customer has chosen and done so far; replaced on every return to attract."""

    lang: str = "fr"
    category: str | None = None
    product: Product | None = None
    sale_id: int | None = None
    photos_taken: int = 0
    declined: int = 0
    money_in_cents: int = 0  # coins inserted so far, each already in the ledger
    payment_method: str | None = None
    code: str | None = None
    refusal: str | None = None

    @property
    def retakes_used(self) -> int:
        return max(0, self.photos_taken - 1)


class UnknownEvent(ValueError):
    """The event has no row in the transition table for the current state."""


@dataclass(frozen=True)
class Refusal:
    guard: str
    reason: str


Guard = Callable[["SaleMachine"], str | None]
"""Returns None when the transition may go on, else the message key that explains why not."""
Hook = Callable[["SaleMachine", State, State], None]


@dataclass(frozen=True)
class Timeouts:
    """Idle seconds before a screen gives up and returns to attract."""

    customer: float = 90.0
    payment: float = 120.0
    resting: float = 20.0
    prompt_seconds: float = 30.0
    """A customer screen asks "still there?" this long before it gives up (a third of its
    wait at most)."""

    def for_state(self, state: State) -> float | None:
        if state is State.PAYMENT:
            return self.payment
        if state is State.OPERATOR:  # an operator who walks away must not leave the menu open
            return self.customer
        if state in CUSTOMER_STATES:
            return self.customer
        if state in RESTING_STATES:
            return self.resting
        return None

    def prompt_for(self, state: State) -> float | None:
        """Seconds before the end of ``state``'s wait at which it asks "still there?"; None
        for the screens that do not ask (only customer screens do)."""
        limit = self.for_state(state)
        if limit is None or state not in CUSTOMER_STATES:
            return None
        return min(self.prompt_seconds, limit / 3)


@dataclass
class StepRecord:
    source: State
    event: str
    target: State
    refusal: Refusal | None = None


@dataclass
class SaleMachine:
    """The booth's current state, its session, and the rules for moving between states.

    ``guards`` and ``conditions`` are supplied by the booth (printer, ledger, maintenance);
    ``on_enter`` hooks run after each move (the UI starts the camera, the booth cancels an
    unpaid sale). ``monotonic`` is read only for idle timeouts.
    """

    catalog: Catalog
    monotonic: Callable[[], float]
    retake_limit: int = 2
    timeouts: Timeouts = field(default_factory=Timeouts)
    default_lang: str = "fr"
    guards: dict[str, Guard] = field(default_factory=dict)
    state: State = State.ATTRACT
    session: SaleSession = field(init=False)
    history: list[StepRecord] = field(default_factory=list)
    finished_session: SaleSession | None = field(default=None, init=False)
    _hooks: list[Hook] = field(default_factory=list)
    _last_activity: float = field(init=False)

    def __post_init__(self) -> None:
        self.session = SaleSession(lang=self.default_lang)
        self._last_activity = self.monotonic()
        builtin: dict[str, Guard] = {
            "retakes_left": lambda m: (
                None if m.session.retakes_used < m.retake_limit else "refused.retakes"
            ),
            "needs_signature": lambda m: (
                None if m.session.product is not None and m.session.product.ephoto else "no"
            ),
            "money_in": lambda m: None if m.session.money_in_cents > 0 else "no",
        }
        for name, guard in builtin.items():
            self.guards.setdefault(name, guard)

    # -- wiring -------------------------------------------------------------------------------
    def on_enter(self, hook: Hook) -> None:
        self._hooks.append(hook)

    def set_guard(self, name: str, guard: Guard) -> None:
        self.guards[name] = guard

    # -- input --------------------------------------------------------------------------------
    def touch(self) -> None:
        """The customer did something: idle time starts again."""
        self._last_activity = self.monotonic()

    def idle_seconds(self) -> float:
        return self.monotonic() - self._last_activity

    def seconds_left(self) -> float | None:
        """Idle seconds left before the current screen gives up; None where it never does."""
        limit = self.timeouts.for_state(self.state)
        return None if limit is None else max(0.0, limit - self.idle_seconds())

    def asks_still_there(self) -> bool:
        """A customer screen left alone nearly long enough to end the sale: it asks whether
        the customer is still there (any touch answers and starts the wait again)."""
        left, prompt = self.seconds_left(), self.timeouts.prompt_for(self.state)
        return left is not None and prompt is not None and left <= prompt

    def tick(self) -> State | None:
        """Fire ``timeout`` if the current screen has been left alone too long."""
        limit = self.timeouts.for_state(self.state)
        if limit is not None and self.idle_seconds() >= limit:
            return self.fire("timeout")
        return None

    def can(self, event: str) -> bool:
        return any(row.event == event for row in transitions_from(self.state))

    def fire(self, event: str) -> State:
        """Take the first row for ``event`` whose condition holds and whose guards pass."""
        rows = [row for row in transitions_from(self.state) if row.event == event]
        if not rows:
            raise UnknownEvent(
                f"event {event!r} is not allowed in state {self.state.value!r}; "
                f"allowed: {', '.join(events_from(self.state))}"
            )
        for row in rows:
            if row.when is not None and self._check(row.when) is not None:
                continue
            for guard in row.guards:
                reason = self._check(guard)
                if reason is not None:
                    refusal = Refusal(guard, reason)
                    self.session.refusal = reason
                    return self._move(row.on_refusal, event, refusal)
            return self._move(row.target, event, None)
        raise UnknownEvent(f"no condition for {event!r} holds in state {self.state.value!r}")

    def _check(self, name: str) -> str | None:
        try:
            guard = self.guards[name]
        except KeyError:
            raise KeyError(f"guard {name!r} is not wired into the sale machine") from None
        return guard(self)

    def _move(self, target: State, event: str, refusal: Refusal | None) -> State:
        source = self.state
        self.history.append(StepRecord(source, event, target, refusal))
        self.state = target
        if target is State.ATTRACT:
            # The booth sees the old session through the hooks below, to cancel an unpaid sale.
            self.finished_session = self.session
            self.session = SaleSession(lang=self.default_lang)
        self.touch()
        for hook in self._hooks:
            hook(self, source, target)
        return self.state

    # -- customer choices ---------------------------------------------------------------------
    def choose_language(self, lang: str) -> State:
        self.session.lang = lang
        return self.fire("choose_language")

    def choose_category(self, category: str) -> State:
        self.session.category = category
        return self.fire("choose_category")

    def choose_product(self, product_id: str) -> State:
        self.session.product = self.catalog.get(product_id)
        return self.fire("choose_product")

    def show_ephoto_products(self) -> State:
        self.session.category = "ephoto"
        self.session.product = None
        return self.fire("show_ephoto")

    def products_on_screen(self) -> tuple[Product, ...]:
        return self.catalog.in_category(self.session.category or "ephoto")

    def path(self) -> list[State]:
        """The states visited so far, starting from the first one."""
        if not self.history:
            return [self.state]
        return [self.history[0].source, *(step.target for step in self.history)]


def reachable(start: State = State.ATTRACT) -> set[State]:
    seen = {start}
    todo = [start]
    while todo:
        for row in transitions_from(todo.pop()):
            if row.target not in seen:
                seen.add(row.target)
                todo.append(row.target)
            if row.on_refusal not in seen and row.guards:
                seen.add(row.on_refusal)
                todo.append(row.on_refusal)
    return seen


def describe_table(rows: Iterable[Transition] = TRANSITIONS) -> Iterator[str]:
    """The table as text lines (``source --event--> target [guards]``), for docs and debugging."""
    for row in rows:
        extra = []
        if row.when:
            extra.append(f"when {row.when}")
        if row.guards:
            extra.append(f"guards {', '.join(row.guards)} else {row.on_refusal.value}")
        suffix = f"  [{'; '.join(extra)}]" if extra else ""
        yield f"{row.source.value} --{row.event}--> {row.target.value}{suffix}"
