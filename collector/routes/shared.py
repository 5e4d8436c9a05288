"""What every route module of the collector shares: the service's state, handed to handlers as
a typed dependency, and the shape of its error answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from collector.settings import CollectorSettings
from collector.store import CollectorStore
from ephoto.clock import Clock
from ephoto.keyring import KeyRing

RETRY_AFTER_DOWN_SECONDS = 30


@dataclass(frozen=True)
class CollectorState:
    """One collector app's state. ``clock`` is the shared clock booths and the state sign on;
    the collector's own "now" is that plus the QA offset kept in the store."""

    settings: CollectorSettings
    clock: Clock
    store: CollectorStore
    keyring: KeyRing
    seal_key: Ed25519PrivateKey
    state_keys: Mapping[str, Ed25519PublicKey]
    collector_id: str
    retention_margin: timedelta


def collector_state(request: Request) -> CollectorState:
    state: CollectorState = request.app.state.collector
    return state


Collector = Annotated[CollectorState, Depends(collector_state)]


class Detail(BaseModel):
    detail: Any


def problem(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or {}))


def field_error(loc: list[Any], message: str, kind: str = "value_error") -> JSONResponse:
    return problem(422, [{"loc": ["body", *loc], "msg": message, "type": kind}])


def signed_url(request: Request) -> str:
    """The URL as the client sent it (percent-escapes kept): what its signature covers."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    base = f"{request.url.scheme}://{request.url.netloc}"
    return base + raw.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")


def unavailable() -> JSONResponse:
    return problem(
        503,
        "injected fault: the collector is unavailable, retry later",
        {"Retry-After": str(RETRY_AFTER_DOWN_SECONDS)},
    )
