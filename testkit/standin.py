"""Test harness for the transmitter: a small stand-in registry and collector, a fork server
for fast kill -9 cycles, and helpers to fill a booth outbox with numbers and their files.

The stand-in speaks the wire protocol of ``ephoto.wire`` (signature checked with
``verify_request``, nonce replay refused) on both routes: ``/v1/batches`` as the registry
(idempotent per batch id, unique codes) and ``/v1/files`` as the operator's collector (each
file checked with ``ephoto.epfile.file_problems``, idempotent per number: the same file again is
a duplicate, a different one is refused with 409, nothing stored from a refused upload). It
holds each upload for the time its bytes take on the booth's uplink
(``transmitter.latency.upload_seconds``) and can inject faults: a share of 5xx answers (some
with ``Retry-After``), a share of requests applied and then left unanswered past the client's
timeout, and added latency. It records what a test needs to judge the transmitter: every code
and file once, how many deliveries repeated one it already had, and any request that came
before the ``Retry-After`` it asked for.

Run as a process: ``python -m testkit.standin registry --port-file F --keys K`` or
``python -m testkit.standin forkserver ...`` (see ``main``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from cabine.processes import free_port
from ephoto.clock import Clock, ScaledClock, SystemClock
from ephoto.code import generate
from ephoto.epfile import (
    FILES_PATH,
    MAX_FILES_PER_UPLOAD,
    MAX_UPLOAD_BYTES,
    EphotoFile,
    FileMeta,
    FileRejected,
    encode_photo,
    encode_signature,
    file_problems,
    sha256_hex,
)
from ephoto.vocabulary import Procedure
from ephoto.wire import (
    BATCH_PATH,
    Batch,
    SignatureRejected,
    VerifiedSignature,
    add_booth_key,
    load_booth_keys,
    verify_request,
)
from transmitter.latency import upload_seconds

ROOT = Path(__file__).resolve().parents[2]
"""Where the ``cabine`` package sits: the working folder of the processes started from here."""
BOOTH = "booth-test"
OPERATOR = "9PMT"


def write_keys(path: Path, booth_id: str = BOOTH) -> bytes:
    """A keys file (the registry's format) with a fresh key for ``booth_id``; its secret."""
    return add_booth_key(path, booth_id, OPERATOR).secret


def read_keys(path: Path) -> dict[str, bytes]:
    return {b: k.secret for b, k in load_booth_keys(path).items()}


# -- the stand-in registry ------------------------------------------------------------------


@dataclass
class Faults:
    error_rate: float = 0.0
    retry_after_share: float = 0.5
    retry_after_seconds: int = 1
    timeout_after_apply_rate: float = 0.0
    hang_seconds: float = 2.0
    latency_ms: float = 0.0


@dataclass
class RegistryState:
    keys: dict[str, bytes]
    clock: Clock
    window: timedelta
    faults: Faults = field(default_factory=Faults)
    codes: dict[str, str] = field(default_factory=dict)  # code -> batch id that brought it
    batches: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # The collector's side: code -> (photo, signature) digests, and each upload's answer.
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    uploads: dict[str, tuple[int, dict[str, object]]] = field(default_factory=dict)
    file_bytes: int = 0  # upload bodies received, bytes
    refused_uploads: int = 0
    uplink_kbps: float = 0.0  # the booth's uplink: each upload is held for its bytes' time
    link_free_at: float = 0.0  # monotonic: when the uplink has carried what came before
    nonces: set[str] = field(default_factory=set)
    requests: int = 0
    redelivered_codes: int = 0
    replayed_batches: int = 0
    early_requests: int = 0
    faults_5xx: int = 0
    faults_timeout: int = 0
    signature_rejections: int = 0
    not_before: float = 0.0  # monotonic: no request expected before this (Retry-After)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def summary(self) -> dict[str, object]:
        with self.lock:
            return {
                "codes": len(self.codes),
                "batches": len(self.batches),
                "requests": self.requests,
                "redelivered_codes": self.redelivered_codes,
                "replayed_batches": self.replayed_batches,
                "early_requests": self.early_requests,
                "faults_5xx": self.faults_5xx,
                "faults_timeout": self.faults_timeout,
                "signature_rejections": self.signature_rejections,
                "files": len(self.files),
                "uploads": len(self.uploads),
                "file_bytes": self.file_bytes,
                "refused_uploads": self.refused_uploads,
                "uplink_kbps": self.uplink_kbps,
            }


def file_upload_answer(
    state: RegistryState, verified: VerifiedSignature, body: bytes
) -> tuple[int, dict[str, object]]:
    """The stand-in collector's answer to ``POST /v1/files`` (the caller holds the lock): every
    file checked, nothing stored from a refused upload, idempotent per upload and per number."""
    if len(body) > MAX_UPLOAD_BYTES:
        return 413, {"detail": f"upload of {len(body)} bytes, at most {MAX_UPLOAD_BYTES}"}
    try:
        data = json.loads(body)
        upload_id, booth_id, wire_files = data["upload_id"], data["booth_id"], data["files"]
        if not isinstance(wire_files, list) or not isinstance(upload_id, str):
            raise TypeError("files must be a list and upload_id a text")
    except (ValueError, KeyError, TypeError) as exc:
        return 422, {"detail": f"malformed upload: {exc}"}
    if booth_id != verified.booth_id:
        return 403, {"detail": f"key of {verified.booth_id} signs for another booth"}
    if len(wire_files) > MAX_FILES_PER_UPLOAD:
        return 413, {"detail": f"{len(wire_files)} files, at most {MAX_FILES_PER_UPLOAD}"}
    if upload_id in state.uploads:
        state.replayed_batches += 1
        state.redelivered_codes += len(wire_files)
        return state.uploads[upload_id]
    files: list[EphotoFile] = []
    for i, wire in enumerate(wire_files):
        try:
            file = EphotoFile.from_wire(wire)
        except FileRejected as exc:
            problem = exc.problems[0]
            return 422, {"detail": f"files[{i}].{problem.field}: {problem.message}"}
        problems = file_problems(file, (OPERATOR,))
        if problems:
            first = problems[0]
            status = 403 if first.field == "code" and first.rule == "prefix" else 422
            return status, {"detail": f"files[{i}].{first.field}: {first.message}"}
        if file.meta.booth_id != verified.booth_id:
            return 422, {"detail": f"files[{i}].booth_id: not the signing booth"}
        digests = (file.meta.photo_sha256, file.meta.signature_sha256)
        if state.files.get(file.code, digests) != digests:
            return 409, {
                "detail": f"files[{i}]: {file.code} is already stored with a different file"
            }
        files.append(file)
    duplicates = [f.code for f in files if f.code in state.files]
    for file in files:
        state.files.setdefault(file.code, (file.meta.photo_sha256, file.meta.signature_sha256))
    state.redelivered_codes += len(duplicates)
    answer: tuple[int, dict[str, object]] = (
        200,
        {"accepted": len(files) - len(duplicates), "duplicates": duplicates},
    )
    state.uploads[upload_id] = answer
    return answer


def make_handler(state: RegistryState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per answer, sent at once: headers and body in separate small segments
        # would wait for a delayed ACK (40 ms a request on loopback).
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _answer(self, status: int, payload: object, headers: dict[str, str] | None = None):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/admin/state":
                self._answer(200, state.summary())
            elif self.path == "/admin/codes":
                with state.lock:
                    self._answer(200, sorted(state.codes))
            elif self.path == "/admin/files":
                with state.lock:
                    self._answer(200, sorted(state.files))
            else:
                self._answer(404, {"detail": f"no route {self.path}"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/admin/faults":
                data = json.loads(body)
                with state.lock:
                    state.faults = Faults(**data)
                self._answer(200, data)
                return
            if self.path == "/admin/uplink":
                with state.lock:
                    state.uplink_kbps = float(json.loads(body)["kbps"])
                self._answer(200, {"uplink_kbps": state.uplink_kbps})
                return
            if self.path not in (BATCH_PATH, FILES_PATH):
                self._answer(404, {"detail": f"no route {self.path}"})
                return
            # The body took this long to come up the booth's uplink, which uploads in flight
            # at once share: each one's bytes follow those of the uploads before it.
            with state.lock:
                start = max(time.monotonic(), state.link_free_at)
                state.link_free_at = start + upload_seconds(len(body), state.uplink_kbps)
                carried_at = state.link_free_at
            time.sleep(max(0.0, carried_at - time.monotonic()))
            arrived = time.monotonic()
            with state.lock:
                state.requests += 1
                if arrived < state.not_before:
                    state.early_requests += 1
                faults = state.faults
                roll = state.rng.random()
                hang = state.rng.random() < faults.timeout_after_apply_rate
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            if roll < faults.error_rate:
                headers = {}
                with state.lock:
                    state.faults_5xx += 1
                    if state.rng.random() < faults.retry_after_share:
                        headers["Retry-After"] = str(faults.retry_after_seconds)
                        state.not_before = max(
                            state.not_before, time.monotonic() + faults.retry_after_seconds
                        )
                self._answer(503, {"detail": "registry busy (injected)"}, headers)
                return
            url = f"http://{self.headers.get('Host')}{self.path}"
            try:
                verified = verify_request(
                    "POST",
                    url,
                    self.headers.items(),
                    body,
                    state.keys,
                    state.clock.now(),
                    state.window,
                )
            except SignatureRejected as exc:
                with state.lock:
                    state.signature_rejections += 1
                self._answer(401, {"detail": exc.reason})
                return
            if self.path == FILES_PATH:
                with state.lock:
                    if verified.nonce in state.nonces:
                        self._answer(401, {"detail": "nonce already used"})
                        return
                    state.nonces.add(verified.nonce)
                    status, answer = file_upload_answer(state, verified, body)
                    state.file_bytes += len(body)
                    if status != 200:
                        state.refused_uploads += 1
                    if hang and status == 200:
                        state.faults_timeout += 1
                if hang and status == 200:
                    time.sleep(faults.hang_seconds)
                    self.close_connection = True
                    return
                self._answer(status, answer)
                return
            try:
                batch = Batch.from_json(body)
            except (ValueError, KeyError, TypeError) as exc:
                self._answer(422, {"detail": f"malformed batch: {exc}"})
                return
            if batch.booth_id != verified.booth_id:
                self._answer(403, {"detail": f"key of {verified.booth_id} signs for another booth"})
                return
            with state.lock:
                if verified.nonce in state.nonces:
                    self._answer(401, {"detail": "nonce already used"})
                    return
                state.nonces.add(verified.nonce)
                batch_answer: dict[str, list[str]]
                if batch.batch_id in state.batches:
                    state.replayed_batches += 1
                    state.redelivered_codes += len(batch.codes)
                    batch_answer = state.batches[batch.batch_id]
                else:
                    accepted, duplicates = [], []
                    for c in batch.codes:
                        if c.code in state.codes:
                            duplicates.append(c.code)
                        else:
                            state.codes[c.code] = batch.batch_id
                            accepted.append(c.code)
                    state.redelivered_codes += len(duplicates)
                    batch_answer = {"accepted": accepted, "duplicates": duplicates}
                    state.batches[batch.batch_id] = batch_answer
                if hang:
                    state.faults_timeout += 1
            if hang:
                time.sleep(faults.hang_seconds)
                self.close_connection = True
                return
            self._answer(200, batch_answer)

    return Handler


def serve_registry(
    port: int,
    keys: dict[str, bytes],
    clock: Clock | None = None,
    window: timedelta = timedelta(seconds=300),
    uplink_kbps: float = 0.0,
) -> tuple[ThreadingHTTPServer, RegistryState]:
    """The stand-in on ``port``: registry (``/v1/batches``) and collector (``/v1/files``)."""
    state = RegistryState(
        keys=keys, clock=clock or SystemClock(), window=window, uplink_kbps=uplink_kbps
    )
    # Transmitters killed mid-request reset their connections: expected, not worth a trace.
    server = QuietServer(("127.0.0.1", port), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


class RegistryProcess:
    """The stand-in registry (and collector) in its own process, on a loopback port, with the
    keys of the booth whose data folder is ``data`` (written there by :func:`write_keys`)."""

    def __init__(
        self,
        data: Path,
        port: int | None = None,
        scale: float = 1.0,
        epoch: datetime | None = None,
        window_seconds: float = 300.0,
        uplink_kbps: float = 0.0,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            sys.executable,
            "-m",
            "testkit.standin",
            "registry",
            "--port",
            str(self.port),
            "--keys",
            str(data / "keys.toml"),
            "--scale",
            str(scale),
            "--window",
            str(window_seconds),
            "--uplink-kbps",
            str(uplink_kbps),
        ]
        if epoch is not None:
            args += ["--epoch", epoch.isoformat()]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"stand-in registry did not start: {line!r}")

    def get(self, path: str):
        return httpx.get(self.url + path, timeout=10).json()

    def codes(self) -> list[str]:
        return self.get("/admin/codes")

    def files(self) -> list[str]:
        """The numbers whose file the stand-in collector holds (each once)."""
        return self.get("/admin/files")

    def wire(self) -> dict[str, int]:
        return self.get("/admin/state")

    def uplink(self, kbps: float) -> None:
        httpx.post(self.url + "/admin/uplink", json={"kbps": kbps}, timeout=10).raise_for_status()

    def faults(self, **faults: float) -> None:
        httpx.post(self.url + "/admin/faults", json=faults, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # a transmitter killed mid-request resets its connection: expected here


class CountingProxy:
    """Sits between the transmitter and the real registry and counts every code that crosses
    the wire, so repeated deliveries can be reported. The signature covers method, path and
    body, not the host, so forwarding leaves it valid."""

    def __init__(self, target: str):
        self.target = target
        self.seen: dict[str, int] = {}
        self.requests = 0
        self.lock = threading.Lock()
        self.client = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one write per answer (see the stand-in's handler)
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    codes = [c["code"] for c in json.loads(body)["codes"]]
                except (ValueError, KeyError, TypeError):
                    codes = []
                with proxy.lock:
                    proxy.requests += 1
                    for code in codes:
                        proxy.seen[code] = proxy.seen.get(code, 0) + 1
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                try:
                    answer = proxy.client.post(
                        proxy.target + self.path, content=body, headers=headers
                    )
                except httpx.HTTPError:
                    self.close_connection = True
                    return
                try:
                    self.send_response(answer.status_code)
                    for k, v in answer.headers.items():
                        if k.lower() in ("content-type", "retry-after"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    self.close_connection = True  # the transmitter gave up waiting

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wire(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": self.requests,
                "codes_on_the_wire": sum(self.seen.values()),
                "redelivered_codes": sum(n - 1 for n in self.seen.values()),
            }

    def stop(self) -> None:
        self.server.shutdown()
        self.client.close()


class RealRegistry:
    """The real registry (``cabine registry``, its own process, SQLite store) behind a
    :class:`CountingProxy`; the booth in ``data`` gets a key in the registry's keys file."""

    def __init__(self, tmp: Path, data: Path, workers: int = 1, **settings: object):
        from testkit.registry_process import start_process

        folder = tmp / "registry"
        folder.mkdir(parents=True, exist_ok=True)
        self.db_url = f"sqlite:///{folder / 'registry.db'}"
        self.process = start_process(self.db_url, folder, workers=workers, **settings)
        add_booth_key(self.process.keys_file, BOOTH, OPERATOR)
        data.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.process.keys_file, data / "keys.toml")
        self.proxy = CountingProxy(self.process.url)
        self.url = self.proxy.url

    def faults(self, **faults: float) -> None:
        with self.process.admin() as admin:
            admin.post("/admin/faults", json=faults).raise_for_status()

    def codes(self) -> list[str]:
        """Every code row in the registry's store (a code stored twice would appear twice)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text("SELECT code FROM codes")).scalars())
        finally:
            engine.dispose()

    def wire(self) -> dict[str, int]:
        return self.proxy.wire()

    def stop(self) -> None:
        self.proxy.stop()
        self.process.stop()


# -- filling an outbox ----------------------------------------------------------------------


def new_codes(n: int) -> list[str]:
    return [generate().value for _ in range(n)]


PRODUCT = "ephoto-permis"
PROCEDURE = Procedure.PERMIS.value
_IMAGES: list[tuple[bytes, bytes]] = []


def file_images(count: int = 6) -> list[tuple[bytes, bytes]]:
    """A few (photo JPEG, signature PNG) pairs as the booth encodes them, made once: portraits
    with sensor-like noise, so photos weigh what real ones do (about 40-60 kB)."""
    if len(_IMAGES) < count:
        from PIL import Image, ImageDraw

        from kiosk.camera import synthetic_portrait

        for seed in range(len(_IMAGES), count):
            portrait = synthetic_portrait(seed).convert("RGB")
            noise = Image.effect_noise(portrait.size, 40 + seed).convert("RGB")
            pad = Image.new("RGB", (900, 300), "white")
            ImageDraw.Draw(pad).line(
                [(80, 200), (200, 90 + seed * 5), (320, 220), (470, 80), (640, 210), (820, 120)],
                "navy",
                9,
            )
            _IMAGES.append(
                (encode_photo(Image.blend(portrait, noise, 0.15)), encode_signature(pad))
            )
    return _IMAGES[:count]


def booth_file(code: str, issued_at: datetime, booth_id: str = BOOTH, n: int = 0) -> EphotoFile:
    """The file a booth makes for ``code``; its images are the ``n``-th of :func:`file_images`
    (encoded once: making a file from pixels costs a tenth of a second)."""
    images = file_images()
    photo, signature = images[n % len(images)]
    meta = FileMeta(
        code=code,
        booth_id=booth_id,
        operator=code[:4],
        issued_at=issued_at,
        product=PRODUCT,
        procedure=PROCEDURE,
        photo_sha256=sha256_hex(photo),
        signature_sha256=sha256_hex(signature),
    )
    return EphotoFile(meta, photo, signature)


def enqueue_codes(
    engine,
    codes: list[str],
    clock: Clock,
    per_transaction: int = 10,
    batch_window: timedelta = timedelta(0),
    spread_seconds: float = 0.0,
    files: bool = False,
) -> None:
    """Sell ``codes`` like a kiosk: small transactions, spread evenly over ``spread_seconds``;
    with ``files``, each code's file is stored with it, as the booth does."""
    from transmitter.outbox import enqueue

    chunks = range(0, len(codes), per_transaction)
    step = spread_seconds / max(1, len(chunks))
    start_at = time.monotonic()
    for i, start in enumerate(chunks):
        with engine.begin() as conn:
            for n, code in enumerate(codes[start : start + per_transaction]):
                now = clock.now()
                enqueue(
                    conn,
                    code,
                    now,
                    PRODUCT,
                    booth_id=BOOTH,
                    batch_window=batch_window,
                    file=booth_file(code, now, n=start + n) if files else None,
                )
        wait = start_at + (i + 1) * step - time.monotonic()
        if wait > 0:
            time.sleep(wait)


# -- fork server: transmitters that start in milliseconds, to be killed -----------------------


def transmitter_child(
    data: Path, registry_url: str, batch_size: int, poll: float, files: bool = False
) -> None:
    """Body of a forked transmitter: the same service ``cabine transmitter`` runs; with
    ``files`` it sends files to the collector at ``registry_url``."""
    from transmitter.outbox import booth_db_url
    from transmitter.service import (
        Transmitter,
        TransmitterConfig,
        run_until_signalled,
    )

    config = TransmitterConfig(
        outbox_url=booth_db_url(data),
        registry_url=registry_url,
        collector_url=registry_url if files else None,
        files_per_upload=min(batch_size, 50),
        keys=read_keys(data / "keys.toml"),
        batch_size=batch_size,
        poll_seconds=poll,
        request_timeout_seconds=2.0,
        backoff_base_seconds=0.05,
        backoff_cap_seconds=0.5,
    )
    run_until_signalled(Transmitter(config, SystemClock()))


def forkserver(
    data: Path, registry_url: str, batch_size: int, poll: float, files: bool = False
) -> None:
    """Reads commands on stdin: ``spawn`` forks a transmitter and prints its pid; ``wait PID``
    waits for that child and prints its exit status. Children that die are reaped."""
    import transmitter.service  # noqa: F401  (imported once here, so children start fast)
    from transmitter.dispatch import tls_context

    tls_context()

    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "spawn":
            # The child starts with SIGTERM held (as ``cabine transmitter`` does), so a stop
            # asked for while it starts is handled once it can finish cleanly.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
            pid = os.fork()
            if pid != 0:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            if pid == 0:
                try:
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    transmitter_child(data, registry_url, batch_size, poll, files)
                    os._exit(0)
                except BaseException as exc:  # noqa: BLE001
                    print(f"child failed: {exc!r}", file=sys.stderr, flush=True)
                    os._exit(3)
            print(pid, flush=True)
        elif cmd[0] == "wait":
            _, status = os.waitpid(int(cmd[1]), 0)
            print(os.waitstatus_to_exitcode(status), flush=True)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


class ForkServer:
    """Forks transmitters of the booth in ``data``: bare numbers to the registry at
    ``registry_url``, or with ``files`` files to the collector there."""

    def __init__(
        self,
        data: Path,
        registry_url: str,
        batch_size: int = 25,
        poll: float = 0.2,
        files: bool = False,
    ):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "testkit.standin",
                "forkserver",
                "--data",
                str(data),
                "--registry",
                registry_url,
                "--batch-size",
                str(batch_size),
                "--poll",
                str(poll),
                *(["--files"] if files else []),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._ask, self._hear = self.proc.stdin, self.proc.stdout
        assert self._hear.readline().strip() == "ready"

    def spawn(self) -> int:
        self._ask.write("spawn\n")
        self._ask.flush()
        return int(self._hear.readline())

    def wait(self, pid: int) -> int:
        self._ask.write(f"wait {pid}\n")
        self._ask.flush()
        return int(self._hear.readline())

    def close(self) -> None:
        self._ask.close()
        self.proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    reg = sub.add_parser("registry")
    reg.add_argument("--port", type=int, required=True)
    reg.add_argument("--keys", type=Path, required=True)
    reg.add_argument("--scale", type=float, default=1.0)
    reg.add_argument("--epoch")
    reg.add_argument("--window", type=float, default=300.0)
    reg.add_argument("--uplink-kbps", type=float, default=0.0)
    fs = sub.add_parser("forkserver")
    fs.add_argument("--data", type=Path, required=True)
    fs.add_argument("--registry", required=True)
    fs.add_argument("--batch-size", type=int, default=25)
    fs.add_argument("--poll", type=float, default=0.2)
    fs.add_argument("--files", action="store_true")
    args = parser.parse_args()
    if args.what == "registry":
        clock: Clock = SystemClock()
        if args.scale != 1.0:
            epoch = datetime.fromisoformat(args.epoch) if args.epoch else datetime.now(UTC)
            clock = ScaledClock(epoch, args.scale)
        # Block the stop signals before any thread starts, then wait for one of them here.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        server, _ = serve_registry(
            args.port,
            read_keys(args.keys),
            clock,
            timedelta(seconds=args.window),
            uplink_kbps=args.uplink_kbps,
        )
        print("ready", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        server.shutdown()
    else:
        forkserver(args.data, args.registry, args.batch_size, args.poll, args.files)


if __name__ == "__main__":
    main()
