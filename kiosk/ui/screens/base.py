"""What every screen shares: the base class, and the narrow part of the app a screen uses.

A screen draws its state and turns taps into calls on the sale flow or machine events; it
owns no sale data (the machine's session and the flow's progress hold it) and does no
blocking work. Layout is in design units of a 1920 x 1080 screen, scaled to the window;
buttons never shrink below the configured touch size. Static parts are drawn once per visit
into a cached surface.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol

import pygame
from PIL import Image

from ephoto.texts import Texts, texts
from kiosk.booth import Booth
from kiosk.catalog import Product
from kiosk.flow import SaleFlow
from kiosk.sale import SaleMachine, SaleSession, State
from kiosk.ui.widgets import BACKGROUND, PRIMARY, Button, TextKit

FOOTER_Y = 930
FOOTER_H = 120


class ScreenHost(Protocol):
    """The app as screens see it: geometry, text, the sale, and a way to run operator work."""

    booth: Booth
    flow: SaleFlow
    machine: SaleMachine
    kit: TextKit
    size: tuple[int, int]
    pressed: Button | None
    running: bool

    @property
    def session(self) -> SaleSession: ...

    def s(self, value: float) -> int: ...

    def rect(self, x: float, y: float, w: float, h: float) -> pygame.Rect: ...

    def button_rect(self, x: float, y: float, w: float, h: float) -> pygame.Rect: ...

    def monotonic(self) -> float: ...

    def fire(self, event: str) -> State: ...

    def mark_changed(self, what: str) -> None: ...

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any, bound: bool = True) -> None:
        """Run operator-menu work off the screen's thread; it comes back to ``on_work``."""
        ...

    def canvas(self, name: str) -> pygame.Surface:
        """A window-sized surface kept for reuse: ``live`` for the current screen's static
        layer, ``scratch`` for screens prepared ahead."""
        ...

    def surface_of(self, image: Image.Image) -> pygame.Surface:
        """``image`` as a surface, made once per picture."""
        ...


class Screen:
    state: ClassVar[State]
    header = True
    language_toggle = True

    def __init__(self, app: ScreenHost):
        self.app = app
        self.buttons: list[Button] = []
        self.static: pygame.Surface | None = None
        self.painted: list[str] = []  # every text of the static layer, for tests and scripts

    # -- helpers ------------------------------------------------------------------------------
    @property
    def t(self) -> Texts:
        return texts("kiosk", self.app.session.lang)

    @property
    def lang(self) -> str:
        return self.app.session.lang

    def r(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        return self.app.rect(x, y, w, h)

    def button(
        self, bid: str, x: float, y: float, w: float, h: float, label: str, **kw: Any
    ) -> Button:
        kw.setdefault("label_size", self.app.s(44))
        return Button(bid, self.app.button_rect(x, y, w, h), label, **kw)

    def text(self, surface: pygame.Surface, text: str, rect: pygame.Rect, **kw: Any) -> None:
        if "max_size" in kw:
            kw["max_size"] = max(8, self.app.s(kw["max_size"]))
        kw["min_size"] = max(8, self.app.s(kw.get("min_size", 18)))
        self.app.kit.draw(surface, text, rect, **kw)

    def title(self) -> str:
        return ""

    def visible_texts(self) -> list[str]:
        """Every text on the screen now: the static layer and the enabled buttons."""
        texts_on_buttons = [t for b in self.buttons for t in b.texts()]
        return [*self.painted, *texts_on_buttons]

    # -- life cycle ---------------------------------------------------------------------------
    def enter(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.buttons, self.static, self.painted = self.build(self.app.canvas("live"))

    def build(self, surface: pygame.Surface) -> tuple[list[Button], pygame.Surface, list[str]]:
        """This screen's buttons and static layer, drawn on ``surface``, and its texts."""
        buttons = self.layout()
        if self.header and self.language_toggle:
            buttons.append(
                self.button(
                    "language",
                    1600,
                    36,
                    280,
                    104,
                    self.t("common.language_switch"),
                    style="secondary",
                    label_size=self.app.s(36),
                )
            )
        surface.fill(BACKGROUND)
        painted: list[str] = []
        self.app.kit.record = painted
        try:
            if self.header:
                self.text(
                    surface,
                    self.title(),
                    self.r(80, 36, 1480 if self.language_toggle else 1760, 120),
                    max_size=64,
                    bold=True,
                    align="left",
                )
            self.paint(surface)
        finally:
            self.app.kit.record = None
        return buttons, surface, painted

    def prepare(self) -> Iterator[None]:
        """Do ahead, in small steps, what entering this screen would draw (fonts, fitted
        texts, button faces), on a scratch canvas; the screen itself is left unchanged."""
        buttons, _, _ = self.build(self.app.canvas("scratch"))
        yield
        for button in buttons:
            button.face(self.app.kit, False)
            yield

    def layout(self) -> list[Button]:
        return []

    def paint(self, surface: pygame.Surface) -> None:
        """Static content, drawn once per visit."""

    def draw(self, target: pygame.Surface) -> None:
        assert self.static is not None
        target.blit(self.static, (0, 0))
        self.draw_dynamic(target)
        kit = self.app.kit
        pressed = self.app.pressed.id if self.app.pressed is not None else None
        for button in self.buttons:
            target.blit(button.face(kit, button.id == pressed), button.rect)

    def draw_dynamic(self, target: pygame.Surface) -> None:
        pass

    def update(self) -> None:
        pass

    def on_button(self, bid: str) -> None:
        if bid == "language":
            self.app.session.lang = "en" if self.lang == "fr" else "fr"
            self.refresh()
            self.app.mark_changed("language")
        elif bid == "back":
            self.app.fire("back")
        elif bid == "cancel":
            self.app.fire("cancel")
        elif bid in ("finish", "ok"):
            self.app.fire("finish")

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error

    def on_pointer_down(self, pos: tuple[int, int]) -> None:
        pass

    def on_pointer_move(self, pos: tuple[int, int]) -> None:
        pass

    def on_pointer_up(self, pos: tuple[int, int]) -> None:
        pass

    def footer_back_cancel(self, back: bool = True) -> list[Button]:
        buttons = [
            self.button(
                "cancel", 1500, FOOTER_Y, 360, FOOTER_H, self.t("common.cancel"), style="ghost"
            )
        ]
        if back:
            buttons.append(
                self.button(
                    "back", 60, FOOTER_Y, 360, FOOTER_H, self.t("common.back"), style="secondary"
                )
            )
        return buttons

    def panel(
        self,
        surface: pygame.Surface,
        rect: pygame.Rect,
        fill: tuple[int, int, int],
        border: tuple[int, int, int] | None = None,
        width: int = 6,
    ) -> None:
        radius = self.app.s(28)
        pygame.draw.rect(surface, fill, rect, border_radius=radius)
        if border is not None:
            pygame.draw.rect(
                surface, border, rect, width=max(2, self.app.s(width)), border_radius=radius
            )

    def procedure_name(self, product: Product) -> str:
        return self.t(f"product.procedure_{product.procedure}")


class Spinner:
    def draw(self, screen: Screen, target: pygame.Surface, centre: tuple[float, float]) -> None:
        angle = (screen.app.monotonic() * 4) % (2 * math.pi)
        rect = screen.r(centre[0] - 70, centre[1] - 70, 140, 140)
        pygame.draw.arc(target, PRIMARY, rect, angle, angle + 4.2, max(4, screen.app.s(14)))
