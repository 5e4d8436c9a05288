"""Taking payment: a simulated card terminal (with a declined-card path) and a coin box.

The card terminal blocks while it "talks to the bank", so the sale flow calls it on its
executor and gets the result back as an event. Nothing here writes the ledger: the sale flow
records each coin as it goes in, a declined card on its own, and the payment that completes a
sale inside the issuing transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ephoto.money import Money

CARD = "card"
COINS = "coins"
ACCEPTED_COINS_CENTS: tuple[int, ...] = (50, 100, 200)


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    method: str
    amount: Money
    detail: str = ""
    change: Money = Money(0)


class CardTerminal(Protocol):
    def charge(self, amount: Money) -> PaymentResult:
        """Ask the bank for ``amount``; blocks until it answers."""
        ...


TestCard = Literal["approved", "declined"]


@dataclass
class SimulatedCardTerminal:
    """A card reader that answers after ``seconds``; the next card can be set to be declined.

    Testers choose the card on screen ("test card: declined"), as with a real terminal's test
    cards; no randomness, so a scripted session is repeatable.
    """

    seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    next_card: TestCard = "approved"

    def charge(self, amount: Money) -> PaymentResult:
        if amount.cents <= 0:
            raise ValueError(f"amount to charge must be positive, got {amount.cents} cents")
        card, self.next_card = self.next_card, "approved"
        self.sleep(self.seconds)
        if card == "declined":
            return PaymentResult(False, CARD, amount, "card declined by the bank (test card)")
        return PaymentResult(True, CARD, amount, "approved")


@dataclass
class SimulatedCoinMechanism:
    """The coin box's return and change: ``gives_back`` false simulates a box that keeps what
    is inserted (no escrow, empty change tube), so the booth records a refund due instead."""

    gives_back: bool = True

    def can_give(self, cents: int) -> bool:
        """Whether ``cents`` could be dropped into the return tray now."""
        return self.gives_back

    def give_back(self, cents: int) -> bool:
        """Drop ``cents`` into the return tray; False when the box cannot."""
        return self.gives_back


@dataclass
class CoinBox:
    """Coins inserted for one sale. Paid once the total reaches the price; extra is change."""

    price: Money
    inserted: list[int] = field(default_factory=list)

    def insert(self, cents: int) -> Money:
        if cents not in ACCEPTED_COINS_CENTS:
            accepted = ", ".join(Money(c).format("en") for c in ACCEPTED_COINS_CENTS)
            raise ValueError(f"coin of {cents} cents is not accepted; accepted: {accepted}")
        self.inserted.append(cents)
        return self.total

    @property
    def total(self) -> Money:
        return Money(sum(self.inserted))

    @property
    def remaining(self) -> Money:
        return Money(max(0, self.price.cents - self.total.cents))

    def is_paid(self) -> bool:
        return self.total.cents >= self.price.cents

    def result(self) -> PaymentResult:
        """Approved for the price once enough is in, with the change due on the rest."""
        if not self.is_paid():
            return PaymentResult(False, COINS, self.total, "not enough coins")
        change = Money(self.total.cents - self.price.cents)
        return PaymentResult(True, COINS, self.price, "coins", change)
