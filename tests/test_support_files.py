"""The support desk asks the operator's collector too: a number active at the state whose file
cannot be fetched (never received by the collector, or refused by the state when it was used)
is the operator's fault, refunded and sent again; a sealed file leaves the number working.

A real booth ledger, a real registry and the real collector (``collector.app``) on loopback,
all on one ManualClock, the registry fetching from the collector at use.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from collector.app import create_app as create_collector
from collector.store import CollectorStore
from ephoto.clock import ManualClock
from ephoto.epfile import FILES_PATH, make_file
from ephoto.seal import generate_key, key_id, load_or_create_private_key, public_pem
from ephoto.wire import sign_request
from kiosk.camera import synthetic_portrait
from registry.settings import CollectorLink
from support.desk import (
    CollectorAdmin,
    CollectorUnavailable,
    RegistryAdmin,
    SupportDesk,
    open_booth_engine,
)
from support.rules import Outcome, Report, explain
from tests.collector_world import ADMIN_TOKEN as COLLECTOR_TOKEN
from tests.collector_world import collector_settings
from tests.pgcluster import free_port
from tests.registry_server import ADMIN_TOKEN, registry_settings, start_threaded
from tests.support_world import BOOTH_ID, START, World, make_world, serve
from tests.test_epfile import signature_drawing


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """(registry, collector URL, collector app state): one clock, keys wired both ways."""
    tmp = tmp_path_factory.mktemp("support-files")
    clock = ManualClock(START)
    state_key = generate_key()
    seal_key = load_or_create_private_key(tmp / "collector-seal.pem")
    keys_file = tmp / "keys.toml"
    store = CollectorStore.from_url(f"sqlite:///{tmp / 'collector.sqlite'}")
    collector_app = create_collector(
        collector_settings().model_copy(update={"keys_file": keys_file}),
        clock,
        store,
        seal_key=seal_key,
        state_keys={key_id(state_key): state_key.public_key()},
    )
    collector = serve(collector_app)
    (tmp / "collector-seal.pub.pem").write_bytes(public_pem(seal_key))
    link = CollectorLink(url=collector.url, public_key_file=tmp / "collector-seal.pub.pem")
    registry = start_threaded(
        f"sqlite:///{tmp / 'registry.db'}",
        tmp,
        registry_settings(collectors={"9PMT": link}),
        clock,
        fetch_key=state_key,
    )
    yield registry, collector
    registry.stop()
    collector.stop()


@pytest.fixture
def world(tmp_path, chain) -> World:
    return make_world(tmp_path, chain[0])


@pytest.fixture
def collector_url(chain):
    url = chain[1].url
    yield url
    faults(url, corrupt_files=False)


def faults(url: str, **knobs: bool) -> None:
    response = httpx.post(
        f"{url}/admin/faults",
        json=knobs,
        headers={"Authorization": f"Bearer {COLLECTOR_TOKEN}"},
        timeout=5,
    )
    response.raise_for_status()


def desk(world: World, collector_url: str) -> SupportDesk:
    return SupportDesk(
        open_booth_engine(world.booth_db),
        RegistryAdmin(world.registry.url, ADMIN_TOKEN, timeout=5),
        world.clock,
        world.catalog,
        booth_id=BOOTH_ID,
        collector=CollectorAdmin(collector_url, COLLECTOR_TOKEN, timeout=5),
    )


def upload_file(world: World, collector_url: str, code: str) -> None:
    """The booth's file to the collector, as the booth's transmitter sends it."""
    row = world.outbox_row(code)
    file = make_file(
        code=code,
        booth_id=BOOTH_ID,
        issued_at=row["issued_at"],
        product="ephoto-permis",
        procedure="permis",
        photo=synthetic_portrait(2),
        signature=signature_drawing(),
    )
    body = json.dumps(
        {"upload_id": uuid.uuid4().hex, "booth_id": BOOTH_ID, "files": [file.to_wire()]}
    ).encode()
    headers = sign_request(
        "POST",
        collector_url + FILES_PATH,
        body,
        BOOTH_ID,
        world.booth.key.secret,
        world.clock.now(),
    )
    response = httpx.post(
        collector_url + FILES_PATH,
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def active(world: World, collector_url: str, *, with_file: bool):
    bought = world.buy()
    world.at(bought, minutes=20)
    if with_file:
        upload_file(world, collector_url, bought.code)
    world.transmit(bought.code)
    world.at(bought, hours=2)
    return bought


def test_active_at_the_state_but_never_at_the_collector_is_refunded_and_resent(
    world, collector_url
):
    bought = active(world, collector_url, with_file=False)
    result = desk(world, collector_url).submit(Report(bought.code))
    decision = result.decision
    assert decision.outcome is Outcome.FILE_UNAVAILABLE
    assert decision.reason == "file_not_received"
    assert decision.refund and decision.requeue
    assert "never reached our server" in explain(decision, "en")
    [refund] = desk(world, collector_url).refunds()
    assert refund["amount_cents"] == 800 and refund["reason"] == "file_not_received"
    assert world.outbox_row(bought.code)["status"] == "pending"


def test_a_file_the_state_refused_at_use_is_refunded_once(world, collector_url):
    bought = active(world, collector_url, with_file=True)
    faults(collector_url, corrupt_files=True)
    used = world.redeem(bought.code)
    assert used.status_code == 502 and used.json()["reason"] == "digest"
    the_desk = desk(world, collector_url)
    decision = the_desk.submit(Report(bought.code)).decision
    assert decision.outcome is Outcome.FILE_UNAVAILABLE
    assert decision.reason == "file_refused_at_use" and decision.refund
    again = the_desk.submit(Report(bought.code))
    assert again.replayed and len(the_desk.refunds()) == 1


def test_a_sealed_file_leaves_the_number_working(world, collector_url):
    bought = active(world, collector_url, with_file=True)
    decision = desk(world, collector_url).submit(Report(bought.code)).decision
    assert decision.outcome is Outcome.WORKS and not decision.refund
    assert world.redeem(bought.code).status_code == 200


def test_a_collector_that_cannot_be_asked_decides_nothing(world, collector_url):
    bought = active(world, collector_url, with_file=False)
    the_desk = desk(world, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(CollectorUnavailable):
        the_desk.submit(Report(bought.code))
    assert the_desk.refunds() == []
    [entry] = the_desk.audit_log()
    assert entry["outcome"] is None and "collector" in entry["error"]
