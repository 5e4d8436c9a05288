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
        tiles = [
            ("ephoto", "ephoto", "badge_ephoto", "ephoto"),
            ("identity", "key", "badge_no_ephoto", "warning"),
            ("photos", "key", "badge_no_ephoto", "warning"),
        ]
        return [
            *(
                self.button(
                    f"category-{category}",
                    *self.at((60 + i * 610, 210, 580, 660), (40, 220 + i * 500, 1000, 470)),
                    t(f"category.{category}"),
                    detail=t(f"category.{category}_detail"),
                    style=style,
                    badge=t(f"product.{badge}"),
                    badge_style=badge_style,
                )
                for i, (category, style, badge, badge_style) in enumerate(tiles)
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
        """A product's tile: name, badge (with or without an ePhoto number), price, and a
        line of detail except on a small screen, where the badge says it alone."""
        button = self.full_tile(product, rect)
        if self.compact:
            button.detail = None
        return button

    def full_tile(self, product: Product, rect: tuple[float, float, float, float]) -> Button:
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
        # Souvenir photos give no number either, and may cost what an ePhoto costs: the same
        # warning badge as the paper ID photos.
        return self.button(
            f"product-{product.id}",
            *rect,
            product.name(self.lang),
            detail=t("product.photos_count", count=product.photos),
            style="key",
            badge=t("product.badge_no_ephoto"),
            badge_style="warning",
            corner=price,
            label_size=size,
        )

    def layout(self) -> list[Button]:
        rows = self.products()
        if self.compact:
            # At most three tiles a row, in the same order.
            every = [product for row in rows for product in row]
            rows = [every[i : i + 3] for i in range(0, len(every), 3)] if len(every) > 3 else rows
        columns = 1
        if self.portrait:
            # One tile a row for a few products, else two, each group of the landscape rows
            # starting a new row.
            columns = 1 if sum(len(row) for row in rows) <= 3 else 2
            rows = [group[i : i + columns] for group in rows for i in range(0, len(group), columns)]
            left, top, bottom, width_all = 40, 220, 1720, 1000
        elif self.compact:
            left, top, bottom, width_all = 60, 170, 915, 1800
        else:
            left, top, bottom, width_all = 60, 190, 900, 1800
        gap = 20 if self.compact else 30
        row_h = (bottom - top - gap * (len(rows) - 1)) / len(rows)
        buttons = []
        for r, row in enumerate(rows):
            count = columns if self.portrait else (max(len(row), 2) if len(rows) > 1 else len(row))
            width = (width_all - gap * (count - 1)) / count
            y = top + r * (row_h + gap)
            for c, product in enumerate(row):
                buttons.append(self.tile(product, (left + c * (width + gap), y, width, row_h)))
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
        back = self.button("back", *self.footer("left"), t("common.back"), style="secondary")
        if self.kind() == "warning":
            return [
                self.button(
                    "show-ephoto",
                    *self.at((60, 680, 1100, 200), (40, 1030, 1000, 260)),
                    t("confirm.show_ephoto"),
                    style="ephoto",
                    badge=t("product.badge_ephoto"),
                    label_size=self.app.s(52),
                ),
                self.button(
                    "accept",
                    *self.at((1200, 720, 660, 160), (40, 1340, 1000, 160)),
                    t("confirm.continue_without"),
                    style="secondary",
                    label_size=self.app.s(36),
                ),
                back,
                self.button("cancel", *self.footer("right"), t("common.cancel"), style="ghost"),
            ]
        style = "ephoto" if self.kind() == "ephoto" else "primary"
        return [
            self.button(
                "accept",
                *self.at((1160, FOOTER_Y - 20, 700, FOOTER_H + 20), self.footer("wide")),
                t("confirm.accept"),
                style=style,
            ),
            back,
            self.button("cancel", *self.footer("middle"), t("common.cancel"), style="ghost"),
        ]

    def paint(self, surface: pygame.Surface) -> None:
        t = self.t
        product = self.product
        price = product.price.format(self.lang)
        if self.kind() == "ephoto":
            box = self.r(*self.at((60, 190, 1800, 700), (40, 220, 1000, 1300)))
            self.panel(surface, box, EPHOTO_LIGHT, EPHOTO)
            self.text(
                surface,
                t("confirm.ephoto_intro"),
                self.r(*self.at((120, 220, 1300, 90), (80, 250, 920, 140))),
                max_size=48,
                bold=True,
                align="left",
                colour=EPHOTO,
            )
            self.text(
                surface,
                price,
                self.r(*self.at((1440, 220, 380, 90), (80, 1380, 920, 110))),
                max_size=60,
                bold=True,
                align="right",
            )
            facts = [
                t("confirm.fact_one"),
                t("confirm.fact_site", site=product.site, procedure=self.procedure_name(product)),
                t("confirm.fact_72h"),
                t("confirm.fact_6m"),
            ]
            first, step, height, width = (
                (340, 130, 110, 1600)
                if not self.portrait
                else (
                    420,
                    230,
                    200,
                    780,
                )
            )
            left = 60 if not self.portrait else 40
            for i, fact in enumerate(facts):
                y = first + i * step
                middle = y + height / 2
                pygame.draw.circle(
                    surface, EPHOTO, self.r(left + 90, middle, 0, 0).topleft, self.app.s(34)
                )
                self.text(
                    surface,
                    "✓",
                    self.r(left + 56, middle - 34, 68, 68),
                    max_size=48,
                    bold=True,
                    colour=WHITE,
                )
                self.text(
                    surface,
                    fact,
                    self.r(left + 160, y, width, height),
                    max_size=54,
                    align="left",
                )
        elif self.kind() == "warning":
            box = self.r(*self.at((60, 180, 1800, 470), (40, 220, 1000, 780)))
            self.panel(surface, box, WARNING_LIGHT, WARNING)
            self.text(
                surface,
                "!",
                self.r(*self.at((100, 210, 120, 160), (60, 250, 120, 160))),
                max_size=150,
                bold=True,
                colour=WARNING,
            )
            self.text(
                surface,
                t("confirm.warning", product=product.name(self.lang)),
                self.r(*self.at((240, 220, 1580, 400), (190, 260, 820, 700))),
                max_size=52,
                align="left",
                valign="top",
            )
        else:
            box = self.r(*self.at((60, 190, 1800, 500), (40, 220, 1000, 700)))
            self.panel(surface, box, PANEL, PRIMARY)
            self.text(
                surface,
                product.name(self.lang),
                self.r(*self.at((120, 230, 1680, 140), (80, 260, 920, 200))),
                max_size=80,
                bold=True,
            )
            self.text(
                surface,
                t("confirm.plain", count=product.photos),
                self.r(*self.at((120, 390, 1680, 100), (80, 480, 920, 140))),
                max_size=52,
            )
            self.text(
                surface,
                price,
                self.r(*self.at((120, 520, 1680, 120), (80, 660, 920, 200))),
                max_size=80,
                bold=True,
                colour=PRIMARY,
            )
            # No ePhoto number, said as plainly as the paper ID photos say it.
            note = self.r(*self.at((60, 720, 1800, 170), (40, 960, 1000, 400)))
            self.panel(surface, note, WARNING_LIGHT, WARNING)
            self.text(
                surface,
                t("confirm.plain_no_ephoto"),
                note.inflate(-self.app.s(60), -self.app.s(30)),
                max_size=44,
                bold=True,
                align="left",
            )

    def on_button(self, bid: str) -> None:
        if bid == "accept":
            self.app.fire("accept")
        elif bid == "show-ephoto":
            self.app.machine.show_ephoto_products()
        else:
            super().on_button(bid)
