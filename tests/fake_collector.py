"""A small collector for the state's tests, built from ephoto's rules alone: it seals the files
it is given with its operator key and answers the state's signed fetch, with knobs to be down,
slow, to corrupt a photo, to lose a file or to seal with a key the state does not know.

It serves on loopback with uvicorn in a thread, as the registry's tests serve the registry, so
the state's client talks real HTTP to it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ephoto.epfile import EphotoFile
from ephoto.seal import generate_key, key_id, public_pem, seal_file
from ephoto.statefetch import FetchedFile, verify_fetch
from ephoto.wire import SignatureRejected
from tests.pgcluster import free_port


@dataclass
class FakeCollector:
    seal_key: Ed25519PrivateKey = field(default_factory=generate_key)
    state_keys: dict[str, object] = field(default_factory=dict)
    files: dict[str, tuple[str, EphotoFile]] = field(default_factory=dict)
    down: bool = False
    delay_seconds: float = 0.0
    corrupt: bool = False
    fetches: int = 0
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    """The collector's clock, which the state's signatures are judged against."""
    url: str = ""
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def trust_state(self, state_key: Ed25519PrivateKey) -> None:
        self.state_keys[key_id(state_key)] = state_key.public_key()

    def add(self, file: EphotoFile, key: Ed25519PrivateKey | None = None) -> str:
        """Seal ``file`` (with the operator key, or ``key``) and keep it; returns the seal."""
        token = seal_file(file.meta, key or self.seal_key, self.now(), "collector-test")
        self.files[file.code] = (token, file)
        return token

    def public_key_file(self, folder: Path) -> Path:
        path = folder / "collector-public.pem"
        path.write_bytes(public_pem(self.seal_key))
        return path

    async def get_file(self, request: Request) -> Response:
        self.fetches += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.down:
            return JSONResponse({"detail": "down"}, 503, headers={"Retry-After": "7"})
        try:
            verify_fetch(str(request.url), request.headers.items(), self.state_keys, self.now())
        except SignatureRejected as exc:
            return JSONResponse({"detail": str(exc)}, 401)
        code = request.path_params["code"]
        if code not in self.files:
            return JSONResponse({"detail": "unknown"}, 404)
        token, file = self.files[code]
        photo = file.photo_jpeg
        if self.corrupt:
            photo = photo[:-10] + bytes(10)
        answer = FetchedFile(code, token, photo, file.signature_png)
        return JSONResponse(answer.to_json_dict())

    def start(self) -> FakeCollector:
        app = Starlette(routes=[Route("/v1/files/{code}", self.get_file)])
        port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake collector did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
