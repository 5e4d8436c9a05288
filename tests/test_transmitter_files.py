"""The booth's transmitter sends ePhoto files to the operator's collector: signed uploads cut
by count and bytes, idempotent per number, the collector's refusals parked with their reason
(only the files they name), the uplink's time allowed, and bare numbers still go to the
registry by the same code path."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ephoto.clock import ManualClock
from ephoto.epfile import MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES, EphotoFile
from testkit.standin import (
    BOOTH,
    PRODUCT,
    ROOT,
    Faults,
    RegistryProcess,
    booth_file,
    enqueue_codes,
    free_port,
    new_codes,
    serve_registry,
    write_keys,
)
from transmitter.dispatch import (
    NO_FILE,
    UPLOAD_ENVELOPE_BYTES,
    Backoff,
    Dispatcher,
    Uploader,
    form_batches,
    upload_id_for,
)
from transmitter.latency import upload_seconds
from transmitter.outbox import (
    BOOTH_DB_FILE,
    Outbox,
    OutboxRow,
    booth_db_url,
    enqueue,
    open_outbox_engine,
    outbox,
    outbox_files,
    read_file,
    read_status,
    wire_bytes,
)
from transmitter.service import TransmitterConfig, config_from_settings
from transmitter.settings import TransmitterSettings

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
KEYS = {BOOTH: bytes(range(32))}


class FakeMonotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def collector():
    clock = ManualClock(T0)
    server, state = serve_registry(free_port(), KEYS, clock)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


@pytest.fixture
def box(tmp_path):
    engine = open_outbox_engine(f"sqlite:///{tmp_path / BOOTH_DB_FILE}")
    yield Outbox(engine)
    engine.dispose()


def sell(box: Outbox, n: int, *, files: bool = True) -> list[str]:
    codes = new_codes(n)
    enqueue_codes(box.engine, codes, ManualClock(T0), per_transaction=n, files=files)
    return codes


def file_dispatcher(
    box,
    collector,
    *,
    per_upload=10,
    max_bytes=MAX_UPLOAD_BYTES,
    timeout=5.0,
    uplink_kbps=0.0,
    monotonic=None,
):
    uploader = Uploader(
        collector.url, KEYS, collector.clock, timeout_seconds=timeout, uplink_kbps=uplink_kbps
    )
    backoff = Backoff(0.5, 8.0, rng=random.Random(7), monotonic=monotonic or FakeMonotonic())
    return Dispatcher(
        box,
        uploader,
        collector.clock,
        batch_size=per_upload,
        files=True,
        max_upload_bytes=max_bytes,
        backoff=backoff,
        parallel_uploads=1,
    )


def statuses(box: Outbox) -> dict[str, tuple[str, str | None]]:
    with box.engine.connect() as conn:
        return {
            code: (status, error)
            for code, status, error in conn.execute(
                select(outbox.c.code, outbox.c.status, outbox.c.last_error)
            )
        }


# -- storing the file with its number ---------------------------------------------------------


def test_the_file_is_stored_with_its_number_in_the_same_transaction_and_reads_back(box):
    [code] = sell(box, 1)
    stored = read_file(box.engine, code)
    assert stored == booth_file(code, T0)  # images and metadata, byte for byte
    assert stored.meta.issued_at == T0


def test_a_file_of_another_number_is_refused_and_nothing_is_stored(box):
    code, other = new_codes(2)
    with pytest.raises(ValueError, match="not of"):
        with box.engine.begin() as conn:
            enqueue(conn, code, T0, PRODUCT, booth_id=BOOTH, file=booth_file(other, T0))
    with box.engine.connect() as conn:
        assert conn.execute(select(outbox.c.code)).all() == []
        assert conn.execute(select(outbox_files.c.code)).all() == []


def test_wire_bytes_is_the_files_exact_size_in_an_upload_body():
    file = booth_file(new_codes(1)[0], T0)
    assert wire_bytes(file) == len(json.dumps(file.to_wire(), separators=(",", ":"))) + 1


# -- uploads to the collector -----------------------------------------------------------------


def test_due_files_reach_the_collector_in_signed_uploads_of_at_most_the_count(box, collector):
    codes = sell(box, 25)
    report = file_dispatcher(box, collector, per_upload=10).drain()
    assert (report.batches_sent, report.codes_sent) == (3, 25)
    assert set(collector.files) == set(codes)
    assert collector.codes == {}  # files, not bare numbers
    assert collector.signature_rejections == 0 and collector.refused_uploads == 0
    assert read_status(box.engine, collector.clock.now()).counts["sent"] == 25


def test_uploads_are_cut_by_bytes_too(box, collector):
    codes = sell(box, 12)
    sizes = [wire_bytes(booth_file(c, T0, n=i)) for i, c in enumerate(codes)]
    # Room for about three files per upload.
    limit = UPLOAD_ENVELOPE_BYTES + max(sizes) * 3 + 10
    report = file_dispatcher(box, collector, per_upload=50, max_bytes=limit).drain()
    assert report.codes_sent == 12 and report.batches_sent >= 4
    assert set(collector.files) == set(codes)
    assert collector.file_bytes <= report.batches_sent * limit


def test_form_batches_cuts_by_count_and_bytes_and_a_large_row_goes_alone():
    def row(i: int) -> OutboxRow:
        return OutboxRow(i, f"C{i}", BOOTH, PRODUCT, T0 + timedelta(seconds=i), 0, None)

    rows = [row(i) for i in range(6)]
    size = {0: 40, 1: 40, 2: 150, 3: 10, 4: 10, 5: 10}
    cut = form_batches(rows, 2, max_bytes=100, size_of=lambda r: size[r.id])
    assert [[r.id for r in b] for b in cut] == [[0, 1], [2], [3, 4], [5]]


def test_a_retry_after_a_lost_answer_is_the_same_upload_and_stores_each_file_once(box, collector):
    codes = sell(box, 5)
    monotonic = FakeMonotonic()
    collector.faults = Faults(timeout_after_apply_rate=1.0, hang_seconds=1.0)
    dispatcher = file_dispatcher(box, collector, timeout=0.3, monotonic=monotonic)
    report = dispatcher.drain()
    assert report.failed_attempts == 1 and report.codes_sent == 0
    assert set(collector.files) == set(codes)  # stored although no answer came back
    collector.faults = Faults()
    monotonic.now += 100
    collector.clock.advance(timedelta(minutes=10))
    report = dispatcher.drain()
    assert report.codes_sent == 5 and collector.replayed_batches == 1
    assert list(collector.uploads) == [upload_id_for(BOOTH, codes)]
    assert collector.redelivered_codes == 5


def test_a_number_sent_again_in_a_new_upload_is_a_duplicate_not_a_second_file(box, collector):
    codes = sell(box, 4)
    file_dispatcher(box, collector).drain()
    with box.engine.begin() as conn:  # support re-sends one number: a fresh upload
        from transmitter.outbox import requeue

        requeue(conn, codes[0], collector.clock.now())
    report = file_dispatcher(box, collector).drain()
    assert report.codes_sent == 1 and report.codes_resent == 1
    assert len(collector.files) == 4 and len(collector.uploads) == 2


def test_503_backs_off_and_the_files_arrive_later(box, collector):
    codes = sell(box, 6)
    monotonic = FakeMonotonic()
    collector.faults = Faults(error_rate=1.0, retry_after_share=0.0)
    dispatcher = file_dispatcher(box, collector, monotonic=monotonic)
    report = dispatcher.drain()
    assert report.failed_attempts == 1 and collector.files == {}
    assert dispatcher.backoff.failures == 1
    collector.faults = Faults()
    monotonic.now += 100
    collector.clock.advance(timedelta(minutes=5))
    assert dispatcher.drain().codes_sent == 6
    assert set(collector.files) == set(codes)


def test_a_different_file_for_a_stored_number_parks_only_that_number(box, collector):
    """409: the collector holds another file under one number of the upload. That number is
    parked with the collector's reason; the others leave again in a new upload."""
    codes = sell(box, 5)
    clash = booth_file(codes[2], T0, n=3)  # other images under the same number
    collector.files[codes[2]] = (clash.meta.photo_sha256 + "x", clash.meta.signature_sha256)
    report = file_dispatcher(box, collector).drain()
    assert report.codes_rejected == 1 and report.codes_sent == 4
    state = statuses(box)
    assert state[codes[2]][0] == "rejected" and "409" in state[codes[2]][1]
    assert "different file" in state[codes[2]][1]
    assert all(state[c][0] == "sent" for c in codes if c != codes[2])


def test_a_422_naming_one_file_parks_that_file_and_sends_the_rest(box, collector):
    codes = sell(box, 4)
    # A file damaged in booth.db: its photo no longer matches its digest.
    with box.engine.begin() as conn:
        conn.execute(
            outbox_files.update()
            .where(outbox_files.c.code == codes[1])
            .values(photo_jpeg=booth_file(codes[1], T0, n=4).photo_jpeg)
        )
    report = file_dispatcher(box, collector).drain()
    state = statuses(box)
    assert state[codes[1]][0] == "rejected"
    assert "HTTP 422" in state[codes[1]][1] and "photo_sha256" in state[codes[1]][1]
    assert [state[c][0] for c in codes if c != codes[1]] == ["sent"] * 3
    assert report.codes_rejected == 1 and set(collector.files) == set(codes) - {codes[1]}


def test_a_refused_signature_parks_the_whole_upload(box, collector):
    sell(box, 3)
    wrong = {BOOTH: bytes(32)}
    uploader = Uploader(collector.url, wrong, collector.clock)
    dispatcher = Dispatcher(box, uploader, collector.clock, batch_size=10, files=True)
    report = dispatcher.drain()
    assert report.codes_rejected == 3 and collector.files == {}
    assert {s for s, _ in statuses(box).values()} == {"rejected"}
    assert all("401" in e for _, e in statuses(box).values())


def test_a_number_stored_without_a_file_is_parked_not_sent_bare(box, collector):
    with_files = sell(box, 2)
    bare = sell(box, 1, files=False)
    report = file_dispatcher(box, collector).drain()
    assert report.codes_sent == 2 and report.codes_rejected == 1
    assert statuses(box)[bare[0]] == ("rejected", NO_FILE)
    assert set(collector.files) == set(with_files) and collector.codes == {}


def test_bare_numbers_still_go_to_the_registry_by_the_same_dispatcher(box, collector):
    """The collector's own outbox: bare numbers, /v1/batches, even when the rows have files."""
    codes = sell(box, 7)
    uploader = Uploader(collector.url, KEYS, collector.clock)
    report = Dispatcher(box, uploader, collector.clock, batch_size=5).drain()
    assert (report.batches_sent, report.codes_sent) == (2, 7)
    assert set(collector.codes) == set(codes) and collector.files == {}


def test_more_files_per_upload_than_the_collector_takes_is_a_configuration_error(box, collector):
    uploader = Uploader(collector.url, KEYS, collector.clock)
    with pytest.raises(ValueError, match="at most 50 files"):
        Dispatcher(box, uploader, collector.clock, batch_size=MAX_FILES_PER_UPLOAD + 1, files=True)


# -- the uplink ---------------------------------------------------------------------------------


def test_upload_seconds_is_bytes_times_eight_over_the_uplink():
    assert upload_seconds(250_000, 2000) == pytest.approx(1.0)  # 2 Mbit over 2000 kbit/s
    assert upload_seconds(1_000_000, 0) == 0.0  # unlimited
    with pytest.raises(ValueError):
        upload_seconds(10, -1)


def test_a_slow_uplink_is_waited_for_not_taken_for_a_timeout(box, collector):
    """The stand-in holds the upload for its bytes' time on the booth's uplink (about 1 s
    here), well past the 0.3 s request timeout: the uploader allows the uplink's time on top,
    so the upload succeeds on the first try."""
    codes = sell(box, 4)
    body = sum(wire_bytes(booth_file(c, T0, n=i)) for i, c in enumerate(codes))
    kbps = body * 8 / 1000  # the whole upload takes about 1 s on this uplink
    collector.uplink_kbps = kbps
    report = file_dispatcher(box, collector, timeout=0.3, uplink_kbps=kbps).drain()
    assert report.failed_attempts == 0 and report.codes_sent == 4
    assert set(collector.files) == set(codes)


def test_the_lease_covers_the_longest_upload_over_the_uplink():
    config = TransmitterConfig(
        outbox_url="sqlite://",
        registry_url="http://127.0.0.1:9",
        keys=KEYS,
        collector_url="http://127.0.0.1:9",
        uplink_kbps=100,
        upload_max_bytes=2_000_000,
        lease_seconds=120,
        request_timeout_seconds=10,
        parallel_uploads=1,
    )
    assert config.effective_lease_seconds == 2 * (10 + 160)
    shared = dataclasses.replace(config, parallel_uploads=2)  # two uploads share the uplink
    assert shared.uplink_share_kbps == 50 and shared.effective_lease_seconds == 2 * (10 + 320)
    bare = dataclasses.replace(config, collector_url=None)
    assert bare.effective_lease_seconds == 120


# -- configuration and the command line --------------------------------------------------------


def test_the_booth_sends_files_to_the_collector_unless_told_to_send_numbers(tmp_path):
    write_keys(tmp_path / "keys.toml")
    default = config_from_settings(TransmitterSettings(), tmp_path)
    assert default.sends_files and default.destination_url == "http://127.0.0.1:8720"
    numbers = config_from_settings(TransmitterSettings(destination="registry"), tmp_path)
    assert not numbers.sends_files and numbers.destination_url == "http://127.0.0.1:8700"
    flag = config_from_settings(TransmitterSettings(), tmp_path, registry_url="http://r")
    assert not flag.sends_files and flag.destination_url == "http://r"
    other = config_from_settings(
        TransmitterSettings(destination="registry"), tmp_path, collector_url="http://c"
    )
    assert other.sends_files and other.destination_url == "http://c"
    with pytest.raises(ValueError, match="not both"):
        config_from_settings(TransmitterSettings(), tmp_path, "http://r", "http://c")


def test_cabine_transmitter_run_collector_once_sends_the_files(tmp_path):
    data = tmp_path / "booth"
    data.mkdir()
    write_keys(data / "keys.toml")
    engine = open_outbox_engine(booth_db_url(data))
    codes = new_codes(30)
    enqueue_codes(engine, codes, ManualClock(datetime.now(UTC)), per_transaction=30, files=True)
    engine.dispose()
    collector = RegistryProcess(data)
    env = {
        "CABINE_TRANSMITTER__BATCH_WINDOW_MINUTES": "0",
        "CABINE_TRANSMITTER__FILES_PER_UPLOAD": "20",
        "PATH": "/usr/bin:/bin",
    }
    try:
        once = subprocess.run(
            [sys.executable, "-m", "cabine.cli", "transmitter", "run", "--data", str(data)]
            + ["--collector", collector.url, "--once"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        held = collector.files()
        both = subprocess.run(
            [sys.executable, "-m", "cabine.cli", "transmitter", "--data", str(data)]
            + ["--collector", collector.url, "--registry", collector.url, "--once"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        collector.stop()
    assert once.returncode == 0, once.stderr[-2000:]
    assert "30 files sent in 2 uploads, 0 already at the collector" in once.stdout
    assert sorted(held) == sorted(codes)
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_file_read_back_from_the_outbox_is_the_one_uploaded(box, collector):
    [code] = sell(box, 1)
    file_dispatcher(box, collector).drain()
    stored: EphotoFile | None = read_file(box.engine, code)
    assert stored is not None
    assert collector.files[code] == (stored.meta.photo_sha256, stored.meta.signature_sha256)


# -- against the real collector -------------------------------------------------------------------


def test_the_booths_files_reach_the_real_collector_once_and_a_bad_one_is_parked_alone(
    tmp_path, box
):
    """``cabine collector``'s app on loopback: the booth's dispatcher uploads its files, the
    collector checks, seals and stores each once; a file damaged in booth.db is refused by
    name (422 files[i]) and parked alone; the same number sent again is a duplicate."""
    from sqlalchemy import func

    from collector.store import files as collector_files
    from tests.collector_world import make_world, serve_on_loopback

    world = make_world(tmp_path / "collector")
    server = serve_on_loopback(world)
    booth_id = "booth-001"
    keys = {booth_id: world.booths[booth_id].secret}
    codes = new_codes(8)
    now = world.clock.now()
    with box.engine.begin() as conn:
        for n, code in enumerate(codes):
            file = booth_file(code, now, booth_id=booth_id, n=n)
            if n == 5:  # its signature digest no longer matches
                file = EphotoFile(
                    dataclasses.replace(file.meta, signature_sha256="0" * 64),
                    file.photo_jpeg,
                    file.signature_png,
                )
            enqueue(
                conn, code, now, PRODUCT, booth_id=booth_id, batch_window=timedelta(0), file=file
            )
    try:
        uploader = Uploader(server.url, keys, world.clock)
        dispatcher = Dispatcher(box, uploader, world.clock, batch_size=4, files=True)
        report = dispatcher.drain()
        with box.engine.begin() as conn:
            from transmitter.outbox import requeue

            requeue(conn, codes[0], world.clock.now())
        again = dispatcher.drain()
        uploader.close()
    finally:
        server.stop()
    state = statuses(box)
    assert state[codes[5]][0] == "rejected" and "signature_sha256" in state[codes[5]][1]
    assert [state[c][0] for c in codes if c != codes[5]] == ["sent"] * 7
    assert report.codes_sent == 7 and report.codes_rejected == 1
    assert again.codes_sent == 1 and again.codes_resent == 1
    with world.store.engine.connect() as conn:
        stored = conn.execute(select(collector_files.c.code)).scalars().all()
        assert conn.execute(select(func.count()).select_from(collector_files)).scalar_one() == 7
    assert sorted(stored) == sorted(c for c in codes if c != codes[5])


def test_the_status_counts_the_files_waiting_and_their_bytes(tmp_path):
    """What an operator on a slow uplink needs: how many files wait, how many bytes, and about
    how long they take on the uplink (``cabine transmitter status``)."""
    data = tmp_path / "booth"
    data.mkdir()
    engine = open_outbox_engine(booth_db_url(data))
    codes = new_codes(3)
    enqueue_codes(engine, codes, ManualClock(T0), per_transaction=3, files=True)
    enqueue_codes(engine, new_codes(1), ManualClock(T0), per_transaction=1)  # a bare number
    images = sum(
        len(f.photo_jpeg) + len(f.signature_png)
        for f in (booth_file(c, T0, n=i) for i, c in enumerate(codes))
    )
    status = read_status(engine, T0)
    assert (status.counts["pending"], status.files_pending) == (4, 3)
    assert status.file_bytes_pending == images
    box = Outbox(engine)
    rows = box.claim_due(T0, 10, timedelta(minutes=1))
    box.mark_sent([r.id for r in rows if r.code == codes[0]], T0, batch_id="f-x")
    assert read_status(engine, T0).files_pending == 2
    engine.dispose()
    shown = subprocess.run(
        [sys.executable, "-m", "cabine.cli", "transmitter", "status", "--data", str(data)],
        cwd=ROOT,
        env={"CABINE_TRANSMITTER__UPLINK_KBPS": "2000", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "waiting with their ePhoto file" in shown.stdout
    assert "MB, about" in shown.stdout and "2000 kbit/s uplink" in shown.stdout
