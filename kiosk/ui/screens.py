"""One screen per sale state. A screen draws its state and turns button taps into machine events;
it owns no sale data (that is the machine's session) and does no blocking work.

Layout is in design units of a 1920 x 1080 screen, scaled to the window; buttons never shrink
below the configured touch size. Static parts are drawn once per visit into a cached surface.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any, ClassVar

import pygame
from PIL import Image

from ephoto.clock import format_paris
from ephoto.code import group
from ephoto.money import Money
from ephoto.texts import Texts, texts
from ephoto.validity import activation_due_by
from ephoto.vocabulary import sale_reference
from kiosk.catalog import Product
from kiosk.ledger import IssueFailed
from kiosk.payment import ACCEPTED_COINS_CENTS, CoinBox
from kiosk.sale import State
from kiosk.ui.widgets import (
    BACKGROUND,
    DANGER,
    EPHOTO,
    EPHOTO_LIGHT,
    INK,
    MUTED,
    PANEL,
    PRIMARY,
    WARNING,
    WARNING_LIGHT,
    WHITE,
    Button,
)

if TYPE_CHECKING:
    from kiosk.ui.app import KioskApp

FOOTER_Y = 930
FOOTER_H = 120


def pil_to_surface(image: Image.Image) -> pygame.Surface:
    rgb = image.convert("RGB")
    return pygame.image.frombytes(rgb.tobytes(), rgb.size, "RGB")


def fitted_image(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """``image`` scaled down to fit ``box`` (done off the UI thread by the caller)."""
    copy = image.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    return copy


class Screen:
    state: ClassVar[State]
    header = True
    language_toggle = True

    def __init__(self, app: KioskApp):
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
        self.buttons = self.layout()
        if self.header and self.language_toggle:
            self.buttons.append(
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
        surface = pygame.Surface(self.app.size).convert()
        surface.fill(BACKGROUND)
        self.app.kit.record = self.painted = []
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
        self.app.kit.record = None
        self.static = surface

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


class AttractScreen(Screen):
    state = State.ATTRACT
    header = False

    def enter(self) -> None:
        super().enter()
        if self.app.booth.needs_maintenance():
            self.app.fire("maintenance_needed")

    def layout(self) -> list[Button]:
        fr, en = texts("kiosk", "fr"), texts("kiosk", "en")
        return [
            self.button(
                "start",
                360,
                700,
                1200,
                240,
                fr("attract.start"),
                detail=en("attract.start"),
                style="primary",
                label_size=self.app.s(60),
            )
        ]

    def paint(self, surface: pygame.Surface) -> None:
        fr, en = texts("kiosk", "fr"), texts("kiosk", "en")
        self.text(surface, fr("attract.title"), self.r(120, 90, 1680, 150), max_size=110, bold=True)
        self.text(
            surface, en("attract.title"), self.r(120, 240, 1680, 80), max_size=56, colour=MUTED
        )
        band = self.r(120, 360, 1680, 290)
        self.panel(surface, band, EPHOTO_LIGHT, EPHOTO)
        badge = self.r(170, 400, 300, 90)
        pygame.draw.rect(surface, EPHOTO, badge, border_radius=badge.height // 2)
        self.text(surface, "ePhoto", badge.inflate(-30, -16), max_size=56, bold=True, colour=WHITE)
        self.text(
            surface,
            fr("attract.subtitle"),
            self.r(510, 385, 1250, 140),
            max_size=40,
            colour=INK,
            align="left",
        )
        self.text(
            surface,
            en("attract.subtitle"),
            self.r(510, 525, 1250, 110),
            max_size=32,
            colour=MUTED,
            align="left",
        )

    def on_button(self, bid: str) -> None:
        if bid == "start":
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
                240,
                330,
                660,
                360,
                "Français",
                style="primary",
                label_size=self.app.s(80),
            ),
            self.button(
                "lang-en",
                1020,
                330,
                660,
                360,
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


class CategoryScreen(Screen):
    state = State.CATEGORY

    def title(self) -> str:
        return self.t("category.title")

    def layout(self) -> list[Button]:
        t = self.t
        return [
            self.button(
                "category-ephoto",
                60,
                210,
                580,
                660,
                t("category.ephoto"),
                detail=t("category.ephoto_detail"),
                style="ephoto",
                badge=t("product.badge_ephoto"),
                badge_style="ephoto",
            ),
            self.button(
                "category-identity",
                670,
                210,
                580,
                660,
                t("category.identity"),
                detail=t("category.identity_detail"),
                style="key",
                badge=t("product.badge_no_ephoto"),
                badge_style="warning",
            ),
            self.button(
                "category-photos",
                1280,
                210,
                580,
                660,
                t("category.photos"),
                detail=t("category.photos_detail"),
                style="key",
                badge=t("product.badge_photos"),
                badge_style="primary",
            ),
            *self.footer_back_cancel(),
        ]

    def on_button(self, bid: str) -> None:
        if bid.startswith("category-"):
            self.app.machine.choose_category(bid.removeprefix("category-"))
        else:
            super().on_button(bid)


class ProductScreen(Screen):
    """Product tiles. Choosing "ID photos" also shows the ePhoto products first: a customer
    looking for a driving-licence photo sees the right product before the paper ones."""

    state = State.PRODUCT

    def products(self) -> list[list[Product]]:
        catalog = self.app.machine.catalog
        category = self.app.session.category or "ephoto"
        if category == "identity":
            return [list(catalog.ephoto_products()), list(catalog.in_category("identity"))]
        items = list(catalog.in_category(category))
        if len(items) > 3:
            return [items[:3], items[3:]]
        return [items]

    def title(self) -> str:
        if self.app.session.category == "ephoto":
            return self.t("product.title_ephoto")
        return self.t("product.title")

    def tile(self, product: Product, rect: tuple[float, float, float, float]) -> Button:
        t = self.t
        price = product.price.format(self.lang)
        # Bigger tiles get bigger names; text fitting shrinks long names to their box anyway.
        size = self.app.s(min(60, max(36, rect[3] * 0.12)))
        if product.ephoto:
            detail = t(
                "product.ephoto_for", procedure=self.procedure_name(product), site=product.site
            )
            return self.button(
                f"product-{product.id}",
                *rect,
                product.name(self.lang),
                detail=detail,
                style="ephoto",
                badge=t("product.badge_ephoto"),
                badge_style="ephoto",
                corner=price,
                label_size=size,
            )
        if product.category == "identity":
            return self.button(
                f"product-{product.id}",
                *rect,
                product.name(self.lang),
                detail=t("product.paper_only"),
                style="key",
                badge=t("product.badge_no_ephoto"),
                badge_style="warning",
                corner=price,
                label_size=size,
            )
        return self.button(
            f"product-{product.id}",
            *rect,
            product.name(self.lang),
            detail=t("product.photos_count", count=product.photos),
            style="key",
            badge=t("product.badge_photos"),
            badge_style="primary",
            corner=price,
            label_size=size,
        )

    def layout(self) -> list[Button]:
        rows = self.products()
        top, bottom = 190, 900
        gap = 30
        row_h = (bottom - top - gap * (len(rows) - 1)) / len(rows)
        buttons = []
        for r, row in enumerate(rows):
            count = max(len(row), 2) if len(rows) > 1 else len(row)
            width = (1800 - gap * (count - 1)) / count
            y = top + r * (row_h + gap)
            for c, product in enumerate(row):
                buttons.append(self.tile(product, (60 + c * (width + gap), y, width, row_h)))
        return [*buttons, *self.footer_back_cancel()]

    def on_button(self, bid: str) -> None:
        if bid.startswith("product-"):
            self.app.machine.choose_product(bid.removeprefix("product-"))
        else:
            super().on_button(bid)


class ConfirmScreen(Screen):
    state = State.CONFIRM

    @property
    def product(self) -> Product:
        product = self.app.session.product
        assert product is not None, "confirm screen without a product"
        return product

    def kind(self) -> str:
        if self.product.ephoto:
            return "ephoto"
        return "warning" if self.product.category == "identity" else "plain"

    def title(self) -> str:
        name = self.product.name(self.lang)
        return {
            "ephoto": self.t("confirm.title_ephoto", product=name),
            "warning": self.t("confirm.title_warning"),
            "plain": self.t("confirm.title_plain", product=name),
        }[self.kind()]

    def layout(self) -> list[Button]:
        t = self.t
        back = self.button("back", 60, FOOTER_Y, 360, FOOTER_H, t("common.back"), style="secondary")
        if self.kind() == "warning":
            return [
                self.button(
                    "show-ephoto",
                    60,
                    680,
                    1100,
                    200,
                    t("confirm.show_ephoto"),
                    style="ephoto",
                    badge=t("product.badge_ephoto"),
                    label_size=self.app.s(52),
                ),
                self.button(
                    "accept",
                    1200,
                    720,
                    660,
                    160,
                    t("confirm.continue_without"),
                    style="secondary",
                    label_size=self.app.s(36),
                ),
                back,
                self.button(
                    "cancel", 1500, FOOTER_Y, 360, FOOTER_H, t("common.cancel"), style="ghost"
                ),
            ]
        style = "ephoto" if self.kind() == "ephoto" else "primary"
        return [
            self.button(
                "accept", 1160, FOOTER_Y - 20, 700, FOOTER_H + 20, t("confirm.accept"), style=style
            ),
            back,
            self.button("cancel", 460, FOOTER_Y, 360, FOOTER_H, t("common.cancel"), style="ghost"),
        ]

    def paint(self, surface: pygame.Surface) -> None:
        t = self.t
        product = self.product
        price = product.price.format(self.lang)
        if self.kind() == "ephoto":
            box = self.r(60, 190, 1800, 700)
            self.panel(surface, box, EPHOTO_LIGHT, EPHOTO)
            self.text(
                surface,
                t("confirm.ephoto_intro"),
                self.r(120, 220, 1300, 90),
                max_size=48,
                bold=True,
                align="left",
                colour=EPHOTO,
            )
            self.text(
                surface, price, self.r(1440, 220, 380, 90), max_size=60, bold=True, align="right"
            )
            facts = [
                t("confirm.fact_one"),
                t("confirm.fact_site", site=product.site, procedure=self.procedure_name(product)),
                t("confirm.fact_72h"),
                t("confirm.fact_6m"),
            ]
            for i, fact in enumerate(facts):
                y = 340 + i * 130
                pygame.draw.circle(
                    surface, EPHOTO, self.r(150, y + 55, 0, 0).topleft, self.app.s(34)
                )
                self.text(
                    surface, "✓", self.r(116, y + 21, 68, 68), max_size=48, bold=True, colour=WHITE
                )
                self.text(surface, fact, self.r(220, y, 1600, 110), max_size=54, align="left")
        elif self.kind() == "warning":
            box = self.r(60, 180, 1800, 470)
            self.panel(surface, box, WARNING_LIGHT, WARNING)
            self.text(
                surface, "!", self.r(100, 210, 120, 160), max_size=150, bold=True, colour=WARNING
            )
            self.text(
                surface,
                t("confirm.warning", product=product.name(self.lang)),
                self.r(240, 220, 1580, 400),
                max_size=52,
                align="left",
                valign="top",
            )
        else:
            box = self.r(60, 190, 1800, 500)
            self.panel(surface, box, PANEL, PRIMARY)
            self.text(
                surface,
                product.name(self.lang),
                self.r(120, 240, 1680, 140),
                max_size=80,
                bold=True,
            )
            self.text(
                surface,
                t("confirm.plain", count=product.photos),
                self.r(120, 400, 1680, 100),
                max_size=52,
            )
            self.text(
                surface, price, self.r(120, 520, 1680, 120), max_size=80, bold=True, colour=PRIMARY
            )

    def on_button(self, bid: str) -> None:
        if bid == "accept":
            self.app.fire("accept")
        elif bid == "show-ephoto":
            self.app.machine.show_ephoto_products()
        else:
            super().on_button(bid)


class CaptureScreen(Screen):
    state = State.CAPTURE
    language_toggle = False

    def title(self) -> str:
        return self.t("capture.title")

    def enter(self) -> None:
        self.started = self.app.monotonic()
        self.shooting = False
        super().enter()

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface,
            self.t("capture.hint"),
            self.r(80, 150, 1760, 70),
            max_size=40,
            colour=MUTED,
            align="left",
        )
        frame = self.r(660, 240, 600, 772)
        pygame.draw.rect(surface, (214, 222, 232), frame, border_radius=self.app.s(16))
        # The head outline customers line up with (chin to crown about 75 % of the height).
        oval = self.r(810, 300, 300, 400)
        pygame.draw.ellipse(surface, PANEL, oval, width=max(3, self.app.s(8)))
        shoulders = self.r(700, 700, 520, 312)
        pygame.draw.arc(
            surface,
            PANEL,
            shoulders.move(0, 0).inflate(0, self.app.s(200)),
            0,
            math.pi,
            max(3, self.app.s(8)),
        )

    def remaining(self) -> int:
        elapsed = self.app.monotonic() - self.started
        return max(0, math.ceil(self.app.booth.settings.countdown_seconds - elapsed))

    def update(self) -> None:
        if not self.shooting and self.remaining() == 0:
            self.shooting = True
            booth, box = self.app.booth, (self.app.s(620), self.app.s(800))

            def shoot() -> Any:
                image, framing = booth.take_photo()
                return image, framing, fitted_image(image, box)

            self.app.submit("photo", shoot)

    def draw_dynamic(self, target: pygame.Surface) -> None:
        left = self.remaining()
        label = str(left) if left > 0 else self.t("capture.taking")
        box = self.r(1320, 380, 520, 400)
        pygame.draw.rect(target, PRIMARY, box, border_radius=self.app.s(40))
        self.app.kit.draw(
            target,
            label,
            box.inflate(-40, -40),
            WHITE,
            self.app.s(260 if left else 90),
            12,
            bold=True,
        )

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind != "photo":
            return
        image, framing, thumbnail = result
        self.app.view.photo = image
        self.app.view.framing = framing
        self.app.view.review_surface = pil_to_surface(thumbnail)
        self.app.session.photos_taken += 1
        self.app.fire("photo_taken")


class ReviewScreen(Screen):
    state = State.REVIEW

    def title(self) -> str:
        return self.t("review.title")

    def retakes_left(self) -> int:
        return self.app.machine.retake_limit - self.app.session.retakes_used

    def layout(self) -> list[Button]:
        t = self.t
        left = self.retakes_left()
        ok = self.app.view.framing is not None and self.app.view.framing.ok
        retake = self.button(
            "retake",
            800,
            730,
            1060,
            150,
            t("review.retake", left=left) if left > 0 else t("review.no_retake"),
            style="primary" if not ok else "secondary",
            enabled=left > 0,
        )
        keep = self.button(
            "keep", 800, 540, 1060, 160, t("review.keep"), style="ephoto" if ok else "secondary"
        )
        return [keep, retake, *self.footer_back_cancel(back=False)]

    def paint(self, surface: pygame.Surface) -> None:
        framing = self.app.view.framing
        frame = self.r(100, 180, 640, 820)
        pygame.draw.rect(surface, PANEL, frame, border_radius=self.app.s(12))
        if framing is None:
            return
        y = 200
        for check in framing.checks:
            colour = EPHOTO if check.ok else DANGER
            mark = "✓" if check.ok else "✗"
            self.text(surface, mark, self.r(800, y, 60, 60), max_size=48, bold=True, colour=colour)
            self.text(
                surface,
                self.t(f"review.check_{check.rule}"),
                self.r(870, y, 1000, 60),
                max_size=38,
                align="left",
            )
            y += 62
        verdict = self.t("review.framing_ok" if framing.ok else "review.framing_bad")
        self.text(
            surface,
            verdict,
            self.r(800, y + 10, 1060, 70),
            max_size=36,
            bold=True,
            colour=EPHOTO if framing.ok else DANGER,
            align="left",
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        image = self.app.view.review_surface
        if image is not None:
            frame = self.r(100, 180, 640, 820)
            target.blit(image, image.get_rect(center=frame.center))

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if kind == "keep-photo":
            if error is not None:
                raise error
            self.app.fire("keep")
        else:
            super().on_work(kind, result, error)

    def on_button(self, bid: str) -> None:
        if bid == "retake":
            self.app.view.review_surface = None
            self.app.fire("retake")
        elif bid == "keep":
            sale_id = self.app.session.sale_id
            assert sale_id is not None
            self.buttons = [b for b in self.buttons if b.id not in ("keep", "retake")]
            self.app.submit("keep-photo", self.app.booth.keep_photo, sale_id, self.app.view.photo)
        else:
            super().on_button(bid)


class SignatureScreen(Screen):
    state = State.SIGNATURE
    MIN_INK = 150  # pixels of stroke before a signature counts

    def title(self) -> str:
        return self.t("signature.title")

    def enter(self) -> None:
        self.pad_rect = self.r(160, 230, 1600, 640)
        self.pad = pygame.Surface(self.pad_rect.size).convert()
        self.pad.fill(WHITE)
        self.ink = 0.0
        self.last: tuple[int, int] | None = None
        super().enter()

    def layout(self) -> list[Button]:
        t = self.t
        return [
            self.button(
                "clear", 60, FOOTER_Y, 360, FOOTER_H, t("signature.clear"), style="secondary"
            ),
            self.button("cancel", 460, FOOTER_Y, 360, FOOTER_H, t("common.cancel"), style="ghost"),
            self.button(
                "signed",
                1160,
                FOOTER_Y,
                700,
                FOOTER_H,
                t("signature.done"),
                style="primary",
                enabled=self.ink >= self.MIN_INK,
            ),
        ]

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface,
            self.t("signature.hint"),
            self.r(80, 150, 1760, 70),
            max_size=38,
            colour=MUTED,
            align="left",
        )
        pygame.draw.rect(surface, PRIMARY, self.pad_rect.inflate(8, 8), width=4, border_radius=8)

    def draw_dynamic(self, target: pygame.Surface) -> None:
        target.blit(self.pad, self.pad_rect)
        baseline = self.pad_rect.bottom - self.app.s(120)
        pygame.draw.line(
            target,
            (200, 205, 215),
            (self.pad_rect.left + 60, baseline),
            (self.pad_rect.right - 60, baseline),
            2,
        )

    def on_pointer_down(self, pos: tuple[int, int]) -> None:
        if self.pad_rect.collidepoint(pos):
            self.last = (pos[0] - self.pad_rect.x, pos[1] - self.pad_rect.y)

    def on_pointer_move(self, pos: tuple[int, int]) -> None:
        if self.last is None or not self.pad_rect.collidepoint(pos):
            return
        point = (pos[0] - self.pad_rect.x, pos[1] - self.pad_rect.y)
        pygame.draw.line(self.pad, INK, self.last, point, max(3, self.app.s(7)))
        pygame.draw.circle(self.pad, INK, point, max(1, self.app.s(3)))
        was_enough = self.ink >= self.MIN_INK
        self.ink += math.dist(self.last, point)
        self.last = point
        if not was_enough and self.ink >= self.MIN_INK:
            self.refresh()
            self.app.mark_changed("signed")

    def on_pointer_up(self, pos: tuple[int, int]) -> None:
        self.last = None

    def on_button(self, bid: str) -> None:
        if bid == "clear":
            self.pad.fill(WHITE)
            self.ink = 0
            self.refresh()
        elif bid == "signed":
            sale_id = self.app.session.sale_id
            assert sale_id is not None
            raw = pygame.image.tobytes(self.pad, "RGB")
            size = self.pad.get_size()
            self.buttons = [b for b in self.buttons if b.id != "signed"]

            def save() -> Any:
                buffer = io.BytesIO()
                Image.frombytes("RGB", size, raw).save(buffer, format="PNG")
                self.app.session.signature_png = buffer.getvalue()
                return self.app.booth.keep_signature(sale_id, buffer.getvalue())

            self.app.submit("signature", save)
        else:
            super().on_button(bid)

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind == "signature":
            self.app.fire("signed")


class PaymentScreen(Screen):
    state = State.PAYMENT

    @property
    def price(self) -> Money:
        assert self.app.session.product is not None
        return self.app.session.product.price

    def title(self) -> str:
        return self.t("payment.title", price=self.price.format(self.lang))

    def enter(self) -> None:
        self.processing = False
        if self.app.session.payment_method is None:
            self.app.view.coins = CoinBox(self.price)
        super().enter()

    def layout(self) -> list[Button]:
        t = self.t
        if self.processing:
            return []
        buttons = []
        if not self.app.view.coins.inserted:  # coins started: finish with coins
            buttons.append(
                self.button(
                    "card",
                    60,
                    300,
                    860,
                    300,
                    t("payment.card"),
                    style="primary",
                    label_size=self.app.s(64),
                )
            )
        for i, cents in enumerate(ACCEPTED_COINS_CENTS):
            buttons.append(
                self.button(
                    f"coin-{cents}",
                    1000 + i * 290,
                    380,
                    260,
                    220,
                    t("payment.coin", coin=Money(cents).format(self.lang)),
                    style="secondary",
                    label_size=self.app.s(40),
                )
            )
        buttons.append(
            self.button(
                "card-declined",
                1000,
                780,
                500,
                110,
                t("payment.test_declined"),
                style="warning",
                label_size=self.app.s(32),
            )
        )
        buttons.append(
            self.button("cancel", 60, FOOTER_Y, 360, FOOTER_H, t("common.cancel"), style="ghost")
        )
        return buttons

    def paint(self, surface: pygame.Surface) -> None:
        t = self.t
        product = self.app.session.product
        assert product is not None
        self.text(
            surface,
            product.name(self.lang),
            self.r(80, 160, 1760, 80),
            max_size=44,
            colour=EPHOTO if product.ephoto else MUTED,
            align="left",
            bold=product.ephoto,
        )
        self.text(
            surface,
            t("payment.coins"),
            self.r(1000, 300, 860, 70),
            max_size=40,
            bold=True,
            align="left",
        )
        if not self.app.view.coins.inserted:
            self.text(
                surface,
                t("payment.nothing_charged"),
                self.r(60, 620, 860, 80),
                max_size=32,
                colour=MUTED,
                align="left",
            )
        panel = self.r(980, 730, 880, 180)
        pygame.draw.rect(surface, (235, 235, 240), panel, border_radius=self.app.s(16))
        self.text(
            surface, t("payment.test_panel"), self.r(1530, 790, 310, 60), max_size=30, colour=MUTED
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        t = self.t
        message, colour = "", INK
        if self.processing:
            message = t("payment.processing")
        elif self.app.session.declined and not self.app.view.coins.inserted:
            message, colour = t("payment.declined"), DANGER
        elif self.app.view.coins.inserted:
            message = t(
                "payment.inserted",
                inserted=self.app.view.coins.total.format(self.lang),
                remaining=self.app.view.coins.remaining.format(self.lang),
            )
        if message:
            self.app.kit.draw(
                target,
                message,
                self.r(460, 930, 1400, 120),
                colour,
                self.app.s(40),
                self.app.s(18),
                bold=True,
            )

    def on_button(self, bid: str) -> None:
        if bid in ("card", "card-declined"):
            if bid == "card-declined":
                self.app.booth.terminal.next_card = "declined"
            self.processing = True
            self.refresh()
            self.app.mark_changed("processing")
            self.app.submit("charge", self.app.booth.charge_card, self.price)
        elif bid.startswith("coin-"):
            self.app.view.coins.insert(int(bid.removeprefix("coin-")))
            if self.app.view.coins.is_paid():
                self.app.session.payment_method = "coins"
                self.app.fire("paid")
            else:
                self.refresh()
                self.app.mark_changed("coins")
        else:
            super().on_button(bid)

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind != "charge":
            return
        if result.approved:
            self.app.session.payment_method = "card"
            self.app.fire("paid")
            return
        session = self.app.session
        session.declined += 1
        assert session.sale_id is not None
        self.app.submit(
            "declined-recorded",
            self.app.booth.ledger.record_declined,
            session.sale_id,
            "card",
            self.price.cents,
            result.detail,
            bound=False,
        )
        self.app.fire("declined")
        self.app.mark_changed("declined")


class Spinner:
    def draw(self, screen: Screen, target: pygame.Surface, centre: tuple[float, float]) -> None:
        angle = (screen.app.monotonic() * 4) % (2 * math.pi)
        rect = screen.r(centre[0] - 70, centre[1] - 70, 140, 140)
        pygame.draw.arc(target, PRIMARY, rect, angle, angle + 4.2, max(4, screen.app.s(14)))


class IssuingScreen(Screen):
    state = State.ISSUING
    language_toggle = False

    def title(self) -> str:
        return self.t("issuing.title")

    def enter(self) -> None:
        super().enter()
        session = self.app.session
        assert session.sale_id is not None and session.product is not None
        method = session.payment_method or "card"
        self.app.view.issued = None
        self.app.submit(
            "issue", self.app.booth.issue, session.sale_id, method, session.product.price
        )

    def paint(self, surface: pygame.Surface) -> None:
        self.text(surface, self.t("issuing.hint"), self.r(80, 300, 1760, 100), max_size=52)

    def draw_dynamic(self, target: pygame.Surface) -> None:
        Spinner().draw(self, target, (960, 600))

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if kind != "issue":
            return super().on_work(kind, result, error)
        if isinstance(error, IssueFailed):
            self.app.session.failure = str(error)
            self.app.fire("issue_failed")
            return
        if error is not None:
            raise error
        self.app.view.issued = result
        self.app.session.code = result.code
        self.app.fire("issued")


class PrintingScreen(Screen):
    state = State.PRINTING
    language_toggle = False

    def title(self) -> str:
        return self.t("printing.title")

    def enter(self) -> None:
        self.app.view.sheet_surface = None
        super().enter()
        session = self.app.session
        sale_id = session.sale_id
        assert sale_id is not None
        box = (self.app.s(700), self.app.s(760))

        def render() -> Any:
            sheet = self.app.booth.render(sale_id, self.app.view.issued)
            return sheet, fitted_image(sheet.preview, box)

        self.app.submit("render", render)

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface, self.t("printing.hint"), self.r(80, 170, 1000, 200), max_size=46, align="left"
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        sheet = self.app.view.sheet_surface
        if sheet is None:
            Spinner().draw(self, target, (1420, 560))
        else:
            frame = self.r(1080, 170, 760, 820)
            target.blit(sheet, sheet.get_rect(center=frame.center))
            pygame.draw.rect(target, MUTED, sheet.get_rect(center=frame.center), width=2)
        Spinner().draw(self, target, (500, 600))

    def on_work(self, kind: str, result: Any, error: BaseException | None) -> None:
        if error is not None:
            raise error
        if kind == "render":
            sheet, preview = result
            self.app.view.sheet_surface = pil_to_surface(preview)
            self.app.mark_changed("preview")
            session = self.app.session
            assert session.sale_id is not None
            self.app.submit("print", self.app.booth.print_sheet, session.sale_id, sheet)
        elif kind == "print":
            # None: crash recovery printed this sale first; the sheet is out either way.
            self.app.session.sheet_path = result.job_id if result is not None else None
            self.app.fire("printed")


class DoneScreen(Screen):
    state = State.DONE

    def title(self) -> str:
        ephoto = self.app.session.code is not None
        return self.t("done.title_ephoto" if ephoto else "done.title_plain")

    def layout(self) -> list[Button]:
        return [
            self.button(
                "finish", 1360, FOOTER_Y, 500, FOOTER_H, self.t("done.finish"), style="primary"
            )
        ]

    def paint(self, surface: pygame.Surface) -> None:
        t = self.t
        session = self.app.session
        sheet = self.app.view.sheet_surface
        if sheet is not None:
            small = pygame.transform.smoothscale_by(
                sheet, min(1.0, self.app.s(640) / sheet.get_height())
            )
            frame = self.r(1380, 170, 480, 700)
            surface.blit(small, small.get_rect(center=frame.center))
        if session.code is None or self.app.view.issued is None or session.product is None:
            self.text(
                surface, t("done.plain"), self.r(80, 250, 1200, 300), max_size=60, align="left"
            )
            if session.product is not None and session.product.category == "identity":
                box = self.r(60, 620, 1280, 220)
                self.panel(surface, box, WARNING_LIGHT, WARNING)
                self.text(
                    surface,
                    t("done.no_ephoto"),
                    box.inflate(-self.app.s(60), -self.app.s(40)),
                    max_size=44,
                    align="left",
                )
            return
        issued = self.app.view.issued
        product = session.product
        box = self.r(60, 170, 1280, 300)
        self.panel(surface, box, PANEL, EPHOTO, width=8)
        self.text(
            surface,
            t("done.code_label"),
            self.r(100, 185, 1200, 56),
            max_size=34,
            colour=EPHOTO,
            bold=True,
            align="left",
        )
        self.text(
            surface,
            group(session.code),
            self.r(90, 245, 1220, 200),
            max_size=110,
            bold=True,
            mono=True,
        )
        start = format_paris(activation_due_by(issued.issued_at), self.lang)
        assert issued.expires_at is not None  # an ePhoto number always has its expiry
        end = format_paris(issued.expires_at, self.lang)
        self.text(
            surface,
            t("done.use_from", **{"from": start}),
            self.r(80, 500, 1260, 80),
            max_size=52,
            bold=True,
            align="left",
        )
        self.text(
            surface,
            t("done.use_before", before=end),
            self.r(80, 580, 1260, 80),
            max_size=52,
            bold=True,
            align="left",
        )
        self.text(
            surface,
            t("done.where", site=product.site, procedure=self.procedure_name(product)),
            self.r(80, 680, 1260, 80),
            max_size=42,
            align="left",
        )
        self.text(
            surface,
            t("done.confusable"),
            self.r(80, 770, 1260, 120),
            max_size=36,
            colour=MUTED,
            align="left",
        )


class IssueFailedScreen(Screen):
    state = State.ISSUE_FAILED

    def title(self) -> str:
        return self.t("issue_failed.title")

    def layout(self) -> list[Button]:
        return [
            self.button(
                "ok", 1360, FOOTER_Y, 500, FOOTER_H, self.t("issue_failed.ok"), style="primary"
            )
        ]

    def paint(self, surface: pygame.Surface) -> None:
        sale_id = self.app.session.sale_id
        ref = sale_reference(self.app.booth.settings.booth_id, sale_id or 0)
        box = self.r(60, 200, 1800, 500)
        self.panel(surface, box, PANEL, PRIMARY)
        self.text(
            surface,
            self.t("issue_failed.body", sale=ref),
            box.inflate(-self.app.s(120), -self.app.s(100)),
            max_size=60,
        )


class RefusedScreen(Screen):
    state = State.REFUSED

    def title(self) -> str:
        return self.t("refused.title")

    def layout(self) -> list[Button]:
        return [
            self.button("ok", 1360, FOOTER_Y, 500, FOOTER_H, self.t("common.ok"), style="primary")
        ]

    def paint(self, surface: pygame.Surface) -> None:
        reason = self.app.session.refusal or "refused.printer"
        box = self.r(60, 220, 1800, 440)
        self.panel(surface, box, PANEL, PRIMARY)
        self.text(
            surface, self.t(reason), box.inflate(-self.app.s(120), -self.app.s(100)), max_size=64
        )


class FailsafeScreen(Screen):
    state = State.FAILSAFE

    def title(self) -> str:
        return self.t("failsafe.title")

    def enter(self) -> None:
        super().enter()
        # A paid sale interrupted by the error is finished now, not lost.
        self.app.submit("recover", self.app.booth.recover, bound=False)

    def layout(self) -> list[Button]:
        return [
            self.button("ok", 1360, FOOTER_Y, 500, FOOTER_H, self.t("failsafe.ok"), style="primary")
        ]

    def paint(self, surface: pygame.Surface) -> None:
        box = self.r(60, 220, 1800, 440)
        self.panel(surface, box, PANEL, PRIMARY)
        self.text(
            surface,
            self.t("failsafe.body"),
            box.inflate(-self.app.s(120), -self.app.s(100)),
            max_size=60,
        )


class MaintenanceScreen(Screen):
    state = State.MAINTENANCE
    header = False

    def paint(self, surface: pygame.Surface) -> None:
        for lang, y in (("fr", 260), ("en", 600)):
            t = texts("kiosk", lang)
            self.text(
                surface, t("maintenance.title"), self.r(120, y, 1680, 130), max_size=90, bold=True
            )
            reason = (
                "maintenance.paper"
                if self.app.booth.printer_ready() is not None
                else "maintenance.body"
            )
            self.text(
                surface, t(reason), self.r(120, y + 140, 1680, 100), max_size=48, colour=MUTED
            )


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
        return [
            self.button(
                bid, 1380, 180 + i * 150, 480, 125, label, style=style, label_size=self.app.s(34)
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


def booth_paper(app: KioskApp) -> int:
    return app.booth.ledger.paper_left()


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


SCREENS: dict[State, type[Screen]] = {
    cls.state: cls
    for cls in (
        AttractScreen,
        LanguageScreen,
        CategoryScreen,
        ProductScreen,
        ConfirmScreen,
        CaptureScreen,
        ReviewScreen,
        SignatureScreen,
        PaymentScreen,
        IssuingScreen,
        PrintingScreen,
        DoneScreen,
        IssueFailedScreen,
        RefusedScreen,
        FailsafeScreen,
        MaintenanceScreen,
        OperatorPinScreen,
        OperatorScreen,
    )
}
assert set(SCREENS) == set(State), "every state needs a screen"
