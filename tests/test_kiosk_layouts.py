"""Every screen in the three layouts (landscape 1920 x 1080, portrait 1080 x 1920, small 1024 x
600), checked by layout rules: no text cut or outside its box, none smaller than 18 px, no
text hidden under a button, no two buttons on each other, the screen used in its height and
width, the ePhoto number never broken inside a group of four.

Each layout is toured by a French and an English customer. The screenshots are kept as test
artefacts in ``build/screens/LAYOUT-LANG/`` (``CABINE_SCREENS`` names another folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pygame
import pytest

from ephoto import code as codes
from kiosk.ui.app import MIN_TEXT_PX
from kiosk.ui.widgets import PlacedText
from tests.screen_tour import LAYOUTS, Stop, tour

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = Path(os.environ.get("CABINE_SCREENS") or ROOT / "build" / "screens")
SLACK = 2
"""Pixels a line may pass its box by: glyph measures are scaled from one reference size."""

EVERY_SCREEN = {
    "attract",
    "language",
    "category",
    "product-ephoto",
    "product-identity",
    "product-photos",
    "confirm-warning",
    "confirm-plain",
    "confirm-ephoto",
    "capture",
    "review",
    "signature",
    "signature-signed",
    "payment",
    "payment-processing",
    "payment-declined",
    "payment-still-there",
    "payment-coins",
    "issuing",
    "printing",
    "done-ephoto",
    "done-id-card-adult",
    "done-fun",
    "money_back",
    "issue_failed",
    "refused",
    "maintenance",
    "operator_pin",
    "operator_pin-locked",
    "operator",
    "failsafe",
}


@pytest.fixture(
    scope="module", params=[(layout, lang) for layout in LAYOUTS for lang in ("fr", "en")]
)
def toured(request, tmp_path_factory) -> tuple[str, tuple[int, int], list[Stop]]:
    layout, lang = request.param
    size = LAYOUTS[layout]
    data = tmp_path_factory.mktemp(f"tour-{layout}-{lang}")
    stops = tour(data, size, ARTEFACTS / f"{layout}-{lang}", lang)
    return layout, size, stops


def every_text(stop: Stop) -> list[PlacedText]:
    return [*stop.texts, *(p for texts in stop.button_texts.values() for p in texts)]


def described(stop: Stop, placed: PlacedText) -> str:
    return f"{stop.name}: {placed.text!r} in {tuple(placed.box)} at {placed.fitted.size} px"


def test_the_tour_sees_every_screen(toured):
    layout, _, stops = toured
    assert {stop.name for stop in stops} == EVERY_SCREEN
    assert all(stop.screenshot.is_file() for stop in stops)


def test_no_text_is_cut_or_outside_its_box_or_the_screen(toured):
    layout, size, stops = toured
    window = pygame.Rect(0, 0, *size)
    bad = []
    for stop in stops:
        for placed in every_text(stop):
            if not placed.text.strip():
                continue
            if placed.fitted.truncated:
                bad.append(f"cut: {described(stop, placed)}")
            box = placed.box.inflate(2 * SLACK, 2 * SLACK)
            for line in placed.lines:
                if not box.contains(line):
                    bad.append(f"outside its box: {described(stop, placed)} line {tuple(line)}")
                if not window.contains(line):
                    bad.append(f"off the screen: {described(stop, placed)}")
    assert not bad, "\n".join(bad)


def test_no_text_is_smaller_than_18_px(toured):
    layout, _, stops = toured
    small = [
        described(stop, placed)
        for stop in stops
        for placed in every_text(stop)
        if placed.text.strip() and placed.fitted.size < MIN_TEXT_PX
    ]
    assert MIN_TEXT_PX == 18
    assert not small, "\n".join(small)


def test_no_text_is_hidden_under_a_button_and_no_button_covers_another(toured):
    layout, size, stops = toured
    window = pygame.Rect(0, 0, *size)
    bad = []
    for stop in stops:
        buttons = [b for b in stop.buttons]
        for i, button in enumerate(buttons):
            if not window.contains(button.rect):
                bad.append(f"{stop.name}: button {button.id} off the screen")
            for other in buttons[i + 1 :]:
                if button.rect.colliderect(other.rect):
                    bad.append(f"{stop.name}: buttons {button.id} and {other.id} overlap")
        for placed in stop.texts:
            for line in placed.lines:
                for button in buttons:
                    if line.colliderect(button.rect):
                        bad.append(f"under {button.id}: {described(stop, placed)}")
    assert not bad, "\n".join(bad)


def test_texts_of_a_screen_do_not_run_into_each_other(toured):
    layout, _, stops = toured
    bad = []
    for stop in stops:
        lines = [(placed, line) for placed in stop.texts for line in placed.lines if placed.text]
        for i, (a, line_a) in enumerate(lines):
            for b, line_b in lines[i + 1 :]:
                if a is not b and line_a.colliderect(line_b):
                    bad.append(f"{stop.name}: {a.text!r} runs into {b.text!r}")
    assert not bad, "\n".join(bad)


def test_every_screen_uses_the_height_and_width_of_the_window(toured):
    """No layout sits in a band of the screen (a 16:9 layout on a portrait screen leaves two
    thirds of it empty): what is drawn on the background spans most of both directions."""
    from PIL import Image, ImageChops

    from kiosk.ui.widgets import BACKGROUND

    layout, size, stops = toured
    thin = []
    for stop in stops:
        with Image.open(stop.screenshot) as shot:
            drawn = ImageChops.difference(shot.convert("RGB"), Image.new("RGB", size, BACKGROUND))
        left, top, right, bottom = (
            drawn.convert("L").point(lambda v: 255 if v > 12 else 0).getbbox()
        )
        if bottom - top < 0.5 * size[1] or right - left < 0.5 * size[0]:
            thin.append(f"{stop.name}: {(left, top, right, bottom)}")
    assert not thin, "\n".join(thin)


def test_the_number_on_the_done_screen_never_breaks_inside_a_group(toured):
    layout, _, stops = toured
    done = next(stop for stop in stops if stop.name == "done-ephoto")
    shown = [p for p in done.texts if p.text.replace(" ", "").startswith("9PMT")]
    assert len(shown) == 1
    number = shown[0]
    assert number.fitted.size >= 36 or layout == "small"
    groups = number.text.split(" ")
    assert codes.group(number.text.replace(" ", "")) == number.text
    for line in number.fitted.lines:
        assert all(word in groups for word in line.split()), number.fitted.lines
    assert "".join(number.fitted.lines).replace(" ", "") == number.text.replace(" ", "")


def test_work_in_progress_shows_one_progress_indicator(toured):
    layout, _, stops = toured
    shown = {stop.name: stop.spinners for stop in stops}
    assert shown["payment-processing"] == shown["issuing"] == shown["printing"] == 1
    assert max(shown.values()) == 1
