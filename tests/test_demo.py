"""`cabine demo --headless` end to end from a clean data folder: every step a newcomer sees."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from cabine.demo import DemoError, DemoSession, check_ports, port_is_free, purchase_steps
from ephoto import code as codes
from ephoto.clock import SystemClock
from ephoto.texts import texts
from kiosk.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_demo(data: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "cabine.cli", "demo", "--data", str(data), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def qr_texts(path: Path) -> list[str]:
    with Image.open(path) as image:
        return [b.text for b in zxingcpp.read_barcodes(np.asarray(image.convert("L")))]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_headless_demo_runs_every_step_and_leaves_nothing_running(tmp_path, lang):
    data = tmp_path / "demo-data"
    registry_port, support_port, collector_port = free_port(), free_port(), free_port()
    result = run_demo(
        data,
        "--scale",
        "7200",
        "--registry-port",
        str(registry_port),
        "--support-port",
        str(support_port),
        "--collector-port",
        str(collector_port),
        "--lang",
        lang,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    try:
        check_one_language(out, lang)
        check_demo_output(out, data, registry_port, support_port, lang)
        check_fetched_file(out, data, lang)
        assert port_is_free(collector_port)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- demo output ---\n{out}\n{result.stderr}") from None


def template_regex(template: str, **groups: str) -> str:
    """A regex for a text template: its words as they are, each ``{name}`` as ``groups[name]``
    (a capture group, say) or any text."""
    parts = re.split(r"(\{[a-z_]+(?:![rs])?\})", template)
    return "".join(
        groups.get(part.strip("{}").split("!")[0], ".+?")
        if part.startswith("{")
        else re.escape(part)
        for part in parts
    )


def run_templates(lang: str) -> list[str]:
    """Every line the demo may print while it runs, as regexes, in ``lang``."""
    t = texts("demo", lang)
    lines = [template_regex(t.entries[key]) for key in sorted(t.keys()) if key.startswith("run.")]
    lines += [
        r"\+\s*[\d.]+ h  " + template_regex(t.get(key))
        for key in t.keys()
        if key.startswith("step.")
    ]
    return lines


def table_cells(lang: str) -> list[str]:
    """What a cell of the demo's ledger table may say in ``lang``: the demo's words, the
    catalogue's product names, or data (sale ids, numbers, prices)."""
    t = texts("demo", lang)
    words = [re.escape(t.get(k)) for k in t.keys() if k.startswith("run.")]
    words += [re.escape(p.name(lang)) for p in load_catalog().products]
    return [*words, r"[A-Za-z0-9]+(-[0-9]+)+", r"9PMT[A-Z0-9]{18}", r"[\d\s.,]*€?[\d\s.,]*€?"]


def explained(line: str, lang: str) -> bool:
    """The line is one of the demo's texts in ``lang``, or a table line whose every cell is."""
    text = line.strip()
    if not re.search(r"[A-Za-zÀ-ÿ]", text):
        return True  # a table border, a blank line
    if any(re.fullmatch(pattern, text) for pattern in run_templates(lang)):
        return True
    cells = [c.strip() for c in re.split(r"[│┃|]", text) if c.strip()]
    return all(any(re.fullmatch(p, c) for p in table_cells(lang)) for c in cells)


def check_one_language(out: str, lang: str) -> None:
    """Every line the demo printed is one of its texts in ``lang``; none is a text of the other
    language."""
    other = "en" if lang == "fr" else "fr"
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) > 10
    assert [line for line in lines if not explained(line, lang)] == [], f"not {lang}"
    theirs = set(run_templates(other)) - set(run_templates(lang))
    foreign = [line for line in lines if any(re.fullmatch(p, line.strip()) for p in theirs)]
    assert foreign == [], f"{other} lines in a {lang} run"


def check_demo_output(
    out: str, data: Path, registry_port: int, support_port: int, lang: str = "fr"
) -> None:
    """Each step of the headless demo, from its output and the files it leaves."""
    t = texts("demo", lang)
    catalog = load_catalog()
    # Without a display the demo says it runs a scripted customer.
    assert t.get("run.headless") in out
    # The ledger shows one ePhoto number for the ePhoto sale and none for the classic sheet.
    printed = re.escape(t.get("run.status.printed"))
    permis = re.escape(catalog.get("ephoto-permis").name(lang))
    classic = re.escape(catalog.get("id-card-adult").name(lang))
    assert re.search(rf"{permis}\s*│\s*{printed}", out)
    no_number = re.escape(t.get("run.no_number"))
    assert re.search(rf"{classic}\s*│\s*{printed}\s*│[^│]*│\s*{no_number}", out)
    following = template_regex(t.entries["run.following"], code="(9PMT[A-Z0-9]{18})")
    code = re.search(following, out).group(1)
    assert codes.is_valid(code)
    # The timeline goes from the outbox to the registry to active, in scaled hours.
    hours = {
        step: float(
            re.search(r"\+\s*([\d.]+) h  " + re.escape(t.get(f"step.{step}")), out).group(1)
        )
        for step in ("issued", "sealed", "received", "acknowledged", "active")
    }
    assert hours["issued"] == 0.0
    # The file reaches the collector, sealed, before the registry hears of the number.
    assert 0 < hours["sealed"] <= hours["received"] <= hours["active"] <= 72.0
    # Redeemed once, refused the second time; the classic sheet gets no refund.
    first = template_regex(t.entries["run.redeem_first"], http="(\\d+)")
    second = template_regex(t.entries["run.redeem_second"], http="(\\d+)")
    assert re.search(first, out).group(1) == "200" and re.search(second, out).group(1) == "409"
    outcome = texts("support", lang).get("outcome.not_ephoto_product")
    assert t.get("run.support", sale="booth-001-000002", outcome=outcome) in out
    assert "summary.html" in out.strip().splitlines()[-1]
    # What it leaves behind: screenshots, both sheets (the ePhoto one with the code's QR), a
    # summary page naming the code, logs; and the ports are free again.
    shots = sorted((data / "screenshots").glob("*.png"))
    assert len(shots) >= 20
    sheets = sorted((data / "prints").glob("*.png"))
    assert len(sheets) == 2
    assert [qr_texts(s) for s in sheets].count([code]) == 1
    assert [] in [qr_texts(s) for s in sheets]
    summary = (data / "summary.html").read_text(encoding="utf-8")
    assert codes.group(code) in summary and "not_ephoto_product" in summary
    for shot in shots[:3]:
        assert f'src="screenshots/{shot.name}"' in summary
    logs = sorted(path.name for path in (data / "logs").iterdir())
    assert logs and not [name for name in logs if any(c.isspace() for c in name)], logs
    assert {"registry.log", "collector.log", "transmitter.log", "support.log"} <= set(logs)
    assert port_is_free(registry_port) and port_is_free(support_port)
    leftover = subprocess.run(["pgrep", "-f", str(data)], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
    session = json.loads((data / "demo-session.json").read_text())
    assert session["domain_time"] is not None


def test_a_port_in_use_is_named_with_the_option_that_changes_it():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            DemoError, match=rf"(?i)port {port} for the registry .* --registry-port"
        ):
            check_ports({"registry": (port, "--registry-port")}, "en")


def test_the_cli_reports_a_busy_port_and_exits_1(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_demo(tmp_path / "d", "--registry-port", str(port), timeout=60)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "--registry-port" in result.stderr


def test_a_second_demo_continues_the_domain_time_of_the_first(tmp_path):
    session = DemoSession.open(tmp_path)
    later = SystemClock().now() + timedelta(days=4)
    session.domain_time = later
    session.save()
    again = DemoSession.open(tmp_path)
    assert again.admin_token == session.admin_token
    assert again.clock(3600).now() >= later


def check_fetched_file(out: str, data: Path, lang: str = "fr") -> None:
    """The photo and signature the state fetched at use are shown in the summary, decode as the
    file's images, and are the booth's, byte for byte (the digests it stored at issue)."""
    from sqlalchemy import create_engine

    from ephoto.epfile import PHOTO_SIZE, SIGNATURE_SIZE, sha256_hex
    from transmitter.outbox import read_file

    t = texts("demo", lang)
    following = template_regex(t.entries["run.following"], code="(9PMT[A-Z0-9]{18})")
    code = re.search(following, out).group(1)
    assert t.get("run.fetched_same") in out
    summary = (data / "summary.html").read_text(encoding="utf-8")
    photo_src = re.search(r'id="fetched-photo" src="([^"]+)"', summary).group(1)
    signature_src = re.search(r'id="fetched-signature" src="([^"]+)"', summary).group(1)
    photo, signature = (data / photo_src).read_bytes(), (data / signature_src).read_bytes()
    with Image.open(data / photo_src) as image:
        assert image.format == "JPEG" and image.size == PHOTO_SIZE
    with Image.open(data / signature_src) as image:
        assert image.format == "PNG" and image.mode == "L" and image.size == SIGNATURE_SIZE
    engine = create_engine(f"sqlite:///{data / 'booth.db'}")
    try:
        booth_file = read_file(engine, code)
    finally:
        engine.dispose()
    assert booth_file is not None
    assert sha256_hex(photo) == booth_file.meta.photo_sha256
    assert sha256_hex(signature) == booth_file.meta.signature_sha256
    assert booth_file.meta.photo_sha256 in summary
    assert t.get("fetched_same") in summary


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_child_that_stops_is_named_in_the_demos_language(tmp_path, lang):
    from cabine.demo import demo_error
    from cabine.processes import ProcessFailed, ProcessGroup

    children = ProcessGroup(tmp_path / "logs")
    child = children.start("support", ["no-such-command"], config=None)
    child.popen.wait(timeout=60)
    t = texts("demo", lang)
    role = t.get("run.error.role_support")
    with pytest.raises(DemoError) as stopped:
        try:
            children.check()
        except ProcessFailed as failure:
            raise demo_error(failure, lang) from None
    first = str(stopped.value).splitlines()[0]
    assert first == t.get(
        "run.error.child_stopped", role=role, code=child.popen.returncode, log=child.log
    )
    children.stop()


def test_log_files_are_named_without_spaces(tmp_path):
    """Each child's log is one word: ``logs/support.log``, never ``logs/support desk.log``."""
    from cabine.processes import ProcessGroup

    children = ProcessGroup(tmp_path / "logs")
    with pytest.raises(ValueError, match="one word"):
        children.start("support desk", ["support", "serve"], config=None)
    assert not (tmp_path / "logs" / "support desk.log").exists()


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_keep_running_leaves_the_check_page_and_the_desk_up_until_ctrl_c(tmp_path, stop):
    """After the scripted customer the services stay up with their addresses printed; Ctrl-C
    (or a service manager's SIGTERM) stops every one of them, and the last line says where
    the demo's files are."""
    import signal
    import time

    import httpx

    data = tmp_path / "kept"
    ports = {"registry": free_port(), "support": free_port(), "collector": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["COLUMNS"] = "200"
    command = [sys.executable, "-m", "cabine.cli", "demo", "--data", str(data), "--lang", "en"]
    command += ["--scale", "7200", "--keep-running"]
    command += [f"--{role}-port={port}" for role, port in ports.items()]
    t = texts("demo", "en")
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert child.stdout is not None
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.strip() == t.get("run.keep_running_stop"):
                break
        out = "\n".join(lines)
        assert lines and lines[-1].strip() == t.get("run.keep_running_stop"), out
        assert (data / "summary.html").is_file()
        registry_url = f"http://127.0.0.1:{ports['registry']}"
        support_url = f"http://127.0.0.1:{ports['support']}"
        assert t.get("run.service_registry", url=registry_url) in out
        assert t.get("run.service_support", url=support_url) in out
        # Still up after the demo's end: the check page and the desk's form answer.
        time.sleep(1.0)
        assert httpx.get(registry_url + "/", timeout=5).status_code == 200
        assert httpx.get(support_url + "/", timeout=5).status_code == 200
        child.send_signal(getattr(signal, stop))
        rest, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    last = rest.strip().splitlines()[-1]
    assert last == t.get("run.kept_stopped", folder=data.resolve())
    assert all(port_is_free(port) for port in ports.values())
    leftover = subprocess.run(["pgrep", "-f", str(data)], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def window_demo(tmp_path, monkeypatch, person_steps):
    """``run_demo`` with a window (SDL's dummy driver): ``person_steps`` are tapped on the
    window's real event loop, then the window is closed as a person closes it (QUIT)."""
    import pygame

    from cabine.config import load_settings
    from cabine.demo import DEMO_KIOSK_TIMINGS, run_demo
    from kiosk.ui.app import KioskApp, use_dummy_video
    from kiosk.ui.script import run_script

    use_dummy_video()
    opened = KioskApp.run

    def person_then_close(app: KioskApp) -> None:
        report = run_script(app, person_steps, close=False)
        assert report.ok, report.error
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        opened(app)

    monkeypatch.setattr(KioskApp, "run", person_then_close)
    settings = load_settings(None, data_dir=tmp_path / "window")
    settings = settings.model_copy(
        update={"kiosk": settings.kiosk.model_copy(update=DEMO_KIOSK_TIMINGS)}
    )
    lines: list[str] = []
    result = run_demo(
        settings,
        scale=7200,
        headless=False,
        registry_port=free_port(),
        support_port=free_port(),
        collector_port=free_port(),
        lang="en",
        say=lines.append,
        show_table=lambda rows, columns, title: lines.append(title),
    )
    return result, lines


def test_closing_the_window_follows_the_number_bought_in_it_and_says_where_to_look(
    tmp_path, monkeypatch
):
    """With a window, closing it ends as the headless run ends: the number the person bought
    followed to its use, summary.html, screenshots/ of the window's screens, fetched/, and
    the last line names the folder."""
    product = load_catalog().get("ephoto-titre-sejour")
    steps = purchase_steps(product.id, product.category, True, "en")
    result, lines = window_demo(tmp_path, monkeypatch, steps)
    t = texts("demo", "en")
    data = tmp_path / "window"
    assert t.get("run.window_closed_bought", product=product.name("en")) in lines
    scripted = t.entries["run.customer_buys"].split("{")[0]
    assert not [line for line in lines if line.startswith(scripted)], "the scripted one bought"
    assert lines[-1] == t.get(
        "run.finished", seconds=f"{result.wall_seconds:.0f}", folder=data.resolve()
    )
    assert result.first_redeem[0] == 200 and result.second_redeem[0] == 409
    assert result.fetched is not None and result.fetched.same_as_booth
    assert (data / "fetched" / f"{result.ephoto_code}-photo.jpg").is_file()
    shots = sorted((data / "screenshots").glob("*.png"))
    assert len(shots) >= 8 and any("payment" in shot.name for shot in shots)
    summary = (data / "summary.html").read_text(encoding="utf-8")
    assert codes.group(result.ephoto_code) in summary
    assert t.get("intro_window", product=product.name("en")) in summary
    assert f'src="screenshots/{shots[0].name}"' in summary


def test_closing_the_window_without_buying_lets_the_scripted_customer_buy(tmp_path, monkeypatch):
    result, lines = window_demo(tmp_path, monkeypatch, [{"wait_for": "attract"}])
    t = texts("demo", "en")
    catalog = load_catalog()
    assert t.get("run.window_closed_none") in lines
    bought = t.get(
        "run.customer_buys",
        first=catalog.get("ephoto-permis").name("en"),
        second=catalog.get("id-card-adult").name("en"),
    )
    assert bought in lines
    assert lines[-1].startswith(t.get("run.finished", seconds="", folder="").split(" ")[0])
    assert "summary.html" in lines[-1]
    assert (tmp_path / "window" / "summary.html").is_file()
    assert result.support_answer is not None


def test_the_booth_ledger_exists_before_the_services_start(tmp_path):
    """The support desk refuses to start without the booth's ledger, and the demo's booth opens
    only after the services: the demo makes the ledger first, as the booth makes it."""
    from cabine.demo import create_booth_ledger, demo_topology
    from kiosk.ledger import Ledger
    from transmitter.outbox import booth_db_path

    session = DemoSession.open(tmp_path)
    clock = session.clock(3600)
    topology = demo_topology(tmp_path, clock, free_port(), free_port(), "token", "en", free_port())
    path = booth_db_path(tmp_path)
    assert not path.exists()
    create_booth_ledger(topology, clock)
    assert path.is_file()
    ledger = Ledger(path, clock, booth_id=topology.booths[0])
    try:
        assert ledger.paper_left() == topology.base.kiosk.paper_capacity
        assert ledger.last_sales(1) == []
    finally:
        ledger.dispose()
