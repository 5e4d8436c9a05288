"""What the support desk answers the simulated customers who file a problem report.

Each report goes through the desk's own rules (``support.rules.resolve`` then ``decide``) with
the sale, the text the customer typed and the registry's state of the code at the time of the
report. The answer depends only on a few facts: which way the number was mistyped, the
registry's state and whether 72 h and 6 months have passed. A season can bring hundreds of
thousands of reports, so the rules are run once per distinct combination of those facts, on a
real report that has them, and the answer is counted for every report sharing them
(``decide_each_report`` runs them on every report, and a test checks both agree).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import numpy as np

from ephoto.money import Money
from ephoto.vocabulary import CodeState
from kiosk.catalog import Product, load_catalog
from simulation.scenario import Scenario
from support.rules import (
    ABSENT,
    Decision,
    ProductName,
    RegistryView,
    Report,
    SaleRecord,
    decide,
    resolve,
)

_PENDING, _ACTIVE, _EXPIRED = range(3)
_STATES = (CodeState.PENDING, CodeState.ACTIVE, CodeState.EXPIRED)


@dataclass(frozen=True)
class ReportBatch:
    """Reports of ePhoto buyers, one entry per report, hours on the scenario's clock."""

    issued: np.ndarray
    report_at: np.ndarray
    active: np.ndarray
    expires: np.ndarray
    code: list[str]  # the issued code of each report's sale
    typed: list[str]  # what the customer typed
    form: np.ndarray  # how it was typed (0 correct, 1 lowercase, 2 swap, 3 both)


@lru_cache(maxsize=1)
def _catalog_facts() -> tuple[tuple[ProductName, ...], Product, Product]:
    catalog = load_catalog()
    ephoto = tuple(ProductName(p.id, p.name_fr, p.name_en) for p in catalog.ephoto_products())
    first_ephoto = catalog.ephoto_products()[0]
    classic = next(p for p in catalog if not p.ephoto and p.category == "identity")
    return ephoto, first_ephoto, classic


def _state(batch: ReportBatch) -> np.ndarray:
    return np.where(
        batch.report_at >= batch.expires,
        _EXPIRED,
        np.where(batch.report_at >= batch.active, _ACTIVE, _PENDING),
    )


def _decision(scenario: Scenario, batch: ReportBatch, i: int, state: int) -> Decision:
    ephoto_products, product, _ = _catalog_facts()
    origin = scenario.origin

    def at(hours: float):
        return origin + timedelta(hours=float(hours))

    sale = SaleRecord(
        sale_id=f"SIM-{i}",
        product_id=product.id,
        product_name_fr=product.name_fr,
        product_name_en=product.name_en,
        ephoto=True,
        site=product.site,
        code=batch.code[i],
        purchased_at=at(batch.issued[i]),
        amount=product.price,
        transmitted=True,
    )
    report = Report(code=batch.typed[i])
    resolution = resolve(
        report,
        sale_by_id=lambda sale_id: sale if sale_id == sale.sale_id else None,
        sale_by_code=lambda text: sale if text == sale.code else None,
    )
    view = RegistryView(
        state=_STATES[state],
        received_at=at(batch.issued[i]),
        active_at=at(batch.active[i]) if state == _ACTIVE else None,
        expires_at=at(batch.expires[i]),
    )
    return decide(report, resolution, view, at(batch.report_at[i]), ephoto_products)


def wrong_product_decision(scenario: Scenario) -> Decision:
    """A customer who bought ID photos without a number and reports that it "does not work"."""
    ephoto_products, _, classic = _catalog_facts()
    sale = SaleRecord(
        sale_id="SIM-WRONG",
        product_id=classic.id,
        product_name_fr=classic.name_fr,
        product_name_en=classic.name_en,
        ephoto=False,
        site=None,
        code=None,
        purchased_at=scenario.origin + timedelta(hours=80),
        amount=Money(classic.price.cents),
    )
    report = Report(sale_id=sale.sale_id)
    resolution = resolve(report, lambda s: sale if s == sale.sale_id else None, lambda c: None)
    return decide(report, resolution, ABSENT, sale.purchased_at, ephoto_products)


def decide_reports(
    scenario: Scenario, batch: ReportBatch, wrong_product_reports: int
) -> tuple[dict[str, int], dict[str, int]]:
    """(count per outcome, count per reason) for every report, the rules run once per group."""
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    if batch.issued.size:
        key = batch.form.astype(np.int64) * 3 + _state(batch)
        groups, first, sizes = np.unique(key, return_index=True, return_counts=True)
        for group, i, size in zip(groups, first, sizes, strict=True):
            decision = _decision(scenario, batch, int(i), int(group % 3))
            outcomes[decision.outcome.value] += int(size)
            reasons[decision.reason] += int(size)
    if wrong_product_reports:
        decision = wrong_product_decision(scenario)
        outcomes[decision.outcome.value] += wrong_product_reports
        reasons[decision.reason] += wrong_product_reports
    return dict(sorted(outcomes.items())), dict(sorted(reasons.items()))


def decide_each_report(scenario: Scenario, batch: ReportBatch) -> dict[str, int]:
    """Count per reason with the rules run on every report (slow; the reference)."""
    states = _state(batch)
    return dict(
        sorted(
            Counter(
                _decision(scenario, batch, i, int(states[i])).reason
                for i in range(batch.issued.size)
            ).items()
        )
    )
