"""One QA clock for a live session: QA moves it once (the session file, through `cabine clock
advance` or the registry's POST /admin/clock) and every process of the session follows."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cabine.demo import (
    SESSION_FILE,
    DemoSession,
    child_environment,
    purchase_steps,
    running_services,
    scaled_base,
)
from ephoto.clock import (
    SESSION_OFFSET_KEY,
    ManualClock,
    ScaledClock,
    SessionClock,
    SystemClock,
    advance_session_offset,
    clock_scale,
    read_session_file,
    update_session_file,
)
from ephoto.settings import ClockSettings
from ephoto.wire import add_booth_key

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MOVE = timedelta(hours=48)


def wait_past_check(clock: SessionClock) -> None:
    time.sleep(clock.check_seconds * 2 + 0.01)


# -- the clock ------------------------------------------------------------------------------------


def test_a_session_clock_follows_a_move_written_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    base = ManualClock(START)
    clock = SessionClock(base, path)
    assert clock.now() == START  # no file yet: no offset
    advance_session_offset(path, MOVE)  # as another process would
    wait_past_check(clock)
    assert clock.now() == START + MOVE
    advance_session_offset(path, timedelta(hours=2))
    wait_past_check(clock)
    assert clock.now() == START + MOVE + timedelta(hours=2)
    base.advance(timedelta(minutes=5))
    assert clock.now() == START + MOVE + timedelta(hours=2, minutes=5)


def test_a_session_clock_reads_the_file_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / SESSION_FILE
    advance_session_offset(path, MOVE)
    clock = SessionClock(ManualClock(START), path, check_seconds=0.0)
    reads = []
    real_read = read_session_file
    monkeypatch.setattr("ephoto.clock.read_session_file", lambda p: reads.append(p) or real_read(p))
    for _ in range(100):
        assert clock.now() == START + MOVE
    assert reads == []
    advance_session_offset(path, MOVE)
    reads.clear()  # the writer's own read
    assert clock.now() == START + 2 * MOVE
    assert clock.now() == START + 2 * MOVE
    assert len(reads) == 1


def test_a_session_clock_keeps_its_offset_when_the_file_is_spoiled(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    advance_session_offset(path, MOVE)
    clock = SessionClock(ManualClock(START), path, check_seconds=0.0)
    assert clock.now() == START + MOVE
    path.write_text("{not json", encoding="utf-8")
    assert clock.now() == START + MOVE
    path.write_text('{"clock_offset_seconds": -5}', encoding="utf-8")
    assert clock.now() == START + MOVE


def test_the_session_clock_never_goes_back_and_keeps_the_other_entries(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    update_session_file(path, {"admin_token": "t", "domain_time": None})
    with pytest.raises(ValueError, match="cannot go back"):
        advance_session_offset(path, timedelta(hours=-1))
    assert advance_session_offset(path, MOVE) == MOVE
    assert read_session_file(path) == {
        "admin_token": "t",
        "domain_time": None,
        SESSION_OFFSET_KEY: MOVE.total_seconds(),
    }


def test_settings_with_a_session_file_give_every_process_the_session_clock(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    epoch = SystemClock().now()
    settings = ClockSettings(epoch=epoch, scale=3600, origin=START, session_file=path)
    clock = settings.make()
    assert isinstance(clock, SessionClock) and isinstance(clock.base, ScaledClock)
    assert clock_scale(clock) == 3600
    assert not isinstance(ClockSettings().make(), SessionClock)


def test_a_demo_session_folds_the_moves_into_the_next_run(tmp_path: Path) -> None:
    session = DemoSession.open(tmp_path)
    clock = session.clock(1.0)
    clock.advance(MOVE)
    reached = clock.now()
    session.domain_time = reached
    session.save()
    assert read_session_file(session.path)[SESSION_OFFSET_KEY] == 0
    advance_session_offset(session.path, timedelta(hours=3))  # a move while no demo runs
    again = DemoSession.open(tmp_path)
    assert again.admin_token == session.admin_token
    next_clock = again.clock(1.0)
    assert next_clock.offset == timedelta(0)
    assert next_clock.now() >= reached + timedelta(hours=3)


# -- the command ----------------------------------------------------------------------------------


def cabine(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cabine.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cabine_clock_advance_moves_the_session_file_of_the_data_folder(tmp_path: Path) -> None:
    result = cabine("clock", "advance", "48", "--data", str(tmp_path), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "48 h" in result.stdout
    assert read_session_file(tmp_path / SESSION_FILE)[SESSION_OFFSET_KEY] == 48 * 3600
    shown = cabine("clock", "show", "--data", str(tmp_path), "--lang", "en")
    assert shown.returncode == 0 and "48 h" in shown.stdout


@pytest.mark.parametrize("hours", ["-3", "abc", "nan", "inf"])
def test_cabine_clock_advance_refuses_a_bad_amount_in_one_line(tmp_path: Path, hours: str) -> None:
    result = cabine("clock", "advance", hours, "--data", str(tmp_path), "--lang", "en")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and repr(hours) in result.stderr
    assert not (tmp_path / SESSION_FILE).exists()


# -- four processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_after_one_move_the_registry_desk_transmitter_and_booth_agree_on_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live session at real speed: the registry, the transmitter and the support desk run as
    the demo starts them, the booth as `cabine kiosk` with a script. QA moves the clock once,
    through the registry's admin API, after every process has made its clock; each process's
    "now", read at a known real instant, is the moved session time within a second."""
    data = tmp_path / "data"
    session = DemoSession.open(data)
    clock = session.clock(1.0)
    scaled = scaled_base(clock)

    def expected(wall: datetime) -> datetime:
        """The session's time at the real instant ``wall``, once moved."""
        return scaled.origin + (wall - scaled.epoch) + MOVE

    def wall() -> datetime:
        return SystemClock().now()

    def assert_within_a_second(seen: datetime, before: datetime, after: datetime, who: str):
        low, high = expected(before) - timedelta(seconds=1), expected(after) + timedelta(seconds=1)
        assert low <= seen <= high, f"{who} says {seen}, the session {low} .. {high}"

    add_booth_key(data / "keys.toml", "booth-001", "9PMT")
    monkeypatch.setenv("CABINE_TRANSMITTER__BATCH_WINDOW_MINUTES", "0")
    monkeypatch.setenv("CABINE_KIOSK__BOOTH_ID", "booth-001")
    registry_port, support_port, collector_port = free_port(), free_port(), free_port()
    script = tmp_path / "customer.toml"
    steps = [{"wait": 4.0}, *purchase_steps("ephoto-permis", "ephoto", True, "en")]
    script.write_text(
        "".join(
            "[[step]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in step.items()) for step in steps
        ),
        encoding="utf-8",
    )
    shots = tmp_path / "shots"
    with running_services(
        data,
        clock,
        registry_port,
        support_port,
        session.admin_token,
        "en",
        lambda _: None,
        collector_port,
    ) as services:
        env = child_environment(
            data, clock, registry_port, support_port, session.admin_token, "en", collector_port
        )
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        env.update(
            {
                "CABINE_KIOSK__COUNTDOWN_SECONDS": "1",
                "CABINE_KIOSK__PAYMENT_SECONDS": "0.3",
                "CABINE_KIOSK__PRINT_SECONDS": "0.3",
            }
        )
        kiosk = subprocess.Popen(
            [sys.executable, "-m", "cabine.cli", "kiosk", "--script", str(script)]
            + ["--screenshots", str(shots)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert kiosk.stderr is not None
            # The booth prints its printer once built, clock included: only then move.
            first = kiosk.stderr.readline()
            assert "printer" in first, first + kiosk.stderr.read()
            admin = httpx.Client(
                base_url=services.registry_url,
                headers={"Authorization": f"Bearer {services.admin_token}"},
                timeout=10,
            )
            moved = admin.post("/admin/clock", json={"advance_seconds": MOVE.total_seconds()})
            assert moved.status_code == 200 and moved.json()["moved"] == "session"
            time.sleep(0.3)  # every process looks at the file at least this often

            before = wall()
            registry_now = datetime.fromisoformat(admin.get("/admin/stats").json()["now"])
            after = wall()
            assert_within_a_second(registry_now, before, after, "the registry")

            before = wall()
            answer = httpx.post(f"{services.support_url}/v1/reports", json={"sale_id": "424242"})
            after = wall()
            assert answer.status_code == 200, answer.text
            desk_now = datetime.fromisoformat(answer.json()["decided_at"].replace("Z", "+00:00"))
            assert_within_a_second(desk_now, before, after, "the support desk")

            # The operator's collector, started by the demo too, follows the same clock.
            before = wall()
            stats = httpx.get(
                f"{services.collector_url}/admin/stats",
                headers={"Authorization": f"Bearer {services.admin_token}"},
                timeout=10,
            )
            after = wall()
            assert stats.status_code == 200, stats.text
            collector_now = datetime.fromisoformat(stats.json()["now"].replace("Z", "+00:00"))
            assert_within_a_second(collector_now, before, after, "the collector")

            out, err = kiosk.communicate(timeout=180)
            assert kiosk.returncode == 0, out + err
        finally:
            if kiosk.poll() is None:
                kiosk.kill()
                kiosk.wait()

        # The booth: its sale was issued between the screen that took the payment and the next.
        from kiosk.ledger import booth_engine, read_sale
        from transmitter.outbox import read_delivery

        engine = booth_engine(data / "booth.db")
        with engine.connect() as conn:
            sale = read_sale(conn, sale_id=1)
        assert sale is not None and sale.code is not None and sale.issued_at is not None
        paying = _shot_time(shots, "payment")
        paid = _shot_time(shots, "printing", "done")
        assert_within_a_second(sale.issued_at, paying, paid, "the booth")

        # The transmitter: it records when the collector took the file; the collector too.
        deadline = time.monotonic() + 60
        delivery = None
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                delivery = read_delivery(conn, sale.code)
            if delivery is not None and delivery.sent:
                break
            time.sleep(0.2)
        engine.dispose()
        assert delivery is not None and delivery.sent and delivery.sent_at is not None
        stored = httpx.get(
            f"{services.collector_url}/admin/files/{sale.code}",
            headers={"Authorization": f"Bearer {services.admin_token}"},
        ).json()
        received_at = datetime.fromisoformat(stored["received_at"].replace("Z", "+00:00"))
        assert abs(delivery.sent_at - received_at) <= timedelta(seconds=1), (
            f"the transmitter says {delivery.sent_at}, the collector {received_at}"
        )
        assert delivery.sent_at >= expected(paying) - timedelta(seconds=1)
        assert delivery.sent_at <= expected(wall()) + timedelta(seconds=1)


def _shot_time(folder: Path, *states: str) -> datetime:
    """When the booth's screen first showed one of ``states`` (the screenshot's file time)."""
    for path in sorted(folder.glob("*.png")):
        if any(path.stem.endswith(f"-{state}") for state in states):
            return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    raise AssertionError(f"no screenshot of {states} in {sorted(p.name for p in folder.iterdir())}")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
