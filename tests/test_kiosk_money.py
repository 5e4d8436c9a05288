"""The customer's money (issue 17, items 1-3): every coin in the ledger the moment it goes in;
a cancelled, timed-out or crashed sale with money in it ends with the money given back or a
refund due shown to the customer and the operator; an overpayment gives change, shown and
recorded; the operator's PIN lockout survives a restart."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from kiosk.flow import InlineExecutor, SaleFlow
from kiosk.ledger import payments, sales
from kiosk.sale import State
from kiosk.ui.script import run_script
from tests.kiosk_harness import FakeMonotonic, journey, make_app, make_booth, runner
from tests.test_kiosk_crash import rows, start_kiosk, write_script


def money_rows(booth) -> list[tuple[str, str, int]]:
    with booth.ledger.engine.connect() as conn:
        found = conn.execute(
            select(payments.c.method, payments.c.status, payments.c.amount_cents).order_by(
                payments.c.id
            )
        ).all()
    return [tuple(r) for r in found]


def to_payment(product_id: str) -> list[dict]:
    steps = journey(product_id)
    return steps[: steps.index({"tap": "card"})]


def shown(app) -> str:
    """Every text on the screen, with money's non-breaking spaces as plain ones."""
    return " ".join(app.current.visible_texts()).replace("\u00a0", " ")


def test_a_coin_then_cancel_gives_the_coin_back_on_a_screen_that_says_so(tmp_path):
    booth = make_booth(tmp_path / "data")
    app = make_app(booth, screenshots=tmp_path / "shots")
    try:
        report = run_script(app, [*to_payment("portrait"), {"tap": "coin-200"}], close=False)
        assert report.ok, report.error
        assert money_rows(booth) == [("coins", "inserted", 200)], "in the ledger as it went in"
        report = run_script(app, [{"tap": "cancel"}], close=False)
        assert report.ok, report.error
        assert app.state is State.MONEY_BACK
        assert "2,00 €" in shown(app) and "rendus" in shown(app)
        assert money_rows(booth) == [("coins", "returned", 200)]
        (sale,) = rows(tmp_path / "data", sales)
        assert sale.status == "cancelled"
        assert run_script(app, [{"tap": "ok"}, {"wait_for": "attract"}], close=False).ok
    finally:
        app.close()
        booth.close()


def test_a_box_that_cannot_give_back_records_a_refund_due_for_customer_and_operator(tmp_path):
    booth = make_booth(tmp_path / "data", coins_given_back=False)
    app = make_app(booth, screenshots=tmp_path / "shots")
    try:
        steps = [*to_payment("portrait"), {"tap": "coin-200"}, {"tap": "coin-100"}]
        report = run_script(app, [*steps, {"tap": "cancel"}], close=False)
        assert report.ok, report.error
        (sale,) = rows(tmp_path / "data", sales)
        assert sale.status == "refund_due"
        assert money_rows(booth) == [("coins", "refund_due", 200), ("coins", "refund_due", 100)]
        ref = f"booth-001-{sale.id:06d}"
        assert "3,00 €" in shown(app) and ref in shown(app), shown(app)
        (owed,) = booth.snapshot().refunds_due
        assert (owed.sale_ref, owed.cents) == (ref, 300)
        assert booth.ledger.today().refund_due == 1
    finally:
        app.close()
        booth.close()


def test_walking_away_with_coins_in_gives_them_back_at_the_timeout(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks)
    app = make_app(booth)
    try:
        report = run_script(app, [*to_payment("portrait"), {"tap": "coin-50"}], close=False)
        assert report.ok, report.error
        ticks.advance(booth.settings.payment_timeout_seconds + 1)
        runner(app).frame()
        assert app.state is State.MONEY_BACK
        assert money_rows(booth) == [("coins", "returned", 50)]
        ticks.advance(booth.settings.message_timeout_seconds + 1)
        runner(app).frame()
        assert app.state is State.ATTRACT
    finally:
        app.close()
        booth.close()


def test_overpaying_gives_change_shown_on_the_final_screen_and_recorded(tmp_path):
    booth = make_booth(tmp_path / "data")
    app = make_app(booth, screenshots=tmp_path / "shots")
    try:
        # A 7 EUR sheet paid with four 2 EUR coins: 1 EUR change.
        steps = [*to_payment("id-card-adult"), *[{"tap": "coin-200"}] * 4]
        report = run_script(app, [*steps, {"wait_for": "done", "timeout": 30}], close=False)
        assert report.ok, report.error
        assert "Monnaie rendue : 1,00 €" in shown(app)
        assert money_rows(booth) == [("coins", "approved", 200)] * 4 + [("coins", "change", 100)]
    finally:
        app.close()
        booth.close()


def test_change_the_box_cannot_give_is_recorded_as_owed_and_shown(tmp_path):
    booth = make_booth(tmp_path / "data", coins_given_back=False)
    app = make_app(booth)
    try:
        steps = [*to_payment("id-card-adult"), *[{"tap": "coin-200"}] * 4]
        report = run_script(app, [*steps, {"wait_for": "done", "timeout": 30}], close=False)
        assert report.ok, report.error
        painted = shown(app)
        assert "n'a pas pu rendre 1,00 €" in painted
        assert money_rows(booth)[-1] == ("coins", "refund_due", 100)
        assert [r.cents for r in booth.snapshot().refunds_due] == [100]
    finally:
        app.close()
        booth.close()


def test_sales_left_open_at_a_restart_are_closed_and_their_coins_owed(tmp_path):
    from kiosk.catalog import load_catalog

    data = tmp_path / "data"
    booth = make_booth(data)
    product = load_catalog().get("portrait")
    with_coins = booth.ledger.open_sale(product, "fr")
    booth.ledger.record_coin(with_coins, 200)
    without = booth.ledger.open_sale(product, "fr")
    booth.ledger.dispose()  # no clean shutdown: as if the process had died here

    again = make_booth(data)
    try:
        SaleFlow(again, again.machine(), InlineExecutor())
        assert again.ledger.sale(with_coins).status == "refund_due"
        assert again.ledger.sale(without).status == "cancelled"
        assert money_rows(again) == [("coins", "refund_due", 200)]
        assert [r.cents for r in again.snapshot().refunds_due] == [200]
    finally:
        again.close()


@pytest.mark.slow
def test_killed_with_a_coin_in_an_open_sale_the_restart_closes_it_with_a_refund_due(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    steps = [*to_payment("portrait"), {"tap": "coin-200"}, {"wait": 60}]
    first = start_kiosk(data, write_script(tmp_path / "coin.toml", steps), print_seconds=0.05)
    try:
        import time

        end = time.monotonic() + 60
        while time.monotonic() < end:
            assert first.poll() is None
            try:
                if rows(data, payments):
                    break
            except Exception:  # noqa: BLE001 - the schema may not exist yet
                pass
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    (sale,) = rows(data, sales)
    assert sale.status == "open"

    idle = write_script(tmp_path / "idle.toml", [{"wait": 1.0}, {"expect": "attract"}])
    second = start_kiosk(data, idle, print_seconds=0.05)
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output
    (sale,) = rows(data, sales)
    assert sale.status == "refund_due"
    assert [(p.status, p.amount_cents) for p in rows(data, payments)] == [("refund_due", 200)]


def test_the_pin_lockout_survives_a_restart(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks)
    for _ in range(booth.settings.pin_max_tries):
        verdict = booth.pinpad.submit("0000")
    assert verdict.locked_for > 0
    booth.close()

    ticks.advance(5)
    restarted = make_booth(tmp_path / "data", monotonic=ticks)
    try:
        verdict = restarted.pinpad.submit("1234")
        assert not verdict.accepted and verdict.locked_for > 0
        ticks.advance(restarted.settings.pin_lockout_seconds)
        assert restarted.pinpad.submit("1234").accepted
    finally:
        restarted.close()


def test_a_lockout_read_after_a_reboot_is_never_longer_than_one_lockout(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks)
    for _ in range(booth.settings.pin_max_tries):
        booth.pinpad.submit("0000")
    booth.close()
    ticks.now = 10.0  # the machine rebooted: its monotonic clock started again
    restarted = make_booth(tmp_path / "data", monotonic=ticks)
    try:
        locked = restarted.pinpad.locked_for()
        assert 0 < locked <= restarted.settings.pin_lockout_seconds
    finally:
        restarted.close()
