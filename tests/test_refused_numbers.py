"""One refused number must not sink the numbers beside it (issue 23).

- The collector refuses at upload a file whose number the state would refuse at registration
  (issued more than 300 s ahead of its clock or 730 days behind): 422 naming
  ``files[i].issued_at``, nothing stored; the booth's transmitter parks that file alone and the
  others reach the collector, then the state, and become active.
- A refusal of a registration batch that names ``codes[i]`` parks that number alone; the rest
  of the batch leaves again at once and becomes active.
- A number parked on its way to the state shows: in the collector's admin stats and file record,
  and in the support desk's answer, which says the operator must act (not "wait 72 h").

Real services throughout: the collector's app, the registry on loopback, the booth's outbox and
dispatcher, the kiosk's ledger and the support desk, on one ManualClock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ephoto.clock import ManualClock
from kiosk.ledger import Ledger
from support.desk import CollectorAdmin, RegistryAdmin, SupportDesk, open_booth_engine
from support.rules import Outcome, Report, explain
from testkit.standin import PRODUCT, booth_file, new_codes
from tests.collector_world import ADMIN_TOKEN as COLLECTOR_TOKEN
from tests.collector_world import START, files_in_db, make_world, serve_on_loopback
from tests.collector_world import booth_file as collector_file
from tests.registry_server import ADMIN_TOKEN, registry_settings, start_threaded
from tests.support_world import BOOTH_ID
from tests.support_world import make_world as make_booth
from tests.test_collector_registration import jobs_for, registry_codes
from transmitter.dispatch import Dispatcher, Uploader
from transmitter.outbox import BOOTH_DB_FILE, Outbox, enqueue, open_outbox_engine, outbox

# The state's bounds on an issue time, as the registry enforces them (cabine's convention).
AHEAD = timedelta(seconds=300)
BEHIND = timedelta(days=730)


@pytest.fixture
def collector(tmp_path):
    world = make_world(tmp_path / "collector")
    yield world
    world.client.close()
    world.store.dispose()


@pytest.fixture
def registry(tmp_path, collector):
    """A real registry on the collector's clock that knows the same booths and the collector."""
    folder = tmp_path / "registry"
    folder.mkdir()
    server = start_threaded(
        f"sqlite:///{folder / 'registry.sqlite'}", folder, clock=collector.clock
    )
    server.keys_file.write_bytes(collector.keys_file.read_bytes())
    yield server
    server.stop()


@pytest.fixture
def box(tmp_path):
    engine = open_outbox_engine(f"sqlite:///{tmp_path / BOOTH_DB_FILE}")
    yield Outbox(engine)
    engine.dispose()


def statuses(box: Outbox) -> dict[str, tuple[str, str | None]]:
    with box.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.code, outbox.c.status, outbox.c.last_error))
        return {code: (status, error) for code, status, error in rows}


def states_at_the_registry(registry, codes) -> dict[str, str | None]:
    return {c: (v["state"] if v else None) for c, v in registry_codes(registry, codes).items()}


def register(collector, registry) -> None:
    """The collector's registration outbox, run once against the registry."""
    jobs = jobs_for(collector, registry.url)
    try:
        jobs.transmitter.run_once(max_failures=1)
    finally:
        jobs.transmitter.close()


def test_the_collector_refuses_at_upload_an_issue_time_the_state_will_refuse(collector):
    now = collector.clock.now()
    good = [collector_file(seed=i) for i in range(2)]
    ahead = collector_file(issued_at=now + AHEAD + timedelta(seconds=1), seed=2)
    answer = collector.upload([good[0], ahead, good[1]])
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "files", 1, "issued_at"]
    assert ahead.code in error["msg"] and "clock" in error["msg"]
    assert files_in_db(collector) == 0  # nothing of the upload stored

    behind = collector_file(issued_at=now - BEHIND - timedelta(seconds=1), seed=3)
    answer = collector.upload([behind, good[0]])
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "files", 0, "issued_at"] and "730 days" in error["msg"]
    assert files_in_db(collector) == 0

    at_the_bounds = [
        collector_file(issued_at=now + AHEAD, seed=4),
        collector_file(issued_at=now - BEHIND, seed=5),
    ]
    assert collector.upload(at_the_bounds + good).status_code == 200
    assert files_in_db(collector) == 4


def test_good_files_uploaded_with_one_the_state_will_refuse_all_become_active(
    collector, registry, box
):
    """The booth's transmitter sends six files, one issued a day ahead (the booth's clock was
    wrong when it sold it): the collector refuses that one by name, the booth parks it alone,
    the five others are stored, registered and become active; the state never sees the sixth."""
    server = serve_on_loopback(collector)
    booth_id = "booth-001"
    codes = new_codes(6)
    now = collector.clock.now()
    bad = codes[3]
    with box.engine.begin() as conn:
        for n, code in enumerate(codes):
            issued = now + timedelta(days=1) if code == bad else now
            file = booth_file(code, issued, booth_id=booth_id, n=n)
            enqueue(conn, code, issued, PRODUCT, booth_id=booth_id, not_before=now, file=file)
    try:
        uploader = Uploader(
            server.url, {booth_id: collector.booths[booth_id].secret}, collector.clock
        )
        report = Dispatcher(box, uploader, collector.clock, batch_size=6, files=True).drain()
        uploader.close()
    finally:
        server.stop()
    state = statuses(box)
    assert state[bad][0] == "rejected"
    assert "'files', 5, 'issued_at'" in state[bad][1] and "clock far off" in state[bad][1]
    assert {state[c][0] for c in codes if c != bad} == {"sent"}
    assert (report.codes_sent, report.codes_rejected) == (5, 1)
    assert files_in_db(collector) == 5

    register(collector, registry)
    collector.clock.advance(timedelta(hours=1))  # 5 numbers at 60 an hour
    at_the_state = states_at_the_registry(registry, codes)
    assert at_the_state == {c: (None if c == bad else "active") for c in codes}
    assert collector.admin("GET", "/admin/stats").json()["rejected_registration"] == 0


def test_a_registration_batch_with_bad_issue_times_parks_only_those_numbers(tmp_path, box):
    """Bare numbers from a booth's outbox straight to the registry in one batch: the registry
    refuses the batch naming ``codes[i].issued_at``; that number alone is parked, the rest of the
    batch is sent again at once, until only the refused numbers are left parked."""
    clock = ManualClock(START)
    folder = tmp_path / "registry"
    folder.mkdir()
    registry = start_threaded(f"sqlite:///{folder / 'registry.sqlite'}", folder, clock=clock)
    booth = registry.booth("booth-001")
    now = clock.now()
    codes = new_codes(6)
    ahead, behind = codes[1], codes[4]
    issued = {ahead: now + timedelta(hours=2), behind: now - BEHIND - timedelta(days=1)}
    with box.engine.begin() as conn:
        for code in codes:
            at = issued.get(code, now)
            enqueue(conn, code, at, PRODUCT, booth_id="booth-001", not_before=now)
    try:
        uploader = Uploader(registry.url, {"booth-001": booth.key.secret}, clock)
        report = Dispatcher(box, uploader, clock, batch_size=10).drain()
        uploader.close()
        clock.advance(timedelta(hours=1))
        at_the_state = states_at_the_registry(registry, codes)
    finally:
        registry.stop()
    state = statuses(box)
    for parked in (ahead, behind):
        assert state[parked][0] == "rejected"
        assert "'codes'" in state[parked][1] and "issued_at" in state[parked][1]
    assert {state[c][0] for c in codes if c not in issued} == {"sent"}
    assert (report.codes_sent, report.codes_rejected) == (4, 2)
    assert at_the_state == {c: (None if c in issued else "active") for c in codes}


def test_a_number_the_state_refused_at_registration_is_shown_and_the_desk_says_act(tmp_path):
    """The operator sells a product the state does not know (its registry takes only the
    driving-licence ePhoto): the collector seals all three files, the state refuses that number
    at registration by name and the collector parks it alone. It shows in the collector's admin
    stats and file record, and the support desk tells the customer the operator must act, at
    once (no "wait 72 h"), then refunds after 72 h without sending it again."""
    collector = make_world(tmp_path / "collector")
    folder = tmp_path / "registry"
    folder.mkdir()
    only_permis = registry_settings(products={"ephoto-permis": "permis"})
    registry = start_threaded(
        f"sqlite:///{folder / 'registry.sqlite'}", folder, only_permis, clock=collector.clock
    )
    registry.keys_file.write_bytes(collector.keys_file.read_bytes())
    server = serve_on_loopback(collector)
    booth = make_booth(tmp_path, registry)
    try:
        sold = [booth.buy(), booth.buy("ephoto-titre-sejour"), booth.buy()]
        refused = sold[1].code
        codes = [b.code for b in sold]
        booth.at(sold[0], minutes=20)  # past the booth's batching window
        key = {BOOTH_ID: collector.booths[BOOTH_ID].secret}
        uploader = Uploader(server.url, key, booth.clock)
        box = Outbox(booth.ledger.engine)
        sent = Dispatcher(box, uploader, booth.clock, batch_size=10, files=True).drain()
        uploader.close()
        assert sent.codes_sent == 3 and files_in_db(collector) == 3
        register(collector, registry)
        booth.at(sold[0], hours=2)
        at_the_state = states_at_the_registry(registry, codes)
        assert at_the_state == {c: (None if c == refused else "active") for c in codes}

        stats = collector.admin("GET", "/admin/stats").json()
        assert stats["rejected_registration"] == 1 and stats["registered"] == 2
        [listed] = stats["refused_registration"]
        assert listed["code"] == refused and "product" in listed["reason"]
        record = collector.admin("GET", f"/admin/files/{refused}").json()
        assert record["registration"] == "rejected" and record["registered_at"] is None
        assert "ephoto-titre-sejour" in record["registration_refusal"]
        good = collector.admin("GET", f"/admin/files/{codes[0]}").json()
        assert good["registration"] == "sent" and good["registration_refusal"] is None

        desk = SupportDesk(
            open_booth_engine(booth.booth_db),
            RegistryAdmin(registry.url, ADMIN_TOKEN, timeout=5),
            booth.clock,
            booth.catalog,
            booth_id=BOOTH_ID,
            collector=CollectorAdmin(server.url, COLLECTOR_TOKEN, timeout=5),
        )
        early = desk.submit(Report(refused)).decision
        assert early.outcome is Outcome.REFUSED and early.reason == "refused_in_transit"
        assert not early.refund and not early.requeue
        assert "up to our team" in explain(early, "en") and "72 hours" not in explain(early, "en")
        assert "c'est à notre équipe" in explain(early, "fr")

        booth.at(sold[1], hours=72)
        late = desk.submit(Report(refused)).decision
        assert late.outcome is Outcome.REFUSED and late.reason == "refund_refused_in_transit"
        assert late.refund and not late.requeue
        assert [r["code"] for r in desk.refunds()] == [refused]
        # The customers of the other numbers are told theirs work.
        assert desk.submit(Report(codes[0])).decision.outcome is Outcome.WORKS
    finally:
        server.stop()
        registry.stop()
        collector.client.close()
        collector.store.dispose()


def test_a_number_the_booth_parked_gets_the_operator_must_act_answer(tmp_path):
    """The booth's own outbox parked the number (the collector refused its file: the booth sold
    it while its clock was a day ahead, before the clock was set right): the desk answers at
    once that the operator must act, not "wait 72 h"."""
    collector = make_world(tmp_path / "collector")
    folder = tmp_path / "registry"
    folder.mkdir()
    registry = start_threaded(
        f"sqlite:///{folder / 'registry.sqlite'}", folder, clock=collector.clock
    )
    registry.keys_file.write_bytes(collector.keys_file.read_bytes())
    server = serve_on_loopback(collector)
    booth = make_booth(tmp_path, registry)
    try:
        right_now = booth.clock.now()
        # The sale is recorded on the booth's clock while it is a day ahead.
        booth.ledger = Ledger(
            booth.booth_db, ManualClock(right_now + timedelta(days=1)), booth_id=BOOTH_ID
        )
        sold = booth.buy()
        booth.clock.set(right_now + timedelta(minutes=20))  # the clock the booth now signs on
        key = {BOOTH_ID: collector.booths[BOOTH_ID].secret}
        uploader = Uploader(server.url, key, booth.clock)
        box = Outbox(booth.ledger.engine)
        box.release([booth.outbox_row(sold.code)["id"]], booth.clock.now())  # due now
        report = Dispatcher(box, uploader, booth.clock, batch_size=10, files=True).drain()
        uploader.close()
        assert report.codes_rejected == 1 and booth.outbox_row(sold.code)["status"] == "rejected"
        assert files_in_db(collector) == 0
        desk = SupportDesk(
            open_booth_engine(booth.booth_db),
            RegistryAdmin(registry.url, ADMIN_TOKEN, timeout=5),
            booth.clock,
            booth.catalog,
            booth_id=BOOTH_ID,
            collector=CollectorAdmin(server.url, COLLECTOR_TOKEN, timeout=5),
        )
        decision = desk.submit(Report(sold.code)).decision
        assert decision.outcome is Outcome.REFUSED and decision.reason == "refused_in_transit"
        assert "waiting will not help" in explain(decision, "en")
    finally:
        server.stop()
        registry.stop()
        collector.client.close()
        collector.store.dispose()


def test_the_registry_and_the_collector_judge_issue_times_by_one_rule():
    """The bounds live once, in ephoto.validity, and both services use them."""
    import collector.routes.uploads as uploads
    import registry.routes.batches as batches
    from ephoto import validity

    assert (validity.ISSUED_AT_MAX_AHEAD, validity.ISSUED_AT_MAX_AGE) == (AHEAD, BEHIND)
    assert batches.issue_time_problem is uploads.issue_time_problem is validity.issue_time_problem
    assert not hasattr(batches, "timedelta")  # no second definition of a bound there
