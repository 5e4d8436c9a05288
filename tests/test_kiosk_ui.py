"""The booth's touchscreen under SDL's dummy driver, driven by real taps posted at the buttons'
rectangles: every product bought end to end, the ePhoto/non-ePhoto difference, payment refusals,
idle timeouts, retakes, the operator menu, paper out, crash recovery and a full disk."""

from __future__ import annotations

import sqlite3
import time

import pygame
import pytest
from sqlalchemy import event, select

from ephoto import code as codes
from kiosk.ledger import CANCELLED, PRINTED, REFUND_DUE, payments, prints
from kiosk.sale import State
from kiosk.ui.script import ScriptError, run_script
from tests.kiosk_harness import (
    CATALOG,
    FakeMonotonic,
    buy,
    counts,
    journey,
    make_app,
    make_booth,
    qr_texts,
    runner,
)


@pytest.fixture
def booth(tmp_path):
    made = make_booth(tmp_path / "data")
    yield made
    made.close()


@pytest.fixture
def app(booth):
    made = make_app(booth)
    yield made
    made.close()


@pytest.mark.parametrize("product", [p.id for p in CATALOG], ids=[p.id for p in CATALOG])
def test_each_product_is_bought_end_to_end_and_only_ephoto_gets_a_number(booth, app, product):
    report = buy(app, product)
    assert report.ok, report.error
    expected = ["attract", "language", "category", "product", "confirm", "capture", "review"]
    expected += ["signature"] if CATALOG.get(product).ephoto else []
    expected += ["payment", "issuing", "printing", "done", "attract"]
    assert report.states == expected
    sale = booth.ledger.last_sales(1)[0]
    assert sale.product == product and sale.status == PRINTED
    printed = list((booth.paths.prints).glob("*.png"))
    assert len(printed) == 1
    found = counts(booth)
    if CATALOG.get(product).ephoto:
        assert codes.is_valid(sale.code, prefixes=("9PMT",))
        assert (found.codes, found.outbox, found.prints) == (1, 1, 1)
        assert qr_texts(printed[0]) == [sale.code], "the sheet's QR must hold exactly the number"
    else:
        assert sale.code is None
        assert (found.codes, found.outbox, found.prints) == (0, 0, 1)
        assert qr_texts(printed[0]) == [], "a non-ePhoto sheet carries no QR code"


def test_done_screen_shows_the_number_grouped_and_when_to_use_it(booth, app):
    report = run_script(app, journey("ephoto-titre-sejour", finish=False), close=False)
    assert report.ok, report.error
    sale = booth.ledger.last_sales(1)[0]
    shown = " ".join(app.current.visible_texts())
    assert codes.group(sale.code) in shown
    # Issued 14/09/2026 10:30 Paris: usable from +72 h, before the 6-month expiry.
    assert "17/09/2026 10:30" in shown and "14/03/2027 10:30" in shown
    assert "ANEF" in shown


def test_choosing_a_paper_id_product_warns_and_offers_the_ephoto_products(app):
    steps = [
        {"tap": "start"},
        {"tap": "lang-fr"},
        {"tap": "category-identity"},
        {"tap": "product-passport"},
        {"expect": "confirm"},
    ]
    assert run_script(app, steps, close=False).ok
    shown = " ".join(app.current.visible_texts())
    assert "SANS numéro ePhoto" in shown and "pas remboursé" in shown
    assert "show-ephoto" in [b.id for b in app.current.buttons]
    assert run_script(app, [{"tap_text": "Voir les produits ePhoto"}], close=False).ok
    assert app.state is State.PRODUCT
    tiles = [b.id for b in app.current.buttons if b.id.startswith("product-")]
    assert tiles == ["product-ephoto-permis", "product-ephoto-titre-sejour"]


def test_choosing_an_ephoto_product_states_one_number_one_use_6_months_72_hours(app):
    steps = [{"tap": "start"}, {"tap": "lang-en"}, {"tap": "category-ephoto"}]
    steps += [{"tap": "product-ephoto-permis"}, {"expect": "confirm"}]
    assert run_script(app, steps, close=False).ok
    shown = " ".join(app.current.visible_texts())
    for fact in ("one number, usable only once", "6 months", "72 h", "ANTS", "driving licence"):
        assert fact in shown


def test_id_photo_tiles_show_the_ephoto_products_first_and_mark_every_tile(app):
    steps = [{"tap": "start"}, {"tap": "lang-fr"}, {"tap": "category-identity"}]
    assert run_script(app, steps, close=False).ok
    tiles = [b for b in app.current.buttons if b.id.startswith("product-")]
    assert [t.style for t in tiles[:2]] == ["ephoto", "ephoto"]
    for tile in tiles:
        product = CATALOG.get(tile.id.removeprefix("product-"))
        if product.ephoto:
            assert "ePhoto" in tile.badge and product.site in tile.detail
        else:
            assert "SANS numéro ePhoto" in tile.badge


def test_a_declined_card_charges_nothing_and_the_customer_can_pay_with_coins(booth, app):
    steps = journey("ephoto-permis")
    pay = steps.index({"tap": "card"})
    steps[pay : pay + 1] = [
        {"tap": "card-declined"},
        {"wait": 0.3},
        {"expect": "payment"},
    ] + [{"tap": "coin-200"}] * 4
    report = run_script(app, steps, close=False)
    assert report.ok, report.error
    with booth.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(payments.c.method, payments.c.status, payments.c.amount_cents)
        ).all()
    # Nothing taken from the card; the four coins (one row each, as they went in) paid 8 EUR.
    assert sorted(rows) == [("card", "declined", 800)] + [("coins", "approved", 200)] * 4
    assert counts(booth).codes == 1
    assert booth.ledger.today().declined == 1


def test_a_declined_card_shows_a_calm_message_on_the_payment_screen(app):
    steps = journey("portrait")[: journey("portrait").index({"tap": "card"})]
    steps += [{"tap": "card-declined"}]
    assert run_script(app, steps, close=False).ok
    until(runner(app), lambda: app.session.declined == 1)
    assert app.state is State.PAYMENT
    assert "Carte refusée" in app.current.t("payment.declined")


def test_an_idle_customer_is_sent_back_to_attract_and_the_unpaid_sale_cancelled(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks, idle_timeout_seconds=90)
    app = make_app(booth)
    steps = journey("visa")[:6]  # up to the review screen: the sale is open
    assert run_script(app, steps, close=False).ok
    assert app.state is State.REVIEW
    sale_id = app.session.sale_id
    ticks.advance(89)
    runner(app).frame()
    assert app.state is State.REVIEW
    ticks.advance(2)
    runner(app).frame()
    assert app.state is State.ATTRACT
    assert booth.ledger.sale(sale_id).status == CANCELLED
    assert counts(booth).payments == 0
    app.close()
    booth.close()


def test_retakes_stop_at_the_configured_limit(tmp_path):
    booth = make_booth(tmp_path / "data", retake_limit=2)
    app = make_app(booth)
    steps = journey("ephoto-permis")[:6]
    steps += [{"tap": "retake"}, {"wait_for": "review"}, {"tap": "retake"}, {"wait_for": "review"}]
    report = run_script(app, steps, close=False)
    assert report.ok, report.error
    retake = next(b for b in app.current.buttons if b.id == "retake")
    assert not retake.enabled and "Plus de reprise" in retake.label
    assert app.session.photos_taken == 3
    # Tapping the disabled button does nothing.
    runner(app).tap_at(retake.rect.center)
    assert app.state is State.REVIEW
    app.close()
    booth.close()


def hold_corner(app, ticks, seconds):
    run = runner(app)
    corner = app.operator_corner().center
    run._post("down", corner, False)
    run.frame()
    ticks.advance(seconds)
    run.frame()
    run._post("up", corner, False)
    run.frame()


def test_operator_corner_must_be_held_3_seconds_then_asks_the_pin(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks)
    app = make_app(booth)
    hold_corner(app, ticks, 2.9)
    assert app.state is State.ATTRACT
    hold_corner(app, ticks, 3.0)
    assert app.state is State.OPERATOR_PIN
    report = run_script(
        app, [{"pin": "1234"}, {"wait_for": "operator", "timeout": 10}], close=False
    )
    assert report.ok, report.error
    run = runner(app)
    until(run, lambda: app.current.snapshot is not None)
    shown = " ".join(app.current.visible_texts())
    assert "Transmission" in shown and "Papier" in shown and "Aujourd'hui" in shown
    app.close()
    booth.close()


def until(run, condition, timeout=15.0):
    """Run frames until ``condition()`` holds (background work may be slow on a busy machine)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition never became true"
        run.frame()


def pin_checked(app, run, digits):
    """Type a PIN and run frames until the pad has the verdict (hashing runs in a worker)."""
    run.pin(digits)
    end = time.monotonic() + 15
    while app.current.state is State.OPERATOR_PIN and app.current.checking:
        assert time.monotonic() < end, "the PIN check never came back"
        run.frame()


def test_wrong_pins_count_down_then_lock_the_pad_even_for_the_right_pin(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks, pin_lockout_seconds=300)
    app = make_app(booth)
    hold_corner(app, ticks, 3.1)
    run = runner(app)
    for left in (4, 3, 2, 1):
        pin_checked(app, run, "9999")
        assert app.current.message == f"Code incorrect. Essais restants : {left}"
    pin_checked(app, run, "9999")
    # Locked: the time left, and a keypad that cannot be pressed, not even for the right PIN.
    assert (
        app.current.message
        == "Trop d'essais : le clavier est bloqué. Réessayez dans 5\u00a0min\u00a000\u00a0s."
    )
    keys = [b for b in app.current.buttons if b.id.startswith("pin-")]
    assert len(keys) == 12 and not any(b.enabled for b in keys)
    with pytest.raises(ScriptError, match="no button 'pin-1'"):
        run.find({"tap": "pin-1"}, timeout=0.2)
    ticks.advance(15)
    run.frame()
    assert app.current.message.endswith("4\u00a0min\u00a045\u00a0s.")
    # Leaving the pad and coming back does not unlock it; the time left is shown again.
    run_script(app, [{"tap": "cancel"}], close=False)
    hold_corner(app, ticks, 3.1)
    until(run, lambda: app.current.locked)
    assert app.state is State.OPERATOR_PIN and "4\u00a0min\u00a04" in app.current.message
    assert booth.pinpad.submit("1234").accepted is False
    # Once the time is up the keypad opens (the pad itself went back to attract meanwhile).
    ticks.advance(301)
    run.frame()
    hold_corner(app, ticks, 3.1)
    until(run, lambda: all(b.enabled for b in app.current.buttons))
    run.pin("1234")
    run.wait_for_state(State.OPERATOR, 5)
    app.close()
    booth.close()


def test_paper_out_puts_the_booth_in_maintenance_until_refilled(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks, paper_capacity=1)
    app = make_app(booth)
    steps = journey("fun", finish=False) + [{"tap": "finish"}, {"wait_for": "maintenance"}]
    assert run_script(app, steps, close=False).ok
    assert app.state is State.MAINTENANCE
    assert not [b for b in app.current.buttons if b.id == "start"]
    assert "Plus de papier" in " ".join(app.current.visible_texts())
    hold_corner(app, ticks, 3.1)
    run = runner(app)
    run.pin("1234")
    run.wait_for_state(State.OPERATOR, 5)
    run.tap({"tap": "refill"})
    until(run, lambda: booth.ledger.paper_left() == 1)
    run.tap({"tap": "exit"})
    assert app.state is State.ATTRACT
    app.close()
    booth.close()


def test_no_payment_is_taken_when_the_paper_runs_out_mid_sale(booth, app):
    steps = journey("portrait")[:6]
    assert run_script(app, steps, close=False).ok
    booth.ledger.set_paper_left(0)
    report = run_script(app, [{"tap": "keep"}, {"wait_for": "refused"}], close=False)
    assert report.ok, report.error
    assert "plus de papier" in " ".join(app.current.visible_texts())
    assert counts(booth).payments == 0
    run_script(app, [{"tap": "ok"}], close=False)
    assert app.state is State.MAINTENANCE


def test_disk_full_at_issuing_shows_a_calm_error_and_no_number_exists(booth, app):
    @event.listens_for(booth.ledger.engine, "before_cursor_execute")
    def _full(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            raise sqlite3.OperationalError("database or disk is full")

    steps = journey("ephoto-permis", finish=False)
    steps[-1] = {"wait_for": "issue_failed"}
    report = run_script(app, steps, close=False)
    assert report.ok, report.error
    found = counts(booth)
    assert (found.codes, found.outbox, found.prints) == (0, 0, 0)
    sale = booth.ledger.last_sales(1)[0]
    assert sale.status == REFUND_DUE and sale.code is None
    shown = " ".join(app.current.visible_texts())
    assert "remboursé" in shown and sale.display_id() in shown
    assert "9PMT" not in shown.replace(sale.display_id(), "")
    assert list(booth.paths.prints.glob("*")) == []


def test_disk_full_while_storing_the_file_shows_the_calm_error_and_no_number_exists(booth, app):
    """The last write of the issue, the number's ePhoto file, fails: nothing of the sale's
    number remains and the payment is to be refunded."""

    @event.listens_for(booth.ledger.engine, "before_cursor_execute")
    def _full(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX_FILES"):
            raise sqlite3.OperationalError("database or disk is full")

    steps = journey("ephoto-permis", finish=False)
    steps[-1] = {"wait_for": "issue_failed"}
    report = run_script(app, steps, close=False)
    assert report.ok, report.error
    found = counts(booth)
    assert (found.codes, found.outbox, found.prints) == (0, 0, 0)
    assert booth.ledger.last_sales(1)[0].status == REFUND_DUE


def test_an_ephoto_number_without_its_signature_is_never_issued(booth, app):
    """The signature never reached the disk: no file can be made, so no number; the customer
    sees the calm error and the payment is to be refunded."""
    booth.keep_signature = lambda sale_id, png: booth.paths.photos / "lost.png"
    steps = journey("ephoto-permis", finish=False)
    steps[-1] = {"wait_for": "issue_failed"}
    report = run_script(app, steps, close=False)
    assert report.ok, report.error
    assert (counts(booth).codes, counts(booth).outbox) == (0, 0)
    assert booth.ledger.last_sales(1)[0].status == REFUND_DUE


def test_a_bought_ephoto_number_has_its_file_made_from_the_kept_photo_and_signature(booth, app):
    import io

    from PIL import Image

    from ephoto.epfile import encode_photo, encode_signature, sha256_hex
    from transmitter.outbox import read_file

    buy(app, "ephoto-permis")
    sale = booth.ledger.last_sales(1)[0]
    file = read_file(booth.ledger.engine, sale.code)
    assert file is not None and file.meta.procedure == "permis"
    with Image.open(sale.photo_path) as kept:
        assert file.photo_jpeg == encode_photo(kept)
    signature = booth.paths.photos / f"sale-{sale.id:06d}-signature.png"
    with Image.open(signature) as kept:
        assert file.meta.signature_sha256 == sha256_hex(encode_signature(kept))
    with Image.open(io.BytesIO(file.signature_png)) as png:
        assert png.getextrema()[0] < 128  # the customer's ink is in it


def test_an_error_in_any_state_shows_the_failsafe_screen_then_attract(tmp_path):
    class BrokenCamera:
        def capture(self):
            raise OSError("camera unplugged")

    booth = make_booth(tmp_path / "data", camera=BrokenCamera())
    app = make_app(booth)
    report = run_script(app, journey("portrait")[:5] + [{"wait_for": "failsafe"}], close=False)
    assert report.ok, report.error
    assert "camera unplugged" in app.errors[-1]
    assert run_script(app, [{"tap": "ok"}, {"expect": "attract"}], close=False).ok
    assert counts(booth).payments == 0
    app.close()
    booth.close()


def test_mouse_clicks_work_and_a_touch_is_never_pressed_twice(booth, app):
    run = runner(app)
    start = next(b for b in app.current.buttons if b.id == "start")
    run.tap_at(start.rect.center, mouse=True)
    assert app.state is State.LANGUAGE
    french = next(b for b in app.current.buttons if b.id == "lang-fr")
    # A real touchscreen also sends SDL's mouse copy of each touch, marked touch=True.
    pygame.event.post(
        pygame.event.Event(
            pygame.FINGERDOWN,
            touch_id=1,
            finger_id=1,
            x=french.rect.centerx / 1920,
            y=french.rect.centery / 1080,
            dx=0,
            dy=0,
            pressure=1,
        )
    )
    pygame.event.post(
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=french.rect.center, button=1, touch=True)
    )
    pygame.event.post(
        pygame.event.Event(
            pygame.FINGERUP,
            touch_id=1,
            finger_id=1,
            x=french.rect.centerx / 1920,
            y=french.rect.centery / 1080,
            dx=0,
            dy=0,
            pressure=1,
        )
    )
    pygame.event.post(
        pygame.event.Event(pygame.MOUSEBUTTONUP, pos=french.rect.center, button=1, touch=True)
    )
    run.frame()
    assert app.state is State.CATEGORY
    assert [c.state for c in app.changes].count(State.CATEGORY) == 1


def test_a_pressed_button_is_drawn_differently_until_released(app):
    run = runner(app)
    start = next(b for b in app.current.buttons if b.id == "start")
    before = app.window.get_at(start.rect.center)
    run._post("down", start.rect.center, False)
    run.frame()
    assert app.pressed is start
    assert app.window.get_at(start.rect.center) != before
    # Sliding off the button and releasing elsewhere cancels the tap.
    run._post("up", (5, 5), False)
    run.frame()
    assert app.state is State.ATTRACT and app.pressed is None


def test_english_button_switches_the_screen_language(app):
    assert run_script(app, [{"tap": "start"}, {"tap": "lang-fr"}], close=False).ok
    assert run_script(app, [{"tap_text": "English"}], close=False).ok
    labels = [b.label for b in app.current.buttons]
    assert "Paper ID photos" in labels and app.session.lang == "en"


@pytest.mark.parametrize("size", [(1920, 1080), (1024, 600)])
def test_every_button_is_at_least_15_mm_on_every_screen(tmp_path, size):
    booth = make_booth(tmp_path / "data", dpi=120)
    app = make_app(booth, size=size)
    minimum = round(15 / 25.4 * 120)
    seen = {}

    def check(machine, source, target):
        seen[target] = min((min(b.rect.size) for b in app.current.buttons), default=minimum)

    app.machine.on_enter(check)
    assert run_script(app, journey("ephoto-permis"), close=False).ok
    assert len(seen) >= 11
    assert all(side >= minimum for side in seen.values()), seen
    app.close()
    booth.close()


def test_prints_record_one_sheet_per_sale(booth, app):
    assert buy(app, "ephoto-permis").ok
    assert buy(app, "passport").ok
    with booth.ledger.engine.connect() as conn:
        kinds = conn.execute(select(prints.c.kind)).scalars().all()
    assert kinds == ["sale", "sale"]
    assert booth.ledger.paper_left() == booth.settings.paper_capacity - 2


def test_operator_reprints_the_last_sheet_and_it_is_counted(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks)
    app = make_app(booth)
    assert buy(app, "portrait").ok
    hold_corner(app, ticks, 3.1)
    run = runner(app)
    pin_checked(app, run, "1234")
    run.wait_for_state(State.OPERATOR, 5)
    run.tap({"tap": "reprint"})
    until(run, lambda: counts(booth).prints == 2)
    with booth.ledger.engine.connect() as conn:
        kinds = conn.execute(select(prints.c.kind).order_by(prints.c.id)).scalars().all()
    assert kinds == ["sale", "reprint"]
    assert booth.ledger.paper_left() == booth.settings.paper_capacity - 2
    until(run, lambda: "Planche réimprimée" in " ".join(app.current.visible_texts()))
    app.close()
    booth.close()


def test_a_tap_anywhere_on_the_attract_screen_starts_but_not_in_the_operator_corner(tmp_path):
    booth = make_booth(tmp_path / "data")
    app = make_app(booth, size=(960, 540))
    try:
        run = runner(app)
        run.frame()
        run.tap_at(app.operator_corner().center)
        assert app.state is State.ATTRACT, "a short tap in the operator's corner does nothing"
        headline = app.rect(960, 160, 0, 0).topleft  # the big title, not the start button
        assert app.hit(headline) is None
        run.tap_at(headline)
        assert app.state is State.LANGUAGE
        run_script(app, [{"tap": "cancel"}, {"wait_for": "attract"}], close=False)
        run.tap_at(app.rect(300, 500, 0, 0).topleft)  # the ePhoto panel
        assert app.state is State.LANGUAGE
    finally:
        app.close()
        booth.close()


def test_the_next_screens_are_prepared_while_the_customer_reads(tmp_path):
    """Screen changes do not draw from scratch: in the frames with time to spare, the screens
    a tap can lead to get their buttons drawn ahead, so entering one only blits them."""
    booth = make_booth(tmp_path / "data")
    app = make_app(booth)
    try:
        run = runner(app)
        for _ in range(40):
            run.frame()
        buttons, _, _ = app.screens[State.LANGUAGE].build(app.canvas("scratch"))
        assert {b.face_key(False) for b in buttons} <= set(app.kit.faces)
        run_script(app, [{"tap": "start"}], close=False)
        for _ in range(60):
            run.frame()
        for lang in ("fr", "en"):
            app.session.lang = lang
            buttons, _, _ = app.screens[State.CATEGORY].build(app.canvas("scratch"))
            assert {b.face_key(False) for b in buttons} <= set(app.kit.faces), lang
        app.session.lang = "fr"
        assert app.state is State.LANGUAGE and app.current.buttons, "the live screen untouched"
    finally:
        app.close()
        booth.close()
