"""Line charts for the simulation and sweep reports, drawn with Pillow.

Their plots are plain line charts: a few thousand points at most, a filled area or a
confidence band, a dashed marker line, a legend. Pillow (already the booth's image library)
draws one in about 20 ms, where matplotlib needs about 0.45 s of mostly Python work just to be
imported, as long as the whole simulated season's numpy work. A :class:`Chart` is drawn at
:data:`SUPERSAMPLE` times its size and reduced by averaging, so lines and text are smooth.
Tick labels are written as the report's language writes numbers (``0,8`` in French).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from ephoto.assets import asset
from ephoto.texts import DEFAULT_LANGUAGE, format_number

SUPERSAMPLE = 2
# Colours of the frame, the ticks' text, the grid.
INK = "#262626"
GRID = "#e3e3e3"
# Font sizes in pixels of the final image.
TICK_SIZE, LABEL_SIZE, TITLE_SIZE = 13, 14, 16
# zlib's fastest level: a third of the encoding time for images of a few flat colours.
PNG_OPTIONS = {"compress_level": 1}


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(asset("fonts", name)), size)


def nice_ticks(low: float, high: float, most: int = 8) -> np.ndarray:
    """Round values from ``low`` to ``high`` (both included when round), at most ``most + 1``
    of them, a step of 1, 2, 2.5 or 5 times a power of ten, as a reader expects on an axis."""
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        raise ValueError(f"no ticks for the range [{low}, {high}]")
    span = high - low
    if span == 0:
        span = abs(low) or 1.0
    raw = span / most
    power = 10.0 ** math.floor(math.log10(raw))
    step = 10 * power
    for mantissa in (1.0, 2.0, 2.5, 5.0):
        if mantissa * power >= raw * (1 - 1e-9):
            step = mantissa * power
            break
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    values = np.arange(first, last + 1) * step
    values[values == 0] = 0.0  # no "-0"
    return values


def tick_decimals(values: np.ndarray) -> int:
    """The fewest decimals that write every value of evenly spaced ``values`` exactly."""
    if values.size < 2:
        return 0
    step = float(values[1] - values[0])
    for digits in range(0, 10):
        scaled = step * 10**digits
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, abs(scaled)):
            return digits
    return 10


@dataclass
class _Series:
    x: np.ndarray
    y: np.ndarray
    color: str
    width: float
    marker: float
    fill: float
    label: str | None


@dataclass
class _Band:
    x: np.ndarray
    low: np.ndarray
    high: np.ndarray
    color: str
    alpha: float


@dataclass
class _Rule:
    """A line across the plot at ``value`` on the x axis (vertical) or the y axis."""

    vertical: bool
    value: float
    color: str
    width: float
    dashed: bool
    alpha: float
    label: str | None


@dataclass
class _Note:
    text: str
    x: float
    y: float
    color: str
    offset: tuple[float, float]


@dataclass
class Chart:
    """One line chart of ``size`` pixels: add series, rules and notes, then :meth:`save`.

    Axis limits not given are the data's, widened by 5 % on each side. ``xticks``: the x
    axis's ticks as (position, label) instead of round values, as for categories."""

    title: str
    xlabel: str
    ylabel: str
    lang: str = DEFAULT_LANGUAGE
    size: tuple[int, int] = (880, 495)
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    xticks: list[tuple[float, str]] | None = None
    _series: list[_Series] = field(default_factory=list, init=False)
    _bands: list[_Band] = field(default_factory=list, init=False)
    _rules: list[_Rule] = field(default_factory=list, init=False)
    _notes: list[_Note] = field(default_factory=list, init=False)

    def line(
        self,
        x: np.ndarray,
        y: np.ndarray,
        color: str,
        width: float = 1.5,
        marker: float = 0.0,
        fill: float = 0.0,
        label: str | None = None,
    ) -> None:
        """A line through the points (broken where a value is NaN), with dots of diameter
        ``marker`` at each point and the area down to zero filled at opacity ``fill``."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"x and y must be two arrays of one size, not {x.shape}, {y.shape}")
        self._series.append(_Series(x, y, color, width, marker, fill, label))

    def band(
        self, x: np.ndarray, low: np.ndarray, high: np.ndarray, color: str, alpha: float = 0.2
    ) -> None:
        """The area between the lines through (x, low) and (x, high), at opacity ``alpha``."""
        x, low, high = (np.asarray(a, dtype=float) for a in (x, low, high))
        if not x.shape == low.shape == high.shape or x.ndim != 1:
            raise ValueError("x, low and high must be three arrays of one size")
        self._bands.append(_Band(x, low, high, color, alpha))

    def rule(
        self,
        *,
        x: float | None = None,
        y: float | None = None,
        color: str,
        width: float = 1.0,
        dashed: bool = False,
        alpha: float = 1.0,
        label: str | None = None,
    ) -> None:
        """A line across the whole plot: vertical at ``x`` or horizontal at ``y``."""
        if (x is None) == (y is None):
            raise ValueError("a rule is at one x or one y")
        value = x if x is not None else y
        assert value is not None
        self._rules.append(_Rule(x is not None, float(value), color, width, dashed, alpha, label))

    def note(
        self, text: str, x: float, y: float, color: str, offset: tuple[float, float] = (8, 6)
    ) -> None:
        """``text`` near the data point (x, y), ``offset`` pixels right and down from it."""
        self._notes.append(_Note(text, float(x), float(y), color, offset))

    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The x and y ranges the plot shows."""
        return (
            self.xlim or self._data_range(0),
            self.ylim or self._data_range(1),
        )

    def _data_range(self, axis: int) -> tuple[float, float]:
        values = [s.x if axis == 0 else s.y for s in self._series]
        for band in self._bands:
            values += [band.x] if axis == 0 else [band.low, band.high]
        values += [np.array([r.value]) for r in self._rules if r.vertical == (axis == 0)]
        if axis == 1 and any(s.fill for s in self._series):
            values.append(np.zeros(1))
        finite = np.concatenate(values) if values else np.zeros(0)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return 0.0, 1.0
        low, high = float(finite.min()), float(finite.max())
        margin = 0.05 * (high - low) if high > low else 0.5 * (abs(low) or 1.0)
        return low - margin, high + margin

    def render(self) -> Image.Image:
        """The chart as an RGB image of :attr:`size`."""
        s = SUPERSAMPLE
        width, height = self.size
        (x0, x1), (y0, y1) = self.limits()
        if self.xticks is not None:
            xticks = np.array([position for position, _ in self.xticks], dtype=float)
            xlabels = [label for _, label in self.xticks]
        else:
            xticks = nice_ticks(x0, x1)
            xlabels = _tick_labels(xticks, self.lang)
        yticks = nice_ticks(y0, y1, most=6)
        ylabels = _tick_labels(yticks, self.lang)
        tick_font, label_font = _font(TICK_SIZE * s), _font(LABEL_SIZE * s)
        title_font = _font(TITLE_SIZE * s)
        tick_height = _text_height(tick_font)
        label_height = _text_height(label_font)
        tick_length, gap, pad = 4 * s, 5 * s, 8 * s
        widest = max((tick_font.getlength(text) for text in ylabels), default=0.0)
        # The plot area's edges on whole pixels of the final image: a crisp frame.
        left = math.ceil((pad + label_height + 2 * gap + widest + tick_length) / s) * s
        last = tick_font.getlength(xlabels[-1]) if xlabels else 0.0
        right = math.floor((width * s - pad - max(0.0, last / 2 - pad)) / s) * s
        top = math.ceil((pad + _text_height(title_font) + 2 * gap) / s) * s
        bottom = (
            math.floor((height * s - pad - label_height - 2 * gap - tick_height - tick_length) / s)
            * s
        )
        area = (right - left, bottom - top)

        def px(values: np.ndarray | float) -> np.ndarray:
            return (np.asarray(values, dtype=float) - x0) * (area[0] / (x1 - x0))

        def py(values: np.ndarray | float) -> np.ndarray:
            return (y1 - np.asarray(values, dtype=float)) * (area[1] / (y1 - y0))

        plot = Image.new("RGB", area, "white")
        draw = ImageDraw.Draw(plot, "RGBA")
        for x in px(xticks):
            draw.line([(x, 0), (x, area[1])], fill=GRID, width=s)
        for y in py(yticks):
            draw.line([(0, y), (area[0], y)], fill=GRID, width=s)
        for band in self._bands:
            rgba = (*ImageColor.getrgb(band.color)[:3], round(255 * band.alpha))
            xs = px(band.x)
            outline = np.concatenate(
                (np.column_stack((xs, py(band.low))), np.column_stack((xs, py(band.high)))[::-1])
            )
            draw.polygon(outline.ravel().tolist(), fill=rgba)
        points = []
        for series in self._series:
            xs, ys = px(series.x), py(series.y)
            _draw_series(plot, draw, series, xs, ys, float(py(0.0)), s)
            points.append(np.column_stack((xs, ys)))
        for rule in self._rules:
            _draw_rule(
                draw, rule, area, float(px(rule.value) if rule.vertical else py(rule.value)), s
            )

        canvas = Image.new("RGB", (width * s, height * s), "white")
        canvas.paste(plot, (left, top))
        ink = ImageDraw.Draw(canvas)
        ink.rectangle([left - s, top - s, right + s - 1, bottom + s - 1], outline=INK, width=s)
        for value, text in zip(px(xticks) + left, xlabels, strict=True):
            ink.line([(value, bottom), (value, bottom + tick_length)], fill=INK, width=s)
            ink.text(
                (value, bottom + tick_length + gap), text, fill=INK, font=tick_font, anchor="ma"
            )
        for value, text in zip(py(yticks) + top, ylabels, strict=True):
            ink.line([(left - tick_length, value), (left, value)], fill=INK, width=s)
            ink.text((left - tick_length - gap, value), text, fill=INK, font=tick_font, anchor="rm")
        ink.text(((left + right) / 2, pad), self.title, fill="black", font=title_font, anchor="ma")
        ink.text(
            ((left + right) / 2, height * s - pad),
            self.xlabel,
            fill="black",
            font=label_font,
            anchor="md",
        )
        _vertical_text(canvas, self.ylabel, (pad, (top + bottom) / 2), label_font)
        for note in self._notes:
            where = (
                left + float(px(note.x)) + note.offset[0] * s,
                top + float(py(note.y)) + note.offset[1] * s,
            )
            ink.text(where, note.text, fill=note.color, font=tick_font, anchor="la")
        self._legend(ink, (left, top, right, bottom), points, tick_font, s)
        return canvas.reduce(s)

    def _legend(
        self,
        ink: ImageDraw.ImageDraw,
        frame: tuple[int, int, int, int],
        points: list[np.ndarray],
        font: ImageFont.FreeTypeFont,
        s: int,
    ) -> None:
        """The labelled rules and series, in a box in the corner of the plot that hides the
        least of the series' lines (``points``: their pixels within the plot area)."""
        entries = [(r.label, r.color, r.dashed, 0.0) for r in self._rules if r.label]
        entries += [(e.label, e.color, False, e.marker) for e in self._series if e.label]
        if not entries:
            return
        sample, gap, row = 24 * s, 6 * s, round(_text_height(font) * 1.6)
        box_width = sample + 3 * gap + max(font.getlength(label) for label, *_ in entries)
        box_height = row * len(entries) + gap
        left, top, right, bottom = frame
        margin = 8 * s
        # Plot-area coordinates of each candidate box's top left corner: the four corners,
        # then the middles of the sides and the centre.
        xs = (
            float(right - left - margin - box_width),
            float(margin),
            (right - left - box_width) / 2,
        )
        ys = (
            float(bottom - top - margin - box_height),
            float(margin),
            (bottom - top - box_height) / 2,
        )
        order = ((0, 0), (0, 1), (1, 1), (1, 0), (0, 2), (1, 2), (2, 1), (2, 0), (2, 2))
        corners = [(xs[i], ys[j]) for i, j in order]
        # Where the lines go, on a grid of 8 by 8 pixel cells.
        cell = 8 * s
        lines = Image.new("L", ((right - left) // cell + 1, (bottom - top) // cell + 1), 0)
        sketch = ImageDraw.Draw(lines)
        for xy in points:
            for run in _runs(np.isfinite(xy).all(axis=1)):
                cells = (xy[run] / cell).ravel().tolist()
                if len(cells) >= 4:
                    sketch.line(cells, fill=1, width=1)
                elif cells:
                    sketch.point(cells, fill=1)
        occupied = np.asarray(lines)

        def covered(corner: tuple[float, float]) -> int:
            x, y = (max(0, int(v // cell)) for v in corner)
            return int(
                occupied[
                    y : y + int(box_height // cell) + 1, x : x + int(box_width // cell) + 1
                ].sum()
            )

        box_left, box_top = min(corners, key=covered)  # the first of the least covered
        box_left, box_top = box_left + left, box_top + top
        ink.rectangle(
            [box_left, box_top, box_left + box_width, box_top + box_height],
            fill="white",
            outline="#bbbbbb",
            width=s,
        )
        for index, (label, color, dashed, marker) in enumerate(entries):
            middle = box_top + gap / 2 + row * (index + 0.5)
            start = box_left + gap
            _dashes(ink, (start, middle), (start + sample, middle), color, round(1.5 * s), dashed)
            if marker:
                radius = marker * s / 2
                centre = start + sample / 2
                ink.ellipse(
                    [centre - radius, middle - radius, centre + radius, middle + radius], fill=color
                )
            ink.text((start + sample + gap, middle), label, fill=INK, font=font, anchor="lm")

    def save(self, path: Path) -> Path:
        self.render().save(path, format="PNG", **PNG_OPTIONS)
        return path


def _tick_labels(values: np.ndarray, lang: str) -> list[str]:
    digits = tick_decimals(values)
    return [format_number(float(value), digits, lang) for value in values]


def _text_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


def _vertical_text(
    canvas: Image.Image, text: str, left_middle: tuple[float, float], font: ImageFont.FreeTypeFont
) -> None:
    """``text`` turned a quarter left (read from bottom to top), its top against x, centred on
    y."""
    width = max(1, math.ceil(font.getlength(text)))
    strip = Image.new("L", (width, _text_height(font)), 0)
    ImageDraw.Draw(strip).text((0, 0), text, fill=255, font=font)
    turned = strip.rotate(90, expand=True)
    where = (round(left_middle[0]), round(left_middle[1] - turned.height / 2))
    canvas.paste("black", (*where, where[0] + turned.width, where[1] + turned.height), turned)


def _runs(finite: np.ndarray) -> list[slice]:
    """The slices of consecutive true values of ``finite``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.view(np.int8), [0]))))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _draw_series(
    image: Image.Image,
    draw: ImageDraw.ImageDraw,
    series: _Series,
    xs: np.ndarray,
    ys: np.ndarray,
    zero: float,
    s: int,
) -> None:
    rgb = ImageColor.getrgb(series.color)[:3]
    finite = np.isfinite(xs) & np.isfinite(ys)
    for run in _runs(finite):
        points = np.column_stack((xs[run], ys[run]))
        if series.fill and len(points) > 1:
            _fill_to(image, draw, points, zero, (*rgb, round(255 * series.fill)))
        if len(points) > 1:
            # Round joints show on a line of a few long segments; Pillow draws them one by one
            # in Python, and along thousands of short ones they are not seen.
            joint = "curve" if len(points) <= 200 else None
            draw.line(points.ravel().tolist(), fill=rgb, width=round(series.width * s), joint=joint)
    if series.marker:
        radius = series.marker * s / 2
        for x, y in zip(xs[finite], ys[finite], strict=True):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=rgb)


def _fill_to(
    image: Image.Image,
    draw: ImageDraw.ImageDraw,
    points: np.ndarray,
    zero: float,
    color: tuple[int, ...],
) -> None:
    """Fill between the line through ``points`` and the row ``zero`` in ``color`` (RGBA).

    Where x only grows, as along a time axis, each pixel column is filled from the line's
    height there to ``zero``: a few array operations, where a polygon of thousands of
    vertices takes Pillow tens of milliseconds."""
    xs, ys = points[:, 0], points[:, 1]
    if np.any(np.diff(xs) < 0):
        outline = np.vstack(([xs[0], zero], points, [xs[-1], zero]))
        draw.polygon(outline.ravel().tolist(), fill=color)
        return
    width, height = image.size
    first = max(0, math.ceil(xs[0] - 0.5))
    last = min(width, math.floor(xs[-1] - 0.5) + 1)
    if last <= first:
        return
    centres = np.arange(first, last) + 0.5
    line = np.interp(centres, xs, ys)
    rows = np.arange(height)[:, None] + 0.5
    low, high = np.minimum(line, zero), np.maximum(line, zero)
    inside = (rows >= low) & (rows <= high)
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[:, first:last] = inside * np.uint8(color[3])
    image.paste(color[:3], (0, 0, width, height), Image.fromarray(mask, "L"))


def _draw_rule(
    draw: ImageDraw.ImageDraw, rule: _Rule, area: tuple[int, int], at: float, s: int
) -> None:
    color = (*ImageColor.getrgb(rule.color)[:3], round(255 * rule.alpha))
    ends = ((at, 0.0), (at, float(area[1]))) if rule.vertical else ((0.0, at), (float(area[0]), at))
    _dashes(draw, ends[0], ends[1], color, max(1, round(rule.width * s)), rule.dashed)


def _dashes(
    draw: ImageDraw.ImageDraw,
    start: tuple[float, float],
    end: tuple[float, float],
    color: str | tuple[int, ...],
    width: int,
    dashed: bool,
) -> None:
    """A straight line from ``start`` to ``end``, solid or dashed (dashes of 3.7 times the
    line's width, spaces of 1.6 times, as matplotlib's ``--``)."""
    if not dashed:
        draw.line([start, end], fill=color, width=width)
        return
    length = math.dist(start, end)
    dash, space = 3.7 * width, 1.6 * width
    unit = ((end[0] - start[0]) / length, (end[1] - start[1]) / length) if length else (0.0, 0.0)
    position = 0.0
    while position < length:
        stop = min(position + dash, length)
        draw.line(
            [
                (start[0] + unit[0] * position, start[1] + unit[1] * position),
                (start[0] + unit[0] * stop, start[1] + unit[1] * stop),
            ],
            fill=color,
            width=width,
        )
        position = stop + space
