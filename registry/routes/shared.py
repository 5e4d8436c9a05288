"""What every route module of the registry shares: the service's state, handed to handlers as
a typed dependency, and the shape of its error answers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ephoto.clock import Clock
from registry.collectors import CollectorClient
from registry.keyring import KeyRing
from registry.ratelimit import CitizenLimits
from registry.settings import RegistrySettings
from registry.store import RegistryClock, RegistryStore


@dataclass(frozen=True)
class RegistryState:
    """One registry app's state. ``clock`` is the shared clock the booths sign on;
    ``registry_clock`` is that clock plus the QA offset, the registry's own "now"."""

    settings: RegistrySettings
    clock: Clock
    registry_clock: RegistryClock
    store: RegistryStore
    keyring: KeyRing
    limits: CitizenLimits
    products: dict[str, str]
    operator_prefix: str
    collectors: CollectorClient | None = None
    """Fetches files from the operators' collectors; None when no collector is configured."""
    rng: random.Random = field(default_factory=random.Random)

    def prefixes(self) -> tuple[str, ...]:
        """The code prefixes citizens may type: the registry's own and every booth operator's."""
        return tuple(sorted({self.operator_prefix} | self.keyring.operators()))


def registry_state(request: Request) -> RegistryState:
    """The state of the app serving ``request`` (set by ``registry.app.create_app``)."""
    state: RegistryState = request.app.state.registry
    return state


Registry = Annotated[RegistryState, Depends(registry_state)]


class Detail(BaseModel):
    detail: Any


def problem(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def field_error(loc: list[Any], message: str, kind: str = "value_error") -> JSONResponse:
    return problem(422, [{"loc": ["body", *loc], "msg": message, "type": kind}])


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"
