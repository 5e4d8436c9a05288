"""The ePhoto file's rules: what the booth makes passes, each broken rule is named."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageDraw

from ephoto.code import generate
from ephoto.epfile import (
    PHOTO_MAX_BYTES,
    PHOTO_SIZE,
    SIGNATURE_SIZE,
    EphotoFile,
    FileRejected,
    file_problems,
    make_file,
    sha256_hex,
)
from kiosk.camera import synthetic_portrait

ISSUED = datetime(2026, 9, 14, 10, 30, tzinfo=UTC)


def signature_drawing() -> Image.Image:
    pad = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(pad)
    draw.line([(80, 200), (200, 90), (320, 220), (470, 80), (640, 210), (820, 120)], "navy", 9)
    return pad


def booth_file(seed: int = 1) -> EphotoFile:
    return make_file(
        code=generate("9PMT").value,
        booth_id="booth-001",
        issued_at=ISSUED,
        product="ephoto-permis",
        procedure="permis",
        photo=synthetic_portrait(seed),
        signature=signature_drawing(),
    )


def with_photo(file: EphotoFile, photo: bytes) -> EphotoFile:
    meta = replace(file.meta, photo_sha256=sha256_hex(photo))
    return EphotoFile(meta, photo, file.signature_png)


def with_signature(file: EphotoFile, png: bytes) -> EphotoFile:
    meta = replace(file.meta, signature_sha256=sha256_hex(png))
    return EphotoFile(meta, file.photo_jpeg, png)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def rules(file: EphotoFile, operators: tuple[str, ...] | None = ("9PMT",)) -> set[tuple[str, str]]:
    return {(p.field, p.rule) for p in file_problems(file, operators)}


def test_the_booths_file_is_acceptable_and_within_budget():
    file = booth_file()
    assert file_problems(file, ("9PMT",)) == []
    assert len(file.photo_jpeg) <= PHOTO_MAX_BYTES
    with Image.open(io.BytesIO(file.photo_jpeg)) as photo:
        assert (photo.format, photo.size, photo.mode) == ("JPEG", PHOTO_SIZE, "RGB")
    with Image.open(io.BytesIO(file.signature_png)) as signature:
        assert (signature.format, signature.size, signature.mode) == ("PNG", SIGNATURE_SIZE, "L")
        assert signature.getextrema()[0] < 128  # the stroke survived the greyscale fitting
    assert file.meta.operator == "9PMT"


def test_the_file_travels_whole_on_the_wire():
    file = booth_file()
    assert EphotoFile.from_wire(file.to_wire()) == file


def test_a_truncated_jpeg_is_refused():
    file = booth_file()
    assert rules(with_photo(file, file.photo_jpeg[: len(file.photo_jpeg) // 2])) == {
        ("photo_jpeg", "decode")
    }


def test_a_photo_of_the_wrong_pixel_size_is_refused():
    small = encoded(Image.new("RGB", (400, 531), (200, 210, 220)), "JPEG")
    assert rules(with_photo(booth_file(), small)) == {("photo_jpeg", "size")}


def test_a_photo_over_budget_is_refused():
    noise = Image.effect_noise(PHOTO_SIZE, 120).convert("RGB")
    heavy = encoded(noise, "JPEG", quality=100)
    assert len(heavy) > PHOTO_MAX_BYTES
    assert rules(with_photo(booth_file(), heavy)) == {("photo_jpeg", "budget")}


def test_a_png_photo_is_refused():
    png = encoded(Image.new("RGB", PHOTO_SIZE, (200, 210, 220)), "PNG")
    assert rules(with_photo(booth_file(), png)) == {("photo_jpeg", "format")}


def test_a_colour_signature_is_refused():
    colour = encoded(Image.new("RGB", SIGNATURE_SIZE, "white"), "PNG")
    assert rules(with_signature(booth_file(), colour)) == {("signature_png", "mode")}


def test_a_digest_that_does_not_match_is_refused():
    file = booth_file()
    forged = EphotoFile(
        replace(file.meta, photo_sha256="0" * 64), file.photo_jpeg, file.signature_png
    )
    assert rules(forged) == {("photo_sha256", "digest")}


def test_a_number_of_another_operator_is_refused():
    file = booth_file()
    other = replace(file.meta, code=generate("7ABC").value, operator="7ABC")
    assert rules(EphotoFile(other, file.photo_jpeg, file.signature_png)) == {("code", "prefix")}


@pytest.mark.parametrize("code", ["../../etc/passwd", "9PMT/../../x", "9PMT 1234"])
def test_path_characters_in_a_number_are_refused(code: str):
    file = booth_file()
    bad = EphotoFile(replace(file.meta, code=code), file.photo_jpeg, file.signature_png)
    assert ("code", "characters") in rules(bad, None) or ("code", "length") in rules(bad, None)


def test_a_wire_file_missing_a_field_names_it():
    data = booth_file().to_wire()
    del data["procedure"]
    with pytest.raises(FileRejected) as caught:
        EphotoFile.from_wire(data)
    assert caught.value.problems[0].field == "procedure"


def test_images_that_are_not_base64_are_named():
    data = booth_file().to_wire()
    data["photo_jpeg"] = "not base64 !!"
    with pytest.raises(FileRejected) as caught:
        EphotoFile.from_wire(data)
    assert caught.value.problems[0].field == "photo_jpeg"
