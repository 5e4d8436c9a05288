"""The words every actor shares: procedures, a code's states at the registry, sale references.

The booth, the registry, the support desk and the simulator each speak of these; they are
declared here once so that a new procedure or state is added in one place.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Procedure(StrEnum):
    """The online procedure an ePhoto number is bought for."""

    PERMIS = "permis"
    """Driving licence, done on ANTS's site."""
    TITRE_SEJOUR = "titre-sejour"
    """Residence permit, done on ANEF's site."""


SITE_FOR_PROCEDURE: dict[str, str] = {
    Procedure.PERMIS.value: "ANTS",
    Procedure.TITRE_SEJOUR.value: "ANEF",
}
"""Where each procedure is done."""

PROCEDURES: tuple[str, ...] = tuple(p.value for p in Procedure)


class CodeState(StrEnum):
    """A code's state at the registry (DESIGN section 4)."""

    PENDING = "pending"
    """Received, still in the registry's ingestion backlog or base delay."""
    ACTIVE = "active"
    """Usable once in the online procedure."""
    USED = "used"
    """Used once; refused from then on."""
    EXPIRED = "expired"
    """Past its validity (6 calendar months after issue)."""


CODE_STATES: tuple[str, ...] = tuple(s.value for s in CodeState)


_SALE_REFERENCE = re.compile(r"^(?:(?P<booth>[A-Za-z0-9_-]+)-)?(?P<number>\d{1,12})$")


def sale_reference(booth_id: str, sale_id: int) -> str:
    """A sale's reference as the sheet and the screens print it: ``booth-001-000042``."""
    return f"{booth_id}-{sale_id:06d}"


def parse_sale_reference(text: str) -> tuple[str | None, int] | None:
    """The booth (None when the customer typed the number alone) and the sale number in a
    reference as printed (``booth-001-000042``) or typed (``42``); None if it is neither."""
    match = _SALE_REFERENCE.match(text.strip())
    if match is None:
        return None
    return match.group("booth"), int(match.group("number"))
