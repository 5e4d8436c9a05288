"""Drawing pieces for the touchscreen: colours, fonts with the shared text fitting, buttons.

Text goes through :func:`kiosk.textfit.fit_text` with a pygame measure, so a longer English or
French sentence shrinks and wraps inside its box instead of overflowing. Rendered text and
button faces are cached: a frame only blits surfaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from ephoto.assets import asset
from kiosk.textfit import FittedText, Measure, fit_text

Colour = tuple[int, int, int]

BACKGROUND: Colour = (246, 244, 239)
INK: Colour = (24, 30, 42)
MUTED: Colour = (92, 98, 110)
WHITE: Colour = (255, 255, 255)
PRIMARY: Colour = (24, 78, 168)
EPHOTO: Colour = (0, 118, 72)
EPHOTO_LIGHT: Colour = (222, 243, 231)
WARNING: Colour = (196, 84, 0)
WARNING_LIGHT: Colour = (255, 236, 214)
DANGER: Colour = (176, 32, 40)
NEUTRAL: Colour = (226, 229, 235)
DISABLED: Colour = (200, 202, 207)
PANEL: Colour = (255, 255, 255)

STYLES: dict[str, tuple[Colour, Colour]] = {
    # style: (fill, text)
    "primary": (PRIMARY, WHITE),
    "secondary": (NEUTRAL, INK),
    "ephoto": (EPHOTO, WHITE),
    "warning": (WARNING, WHITE),
    "danger": (DANGER, WHITE),
    "key": (PANEL, INK),
    "ghost": (BACKGROUND, MUTED),
}

FONT_FILES = {
    (False, False): "DejaVuSans.ttf",
    (True, False): "DejaVuSans-Bold.ttf",
    (False, True): "DejaVuSansMono.ttf",
    (True, True): "DejaVuSansMono-Bold.ttf",
}


MEASURE_SIZE = 100


def darker(colour: Colour, factor: float = 0.78) -> Colour:
    return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))


@dataclass(frozen=True)
class PlacedText:
    """One text as drawn: its box, how it was fitted, and each line's rectangle (in the
    coordinates of the surface it was drawn on)."""

    text: str
    box: pygame.Rect
    fitted: FittedText
    lines: tuple[pygame.Rect, ...]


class TextKit:
    """Fonts by size, the pygame measure for text fitting, and a cache of rendered lines.

    ``min_px`` is the smallest font size any text gets (a smaller minimum asked for is raised
    to it). While ``placed`` is a list, every text drawn is appended to it (layout tests)."""

    def __init__(self, min_px: int = 0) -> None:
        self.min_px = min_px
        self.placed: list[PlacedText] | None = None
        self._fonts: dict[tuple[bool, bool, int], pygame.font.Font] = {}
        self._fits: dict[tuple[object, ...], FittedText] = {}
        self._lines: dict[tuple[object, ...], pygame.Surface] = {}
        self._widths: dict[tuple[str, bool, bool], int] = {}
        self.faces: dict[tuple[object, ...], pygame.Surface] = {}
        self.record: list[str] | None = None  # texts drawn while set (screens' static layer)

    def font(self, size: int, bold: bool = False, mono: bool = False) -> pygame.font.Font:
        key = (bold, mono, size)
        found = self._fonts.get(key)
        if found is None:
            path = asset("fonts", FONT_FILES[(bold, mono)])
            found = self._fonts[key] = pygame.font.Font(str(path), size)
        return found

    def measure(self, bold: bool = False, mono: bool = False) -> Measure:
        """Text size at any font size, scaled from one reference size.

        Loading a font per candidate size would make every new screen slow; glyph advances
        scale linearly, and a 3 % margin covers hinting at small sizes.
        """
        reference = self.font(MEASURE_SIZE, bold, mono)
        line = reference.get_linesize()

        def _measure(text: str, size: int) -> tuple[float, float]:
            key = (text, bold, mono)
            width = self._widths.get(key)
            if width is None:
                width = self._widths[key] = reference.size(text)[0]
            factor = size / MEASURE_SIZE
            return width * factor * 1.03, line * factor

        return _measure

    def fit(
        self,
        text: str,
        width: int,
        height: int,
        max_size: int,
        min_size: int = 14,
        bold: bool = False,
        mono: bool = False,
    ) -> FittedText:
        key = (text, width, height, max_size, min_size, bold, mono)
        found = self._fits.get(key)
        if found is None:
            found = self._fits[key] = fit_text(
                text,
                max(1, width),
                max(1, height),
                self.measure(bold, mono),
                max_size,
                min(min_size, max_size),
            )
        return found

    def line(self, text: str, size: int, colour: Colour, bold: bool, mono: bool) -> pygame.Surface:
        key = (text, size, colour, bold, mono)
        found = self._lines.get(key)
        if found is None:
            if len(self._lines) > 4000:
                self._lines.clear()
            found = self._lines[key] = self.font(size, bold, mono).render(text, True, colour)
        return found

    def draw(
        self,
        surface: pygame.Surface,
        text: str,
        rect: pygame.Rect,
        colour: Colour = INK,
        max_size: int = 40,
        min_size: int = 14,
        bold: bool = False,
        mono: bool = False,
        align: str = "center",
        valign: str = "middle",
    ) -> FittedText:
        if self.record is not None:
            self.record.append(text)
        min_size = max(min_size, self.min_px)
        max_size = max(max_size, min_size)
        fitted = self.fit(text, rect.width, rect.height, max_size, min_size, bold, mono)
        lines = []
        for line, x, y in fitted.positions(rect.width, rect.height, align, valign):  # type: ignore[arg-type]
            drawn = self.line(line, fitted.size, colour, bold, mono)
            surface.blit(drawn, (rect.x + x, rect.y + y))
            lines.append(drawn.get_rect(topleft=(rect.x + x, rect.y + y)))
        if self.placed is not None:
            self.placed.append(PlacedText(text, pygame.Rect(rect), fitted, tuple(lines)))
        return fitted


@dataclass
class Button:
    """A touch target: an id (for scripts and tests), a rectangle, and what it says."""

    id: str
    rect: pygame.Rect
    label: str
    style: str = "primary"
    detail: str | None = None
    badge: str | None = None
    badge_style: str | None = None
    corner: str | None = None  # small text top-right (a price)
    enabled: bool = True
    label_size: int = 40

    def texts(self) -> list[str]:
        return [t for t in (self.label, self.detail, self.badge, self.corner) if t]

    def face_key(self, pressed: bool) -> tuple[object, ...]:
        return (
            self.rect.size,
            self.label,
            self.style,
            self.detail,
            self.badge,
            self.badge_style,
            self.corner,
            self.enabled,
            self.label_size,
            pressed,
        )

    def face(self, kit: TextKit, pressed: bool) -> pygame.Surface:
        """The button drawn, kept by the kit across screens and visits: a screen that comes
        back (or was prepared ahead) blits its buttons without drawing them again."""
        key = self.face_key(pressed)
        found = kit.faces.get(key)
        if found is None:
            if len(kit.faces) > 600:
                kit.faces.clear()
            found = kit.faces[key] = self.render(kit, pressed).convert_alpha()
        return found

    def render(self, kit: TextKit, pressed: bool) -> pygame.Surface:
        """The button drawn afresh (``face`` keeps what this returns)."""
        w, h = self.rect.size
        face = pygame.Surface((w, h), pygame.SRCALPHA)
        fill, text = STYLES[self.style]
        if not self.enabled:
            fill, text = DISABLED, MUTED
        if pressed:
            fill = darker(fill)
        radius = max(8, min(w, h) // 8)
        inset = 4 if pressed else 0
        body = pygame.Rect(inset, inset, w - 2 * inset, h - 2 * inset)
        if not pressed and self.style != "ghost":
            pygame.draw.rect(face, (0, 0, 0, 40), body.move(0, 5), border_radius=radius)
            body.height -= 5
        pygame.draw.rect(face, fill, body, border_radius=radius)
        if self.style in ("key", "secondary", "ghost"):
            pygame.draw.rect(face, darker(fill, 0.7), body, width=2, border_radius=radius)
        pad = max(12, min(w, h) // 10)
        top = body.top + pad
        inner = body.width - 2 * pad
        least = max(12, kit.min_px)
        if self.badge:
            badge_fill = STYLES[self.badge_style or "ephoto"][0]
            # As tall as its words need at the smallest size (two lines on a narrow tile).
            badge_h = max(36, h // 7)
            while (
                badge_h < h // 3
                and kit.fit(
                    self.badge, inner - badge_h // 2, badge_h - 8, least, least, bold=True
                ).truncated
            ):
                badge_h += max(4, badge_h // 4)
            badge_rect = pygame.Rect(body.left + pad, top, inner, badge_h)
            if badge_fill == fill:
                # Same colour as the tile: a white pill with coloured text stands out.
                pygame.draw.rect(face, WHITE, badge_rect, border_radius=min(badge_h // 2, 24))
                badge_text = badge_fill
            else:
                pygame.draw.rect(face, badge_fill, badge_rect, border_radius=min(badge_h // 2, 24))
                badge_text = WHITE
            kit.draw(
                face,
                self.badge,
                badge_rect.inflate(-badge_h // 2, -8),
                badge_text,
                max(min(badge_h - 14, self.label_size), least),
                12,
                bold=True,
            )
            top = badge_rect.bottom + pad // 2
        bottom = body.bottom - pad
        if self.corner:
            corner_h = max(30, h // 7, round(least * 1.3))
            kit.draw(
                face,
                self.corner,
                pygame.Rect(body.left + pad, bottom - corner_h, inner, corner_h),
                text,
                corner_h,
                12,
                bold=True,
                align="right",
            )
            bottom -= corner_h + pad // 3
        if self.detail:
            # The name takes what it needs of the first part of the space, the detail the
            # rest: the first split at which neither is cut.
            space = max(1, bottom - top)
            detail_size = max(14, self.label_size * 2 // 3)
            label_h = max(24, space * 2 // 5)
            for share in (0.4, 0.5, 0.3, 0.6, 0.25):
                label_h = max(24, round(space * share))
                name = kit.fit(self.label, inner, label_h, self.label_size, least, bold=True)
                said = kit.fit(self.detail, inner, space - label_h, detail_size, least)
                if not name.truncated and not said.truncated:
                    break
            kit.draw(
                face,
                self.label,
                pygame.Rect(body.left + pad, top, inner, label_h),
                text,
                self.label_size,
                14,
                bold=True,
            )
            kit.draw(
                face,
                self.detail,
                pygame.Rect(body.left + pad, top + label_h, inner, space - label_h),
                text,
                detail_size,
                12,
            )
        else:
            kit.draw(
                face,
                self.label,
                pygame.Rect(body.left + pad, top, inner, max(1, bottom - top)),
                text,
                self.label_size,
                14,
                bold=True,
            )
        return face
