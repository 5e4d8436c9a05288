"""The support desk against a real booth ledger and a real registry on loopback, on one
ManualClock (plus the registry's admin clock): every rule and its 72 h boundary, the audit log,
refunds at most once per report and per sale, re-queueing, and two identical reports at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ephoto import code as codes
from ephoto.clock import ManualClock
from ephoto.money import Money
from ephoto.validity import expires_at
from support.desk import RegistryUnavailable, claims, report_key
from support.rules import Outcome, Report, explain
from tests.pgcluster import free_port
from tests.registry_server import ADMIN_TOKEN, registry_settings, start_threaded
from tests.support_world import START, World, make_world


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    registry = start_threaded(
        f"sqlite:///{tmp / 'registry.db'}", tmp, registry_settings(), ManualClock(START)
    )
    yield registry
    registry.stop()


@pytest.fixture
def world(tmp_path, shared_registry) -> World:
    return make_world(tmp_path, shared_registry)


def test_rule_wait_at_71_59_and_refund_at_exactly_72_00_when_never_transmitted(world):
    bought = world.buy()
    desk = world.desk()
    world.at(bought, hours=71, minutes=59)
    waiting = desk.submit(Report(bought.code))
    assert waiting.decision.outcome is Outcome.WAIT
    assert waiting.decision.when == bought.at + timedelta(hours=72)
    assert desk.refunds() == []

    world.at(bought, hours=72)
    refunded = desk.submit(Report(bought.code))
    assert refunded.decision.outcome is Outcome.REFUND
    assert refunded.decision.reason == "refund_never_transmitted"
    [refund] = desk.refunds()
    assert refund["amount_cents"] == 800 and refund["sale_ref"] == bought.sale_ref
    row = world.outbox_row(bought.code)
    assert row["status"] == "pending" and row["due_at"] == world.clock.now()


def test_rule_refund_when_the_registry_still_has_it_pending_after_72h(world):
    bought = world.buy()
    desk = world.desk()
    # Sent 30 s before the promise runs out; the registry needs a minute to register it.
    world.at(bought, hours=71, minutes=59, seconds=30)
    world.transmit(bought.code)
    world.at(bought, hours=72)
    decision = desk.submit(Report(bought.code)).decision
    assert decision.outcome is Outcome.REFUND and decision.reason == "refund_not_activated"
    assert decision.amount == Money(800)
    assert world.outbox_row(bought.code)["status"] == "pending"


def test_rule_works_when_active_and_unused_even_before_72h(world):
    bought = world.buy()
    world.at(bought, minutes=20)
    world.transmit(bought.code)
    world.at(bought, minutes=22)
    decision = world.desk().submit(Report(codes.group(bought.code))).decision
    assert decision.outcome is Outcome.WORKS and not decision.refund
    assert "capitals" in explain(decision, "en")


def test_rule_used_says_when_and_refunds_nothing(world):
    bought = world.buy()
    world.at(bought, minutes=20)
    world.transmit(bought.code)
    world.at(bought, hours=5)
    assert world.redeem(bought.code).status_code == 200
    world.at(bought, hours=80)
    decision = world.desk().submit(Report(bought.code)).decision
    assert decision.outcome is Outcome.USED and decision.when == bought.at + timedelta(hours=5)
    assert world.desk().refunds() == []


def test_rule_typo_finds_the_issued_code_from_lowercase_or_a_confusable_swap(world):
    bought = world.buy()
    world.at(bought, minutes=20)
    world.transmit(bought.code)
    world.at(bought, hours=3)
    desk = world.desk()
    swaps = dict(codes.CONFUSABLE_PAIRS) | {b: a for a, b in codes.CONFUSABLE_PAIRS}
    i = next(i for i, c in enumerate(bought.code) if c in swaps)
    swapped = bought.code[:i] + swaps[bought.code[i]] + bought.code[i + 1 :]
    for typed in (bought.code.lower(), swapped):
        decision = desk.submit(Report(typed)).decision
        assert decision.outcome is Outcome.TYPO and decision.code == bought.code
        assert codes.group(bought.code) in explain(decision, "fr")


def test_rule_not_ephoto_product_by_sale_id_names_what_would_have_fitted(world):
    bought = world.buy("passport")
    assert bought.code is None
    world.at(bought, hours=1)
    decision = world.desk().submit(Report(sale_id=bought.sale_ref)).decision
    assert decision.outcome is Outcome.NOT_EPHOTO_PRODUCT and not decision.refund
    text = explain(decision, "fr")
    assert "Photos d'identité passeport" in text and "ePhoto permis de conduire" in text


def test_rule_unknown_code_asks_for_the_sale_id(world):
    world.buy()
    stranger = codes.SeededCodeGeneratorForSimulation(seed=77).next_code().value
    decision = world.desk().submit(Report(stranger)).decision
    assert decision.outcome is Outcome.UNKNOWN_CODE
    assert "sale number" in explain(decision, "en")


def test_the_same_report_twice_gives_the_same_answer_and_one_refund(world):
    bought = world.buy()
    desk = world.desk()
    world.at(bought, hours=80)
    first = desk.submit(Report(bought.code))
    # The re-queued number has not reached the registry yet: the facts are those of the first
    # answer, so the customer asking again hears it again, and is not refunded twice.
    world.at(bought, hours=81)
    again = desk.submit(Report(f"  {codes.group(bought.code)} "))
    assert again.replayed and not first.replayed
    assert again.decision == first.decision and again.reference == first.reference
    assert len(desk.refunds()) == 1
    log = desk.audit_log()
    assert [(r["outcome"], r["replayed"]) for r in log] == [("refund", False), ("refund", True)]


def test_an_answer_is_decided_again_once_the_registry_state_changed_and_the_log_keeps_both(world):
    """Issue 17 item 4: a works answer is not replayed after the number was used, nor a refund
    after the re-sent number became active; the refund is still made only once."""
    bought = world.buy()
    desk = world.desk()
    world.at(bought, hours=80)
    assert desk.submit(Report(bought.code)).decision.outcome is Outcome.REFUND
    # The re-queued number reaches the registry and becomes active.
    world.transmit(bought.code)
    world.at(bought, hours=81)
    now_active = desk.submit(Report(bought.code))
    assert not now_active.replayed and now_active.decision.outcome is Outcome.WORKS
    assert desk.submit(Report(bought.code)).replayed  # unchanged since: replayed
    # Then the customer uses it: the same report is answered "used", not "works".
    assert world.redeem(bought.code).status_code == 200
    used = desk.submit(Report(bought.code))
    assert not used.replayed and used.decision.outcome is Outcome.USED
    assert len(desk.refunds()) == 1
    log = [(r["outcome"], r["replayed"]) for r in desk.audit_log()]
    assert log == [("refund", False), ("works", False), ("works", True), ("used", False)]


def test_a_typo_answer_is_decided_again_once_the_number_was_used(world):
    bought = world.buy()
    desk = world.desk()
    world.at(bought, minutes=20)
    world.transmit(bought.code)
    world.at(bought, hours=2)
    typed = bought.code.lower()
    assert desk.submit(Report(typed)).decision.outcome is Outcome.TYPO
    assert world.redeem(bought.code).status_code == 200
    again = desk.submit(Report(typed))
    assert not again.replayed and again.decision.outcome is Outcome.USED


def test_a_sale_number_alone_gets_no_refund_and_no_resend_only_the_request_for_the_number(world):
    """Issue 18 item 1: sale numbers are sequential and printed in clear; a refund and a
    re-send are for whoever holds the sheet (the ePhoto number typed, within the typo rules)."""
    bought = world.buy()
    desk = world.desk()
    world.at(bought, hours=80)
    row_before = world.outbox_row(bought.code)
    for report in (Report(sale_id=bought.sale_ref), Report(sale_id="1")):
        result = desk.submit(report)
        decision = result.decision
        assert decision.outcome is Outcome.PROOF_NEEDED and not decision.refund
        assert not decision.requeue and decision.code_hidden
        text = explain(decision, "en") + explain(decision, "fr")
        assert bought.code not in text and codes.group(bought.code) not in text
        assert "ePhoto number printed on your photo sheet" in explain(decision, "en")
    # A wrong number beside the sale number proves nothing either.
    stranger = codes.SeededCodeGeneratorForSimulation(seed=5).next_code().value
    with_other = desk.submit(Report(stranger, bought.sale_ref)).decision
    assert with_other.outcome is Outcome.PROOF_NEEDED and not with_other.refund
    assert desk.refunds() == [] and world.outbox_row(bought.code) == row_before
    # The holder types the number from the sheet (with a typo, even): refunded and re-sent.
    swaps = dict(codes.CONFUSABLE_PAIRS) | {b: a for a, b in codes.CONFUSABLE_PAIRS}
    i = next(i for i, c in enumerate(bought.code) if c in swaps)
    typo = bought.code[:i] + swaps[bought.code[i]] + bought.code[i + 1 :]
    held = desk.submit(Report(typo, bought.sale_ref)).decision
    assert held.outcome is Outcome.REFUND and held.refund and held.requeue
    assert len(desk.refunds()) == 1


def test_a_registry_error_answer_never_quotes_the_number(world, tmp_path):
    """Issue 18 item 3: a registry that answers 503 quoting the code; the desk's error (shown to
    a caller who gave only a sale number) must not carry it; the operator's log does."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from tests.support_world import serve

    maintenance = FastAPI()

    @maintenance.get("/admin/codes/{code}")
    def down(code: str) -> JSONResponse:
        return JSONResponse({"detail": f"maintenance, {code} cannot be read"}, 503)

    server = serve(maintenance)
    try:
        bought = world.buy()
        world.at(bought, hours=80)
        desk = world.desk(registry_url=server.url)
        with pytest.raises(RegistryUnavailable) as raised:
            desk.submit(Report(sale_id=bought.sale_ref))
        assert "503" in str(raised.value)
        assert bought.code not in str(raised.value)
        [entry] = desk.audit_log()
        assert bought.code in entry["error"]
    finally:
        server.stop()


def test_a_second_report_about_a_refunded_sale_says_so_without_refunding_again(world):
    bought = world.buy()
    desk = world.desk()
    world.at(bought, hours=80)
    desk.submit(Report(bought.code))
    by_sale = desk.submit(Report(sale_id=bought.sale_ref)).decision
    assert by_sale.outcome is Outcome.REFUND and by_sale.reason == "refund_already"
    assert not by_sale.refund and len(desk.refunds()) == 1


def test_a_wait_answer_is_decided_again_once_its_time_has_come(world):
    bought = world.buy()
    desk = world.desk()
    world.at(bought, hours=10)
    assert desk.submit(Report(bought.code)).decision.outcome is Outcome.WAIT
    world.at(bought, hours=30)
    repeat = desk.submit(Report(bought.code))
    assert repeat.replayed and repeat.decision.outcome is Outcome.WAIT
    world.at(bought, hours=72)
    later = desk.submit(Report(bought.code))
    assert not later.replayed and later.decision.outcome is Outcome.REFUND
    with desk.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(claims)).scalar_one() == 1


def at_the_same_instant(desks: list, reports: list[Report]) -> list:
    start = threading.Barrier(len(desks))
    results: list = [None] * len(desks)

    def run(i: int) -> None:
        start.wait()
        results[i] = desks[i].submit(reports[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(desks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.parametrize("same_key", [True, False], ids=["same-report", "code-and-sale-id"])
def test_concurrent_reports_on_two_desks_refund_at_most_once(world, same_key):
    """Two desks (own engines and HTTP clients, like two processes) get reports about the same
    sale at the same instant, five times over: one refund each time, one decision per report."""
    for _ in range(5):
        bought = world.buy()
        world.at(bought, hours=90)
        desks = [world.desk(), world.desk()]
        reports = [Report(bought.code), Report(bought.code)]
        if not same_key:  # another report about the same sale, by its holder
            reports[1] = Report(bought.code, bought.sale_ref)
        results = at_the_same_instant(desks, reports)
        assert all(r is not None for r in results)
        refunds = [r for r in desks[0].refunds() if r["sale_ref"] == bought.sale_ref]
        assert len(refunds) == 1
        assert {r.decision.outcome for r in results} == {Outcome.REFUND}
        if same_key:
            assert results[0].decision == results[1].decision
            assert sorted(r.replayed for r in results) == [False, True]
        else:
            assert sorted(r.decision.reason for r in results) == [
                "refund_already",
                "refund_never_transmitted",
            ]


def test_registry_down_records_the_attempt_and_decides_nothing(world):
    bought = world.buy()
    world.at(bought, hours=80)
    desk = world.desk(registry_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RegistryUnavailable):
        desk.submit(Report(bought.code))
    assert desk.refunds() == []
    [entry] = desk.audit_log()
    assert entry["outcome"] is None and entry["error"]
    assert entry["report_key"] == report_key(Report(bought.code))


def test_rule_expired_through_the_registrys_admin_clock(tmp_path):
    registry = start_threaded(
        f"sqlite:///{tmp_path / 'registry.db'}", tmp_path, registry_settings(), ManualClock(START)
    )
    try:
        world = make_world(tmp_path, registry)
        bought = world.buy()
        world.at(bought, minutes=20)
        world.transmit(bought.code)
        world.at(bought, hours=80)
        ends = expires_at(bought.at)
        # Only the registry's clock moves past the 6 months, as QA does with /admin/clock.
        world.advance_registry((ends - world.clock.now()).total_seconds())
        decision = world.desk().submit(Report(bought.code)).decision
        assert decision.outcome is Outcome.EXPIRED and decision.when == ends
        assert not decision.refund
        assert "paper" in explain(decision, "en")
    finally:
        registry.stop()


def test_one_desk_for_two_booths_decides_each_report_in_the_booth_that_sold_it(
    tmp_path, shared_registry
):
    """An operator's desk over two booths' files: a report by number or by printed sale
    reference is decided, recorded and refunded in the selling booth's file only."""
    from support.desk import open_fleet_desk

    first = make_world(tmp_path, shared_registry, "booth-001")
    second = make_world(tmp_path, shared_registry, "booth-002")
    here, there = first.buy(), second.buy()
    second.at(there, hours=72)  # never sent: refunded at the promise
    with open_fleet_desk(
        {"booth-001": first.booth_db, "booth-002": second.booth_db},
        shared_registry.url,
        ADMIN_TOKEN,
        second.clock,
        first.catalog,
    ) as desk:
        refunded = desk.submit(Report(there.code))
        by_reference = desk.submit(Report(None, here.sale_ref))
        unknown = desk.submit(Report(codes.generate().value))
        [refund] = desk.refunds()
        log = desk.audit_log()
    assert refunded.decision.outcome is Outcome.REFUND and refunded.decision.code == there.code
    assert refund["booth"] == "booth-002" and refund["sale_ref"] == there.sale_ref
    assert second.outbox_row(there.code)["status"] == "pending"
    assert by_reference.decision.sale_id == here.sale_ref
    assert unknown.decision.outcome is Outcome.UNKNOWN_CODE
    # All at one instant: in booth order, then as received.
    assert [(r["booth"], r["outcome"]) for r in log] == [
        ("booth-001", "proof_needed"),  # a sale reference alone does not show the number
        ("booth-001", "unknown_code"),
        ("booth-002", "refund"),
    ]
