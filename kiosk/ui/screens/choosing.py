"""Choosing what to buy: category, product tiles, and the confirmation that says plainly
whether the product carries an ePhoto number."""

from __future__ import annotations

import pygame

from kiosk.catalog import Product
from kiosk.sale import State
from kiosk.ui.screens.base import FOOTER_H, FOOTER_Y, Screen
from kiosk.ui.widgets import (
    EPHOTO,
    EPHOTO_LIGHT,
    PANEL,
    PRIMARY,
    WARNING,
    WARNING_LIGHT,
    WHITE,
    Button,
)


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
