"""The support desk's decision rules as a pure function: each rule, its boundaries, their order,
and the typo finder (hypothesis: a confusable swap or lowercasing of an issued code finds it,
and no other issued code is ever proposed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ephoto import code as codes
from ephoto.money import Money
from ephoto.texts import LANGUAGES
from ephoto.validity import ACTIVATION_PROMISE, expires_at
from support.rules import (
    ABSENT,
    NOT_ASKED,
    CollectorView,
    Decision,
    Outcome,
    ProductName,
    RegistryView,
    Report,
    SaleRecord,
    decide,
    explain,
    resolve,
)

BOUGHT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EPHOTO = (
    ProductName("ephoto-permis", "ePhoto permis de conduire", "ePhoto driving licence"),
    ProductName("ephoto-titre-sejour", "ePhoto titre de séjour", "ePhoto residence permit"),
)
GEN = codes.SeededCodeGeneratorForSimulation(seed=8)
CODE = GEN.next_code().value


def ephoto_sale(code: str = CODE, sale_id: str = "S-0001", **changes) -> SaleRecord:
    values = dict(
        sale_id=sale_id,
        product_id="ephoto-permis",
        product_name_fr="ePhoto permis de conduire",
        product_name_en="ePhoto driving licence",
        ephoto=True,
        site="ANTS",
        code=code,
        purchased_at=BOUGHT,
        amount=Money(800),
    )
    values.update(changes)
    return SaleRecord(**values)


PASSPORT = SaleRecord(
    sale_id="S-0002",
    product_id="passport",
    product_name_fr="Photos d'identité passeport",
    product_name_en="ID photos, passport",
    ephoto=False,
    site=None,
    code=None,
    purchased_at=BOUGHT,
    amount=Money(700),
)


def run(report: Report, sales: list[SaleRecord], registry=ABSENT, hours: float = 100) -> Decision:
    by_id = {s.sale_id: s for s in sales}
    by_code = {s.code: s for s in sales if s.code}
    resolution = resolve(report, by_id.get, by_code.get)
    return decide(report, resolution, registry, BOUGHT + timedelta(hours=hours), EPHOTO, 2)


def test_wait_rule_boundary_71_59_is_wait_and_exactly_72_00_is_past():
    before = run(Report(CODE), [ephoto_sale()], hours=71 + 59 / 60)
    assert before.outcome is Outcome.WAIT and not before.refund
    assert before.when == BOUGHT + ACTIVATION_PROMISE
    at = run(Report(CODE), [ephoto_sale()], hours=72)
    assert at.outcome is Outcome.REFUND and at.refund and at.requeue


def test_wait_names_the_paris_date_and_time_to_try_again():
    decision = run(Report(CODE), [ephoto_sale()], hours=1)
    # 2026-03-05 09:30 UTC is 10:30 in Paris (winter time).
    assert "05/03/2026 10:30" in explain(decision, "fr")
    assert "2026-03-05 10:30" in explain(decision, "en")


def test_not_ephoto_product_refunds_nothing_and_names_both_products_even_before_72h():
    decision = run(Report(sale_id="S-0002"), [PASSPORT], hours=1)
    assert decision.outcome is Outcome.NOT_EPHOTO_PRODUCT and not decision.refund
    text = explain(decision, "en")
    assert "ID photos, passport" in text
    assert "ePhoto driving licence" in text and "ePhoto residence permit" in text


@pytest.mark.parametrize("hours", [1, 100])
def test_used_number_is_not_refunded_and_says_when(hours):
    used_at = BOUGHT + timedelta(minutes=50)
    decision = run(Report(CODE), [ephoto_sale()], RegistryView("used", used_at=used_at), hours)
    assert decision.outcome is Outcome.USED and not decision.refund
    assert decision.when == used_at
    assert "paper" in explain(decision, "en")


def test_expired_number_is_not_refunded_and_says_since_when():
    end = expires_at(BOUGHT)
    registry = RegistryView("expired", active_at=BOUGHT, expires_at=end)
    decision = run(Report(CODE), [ephoto_sale()], registry, hours=24 * 200)
    assert decision.outcome is Outcome.EXPIRED and not decision.refund
    # Six calendar months later at the same Paris wall-clock time (10:30).
    assert "02/09/2026 10:30" in explain(decision, "fr")


def test_used_then_expired_is_reported_as_used():
    registry = RegistryView("expired", used_at=BOUGHT + timedelta(hours=5))
    assert run(Report(CODE), [ephoto_sale()], registry, 24 * 200).outcome is Outcome.USED


def test_active_number_typed_right_gets_typing_advice_even_before_72h():
    decision = run(Report(CODE), [ephoto_sale()], RegistryView("active"), hours=3)
    assert decision.outcome is Outcome.WORKS and not decision.refund
    assert "capitals" in explain(decision, "en")


def test_typo_gives_the_right_code_grouped():
    typed = CODE.lower()
    decision = run(Report(typed), [ephoto_sale()], RegistryView("active"))
    assert decision.outcome is Outcome.TYPO and decision.code == CODE
    assert codes.group(CODE) in explain(decision, "fr")


def test_typo_before_72h_says_from_when_the_right_code_works():
    decision = run(Report(CODE.lower()), [ephoto_sale()], ABSENT, hours=10)
    assert decision.outcome is Outcome.TYPO and decision.when == BOUGHT + ACTIVATION_PROMISE


def test_typo_of_a_number_that_never_activated_is_still_refunded_with_the_right_code():
    decision = run(Report(CODE.lower()), [ephoto_sale()], RegistryView("pending"), hours=80)
    assert decision.outcome is Outcome.REFUND and decision.refund
    assert codes.group(CODE) in explain(decision, "en")


@pytest.mark.parametrize(
    ("registry", "transmitted", "reason"),
    [
        (RegistryView("pending"), True, "refund_not_activated"),
        (ABSENT, True, "refund_lost_in_transit"),
        (ABSENT, False, "refund_never_transmitted"),
    ],
)
def test_refund_after_72h_when_not_active_records_amount_and_requeues(
    registry, transmitted, reason
):
    decision = run(Report(CODE), [ephoto_sale(transmitted=transmitted)], registry, hours=72)
    assert decision.outcome is Outcome.REFUND and decision.reason == reason
    assert decision.refund and decision.requeue and decision.amount == Money(800)
    assert "8,00\u00a0€" in explain(decision, "fr")


def test_a_sale_already_refunded_is_not_refunded_again():
    refunded = BOUGHT + timedelta(hours=80)
    sale = ephoto_sale(refunded_at=refunded)
    decision = run(Report(CODE), [sale], RegistryView("pending"), hours=90)
    assert decision.outcome is Outcome.REFUND and not decision.refund and not decision.requeue
    assert decision.when == refunded


def test_never_activated_in_six_months_is_refunded_without_resending():
    decision = run(Report(CODE), [ephoto_sale()], ABSENT, hours=24 * 200)
    assert decision.outcome is Outcome.REFUND and decision.refund and not decision.requeue


def test_unknown_code_asks_for_the_sale_id():
    other = GEN.next_code().value
    decision = run(Report(other), [ephoto_sale()])
    assert decision.outcome is Outcome.UNKNOWN_CODE and not decision.refund
    assert "sale number" in explain(decision, "en")


def test_unknown_malformed_text_says_what_is_wrong_with_it():
    decision = run(Report("9PMT 1234"), [ephoto_sale()])
    assert decision.outcome is Outcome.UNKNOWN_CODE
    assert "8 characters" in explain(decision, "en")


def test_unknown_sale_id_asks_to_check_it():
    decision = run(Report(sale_id="S-9999"), [ephoto_sale()])
    assert decision.outcome is Outcome.UNKNOWN_CODE and decision.reason == "unknown_sale"
    assert "S-9999" in explain(decision, "fr")


def test_sale_id_with_a_near_miss_of_its_code_gives_the_right_one():
    decision = run(Report(CODE.lower(), "S-0001"), [ephoto_sale()], RegistryView("active"))
    assert decision.outcome is Outcome.TYPO and decision.code == CODE
    assert codes.group(CODE) in explain(decision, "en")


@pytest.mark.parametrize("typed", [None, "9PMTWRONG"])
def test_a_sale_number_alone_never_reveals_the_whole_code(typed):
    """Sale numbers are sequential and printed in clear: whoever types one must not learn the
    number it bought, only its last 4 characters to compare with the sheet."""
    decision = run(Report(typed, "S-0001"), [ephoto_sale()], RegistryView("active"))
    assert decision.outcome is Outcome.WORKS and decision.code_hidden
    for lang in LANGUAGES:
        text = explain(decision, lang)
        assert CODE not in text and codes.group(CODE) not in text
        assert codes.group(CODE)[-5:] in text and "••••" in text


def test_a_report_needs_a_code_or_a_sale_id():
    with pytest.raises(ValueError, match="sale id"):
        Report("  ", " ")


def test_a_decision_survives_the_audit_log_round_trip_in_every_language():
    decision = run(Report(sale_id="S-0002"), [PASSPORT], hours=1)
    again = Decision.from_dict(decision.to_dict())
    assert again == decision
    for lang in LANGUAGES:
        assert explain(again, lang) == explain(decision, lang)


# The typo finder. Issued codes are drawn from a seeded generator; the customer's text is one
# confusable swap away from one of them, or that code with some letters lowercased.

ISSUED = [GEN.next_code().value for _ in range(300)]
SALES = [ephoto_sale(code, f"S-{i:04d}") for i, code in enumerate(ISSUED)]
CONFUSABLE = dict(codes.CONFUSABLE_PAIRS) | {b: a for a, b in codes.CONFUSABLE_PAIRS}


@st.composite
def mistyped(draw) -> tuple[str, str]:
    if draw(st.booleans()):
        # A code with no confusable character cannot be mistyped this way.
        code = draw(st.sampled_from([c for c in ISSUED if any(ch in CONFUSABLE for ch in c)]))
        positions = [i for i, c in enumerate(code) if c in CONFUSABLE]
        i = draw(st.sampled_from(positions))
        return code, code[:i] + CONFUSABLE[code[i]] + code[i + 1 :]
    code = draw(st.sampled_from(ISSUED))
    letters = [i for i, c in enumerate(code) if c.isalpha()]
    lowered = draw(st.sets(st.sampled_from(letters), min_size=1))
    return code, "".join(c.lower() if i in lowered else c for i, c in enumerate(code))


@settings(max_examples=300, deadline=None)
@given(mistyped())
def test_any_confusable_swap_or_lowercasing_of_an_issued_code_finds_that_code(case):
    issued, typed = case
    decision = run(Report(typed), SALES, RegistryView("active"))
    assert decision.outcome is Outcome.TYPO
    assert decision.code == issued


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=21))
def test_a_swap_of_a_code_not_issued_never_proposes_an_issued_code(seed, position):
    fresh = codes.SeededCodeGeneratorForSimulation(seed=seed + 10_000).next_code().value
    typed = (
        fresh[:position] + CONFUSABLE.get(fresh[position], fresh[position]) + fresh[position + 1 :]
    )
    decision = run(Report(typed), SALES, RegistryView("active"))
    assert decision.outcome is Outcome.UNKNOWN_CODE
    assert decision.code is None and decision.sale_id is None


def test_a_number_that_expired_without_ever_being_active_is_refunded():
    end = expires_at(BOUGHT)
    registry = RegistryView("expired", active_at=end + timedelta(hours=3), expires_at=end)
    decision = run(Report(CODE), [ephoto_sale()], registry, hours=24 * 200)
    assert decision.outcome is Outcome.REFUND and decision.refund and not decision.requeue


# "Active at the state but the file cannot be fetched": the operator's fault.

SEALED = CollectorView(
    asked=True,
    received_at=BOUGHT,
    sealed_at=BOUGHT,
    registered_at=BOUGHT + timedelta(hours=1),
)


def run_with_collector(report, collector, registry=None, hours=100.0, **sale_changes):
    sale = ephoto_sale(**sale_changes)
    resolution = resolve(report, {sale.sale_id: sale}.get, {sale.code: sale}.get)
    return decide(
        report,
        resolution,
        registry or RegistryView("active"),
        BOUGHT + timedelta(hours=hours),
        EPHOTO,
        2,
        collector,
    )


@pytest.mark.parametrize(
    ("collector", "registry", "reason"),
    [
        (SEALED, RegistryView("active", fetch_failures=("digest",)), "file_refused_at_use"),
        (CollectorView(asked=True), None, "file_not_received"),
        (CollectorView(asked=True, received_at=BOUGHT), None, "file_not_sealed"),
        (replace(SEALED, deleted_at=BOUGHT + timedelta(days=1)), None, "file_deleted"),
        (
            NOT_ASKED,
            RegistryView("active", fetch_failures=("seal", "missing")),
            "file_refused_at_use",
        ),
    ],
)
def test_an_active_number_whose_file_cannot_be_fetched_is_refunded_and_resent(
    collector, registry, reason
):
    decision = run_with_collector(Report(CODE), collector, registry)
    assert decision.outcome is Outcome.FILE_UNAVAILABLE and decision.reason == reason
    assert decision.refund and decision.requeue and decision.amount == Money(800)
    assert "8,00" in explain(decision, "fr") and codes.group(CODE) in explain(decision, "en")


def test_the_file_rule_does_not_wait_for_72_hours_and_comes_before_the_typo():
    early = run_with_collector(Report(CODE), CollectorView(asked=True), hours=2)
    assert early.outcome is Outcome.FILE_UNAVAILABLE and early.refund
    typo = run_with_collector(Report(CODE.lower()), CollectorView(asked=True))
    assert typo.outcome is Outcome.FILE_UNAVAILABLE and typo.code == CODE
    assert typo.notes == ("note.right_code",)


def test_a_sealed_file_with_no_refusal_leaves_the_number_working():
    assert run_with_collector(Report(CODE), SEALED).outcome is Outcome.WORKS
    assert run_with_collector(Report(CODE), NOT_ASKED).outcome is Outcome.WORKS


def test_the_file_rule_refunds_only_the_sheets_holder_and_only_once():
    by_sale = run_with_collector(Report(sale_id="S-0001"), CollectorView(asked=True))
    assert by_sale.outcome is Outcome.PROOF_NEEDED and not by_sale.refund
    again = run_with_collector(
        Report(CODE), CollectorView(asked=True), refunded_at=BOUGHT + timedelta(hours=80)
    )
    assert again.outcome is Outcome.FILE_UNAVAILABLE and not again.refund
    assert again.reason == "refund_already"


def test_a_used_number_is_used_whatever_the_collector_says():
    registry = RegistryView(
        "used", used_at=BOUGHT + timedelta(hours=80), fetch_failures=("digest",)
    )
    decision = run_with_collector(Report(CODE), CollectorView(asked=True), registry)
    assert decision.outcome is Outcome.USED and not decision.refund


# "Refused on its way to the state": parked by the booth's outbox or the collector's
# registration, never sent again on its own; the operator must act.

REFUSED_AT_REGISTRATION = replace(SEALED, registered_at=None, registration_refused=True)
PARKED_AT_THE_BOOTH = "HTTP 422: files[0].issued_at is 24 hours ahead of the collector's clock"


@pytest.mark.parametrize(
    ("collector", "refused"),
    [(NOT_ASKED, PARKED_AT_THE_BOOTH), (REFUSED_AT_REGISTRATION, None)],
    ids=["parked by the booth", "parked by the collector"],
)
def test_a_number_refused_on_its_way_says_the_operator_must_act_not_wait(collector, refused):
    early = run_with_collector(Report(CODE), collector, ABSENT, hours=2, refused=refused)
    assert early.outcome is Outcome.REFUSED and early.reason == "refused_in_transit"
    assert not early.refund and not early.requeue
    assert early.when == BOUGHT + timedelta(hours=72)  # from when a refund may be claimed
    assert early.decided_again_at() == early.when
    assert "waiting will not help" in explain(early, "en")
    assert "attendre n'y changera rien" in explain(early, "fr")
    late = run_with_collector(Report(CODE), collector, ABSENT, hours=72, refused=refused)
    assert late.outcome is Outcome.REFUSED and late.reason == "refund_refused_in_transit"
    assert late.refund and not late.requeue  # the same number again would be refused again
    assert late.decided_again_at() is None


def test_the_refused_rule_comes_before_the_typo_and_pays_only_the_sheets_holder():
    typo = run_with_collector(Report(CODE.lower()), REFUSED_AT_REGISTRATION, ABSENT, hours=2)
    assert typo.outcome is Outcome.REFUSED and typo.code == CODE
    assert typo.notes == ("note.right_code",)
    by_sale = run_with_collector(Report(sale_id="S-0001"), REFUSED_AT_REGISTRATION, ABSENT)
    assert by_sale.outcome is Outcome.PROOF_NEEDED and not by_sale.refund
    # A number the state has, pending or active, was not refused on its way.
    pending = run_with_collector(
        Report(CODE), REFUSED_AT_REGISTRATION, RegistryView("pending"), hours=2
    )
    assert pending.outcome is Outcome.WAIT
