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
from kiosk.ui.screens.base import FOOTER_H, FOOTER_Y, Screen, Spinner, minutes_seconds
from kiosk.ui.widgets import (
    DANGER,
    EPHOTO,
    INK,
    MUTED,
    NEUTRAL,
    PANEL,
    WARNING,
    WARNING_LIGHT,
    Button,
)


class PaymentScreen(Screen):
    """Card or coins; while a card is charged, only the charge's progress (no choice left to
    make, no language switch); the time left to pay is always shown."""

    state = State.PAYMENT
    language_toggle = False

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
                    *self.at((60, 300, 860, 300), (40, 330, 1000, 280)),
                    t("payment.card"),
                    style="primary",
                    label_size=self.app.s(64),
                )
            )
        for i, cents in enumerate(ACCEPTED_COINS_CENTS):
            buttons.append(
                self.button(
                    f"coin-{cents}",
                    *self.at((1000 + i * 290, 380, 260, 220), (40 + i * 345, 860, 310, 220)),
                    t("payment.coin", coin=Money(cents).format(self.lang)),
                    style="secondary",
                    label_size=self.app.s(40),
                )
            )
        buttons.append(
            self.button(
                "card-declined",
                *self.at((1000, 790, 520, 100), (40, 1450, 560, 110)),
                t("payment.test_declined"),
                style="warning",
                label_size=self.app.s(32),
            )
        )
        buttons.append(
            self.button("cancel", *self.footer("left"), t("common.cancel"), style="ghost")
        )
        return buttons

    def paint(self, surface: pygame.Surface) -> None:
        t = self.t
        product = self.app.session.product
        assert product is not None
        self.text(
            surface,
            product.name(self.lang),
            self.r(*self.at((80, 160, 1060, 80), (40, 200, 1000, 90))),
            max_size=44,
            colour=EPHOTO if product.ephoto else MUTED,
            align="left",
            bold=product.ephoto,
        )
        if self.processing:
            # The charge is under way: its progress, and nothing else to read or touch.
            self.text(
                surface,
                t("payment.processing"),
                self.r(*self.at((160, 300, 1600, 160), (40, 620, 1000, 260))),
                max_size=56,
                bold=True,
            )
            return
        self.text(
            surface,
            t("payment.coins"),
            self.r(*self.at((1000, 300, 860, 70), (40, 780, 1000, 70))),
            max_size=40,
            bold=True,
            align="left",
        )
        self.text(
            surface,
            t("payment.nothing_charged" if not self.coins_in.cents else "payment.coins_kept"),
            self.r(*self.at((60, 620, 860, 110), (40, 620, 1000, 110))),
            max_size=32,
            colour=MUTED,
            align="left",
        )
        panel = self.r(*self.at((980, 730, 880, 180), (20, 1420, 1040, 170)))
        pygame.draw.rect(surface, (235, 235, 240), panel, border_radius=self.app.s(16))
        self.text(
            surface,
            t("payment.test_panel"),
            self.r(*self.at((1540, 790, 300, 100), (620, 1450, 420, 110))),
            max_size=30,
            colour=MUTED,
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        t = self.t
        if self.processing:
            Spinner().draw(self, target, (540, 1100) if self.portrait else (960, 640))
            return
        left = self.app.machine.seconds_left()
        if left is not None:
            self.app.kit.draw(
                target,
                t("payment.time_left", time=minutes_seconds(left)),
                self.r(*self.at((1160, 160, 700, 80), (40, 1300, 1000, 70))),
                MUTED,
                self.app.s(36),
                self.app.s(18),
                bold=True,
                align="right" if not self.portrait else "left",
            )
        message, colour = "", INK
        if self.app.session.declined and not self.coins_in.cents:
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
                self.r(*self.at((460, 930, 1400, 120), (40, 1110, 1000, 170))),
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
        self.text(
            surface,
            self.t("issuing.hint"),
            self.r(*self.at((80, 300, 1760, 100), (40, 640, 1000, 200))),
            max_size=52,
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        Spinner().draw(self, target, (540, 1100) if self.portrait else (960, 600))


class PrintingScreen(Screen):
    """The hint and one progress indicator; the sheet as it will come out, once rendered."""

    state = State.PRINTING
    language_toggle = False

    def title(self) -> str:
        return self.t("printing.title")

    def sheet_frame(self) -> pygame.Rect:
        return self.r(*self.at((1080, 170, 760, 820), (160, 820, 760, 820)))

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface,
            self.t("printing.hint"),
            self.r(*self.at((80, 170, 960, 300), (40, 220, 1000, 260))),
            max_size=46,
            align="left",
        )
        frame = self.sheet_frame()
        pygame.draw.rect(surface, NEUTRAL, frame, border_radius=self.app.s(16))
        label = self.r(*self.at((1080, 540, 760, 80), (160, 1190, 760, 80)))
        self.text(surface, self.t("printing.preview"), label, max_size=40, colour=MUTED)

    def draw_dynamic(self, target: pygame.Surface) -> None:
        preview = self.app.flow.progress.sheet_preview
        if preview is not None:
            sheet = self.app.surface_of(preview)
            frame = self.sheet_frame()
            target.blit(sheet, sheet.get_rect(center=frame.center))
            pygame.draw.rect(target, MUTED, sheet.get_rect(center=frame.center), width=2)
        Spinner().draw(self, target, (540, 620) if self.portrait else (500, 640))


class DoneScreen(Screen):
    state = State.DONE

    def title(self) -> str:
        ephoto = self.app.session.code is not None
        return self.t("done.title_ephoto" if ephoto else "done.title_plain")

    def layout(self) -> list[Button]:
        return [
            self.button(
                "finish",
                *self.at((1360, FOOTER_Y, 500, FOOTER_H), self.footer("right")),
                self.t("done.finish"),
                style="primary",
            )
        ]

    def paint(self, surface: pygame.Surface) -> None:
        t = self.t
        session = self.app.session
        progress = self.app.flow.progress
        sheet = self.app.surface_of(progress.sheet_preview) if progress.sheet_preview else None
        self.notices(surface)
        if sheet is not None:
            frame = self.r(*self.at((1380, 170, 480, 700), (240, 1060, 600, 480)))
            small = pygame.transform.smoothscale_by(
                sheet, min(1.0, frame.height / sheet.get_height(), frame.width / sheet.get_width())
            )
            surface.blit(small, small.get_rect(center=frame.center))
        if session.code is None or progress.issued is None or session.product is None:
            self.text(
                surface,
                t("done.plain"),
                self.r(*self.at((80, 250, 1200, 300), (40, 230, 1000, 300))),
                max_size=60,
                align="left",
            )
            if session.product is not None and not session.product.ephoto:
                box = self.r(*self.at((60, 620, 1280, 220), (40, 600, 1000, 360)))
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
        box = self.r(*self.at((60, 170, 1280, 300), (40, 210, 1000, 380)))
        self.panel(surface, box, PANEL, EPHOTO, width=8)
        self.text(
            surface,
            t("done.code_label"),
            self.r(*self.at((100, 185, 1200, 56), (80, 225, 920, 70))),
            max_size=34,
            colour=EPHOTO,
            bold=True,
            align="left",
        )
        # Groups of four, wrapped only between groups (text fitting breaks at spaces).
        self.text(
            surface,
            group(session.code),
            self.r(*self.at((90, 245, 1220, 200), (70, 300, 940, 270))),
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
            self.r(*self.at((80, 500, 1260, 80), (40, 620, 1000, 80))),
            max_size=52,
            bold=True,
            align="left",
        )
        self.text(
            surface,
            t("done.use_before", before=end),
            self.r(*self.at((80, 580, 1260, 80), (40, 700, 1000, 80))),
            max_size=52,
            bold=True,
            align="left",
        )
        self.text(
            surface,
            t("done.where", site=product.site, procedure=self.procedure_name(product)),
            self.r(*self.at((80, 680, 1260, 80), (40, 800, 1000, 110))),
            max_size=42,
            align="left",
        )
        self.text(
            surface,
            t("done.confusable"),
            self.r(*self.at((80, 770, 1260, 120), (40, 920, 1000, 120))),
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
        box = self.r(*self.at((60, 890, 1260, 170), (40, 1560, 1000, 180)))
        self.panel(surface, box, WARNING_LIGHT, WARNING)
        self.text(
            surface,
            " ".join(lines),
            box.inflate(-self.app.s(40), -self.app.s(24)),
            max_size=36,
            bold=True,
            align="left",
        )
