"""Every `cabine` subcommand against bad arguments and bad data folders (issue 18 item 12): exit
code 2, one line on stderr that names the bad value, no traceback, and nothing changed on disk.

The table is meant to grow: a new subcommand adds its rows to ``CASES``. A row gives the
arguments (``{data}`` is the row's data folder, ``{tmp}`` the folder around it), what to put in
the data folder first (``setup``, from ``SETUPS``), and the text the one line must contain.
Each row runs ``python -m cabine.cli`` in a fresh process, so the guard in ``cabine.cli.main``
is what is tested, as a user meets it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# --- bad data folders ----------------------------------------------------------------------


def corrupt_booth_db(data: Path) -> None:
    (data / "booth.db").write_bytes(os.urandom(8192))


def corrupt_registry_db(data: Path) -> None:
    (data / "registry.sqlite").write_bytes(os.urandom(8192))


def bad_keys_file(data: Path) -> None:
    (data / "keys.toml").write_text('[booths.b1]\nkey = "nothex"\noperator = "9PMT"\n')


def non_utf8_keys_file(data: Path) -> None:
    (data / "keys.toml").write_bytes(b"\xff\xfe\x00[booths]\n")


def keys_folder(data: Path) -> None:
    (data / "keys.toml").mkdir()


def data_is_a_file(data: Path) -> None:
    (data.parent / "not-a-folder").write_text("a file where a folder should be\n")


def non_utf8_scenario(data: Path) -> None:
    (data / "season.toml").write_bytes(b'name = "\xff\xfe"\n')


def scenario_with(old: str, new: str) -> Callable[[Path], None]:
    """The bundled off-season scenario with one line changed, as ``data/season.toml``."""

    def write(data: Path) -> None:
        from simulation.scenario import SCENARIO_DIR

        text = (SCENARIO_DIR / "off-season.toml").read_text(encoding="utf-8")
        assert old in text
        (data / "season.toml").write_text(text.replace(old, new), encoding="utf-8")

    return write


def largest_fleet(data: Path) -> None:
    """The off-season scenario at today's limits: 100,000 booths selling 2,000 ePhotos a day for
    two years (about 1e11 sales: terabytes of arrays), as ``data/season.toml``."""
    from simulation.scenario import SCENARIO_DIR

    text = (SCENARIO_DIR / "off-season.toml").read_text(encoding="utf-8")
    for old, new in (
        ("booths = 200", "booths = 100000"),
        ("days = 28", "days = 730"),
        ("ephoto_per_booth_day = 15.0", "ephoto_per_booth_day = 2000.0"),
    ):
        assert old in text
        text = text.replace(old, new)
    (data / "season.toml").write_text(text, encoding="utf-8")


def sweep_file(text: str, results: str | None = None) -> Callable[[Path], None]:
    """``data/sweep.toml`` holding ``text``, and ``data/out/results.csv`` if given."""

    def write(data: Path) -> None:
        (data / "sweep.toml").write_text(text, encoding="utf-8")
        if results is not None:
            (data / "out").mkdir()
            (data / "out" / "results.csv").write_text(results, encoding="utf-8")

    return write


def bomb_picture(data: Path, side: int = 20000, name: str = "bomb.png") -> None:
    """A PNG that says it is ``side`` pixels square (20000: 1.2 GB decoded), a few bytes on
    disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")
    (data / name).write_bytes(png)


def booth_with_rows_in_flight(data: Path) -> None:
    """A booth's data folder: ``keys.toml`` (readable by all, so another user can get as far
    as the writing) and ``booth.db`` whose three rows are claimed by a transmitter, with a
    lease that lasts (rows in flight)."""
    from datetime import UTC, datetime, timedelta

    from ephoto.wire import add_booth_key
    from transmitter.outbox import Outbox, booth_db_url, create_schema, enqueue, open_outbox_engine

    add_booth_key(data / "keys.toml", "b1", "9PMT")
    (data / "keys.toml").chmod(0o644)
    engine = open_outbox_engine(booth_db_url(data))
    try:
        create_schema(engine)
        issued = datetime(2026, 11, 2, 9, tzinfo=UTC)
        with engine.begin() as conn:
            for n in range(3):
                code = f"9PMT{n:04d}AAAA"
                enqueue(conn, code, issued, "ephoto-permis", booth_id="b1")
        claimed = Outbox(engine).claim_due(issued + timedelta(hours=1), 10, timedelta(days=3650))
        assert len(claimed) == 3
    finally:
        engine.dispose()
    for leftover in data.glob("booth.db-*"):  # no WAL left beside it: one file to hash
        raise AssertionError(f"{leftover} left by the setup")


def collector_keys(data: Path) -> None:
    """What a collector needs to start in ``data``: the state's public key and its own
    registration key in ``keys.toml`` (so only the row's bad value can stop it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from collector.settings import collector_id
    from ephoto.code import DEFAULT_PREFIX
    from ephoto.wire import add_booth_key

    public = Ed25519PrivateKey.generate().public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (data / "state-fetch.pub.pem").write_bytes(pem)
    add_booth_key(data / "keys.toml", collector_id(DEFAULT_PREFIX), DEFAULT_PREFIX)


def collector_keys_and(then: Callable[[Path], None]) -> Callable[[Path], None]:
    def write(data: Path) -> None:
        collector_keys(data)
        then(data)

    return write


SETUPS: dict[str, Callable[[Path], None]] = {
    "collector's keys": collector_keys,
    "collector's keys, corrupt collector.sqlite": collector_keys_and(
        lambda data: (data / "collector.sqlite").write_bytes(os.urandom(8192))
    ),
    "collector's keys, non-UTF-8 keys file": collector_keys_and(non_utf8_keys_file),
    "booth with rows in flight": booth_with_rows_in_flight,
    "corrupt booth.db": corrupt_booth_db,
    "corrupt registry.sqlite": corrupt_registry_db,
    "bad keys file": bad_keys_file,
    "non-UTF-8 keys file": non_utf8_keys_file,
    "keys file is a folder": keys_folder,
    "data is a file": data_is_a_file,
    "non-UTF-8 scenario": non_utf8_scenario,
    "decompression bomb": bomb_picture,
    "13000 x 13000 picture": lambda data: bomb_picture(data, 13000, "huge.png"),
    "scenario in year 9999": scenario_with("start = 2026-11-02", "start = 9999-12-01"),
    "scenario in year 1": scenario_with("start = 2026-11-02", "start = 0001-01-01"),
    "infinite demand": scenario_with("ephoto_per_booth_day = 15.0", "ephoto_per_booth_day = inf"),
    "absurd demand": scenario_with("ephoto_per_booth_day = 15.0", "ephoto_per_booth_day = 1e12"),
    "infinite capacity": scenario_with("capacity_per_hour = 150.0", "capacity_per_hour = inf"),
    "infinite other demand": scenario_with(
        "other_per_booth_day = 20.0", "other_per_booth_day = inf"
    ),
    "capacity not a number": scenario_with("capacity_per_hour = 150.0", "capacity_per_hour = nan"),
    "a sweep, --out a file": lambda data: (
        sweep_file('scenario = "off-season"\n')(data),
        data_is_a_file(data),
    ),
    "fleet at today's limits": largest_fleet,
    "a sweep": sweep_file('scenario = "off-season"\n[vary]\n"fleet.booths" = [5]\n'),
    "sweep with an unknown key": sweep_file('scenario = "off-season"\nseed = 3\n'),
    "sweep varying no scenario key": sweep_file(
        'scenario = "off-season"\n[vary]\n"registry.speed" = [1.0]\n'
    ),
    "sweep over a bad value": sweep_file(
        'scenario = "off-season"\n[vary]\n"registry.capacity_per_hour" = [-4.0]\n'
    ),
    "sweep of a missing scenario": sweep_file('scenario = "no-such-scenario"\n'),
    "sweep not TOML": sweep_file("scenario = [\n"),
    "table of another sweep": sweep_file(
        'scenario = "off-season"\n[vary]\n"fleet.booths" = [5]\n',
        results="run,registry.capacity_per_hour,seed\n",
    ),
}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    names: str
    """Text the error line must contain: the bad value, or the file it is about."""
    setup: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    """Run the command as a user who may read the row's folder but not write it: the
    unprivileged ``nobody`` when the tests run as root (whom permission bits do not stop),
    else the current user with the folder made read-only."""

    @property
    def id(self) -> str:
        label = " ".join(self.args).replace("{data}", "D").replace("{tmp}", "T")
        label = f"{label} [{self.setup}]" if self.setup else label
        label += "".join(f" [{k}={v}]" for k, v in self.env.items())
        return f"{label} [read-only]" if self.read_only else label


FILE = "{tmp}/not-a-folder"
IN_FLIGHT = "booth with rows in flight"

CASES: list[Case] = [
    # catalogue and codes
    Case(("products", "--lang", "xx"), "xx"),
    Case(("code", "check", "9PMT", "--operator", "é"), "é"),
    Case(("code", "new", "--operator", "x"), "x"),
    Case(("code", "new", "--count", "0"), "0"),
    # configuration
    Case(("config", "example", "--out", "{tmp}/nonexistent/x.toml"), "nonexistent"),
    # the registry
    Case(("registry", "--data", "{data}", "--clock-epoch", "junk"), "junk"),
    Case(("registry", "--data", "{data}", "--port", "70000"), "70000"),
    Case(("registry", "--data", "{data}", "--db", "junk://x"), "junk://x"),
    Case(("registry", "--data", FILE), "not-a-folder", "data is a file"),
    Case(("registry", "--data", "{data}"), "registry.sqlite", "corrupt registry.sqlite"),
    Case(("registry", "--data", "{data}"), "keys.toml", "bad keys file"),
    Case(("registry", "--data", "{data}"), "keys.toml", "non-UTF-8 keys file"),
    # booth keys
    Case(("booth-key", "b1", "--keys", "{data}/keys.toml"), "keys.toml", "keys file is a folder"),
    Case(("booth-key", "b1", "--keys", "{data}/keys.toml"), "keys.toml", "non-UTF-8 keys file"),
    Case(("booth-key", "b1", "--keys", "{data}/keys.toml", "--operator", "é"), "é"),
    Case(("booth-key", "b/1", "--keys", "{data}/keys.toml"), "b/1"),
    # the transmitter
    Case(("transmitter", "--once", "--data", "{data}"), "booth.db", "corrupt booth.db"),
    Case(("transmitter", "--once", "--data", FILE), "not-a-folder", "data is a file"),
    Case(
        ("transmitter", "--once", "--data", "{data}", "--registry", "not a url"),
        "not a url",
    ),
    *(  # rows in flight stay as they were: booth.db's hash is checked like every file's
        Case(
            ("transmitter", "--once", "--data", "{data}", option, "not a url"),
            "not a url",
            IN_FLIGHT,
        )
        for option in ("--registry", "--collector")
    ),
    Case(("transmitter", "status", "--data", "{data}"), "booth.db", "corrupt booth.db"),
    # the support desk
    Case(("support", "report", "--sale", "1", "--lang", "xx", "--data", "{data}"), "xx"),
    Case(  # with a booth.db to record in: its hash shows nothing was recorded
        ("support", "report", "--sale", "1", "--lang", "xx", "--data", "{data}"), "xx", IN_FLIGHT
    ),
    Case(
        ("support", "report", "--code", "9PMT", "--data", "{data}"), "booth.db", "corrupt booth.db"
    ),
    Case(("support", "log", "--data", "{data}"), "booth.db", "corrupt booth.db"),
    Case(("support", "serve", "--data", "{data}"), "booth.db", "corrupt booth.db"),
    Case(("support", "serve", "--data", "{data}", "--port", "70000"), "70000"),
    # the kiosk
    Case(("kiosk", "--headless", "--data", "{data}"), "booth.db", "corrupt booth.db"),
    Case(("kiosk", "--headless", "--data", FILE), "not-a-folder", "data is a file"),
    Case(("kiosk", "--size", "10x10"), "10x10"),
    # the printed sheet
    Case(
        (
            "sheet",
            "--product",
            "ephoto-permis",
            "--out",
            "{tmp}/s.png",
            "--photo",
            "{data}/bomb.png",
        ),
        "bomb.png",
        "decompression bomb",
    ),
    Case(
        (
            "sheet",
            "--product",
            "ephoto-permis",
            "--out",
            "{tmp}/s.png",
            "--photo",
            "{data}/huge.png",
        ),
        "huge.png",
        "13000 x 13000 picture",
    ),
    Case(("sheet", "--product", "nope", "--out", "{tmp}/s.png"), "nope"),
    Case(("sheet", "--product", "ephoto-permis", "--out", "{tmp}/s.png", "--lang", "xx"), "xx"),
    # simulations
    Case(
        ("simulate", "{data}/season.toml", "--out", "{tmp}/out"),
        "season.toml",
        "non-UTF-8 scenario",
    ),
    Case(("simulate", "{tmp}/missing.toml", "--out", "{tmp}/out"), "missing.toml"),
    *(
        Case(("simulate", "{data}/season.toml", "--out", "{tmp}/out"), key, setup)
        for setup, key in (
            ("scenario in year 9999", "run.start"),
            ("scenario in year 1", "run.start"),
            ("infinite demand", "demand.ephoto_per_booth_day"),
            ("absurd demand", "demand.ephoto_per_booth_day"),
            ("capacity not a number", "registry.capacity_per_hour"),
            ("infinite capacity", "registry.capacity_per_hour"),
            ("infinite other demand", "demand.other_per_booth_day"),
        )
    ),
    # a fleet within the limits that would run out of memory: refused before any array
    Case(
        ("simulate", "{data}/season.toml", "--out", "{tmp}/out", "--no-plots"),
        "of memory",
        "fleet at today's limits",
    ),
    Case(
        ("simulate", "off-season", "--out", "{tmp}/out", "--no-plots"),
        "1 MiB is available",
        env={"CABINE_MEMORY_AVAILABLE": str(2**20)},
    ),
    Case(
        ("simulate", "off-season", "--out", "{tmp}/out", "--no-plots"),
        "CABINE_MEMORY_AVAILABLE",
        env={"CABINE_MEMORY_AVAILABLE": "lots"},
    ),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{tmp}/out"),
        "of memory",
        "a sweep",
        env={"CABINE_MEMORY_AVAILABLE": str(2**20)},
    ),
    Case(("scenarios", "run", "no-such-scenario"), "no-such-scenario"),
    Case(("sweep", "{tmp}/missing.toml"), "--out"),
    Case(("plan", "capacity", "{tmp}/missing.toml"), "--target"),
    Case(("sweep", "{tmp}/missing.toml", "--out", "{tmp}/out"), "missing.toml"),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{data}/out"),
        "seed: unknown key",
        "sweep with an unknown key",
    ),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{data}/out"),
        "vary.registry.speed",
        "sweep varying no scenario key",
    ),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{data}/out"),
        "registry.capacity_per_hour",
        "sweep over a bad value",
    ),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{data}/out"),
        "no-such-scenario",
        "sweep of a missing scenario",
    ),
    Case(("sweep", "{data}/sweep.toml", "--out", "{data}/out"), "sweep.toml", "sweep not TOML"),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{data}/out"),
        "results.csv",
        "table of another sweep",
    ),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", FILE),
        "not-a-folder",
        "a sweep, --out a file",
    ),
    Case(("simulate", "off-season", "--out", FILE), "not-a-folder", "data is a file"),
    Case(
        ("simulate", "off-season", "--out", FILE + "/out"),
        "not-a-folder is a file",
        "data is a file",
    ),
    Case(("sweep", "{tmp}/missing.toml", "--out", "{tmp}/out", "--workers", "0"), "--workers"),
    Case(("sweep", "{tmp}/missing.toml", "--out", "{tmp}/out", "--lang", "xx"), "xx"),
    Case(("plan", "capacity", "off-season", "--target", "p95=72"), "p95=72"),
    Case(("plan", "capacity", "off-season", "--target", "p97<=72"), "p97"),
    Case(("plan", "capacity", "off-season", "--target", "share72>=2"), "share72>=2"),
    Case(("plan", "capacity", "off-season", "--target", "p95<=72", "--seeds", "0"), "--seeds"),
    Case(("plan", "capacity", "{tmp}/missing.toml", "--target", "p95<=72"), "missing.toml"),
    Case(
        ("plan", "capacity", "{data}/season.toml", "--target", "p95<=72"),
        "season.toml",
        "non-UTF-8 scenario",
    ),
    Case(
        ("plan", "capacity", "{data}/season.toml", "--target", "p95<=72"),
        "registry.capacity_per_hour",
        "capacity not a number",
    ),
    # the collector
    Case(("collector", "serve", "--data", "{data}", "--port", "70000"), "70000"),
    Case(("collector", "serve", "--data", FILE), "not-a-folder", "data is a file"),
    Case(
        ("collector", "serve", "--data", "{data}", "--db", "junk://x"),
        "junk://x",
        "collector's keys",
    ),
    Case(
        ("collector", "serve", "--data", "{data}"),
        "collector.sqlite",
        "collector's keys, corrupt collector.sqlite",
    ),
    Case(
        ("collector", "serve", "--data", "{data}"),
        "keys.toml",
        "collector's keys, non-UTF-8 keys file",
    ),
    # a refused collector makes no sealing key on the way out
    Case(("collector", "serve", "--data", "{data}"), "state-fetch.pub.pem"),
    Case(("transmitter", "--once", "--data", "{data}"), "keys.toml", "non-UTF-8 keys file"),
    # the demo
    *(
        Case(("demo", "--headless", "--data", "{data}", option, "70000"), option)
        for option in ("--registry-port", "--support-port", "--collector-port")
    ),
    Case(("demo", "--headless", "--data", FILE), "not-a-folder", "data is a file"),
    # the session clock
    Case(("clock", "advance", "junk", "--data", "{data}"), "junk"),
    Case(("clock", "show", "--data", FILE), "not-a-folder", "data is a file"),
    # folders and files this user may read but not write
    *(
        Case(args, "{data} cannot be written", IN_FLIGHT, read_only=True)
        for args in (
            ("kiosk", "--headless", "--data", "{data}"),
            ("registry", "--data", "{data}"),
            ("transmitter", "--once", "--data", "{data}"),
            ("collector", "serve", "--data", "{data}"),
            ("simulate", "off-season", "--out", "{data}", "--no-plots"),
        )
    ),
    Case(
        ("simulate", "off-season", "--out", "{data}/out", "--no-plots"),
        "{data}/out cannot be written",
        read_only=True,
    ),
    Case(
        ("sweep", "{data}/sweep.toml", "--out", "{data}/out"),
        "{data}/out cannot be written",
        "a sweep",
        read_only=True,
    ),
    Case(
        ("config", "example", "--out", "{data}/x.toml"),
        "{data}/x.toml cannot be written",
        read_only=True,
    ),
    Case(
        ("booth-key", "b2", "--keys", "{data}/keys.toml"),
        "{data}/keys.toml is read-only",
        IN_FLIGHT,
        read_only=True,
    ),
    # QA comforts: bundled scenarios and sweeps, used folders, comparisons, JUnit
    Case(("simulate", "summer_peak", "--out", "{tmp}/out"), "off-season, summer-peak"),
    Case(("simulate", "summer_peak", "--lang", "en"), "bundled scenarios: national-summer"),
    Case(("simulate", "{data}/sweep.toml"), "cabine sweep {data}/sweep.toml", "a sweep"),
    Case(("simulate",), "--list"),
    Case(("simulate", "off-season", "--out", "{data}", "--no-plots"), "--force", IN_FLIGHT),
    Case(("plan", "capacity", "summer_peak", "--target", "p95<=72"), "summer-peak"),
    Case(("sweep", "--example", "nope"), "nope"),
    Case(("sweep",), "--example"),
    Case(("sweep", "capacity"), "--out"),
    Case(("sweep", "nope", "--out", "{tmp}/out"), "capacity, outages, uplink"),
    Case(("compare", "{tmp}/missing", "{data}"), "missing"),
    Case(("compare", "{data}", "{data}"), "results.csv", "corrupt booth.db"),
    Case(("compare", "{data}", "{data}", "--lang", "xx"), "xx"),
    Case(("compare", "{data}", "{data}", "--html", "{tmp}/no/c.html"), "{tmp}/no"),
    Case(("scenarios", "run", "--all", "--junit", "{tmp}/no/junit.xml"), "{tmp}/no"),
    Case(("scenarios", "run", "--all", "--junit", "{data}"), "is a folder"),
    # the live fleet
    Case(("fleet", "run", "summer_peak", "--out", "{tmp}/out"), "summer_peak"),
    Case(("fleet", "run", "off-season", "--booths", "0", "--out", "{tmp}/out"), "--booths 0"),
    Case(("fleet", "run", "off-season", "--days", "0", "--out", "{tmp}/out"), "--days 0"),
    Case(
        ("fleet", "run", "off-season", "--citizens-days", "9", "--out", "{tmp}/out"),
        "--citizens-days 9",
    ),
    Case(("fleet", "run", "off-season", "--out", "{data}"), "is not empty", "corrupt booth.db"),
    Case(
        ("fleet", "run", "off-season", "--out", "{tmp}/out", "--faults", "{tmp}/none.toml"),
        "none.toml",
    ),
    Case(("fleet", "check", "{data}"), "is not a fleet run's folder"),
    Case(("fleet", "compare", "{data}"), "holds no numbers.csv"),
]


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with its content's hash (folders: "dir")."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


NOBODY = 65534
"""The unprivileged user the read-only rows run as when the tests run as root."""


def as_user_without_write(folder: Path) -> list[str]:
    """The command prefix that runs a row unable to write ``folder`` (empty: as we are).

    As root, permission bits do not stop writing, so the row runs as ``nobody`` through
    ``setpriv``; ``folder`` and what it holds (made by root, made readable by all here) can
    then be read but not written, as a read-only folder is for a booth's own user. Otherwise
    the folder's write bits are taken away."""
    if os.geteuid() != 0:
        for path in (folder, *folder.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o222)
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: no way to drop root")
    for path in (folder, *folder.rglob("*")):  # readable by all, as the booth's user reads it
        path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import cabine.cli"],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    if probe.returncode != 0:
        pytest.skip(
            f"uid {NOBODY} cannot run {sys.executable} with this project (a folder on its path "
            f"is not o+rx?): {probe.stderr.strip().splitlines()[-1:]}"
        )
    return prefix


@pytest.fixture
def workdir(request, tmp_path):
    """The row's folder: pytest's own, or for a read-only row run as root a fresh 0755 folder
    under the temporary folder (pytest's is 0700 to everyone but root)."""
    if not (request.node.callspec.params["case"].read_only and os.geteuid() == 0):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="cabine-read-only-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_bad_argument_or_data_folder_is_one_line_and_exit_2_with_nothing_changed(workdir, case):
    tmp_path = workdir
    data = tmp_path / "data"
    data.mkdir()
    if case.setup is not None:
        SETUPS[case.setup](data)
    args = [a.replace("{data}", str(data)).replace("{tmp}", str(tmp_path)) for a in case.args]
    names = case.names.replace("{data}", str(data)).replace("{tmp}", str(tmp_path))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CABINE_")},
        "CABINE_DATA_DIR": str(data),
        "COLUMNS": "80",
        **case.env,
    }
    prefix: list[str] = []
    if case.read_only:
        prefix = as_user_without_write(data)
        env["HOME"] = str(tmp_path)
    before = tree_digest(tmp_path)
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "cabine.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr, done.stdout)
    assert len(lines) == 1, done.stderr
    assert names in lines[0], lines[0]
    assert tree_digest(tmp_path) == before
