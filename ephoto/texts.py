"""Product text (screens, sheet, web pages) in French by default and English, from ``assets/text``.

Each area has one TOML file per language, ``assets/text/{area}.{lang}.toml``, with the same keys.
Values are ``str.format`` templates: ``texts("sheet", "en").get("valid_until", date=...)``.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from ephoto.assets import asset

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


class MissingText(KeyError):
    pass


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(name, value, out)
        else:
            out[name] = str(value)


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        choices = ", ".join(LANGUAGES)
        raise ValueError(f"language {lang!r} is not available; choose one of {choices}")
    return lang


class Texts:
    """The texts of one area in one language."""

    def __init__(self, area: str, lang: str, entries: dict[str, str]):
        self.area = area
        self.lang = lang
        self.entries = entries

    def get(self, key: str, **params: object) -> str:
        try:
            template = self.entries[key]
        except KeyError:
            raise MissingText(f"text {key!r} missing in {self.area}.{self.lang}.toml") from None
        return template.format(**params) if params else template

    __call__ = get

    def keys(self) -> set[str]:
        return set(self.entries)


@lru_cache(maxsize=64)
def texts(area: str, lang: str = DEFAULT_LANGUAGE) -> Texts:
    check_language(lang)
    path = asset("text", f"{area}.{lang}.toml")
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    entries: dict[str, str] = {}
    _flatten("", data, entries)
    return Texts(area, lang, entries)


def areas() -> list[str]:
    return sorted({p.name.split(".")[0] for p in asset("text").glob("*.toml")})


def format_number(value: float, digits: int = 0, lang: str = DEFAULT_LANGUAGE) -> str:
    """``value`` with ``digits`` decimals as the language writes it: 2,756,317.5 in English,
    2 756 317,5 in French (a narrow no-break space between thousands, a decimal comma)."""
    text = f"{value:,.{digits}f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text
