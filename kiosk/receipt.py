"""The printed sheet: each product's 10 x 15 cm print at 300 dpi, as PNG and lossless PDF.

The catalogue's ``layout`` name picks a :class:`LayoutSpec` from :data:`LAYOUTS` (photo slots
plus a function drawing that layout's text); nothing branches on product ids. An ePhoto sheet
carries the mention "ePhoto", the number in groups in a monospace font that separates 0/O, 1/I,
5/S, a QR code holding exactly the 22 characters, the procedure for its product and the issue
details. No other sheet carries a number, a QR code or the "ePhoto" mention; the classic ID
sheet says in one line that it has no ePhoto number. Every text block is fitted to its box
with :mod:`kiosk.textfit`, so a longer translation shrinks or wraps, never overflows.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import img2pdf
import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from ephoto.assets import asset
from ephoto.clock import ensure_utc, format_paris
from ephoto.code import EphotoCode
from ephoto.texts import Texts, texts
from ephoto.validity import expires_at
from kiosk.catalog import Product
from kiosk.textfit import FittedText, PillowMeasure, fit_paragraphs, fit_text

DPI = 300
SHEET_MM = (100, 150)
ID_PHOTO_MM = (35, 45)


def mm(value: float) -> int:
    """Millimetres to pixels at the print resolution."""
    return round(value * DPI / 25.4)


SHEET_SIZE = (mm(SHEET_MM[0]), mm(SHEET_MM[1]))  # 1181 x 1772
ID_PHOTO_SIZE = (mm(ID_PHOTO_MM[0]), mm(ID_PHOTO_MM[1]))  # 413 x 531

PAPER = (255, 255, 255)
INK = (24, 26, 32)
GREY = (96, 98, 106)
LIGHT = (200, 202, 208)
EPHOTO_BLUE = (16, 62, 150)
WARNING_RED = (178, 34, 34)

_SALE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Box:
    """A rectangle in sheet pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """For Pillow's drawing calls, which include the last pixel."""
        return (self.x, self.y, self.right - 1, self.bottom - 1)


@dataclass(frozen=True)
class SheetInfo:
    """What the sheet needs to know about a sale.

    ``code`` is the issued number for an ePhoto product and ``None`` for every other product;
    ``issued_at`` is the aware UTC instant of the sale (shown in Europe/Paris).
    """

    product: Product
    code: EphotoCode | None
    issued_at: datetime
    booth_id: str
    sale_id: str

    def __post_init__(self) -> None:
        ensure_utc(self.issued_at)
        if self.product.ephoto and self.code is None:
            raise ValueError(f"product {self.product.id!r} is an ePhoto product: it needs a code")
        if not self.product.ephoto and self.code is not None:
            raise ValueError(
                f"product {self.product.id!r} issues no ePhoto number: its sheet takes no code"
            )
        if self.product.layout not in LAYOUTS:
            raise ValueError(
                f"product {self.product.id!r} has layout {self.product.layout!r}; known layouts: "
                f"{', '.join(LAYOUTS)}"
            )


@dataclass(frozen=True)
class Sheet:
    """A rendered sheet and where things are on it, so the kiosk and tests can check it."""

    image: Image.Image
    layout: str
    photo_boxes: tuple[Box, ...]
    qr_box: Box | None
    lines: tuple[str, ...]
    """Every line of text printed, in drawing order, exactly as drawn."""


@dataclass(frozen=True)
class Style:
    """How a product's photos are treated and framed on the fun layouts."""

    band: tuple[int, int, int] = (235, 236, 240)
    treatment: Callable[[Image.Image], Image.Image] | None = None


def _sepia(image: Image.Image) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(image), (46, 30, 16), (250, 236, 204)).convert(
        "RGB"
    )


def _vivid(image: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(ImageEnhance.Color(image).enhance(1.9)).enhance(1.15)


def _painted(image: Image.Image) -> Image.Image:
    """A cartoon look: flattened colours with dark outlines along the edges."""
    flat = ImageOps.posterize(
        ImageEnhance.Color(image).enhance(1.4).filter(ImageFilter.SMOOTH_MORE), 3
    )
    edges = ImageOps.invert(
        image.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > 24 else 0)
    )
    edges = edges.filter(ImageFilter.MinFilter(3))
    # The edge filter sees the picture's own border as an edge: no outline there.
    width, height = image.size
    edges = ImageOps.expand(edges.crop((3, 3, width - 3, height - 3)), border=3, fill=255)
    return Image.composite(flat, Image.new("RGB", image.size, (20, 16, 28)), edges)


STYLES: dict[str, Style] = {
    "fun": Style(band=(238, 84, 96)),
    "vintage": Style(band=(232, 220, 194), treatment=_sepia),
    "filters": Style(band=(20, 150, 150), treatment=_vivid),
    "ai": Style(band=(96, 60, 170), treatment=_painted),
}
"""Per-product look of the photo products; any other product gets the plain default."""


@lru_cache(maxsize=4)
def _fonts(assets_root: str) -> dict[str, PillowMeasure]:
    fonts = Path(assets_root, "fonts")
    return {
        "sans": PillowMeasure(fonts / "DejaVuSans.ttf"),
        "bold": PillowMeasure(fonts / "DejaVuSans-Bold.ttf"),
        "mono": PillowMeasure(fonts / "DejaVuSansMono-Bold.ttf"),
    }


def fonts() -> dict[str, PillowMeasure]:
    """The sheet's fonts (bundled DejaVu; the monospace one keeps 0/O, 1/I, 5/S apart)."""
    return _fonts(str(asset()))


def _cover(photo: Image.Image, width: int, height: int) -> Image.Image:
    """``photo`` scaled to cover ``width`` x ``height`` and cut to it, keeping a little more of
    the top, where the head is."""
    scale = max(width / photo.width, height / photo.height)
    crop_w, crop_h = width / scale, height / scale
    left = (photo.width - crop_w) / 2
    top = (photo.height - crop_h) * 0.4
    # reducing_gap first shrinks by a whole factor in one cheap pass, then Lanczos finishes:
    # the same picture, several times faster on a large camera frame.
    return photo.resize(
        (width, height),
        Image.Resampling.LANCZOS,
        box=(left, top, left + crop_w, top + crop_h),
        reducing_gap=2.0,
    )


class _Painter:
    """Draws on one sheet and remembers every text line and photo box it placed."""

    def __init__(self, image: Image.Image):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.fonts = fonts()
        self.lines: list[str] = []
        self.photo_boxes: list[Box] = []
        self.qr_box: Box | None = None
        self._resized: dict[tuple[int, int, int], Image.Image] = {}

    def text(
        self,
        box: Box,
        text: str,
        font: str = "sans",
        max_size: int = 40,
        min_size: int = 16,
        fill: tuple[int, int, int] = INK,
        align: str = "left",
        valign: str = "top",
        max_lines: int | None = None,
    ) -> FittedText:
        measure = self.fonts[font]
        fitted = fit_text(text, box.w, box.h, measure, max_size, min_size, max_lines=max_lines)
        face = measure.font(fitted.size)
        for line, dx, dy in fitted.positions(box.w, box.h, align, valign):  # type: ignore[arg-type]
            self.draw.text((box.x + dx, box.y + dy), line, font=face, fill=fill, anchor="la")
            self.lines.append(line)
        return fitted

    def numbered(self, box: Box, paragraphs: Sequence[str], max_size: int, min_size: int) -> None:
        measure = self.fonts["sans"]
        markers = [f"{i}." for i in range(1, len(paragraphs) + 1)]
        fitted = fit_paragraphs(
            paragraphs, box.w, box.h, measure, max_size, min_size, markers=markers
        )
        face = measure.font(fitted.size)
        bold = self.fonts["bold"].font(fitted.size)
        for marker, block, top in zip(fitted.markers, fitted.blocks, fitted.tops, strict=True):
            self.draw.text((box.x, box.y + top), marker, font=bold, fill=EPHOTO_BLUE, anchor="la")
            for line, dx, dy in block.positions(box.w - fitted.indent, block.height):
                self.draw.text(
                    (box.x + fitted.indent + dx, box.y + top + dy),
                    line,
                    font=face,
                    fill=INK,
                    anchor="la",
                )
                self.lines.append(line)

    def photo(self, box: Box, photo: Image.Image, style: Style | None = None) -> None:
        key = (id(photo), box.w, box.h)
        fitted = self._resized.get(key)
        if fitted is None:
            # Cover the box, cutting the excess; keep a little more of the top, where the head is.
            fitted = _cover(photo.convert("RGB"), box.w, box.h)
            if style is not None and style.treatment is not None:
                fitted = style.treatment(fitted)
            self._resized[key] = fitted
        self.image.paste(fitted, (box.x, box.y))
        self.photo_boxes.append(box)

    def qr(self, code: EphotoCode, x: int, y: int, target: int) -> Box:
        """The QR code of exactly the number, whole pixels per module, quiet zone included."""
        maker = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4
        )
        maker.add_data(code.value)
        maker.make(fit=True)
        modules = np.array(maker.get_matrix(), dtype=bool)
        module_px = max(1, target // modules.shape[0])
        pixels = np.where(modules, 0, 255).astype(np.uint8)
        pixels = np.kron(pixels, np.ones((module_px, module_px), dtype=np.uint8))
        side = pixels.shape[0]
        self.image.paste(Image.fromarray(pixels, "L").convert("RGB"), (x, y))
        self.qr_box = Box(x, y, side, side)
        return self.qr_box

    def cut_lines(self, boxes: Sequence[Box]) -> None:
        """Light dashed cutting guides halfway between neighbouring photos and around them."""
        xs = sorted({b.x for b in boxes} | {b.right for b in boxes})
        ys = sorted({b.y for b in boxes} | {b.bottom for b in boxes})
        top, bottom = min(ys) - 4, max(ys) + 4
        left, right = min(xs) - 4, max(xs) + 4
        cut_x = [left, right] + [
            (a + b) // 2 for a, b in zip(xs[1:-1:2], xs[2:-1:2], strict=True) if b > a
        ]
        cut_y = [top, bottom] + [
            (a + b) // 2 for a, b in zip(ys[1:-1:2], ys[2:-1:2], strict=True) if b > a
        ]
        for x in cut_x:
            for y in range(top, bottom, 16):
                self.draw.line((x, y, x, min(y + 8, bottom)), fill=LIGHT, width=1)
        for y in cut_y:
            for x in range(left, right, 16):
                self.draw.line((x, y, min(x + 8, right), y), fill=LIGHT, width=1)


def _issue_details(info: SheetInfo, t: Texts, lang: str) -> list[str]:
    return [
        t.get("footer.issued", issued=format_paris(info.issued_at, lang)),
        t.get("footer.booth", booth=info.booth_id),
        t.get("footer.sale", sale=info.sale_id),
    ]


# ---- ePhoto ID sheet ---------------------------------------------------------------------------

_W, _H = SHEET_SIZE
_M = mm(4)
_EPHOTO_SLOTS = (
    Box(142, 216, *ID_PHOTO_SIZE),
    Box(_W - 142 - ID_PHOTO_SIZE[0], 216, *ID_PHOTO_SIZE),
)
_QR_TARGET = 330


def _draw_ephoto(p: _Painter, info: SheetInfo, t: Texts, lang: str) -> None:
    assert info.code is not None and info.product.procedure and info.product.site
    site = info.product.site
    procedure = t.get(f"procedure.{info.product.procedure}")
    valid_until = format_paris(expires_at(info.issued_at), lang)

    banner = Box(_M, 36, _W - 2 * _M, 150)
    p.draw.rounded_rectangle(banner.corners, radius=22, fill=EPHOTO_BLUE)
    p.text(
        Box(banner.x + 34, banner.y + 14, 390, banner.h - 28),
        t.get("ephoto.mention"),
        font="bold",
        max_size=112,
        min_size=40,
        fill=PAPER,
        valign="middle",
        max_lines=1,
    )
    right = Box(banner.x + 460, banner.y + 22, banner.w - 460 - 30, banner.h - 44)
    p.text(
        Box(right.x, right.y, right.w, right.h // 2),
        t.get("ephoto.subtitle"),
        max_size=34,
        min_size=18,
        fill=PAPER,
        align="right",
        valign="middle",
        max_lines=1,
    )
    p.text(
        Box(right.x, right.y + right.h // 2, right.w, right.h // 2),
        f"{procedure[0].upper()}{procedure[1:]} · {site}",
        font="bold",
        max_size=42,
        min_size=18,
        fill=PAPER,
        align="right",
        valign="middle",
        max_lines=1,
    )

    number_top = 776
    p.text(
        Box(_M, number_top, _W - 2 * _M, 40),
        t.get("ephoto.number_label"),
        font="bold",
        max_size=32,
        min_size=18,
        fill=EPHOTO_BLUE,
        max_lines=1,
    )
    code_box = Box(_M, number_top + 46, _W - 2 * _M, 112)
    p.draw.rounded_rectangle(code_box.corners, radius=16, outline=EPHOTO_BLUE, width=5)
    p.text(
        Box(code_box.x + 24, code_box.y + 12, code_box.w - 48, code_box.h - 24),
        info.code.grouped(),
        font="mono",
        max_size=80,
        min_size=30,
        align="center",
        valign="middle",
        max_lines=1,
    )

    lower = code_box.bottom + 30
    qr = p.qr(info.code, _W - _M - _QR_TARGET, lower, _QR_TARGET)
    p.text(
        Box(qr.x, qr.bottom + 4, qr.w, 64),
        t.get("ephoto.qr_caption"),
        max_size=24,
        min_size=14,
        fill=GREY,
        align="center",
        max_lines=2,
    )
    valid = Box(qr.x, qr.bottom + 84, qr.w, 150)
    p.draw.rounded_rectangle(valid.corners, radius=14, fill=(232, 238, 250))
    p.text(
        Box(valid.x + 14, valid.y + 12, valid.w - 28, valid.h - 24),
        t.get("ephoto.valid_box", valid_until=valid_until),
        font="bold",
        max_size=36,
        min_size=16,
        fill=EPHOTO_BLUE,
        align="center",
        valign="middle",
        max_lines=3,
    )

    steps_w = qr.x - _M - 34
    p.text(
        Box(_M, lower, steps_w, 48),
        t.get("ephoto.steps_title"),
        font="bold",
        max_size=38,
        min_size=18,
        max_lines=1,
    )
    footer_rule = _H - 100
    p.numbered(
        Box(_M, lower + 64, steps_w, footer_rule - 20 - (lower + 64)),
        [
            t.get("ephoto.step_site", site=site, procedure=procedure),
            t.get("ephoto.step_wait", site=site),
            t.get("ephoto.step_capitals"),
            t.get("ephoto.step_once", valid_until=valid_until),
        ],
        max_size=34,
        min_size=16,
    )
    p.draw.line((_M, footer_rule, _W - _M, footer_rule), fill=LIGHT, width=2)
    p.text(
        Box(_M, footer_rule + 16, _W - 2 * _M, 56),
        " · ".join(_issue_details(info, t, lang)),
        max_size=28,
        min_size=14,
        fill=GREY,
        align="center",
        valign="middle",
        max_lines=2,
    )


# ---- classic ID sheet --------------------------------------------------------------------------

_ID_COLUMNS = (165, _W - 165 - ID_PHOTO_SIZE[0])
_ID_ROWS = (148, 148 + ID_PHOTO_SIZE[1] + 8, 148 + 2 * (ID_PHOTO_SIZE[1] + 8))
_ID_SLOTS = tuple(Box(x, y, *ID_PHOTO_SIZE) for y in _ID_ROWS for x in _ID_COLUMNS)


def _draw_id_sheet(p: _Painter, info: SheetInfo, t: Texts, lang: str) -> None:
    margin = 40
    p.text(
        Box(margin, 14, 720, 54),
        info.product.name(lang),
        font="bold",
        max_size=40,
        min_size=18,
        valign="middle",
        max_lines=1,
    )
    p.text(
        Box(margin + 740, 14, _W - 2 * margin - 740, 54),
        "\n".join(_issue_details(info, t, lang)),
        max_size=17,
        min_size=10,
        fill=GREY,
        align="right",
        valign="middle",
        max_lines=3,
    )
    notice = Box(margin, 76, _W - 2 * margin, 58)
    p.draw.rounded_rectangle(notice.corners, radius=10, fill=(238, 238, 240))
    # A "no" sign drawn with shapes, so it needs no glyph from the font.
    cx, cy, r = notice.x + 34, notice.y + notice.h // 2, 19
    p.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=WARNING_RED, width=5)
    p.draw.line((cx - 13, cy + 13, cx + 13, cy - 13), fill=WARNING_RED, width=5)
    p.text(
        Box(notice.x + 68, notice.y + 8, notice.w - 84, notice.h - 16),
        t.get("id_sheet.no_number"),
        font="bold",
        max_size=32,
        min_size=14,
        valign="middle",
        max_lines=1,
    )


def _draw_id_guides(p: _Painter) -> None:
    p.cut_lines(_ID_SLOTS)


# ---- portrait, strip, filter ------------------------------------------------------------------

_PORTRAIT_SLOTS = (Box(59, 88, mm(90), mm(120)),)

_STRIP_FRAME = 384
_STRIP_PAD = 28
_STRIP_GAP = 18
_STRIP_BANDS = (
    Box(120, 40, _STRIP_FRAME + 2 * _STRIP_PAD, 4 * _STRIP_FRAME + 3 * _STRIP_GAP + 2 * _STRIP_PAD),
    Box(
        _W - 121 - (_STRIP_FRAME + 2 * _STRIP_PAD),
        40,
        _STRIP_FRAME + 2 * _STRIP_PAD,
        4 * _STRIP_FRAME + 3 * _STRIP_GAP + 2 * _STRIP_PAD,
    ),
)
_STRIP_SLOTS = tuple(
    Box(
        band.x + _STRIP_PAD,
        band.y + _STRIP_PAD + i * (_STRIP_FRAME + _STRIP_GAP),
        _STRIP_FRAME,
        _STRIP_FRAME,
    )
    for band in _STRIP_BANDS
    for i in range(4)
)

_FILTER_FRAME = Box(60, 100, _W - 120, 1400)
_FILTER_SLOTS = (Box(100, 140, _W - 200, 1320),)


def _caption(p: _Painter, info: SheetInfo, t: Texts, lang: str, top: int) -> None:
    p.text(
        Box(_M, top, _W - 2 * _M, 60),
        info.product.name(lang),
        font="bold",
        max_size=44,
        min_size=18,
        align="center",
        valign="middle",
        max_lines=1,
    )
    p.text(
        Box(_M, top + 70, _W - 2 * _M, 40),
        " · ".join(_issue_details(info, t, lang)),
        max_size=24,
        min_size=12,
        fill=GREY,
        align="center",
        valign="middle",
        max_lines=1,
    )


def _draw_portrait(p: _Painter, info: SheetInfo, t: Texts, lang: str) -> None:
    slot = _PORTRAIT_SLOTS[0]
    p.draw.rectangle(
        (slot.x - 3, slot.y - 3, slot.right + 2, slot.bottom + 2), outline=LIGHT, width=1
    )
    _caption(p, info, t, lang, slot.bottom + 70)


def _draw_strip(p: _Painter, info: SheetInfo, t: Texts, lang: str) -> None:
    style = STYLES.get(info.product.id, Style())
    for band in _STRIP_BANDS:
        p.draw.rounded_rectangle(band.corners, radius=12, fill=style.band)
    p.text(
        Box(_M, _STRIP_BANDS[0].bottom + 14, _W - 2 * _M, 44),
        f"{info.product.name(lang)} · " + " · ".join(_issue_details(info, t, lang)),
        max_size=26,
        min_size=12,
        fill=GREY,
        align="center",
        valign="middle",
        max_lines=1,
    )


def _draw_filter(p: _Painter, info: SheetInfo, t: Texts, lang: str) -> None:
    style = STYLES.get(info.product.id, Style())
    p.draw.rounded_rectangle(_FILTER_FRAME.corners, radius=30, fill=style.band)
    _caption(p, info, t, lang, _FILTER_FRAME.bottom + 60)


def _no_guides(p: _Painter) -> None:
    return None


@dataclass(frozen=True)
class LayoutSpec:
    """One way to print: where the photos go, what is drawn under them and over them."""

    name: str
    slots: tuple[Box, ...]
    draw_background: Callable[[_Painter, SheetInfo, Texts, str], None]
    draw_over: Callable[[_Painter], None] = field(default=_no_guides)
    styled: bool = False
    """Whether the product's :class:`Style` treatment applies (never to ID photos)."""


LAYOUTS: dict[str, LayoutSpec] = {
    spec.name: spec
    for spec in (
        LayoutSpec("ephoto-id", _EPHOTO_SLOTS, _draw_ephoto),
        LayoutSpec("id-sheet", _ID_SLOTS, _draw_id_sheet, _draw_id_guides),
        LayoutSpec("portrait", _PORTRAIT_SLOTS, _draw_portrait, styled=True),
        LayoutSpec("strip", _STRIP_SLOTS, _draw_strip, styled=True),
        LayoutSpec("filter", _FILTER_SLOTS, _draw_filter, styled=True),
    )
}


def compose_sheet(info: SheetInfo, photos: Sequence[Image.Image], lang: str = "fr") -> Sheet:
    """The sheet for a sale and where everything landed on it.

    ``photos`` are the pictures taken; they fill the layout's slots in turn, repeating when
    the layout has more slots than pictures (the two ePhoto prints are the same picture).
    """
    if not photos:
        raise ValueError(f"sale {info.sale_id}: the sheet needs at least one photo")
    t = texts("sheet", lang)
    spec = LAYOUTS[info.product.layout]
    image = Image.new("RGB", SHEET_SIZE, PAPER)
    painter = _Painter(image)
    spec.draw_background(painter, info, t, lang)
    style = STYLES.get(info.product.id) if spec.styled else None
    for index, slot in enumerate(spec.slots):
        painter.photo(slot, photos[index % len(photos)], style)
    spec.draw_over(painter)
    image.info["dpi"] = (DPI, DPI)
    return Sheet(
        image=image,
        layout=spec.name,
        photo_boxes=tuple(painter.photo_boxes),
        qr_box=painter.qr_box,
        lines=tuple(painter.lines),
    )


def render_sheet(info: SheetInfo, photos: Sequence[Image.Image], lang: str = "fr") -> Image.Image:
    """The 10 x 15 cm sheet at 300 dpi (1181 x 1772 px, dpi recorded in the image)."""
    return compose_sheet(info, photos, lang).image


# ---- files -------------------------------------------------------------------------------------

PDF_PAGE_PT = (img2pdf.mm_to_pt(SHEET_MM[0]), img2pdf.mm_to_pt(SHEET_MM[1]))
FORMATS = (".png", ".pdf")


def png_bytes(image: Image.Image) -> bytes:
    """The sheet as PNG with its 300 dpi recorded."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(DPI, DPI), compress_level=3)
    return buffer.getvalue()


def pdf_bytes(image: Image.Image, png: bytes | None = None) -> bytes:
    """A one-page PDF exactly 100 x 150 mm that embeds the PNG pixels without loss."""
    layout = img2pdf.get_layout_fun(PDF_PAGE_PT, fit=img2pdf.FitMode.into)
    return img2pdf.convert(png if png is not None else png_bytes(image), layout_fun=layout)


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so
    a reader (the printer spooler) never sees a half-written file."""
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def write_sheet(image: Image.Image, path: Path) -> Path:
    """Write the sheet as ``.png`` or ``.pdf`` (by the file's suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"output {path} must end in .png or .pdf, not {path.suffix!r}")
    data = png_bytes(image) if suffix == ".png" else pdf_bytes(image)
    return write_atomically(path, data)


def save_to_prints(image: Image.Image, prints_dir: Path, sale_id: str) -> tuple[Path, Path]:
    """The sheet as ``{sale_id}.png`` and ``{sale_id}.pdf`` in the prints folder."""
    if not _SALE_ID.match(sale_id):
        raise ValueError(f"sale id {sale_id!r} cannot name a file: use A-Z, a-z, 0-9, _ and -")
    prints_dir = Path(prints_dir)
    prints_dir.mkdir(parents=True, exist_ok=True)
    png = png_bytes(image)
    return (
        write_atomically(prints_dir / f"{sale_id}.png", png),
        write_atomically(prints_dir / f"{sale_id}.pdf", pdf_bytes(image, png)),
    )
