"""The operator's screens: the PIN pad (locked after repeated wrong PINs, across restarts) and
the menu (transmission, paper, printer, refunds due, today's sales)."""

from __future__ import annotations

from typing import Any

import pygame

from ephoto.money import Money
from kiosk.devices.voice import SpokenVoice
from kiosk.sale import State
from kiosk.ui.screens.base import Screen, ScreenHost, minutes_seconds
from kiosk.ui.widgets import DANGER, EPHOTO, INK, Button

VOICE_STEPS = (0.25, 0.5, 0.75, 1.0)
"""The voice volumes the operator menu steps through."""


class OperatorPinScreen(Screen):
    """The PIN pad; after too many wrong PINs the keypad is shown disabled with the time left
    until it opens again."""

    state = State.OPERATOR_PIN
    language_toggle = False
    KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")

    def title(self) -> str:
        return self.t("pin.title")

    def enter(self) -> None:
        self.entered = ""
        self.message = ""
        self.checking = False
        self.locked_until: float | None = None
        super().enter()
        # A lockout survives restarts and leaving the pad: ask the pad (off this thread).
        self.app.submit("pin_locked", self.app.booth.pinpad.locked_for)

    @property
    def locked(self) -> bool:
        return self.locked_until is not None

    def layout(self) -> list[Button]:
        buttons = []
        for i, key in enumerate(self.KEYS):
            row, col = divmod(i, 3)
            label = {"clear": self.t("pin.clear"), "ok": self.t("pin.ok")}.get(key, key)
            style = {"ok": "primary", "clear": "secondary"}.get(key, "key")
            buttons.append(
                self.button(
                    f"pin-{key}",
                    *self.at(
                        (660 + col * 210, 290 + row * 165, 190, 145),
                        (225 + col * 215, 380 + row * 190, 200, 170),
                    ),
                    label,
                    style=style,
                    label_size=self.app.s(56 if key.isdigit() else 32),
                    enabled=not self.locked,
                )
            )
        buttons.append(
            self.button("cancel", *self.footer("left"), self.t("pin.cancel"), style="ghost")
        )
        return buttons

    def update(self) -> None:
        if self.locked_until is None:
            return
        left = self.locked_until - self.app.monotonic()
        if left <= 0:
            self.locked_until = None
            self.message = ""
            self.refresh()
            self.app.mark_changed("unlocked")
        else:
            self.message = self.t("pin.locked_left", time=minutes_seconds(left))

    def draw_dynamic(self, target: pygame.Surface) -> None:
        dots = "●" * len(self.entered) or " "
        self.app.kit.draw(
            target,
            dots,
            self.r(*self.at((660, 170, 610, 100), (225, 240, 630, 110))),
            INK,
            self.app.s(60),
            12,
        )
        if self.message:
            self.app.kit.draw(
                target,
                self.message,
                self.r(*self.at((1300, 290, 580, 640), (40, 1170, 1000, 360))),
                DANGER,
                self.app.s(44),
                12,
                bold=True,
            )

    def on_button(self, bid: str) -> None:
        if bid == "cancel":
            self.app.fire("cancel")
            return
        if self.checking or self.locked:
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

    def lock(self, seconds: float) -> None:
        self.locked_until = self.app.monotonic() + seconds
        self.message = self.t("pin.locked_left", time=minutes_seconds(seconds))
        self.refresh()

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind == "pin_locked":
            if result > 0:
                self.lock(result)
                self.app.mark_changed("locked")
            return
        if kind != "pin":
            return
        self.checking = False
        if result.accepted:
            self.app.fire("pin_ok")
            return
        if result.locked_for > 0:
            self.lock(result.locked_for)
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

    def actions(self) -> list[tuple[str, str, str]]:
        """The menu's buttons: id, label and style."""
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
        return specs

    def layout(self) -> list[Button]:
        specs = self.actions()
        if self.compact and len(specs) > 5:
            # Two columns on the right, so that each label has room for two lines.
            rows = (len(specs) + 1) // 2
            step = (1060 - 170) / rows
            return [
                self.button(
                    bid,
                    1100 + (i % 2) * 390,
                    170 + (i // 2) * step,
                    370,
                    step - 24,
                    label,
                    style=style,
                    label_size=self.app.s(34),
                )
                for i, (bid, label, style) in enumerate(specs)
            ]
        if self.portrait:
            # Two columns under the figures.
            return [
                self.button(
                    bid,
                    40 + (i % 2) * 520,
                    1320 + (i // 2) * 150,
                    480,
                    130,
                    label,
                    style=style,
                    label_size=self.app.s(34),
                )
                for i, (bid, label, style) in enumerate(specs)
            ]
        step, height = (150, 125) if len(specs) <= 5 else (106, 94)
        if self.compact:
            step, height = 178, 154  # five labels of two lines
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
        narrow = self.compact and len(self.actions()) > 5
        x, y, width, _ = self.at((60, 170, 1000 if narrow else 1280, 0), (40, 200, 1000, 0))
        for text, bold in lines:
            # Two lines' room, three for a long line on a small screen.
            height = 90
            kit, least = self.app.kit, self.app.kit.min_px
            box = self.r(x, y, width, height)
            if kit.fit(text, box.width, box.height, least, least, bold).truncated:
                height = 135
            self.text(
                surface,
                text,
                self.r(x, y, width, height),
                max_size=32,
                min_size=14,
                bold=bold,
                align="left",
            )
            y += height + 2
        self.text(
            surface,
            t("operator.last_sales"),
            self.r(x, y + 10, width, 50),
            max_size=30,
            bold=True,
            align="left",
        )
        y += 64
        # As many of the last sales as fit above the bottom (a small screen's lines wrap).
        line_h = 90 if self.compact else 44
        bottom = 1300 if self.portrait else 1060
        for sale in snap.last_sales:
            if y + line_h > bottom:
                break
            line = t(
                "operator.sale_line",
                id=sale.display_id(),
                product=sale.product,
                status=sale.status,
                code=sale.code or "-",
            )
            self.text(
                surface, line, self.r(x, y, width, line_h), max_size=26, mono=True, align="left"
            )
            y += line_h + 2
        if self.notice:
            self.text(
                surface,
                self.notice,
                self.r(*self.at((60, 1000, 1280, 60), (40, 1240, 1000, 70))),
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
