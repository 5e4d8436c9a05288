"""What the registry tells a citizen about a number: status and message, in plain words.

The real registry cannot tell a typo from a number the booth has not transmitted yet, or from
one still in its ingestion backlog, so all three answer ``not_found``, with the advice that
fits all three (wait up to 72 h, check the characters).

Procedure rule (cabine's decision; the real rule is not public): an ePhoto number is a photo
and signature reference, not a licence for one application, so a number bought for a driving
licence is also accepted for a residence permit and the other way round. The answer says which
procedure the number was bought for when they differ, and the redemption records the procedure
it was actually used for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from stdnum.iso7064 import mod_37_36

from ephoto.clock import format_paris
from ephoto.code import ALPHABET, Problem, candidates, describe, group, normalize, problems_in
from ephoto.texts import LANGUAGES, texts
from ephoto.vocabulary import CodeState

if TYPE_CHECKING:
    from registry.store import CodeTimes, StoredCode

MALFORMED = "malformed"
NOT_FOUND = "not_found"

_CANONICAL = re.compile(r"[A-Z0-9]{22}")


@dataclass(frozen=True)
class Answer:
    status: str
    message: str
    candidates: tuple[str, ...] = ()
    """For a mistyped number, the numbers one capital or one confusable character away that
    pass every check (``ephoto.code.candidates``, as the support desk and ``cabine code check``
    find them); the message names them."""


def language_from(accept_language: str | None, default: str = "fr") -> str:
    """The best of our languages for an ``Accept-Language`` header (q-values honoured; the
    earlier entry wins among equal weights)."""
    if not accept_language:
        return default
    best_weight, best = 0.0, default
    for part in accept_language.split(","):
        tag, *params = (field.strip() for field in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.lower().split("-")[0]
        if primary in LANGUAGES and weight > best_weight:
            best_weight, best = weight, primary
    return best


def code_problems(text: str, prefixes: tuple[str, ...] | None) -> list[Problem]:
    """Problems of a typed code (``ephoto.code.problems_in``), with a fast path for the common
    case of 22 capitals and digits with a known prefix, where only the check character is left
    to verify."""
    if (prefixes is None or text[:4] in prefixes) and _canonical_and_checked(text):
        return []
    return problems_in(text, prefixes)


def is_wire_code(text: str, operator: str) -> bool:
    """True for a code a booth of ``operator`` may upload: 22 capitals and digits, the
    operator's prefix, a right check character (the whole test a valid code takes)."""
    return text[:4] == operator and _canonical_and_checked(text)


def _canonical_and_checked(text: str) -> bool:
    """22 capitals and digits whose check character is right."""
    return (
        _CANONICAL.fullmatch(text) is not None and mod_37_36.checksum(text, alphabet=ALPHABET) == 1
    )


def malformed_answer(text: str, prefixes: tuple[str, ...] | None, lang: str) -> Answer | None:
    """The answer for a number that is not well formed, None for a well-formed one.

    One sentence for an empty field and one for text that is not an ePhoto number at all (two
    or more of: wrong length, characters outside A-Z 0-9, another prefix, once capitalised);
    otherwise each problem (capitals first, then what is still wrong once capitalised), and the
    numbers the citizen probably meant."""
    problems = code_problems(text, prefixes)
    if not problems:
        return None
    t = texts("registry", lang)
    typed = normalize(text)
    if not typed:
        return Answer(MALFORMED, t.get("status.empty"))
    capitalised = problems_in(typed.upper(), prefixes)
    if len({p.rule for p in capitalised} & {"length", "characters", "prefix"}) >= 2:
        if prefixes:
            joined = t.get("status.alternatives").join(prefixes)
            return Answer(MALFORMED, t.get("status.not_a_number", prefix=joined))
        return Answer(MALFORMED, t.get("status.not_a_number_any"))
    shown = [p for p in problems if p.rule == "lowercase"] + capitalised
    described = " ".join(describe(p, lang) for p in shown)
    message = t.get("status.malformed", problems=described)
    found = tuple(candidates(typed, prefixes))
    if found:
        joined = t.get("status.alternatives").join(group(c) for c in found)
        message += " " + texts("code", lang).get("hint.did_you_mean", code=joined)
    return Answer(MALFORMED, message, found)


def check_answer(
    stored: StoredCode | CodeTimes | None,
    procedure: str,
    now: datetime,
    lang: str,
    products: Mapping[str, str],
) -> Answer:
    """The answer for a well-formed code, found or not, at ``now``; ``products`` maps a
    product id to the procedure it is sold for."""
    # Imported here: the typing rules above serve the fleet simulator, which has no database,
    # and registry.store brings SQLAlchemy (a tenth of a second to import).
    from registry.store import state_of

    t = texts("registry", lang)
    state = state_of(stored, now) if stored is not None else CodeState.PENDING
    if stored is None or state == CodeState.PENDING:
        return Answer(
            NOT_FOUND,
            t.get("status.not_found", wait=t.get("advice.wait"), typing=t.get("advice.typing")),
        )
    if state == CodeState.USED:
        assert stored.redeemed_at is not None
        return Answer(
            CodeState.USED, t.get("status.used", when=format_paris(stored.redeemed_at, lang))
        )
    if state == CodeState.EXPIRED:
        return Answer(
            CodeState.EXPIRED, t.get("status.expired", since=format_paris(stored.expires_at, lang))
        )
    message = t.get(
        "status.active",
        procedure=t.get(f"procedure.{procedure}"),
        expires=format_paris(stored.expires_at, lang),
    )
    bought = products.get(stored.product)
    if bought is not None and bought != procedure:
        message += " " + t.get(
            "status.active_other_procedure",
            bought=t.get(f"procedure.{bought}"),
            procedure=t.get(f"procedure.{procedure}"),
        )
    return Answer(CodeState.ACTIVE, message)
