"""The sale state machine: every path listed, guards refuse with their own message, idle
timeouts end an unpaid sale, and an ePhoto sale is the only one that asks for a signature."""

from __future__ import annotations

import pytest

from kiosk.catalog import load_catalog
from kiosk.sale import (
    TRANSITIONS,
    SaleMachine,
    State,
    Timeouts,
    UnknownEvent,
    happy_path,
    reachable,
    transitions_from,
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks():
    return FakeMonotonic()


def machine(ticks, **guards):
    m = SaleMachine(load_catalog(), ticks, retake_limit=2, timeouts=Timeouts(90, 120, 20))
    for name in ("booth_open", "printer_ready", "ledger_ready"):
        m.set_guard(name, guards.get(name, lambda _m: None))
    return m


def buy(m: SaleMachine, product_id: str) -> None:
    product = m.catalog.get(product_id)
    m.fire("start")
    m.choose_language("en")
    m.choose_category(product.category)
    m.choose_product(product_id)
    m.fire("accept")
    m.fire("photo_taken")
    m.fire("keep")
    if m.state is State.SIGNATURE:
        m.fire("signed")
    m.fire("paid")
    m.fire("issued")
    m.fire("printed")
    m.fire("finish")


def test_every_state_is_reachable_and_leads_back_to_attract():
    assert reachable(State.ATTRACT) == set(State)
    for state in State:
        assert State.ATTRACT in reachable(state), f"{state} is a dead end"


def test_every_transition_row_names_known_states_and_no_row_is_listed_twice():
    keys = [(r.source, r.event, r.target, r.when) for r in TRANSITIONS]
    assert len(keys) == len(set(keys))
    assert all(isinstance(r.target, State) for r in TRANSITIONS)


@pytest.mark.parametrize("product_id", [p.id for p in load_catalog()])
def test_each_product_follows_its_happy_path_signature_only_for_ephoto(ticks, product_id):
    m = machine(ticks)
    buy(m, product_id)
    assert m.path() == list(happy_path(m.catalog.get(product_id).ephoto))


def test_a_non_ephoto_id_product_can_switch_to_the_ephoto_products(ticks):
    m = machine(ticks)
    m.fire("start")
    m.choose_language("fr")
    m.choose_category("identity")
    m.choose_product("passport")
    m.show_ephoto_products()
    assert m.state is State.PRODUCT
    assert all(p.ephoto for p in m.products_on_screen())


def test_retakes_stop_at_the_configured_limit(ticks):
    m = machine(ticks)
    m.fire("start")
    m.choose_language("fr")
    m.choose_category("ephoto")
    m.choose_product("ephoto-permis")
    m.fire("accept")
    for _ in range(3):  # first photo + 2 retakes
        m.session.photos_taken += 1
        m.fire("photo_taken")
        if m.session.retakes_used < 2:
            assert m.fire("retake") is State.CAPTURE
    assert m.fire("retake") is State.REVIEW
    assert m.session.refusal == "refused.retakes"


def test_a_guard_refuses_before_payment_with_its_own_message(ticks):
    m = machine(ticks, printer_ready=lambda _m: "refused.paper")
    m.fire("start")
    m.choose_language("fr")
    m.choose_category("photos")
    m.choose_product("portrait")
    m.fire("accept")
    m.fire("photo_taken")
    assert m.fire("keep") is State.REFUSED
    assert m.session.refusal == "refused.paper"
    assert m.history[-1].refusal.guard == "printer_ready"


def test_a_closed_booth_goes_to_maintenance_instead_of_starting_a_sale(ticks):
    m = machine(ticks, booth_open=lambda _m: "refused.maintenance")
    assert m.fire("start") is State.MAINTENANCE


def test_idle_customer_screen_times_out_to_attract_and_hands_over_the_unpaid_session(ticks):
    m = machine(ticks)
    ended = []
    m.on_enter(lambda mach, src, dst: ended.append((src, mach.finished_session)))
    m.fire("start")
    m.choose_language("fr")
    m.choose_category("identity")
    m.choose_product("visa")
    m.session.sale_id = 42
    ticks.now += 89
    assert m.tick() is None
    ticks.now += 2
    assert m.tick() is State.ATTRACT
    source, session = ended[-1]
    assert source is State.CONFIRM and session.sale_id == 42
    assert m.session.sale_id is None


def test_payment_waits_longer_than_other_screens_and_machine_states_never_time_out(ticks):
    m = machine(ticks)
    buy_until = ["start"]
    for event in buy_until:
        m.fire(event)
    m.choose_language("fr")
    m.choose_category("photos")
    m.choose_product("fun")
    m.fire("accept")
    ticks.now += 1000
    assert m.tick() is None, "capture is driven by the booth, not by the customer"
    m.fire("photo_taken")
    m.fire("keep")
    assert m.state is State.PAYMENT
    ticks.now += 100
    assert m.tick() is None
    ticks.now += 21
    assert m.tick() is State.ATTRACT


def test_an_event_not_in_the_table_is_refused_naming_the_allowed_ones(ticks):
    m = machine(ticks)
    with pytest.raises(UnknownEvent, match="allowed: start"):
        m.fire("paid")


def test_any_state_can_fail_to_the_failsafe_screen_which_returns_to_attract():
    for state in State:
        if state is State.FAILSAFE:
            continue
        assert any(
            r.event == "error" and r.target is State.FAILSAFE for r in transitions_from(state)
        )
    assert [r.target for r in transitions_from(State.FAILSAFE) if r.event == "finish"] == [
        State.ATTRACT
    ]


def test_once_paid_the_sale_can_be_neither_cancelled_nor_timed_out_before_its_sheet():
    for state in (State.ISSUING, State.PRINTING):
        events = {r.event for r in transitions_from(state)}
        assert not events & {"cancel", "timeout"}, state
    assert "cancel" not in {r.event for r in transitions_from(State.DONE)}


def test_the_operator_menu_closes_itself_when_left_alone(ticks):
    m = machine(ticks)
    m.fire("operator_gesture")
    m.fire("pin_ok")
    ticks.now += 91
    assert m.tick() is State.ATTRACT


def test_customer_screens_ask_still_there_before_giving_up_and_resting_ones_do_not(ticks):
    m = machine(ticks)
    m.fire("start")
    assert m.state is State.LANGUAGE and m.seconds_left() == 90
    # A third of the wait at most, 30 s at most: 30 s of a customer screen's 90 s.
    assert m.timeouts.prompt_for(State.LANGUAGE) == 30
    assert m.timeouts.prompt_for(State.PAYMENT) == 30
    assert Timeouts(30, 120, 20).prompt_for(State.CATEGORY) == 10
    assert m.timeouts.prompt_for(State.DONE) is None
    assert m.timeouts.prompt_for(State.ISSUING) is None
    ticks.now += 59
    assert not m.asks_still_there()
    ticks.now += 2
    assert m.asks_still_there() and m.seconds_left() == 29
    m.touch()  # any touch answers it
    assert not m.asks_still_there() and m.seconds_left() == 90
    m.fire("cancel")
    assert m.state is State.ATTRACT and m.seconds_left() is None and not m.asks_still_there()
