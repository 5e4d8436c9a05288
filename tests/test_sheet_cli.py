"""`cabine sheet`: render a product's sheet to PNG or PDF, with one clear line and exit 2 for
every mistake."""

from __future__ import annotations

import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from cabine.cli import app
from ephoto import code as codes

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["sheet", *args])


def test_ephoto_product_without_code_prints_the_fresh_number_that_is_on_the_sheet(tmp_path):
    out = tmp_path / "permis.png"
    result = run("--product", "ephoto-permis", "--out", str(out))
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    assert codes.is_valid(printed)
    with Image.open(out) as image:
        assert image.size == (1181, 1772)
        assert [b.text for b in zxingcpp.read_barcodes(image)] == [printed]


def test_given_code_is_printed_and_nothing_is_echoed(tmp_path):
    code = codes.generate().value
    out = tmp_path / "sejour.pdf"
    result = run(
        "--product", "ephoto-titre-sejour", "--code", code, "--lang", "en", "--out", str(out)
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_bytes().startswith(b"%PDF")


def test_a_real_photo_file_is_used(tmp_path):
    photo = tmp_path / "me.png"
    Image.new("RGB", (350, 450), (0, 128, 255)).save(photo)
    out = tmp_path / "visa.png"
    result = run("--product", "visa", "--photo", str(photo), "--out", str(out))
    assert result.exit_code == 0
    with Image.open(out) as image:
        assert (0, 128, 255) in {c for _, c in image.convert("RGB").getcolors(1 << 20)}


def one_clear_line(result, *fragments):
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_product_is_one_clear_line_exit_2(tmp_path):
    one_clear_line(run("--product", "selfie", "--out", str(tmp_path / "x.png")), "selfie")


def test_malformed_code_is_one_clear_line_exit_2(tmp_path):
    result = run(
        "--product", "ephoto-permis", "--code", "9pmt123", "--out", str(tmp_path / "x.png")
    )
    one_clear_line(result, "9pmt123", "22 expected")


def test_code_for_a_product_without_ephoto_is_refused(tmp_path):
    code = codes.generate().value
    result = run("--product", "passport", "--code", code, "--out", str(tmp_path / "x.png"))
    one_clear_line(result, "passport", "no ePhoto number")


def test_unwritable_path_is_one_clear_line_exit_2(tmp_path):
    target = tmp_path / "missing-folder" / "x.png"
    one_clear_line(run("--product", "portrait", "--out", str(target)), "cannot write", str(target))
    one_clear_line(run("--product", "portrait", "--out", str(tmp_path / "x.gif")), ".gif")
