"""Fit text to a box: the largest font size at which the wrapped text fits, for sheet and screen.

Toolkit-neutral: the caller supplies ``measure(text, size) -> (width, height)`` in pixels, so the
printed sheet (Pillow, :class:`PillowMeasure`) and the touchscreen (pygame) share one rule. A
longer translation gets a smaller size, then wraps; when even ``min_size`` is too big, the text
is cut with an ellipsis on the last line that fits. The result never exceeds the box.

Vertical model: consecutive lines are ``ceil(size * line_spacing)`` pixels apart (baseline to
baseline), and the block is ``(lines - 1) * step + line height`` tall, where the line height is
the tallest ``measure`` height of the lines (for Pillow: ascent + descent of the font).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import ImageFont

Measure = Callable[[str, int], tuple[float, float]]
"""``measure(text, size) -> (width, height)`` in pixels for ``text`` drawn at font ``size``."""

ELLIPSIS = "…"

HAlign = Literal["left", "center", "right"]
VAlign = Literal["top", "middle", "bottom"]


@dataclass(frozen=True)
class FittedText:
    """Text laid out in a box: the font size, the lines and their measured widths.

    ``truncated`` is true when the text did not fit even at the minimum size and was cut
    (the last line then ends with an ellipsis, or no line fitted the height at all).
    """

    size: int
    lines: tuple[str, ...]
    widths: tuple[float, ...]
    line_height: float
    step: int
    truncated: bool = False

    @property
    def width(self) -> float:
        return max(self.widths, default=0.0)

    @property
    def height(self) -> float:
        if not self.lines:
            return 0.0
        return (len(self.lines) - 1) * self.step + self.line_height

    def positions(
        self,
        box_width: float,
        box_height: float,
        align: HAlign = "left",
        valign: VAlign = "top",
    ) -> list[tuple[str, int, int]]:
        """Each line with its top-left offset inside the box, for the chosen alignment."""
        free_y = box_height - self.height
        top = {"top": 0.0, "middle": free_y / 2, "bottom": free_y}[valign]
        placed: list[tuple[str, int, int]] = []
        for index, (line, line_width) in enumerate(zip(self.lines, self.widths, strict=True)):
            free_x = box_width - line_width
            left = {"left": 0.0, "center": free_x / 2, "right": free_x}[align]
            placed.append((line, round(left), round(top + index * self.step)))
        return placed


def _split_long_word(word: str, width: float, size: int, measure: Measure) -> list[str]:
    """A word wider than the box, cut into pieces that each fit (only used at the minimum size)."""
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and measure(current + char, size)[0] > width:
            pieces.append(current)
            current = char
        else:
            current += char
    if current:
        pieces.append(current)
    return pieces


BREAKS = re.compile(r"[^\S\u00a0\u2007\u202f]+")
"""Where a line may break: white space, except the no-break spaces (French typography puts
them before ``:`` and ``€``, and ``2 min 05 s`` must stay on one line)."""


def wrap(
    text: str, width: float, size: int, measure: Measure, break_words: bool = False
) -> list[str] | None:
    """Greedy word wrap of ``text`` at ``size``; ``None`` if a word alone is wider than ``width``
    (unless ``break_words``, which cuts such a word). Explicit newlines start a new line; a
    no-break space never ends one."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words = [word for word in BREAKS.split(paragraph) if word]
        if not words:
            lines.append("")
            continue
        current = ""
        for word in words:
            candidate = f"{current} {word}" if current else word
            if measure(candidate, size)[0] <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
                current = ""
            if measure(word, size)[0] <= width:
                current = word
            elif break_words:
                *full, current = _split_long_word(word, width, size, measure)
                lines.extend(full)
            else:
                return None
        lines.append(current)
    return lines


def _layout(
    lines: list[str], size: int, measure: Measure, line_spacing: float, truncated: bool = False
) -> FittedText:
    metrics = [measure(line or " ", size) for line in lines]
    return FittedText(
        size=size,
        lines=tuple(lines),
        widths=tuple(0.0 if not line else w for line, (w, _) in zip(lines, metrics, strict=True)),
        line_height=max((h for _, h in metrics), default=0.0),
        step=math.ceil(size * line_spacing),
        truncated=truncated,
    )


def _fits(fitted: FittedText, width: float, height: float, max_lines: int | None) -> bool:
    if max_lines is not None and len(fitted.lines) > max_lines:
        return False
    return fitted.width <= width and fitted.height <= height


def _try(
    text: str,
    width: float,
    height: float,
    size: int,
    measure: Measure,
    line_spacing: float,
    max_lines: int | None,
) -> FittedText | None:
    lines = wrap(text, width, size, measure)
    if lines is None:
        return None
    fitted = _layout(lines, size, measure, line_spacing)
    return fitted if _fits(fitted, width, height, max_lines) else None


def _ellipsize(line: str, width: float, size: int, measure: Measure) -> str:
    """``line`` shortened (at a word boundary if possible) so that ``line + …`` fits."""
    words = line.split()
    while len(words) > 1:
        words.pop()
        candidate = " ".join(words).rstrip(",;:.") + ELLIPSIS
        if measure(candidate, size)[0] <= width:
            return candidate
    chars = line
    while chars:
        candidate = chars.rstrip() + ELLIPSIS
        if measure(candidate, size)[0] <= width:
            return candidate
        chars = chars[:-1]
    return ELLIPSIS if measure(ELLIPSIS, size)[0] <= width else ""


def _truncate(
    text: str,
    width: float,
    height: float,
    size: int,
    measure: Measure,
    line_spacing: float,
    max_lines: int | None,
) -> FittedText:
    lines = wrap(text, width, size, measure, break_words=True) or [""]
    line_height = max(measure(line or " ", size)[1] for line in lines)
    step = math.ceil(size * line_spacing)
    room = 0 if height < line_height else 1 + int((height - line_height) // step)
    if max_lines is not None:
        room = min(room, max_lines)
    if room >= len(lines):
        return _layout(lines, size, measure, line_spacing)
    if room == 0:
        return FittedText(size, (), (), line_height, step, truncated=True)
    kept = lines[:room]
    kept[-1] = _ellipsize(kept[-1] + " " + lines[room], width, size, measure)
    return _layout(kept, size, measure, line_spacing, truncated=True)


def fit_text(
    text: str,
    width: float,
    height: float,
    measure: Measure,
    max_size: int,
    min_size: int,
    line_spacing: float = 1.15,
    max_lines: int | None = None,
) -> FittedText:
    """The largest size in ``[min_size, max_size]`` at which ``text``, word-wrapped, fits
    ``width`` x ``height`` (and at most ``max_lines`` lines, if given).

    If nothing fits at ``min_size``, the text is laid out at ``min_size`` and cut: the last line
    that fits ends with an ellipsis and ``truncated`` is set; over-long words are broken. The
    returned block is never wider than ``width`` nor taller than ``height``.
    """
    if min_size < 1 or max_size < min_size:
        raise ValueError(
            f"font sizes must satisfy 1 <= min_size <= max_size, got {min_size}, {max_size}"
        )
    if width <= 0 or height <= 0:
        raise ValueError(f"the box must have a positive size, got {width} x {height}")
    best: FittedText | None = None
    low, high = min_size, max_size
    # Wrapped text grows with the font size, so "fits" is monotone and a bisection finds the edge.
    while low <= high:
        middle = (low + high) // 2
        fitted = _try(text, width, height, middle, measure, line_spacing, max_lines)
        if fitted is not None:
            best, low = fitted, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best
    return _truncate(text, width, height, min_size, measure, line_spacing, max_lines)


@dataclass(frozen=True)
class FittedParagraphs:
    """Several paragraphs at one common size, each with a marker ("1.", "•") in a hanging
    indent: ``blocks[i]`` starts ``tops[i]`` pixels below the box top, ``indent`` pixels in."""

    size: int
    indent: int
    markers: tuple[str, ...]
    blocks: tuple[FittedText, ...]
    tops: tuple[int, ...]
    truncated: bool = False

    @property
    def height(self) -> float:
        if not self.blocks:
            return 0.0
        return self.tops[-1] + self.blocks[-1].height


def _stack(
    paragraphs: Sequence[str],
    markers: Sequence[str],
    width: float,
    height: float,
    size: int,
    measure: Measure,
    line_spacing: float,
    gap: float,
    truncate: bool,
) -> FittedParagraphs | None:
    indent = math.ceil(max((measure(m + " ", size)[0] for m in markers if m), default=0.0))
    text_width = width - indent
    if text_width <= 0:
        return None
    blocks: list[FittedText] = []
    tops: list[int] = []
    top = 0.0
    for paragraph in paragraphs:
        room = height - top
        fitted = _try(paragraph, text_width, room, size, measure, line_spacing, None)
        if fitted is None:
            if not truncate:
                return None
            if room > 0:
                fitted = _truncate(paragraph, text_width, room, size, measure, line_spacing, None)
                if fitted.lines:
                    blocks.append(fitted)
                    tops.append(round(top))
            return FittedParagraphs(
                size, indent, tuple(markers[: len(blocks)]), tuple(blocks), tuple(tops), True
            )
        blocks.append(fitted)
        tops.append(round(top))
        top += fitted.height + gap * size
    return FittedParagraphs(size, indent, tuple(markers), tuple(blocks), tuple(tops))


def fit_paragraphs(
    paragraphs: Sequence[str],
    width: float,
    height: float,
    measure: Measure,
    max_size: int,
    min_size: int,
    line_spacing: float = 1.15,
    gap: float = 0.45,
    markers: Sequence[str] | None = None,
) -> FittedParagraphs:
    """The largest common size at which every paragraph fits, stacked with ``gap`` em between
    them, each wrapped beside its marker (hanging indent). At ``min_size`` and still too long,
    the first paragraph that does not fit is cut with an ellipsis and the rest is left out."""
    if min_size < 1 or max_size < min_size:
        raise ValueError(
            f"font sizes must satisfy 1 <= min_size <= max_size, got {min_size}, {max_size}"
        )
    marks = list(markers) if markers is not None else [""] * len(paragraphs)
    if len(marks) != len(paragraphs):
        raise ValueError(f"{len(marks)} markers for {len(paragraphs)} paragraphs")
    best: FittedParagraphs | None = None
    low, high = min_size, max_size
    while low <= high:
        middle = (low + high) // 2
        found = _stack(paragraphs, marks, width, height, middle, measure, line_spacing, gap, False)
        if found is not None:
            best, low = found, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best
    found = _stack(paragraphs, marks, width, height, min_size, measure, line_spacing, gap, True)
    return found or FittedParagraphs(min_size, 0, (), (), (), True)


class PillowMeasure:
    """A :data:`Measure` for one TrueType font drawn with Pillow (advance width, ascent +
    descent), which also hands out the font at each size, loaded once and cached.

    Widths are remembered: a booth prints the same sentences sale after sale, and the size
    search measures the same words at the same sizes, so most calls become a dict lookup.
    """

    MAX_REMEMBERED = 50_000

    def __init__(self, font_path: str | Path):
        self.font_path = Path(font_path)
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._heights: dict[int, float] = {}
        self._widths: dict[tuple[str, int], float] = {}

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        face = self._fonts.get(size)
        if face is None:
            face = self._fonts[size] = ImageFont.truetype(str(self.font_path), size)
            ascent, descent = face.getmetrics()
            self._heights[size] = float(ascent + descent)
        return face

    def __call__(self, text: str, size: int) -> tuple[float, float]:
        key = (text, size)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) >= self.MAX_REMEMBERED:
                self._widths.clear()
            width = self._widths[key] = self.font(size).getlength(text)
        else:
            self.font(size)
        return width, self._heights[size]
