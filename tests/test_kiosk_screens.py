"""What the customer sees on the screens around choosing and paying: every product without an
ePhoto number says so, a payment under way shows only its progress, the time left to pay is
counted down, a "still there?" prompt comes before a sale is given up, and a card being
charged is never given up."""

from __future__ import annotations

import time

import pytest

from ephoto.texts import texts
from kiosk.ledger import CANCELLED
from kiosk.sale import State
from kiosk.ui.script import run_script
from tests.kiosk_harness import CATALOG, FakeMonotonic, journey, make_app, make_booth, runner

FR = texts("kiosk", "fr")


@pytest.fixture
def ticks():
    return FakeMonotonic()


@pytest.fixture
def booth(tmp_path, ticks):
    made = make_booth(tmp_path / "data", monotonic=ticks, payment_seconds=0.5)
    yield made
    made.close()


@pytest.fixture
def app(booth):
    made = make_app(booth)
    yield made
    made.close()


def until(app, condition, timeout=15.0):
    run = runner(app)
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition never became true"
        run.frame()


def to_payment(app, product="portrait"):
    steps = journey(product)
    report = run_script(app, steps[: steps.index({"tap": "card"})], close=False)
    assert report.ok, report.error
    assert app.state is State.PAYMENT


NO_EPHOTO = [p.id for p in CATALOG if not p.ephoto]


@pytest.mark.parametrize("product", NO_EPHOTO)
def test_every_product_without_a_number_says_so_on_its_tile_and_its_confirm_screen(app, product):
    chosen = CATALOG.get(product)
    steps = [{"tap": "start"}, {"tap": "lang-fr"}, {"tap": f"category-{chosen.category}"}]
    assert run_script(app, steps, close=False).ok
    tile = next(b for b in app.current.buttons if b.id == f"product-{product}")
    assert tile.badge == FR("product.badge_no_ephoto") and tile.badge_style == "warning"
    assert run_script(app, [{"tap": f"product-{product}"}], close=False).ok
    shown = " ".join(app.current.visible_texts())
    said = FR("confirm.warning", product=chosen.name("fr"))
    assert said in shown or FR("confirm.plain_no_ephoto") in shown
    assert "numéro ePhoto" in app.current.title() + shown


def test_the_souvenir_categories_tile_says_no_number_too(app):
    assert run_script(app, [{"tap": "start"}, {"tap": "lang-fr"}], close=False).ok
    tiles = {b.id: b for b in app.current.buttons}
    assert tiles["category-photos"].badge == FR("product.badge_no_ephoto")
    assert tiles["category-ephoto"].badge == FR("product.badge_ephoto")


def test_a_payment_under_way_shows_its_progress_and_nothing_to_choose(app):
    to_payment(app)
    assert "language" not in {b.id for b in app.current.buttons}
    shown = app.current.visible_texts()
    assert FR("payment.coins") in shown and FR("payment.test_panel") in shown
    assert run_script(app, [{"tap": "card"}], close=False).ok
    assert app.current.processing
    shown = app.current.visible_texts()
    assert FR("payment.processing") in shown
    assert FR("payment.coins") not in shown and FR("payment.test_panel") not in shown
    assert app.current.buttons == []
    until(app, lambda: app.state is not State.PAYMENT)


def test_the_time_left_to_pay_is_counted_down_and_a_prompt_comes_before_the_end(app, booth, ticks):
    to_payment(app)
    run = runner(app)
    limit = booth.settings.payment_timeout_seconds
    prompt = app.machine.timeouts.prompt_for(State.PAYMENT)
    assert prompt is not None and 0 < prompt < limit
    drawn = []
    kit = app.kit

    def shown_now():
        drawn.clear()
        kit.record = drawn
        try:
            app.current.draw(app.window)
        finally:
            kit.record = None
        return drawn

    assert FR("payment.time_left", time="2\u00a0min\u00a000\u00a0s") in shown_now()
    ticks.advance(limit - prompt - 1)
    run.frame()
    assert not app.current.asking
    assert FR("payment.time_left", time=f"{prompt + 1:.0f}\u00a0s") in shown_now()
    # The last seconds: the question, the seconds left, one button to carry on.
    ticks.advance(2)
    run.frame()
    assert app.current.asking
    assert [b.id for b in app.current.buttons] == ["still-here"]
    assert FR("common.still_there") in app.current.visible_texts()
    assert FR("common.still_there_left", seconds=f"{prompt - 1:.0f}") in shown_now()
    # Answering starts the wait again, on the same sale.
    sale = app.session.sale_id
    assert run_script(app, [{"tap": "still-here"}], close=False).ok
    run.frame()
    assert not app.current.asking and app.state is State.PAYMENT
    assert app.session.sale_id == sale
    # Unanswered, the sale is given up when the time is out.
    ticks.advance(limit - prompt + 1)
    run.frame()
    assert app.current.asking
    ticks.advance(prompt)
    run.frame()
    assert app.state is State.ATTRACT
    assert booth.ledger.sale(sale).status == CANCELLED


def test_a_card_being_charged_is_never_given_up(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks, payment_seconds=3.0)
    app = make_app(booth)
    try:
        to_payment(app, "fun")
        assert run_script(app, [{"tap": "card"}], close=False).ok
        ticks.advance(booth.settings.payment_timeout_seconds + 10)
        runner(app).frame()
        assert app.state is State.PAYMENT
        assert app.current.processing and not app.current.asking
        until(app, lambda: app.state is State.DONE, timeout=30)
        assert booth.ledger.last_sales(1)[0].status == "printed"
    finally:
        app.close()
        booth.close()


def test_the_still_there_prompt_comes_on_every_customer_screen_not_on_resting_ones(app, ticks):
    assert run_script(app, [{"tap": "start"}, {"tap": "lang-fr"}], close=False).ok
    run = runner(app)
    left = app.machine.seconds_left()
    assert left is not None
    ticks.advance(left - 5)
    run.frame()
    assert app.state is State.CATEGORY and app.current.asking
    ticks.advance(6)
    run.frame()
    assert app.state is State.ATTRACT and not app.current.asking


class LiveCamera:
    """A camera with a live view: frames red on the left half and blue on the right, so that
    the preview's mirroring shows; the photo itself is a drawn portrait."""

    name = "live-test"

    def __init__(self) -> None:
        self.frames = 0

    def start(self) -> None:
        return None

    def capture(self):
        from kiosk.camera import synthetic_portrait

        return synthetic_portrait(3)

    def frame(self):
        from PIL import Image, ImageDraw

        self.frames += 1
        image = Image.new("RGB", (350, 450), (200, 30, 30))
        ImageDraw.Draw(image).rectangle((175, 0, 349, 449), fill=(30, 30, 200))
        return image


def test_the_capture_screen_shows_the_cameras_live_view_under_the_framing_guide(tmp_path):
    from kiosk.devices import LiveView

    ticks, camera = FakeMonotonic(), LiveCamera()
    assert isinstance(camera, LiveView)
    booth = make_booth(tmp_path / "data", monotonic=ticks, camera=camera, countdown_seconds=3)
    app = make_app(booth)
    try:
        steps = journey("ephoto-permis")
        assert run_script(app, steps[: steps.index({"tap": "accept"}) + 1], close=False).ok
        assert app.state is State.CAPTURE
        until(app, lambda: app.flow.progress.live_frame is not None)
        runner(app).frame()
        x, y, w, h = app.current.frame()
        frame = app.rect(x, y, w, h)
        # The view fills the frame, mirrored as a mirror shows the customer.
        left = app.window.get_at((frame.left + frame.width // 8, frame.centery))[:3]
        right = app.window.get_at((frame.right - frame.width // 8, frame.centery))[:3]
        assert left[2] > 150 > left[0] and right[0] > 150 > right[2]
        # The framing guide is drawn on top of it: the oval's top is white.
        oval_top = app.rect(x + w * 0.5, y + h * 0.078, 0, 0).topleft
        assert app.window.get_at((oval_top[0], oval_top[1] + 3))[:3] == (255, 255, 255)
        # Frames keep coming while the countdown runs; the photo is the camera's picture.
        seen = camera.frames
        until(app, lambda: camera.frames > seen + 2)
        ticks.advance(3)
        until(app, lambda: app.state is State.REVIEW)
        assert app.flow.progress.photo is not None
        assert app.flow.progress.photo.size != (350, 450)
    finally:
        app.close()
        booth.close()


def test_a_camera_without_a_live_view_shows_the_guide_on_the_plain_frame(tmp_path):
    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks, countdown_seconds=3)
    app = make_app(booth)
    try:
        steps = journey("ephoto-permis")
        assert run_script(app, steps[: steps.index({"tap": "accept"}) + 1], close=False).ok
        for _ in range(10):
            runner(app).frame()
        assert app.state is State.CAPTURE and app.flow.progress.live_frame is None
        frame = app.rect(*app.current.frame())
        assert app.window.get_at((frame.left + 20, frame.centery))[:3] == (214, 222, 232)
    finally:
        app.close()
        booth.close()
