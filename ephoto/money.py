"""Money in euro cents, shown the French or English way."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Money:
    cents: int

    def __post_init__(self) -> None:
        if not isinstance(self.cents, int):
            raise TypeError(f"amount must be whole cents, got {self.cents!r}")

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + other.cents)

    def format(self, lang: str = "fr") -> str:
        euros, cents = divmod(abs(self.cents), 100)
        sign = "-" if self.cents < 0 else ""
        if lang == "fr":
            return f"{sign}{euros},{cents:02d}\u00a0€"
        return f"{sign}€{euros}.{cents:02d}"
