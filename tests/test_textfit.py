"""The text-fitting rule shared by the sheet and the screen: the largest size that fits the box,
word wrapping, and an ellipsis (never an overflow) when even the smallest size is too big."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ephoto.assets import asset
from kiosk.textfit import ELLIPSIS, FittedText, PillowMeasure, fit_paragraphs, fit_text, wrap


def mono(text: str, size: int) -> tuple[float, float]:
    """A fake fixed-pitch font: every character 0.6 em wide, lines 1.2 em tall."""
    return 0.6 * size * len(text), 1.2 * size


def inside(fitted: FittedText, width: float, height: float) -> bool:
    return fitted.width <= width and fitted.height <= height


def test_short_text_gets_the_largest_size_that_fits():
    fitted = fit_text("ePhoto", 360, 100, mono, max_size=200, min_size=8)
    # 6 characters * 0.6 em <= 360 px gives 100 px; the height (1.2 em <= 100) gives 83.
    assert fitted.size == 83
    assert fitted.lines == ("ePhoto",)
    assert not fitted.truncated


def test_the_size_found_is_the_edge_one_point_more_does_not_fit():
    text = "Attendez 72 heures avant de saisir votre numéro sur le site de l'ANTS."
    fitted = fit_text(text, 500, 160, mono, max_size=120, min_size=6)
    assert inside(fitted, 500, 160) and not fitted.truncated
    bigger = fit_text(text, 500, 160, mono, max_size=fitted.size + 1, min_size=fitted.size + 1)
    assert bigger.truncated or not inside(bigger, 500, 160)


def test_text_wraps_at_word_boundaries_and_keeps_every_word():
    text = "one use only, valid for six months"
    fitted = fit_text(text, 200, 400, mono, max_size=40, min_size=10)
    assert len(fitted.lines) > 1
    assert " ".join(fitted.lines) == text
    assert all(w <= 200 for w in fitted.widths)


def test_max_lines_forces_a_smaller_size_instead_of_another_line():
    text = "Photos d'identité carte d'identité adulte"
    free = fit_text(text, 400, 400, mono, max_size=60, min_size=8)
    one_line = fit_text(text, 400, 400, mono, max_size=60, min_size=8, max_lines=1)
    assert len(one_line.lines) == 1 and one_line.size < free.size


def test_over_long_translation_is_cut_with_an_ellipsis_and_stays_in_the_box():
    long = " ".join(["Rechtsanwaltsgehilfinnenausbildungsverordnung"] + ["word"] * 200)
    fitted = fit_text(long, 300, 80, mono, max_size=40, min_size=12)
    assert fitted.truncated
    assert fitted.size == 12
    assert fitted.lines[-1].endswith(ELLIPSIS)
    assert inside(fitted, 300, 80)


def test_a_box_shorter_than_one_line_at_min_size_gets_no_line_rather_than_an_overflow():
    fitted = fit_text("ePhoto", 300, 5, mono, max_size=40, min_size=12)
    assert fitted.lines == () and fitted.truncated and fitted.height == 0


def test_explicit_newlines_start_new_lines():
    assert wrap("a b\nc", 1000, 10, mono) == ["a b", "c"]


def test_positions_center_each_line_in_the_box():
    fitted = fit_text("aa bbbb", 60, 100, mono, max_size=10, min_size=10)
    assert fitted.lines == ("aa bbbb",) or fitted.lines == ("aa", "bbbb")
    placed = fitted.positions(100, 100, align="center", valign="middle")
    for (line, x, _), width in zip(placed, fitted.widths, strict=True):
        assert abs(x - (100 - width) / 2) <= 0.5, line
    assert placed[0][2] == round((100 - fitted.height) / 2)


def test_bad_sizes_are_refused_with_the_rule():
    with pytest.raises(ValueError, match="min_size <= max_size"):
        fit_text("x", 10, 10, mono, max_size=5, min_size=8)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=300),
    width=st.integers(20, 800),
    height=st.integers(1, 400),
)
def test_the_result_never_exceeds_the_box(text, width, height):
    fitted = fit_text(text, width, height, mono, max_size=64, min_size=8)
    assert inside(fitted, width, height)


def test_pillow_text_drawn_at_the_fitted_positions_inks_only_inside_the_box():
    """The real font on a real image: an over-long English line drawn where fit_text says."""
    measure = PillowMeasure(asset("fonts", "DejaVuSans.ttf"))
    text = (
        "Wait 72 hours before entering your number on the ANTS website, type it in capital "
        "letters, and remember that it can be used only once. " * 6
    )
    box_x, box_y, box_w, box_h = 50, 50, 500, 120
    fitted = fit_text(text, box_w, box_h, measure, max_size=60, min_size=18)
    assert fitted.truncated and fitted.lines[-1].endswith(ELLIPSIS)
    image = Image.new("L", (600, 220), 255)
    draw = ImageDraw.Draw(image)
    font = measure.font(fitted.size)
    for line, x, y in fitted.positions(box_w, box_h):
        draw.text((box_x + x, box_y + y), line, font=font, fill=0, anchor="la")
    left, top, right, bottom = Image.eval(image, lambda v: 255 - v).getbbox()
    assert left >= box_x and top >= box_y
    assert right <= box_x + box_w and bottom <= box_y + box_h


def test_numbered_paragraphs_share_one_size_and_wrap_beside_their_marker():
    steps = ["Wait 72 hours before entering it.", "Type it in capitals.", "One use only."]
    fitted = fit_paragraphs(steps, 300, 300, mono, 60, 8, markers=["1.", "2.", "3."])
    assert not fitted.truncated and fitted.height <= 300
    assert all(b.size == fitted.size for b in fitted.blocks)
    assert fitted.indent >= mono("1. ", fitted.size)[0]
    assert all(w <= 300 - fitted.indent for b in fitted.blocks for w in b.widths)
    assert [" ".join(b.lines) for b in fitted.blocks] == steps
    assert list(fitted.tops) == sorted(fitted.tops)
    bigger = fit_paragraphs(
        steps, 300, 300, mono, fitted.size + 1, fitted.size + 1, markers=["1.", "2.", "3."]
    )
    assert bigger.truncated


def test_paragraphs_too_long_for_the_box_are_cut_with_an_ellipsis_inside_it():
    steps = ["word " * 80, "never shown"]
    fitted = fit_paragraphs(steps, 200, 100, mono, 30, 12, markers=["1.", "2."])
    assert fitted.truncated and fitted.size == 12
    assert len(fitted.blocks) == 1 and fitted.blocks[0].lines[-1].endswith(ELLIPSIS)
    assert fitted.height <= 100


def test_a_no_break_space_never_ends_a_line():
    """French typography's no-break spaces (before ':' and '€', inside '2 min 05 s') hold
    their words together; an ordinary space is where lines break."""
    text = "Reste à payer\u00a0: 6,00\u00a0€ dans 2\u00a0min\u00a005\u00a0s"
    lines = wrap(text, 14 * 0.6 * 10, 10, mono)
    assert lines is not None
    assert "2\u00a0min\u00a005\u00a0s" in lines and any("6,00\u00a0€" in line for line in lines)
    assert all(not line.startswith(("€", ":", "s")) for line in lines)
