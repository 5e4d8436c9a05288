"""What every screen shares: the base class, and the narrow part of the app a screen uses.

A screen draws its state and turns taps into calls on the sale flow or machine events; it
owns no sale data (the machine's session and the flow's progress hold it) and does no
blocking work. Layout is in design units of a 1920 x 1080 screen, or of a 1080 x 1920 one on
a screen taller than wide (``portrait``), scaled to the window; buttons never shrink below the
configured touch size, and no text below the app's minimum size. Static parts are drawn once
per visit into a cached surface.
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
from kiosk.ui.widgets import BACKGROUND, INK, PANEL, PRIMARY, Button, TextKit

FOOTER_Y = 930
FOOTER_H = 120

Box = tuple[float, float, float, float]
"""A rectangle in design units: x, y, width, height."""

# The footer's places, landscape then portrait: the back button's (left), a second one's
# (middle), the main action's (wide, right), and a lone right button's.
FOOTER: dict[str, tuple[Box, Box]] = {
    "left": ((60, FOOTER_Y, 360, FOOTER_H), (40, 1760, 320, 130)),
    "middle": ((460, FOOTER_Y, 360, FOOTER_H), (380, 1760, 320, 130)),
    "wide": ((1160, FOOTER_Y, 700, FOOTER_H), (40, 1580, 1000, 150)),
    "right": ((1500, FOOTER_Y, 360, FOOTER_H), (720, 1760, 320, 130)),
}


class ScreenHost(Protocol):
    """The app as screens see it: geometry, text, the sale, and a way to run operator work."""

    booth: Booth
    flow: SaleFlow
    machine: SaleMachine
    kit: TextKit
    size: tuple[int, int]
    pressed: Button | None
    running: bool
    portrait: bool
    compact: bool

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
        self.asking = False
        """The "still there?" prompt is up (the app sets it from the sale machine)."""

    # -- helpers ------------------------------------------------------------------------------
    @property
    def t(self) -> Texts:
        return texts("kiosk", self.app.session.lang)

    @property
    def lang(self) -> str:
        return self.app.session.lang

    def r(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        return self.app.rect(x, y, w, h)

    @property
    def portrait(self) -> bool:
        return self.app.portrait

    @property
    def compact(self) -> bool:
        """A small landscape screen: fewer texts side by side, so none falls under 18 px."""
        return self.app.compact

    def at(self, landscape: Box, portrait: Box) -> Box:
        """The design box for this screen's orientation."""
        return portrait if self.app.portrait else landscape

    def footer(self, place: str) -> Box:
        """A footer button's box: ``left``, ``middle``, ``wide`` or ``right`` (see FOOTER)."""
        return self.at(*FOOTER[place])

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
        """This screen's buttons and static layer, drawn on ``surface``, and its texts; under
        the "still there?" prompt, the screen dimmed behind it and the prompt's button only."""
        if self.asking:
            return self.build_prompt(surface)
        buttons = self.layout()
        if self.header and self.language_toggle:
            buttons.append(
                self.button(
                    "language",
                    *self.at((1600, 36, 280, 104), (800, 40, 240, 110)),
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
                width = 1480 if self.language_toggle else 1760
                self.text(
                    surface,
                    self.title(),
                    self.r(
                        *self.at(
                            (80, 36, width, 120),
                            (40, 40, 740 if self.language_toggle else 1000, 150),
                        )
                    ),
                    max_size=64,
                    bold=True,
                    align="left",
                )
            self.paint(surface)
        finally:
            self.app.kit.record = None
        return buttons, surface, painted

    def build_prompt(
        self, surface: pygame.Surface
    ) -> tuple[list[Button], pygame.Surface, list[str]]:
        kit = self.app.kit
        placed, kit.placed = kit.placed, None  # the screen behind is covered, not shown
        self.asking = False
        try:
            behind, _, _ = self.build(surface)
            for button in behind:
                surface.blit(button.face(kit, False), button.rect)
        finally:
            self.asking = True
            kit.placed = placed
        veil = pygame.Surface(surface.get_size(), pygame.SRCALPHA)
        veil.fill((0, 0, 0, 150))
        surface.blit(veil, (0, 0))
        box = self.r(*self.prompt_box())
        self.panel(surface, box, PANEL, PRIMARY)
        painted: list[str] = []
        kit.record = painted
        try:
            x, y, w, h = self.prompt_box()
            self.text(
                surface,
                self.t("common.still_there"),
                self.r(x + 40, y + 30, w - 80, h * 0.3),
                max_size=72,
                bold=True,
            )
        finally:
            kit.record = None
        x, y, w, h = self.prompt_box()
        still_here = self.button(
            "still-here",
            x + w * 0.15,
            y + h * 0.62,
            w * 0.7,
            h * 0.3,
            self.t("common.still_here"),
            style="primary",
            label_size=self.app.s(52),
        )
        return [still_here], surface, painted

    def prompt_box(self) -> Box:
        return self.at((360, 200, 1200, 680), (60, 480, 960, 900))

    def draw_prompt(self, target: pygame.Surface) -> None:
        """The seconds left, counted down under the prompt's question."""
        left = self.app.machine.seconds_left() or 0.0
        x, y, w, h = self.prompt_box()
        self.app.kit.draw(
            target,
            self.t("common.still_there_left", seconds=math.ceil(left)),
            self.r(x + 40, y + h * 0.34, w - 80, h * 0.25),
            INK,
            self.app.s(48),
            self.app.s(18),
        )

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
        if self.asking:
            self.draw_prompt(target)
        else:
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
        elif bid == "still-here":
            pass  # the touch itself started the wait again; the prompt goes at the next frame

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
            self.button("cancel", *self.footer("right"), self.t("common.cancel"), style="ghost")
        ]
        if back:
            buttons.append(
                self.button("back", *self.footer("left"), self.t("common.back"), style="secondary")
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


def minutes_seconds(seconds: float) -> str:
    """Time left as people read it on a screen: ``1 min 05 s``, or ``45 s`` under a minute
    (rounded up to the second)."""
    whole = math.ceil(seconds)
    minutes, rest = divmod(max(0, whole), 60)
    # No-break spaces: the time is never split over two lines.
    return f"{minutes}\u00a0min\u00a0{rest:02d}\u00a0s" if minutes else f"{rest}\u00a0s"


class Spinner:
    def draw(self, screen: Screen, target: pygame.Surface, centre: tuple[float, float]) -> None:
        angle = (screen.app.monotonic() * 4) % (2 * math.pi)
        rect = screen.r(centre[0] - 70, centre[1] - 70, 140, 140)
        pygame.draw.arc(target, PRIMARY, rect, angle, angle + 4.2, max(4, screen.app.s(14)))
