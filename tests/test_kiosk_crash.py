"""Crash recovery of the real booth process: SIGKILL right after payment, then restart. The paid
sale is finished exactly once, with the number issued before the crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from ephoto import code as codes
from kiosk.ledger import issued_codes, prints, sales
from tests.kiosk_harness import journey, qr_texts
from transmitter.outbox import outbox

ROOT = Path(__file__).resolve().parent.parent


def write_script(path: Path, steps: list[dict]) -> Path:
    lines = []
    for step in steps:
        lines.append("[[step]]")
        for key, value in step.items():
            lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def start_kiosk(data: Path, script: Path, print_seconds: float) -> subprocess.Popen:
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "CABINE_KIOSK__COUNTDOWN_SECONDS": "0",
        "CABINE_KIOSK__PAYMENT_SECONDS": "0.05",
        "CABINE_KIOSK__PRINT_SECONDS": str(print_seconds),
    }
    env.pop("CABINE_CONFIG", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cabine.cli",
            "kiosk",
            "--data",
            str(data),
            "--headless",
            "--script",
            str(script),
            "--size",
            "960x540",
        ],
        cwd=data.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def rows(data: Path, table) -> list:
    engine = create_engine(f"sqlite:///{data / 'booth.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(select(table)).all()
    finally:
        engine.dispose()


def wait_for_paid_sale(data: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert process.poll() is None, process.stdout.read()
        if (data / "booth.db").exists():
            try:
                if any(s.status == "paid" for s in rows(data, sales)):
                    return
            except Exception:  # noqa: BLE001 - the schema may not exist yet
                pass
        time.sleep(0.05)
    raise AssertionError("the sale was never paid")


@pytest.mark.slow
def test_killed_right_after_payment_the_sale_completes_once_on_restart(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    buy = write_script(tmp_path / "buy.toml", journey("ephoto-permis", finish=False))
    # The printer is slow (60 s), so the process is certainly killed between payment and sheet.
    first = start_kiosk(data, buy, print_seconds=60)
    try:
        wait_for_paid_sale(data, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    (code_row,) = rows(data, issued_codes)
    assert codes.is_valid(code_row.code)
    assert len(rows(data, outbox)) == 1
    assert rows(data, prints) == []
    assert not list((data / "prints").glob("*.png"))

    idle = write_script(tmp_path / "idle.toml", [{"wait": 3.0}, {"expect": "attract"}])
    second = start_kiosk(data, idle, print_seconds=0.05)
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output

    (sale,) = rows(data, sales)
    assert sale.status == "printed" and sale.recovered
    assert [c.code for c in rows(data, issued_codes)] == [code_row.code], "issued twice"
    assert [o.code for o in rows(data, outbox)] == [code_row.code]
    (printed,) = rows(data, prints)
    assert printed.kind == "recovery"
    assert qr_texts(Path(printed.path)) == [code_row.code]

    # The operator menu lists the sale as finished after a restart.
    from ephoto.clock import SystemClock
    from kiosk.booth import Booth
    from kiosk.settings import KioskSettings

    booth = Booth(KioskSettings(), data, SystemClock())
    try:
        assert [s.id for s in booth.snapshot().recovered] == [sale.id]
    finally:
        booth.close()

    # A third start finds nothing left to finish.
    third = start_kiosk(data, idle, print_seconds=0.05)
    output, _ = third.communicate(timeout=60)
    assert third.returncode == 0, output
    assert len(rows(data, prints)) == 1
