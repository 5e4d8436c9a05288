"""One calm message screen for every state that only has something to say and an OK button:
the issue that failed, a refused sale, the failsafe, and the coins given back (or owed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pygame

from ephoto.money import Money
from ephoto.vocabulary import sale_reference
from kiosk.sale import State
from kiosk.ui.screens.base import FOOTER_H, FOOTER_Y, Screen, ScreenHost
from kiosk.ui.widgets import PANEL, PRIMARY, WARNING, WARNING_LIGHT, Button


@dataclass(frozen=True)
class Message:
    title: str
    ok: str
    body: Callable[[MessageScreen], str]
    warning: bool = False


def _sale_ref(screen: MessageScreen) -> str:
    sale_id = screen.app.session.sale_id
    return sale_reference(screen.app.booth.settings.booth_id, sale_id or 0)


def _money_back(screen: MessageScreen) -> str:
    back = screen.app.flow.progress.money_back
    if back is None:  # nothing was in the coin box after all
        return screen.t("money_back.returned", amount=Money(0).format(screen.lang))
    key = "money_back.returned" if back.returned else "money_back.refund_due"
    return screen.t(key, amount=Money(back.cents).format(screen.lang), sale=_sale_ref(screen))


MESSAGES: dict[State, Message] = {
    State.ISSUE_FAILED: Message(
        "issue_failed.title",
        "issue_failed.ok",
        lambda s: s.t("issue_failed.body", sale=_sale_ref(s)),
        warning=True,
    ),
    State.REFUSED: Message(
        "refused.title", "common.ok", lambda s: s.t(s.app.session.refusal or "refused.printer")
    ),
    State.FAILSAFE: Message("failsafe.title", "failsafe.ok", lambda s: s.t("failsafe.body")),
    State.MONEY_BACK: Message(
        "money_back.title",
        "money_back.ok",
        _money_back,
        warning=False,
    ),
}


class MessageScreen(Screen):
    def __init__(self, app: ScreenHost, state: State):
        super().__init__(app)
        self.state = state  # type: ignore[misc]  # one class serves several states
        self.spec = MESSAGES[state]

    def title(self) -> str:
        return self.t(self.spec.title)

    def layout(self) -> list[Button]:
        return [
            self.button(
                "ok",
                *self.at((1360, FOOTER_Y, 500, FOOTER_H), self.footer("wide")),
                self.t(self.spec.ok),
                style="primary",
            )
        ]

    def paint(self, surface: pygame.Surface) -> None:
        box = self.r(*self.at((60, 220, 1800, 620), (40, 260, 1000, 1100)))
        if self.spec.warning:
            self.panel(surface, box, WARNING_LIGHT, WARNING)
        else:
            self.panel(surface, box, PANEL, PRIMARY)
        self.text(
            surface,
            self.spec.body(self),
            box.inflate(-self.app.s(120), -self.app.s(100)),
            max_size=60,
        )
