"""Every screen of the booth, visited the way customers and operators reach them, with what each
one drew: its screenshot and every text's box and lines, for the layout tests.

A tour runs one booth in one window size; at each stop it saves a screenshot and collects the
placement of the static layer, the moving parts (``draw_dynamic``) and each button's texts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygame
from sqlalchemy import event

from kiosk.sale import State
from kiosk.ui.app import KioskApp
from kiosk.ui.screens.base import Spinner
from kiosk.ui.script import ScriptRunner, run_script
from kiosk.ui.widgets import Button, PlacedText
from tests.kiosk_harness import FakeMonotonic, journey, make_app, make_booth

LAYOUTS = {"landscape": (1920, 1080), "portrait": (1080, 1920), "small": (1024, 600)}


@dataclass
class Stop:
    """One screen as the tour saw it."""

    name: str
    state: State
    screenshot: Path
    texts: list[PlacedText]
    """The static layer's and the moving parts' texts, in window coordinates."""
    buttons: list[Button]
    button_texts: dict[str, list[PlacedText]]
    """Each button's texts, moved to window coordinates."""
    spinners: int
    """Progress indicators (spinners) drawn."""


def placed(
    app: KioskApp,
) -> tuple[list[PlacedText], list[Button], dict[str, list[PlacedText]], int]:
    """Draw the current screen again with the kit recording every text, counting spinners."""
    kit = app.kit
    screen = app.current
    found: list[PlacedText] = []
    spun = []
    drawn = Spinner.draw

    def counted(spinner: Spinner, *args: Any) -> None:
        spun.append(args)
        drawn(spinner, *args)

    kit.placed = found
    Spinner.draw = counted  # type: ignore[method-assign]
    try:
        scratch = app.canvas("scratch")
        buttons, _, _ = screen.build(scratch)
        if screen.asking:
            screen.draw_prompt(scratch)
        else:
            screen.draw_dynamic(scratch)
    finally:
        kit.placed = None
        Spinner.draw = drawn  # type: ignore[method-assign]
    on_buttons: dict[str, list[PlacedText]] = {}
    for button in buttons:
        inside: list[PlacedText] = []
        kit.placed = inside
        try:
            button.render(kit, False)
        finally:
            kit.placed = None
        dx, dy = button.rect.topleft
        on_buttons[button.id] = [
            PlacedText(p.text, p.box.move(dx, dy), p.fitted, tuple(r.move(dx, dy) for r in p.lines))
            for p in inside
        ]
    return found, buttons, on_buttons, len(spun)


class Tour:
    def __init__(self, data: Path, size: tuple[int, int], shots: Path, lang: str = "fr"):
        self.lang = lang
        self.ticks = FakeMonotonic()
        self.booth = make_booth(
            data,
            monotonic=self.ticks,
            # Slow enough for the tour to see the card being charged and the sheet printing.
            payment_seconds=1.5,
            print_seconds=1.0,
            pin_lockout_seconds=300,
        )
        self.app = make_app(self.booth, size=size)
        self.run = ScriptRunner(self.app)
        self.shots = shots
        self.stops: list[Stop] = []

    def close(self) -> None:
        self.app.close()
        self.booth.close()

    def steps(self, steps: list[dict]) -> None:
        # The customer's language: the journeys choose French, this tour's customer ``lang``.
        steps = [{"tap": f"lang-{self.lang}"} if s == {"tap": "lang-fr"} else s for s in steps]
        report = run_script(self.app, steps, close=False)
        assert report.ok, report.error

    def until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < end, "the booth never got there"
            self.run.frame()

    def stop(self, name: str) -> Stop:
        self.run.frame()
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{len(self.stops) + 1:02d}-{name}.png"
        pygame.image.save(self.app.window, str(path))
        texts, buttons, button_texts, spinners = placed(self.app)
        found = Stop(name, self.app.state, path, texts, buttons, button_texts, spinners)
        self.stops.append(found)
        return found

    def hold_corner(self) -> None:
        corner = self.app.operator_corner().center
        self.run._post("down", corner, False)
        self.run.frame()
        self.ticks.advance(self.booth.settings.operator_hold_seconds + 0.1)
        self.run.frame()
        self.run._post("up", corner, False)
        self.run.frame()

    def pin(self, digits: str) -> None:
        self.run.pin(digits)
        self.until(lambda: not getattr(self.app.current, "checking", False))


def tour(data: Path, size: tuple[int, int], shots: Path, lang: str = "fr") -> list[Stop]:
    """Visit every screen in ``size`` with a customer who reads ``lang``; screenshots go to
    ``shots``."""
    t = Tour(data, size, shots, lang)
    try:
        t.stop("attract")
        t.steps([{"tap": "start"}])
        t.stop("language")
        t.steps([{"tap": "lang-fr"}])
        t.stop("category")
        for category in ("ephoto", "identity", "photos"):
            t.steps([{"tap": f"category-{category}"}])
            t.stop(f"product-{category}")
            t.steps([{"tap": "back"}])
        for product, kind in (("id-card-adult", "warning"), ("portrait", "plain")):
            category = "identity" if kind == "warning" else "photos"
            t.steps([{"tap": f"category-{category}"}, {"tap": f"product-{product}"}])
            t.stop(f"confirm-{kind}")
            t.steps([{"tap": "back"}, {"tap": "back"}])
        t.steps([{"tap": "category-ephoto"}, {"tap": "product-ephoto-permis"}])
        t.stop("confirm-ephoto")
        t.steps([{"tap": "accept"}])
        t.stop("capture")
        t.steps([{"wait_for": "review", "timeout": 20}])
        t.until(lambda: t.app.flow.progress.failures is not None)
        t.stop("review")
        t.steps([{"tap": "keep"}, {"wait_for": "signature"}])
        t.stop("signature")
        t.steps([{"sign": True}])
        t.stop("signature-signed")
        t.steps([{"tap": "signed"}, {"wait_for": "payment"}])
        t.stop("payment")
        t.steps([{"tap": "card-declined"}])
        t.stop("payment-processing")
        t.until(lambda: t.app.session.declined == 1 and not t.app.current.processing)  # type: ignore[attr-defined]
        t.stop("payment-declined")
        left = t.app.machine.seconds_left()
        assert left is not None
        prompt = t.app.machine.timeouts.prompt_for(State.PAYMENT)
        assert prompt is not None
        t.ticks.advance(left - prompt + 1)
        t.stop("payment-still-there")
        t.steps([{"tap": "still-here"}])
        t.steps([{"tap": "coin-200"}])
        t.stop("payment-coins")
        t.steps([{"tap": "coin-200"}, {"tap": "coin-200"}, {"tap": "coin-200"}])
        t.steps([{"wait_for": "issuing", "timeout": 20}])
        t.stop("issuing")
        t.steps([{"wait_for": "printing", "timeout": 20}])
        t.stop("printing")
        t.steps([{"wait_for": "done", "timeout": 20}])
        t.stop("done-ephoto")
        t.steps([{"tap": "finish"}, {"wait_for": "attract"}])
        for product in ("id-card-adult", "fun"):
            t.steps(journey(product, finish=False))
            t.stop(f"done-{product}")
            t.steps([{"tap": "finish"}, {"wait_for": "attract"}])
        # A coin in, then cancel: the coins are given back.
        steps = journey("visa", finish=False)
        steps = steps[: steps.index({"tap": "card"})] + [{"tap": "coin-50"}, {"tap": "cancel"}]
        t.steps([*steps, {"wait_for": "money_back"}])
        t.stop("money_back")
        t.steps([{"tap": "ok"}, {"wait_for": "attract"}])
        # The number cannot be recorded (disk full): no number, a refund.
        engine = t.booth.ledger.engine

        def full(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
                raise sqlite3.OperationalError("database or disk is full")

        event.listen(engine, "before_cursor_execute", full)
        steps = journey("ephoto-titre-sejour", finish=False)
        steps[-1] = {"wait_for": "issue_failed", "timeout": 20}
        t.steps(steps)
        event.remove(engine, "before_cursor_execute", full)
        t.stop("issue_failed")
        t.steps([{"tap": "ok"}, {"wait_for": "attract"}])
        # The paper runs out between choosing and paying.
        t.steps(journey("portrait")[:6])
        paper = t.booth.ledger.paper_left()
        t.booth.ledger.set_paper_left(0)
        t.steps([{"tap": "keep"}, {"wait_for": "refused"}])
        t.stop("refused")
        t.steps([{"tap": "ok"}, {"wait_for": "maintenance"}])
        t.stop("maintenance")
        t.booth.ledger.set_paper_left(paper)
        t.hold_corner()
        t.steps([{"wait_for": "operator_pin"}])
        t.stop("operator_pin")
        for _ in range(t.booth.pinpad.max_tries):
            t.pin("9999")
        t.stop("operator_pin-locked")
        # The pad gives up after a while; the lockout outlives it (and a restart).
        t.ticks.advance(301)
        t.steps([{"wait_for": "attract"}])
        t.hold_corner()
        t.steps([{"wait_for": "operator_pin"}])
        t.until(lambda: all(b.enabled for b in t.app.current.buttons))
        t.pin("1234")
        t.steps([{"wait_for": "operator"}])
        t.until(lambda: t.app.current.snapshot is not None)  # type: ignore[attr-defined]
        t.stop("operator")
        t.steps([{"tap": "exit"}, {"wait_for": "attract"}])
        t.app.fail(RuntimeError("a fault shown to the customer as the failsafe screen"))
        t.stop("failsafe")
        return t.stops
    finally:
        t.close()
