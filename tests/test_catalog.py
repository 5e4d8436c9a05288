"""The catalogue: every product the booth sells, and clear errors for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.catalog import CatalogError, load_catalog

GOOD = """
[[product]]
id = "ephoto-permis"
category = "ephoto"
name_fr = "ePhoto permis"
name_en = "ePhoto licence"
ephoto = true
procedure = "permis"
site = "ANTS"
price_cents = 800
photos = 2
layout = "ephoto-id"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_catalogue_has_every_product_of_the_faq():
    catalog = load_catalog()
    ids = {p.id for p in catalog}
    assert {
        "ephoto-permis",
        "ephoto-titre-sejour",
        "id-card-adult",
        "id-card-child",
        "passport",
        "visa",
        "portrait",
        "fun",
        "vintage",
        "filters",
        "ai",
    } <= ids


def test_only_the_two_online_procedures_issue_an_ephoto_number():
    catalog = load_catalog()
    ephoto = {p.id: (p.procedure, p.site) for p in catalog.ephoto_products()}
    assert ephoto == {
        "ephoto-permis": ("permis", "ANTS"),
        "ephoto-titre-sejour": ("titre-sejour", "ANEF"),
    }
    for p in catalog:
        if not p.ephoto:
            assert p.procedure is None and p.site is None and p.layout != "ephoto-id"


def test_unknown_product_names_the_known_ones():
    with pytest.raises(KeyError, match="known products: ephoto-permis"):
        load_catalog().get("selfie")


def test_a_good_file_loads(tmp_path):
    assert load_catalog(write(tmp_path, GOOD)).get("ephoto-permis").price.cents == 800


def test_ephoto_product_without_site_fails_with_file_line_and_rule(tmp_path):
    bad = GOOD.replace('site = "ANTS"\n', "")
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, bad))
    message = str(info.value)
    assert "catalog.toml: line 2:" in message
    assert "must name its procedure and site" in message


def test_wrong_site_for_procedure(tmp_path):
    with pytest.raises(CatalogError, match="done on ANTS, not ANEF"):
        load_catalog(write(tmp_path, GOOD.replace('"ANTS"', '"ANEF"')))


def test_bad_price_names_its_line(tmp_path):
    with pytest.raises(
        CatalogError, match=r"line 10: product 'ephoto-permis': field 'price_cents'"
    ):
        load_catalog(write(tmp_path, GOOD.replace("800", "-5")))


def test_duplicate_id(tmp_path):
    with pytest.raises(CatalogError, match="already used at line 2"):
        load_catalog(write(tmp_path, GOOD + GOOD))


def test_non_ephoto_product_with_a_procedure_is_refused(tmp_path):
    bad = GOOD.replace("ephoto = true", "ephoto = false")
    with pytest.raises(CatalogError, match="only ePhoto products have a procedure"):
        load_catalog(write(tmp_path, bad))


def test_broken_toml_and_unknown_keys(tmp_path):
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(write(tmp_path, GOOD + "\n[[product]\n"))
    with pytest.raises(CatalogError, match="field 'colour'"):
        load_catalog(write(tmp_path, GOOD + 'colour = "red"\n'))
