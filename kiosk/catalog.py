"""The booth's catalogue, read from ``assets/catalog.toml`` and checked at load.

A bad file fails with its path, the line of the offending product and the rule broken, so an
operator who edits prices sees at once what to fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ephoto.assets import asset
from ephoto.money import Money
from ephoto.vocabulary import SITE_FOR_PROCEDURE, Procedure

Site = Literal["ANTS", "ANEF"]
Category = Literal["ephoto", "identity", "photos"]
Layout = Literal["ephoto-id", "id-sheet", "portrait", "strip", "filter"]

CATEGORIES: tuple[str, ...] = ("ephoto", "identity", "photos")


class CatalogError(ValueError):
    """The catalogue file breaks a rule; the message names the file, line and rule."""


class _ProductModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: Category
    name_fr: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    ephoto: bool
    procedure: Procedure | None = None
    site: Site | None = None
    price_cents: int = Field(gt=0)
    photos: int = Field(ge=1, le=12)
    layout: Layout

    @model_validator(mode="after")
    def _ephoto_binding(self) -> _ProductModel:
        if self.ephoto:
            if self.procedure is None or self.site is None:
                raise ValueError("an ePhoto product must name its procedure and site")
            if SITE_FOR_PROCEDURE[self.procedure] != self.site:
                raise ValueError(
                    f"procedure {self.procedure!r} is done on "
                    f"{SITE_FOR_PROCEDURE[self.procedure]}, not {self.site}"
                )
            if self.layout != "ephoto-id" or self.category != "ephoto":
                raise ValueError("an ePhoto product uses category 'ephoto' and layout 'ephoto-id'")
        else:
            if self.procedure is not None or self.site is not None:
                raise ValueError("only ePhoto products have a procedure and site")
            if self.layout == "ephoto-id" or self.category == "ephoto":
                raise ValueError("category 'ephoto' and layout 'ephoto-id' are for ePhoto products")
        return self


@dataclass(frozen=True)
class Product:
    id: str
    category: str
    name_fr: str
    name_en: str
    ephoto: bool
    procedure: str | None
    site: str | None
    price: Money
    photos: int
    layout: str

    def name(self, lang: str = "fr") -> str:
        return self.name_fr if lang == "fr" else self.name_en


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]

    def get(self, product_id: str) -> Product:
        for product in self.products:
            if product.id == product_id:
                return product
        known = ", ".join(p.id for p in self.products)
        raise KeyError(f"unknown product {product_id!r}; known products: {known}")

    def ephoto_products(self) -> tuple[Product, ...]:
        return tuple(p for p in self.products if p.ephoto)

    def in_category(self, category: str) -> tuple[Product, ...]:
        return tuple(p for p in self.products if p.category == category)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.products)

    def __len__(self) -> int:
        return len(self.products)


def _product_lines(text: str) -> list[int]:
    return [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[product]]"]


def _key_line(text: str, start_line: int, key: str) -> int:
    lines = text.splitlines()
    for i in range(start_line, len(lines)):
        if lines[i].strip() == "[[product]]":
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start_line


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or asset("catalog.toml")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"product"}
    if unknown:
        raise CatalogError(f"{path}: line 1: unknown section(s) {', '.join(sorted(unknown))}")
    entries = data.get("product", [])
    if not entries:
        raise CatalogError(f"{path}: line 1: the catalogue lists no [[product]]")
    starts = _product_lines(text)
    products: list[Product] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        start = starts[index] if index < len(starts) else 1
        try:
            model = _ProductModel.model_validate(entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else ""
            line = _key_line(text, start, key) if key else start
            where = f"product {entry.get('id', index + 1)!r}"
            field = f" field {key!r}:" if key else ""
            raise CatalogError(f"{path}: line {line}: {where}:{field} {err['msg']}") from None
        if model.id in seen:
            raise CatalogError(
                f"{path}: line {start}: product id {model.id!r} already used at line "
                f"{seen[model.id]}"
            )
        seen[model.id] = start
        products.append(
            Product(
                id=model.id,
                category=model.category,
                name_fr=model.name_fr,
                name_en=model.name_en,
                ephoto=model.ephoto,
                procedure=None if model.procedure is None else model.procedure.value,
                site=model.site,
                price=Money(model.price_cents),
                photos=model.photos,
                layout=model.layout,
            )
        )
    return Catalog(tuple(products))
