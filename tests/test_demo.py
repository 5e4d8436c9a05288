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

from cabine.demo import DemoError, DemoSession, check_ports, port_is_free
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
