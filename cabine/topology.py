"""One description of a live session: which processes exist, where each keeps its files, how
they are keyed to each other, and the one configuration file each reads.

A session has a registry (the state), the operator's collector, a support desk and one or more
booths, each with its own transmitter. :meth:`Topology.wire` makes the keys on first use and
hands each side the half it needs (the state's fetch key to the collector, the collector's seal
key to the registry, the collector's registration key to the registry's keys file, each booth's
signing key to the collector's keys file); :meth:`Topology.write` writes one TOML file per
process, complete (every setting, not only the changed ones), so a child reads nothing else.

Two layouts. ``shared``: every process in the one data folder (the demo, as an operator runs a
booth with its services on one machine). Otherwise each process has a folder of its own under
the data folder (``registry/``, ``collector/``, ``support/``, ``booths/ID/``), as the live fleet
needs: each booth has its own ``booth.db`` and only its own key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cabine.config import Settings
    from ephoto.settings import ClockSettings

HOST = "127.0.0.1"
CONFIG_FOLDER = "config"
COLLECTOR_SEAL_PUBLIC = "collector-seal.pub.pem"

REGISTRY, COLLECTOR, SUPPORT, TRANSMITTER = "registry", "collector", "support", "transmitter"


def service_poll_seconds(scale: float) -> float:
    """How often (real seconds) the services poll their outboxes: at a high scale a slow poll
    would add hours of domain time the real chain does not have."""
    return max(0.2, min(5.0, 900.0 / scale))


@dataclass(frozen=True)
class Topology:
    """The processes of one live session and their wiring (see the module's docstring)."""

    data_dir: Path
    clock: ClockSettings
    admin_token: str
    base: Settings
    """The user's configuration: every process starts from it (ports and wiring overridden)."""
    booths: tuple[str, ...] = ("booth-01",)
    registry_port: int = 8700
    collector_port: int = 8720
    support_port: int = 8710
    shared: bool = True
    host: str = HOST
    poll_seconds: float | None = None
    """Outbox poll of the services and transmitters; None: from the clock's scale."""
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)
    """Per section (``registry``, ``collector``, ...), settings the session imposes."""

    def __post_init__(self) -> None:
        if not self.booths:
            raise ValueError("a session has at least one booth")
        if len(set(self.booths)) != len(self.booths):
            raise ValueError("booth ids must be distinct")

    # -- where things are ---------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.data_dir.resolve()

    def folder(self, role: str) -> Path:
        """The data folder of ``registry``, ``collector``, ``support`` or a booth id."""
        if self.shared:
            return self.root
        if role in (REGISTRY, COLLECTOR, SUPPORT):
            return self.root / role
        if role in self.booths:
            return self.root / "booths" / role
        raise KeyError(f"no process {role!r} in this session")

    def config_file(self, name: str) -> Path:
        return self.root / CONFIG_FOLDER / f"{name}.toml"

    def url(self, role: str) -> str:
        port = {
            REGISTRY: self.registry_port,
            COLLECTOR: self.collector_port,
            SUPPORT: self.support_port,
        }[role]
        return f"http://{self.host}:{port}"

    @property
    def prefix(self) -> str:
        return self.base.operator.prefix

    @property
    def poll(self) -> float:
        if self.poll_seconds is not None:
            return self.poll_seconds
        return service_poll_seconds(self.clock.scale)

    # -- keys ---------------------------------------------------------------------------------
    def wire(self) -> None:
        """Make the keys on first use and give each side the half it needs; idempotent."""
        from collector.settings import KEYS_FILE, SEAL_KEY_FILE, STATE_KEY_FILE, collector_id
        from ephoto.private import private_folder
        from ephoto.seal import load_or_create_private_key, public_pem
        from ephoto.wire import add_booth_key, put_booth_keys
        from registry.settings import FETCH_KEY_FILE

        for role in (REGISTRY, COLLECTOR, SUPPORT, *self.booths):
            folder = self.folder(role)
            if not folder.exists():
                private_folder(folder)
        registry, collector = self.folder(REGISTRY), self.folder(COLLECTOR)
        state = load_or_create_private_key(registry / FETCH_KEY_FILE)
        seal = load_or_create_private_key(collector / SEAL_KEY_FILE)
        (collector / STATE_KEY_FILE).write_bytes(public_pem(state))
        (registry / COLLECTOR_SEAL_PUBLIC).write_bytes(public_pem(seal))
        # The collector's keys file holds every booth's key and its own registration key; the
        # registry's holds that registration key, each booth's its own key only.
        collector_keys = collector / KEYS_FILE
        own = add_booth_key(collector_keys, collector_id(self.prefix), self.prefix)
        for booth in self.booths:
            key = add_booth_key(collector_keys, booth, self.prefix)
            if not self.shared:
                put_booth_keys(self.folder(booth) / KEYS_FILE, [key])
        if not self.shared:
            put_booth_keys(registry / KEYS_FILE, [own])

    # -- settings -----------------------------------------------------------------------------
    def settings(self, name: str) -> Settings:
        """The whole settings of process ``name``: ``registry``, ``collector``, ``support``,
        or a booth id (its booth and its transmitter). Each process's own section is wired to
        the others; the sections it does not run stay as the user set them, so a booth's file
        holds no service's admin token."""
        from registry.settings import CollectorLink

        base = self.base
        update: dict[str, object] = {"data_dir": self.folder(name), "clock": self.clock}
        if name == REGISTRY:
            link = CollectorLink(
                url=self.url(COLLECTOR),
                public_key_file=self.folder(REGISTRY) / COLLECTOR_SEAL_PUBLIC,
            )
            update[REGISTRY] = base.registry.model_copy(
                update={
                    "host": self.host,
                    "port": self.registry_port,
                    "admin_enabled": True,
                    "admin_token": self.admin_token,
                    "collectors": {self.prefix: link},
                    **self.overrides.get(REGISTRY, {}),
                }
            )
        elif name == COLLECTOR:
            update[COLLECTOR] = base.collector.model_copy(
                update={
                    "host": self.host,
                    "port": self.collector_port,
                    "admin_enabled": True,
                    "admin_token": self.admin_token,
                    "registry_url": self.url(REGISTRY),
                    "registration_poll_seconds": self.poll,
                    **self.overrides.get(COLLECTOR, {}),
                }
            )
        elif name == SUPPORT:
            from transmitter.outbox import booth_db_path

            update[SUPPORT] = base.support.model_copy(
                update={
                    "host": self.host,
                    "port": self.support_port,
                    "registry_url": self.url(REGISTRY),
                    "registry_admin_token": self.admin_token,
                    "collector_url": self.url(COLLECTOR),
                    "collector_admin_token": self.admin_token,
                    # Each booth keeps its own file; in the shared layout the desk's data
                    # folder is the one booth's.
                    "booths": {}
                    if self.shared
                    else {b: booth_db_path(self.folder(b)) for b in self.booths},
                    **self.overrides.get(SUPPORT, {}),
                }
            )
        elif name in self.booths:
            update["kiosk"] = base.kiosk.model_copy(
                update={"booth_id": name, **self.overrides.get("kiosk", {})}
            )
            update[TRANSMITTER] = base.transmitter.model_copy(
                update={
                    "destination": "collector",
                    "collector_url": self.url(COLLECTOR),
                    "registry_url": self.url(REGISTRY),
                    "poll_seconds": self.poll,
                    **self.overrides.get(TRANSMITTER, {}),
                }
            )
        else:
            raise KeyError(f"no process {name!r} in this session")
        return base.model_copy(update=update)

    def write(self) -> dict[str, Path]:
        """One complete configuration file per process; returns them by process name."""
        from cabine.config import write_settings

        files: dict[str, Path] = {}
        for name in (REGISTRY, COLLECTOR, SUPPORT, *self.booths):
            path = self.config_file(name)
            write_settings(self.settings(name), path)
            files[name] = path
        return files
