"""The screens around a sale: attract (any tap starts), language, and maintenance."""

from __future__ import annotations

import pygame

from ephoto.texts import texts
from kiosk.sale import State
from kiosk.ui.screens.base import Screen
from kiosk.ui.widgets import EPHOTO, EPHOTO_LIGHT, INK, MUTED, WHITE, Button


class AttractScreen(Screen):
    state = State.ATTRACT
    header = False

    def enter(self) -> None:
        self.touched = False
        super().enter()
        if self.app.booth.needs_maintenance():
            self.app.fire("maintenance_needed")

    def layout(self) -> list[Button]:
        fr, en = texts("kiosk", "fr"), texts("kiosk", "en")
        return [
            self.button(
                "start",
                *self.at((360, 700, 1200, 240), (90, 1420, 900, 320)),
                fr("attract.start"),
                detail=en("attract.start"),
                style="primary",
                label_size=self.app.s(60),
            )
        ]

    def paint(self, surface: pygame.Surface) -> None:
        fr, en = texts("kiosk", "fr"), texts("kiosk", "en")
        self.text(
            surface,
            fr("attract.title"),
            self.r(*self.at((120, 90, 1680, 150), (60, 160, 960, 300))),
            max_size=110,
            bold=True,
        )
        self.text(
            surface,
            en("attract.title"),
            self.r(*self.at((120, 240, 1680, 80), (60, 470, 960, 100))),
            max_size=56,
            colour=MUTED,
        )
        band = self.r(*self.at((120, 360, 1680, 290), (60, 640, 960, 660)))
        self.panel(surface, band, EPHOTO_LIGHT, EPHOTO)
        badge = self.r(*self.at((170, 400, 300, 90), (390, 680, 300, 90)))
        pygame.draw.rect(surface, EPHOTO, badge, border_radius=badge.height // 2)
        self.text(surface, "ePhoto", badge.inflate(-30, -16), max_size=56, bold=True, colour=WHITE)
        self.text(
            surface,
            fr("attract.subtitle"),
            self.r(*self.at((510, 385, 1250, 140), (100, 800, 880, 260))),
            max_size=40,
            colour=INK,
            align="left",
        )
        self.text(
            surface,
            en("attract.subtitle"),
            self.r(*self.at((510, 525, 1250, 110), (100, 1070, 880, 200))),
            max_size=32,
            colour=MUTED,
            align="left",
        )

    def on_button(self, bid: str) -> None:
        if bid == "start":
            self.app.fire("start")

    def on_pointer_down(self, pos: tuple[int, int]) -> None:
        self.touched = True

    def on_pointer_up(self, pos: tuple[int, int]) -> None:
        # The screen says "touch the screen": a tap anywhere starts, not only on the button.
        # The operator's corner never reaches here (the app keeps it for the held gesture),
        # nor does a finger that came down on another screen.
        if self.touched:
            self.touched = False
            self.app.fire("start")


class LanguageScreen(Screen):
    state = State.LANGUAGE
    language_toggle = False

    def title(self) -> str:
        return (
            f"{texts('kiosk', 'fr')('language.title')} · {texts('kiosk', 'en')('language.title')}"
        )

    def layout(self) -> list[Button]:
        return [
            self.button(
                "lang-fr",
                *self.at((240, 330, 660, 360), (140, 420, 800, 420)),
                "Français",
                style="primary",
                label_size=self.app.s(80),
            ),
            self.button(
                "lang-en",
                *self.at((1020, 330, 660, 360), (140, 960, 800, 420)),
                "English",
                style="primary",
                label_size=self.app.s(80),
            ),
            *self.footer_back_cancel(back=False),
        ]

    def on_button(self, bid: str) -> None:
        if bid.startswith("lang-"):
            self.app.machine.choose_language(bid.removeprefix("lang-"))
        else:
            super().on_button(bid)


class MaintenanceScreen(Screen):
    state = State.MAINTENANCE
    header = False

    def paint(self, surface: pygame.Surface) -> None:
        problem = self.app.booth.device_problem
        for lang, top in (
            (("fr", 200), ("en", 620)) if not self.portrait else (("fr", 400), ("en", 1100))
        ):
            t = texts("kiosk", lang)
            device_reason = f"maintenance.{problem.key.removeprefix('refused.')}" if problem else ""
            if device_reason in t.keys():
                reason = device_reason
            elif self.app.booth.printer_ready() == "refused.paper":
                reason = "maintenance.paper"
            else:
                reason = "maintenance.body"
            title = self.at((120, top, 1680, 130), (60, top, 960, 200))
            body = self.at((120, top + 140, 1680, 200), (60, top + 210, 960, 260))
            self.text(surface, t("maintenance.title"), self.r(*title), max_size=90, bold=True)
            self.text(surface, t(reason), self.r(*body), max_size=48, colour=MUTED)
