"""The sale flow without a screen: the same work the touchscreen starts, driven directly."""

from __future__ import annotations

from pathlib import Path

from kiosk.flow import InlineExecutor, SaleFlow, drawn_signature
from kiosk.ledger import OPEN, PRINTED
from kiosk.sale import State
from tests.kiosk_harness import counts, make_booth, qr_texts


def test_the_flow_sells_an_ephoto_without_a_screen_opening_the_sale_at_capture(tmp_path: Path):
    booth = make_booth(tmp_path / "data")
    try:
        machine = booth.machine()
        flow = SaleFlow(booth, machine, InlineExecutor())
        machine.fire("start")
        machine.choose_language("fr")
        machine.choose_category("ephoto")
        machine.choose_product("ephoto-permis")
        assert machine.session.sale_id is None, "nothing is recorded while the customer browses"
        machine.fire("accept")
        sale_id = machine.session.sale_id
        assert sale_id is not None and booth.ledger.sale(sale_id).status == OPEN
        flow.settle()
        assert machine.state is State.REVIEW and flow.progress.photo_ok
        flow.keep_photo()
        flow.settle()
        assert machine.state is State.SIGNATURE
        assert booth.ledger.sale(sale_id).photo_path is not None
        flow.sign(*drawn_signature())
        flow.settle()
        assert (booth.paths.photos / f"sale-{sale_id:06d}-signature.png").exists()
        flow.pay_card()
        flow.settle()
        assert machine.state is State.DONE, flow.errors
        sale = booth.ledger.sale(sale_id)
        assert sale.status == PRINTED and sale.code is not None
        assert counts(booth).prints == 1
        assert flow.progress.sheet is not None
        assert qr_texts(flow.progress.sheet.png) == [sale.code]
    finally:
        booth.close()


def test_a_late_result_for_a_screen_the_customer_left_is_dropped(tmp_path: Path):
    from concurrent.futures import Future

    class Held(InlineExecutor):
        """Keeps jobs until released, as a slow worker thread would."""

        def __init__(self) -> None:
            self.jobs: list[tuple[Future, object, tuple]] = []

        def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
            future: Future = Future()
            self.jobs.append((future, fn, args))
            return future

    booth = make_booth(tmp_path / "data")
    held = Held()
    try:
        machine = booth.machine()
        flow = SaleFlow(booth, machine, held)
        for event in ("start",):
            machine.fire(event)
        machine.choose_language("fr")
        machine.choose_category("photos")
        machine.choose_product("portrait")
        machine.fire("accept")
        flow.tick()  # the countdown is over: the photo is taken (held)
        photo = [job for job in held.jobs if job[1] == flow._shoot]
        assert photo, "the capture starts once the countdown ends"
        machine.fire("error")  # the customer's screen is gone before the picture comes back
        future, fn, args = photo[0]
        future.set_result(fn(*args))
        flow.pump()
        assert machine.state is State.FAILSAFE and machine.session.photos_taken == 0
    finally:
        booth.close()


def test_the_flow_speaks_the_key_steps_through_the_voice(tmp_path: Path):
    booth = make_booth(tmp_path / "data", countdown_seconds=0)
    said: list[tuple[str, str]] = []

    class Recorder:
        def say(self, prompt_key: str, lang: str) -> None:
            said.append((prompt_key, lang))

    booth.voice = Recorder()
    try:
        machine = booth.machine()
        flow = SaleFlow(booth, machine, InlineExecutor())
        machine.fire("start")
        machine.choose_language("en")
        machine.choose_category("ephoto")
        machine.choose_product("ephoto-permis")
        machine.fire("accept")
        flow.settle()
        flow.keep_photo()
        flow.settle()
        flow.sign(*drawn_signature())
        flow.settle()
        flow.pay_card()
        flow.settle()
        assert machine.state is State.DONE
        assert [key for key, _ in said] == [
            "welcome",
            "look_at_lens",
            "number_printed",
            "take_sheet",
        ]
        assert said[-1][1] == "en"
    finally:
        booth.close()
