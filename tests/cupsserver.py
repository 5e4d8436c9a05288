"""A private CUPS server for tests: Debian's cupsd in the foreground with its own config folder,
spool, logs and a port on 127.0.0.1, and a cups-pdf virtual printer writing into a temporary
folder. Started once per session, stopped after; it never meets the system's CUPS.

Use it from any test module (the fixture is registered in ``tests/conftest.py``)::

    pytestmark = pytest.mark.cups

    def test_something(cups_server):
        queue = cups_server.add_pdf_queue()       # a fresh cups-pdf queue of its own
        ...                                        # cups_server.server is "127.0.0.1:PORT"
        cups_server.pdfs(queue)                    # the PDFs that queue "printed"

cups-pdf reads its settings only from ``/etc/cups`` (compiled in), one file per queue named
after the device URI (``cups-pdf:/NAME`` reads ``/etc/cups/cups-pdf-NAME.conf``): each queue
gets such a file, with a unique name, pointing its output at the session's temporary folder,
and the file is removed when the server stops. The backend runs as root, so the tests must run
as root (they do in CI); without root or without the Debian packages the fixture says which
is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CUPSD = "/usr/sbin/cupsd"
CUPS_PDF_BACKEND = Path("/usr/lib/cups/backend/cups-pdf")
CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_noopt.ppd")
CUPS_PDF_CONFIG_DIR = Path("/etc/cups")


class CupsUnavailable(RuntimeError):
    """cupsd or cups-pdf is missing, or the tests do not run as root."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CupsServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    pdf_configs: list[Path] = field(default_factory=list)

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connection(self):  # type: ignore[no-untyped-def]
        import cups

        cups.setServer(self.server)
        return cups.Connection()

    def add_pdf_queue(self, name: str | None = None) -> str:
        """A new cups-pdf queue, enabled and accepting jobs; its PDFs land in ``out(name)``."""
        name = name or f"cabine-{uuid.uuid4().hex[:10]}"
        out = self.out(name)
        out.mkdir(parents=True, exist_ok=True)
        config = CUPS_PDF_CONFIG_DIR / f"cups-pdf-{name}.conf"
        config.write_text(
            f"Out {out}\nAnonDirName {out}\nLabel 0\nUserUMask 0022\nGrp root\n",
            encoding="utf-8",
        )
        self.pdf_configs.append(config)
        conn = self.connection()
        conn.addPrinter(name, filename=str(CUPS_PDF_PPD), device=f"cups-pdf:/{name}")
        conn.enablePrinter(name)
        conn.acceptJobs(name)
        return name

    def out(self, queue: str) -> Path:
        return self.root / "pdf" / queue

    def pdfs(self, queue: str) -> list[Path]:
        return sorted(self.out(queue).glob("*.pdf"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for config in self.pdf_configs:
            config.unlink(missing_ok=True)


def _write_config(root: Path, port: int) -> tuple[Path, Path]:
    for sub in ("etc/ppd", "spool/tmp", "cache", "state/certs", "log", "pdf", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    files = root / "etc" / "cups-files.conf"
    files.write_text(
        "\n".join(
            [
                f"ServerRoot {root / 'etc'}",
                f"RequestRoot {root / 'spool'}",
                f"TempDir {root / 'tmp'}",
                f"CacheDir {root / 'cache'}",
                f"StateDir {root / 'state'}",
                "DataDir /usr/share/cups",
                "ServerBin /usr/lib/cups",
                f"ErrorLog {root / 'log' / 'error_log'}",
                f"AccessLog {root / 'log' / 'access_log'}",
                f"PageLog {root / 'log' / 'page_log'}",
                f"Printcap {root / 'printcap'}",
                "User lp",
                "Group lp",
                "SystemGroup root",
                "FileDevice No",
                "",
            ]
        ),
        encoding="utf-8",
    )
    conf = root / "etc" / "cupsd.conf"
    # Loopback only, no browsing, no authentication: nothing but the tests can reach it.
    conf.write_text(
        "\n".join(
            [
                f"Listen 127.0.0.1:{port}",
                "LogLevel info",
                "Browsing No",
                "WebInterface No",
                "DefaultAuthType None",
                "MaxJobs 0",
                "PreserveJobHistory Yes",
                "<Location />",
                "  Order allow,deny",
                "  Allow from 127.0.0.1",
                "</Location>",
                "<Policy default>",
                "  <Limit All>",
                "    Order deny,allow",
                "  </Limit>",
                "</Policy>",
                "",
            ]
        ),
        encoding="utf-8",
    )
    # The folders cupsd checks belong to root and its group; the spool must be writable by lp.
    shutil.chown(root / "spool", "root", "lp")
    os.chmod(root / "spool", 0o710)
    shutil.chown(root / "spool" / "tmp", "root", "lp")
    os.chmod(root / "spool" / "tmp", 0o1770)
    for sub in ("cache", "tmp"):
        shutil.chown(root / sub, "root", "lp")
        os.chmod(root / sub, 0o770)
    return conf, files


def start_cups(root: Path) -> CupsServer:
    if not Path(CUPSD).exists() or not CUPS_PDF_BACKEND.exists() or not CUPS_PDF_PPD.exists():
        raise CupsUnavailable(
            "cupsd or cups-pdf is missing: install the Debian packages 'cups' and "
            "'printer-driver-cups-pdf' (tools/test.sh does)"
        )
    if os.geteuid() != 0:
        raise CupsUnavailable("the cups-pdf backend runs as root: run these tests as root")
    port = free_port()
    conf, files = _write_config(root, port)
    server = CupsServer(root=root, port=port)
    log = open(root / "log" / "cupsd.out", "wb")  # noqa: SIM115 - lives as long as cupsd
    server.process = subprocess.Popen(
        [CUPSD, "-f", "-c", str(conf), "-s", str(files)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise CupsUnavailable(
                "cupsd exited at start: " + (root / "log" / "cupsd.out").read_text()[-2000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise CupsUnavailable(f"cupsd did not listen on 127.0.0.1:{port} within 20 s")


@pytest.fixture(scope="session")
def cups_server() -> Iterator[CupsServer]:
    root = Path(tempfile.mkdtemp(prefix="cabine-cups-"))
    os.chmod(root, 0o755)  # lp (filters) must traverse it
    server = start_cups(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
