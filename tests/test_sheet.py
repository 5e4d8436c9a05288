"""The printed sheet (DESIGN section 5): size and resolution, what an ePhoto sheet must show,
what every other sheet must never show, exact 35 x 45 mm photos, and the files it is saved as."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw
from scipy import ndimage

from ephoto.clock import format_paris
from ephoto.code import SeededCodeGeneratorForSimulation, group
from ephoto.texts import LANGUAGES, Texts, texts
from ephoto.validity import expires_at
from kiosk import receipt
from kiosk.camera import synthetic_portrait
from kiosk.catalog import load_catalog
from kiosk.receipt import (
    DPI,
    ID_PHOTO_SIZE,
    SHEET_SIZE,
    SheetInfo,
    compose_sheet,
    fonts,
    render_sheet,
)

CATALOG = load_catalog()
EPHOTO = [p for p in CATALOG if p.ephoto]
OTHERS = [p for p in CATALOG if not p.ephoto]
ISSUED = datetime(2026, 11, 26, 14, 49, tzinfo=UTC)
MAGENTA = (255, 0, 255)
CODE_SHAPES = (
    re.compile(r"[A-Z0-9]{4}( [A-Z0-9]{4}){4} [A-Z0-9]{2}"),
    re.compile(r"[A-Z0-9]{22}"),
    re.compile(r"9PMT"),
)


def info_for(product, code=None, sale="S-20261126-0042"):
    if product.ephoto and code is None:
        code = SeededCodeGeneratorForSimulation(len(product.id)).next_code()
    return SheetInfo(product, code, ISSUED, "booth-007", sale)


@lru_cache(maxsize=64)
def sheet_of(product_id: str, lang: str, photo: str = "portrait"):
    product = CATALOG.get(product_id)
    picture = (
        Image.new("RGB", (827, 1063), MAGENTA) if photo == "magenta" else synthetic_portrait(3)
    )
    return compose_sheet(info_for(product), [picture], lang)


def ids(products):
    return [p.id for p in products]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("product_id", ids(CATALOG))
def test_every_sheet_is_10_by_15_cm_at_300_dpi(product_id, lang, tmp_path):
    sheet = sheet_of(product_id, lang)
    assert sheet.image.size == SHEET_SIZE == (1181, 1772)
    path = receipt.write_sheet(sheet.image, tmp_path / "sheet.png")
    with Image.open(path) as saved:
        assert saved.size == SHEET_SIZE
        assert saved.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("product_id", ids(EPHOTO))
def test_ephoto_qr_decodes_to_exactly_the_22_character_number(product_id, lang, tmp_path):
    sheet = sheet_of(product_id, lang)
    code = info_for(CATALOG.get(product_id)).code
    path = receipt.write_sheet(sheet.image, tmp_path / "sheet.png")
    with Image.open(path) as saved:
        found = zxingcpp.read_barcodes(saved)
    assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, code.value)]
    assert len(found[0].text) == 22


@pytest.mark.parametrize("product_id", ids(EPHOTO))
def test_ephoto_qr_has_whole_pixel_modules_and_a_clear_quiet_zone(product_id):
    sheet = sheet_of(product_id, "fr")
    box = sheet.qr_box
    gray = np.asarray(sheet.image.convert("L"))
    qr = gray[box.y : box.bottom, box.x : box.right] < 128
    dark_rows = np.flatnonzero(qr.any(axis=1))
    dark_cols = np.flatnonzero(qr.any(axis=0))
    top, left = dark_rows[0], dark_cols[0]
    # The finder pattern's first row is 7 dark modules: its length gives the module size.
    finder = qr[top, left:]
    run = int(np.argmin(finder))
    assert run % 7 == 0
    module = run // 7
    assert box.w % module == 0 and box.w == box.h
    # Quiet zone: at least 4 modules of white on every side inside the box, and the sheet
    # around the box is white too (nothing printed against the code).
    assert top >= 4 * module and left >= 4 * module
    assert box.h - 1 - dark_rows[-1] >= 4 * module and box.w - 1 - dark_cols[-1] >= 4 * module
    ring = gray[box.y - 8 : box.bottom + 8, box.x - 8 : box.right + 8].copy()
    ring[8:-8, 8:-8] = 255
    assert ring.min() > 200


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("product_id", ids(EPHOTO))
def test_ephoto_sheet_shows_mention_grouped_number_and_the_procedure_for_its_site(product_id, lang):
    product = CATALOG.get(product_id)
    info = info_for(product)
    sheet = sheet_of(product_id, lang)
    text = "\n".join(sheet.lines)
    t = texts("sheet", lang)
    assert t.get("ephoto.mention") == "ePhoto" and "ePhoto" in sheet.lines
    assert group(info.code) in sheet.lines
    other_site = {"ANTS": "ANEF", "ANEF": "ANTS"}[product.site]
    assert product.site in text and other_site not in text
    assert "72" in text
    flat = " ".join(sheet.lines)
    assert format_paris(expires_at(ISSUED), lang) in flat
    assert format_paris(ISSUED, lang) in flat
    assert "booth-007" in flat and "S-20261126-0042" in flat
    assert {"MAJUSCULES", "CAPITAL"} & set(re.findall(r"[A-Z]{5,}", text))


def test_ephoto_validity_date_is_issue_plus_six_calendar_months_in_paris():
    sheet = sheet_of("ephoto-permis", "fr")
    # 26/11/2026 15:49 Paris time, six calendar months later.
    assert "26/05/2027 15:49" in " ".join(sheet.lines)


def test_ephoto_number_is_printed_in_the_bundled_monospace_font_that_separates_look_alikes():
    """0/O, 1/I, 5/S drawn in the sheet's number font must look clearly different."""
    measure = fonts()["mono"]
    face = measure.font(64)

    def glyph(char):
        image = Image.new("L", (60, 90), 0)
        ImageDraw.Draw(image).text((10, 5), char, font=face, fill=255)
        return np.asarray(image) > 127

    for a, b in (("0", "O"), ("1", "I"), ("5", "S"), ("8", "B"), ("2", "Z")):
        ga, gb = glyph(a), glyph(b)
        differing = np.logical_xor(ga, gb).sum() / np.logical_or(ga, gb).sum()
        assert differing > 0.12, (a, b, differing)
    # The zero carries a dot in its middle; the letter O is hollow.
    zero, letter_o = glyph("0"), glyph("O")
    rows, cols = np.nonzero(zero)
    middle = (rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2
    assert zero[middle] and not letter_o[middle]
    assert measure.font_path.name == "DejaVuSansMono-Bold.ttf"
    assert (measure.font_path.parent / "DejaVu-LICENSE.txt").is_file()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("product_id", ids(OTHERS))
def test_other_sheets_carry_no_qr_and_nothing_shaped_like_a_number(product_id, lang):
    sheet = sheet_of(product_id, lang)
    assert zxingcpp.read_barcodes(sheet.image) == []
    assert sheet.qr_box is None
    for line in sheet.lines:
        for shape in CODE_SHAPES:
            assert not shape.search(line), line
    assert "ePhoto" not in sheet.lines


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("product_id", ids(OTHERS))
def test_only_the_classic_id_sheet_speaks_of_ephoto_to_say_it_has_no_number(product_id, lang):
    sheet = sheet_of(product_id, lang)
    product = CATALOG.get(product_id)
    mentions = [line for line in sheet.lines if "ePhoto" in line]
    if product.layout == "id-sheet":
        assert mentions == [texts("sheet", lang).get("id_sheet.no_number")]
        assert product.name(lang) in sheet.lines
    else:
        assert mentions == []


@pytest.mark.parametrize("product_id", ["ephoto-permis", "id-card-adult", "passport"])
def test_id_photos_measure_35_by_45_mm_on_the_sheet(product_id):
    """Measured on the pixels: each magenta photo is one 413 x 531 px region (+/- 1 px)."""
    sheet = sheet_of(product_id, "fr", photo="magenta")
    pixels = np.asarray(sheet.image)
    mask = np.all(pixels == MAGENTA, axis=2)
    labels, count = ndimage.label(mask)
    slices = ndimage.find_objects(labels)
    sizes = sorted((s[1].stop - s[1].start, s[0].stop - s[0].start) for s in slices)
    assert count == CATALOG.get(product_id).photos == len(sheet.photo_boxes)
    assert ID_PHOTO_SIZE == (413, 531)
    for width, height in sizes:
        assert abs(width - 35 / 25.4 * DPI) <= 1 and abs(height - 45 / 25.4 * DPI) <= 1
    for box in sheet.photo_boxes:
        assert mask[box.y : box.bottom, box.x : box.right].all()


@pytest.mark.parametrize("product_id", ids(CATALOG))
def test_photos_lie_inside_the_sheet_and_never_overlap(product_id):
    boxes = sheet_of(product_id, "fr").photo_boxes
    width, height = SHEET_SIZE
    for box in boxes:
        assert 0 < box.x and box.right < width and 0 < box.y and box.bottom < height
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a.right <= b.x or b.right <= a.x or a.bottom <= b.y or b.bottom <= a.y


def test_over_long_translation_shrinks_or_is_cut_but_never_covers_photos_or_the_qr(monkeypatch):
    base = texts("sheet", "en")
    longer = {key: (value + " ") * 8 for key, value in base.entries.items()}
    monkeypatch.setattr(receipt, "texts", lambda area, lang: Texts(area, lang, longer))
    product = CATALOG.get("ephoto-titre-sejour")
    info = info_for(product)
    sheet = compose_sheet(info, [Image.new("RGB", (413, 531), MAGENTA)], "en")
    pixels = np.asarray(sheet.image)
    for box in sheet.photo_boxes:
        assert np.all(pixels[box.y : box.bottom, box.x : box.right] == MAGENTA)
    assert [b.text for b in zxingcpp.read_barcodes(sheet.image)] == [info.code.value]
    assert any(line.endswith("…") for line in sheet.lines)
    # Nothing is printed in the outer 8 px of the sheet.
    gray = np.asarray(sheet.image.convert("L"))
    edge = np.concatenate(
        [gray[:8].ravel(), gray[-8:].ravel(), gray[:, :8].ravel(), gray[:, -8:].ravel()]
    )
    assert edge.min() == 255


def test_a_sheet_refuses_a_code_on_a_product_without_ephoto_and_vice_versa():
    code = SeededCodeGeneratorForSimulation(1).next_code()
    with pytest.raises(ValueError, match="issues no ePhoto number"):
        SheetInfo(CATALOG.get("passport"), code, ISSUED, "b", "s")
    with pytest.raises(ValueError, match="needs a code"):
        SheetInfo(CATALOG.get("ephoto-permis"), None, ISSUED, "b", "s")
    with pytest.raises(ValueError, match="naive datetime"):
        SheetInfo(CATALOG.get("passport"), None, datetime(2026, 1, 1), "b", "s")


def test_several_pictures_fill_the_strip_in_turn():
    pictures = [Image.new("RGB", (400, 400), c) for c in ((255, 0, 0), (0, 255, 0))]
    sheet = compose_sheet(info_for(CATALOG.get("fun")), pictures, "fr")
    pixels = sheet.image.load()
    centres = [pixels[b.x + b.w // 2, b.y + b.h // 2] for b in sheet.photo_boxes]
    assert centres[:4] == [(255, 0, 0), (0, 255, 0), (255, 0, 0), (0, 255, 0)]


def test_render_sheet_records_the_resolution_in_the_image():
    image = render_sheet(info_for(CATALOG.get("portrait")), [synthetic_portrait(1)], "en")
    assert image.info["dpi"] == (DPI, DPI)


def test_pdf_page_is_exactly_100_by_150_mm_and_embeds_the_pixels_losslessly(tmp_path):
    sheet = sheet_of("ephoto-permis", "fr")
    path = receipt.write_sheet(sheet.image, tmp_path / "sheet.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\s*\]", data)
    x0, y0, x1, y1 = (float(v) for v in box.groups())
    assert (x0, y0) == (0, 0)
    assert (x1 - x0) * 25.4 / 72 == pytest.approx(100, abs=0.01)
    assert (y1 - y0) * 25.4 / 72 == pytest.approx(150, abs=0.01)
    assert b"/FlateDecode" in data and b"/DCTDecode" not in data
    assert b"/Width 1181" in data and b"/Height 1772" in data


def test_saving_to_the_prints_folder_writes_png_and_pdf_named_after_the_sale(tmp_path):
    image = sheet_of("visa", "fr").image
    png, pdf = receipt.save_to_prints(image, tmp_path / "prints", "S-42")
    assert png.name == "S-42.png" and pdf.name == "S-42.pdf"
    assert sorted(p.name for p in (tmp_path / "prints").iterdir()) == ["S-42.pdf", "S-42.png"]
    with pytest.raises(ValueError, match="cannot name a file"):
        receipt.save_to_prints(image, tmp_path / "prints", "../escape")


def test_a_failed_write_leaves_the_previous_print_whole_and_no_temporary_file(
    tmp_path, monkeypatch
):
    path = tmp_path / "S-1.png"
    path.write_bytes(b"previous print")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receipt.os, "replace", broken_replace)
    with pytest.raises(OSError):
        receipt.write_sheet(sheet_of("visa", "fr").image, path)
    assert path.read_bytes() == b"previous print"
    assert [p.name for p in tmp_path.iterdir()] == ["S-1.png"]
