"""Paying and what follows: payment (card or coins, each coin recorded as it goes in),
issuing, printing, and the final screen with the number and any change."""

from __future__ import annotations

import pygame

from ephoto.clock import format_paris
from ephoto.code import group
from ephoto.money import Money
from ephoto.validity import activation_due_by
from ephoto.vocabulary import sale_reference
from kiosk.payment import ACCEPTED_COINS_CENTS
from kiosk.sale import State
from kiosk.ui.screens.base import FOOTER_H, FOOTER_Y, Screen, Spinner
from kiosk.ui.widgets import (
    DANGER,
    EPHOTO,
    INK,
    MUTED,
    PANEL,
    WARNING,
    WARNING_LIGHT,
    Button,
)


class PaymentScreen(Screen):
    state = State.PAYMENT

    @property
    def price(self) -> Money:
        assert self.app.session.product is not None
        return self.app.session.product.price

    def title(self) -> str:
        return self.t("payment.title", price=self.price.format(self.lang))

    @property
    def coins_in(self) -> Money:
        return Money(self.app.session.money_in_cents)

    @property
    def processing(self) -> bool:
        return self.app.flow.progress.busy == "charge"

    def layout(self) -> list[Button]:
        t = self.t
        if self.processing:
            return []
        buttons = []
        if not self.coins_in.cents:  # coins started: finish with coins
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
        self.text(
            surface,
            t("payment.nothing_charged" if not self.coins_in.cents else "payment.coins_kept"),
            self.r(60, 620, 860, 110),
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
        elif self.app.session.declined and not self.coins_in.cents:
            message, colour = t("payment.declined"), DANGER
        elif self.coins_in.cents:
            remaining = Money(max(0, self.price.cents - self.coins_in.cents))
            message = t(
                "payment.inserted",
                inserted=self.coins_in.format(self.lang),
                remaining=remaining.format(self.lang),
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
            self.app.flow.pay_card(test_card="declined" if bid == "card-declined" else "approved")
            self.refresh()
            self.app.mark_changed("processing")
        elif bid.startswith("coin-"):
            self.app.flow.insert_coin(int(bid.removeprefix("coin-")))
        else:
            super().on_button(bid)


class IssuingScreen(Screen):
    state = State.ISSUING
    language_toggle = False

    def title(self) -> str:
        return self.t("issuing.title")

    def paint(self, surface: pygame.Surface) -> None:
        self.text(surface, self.t("issuing.hint"), self.r(80, 300, 1760, 100), max_size=52)

    def draw_dynamic(self, target: pygame.Surface) -> None:
        Spinner().draw(self, target, (960, 600))


class PrintingScreen(Screen):
    state = State.PRINTING
    language_toggle = False

    def title(self) -> str:
        return self.t("printing.title")

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface, self.t("printing.hint"), self.r(80, 170, 1000, 200), max_size=46, align="left"
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        preview = self.app.flow.progress.sheet_preview
        if preview is None:
            Spinner().draw(self, target, (1420, 560))
        else:
            sheet = self.app.surface_of(preview)
            frame = self.r(1080, 170, 760, 820)
            target.blit(sheet, sheet.get_rect(center=frame.center))
            pygame.draw.rect(target, MUTED, sheet.get_rect(center=frame.center), width=2)
        Spinner().draw(self, target, (500, 600))


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
        progress = self.app.flow.progress
        sheet = self.app.surface_of(progress.sheet_preview) if progress.sheet_preview else None
        self.notices(surface)
        if sheet is not None:
            small = pygame.transform.smoothscale_by(
                sheet, min(1.0, self.app.s(640) / sheet.get_height())
            )
            frame = self.r(1380, 170, 480, 700)
            surface.blit(small, small.get_rect(center=frame.center))
        if session.code is None or progress.issued is None or session.product is None:
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
        issued = progress.issued
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

    def notices(self, surface: pygame.Surface) -> None:
        """Change given or owed, and a sheet that could not be printed: above the footer."""
        progress = self.app.flow.progress
        sale = sale_reference(self.app.booth.settings.booth_id, self.app.session.sale_id or 0)
        lines = []
        change = self.app.flow.change
        if change.cents:
            key = "done.change_given" if progress.change_given else "done.change_owed"
            lines.append(self.t(key, change=change.format(self.lang), sale=sale))
        if progress.print_problem is not None:
            lines.append(self.t("done.print_failed", sale=sale))
        if not lines:
            return
        box = self.r(60, 890, 1260, 170)
        self.panel(surface, box, WARNING_LIGHT, WARNING)
        self.text(
            surface,
            " ".join(lines),
            box.inflate(-self.app.s(40), -self.app.s(24)),
            max_size=36,
            bold=True,
            align="left",
        )
