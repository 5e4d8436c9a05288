"""Product text: every area exists in French and English with the same keys and placeholders."""

from __future__ import annotations

import string

import pytest

from ephoto.texts import LANGUAGES, areas, texts


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("area", areas())
def test_every_area_has_the_same_keys_and_placeholders_in_every_language(area):
    fr = texts(area, "fr")
    for lang in LANGUAGES:
        other = texts(area, lang)
        assert other.keys() == fr.keys(), f"{area}.{lang} keys differ from {area}.fr"
        for key in fr.keys():
            assert placeholders(other.get(key)) == placeholders(fr.get(key)), (area, lang, key)


def test_unknown_language_is_refused_clearly():
    with pytest.raises(ValueError, match="choose one of fr, en"):
        texts("code", "de")


def test_numbers_are_written_as_each_language_writes_them():
    from ephoto.texts import format_number

    assert format_number(2756317.25, 1, "en") == "2,756,317.2"
    assert format_number(2756317.25, 1, "fr") == "2\u202f756\u202f317,2"
    assert format_number(0.5, 0, "fr") == "0" and format_number(1500, 0, "fr") == "1\u202f500"
