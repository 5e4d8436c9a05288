"""A booth, its real ledger and outbox, a real registry on loopback and a support desk, on one
ManualClock: what the support desk tests stand on."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from ephoto.clock import ManualClock
from kiosk.catalog import Catalog, load_catalog
from kiosk.ledger import Ledger
from support.desk import RegistryAdmin, SupportDesk, open_booth_engine
from tests.kiosk_harness import customer
from tests.pgcluster import free_port
from tests.registry_server import ADMIN_TOKEN, Booth, ThreadedRegistry
from transmitter.outbox import Outbox, outbox

BOOTH_ID = "booth-001"
# A quiet month (March): no busy-season capacity, Paris on winter time (UTC+1).
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Bought:
    sale_ref: str
    code: str | None
    at: datetime


@dataclass
class World:
    clock: ManualClock
    registry: ThreadedRegistry
    booth: Booth
    ledger: Ledger
    catalog: Catalog
    booth_db: Path
    booth_id: str = BOOTH_ID

    def desk(self, registry_url: str | None = None) -> SupportDesk:
        """A desk with its own engine and HTTP client, as a separate desk process would have."""
        return SupportDesk(
            open_booth_engine(self.booth_db),
            RegistryAdmin(registry_url or self.registry.url, ADMIN_TOKEN, timeout=5),
            self.clock,
            self.catalog,
            booth_id=self.booth_id,
        )

    def buy(self, product_id: str = "ephoto-permis") -> Bought:
        """A customer buys a product at the booth: paid, issued, printed, all in the ledger."""
        product = self.catalog.get(product_id)
        sale_id = self.ledger.open_sale(product, "fr")
        issued = self.ledger.issue(sale_id, "card", product.price.cents, **customer(product))
        self.ledger.record_print(sale_id, self.booth_db.parent / f"sheet-{sale_id}.png")
        return Bought(self.ledger.sale(sale_id).display_id(), issued.code, issued.issued_at)

    def at(self, bought: Bought, hours: float = 0, minutes: float = 0, seconds: float = 0) -> None:
        """Move the shared clock to this long after the purchase."""
        self.clock.set(bought.at + timedelta(hours=hours, minutes=minutes, seconds=seconds))

    def transmit(self, code: str) -> None:
        """Upload the code to the registry as the transmitter does, and mark its row sent."""
        row_id = self.outbox_row(code)["id"]
        batch = self.booth.batch([code], issued_at=self.outbox_row(code)["issued_at"])
        response = self.booth.upload(batch)
        assert response.status_code == 200, response.text
        Outbox(self.ledger.engine).mark_sent([row_id], self.clock.now(), batch_id=batch.batch_id)

    def redeem(self, code: str) -> httpx.Response:
        return httpx.post(
            f"{self.registry.url}/v1/codes/{code}/redeem", json={"procedure": "permis"}, timeout=5
        )

    def advance_registry(self, seconds: float) -> None:
        response = httpx.post(
            f"{self.registry.url}/admin/clock",
            json={"advance_seconds": seconds},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=5,
        )
        response.raise_for_status()

    def outbox_row(self, code: str) -> dict:
        with self.ledger.engine.connect() as conn:
            return dict(conn.execute(select(outbox).where(outbox.c.code == code)).one()._mapping)


def make_world(tmp: Path, registry: ThreadedRegistry, booth_id: str = BOOTH_ID) -> World:
    booth_db = tmp / f"booth-{uuid.uuid4().hex[:8]}.db"
    ledger = Ledger(booth_db, registry.clock, booth_id=booth_id)
    return World(
        clock=registry.clock,
        registry=registry,
        booth=registry.booth(booth_id),
        ledger=ledger,
        catalog=load_catalog(),
        booth_db=booth_db,
        booth_id=booth_id,
    )


@dataclass
class ThreadedApp:
    """A FastAPI app served by uvicorn in a thread on a free loopback port."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve(app: Any) -> ThreadedApp:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("support desk did not start within 15 s")
        time.sleep(0.02)
    return ThreadedApp(f"http://127.0.0.1:{port}", server, thread)
