"""The support desk's decision rules: what to tell a customer whose ePhoto number "does not work".

A pure function of the report, what the booth's ledger knows of the sale, what the registry knows
of the code, and the time. It performs nothing: the desk (``support.desk``) records the decision,
refunds and re-queues when the decision says so.

When several rules could apply, the first in this order wins (the operator's reasoning):

1. ``unknown_code``: no sale found (by sale id, by the code, or by one typo away from an issued
   code). Nothing else can be checked without the sale, so ask for the sale id on the sheet.
2. ``not_ephoto_product``: the sale printed no ePhoto number. No refund for a product bought by
   mistake, and waiting would not help, so this comes before the 72 h rule.
3. ``used`` then ``expired``: the registry's definitive answers. A number already used (or past
   its 6 months) will not start working by waiting or by retyping, so say so first; a number
   used and later expired is reported as used, the fact that explains the refusal. A number that
   expired without ever having been active is not "expired" for the customer but a fault of
   ours: it goes to ``refund``.
4. ``file_unavailable``: the number is active and unused at the state, but its file (photo and
   signature) cannot be fetched from the operator's collector: the state refused what the
   collector answered when the number was used (a seal or digest that does not check, no file,
   the state's signature refused; recorded by the registry), or the collector itself has no
   sealed file for it (never received, not sealed, or deleted). The fault is the operator's and
   retyping will not help, so this comes before ``typo`` and ``works``, and the 72 h rule does
   not hold it back (it is about activation, which has happened): refund and send the file
   again, only to the sheet's holder (else ``proof_needed``, as for ``refund``).
5. ``refused``: the number never reached the state because a hop on its way refused it for good
   and parked it: the booth's outbox (the collector or the registry refused the upload naming
   it, e.g. a booth clock far off) or the collector's registration outbox (the state refused
   it at registration). A parked number is never sent again on its own, so waiting will not
   help and the operator must act: say so at once, before ``typo`` (whose "it works within the
   72 h" would be wrong) and whatever the 72 h. Before 72 h no refund is opened (the operator's
   rule), and the answer says from when one may be; from 72 h the fault is confirmed: refund,
   only to the sheet's holder (else ``proof_needed``, as for ``refund``), and no re-send: the
   same number sent again as it is would be refused again.
6. ``typo``: the customer typed a near miss of their number, which works now or will within the
   72 h: give them the right number (and, if needed, from when it works). Only a near miss
   counts: a report that names the sale by its number but types something else gets the other
   answers with the number masked, since sale numbers are sequential and guessable.
7. ``works``: the number is active and unused: the problem is the typing; give advice.
8. ``wait``: not active yet and less than 72 h since purchase (exactly 72 h counts as passed).
9. ``refund``: 72 h have passed and the number is still not active in the registry, or the booth
   never transmitted it: the fault is the operator's. Refund the sale and send the number again,
   but only to the sheet's holder: a report that proves it (the ePhoto number typed, exactly or
   one typo away). A report that does not (a sale number alone, which is sequential and printed
   in clear, or with another number) gets ``proof_needed`` instead: the request for the number
   printed on the sheet, with the number masked, and no refund and no re-send.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from ephoto import code as codes
from ephoto.clock import ensure_utc, format_paris, parse_utc
from ephoto.money import Money
from ephoto.texts import texts
from ephoto.validity import ACTIVATION_PROMISE, expires_at
from ephoto.vocabulary import CodeState


class Outcome(StrEnum):
    WAIT = "wait"
    NOT_EPHOTO_PRODUCT = "not_ephoto_product"
    TYPO = "typo"
    USED = "used"
    EXPIRED = "expired"
    WORKS = "works"
    REFUND = "refund"
    UNKNOWN_CODE = "unknown_code"
    PROOF_NEEDED = "proof_needed"
    FILE_UNAVAILABLE = "file_unavailable"
    REFUSED = "refused"


SHOWN_WHEN_HIDDEN = 4
"""Characters of a hidden code shown at its end, so the customer can match it with the sheet."""

RegistryState = CodeState | Literal["absent"]
"""The registry's internal state of a code; ``absent`` when the registry never received it."""


@dataclass(frozen=True)
class Report:
    """What the customer tells us: the number as they typed it, and/or the sale id on the sheet."""

    code: str | None = None
    sale_id: str | None = None

    def __post_init__(self) -> None:
        code = codes.normalize(self.code) if self.code else None
        sale_id = self.sale_id.strip() if self.sale_id else None
        object.__setattr__(self, "code", code or None)
        object.__setattr__(self, "sale_id", sale_id or None)
        if self.code is None and self.sale_id is None:
            raise ValueError("a report needs the ePhoto number typed or the sale id on the sheet")


@dataclass(frozen=True)
class SaleRecord:
    """The ledger's view of one sale, as the rules need it."""

    sale_id: str
    product_id: str
    product_name_fr: str
    product_name_en: str
    ephoto: bool
    site: str | None
    """Where the number is used (ANTS, ANEF) for an ePhoto product."""
    code: str | None
    purchased_at: datetime
    amount: Money
    refunded_at: datetime | None = None
    """When this sale was already refunded (by an earlier report or at the booth), if it was."""
    transmitted: bool | None = None
    """Whether the booth's outbox says the code was sent; None when there is no outbox row."""
    refused: str | None = None
    """Why the booth's outbox parked the code, refused for good where it was sent (the
    collector or the registry); None when it was not."""

    def name(self, lang: str) -> str:
        return self.product_name_fr if lang == "fr" else self.product_name_en


@dataclass(frozen=True)
class ProductName:
    """A catalogue product, by id and name, for the "products that would have fit" list."""

    product_id: str
    name_fr: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_fr if lang == "fr" else self.name_en


@dataclass(frozen=True)
class RegistryView:
    """What the registry's admin API says about one code (its clock, its stored times)."""

    state: RegistryState
    received_at: datetime | None = None
    active_at: datetime | None = None
    used_at: datetime | None = None
    expires_at: datetime | None = None
    fetch_failures: tuple[str, ...] = ()
    """Why the state refused this number's file when it was used, newest first (``seal``,
    ``digest``, ``missing``, ``denied``, ``answer``); empty when it never did."""


ABSENT = RegistryView("absent")


@dataclass(frozen=True)
class CollectorView:
    """What the operator's collector's admin API says about one number's file."""

    asked: bool
    """False when the desk has no collector to ask (or had no need to)."""
    received_at: datetime | None = None
    sealed_at: datetime | None = None
    registered_at: datetime | None = None
    deleted_at: datetime | None = None
    registration_refused: bool = False
    """The state refused to register the number and the collector parked it."""

    @property
    def known(self) -> bool:
        return self.received_at is not None

    def file_problem(self) -> str | None:
        """Why the collector cannot hand the file over, or None when it holds it sealed."""
        if not self.asked:
            return None
        if not self.known:
            return "not_received"
        if self.deleted_at is not None:
            return "deleted"
        if self.sealed_at is None:
            return "not_sealed"
        return None

    def state(self) -> str:
        """One word for the audit facts: not_asked, not_received, deleted, not_sealed,
        registration_refused, registered or sealed."""
        if not self.asked:
            return "not_asked"
        problem = self.file_problem()
        if problem is not None:
            return problem
        if self.registration_refused:
            return "registration_refused"
        return "registered" if self.registered_at is not None else "sealed"


NOT_ASKED = CollectorView(asked=False)

MatchedBy = Literal["sale_id", "code", "typo", "none"]


@dataclass(frozen=True)
class Resolution:
    """Which sale a report is about, and how we found it."""

    sale: SaleRecord | None
    matched_by: MatchedBy
    problems: tuple[codes.Problem, ...] = ()
    """Why the typed code is not a valid number, when it is not."""
    ambiguous: tuple[str, ...] = ()
    """Several issued codes are one typo away: we cannot tell which one the customer has."""


def resolve(
    report: Report,
    sale_by_id: Callable[[str], SaleRecord | None],
    sale_by_code: Callable[[str], SaleRecord | None],
    prefixes: tuple[str, ...] = (codes.DEFAULT_PREFIX,),
) -> Resolution:
    """Find the sale a report is about: the sale id first (printed on every sheet, never
    mistyped into another valid id by a confusable), then the code, then one typo away from it.

    Only issued codes are ever proposed: a candidate that passes the check character but was not
    issued by this booth is someone else's or nobody's, and is never shown.
    """
    problems = tuple(codes.problems_in(report.code, prefixes)) if report.code else ()
    if report.sale_id:
        sale = sale_by_id(report.sale_id)
        if sale is not None:
            return Resolution(sale, "sale_id", problems)
    if report.code:
        sale = sale_by_code(report.code)
        if sale is not None:
            return Resolution(sale, "code", problems)
        found: dict[str, SaleRecord] = {}
        for candidate in codes.candidates(report.code, prefixes):
            match = sale_by_code(candidate)
            if match is not None:
                found[candidate] = match
        if len(found) == 1:
            return Resolution(next(iter(found.values())), "typo", problems)
        if len(found) > 1:
            return Resolution(None, "none", problems, ambiguous=tuple(sorted(found)))
    return Resolution(None, "none", problems)


@dataclass(frozen=True)
class Decision:
    """The answer to a report: the outcome, the reason (a text key) and the facts it cites.

    ``explain`` turns it into plain words in French or English; ``to_dict`` / ``from_dict`` store
    it in the audit log so a repeated report gets exactly the same answer.
    """

    outcome: Outcome
    reason: str
    sale_id: str | None = None
    code: str | None = None
    """The issued code concerned; for a typo, the right one."""
    typed: str | None = None
    product_id: str | None = None
    product_name_fr: str | None = None
    product_name_en: str | None = None
    site: str | None = None
    alternatives: tuple[ProductName, ...] = ()
    purchased_at: datetime | None = None
    when: datetime | None = None
    """Wait: try again from; used: when; expired: since when; refund: already refunded at."""
    amount: Money | None = None
    refund: bool = False
    """Record a refund of ``amount`` (only once per sale, whatever the number of reports)."""
    requeue: bool = False
    """Put the code back in the booth's outbox for another transmission."""
    notes: tuple[str, ...] = field(default=())
    """Extra text keys appended to the reason (the right code after a typo, photos on paper)."""
    code_hidden: bool = False
    """The customer did not type this number or a near miss of it (a report by sale number):
    show only its last characters."""
    problems: tuple[tuple[str, str], ...] = ()
    """(rule, customer text key params as JSON) of the typed code, for unknown_code."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "sale_id": self.sale_id,
            "code": self.code,
            "typed": self.typed,
            "product_id": self.product_id,
            "product_name_fr": self.product_name_fr,
            "product_name_en": self.product_name_en,
            "site": self.site,
            "alternatives": [[p.product_id, p.name_fr, p.name_en] for p in self.alternatives],
            "purchased_at": _iso(self.purchased_at),
            "when": _iso(self.when),
            "amount_cents": self.amount.cents if self.amount else None,
            "refund": self.refund,
            "requeue": self.requeue,
            "notes": list(self.notes),
            "problems": [list(p) for p in self.problems],
            "code_hidden": self.code_hidden,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            outcome=Outcome(data["outcome"]),
            reason=data["reason"],
            sale_id=data["sale_id"],
            code=data["code"],
            typed=data["typed"],
            product_id=data["product_id"],
            product_name_fr=data["product_name_fr"],
            product_name_en=data["product_name_en"],
            site=data["site"],
            alternatives=tuple(ProductName(*p) for p in data["alternatives"]),
            purchased_at=_from_iso(data["purchased_at"]),
            when=_from_iso(data["when"]),
            amount=Money(data["amount_cents"]) if data["amount_cents"] is not None else None,
            refund=data["refund"],
            requeue=data["requeue"],
            notes=tuple(data["notes"]),
            problems=tuple((rule, params) for rule, params in data["problems"]),
            code_hidden=data.get("code_hidden", False),
        )

    def decided_again_at(self) -> datetime | None:
        """When the same facts get another answer: the end of the 72 h of a ``wait``, or of a
        refusal on the way before 72 h (a refund may be claimed from then); None otherwise."""
        if self.outcome is Outcome.WAIT or self.reason == "refused_in_transit":
            return self.when
        return None

    def shown_code(self) -> str | None:
        """The code as the customer may see it: grouped, masked but for its last 4 characters
        when ``code_hidden``."""
        if self.code is None:
            return None
        if not self.code_hidden:
            return codes.group(self.code)
        shown = SHOWN_WHEN_HIDDEN
        masked = self.code[: codes.PREFIX_LENGTH] + "•" * (
            len(self.code) - codes.PREFIX_LENGTH - shown
        )
        return codes.group(masked + self.code[-shown:])


def _iso(value: datetime | None) -> str | None:
    return ensure_utc(value).isoformat().replace("+00:00", "Z") if value else None


def _from_iso(value: str | None) -> datetime | None:
    return parse_utc(value) if value else None


def _photos_note(product_photos: int) -> tuple[str, ...]:
    return ("note.photos_on_paper",) if product_photos > 0 else ()


def file_unavailable(registry: RegistryView, collector: CollectorView) -> str | None:
    """Why an active number's file cannot be fetched (a reason text key), or None."""
    if registry.fetch_failures:
        return "file_refused_at_use"
    problem = collector.file_problem()
    return f"file_{problem}" if problem is not None else None


def refused_on_the_way(sale: SaleRecord, registry: RegistryView, collector: CollectorView) -> bool:
    """The number is not at the state because a hop on its way parked it as refused: the
    booth's outbox, or the collector's registration."""
    if registry.state != "absent":
        return False
    return sale.refused is not None or collector.registration_refused


def decide(
    report: Report,
    resolution: Resolution,
    registry: RegistryView,
    now: datetime,
    ephoto_products: tuple[ProductName, ...],
    printed_photos: int = 1,
    collector: CollectorView = NOT_ASKED,
) -> Decision:
    """The decision for one report; see the module docstring for the order of the rules.

    ``registry`` is the registry's view of the sale's code (``ABSENT`` when it never received it
    or when there is no code); ``ephoto_products`` are the catalogue's ePhoto products, named when
    a customer bought another product; ``printed_photos`` is how many photos the sale's sheet
    printed (their paper use survives a used or expired number); ``collector`` is what the
    operator's collector says of the number's file (``NOT_ASKED`` when it was not asked).
    """
    now = ensure_utc(now)
    sale = resolution.sale
    if sale is None:
        return _unknown(report, resolution)

    base = Decision(
        outcome=Outcome.UNKNOWN_CODE,
        reason="",
        sale_id=sale.sale_id,
        code=sale.code,
        typed=report.code,
        product_id=sale.product_id,
        product_name_fr=sale.product_name_fr,
        product_name_en=sale.product_name_en,
        site=sale.site,
        purchased_at=ensure_utc(sale.purchased_at),
        amount=sale.amount,
    )

    if not sale.ephoto or sale.code is None:
        return replace(
            base,
            outcome=Outcome.NOT_EPHOTO_PRODUCT,
            reason="not_ephoto_product",
            code=None,
            alternatives=ephoto_products,
        )

    if registry.state == CodeState.USED or registry.used_at is not None:
        return replace(
            base,
            outcome=Outcome.USED,
            reason="used",
            when=registry.used_at,
            notes=_photos_note(printed_photos),
        )
    end = registry.expires_at or expires_at(sale.purchased_at)
    never_active = registry.active_at is not None and registry.active_at >= end
    if registry.state == CodeState.EXPIRED and not never_active:
        return replace(
            base,
            outcome=Outcome.EXPIRED,
            reason="expired",
            when=end,
            notes=_photos_note(printed_photos),
        )

    retry_at = ensure_utc(sale.purchased_at) + ACTIVATION_PROMISE
    promise_passed = now >= retry_at
    active = registry.state == CodeState.ACTIVE
    # The full number is shown only to someone who typed it or a near miss of it. A sale
    # number alone is sequential and printed in clear, so it must not reveal the code.
    proven = report.code is not None and (
        report.code == sale.code or sale.code in codes.candidates(report.code, prefixes=None)
    )
    corrected = proven and report.code != sale.code
    if not proven:
        base = replace(base, code_hidden=True)

    file_reason = file_unavailable(registry, collector) if active else None
    if file_reason is not None:
        notes = ("note.right_code",) if corrected else ()
        if sale.refunded_at is not None:
            return _refunded_already(base, Outcome.FILE_UNAVAILABLE, sale.refunded_at, notes)
        if not proven:
            return replace(base, outcome=Outcome.PROOF_NEEDED, reason="proof_needed")
        return replace(
            base,
            outcome=Outcome.FILE_UNAVAILABLE,
            reason=file_reason,
            refund=True,
            requeue=True,
            notes=notes,
        )

    if refused_on_the_way(sale, registry, collector):
        notes = ("note.right_code",) if corrected else ()
        if sale.refunded_at is not None:
            return _refunded_already(base, Outcome.REFUSED, sale.refunded_at, notes)
        if not promise_passed:
            # The operator must act; no refund before 72 h, but no "wait" either.
            return replace(
                base,
                outcome=Outcome.REFUSED,
                reason="refused_in_transit",
                when=retry_at,
                notes=notes,
            )
        if not proven:
            return replace(base, outcome=Outcome.PROOF_NEEDED, reason="proof_needed")
        return replace(
            base,
            outcome=Outcome.REFUSED,
            reason="refund_refused_in_transit",
            refund=True,
            notes=notes,
        )

    if corrected and (active or not promise_passed):
        return replace(
            base,
            outcome=Outcome.TYPO,
            reason="typo" if active else "typo_wait",
            when=None if active else retry_at,
        )
    if active:
        return replace(base, outcome=Outcome.WORKS, reason="works")
    if not promise_passed:
        return replace(base, outcome=Outcome.WAIT, reason="wait", when=retry_at)

    notes = ("note.right_code",) if corrected else ()
    if sale.refunded_at is not None:
        return _refunded_already(base, Outcome.REFUND, sale.refunded_at, notes)
    if now >= end or registry.state == CodeState.EXPIRED:
        # Never activated in its 6 months (not sent in time, or the registry's backlog was
        # longer than that): refund, but sending it again would only store an expired number.
        reason, requeue = "refund_too_late_to_resend", False
    elif registry.state == CodeState.PENDING:
        reason, requeue = "refund_not_activated", True
    elif sale.transmitted:
        reason, requeue = "refund_lost_in_transit", True
    else:
        reason, requeue = "refund_never_transmitted", True
    if not proven:
        # A refund and a re-send cost the operator money: only for whoever holds the sheet.
        return replace(base, outcome=Outcome.PROOF_NEEDED, reason="proof_needed")
    return replace(
        base, outcome=Outcome.REFUND, reason=reason, refund=True, requeue=requeue, notes=notes
    )


def _refunded_already(
    base: Decision, outcome: Outcome, refunded_at: datetime, notes: tuple[str, ...]
) -> Decision:
    """The sale was refunded before: said again with its date, never a second refund."""
    return replace(
        base, outcome=outcome, reason="refund_already", when=ensure_utc(refunded_at), notes=notes
    )


def _unknown(report: Report, resolution: Resolution) -> Decision:
    if resolution.ambiguous:
        reason = "unknown_ambiguous"
    elif report.code is None:
        reason = "unknown_sale"
    elif report.sale_id is not None:
        reason = "unknown_sale_and_code"
    elif resolution.problems:
        reason = "unknown_malformed"
    else:
        reason = "unknown_code"
    return Decision(
        outcome=Outcome.UNKNOWN_CODE,
        reason=reason,
        sale_id=report.sale_id,
        typed=report.code,
        problems=tuple(
            (p.rule, json.dumps(dict(p.params), sort_keys=True, ensure_ascii=False))
            for p in resolution.problems
        ),
    )


def explain(decision: Decision, lang: str = "fr") -> str:
    """The decision in plain words for the customer, from ``assets/text/support.{lang}.toml``."""
    text = texts("support", lang)
    product = decision.product_name_fr if lang == "fr" else decision.product_name_en
    values: dict[str, object] = {
        "code": decision.shown_code() or "",
        "typed": decision.typed or "",
        "sale_id": decision.sale_id or "",
        "product": product or "",
        "site": decision.site or "",
        "alternatives": ", ".join(p.name(lang) for p in decision.alternatives),
        "purchased_at": format_paris(decision.purchased_at, lang) if decision.purchased_at else "",
        "when": format_paris(decision.when, lang) if decision.when else "",
        "amount": decision.amount.format(lang) if decision.amount else "",
    }
    parts = [text.get(f"reason.{decision.reason}", **values)]
    for rule, params in decision.problems:
        parts.append(codes.describe(codes.Problem(rule, "", json.loads(params)), lang))
    parts.extend(text.get(note, **values) for note in decision.notes)
    return " ".join(parts)
