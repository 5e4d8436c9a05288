"""A throwaway PostgreSQL cluster: initdb + pg_ctl on a free port, for the tests and the benches.

``start_cluster(root)`` starts one in a private folder, ``stop_cluster`` stops it;
``PgCluster.create_database()`` gives a SQLAlchemy URL (psycopg 3) to a new empty database. The
cluster listens on 127.0.0.1 only, on a port chosen at run time, with its socket in a private
folder, so it never meets a system PostgreSQL. The test suite's fixtures are in
``tests/pgcluster.py``.

initdb refuses to run as root, so when run as root the server runs as the ``postgres`` OS user
(through ``runuser``) in a folder that user owns. Durability is off (fsync, full page writes):
the data is thrown away anyway, and it makes the cluster start in about a second.
"""

from __future__ import annotations

import glob
import os
import pwd
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from cabine.processes import free_port

SUPERUSER = "postgres"
SERVER_OPTIONS = (
    "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
    "-c max_connections=300 -c shared_buffers=32MB -c listen_addresses=127.0.0.1"
)


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed where Debian puts them."""


@dataclass(frozen=True)
class PgCluster:
    host: str
    port: int
    socket_dir: Path
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        dsn = f"host={self.host} port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def find_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/*/bin`` that has initdb and pg_ctl."""
    override = os.environ.get("CABINE_PG_BIN")
    candidates = [override] if override else glob.glob("/usr/lib/postgresql/*/bin")
    usable = [Path(c) for c in candidates if c and (Path(c) / "initdb").exists()]
    if not usable:
        raise PostgresUnavailable(
            "no initdb under /usr/lib/postgresql/*/bin: install the Debian package 'postgresql' "
            "(tools/test.sh does) or set CABINE_PG_BIN"
        )
    return max(usable, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *argv]
    return argv


def _hand_over(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SUPERUSER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start_cluster(root: Path) -> PgCluster:
    """initdb and start a cluster under ``root``; raises with the server log if it fails."""
    bin_dir = find_bin_dir()
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    data_dir = root / "data"
    socket_dir = root / "sock"
    for folder in (data_dir, socket_dir):
        folder.mkdir()
        _hand_over(folder)
    os.chmod(data_dir, 0o700)
    log = root / "server.log"
    log.touch()
    _hand_over(log)
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        cwd=root,
    )
    port = free_port()
    options = f"-p {port} -k {socket_dir} {SERVER_OPTIONS}"
    started = subprocess.run(
        _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", options, "-w"]
            + ["-t", "30", "start"]
        ),
        capture_output=True,
        text=True,
        cwd=root,
    )
    if started.returncode != 0:
        raise RuntimeError(
            f"pg_ctl start failed ({started.returncode}): {started.stderr}\n{log.read_text()}"
        )
    return PgCluster(host="127.0.0.1", port=port, socket_dir=socket_dir, data_dir=data_dir)


def stop_cluster(cluster: PgCluster) -> None:
    bin_dir = find_bin_dir()
    subprocess.run(
        _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-m", "immediate", "-w", "stop"]
        ),
        capture_output=True,
        cwd=cluster.data_dir.parent,
    )
