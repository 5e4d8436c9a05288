"""The operator's screens: the PIN pad (locked after repeated wrong PINs, across restarts) and
the menu (transmission, paper, printer, refunds due, today's sales)."""

from __future__ import annotations

import math
from typing import Any

import pygame

from ephoto.money import Money
from kiosk.devices.voice import SpokenVoice
from kiosk.sale import State
from kiosk.ui.screens.base import FOOTER_H, FOOTER_Y, Screen, ScreenHost
from kiosk.ui.widgets import DANGER, EPHOTO, INK, Button

VOICE_STEPS = (0.25, 0.5, 0.75, 1.0)
"""The voice volumes the operator menu steps through."""


class OperatorPinScreen(Screen):
    state = State.OPERATOR_PIN
    language_toggle = False
    KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")

    def title(self) -> str:
        return self.t("pin.title")

    def enter(self) -> None:
        self.entered = ""
        self.message = ""
        self.checking = False
        super().enter()

    def layout(self) -> list[Button]:
        buttons = []
        for i, key in enumerate(self.KEYS):
            row, col = divmod(i, 3)
            label = {"clear": self.t("pin.clear"), "ok": self.t("pin.ok")}.get(key, key)
            style = {"ok": "primary", "clear": "secondary"}.get(key, "key")
            buttons.append(
                self.button(
                    f"pin-{key}",
                    660 + col * 210,
                    290 + row * 165,
                    190,
                    145,
                    label,
                    style=style,
                    label_size=self.app.s(56 if key.isdigit() else 32),
                )
            )
        buttons.append(
            self.button("cancel", 60, FOOTER_Y, 360, FOOTER_H, self.t("pin.cancel"), style="ghost")
        )
        return buttons

    def draw_dynamic(self, target: pygame.Surface) -> None:
        dots = "●" * len(self.entered) or " "
        self.app.kit.draw(target, dots, self.r(660, 170, 610, 100), INK, self.app.s(60), 12)
        if self.message:
            self.app.kit.draw(
                target,
                self.message,
                self.r(1300, 300, 580, 300),
                DANGER,
                self.app.s(40),
                12,
                bold=True,
            )

    def on_button(self, bid: str) -> None:
        if bid == "cancel":
            self.app.fire("cancel")
            return
        if self.checking:
            return
        key = bid.removeprefix("pin-")
        if key == "clear":
            self.entered = ""
        elif key == "ok":
            self.checking = True
            self.app.submit("pin", self.app.booth.pinpad.submit, self.entered)
            self.entered = ""
        elif len(self.entered) < 12:
            self.entered += key

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind != "pin":
            return
        self.checking = False
        if result.accepted:
            self.app.fire("pin_ok")
            return
        if result.locked_for > 0:
            self.message = self.t("pin.locked", seconds=math.ceil(result.locked_for))
        else:
            self.message = self.t("pin.wrong", left=result.tries_left)
        self.app.mark_changed("wrong" if result.locked_for == 0 else "locked")


class OperatorScreen(Screen):
    state = State.OPERATOR
    language_toggle = False
    POLL_SECONDS = 2.0

    def title(self) -> str:
        return self.t("operator.title")

    def enter(self) -> None:
        self.snapshot = None
        self.notice = ""
        self.polled = -1e9
        super().enter()

    def update(self) -> None:
        if self.app.monotonic() - self.polled >= self.POLL_SECONDS:
            self.polled = self.app.monotonic()
            self.app.submit("snapshot", self.app.booth.snapshot)

    def layout(self) -> list[Button]:
        t = self.t
        maintenance = self.app.booth.maintenance_requested
        specs = [
            ("reprint", t("operator.reprint"), "secondary"),
            ("refill", t("operator.refill"), "secondary"),
            (
                "maintenance",
                t("operator.maintenance_off" if maintenance else "operator.maintenance_on"),
                "warning",
            ),
            ("exit", t("operator.exit"), "primary"),
            ("quit", t("operator.quit"), "danger"),
        ]
        voice = self.app.booth.voice
        if isinstance(voice, SpokenVoice):
            specs[3:3] = [
                (
                    "voice_mute",
                    t("operator.voice_unmute" if voice.muted else "operator.voice_mute"),
                    "secondary",
                ),
                (
                    "voice_volume",
                    t("operator.voice_volume", volume=round(voice.volume * 100)),
                    "secondary",
                ),
            ]
        step, height = (150, 125) if len(specs) <= 5 else (106, 94)
        return [
            self.button(
                bid,
                1380,
                180 + i * step,
                480,
                height,
                label,
                style=style,
                label_size=self.app.s(34),
            )
            for i, (bid, label, style) in enumerate(specs)
        ]

    def paint(self, surface: pygame.Surface) -> None:
        snap = self.snapshot
        if snap is None:
            return
        t = self.t
        age = snap.outbox.oldest_pending_age
        counts = snap.outbox.counts
        lines = [
            (
                t(
                    "operator.transmitter",
                    pending=counts.get("pending", 0),
                    sent=counts.get("sent", 0),
                    rejected=counts.get("rejected", 0),
                    dead=snap.outbox.dead_letter,
                ),
                True,
            ),
            (
                t("operator.oldest", age=_age(age))
                if age is not None
                else t("operator.oldest_none"),
                False,
            ),
        ]
        if snap.outbox.last_error:
            lines.append((t("operator.last_error", error=snap.outbox.last_error[:120]), False))
        lines.append(
            (
                t(
                    "operator.paper",
                    left=snap.paper_left,
                    capacity=snap.paper_capacity,
                    printed=snap.sheets_printed,
                ),
                True,
            )
        )
        day = snap.today
        lines.append(
            (
                t(
                    "operator.today",
                    day=day.day,
                    paid=day.paid,
                    ephoto=day.ephoto,
                    takings=Money(day.takings_cents).format(self.lang),
                    cancelled=day.cancelled,
                    declined=day.declined,
                    refund=day.refund_due,
                ),
                False,
            )
        )
        if snap.recovered:
            lines.append(
                (
                    t(
                        "operator.recovered",
                        sales=", ".join(s.display_id() for s in snap.recovered),
                    ),
                    True,
                )
            )
        if snap.refunds_due:
            owed = ", ".join(
                f"{r.sale_ref} ({Money(r.cents).format(self.lang)})" for r in snap.refunds_due
            )
            lines.append((t("operator.refunds_due", sales=owed), True))
        lines.append((t("operator.printer", printer=snap.printer), False))
        y = 170
        for text, bold in lines:
            self.text(
                surface,
                text,
                self.r(60, y, 1280, 90),
                max_size=32,
                min_size=14,
                bold=bold,
                align="left",
            )
            y += 92
        self.text(
            surface,
            t("operator.last_sales"),
            self.r(60, y + 10, 1280, 50),
            max_size=30,
            bold=True,
            align="left",
        )
        y += 64
        for sale in snap.last_sales:
            line = t(
                "operator.sale_line",
                id=sale.display_id(),
                product=sale.product,
                status=sale.status,
                code=sale.code or "-",
            )
            self.text(surface, line, self.r(60, y, 1280, 44), max_size=26, mono=True, align="left")
            y += 46
        if self.notice:
            self.text(
                surface,
                self.notice,
                self.r(60, 1000, 1280, 60),
                max_size=32,
                bold=True,
                colour=EPHOTO,
                align="left",
            )

    def on_button(self, bid: str) -> None:
        booth = self.app.booth
        if bid == "reprint":
            self.app.submit("reprinted", booth.reprint_last)
        elif bid == "refill":
            self.app.submit("refilled", booth.refill_paper)
        elif bid == "maintenance":
            booth.maintenance_requested = not booth.maintenance_requested
            if booth.maintenance_requested:
                self.app.fire("maintenance_on")
            else:
                self.refresh()
        elif bid == "voice_mute" and isinstance(booth.voice, SpokenVoice):
            booth.voice.muted = not booth.voice.muted
            booth.save_voice_choice(booth.voice.volume, booth.voice.muted)
            self.refresh()
        elif bid == "voice_volume" and isinstance(booth.voice, SpokenVoice):
            # Each tap a quarter louder, from the loudest back to the quietest.
            steps = VOICE_STEPS
            louder = [v for v in steps if v > booth.voice.volume + 1e-6]
            booth.voice.volume = louder[0] if louder else steps[0]
            booth.save_voice_choice(booth.voice.volume, booth.voice.muted)
            booth.voice.say("welcome", self.lang)
            self.refresh()
        elif bid == "exit":
            self.app.fire("exit")
        elif bid == "quit":
            self.app.running = False

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind == "snapshot":
            self.snapshot = result
        elif kind == "reprinted":
            self.notice = self.t("operator.done_reprint") if result else ""
            self.polled = -1e9
        elif kind == "refilled":
            self.notice = self.t("operator.done_refill", left=booth_paper(self.app))
            self.polled = -1e9
        self.refresh()
        self.app.mark_changed(kind)


def booth_paper(app: ScreenHost) -> int:
    return app.booth.ledger.paper_left()


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"
