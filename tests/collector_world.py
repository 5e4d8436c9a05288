"""A collector for tests: the ASGI app on a manual clock (or uvicorn on loopback), booths that
sign their uploads of files, and the state's key that signs fetches."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from collector.app import create_app
from collector.keys import load_state_keys
from collector.settings import CollectorSettings
from collector.store import CollectorStore
from ephoto.clock import ManualClock
from ephoto.code import SeededCodeGeneratorForSimulation
from ephoto.epfile import FILES_PATH, EphotoFile, make_file
from ephoto.seal import generate_key, load_or_create_private_key, public_pem
from ephoto.statefetch import fetch_path, sign_fetch
from ephoto.wire import BoothKey, add_booth_key, sign_request
from kiosk.camera import synthetic_portrait
from tests.pgcluster import free_port

ADMIN_TOKEN = "collector-admin-token"
START = datetime(2026, 9, 14, 10, 0, tzinfo=UTC)


def signature_drawing(seed: int = 0) -> Image.Image:
    pad = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(pad)
    points = [(80, 200), (200, 90), (320, 220), (470, 80), (640, 210), (820, 120)]
    draw.line([(x, y - 9 * (seed % 7)) for x, y in points], "navy", 9)
    return pad


@functools.cache
def _images(seed: int) -> tuple[Image.Image, Image.Image]:
    return synthetic_portrait(seed % 4), signature_drawing(seed)


_codes = SeededCodeGeneratorForSimulation(20261128, "9PMT")
_other = SeededCodeGeneratorForSimulation(20261129, "7XYZ")


def new_code(prefix: str = "9PMT") -> str:
    return (_codes if prefix == "9PMT" else _other).next_code().value


def booth_file(
    booth_id: str = "booth-001",
    issued_at: datetime = START,
    code: str | None = None,
    seed: int = 0,
    product: str = "ephoto-permis",
) -> EphotoFile:
    photo, signature = _images(seed)
    return make_file(
        code=code or new_code(),
        booth_id=booth_id,
        issued_at=issued_at,
        product=product,
        procedure="permis",
        photo=photo,
        signature=signature,
    )


def collector_settings(**overrides: Any) -> CollectorSettings:
    values: dict[str, Any] = {
        "admin_enabled": True,
        "admin_token": ADMIN_TOKEN,
        "registration_window_minutes": 0.0,
    }
    values.update(overrides)
    return CollectorSettings(**values)


@dataclass
class World:
    """A collector app and what talks to it: booths, the state, QA."""

    tmp: Path
    clock: ManualClock
    store: CollectorStore
    keys_file: Path
    state_key: Ed25519PrivateKey
    seal_key: Ed25519PrivateKey
    client: Any
    base_url: str = "http://testserver"
    booths: dict[str, BoothKey] = field(default_factory=dict)

    def booth(self, booth_id: str = "booth-001", operator: str = "9PMT") -> BoothKey:
        key = add_booth_key(self.keys_file, booth_id, operator)
        self.booths[booth_id] = key
        return key

    def upload_body(self, files: Sequence[EphotoFile | dict[str, Any]], booth_id: str) -> bytes:
        import json

        wired = [f.to_wire() if isinstance(f, EphotoFile) else f for f in files]
        return json.dumps(
            {"upload_id": uuid.uuid4().hex, "booth_id": booth_id, "files": wired},
            separators=(",", ":"),
        ).encode()

    def signed(
        self,
        body: bytes,
        booth_id: str = "booth-001",
        *,
        now: datetime | None = None,
        nonce: str | None = None,
        secret: bytes | None = None,
    ) -> dict[str, str]:
        key = self.booths.get(booth_id) or self.booth(booth_id)
        headers = sign_request(
            "POST",
            self.base_url + FILES_PATH,
            body,
            booth_id,
            secret or key.secret,
            now or self.clock.now(),
            nonce=nonce,
        )
        return {**headers, "Content-Type": "application/json"}

    def upload(
        self,
        files: Sequence[EphotoFile | dict[str, Any]],
        booth_id: str = "booth-001",
        **sign: Any,
    ) -> httpx.Response:
        body = self.upload_body(files, booth_id)
        return self.client.post(
            FILES_PATH, content=body, headers=self.signed(body, booth_id, **sign)
        )

    def fetch(
        self, code: str, *, key: Ed25519PrivateKey | None = None, key_id: str = "state"
    ) -> httpx.Response:
        path = fetch_path(code)
        headers = sign_fetch(self.base_url + path, key_id, key or self.state_key, self.clock.now())
        return self.client.get(path, headers=headers)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return self.client.request(method, path, headers=headers, **kwargs)


def make_world(
    tmp: Path, db_url: str | None = None, settings: CollectorSettings | None = None
) -> World:
    clock = ManualClock(START)
    keys_file = tmp / "keys.toml"
    add_booth_key(keys_file, "booth-001", "9PMT")
    add_booth_key(keys_file, "collector-9PMT", "9PMT")
    state_key = generate_key()
    (tmp / "state-fetch.pub.pem").write_bytes(public_pem(state_key))
    seal_key = load_or_create_private_key(tmp / "collector-seal.pem")
    store = CollectorStore.from_url(db_url or f"sqlite:///{tmp / 'collector.sqlite'}")
    settings = (settings or collector_settings()).model_copy(update={"keys_file": keys_file})
    app = create_app(
        settings,
        clock,
        store,
        seal_key=seal_key,
        state_keys=load_state_keys(tmp / "state-fetch.pub.pem"),
    )
    client = TestClient(app, raise_server_exceptions=True)
    world = World(tmp, clock, store, keys_file, state_key, seal_key, client)
    world.booth("booth-001")
    return world


@dataclass
class LoopbackCollector:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve_on_loopback(world: World) -> LoopbackCollector:
    """The world's app under uvicorn on 127.0.0.1 (a real HTTP server, same clock and store)."""
    port = free_port()
    config = uvicorn.Config(
        world.client.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("collector did not start within 15 s")
        time.sleep(0.02)
    return LoopbackCollector(f"http://127.0.0.1:{port}", server, thread)


def files_in_db(world: World) -> int:
    from sqlalchemy import func, select

    from collector.store import files

    with world.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(files)).scalar_one())


def shift(clock: ManualClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))
