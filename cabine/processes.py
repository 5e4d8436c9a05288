"""Run cabine's service processes: start one, wait until it serves, stop it, keep its log.

One way for the demo, the live fleet, the tests and the benches. A process is ``python -m
cabine.cli ARGS`` reading exactly one configuration file (``CABINE_CONFIG``): the parent's own
``CABINE_*`` variables are not passed down, so the file the topology wrote is the whole truth of
the child's settings. Each child is in a session of its own, so a Ctrl-C typed at the parent
reaches the parent only and it stops its children in order, and it asks Linux to stop it when
the parent dies (``PR_SET_PDEATHSIG``), so a killed parent leaves nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

STOP_GRACE_SECONDS = 10.0
"""How long a child has to end after SIGTERM before it is killed."""
SERVE_TIMEOUT_SECONDS = 30.0


class ProcessFailed(RuntimeError):
    """A child ended, or never answered; ``role`` is the child's name, ``log`` its log file."""

    def __init__(self, role: str, log: Path, reason: str, *, code: int | None = None):
        super().__init__(f"{role}: {reason} (log {log})")
        self.role = role
        self.log = log
        self.reason = reason
        self.code = code

    def log_tail(self, lines: int = 15) -> str:
        return tail(self.log, lines)


class ProcessStopped(ProcessFailed):
    """The child ended on its own; ``code`` is its exit status."""


class ProcessSilent(ProcessFailed):
    """The child is running but did not answer at ``url`` within ``seconds``."""

    def __init__(self, role: str, log: Path, url: str, seconds: float):
        super().__init__(role, log, f"no answer at {url} in {seconds:.0f} s")
        self.url = url
        self.seconds = seconds


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, or a word saying there is none."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a child to serve on (the system picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to stop the child if its parent dies, so nothing is left running."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_environment(config: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without its ``CABINE_*`` settings, with ``CABINE_CONFIG`` set
    to ``config``: a child reads its settings from its one file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CABINE_")}
    if config is not None:
        env["CABINE_CONFIG"] = str(Path(config).resolve())
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Process:
    """One running child: its name (and log file's), the URL it serves at, if any."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None
    command: tuple[list[str], dict[str, str]] = field(default=([], {}), repr=False)
    """The command line and environment it was started with, to start it again."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def check(self) -> None:
        """Raise :class:`ProcessStopped` if the child has ended."""
        code = self.popen.poll()
        if code is not None:
            raise ProcessStopped(self.name, self.log, f"ended with status {code}", code=code)

    def wait_serving(self, timeout: float = SERVE_TIMEOUT_SECONDS, path: str = "/") -> None:
        """Poll the child's URL until it answers below 500; fail early if the child ends."""
        if self.url is None:
            self.check()
            return
        target = self.url.rstrip("/") + path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(target, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.check()
        raise ProcessSilent(self.name, self.log, target, timeout)

    def cpu_seconds(self) -> float:
        """User and system CPU the child has used so far (0 once it has been reaped)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            return 0.0
        # utime and stime are the 14th and 15th fields; the text after ")" starts at the 3rd.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def terminate(self) -> None:
        if self.running():
            self.popen.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash would: the fault the chain must survive."""
        if self.running():
            self.popen.kill()
        self.popen.wait(timeout=10)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; the exit status."""
        self.terminate()
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=5)


@dataclass
class ProcessGroup:
    """The children of one session, their logs in ``log_dir``; stopped in reverse order."""

    log_dir: Path
    started: list[Process] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        config: Path | None,
        url: str | None = None,
        env: dict[str, str] | None = None,
        module: str | None = "cabine.cli",
    ) -> Process:
        """Start ``python -m MODULE ARGS`` (``python ARGS`` when ``module`` is None) with
        ``config`` as its one settings file; its output appended to ``LOG_DIR/NAME.log`` (a
        name without spaces)."""
        if not name or any(c.isspace() or c in "/\\" for c in name):
            raise ValueError(f"process name {name!r} must be one word (it names the log file)")
        argv = [sys.executable, *(("-m", module) if module else ()), *args]
        process = self._spawn(name, argv, child_environment(config, env), url)
        self.started.append(process)
        return process

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], url: str | None) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return Process(name, popen, log, url, (argv, env))

    def restart(self, process: Process) -> Process:
        """Start ``process`` again as it was started (after it ended, or was killed as a fault
        test kills it), in its place among the group; its log goes on in the same file."""
        if process.running():
            raise ValueError(f"{process.name} is still running (pid {process.pid})")
        argv, env = process.command
        again = self._spawn(process.name, argv, env, process.url)
        self.started[self.started.index(process)] = again
        return again

    def get(self, name: str) -> Process:
        for process in self.started:
            if process.name == name:
                return process
        raise KeyError(name)

    def check(self) -> None:
        """Raise :class:`ProcessStopped` for the first child that has ended."""
        for process in self.started:
            process.check()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every child (last started first), then wait; SIGKILL past ``grace``."""
        for process in reversed(self.started):
            process.terminate()
        deadline = time.monotonic() + grace
        for process in reversed(self.started):
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=5)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """Within it, Ctrl-C and SIGTERM (as a service manager stops things) raise
    KeyboardInterrupt, even when the process was started with SIGINT ignored (in the background
    of a script, as a shell starts background jobs); the caller's handlers come back on exit."""
    before = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            if handler is not None:  # None: a handler not set from Python, left as it is
                signal.signal(sig, handler)
