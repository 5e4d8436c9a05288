"""Helpers for the booth's UI tests: a booth on a temporary data folder with a fast camera,
terminal and printer, the app under SDL's dummy driver, and scripted customer journeys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from ephoto.clock import ManualClock
from kiosk.booth import Booth
from kiosk.camera import SyntheticCamera
from kiosk.catalog import load_catalog
from kiosk.ledger import issued_codes, payments, prints, sales
from kiosk.settings import KioskSettings
from kiosk.ui.app import KioskApp, use_dummy_video
from kiosk.ui.script import ScriptRunner, run_script
from transmitter.outbox import outbox

NOW = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)
CATALOG = load_catalog()


class FakeMonotonic:
    """Monotonic seconds that move only when a test says so (idle timeouts, holds, lockout)."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


FAST = dict(countdown_seconds=0, payment_seconds=0.02, print_seconds=0.02, render_in_process=False)


def make_booth(data: Path, monotonic=None, camera=None, **settings) -> Booth:
    values = {**FAST, **settings}
    kwargs = {"monotonic": monotonic} if monotonic is not None else {}
    return Booth(
        KioskSettings(**values),
        data,
        ManualClock(NOW),
        camera=camera or SyntheticCamera(seed=7),
        **kwargs,
    )


def customer(product, seed: int = 1) -> dict:
    """What an ePhoto sale's issue needs from the customer, for ``Ledger.issue``: the photo
    taken, the signature drawn and the product's procedure."""
    from kiosk.camera import synthetic_portrait, synthetic_signature

    return {
        "photo": synthetic_portrait(seed),
        "signature": synthetic_signature(seed),
        "procedure": product.procedure,
    }


def keep_customer(booth: Booth, sale_id: int, seed: int = 1) -> None:
    """The photo and signature kept for ``sale_id`` as the capture and signature screens do."""
    import io

    from kiosk.camera import synthetic_portrait, synthetic_signature

    booth.keep_photo(sale_id, synthetic_portrait(seed))
    png = io.BytesIO()
    synthetic_signature(seed).save(png, "PNG")
    booth.keep_signature(sale_id, png.getvalue())


def make_app(booth: Booth, size=(1920, 1080), screenshots: Path | None = None) -> KioskApp:
    use_dummy_video()
    return KioskApp(booth, size=size, screenshots=screenshots, fps=120)


def journey(product_id: str, *, pay: str = "card", finish: bool = True) -> list[dict]:
    """The taps of a customer who buys ``product_id`` (by button id, as a script would)."""
    product = CATALOG.get(product_id)
    steps: list[dict] = [
        {"tap": "start"},
        {"tap": "lang-fr"},
        {"tap": f"category-{product.category}"},
        {"tap": f"product-{product_id}"},
        {"tap": "accept"},
        {"wait_for": "review", "timeout": 20},
        {"tap": "keep"},
    ]
    if product.ephoto:
        steps += [{"wait_for": "signature"}, {"sign": True}, {"tap": "signed"}]
    steps.append({"wait_for": "payment"})
    if pay == "card":
        steps.append({"tap": "card"})
    else:
        steps += [{"tap": "coin-200"}] * ((product.price.cents + 199) // 200)
    steps.append({"wait_for": "done", "timeout": 30})
    if finish:
        steps += [{"tap": "finish"}, {"wait_for": "attract"}]
    return steps


def buy(app: KioskApp, product_id: str, **kw):
    return run_script(app, journey(product_id, **kw), close=False)


@dataclass(frozen=True)
class LedgerCounts:
    sales: int
    payments: int
    codes: int
    outbox: int
    prints: int


def counts(booth: Booth) -> LedgerCounts:
    with booth.ledger.engine.connect() as conn:

        def n(table):
            return conn.execute(select(func.count()).select_from(table)).scalar_one()

        return LedgerCounts(n(sales), n(payments), n(issued_codes), n(outbox), n(prints))


def qr_texts(path: Path) -> list[str]:
    with Image.open(path) as image:
        found = zxingcpp.read_barcodes(np.asarray(image.convert("L")))
    return [b.text for b in found]


def runner(app: KioskApp) -> ScriptRunner:
    return ScriptRunner(app)
