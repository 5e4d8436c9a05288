"""Taking the photo: the countdown, the review with each photo rule's verdict, and the
signature pad."""

from __future__ import annotations

import math

import pygame
from PIL import Image

from kiosk.sale import State
from kiosk.ui.screens.base import Screen
from kiosk.ui.widgets import DANGER, EPHOTO, INK, MUTED, PANEL, PRIMARY, WHITE, Button


class CaptureScreen(Screen):
    state = State.CAPTURE
    language_toggle = False

    def title(self) -> str:
        return self.t("capture.title")

    def enter(self) -> None:
        self.live: tuple[Image.Image, pygame.Surface] | None = None
        super().enter()

    def frame(self) -> tuple[float, float, float, float]:
        return self.at((660, 240, 600, 772), (190, 330, 700, 900))

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface,
            self.t("capture.hint"),
            self.r(*self.at((80, 150, 1760, 70), (40, 200, 1000, 110))),
            max_size=40,
            colour=MUTED,
            align="left",
        )
        pygame.draw.rect(
            surface, (214, 222, 232), self.r(*self.frame()), border_radius=self.app.s(16)
        )

    def draw_guide(self, target: pygame.Surface) -> None:
        """The head outline customers line up with (chin to crown about 75 % of the height)."""
        x, y, w, h = self.frame()
        oval = self.r(x + w * 0.25, y + h * 0.078, w * 0.5, h * 0.518)
        pygame.draw.ellipse(target, PANEL, oval, width=max(3, self.app.s(8)))
        shoulders = self.r(x + w * 0.067, y + h * 0.596, w * 0.867, h * 0.404)
        pygame.draw.arc(
            target,
            PANEL,
            shoulders.inflate(0, self.app.s(200)),
            0,
            math.pi,
            max(3, self.app.s(8)),
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        live = self.app.flow.progress.live_frame
        if live is not None:
            # The camera's view, the framing guide on top of it.
            # Converted once per frame that comes (not kept: a countdown brings dozens).
            if self.live is None or self.live[0] is not live:
                self.live = (live, pygame.image.frombytes(live.tobytes(), live.size, "RGB"))
            image = self.live[1]
            frame = self.r(*self.frame())
            target.blit(image, image.get_rect(center=frame.center))
        self.draw_guide(target)
        left = self.app.flow.countdown_left()
        label = str(left) if left > 0 else self.t("capture.taking")
        box = self.r(*self.at((1320, 380, 520, 400), (290, 1300, 500, 380)))
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


class ReviewScreen(Screen):
    state = State.REVIEW

    def title(self) -> str:
        return self.t("review.title")

    def retakes_left(self) -> int:
        return self.app.machine.retake_limit - self.app.session.retakes_used

    def layout(self) -> list[Button]:
        t = self.t
        left = self.retakes_left()
        progress = self.app.flow.progress
        ok = progress.photo_ok
        if progress.busy == "keep":
            return self.footer_back_cancel(back=False)
        retake = self.button(
            "retake",
            *self.at((800, 735, 1060, 130), (40, 1570, 1000, 150)),
            t("review.retake", left=left) if left > 0 else t("review.no_retake"),
            style="primary" if not ok else "secondary",
            enabled=left > 0,
        )
        keep = self.button(
            "keep",
            *self.at((800, 560, 1060, 150), (40, 1400, 1000, 150)),
            t("review.keep"),
            style="ephoto" if ok else "secondary",
        )
        return [keep, retake, *self.footer_back_cancel(back=False)]

    def paint(self, surface: pygame.Surface) -> None:
        progress = self.app.flow.progress
        frame = self.r(*self.photo_frame())
        pygame.draw.rect(surface, PANEL, frame, border_radius=self.app.s(12))
        if progress.failures is None:
            return
        failed = {f.rule: f for f in progress.failures}
        # The rules, the verdict and the two buttons share a column: rows of at most 50 design
        # units, fewer when there are more rules, keep the verdict clear of the keep button
        # below them.
        rules = self.app.booth.photo_check.rules
        # Column: left, top, width, the keep button's top; rows of at most ``largest`` units.
        left, top, width, keep_top = (
            (800, 170, 1060, 560) if not self.portrait else (40, 880, 1000, 1400)
        )
        largest, size = (50, 36) if not self.portrait else (64, 44)
        step = min(largest, (keep_top - top - 72) // max(1, len(rules)))

        y = top
        for rule in rules:
            ok = rule not in failed
            colour = EPHOTO if ok else DANGER
            mark = "✓" if ok else "✗"
            key = failed[rule].message_key if not ok else f"review.check_{rule}"
            row = step - 2
            self.text(
                surface, mark, self.r(left, y, 60, row), max_size=44, bold=True, colour=colour
            )
            self.text(
                surface,
                self.t(key),
                self.r(left + 70, y, width - 70, row),
                max_size=size,
                align="left",
            )
            y += step
        verdict = self.t("review.framing_ok" if progress.photo_ok else "review.framing_bad")
        self.text(
            surface,
            verdict,
            self.r(left, y + 8, width, 56),
            max_size=36,
            bold=True,
            colour=EPHOTO if progress.photo_ok else DANGER,
            align="left",
        )

    def draw_dynamic(self, target: pygame.Surface) -> None:
        preview = self.app.flow.progress.photo_preview
        if preview is not None:
            image = self.app.surface_of(preview)
            frame = self.r(*self.photo_frame())
            target.blit(image, image.get_rect(center=frame.center))

    def photo_frame(self) -> tuple[float, float, float, float]:
        return self.at((100, 180, 640, 820), (280, 200, 520, 660))

    def on_button(self, bid: str) -> None:
        if bid == "retake":
            self.app.flow.retake()
        elif bid == "keep":
            self.app.flow.keep_photo()
            self.refresh()
        else:
            super().on_button(bid)


class SignatureScreen(Screen):
    state = State.SIGNATURE
    MIN_INK = 150  # pixels of stroke before a signature counts

    def title(self) -> str:
        return self.t("signature.title")

    def enter(self) -> None:
        self.pad_rect = self.r(*self.at((160, 230, 1600, 640), (40, 420, 1000, 620)))
        self.pad = pygame.Surface(self.pad_rect.size).convert()
        self.pad.fill(WHITE)
        self.ink = 0.0
        self.last: tuple[int, int] | None = None
        super().enter()

    def layout(self) -> list[Button]:
        t = self.t
        return [
            self.button("clear", *self.footer("left"), t("signature.clear"), style="secondary"),
            self.button("cancel", *self.footer("middle"), t("common.cancel"), style="ghost"),
            self.button(
                "signed",
                *self.footer("wide"),
                t("signature.done"),
                style="primary",
                enabled=self.ink >= self.MIN_INK,
            ),
        ]

    def paint(self, surface: pygame.Surface) -> None:
        self.text(
            surface,
            self.t("signature.hint"),
            self.r(*self.at((80, 150, 1760, 70), (40, 220, 1000, 140))),
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
            self.buttons = [b for b in self.buttons if b.id != "signed"]
            self.app.flow.sign(pygame.image.tobytes(self.pad, "RGB"), self.pad.get_size())
        else:
            super().on_button(bid)
