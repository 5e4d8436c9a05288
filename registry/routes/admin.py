"""The QA admin API under ``/admin``: a code's record, the clock, fault knobs and stats.
Served only when the settings enable it, behind the admin bearer token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ephoto.clock import SessionClock
from ephoto.code import normalize
from ephoto.httpguard import require_bearer
from registry.routes.shared import Detail, Registry, field_error
from registry.store import MAX_CLOCK_OFFSET, ClockOutOfBounds, Faults, FetchFailure, state_of


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance_seconds: float = Field(
        default=0.0,
        ge=0,
        le=10 * 366 * 24 * 3600,
        description="Seconds to move the registry's clock forward (after the reset, if any).",
    )
    reset: bool = Field(
        default=False, description="Put the registry's clock back on the shared clock first."
    )


class FaultsIn(BaseModel):
    p_error_5xx: float = Field(default=0.0, ge=0, le=1)
    p_timeout_after_apply: float = Field(default=0.0, ge=0, le=1)
    extra_latency_ms: float = Field(default=0.0, ge=0, le=60_000)


def authorised(registry: Registry, authorization: Annotated[str | None, Header()] = None) -> None:
    require_bearer(authorization, registry.settings.admin_token)


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(authorised)])
unauthorised: dict[int | str, dict[str, Any]] = {
    401: {"model": Detail, "description": "Missing or wrong bearer token."}
}


@router.get("/codes/{code}", responses={404: {"model": Detail}, **unauthorised})
def admin_code(code: str, registry: Registry) -> dict[str, Any]:
    stored, now = registry.store.lookup(normalize(code), registry.registry_clock)
    if stored is None:
        raise HTTPException(404, f"code {code!r} is not stored")
    return {
        "code": stored.code,
        "state": state_of(stored, now),
        "now": now,
        "booth_id": stored.booth_id,
        "batch_id": stored.batch_id,
        "product": stored.product,
        "procedure": registry.products.get(stored.product),
        "issued_at": stored.issued_at,
        "received_at": stored.received_at,
        "processing_end": stored.processing_end,
        "base_delay_hours": stored.base_delay_hours,
        "active_at": stored.active_at,
        "expires_at": stored.expires_at,
        "redeemed_at": stored.redeemed_at,
        "redeemed_procedure": stored.redeemed_procedure,
        "redeemed_photo_sha256": stored.redeemed_photo_sha256,
        "redeemed_signature_sha256": stored.redeemed_signature_sha256,
        "fetch_failures": [
            failure_json(f) for f in registry.store.fetch_failures(stored.code, limit=20)
        ],
    }


def failure_json(failure: FetchFailure) -> dict[str, Any]:
    return {
        "code": failure.code,
        "operator": failure.operator,
        "kind": failure.kind,
        "reason": failure.reason,
        "at": failure.at,
    }


@router.get("/fetch-failures", responses=unauthorised)
def admin_fetch_failures(
    registry: Registry,
    operator: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{4}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Files the state fetched at use and refused (seal, digest, missing, denied, answer),
    newest first: the numbers were not used; the operator must mend them."""
    failures = registry.store.fetch_failures(limit=limit, operator=operator)
    return {"failures": [failure_json(f) for f in failures]}


@router.post("/clock", responses=unauthorised)
def admin_clock(move: ClockIn, registry: Registry) -> Any:
    """Move the registry's "now" forward (after putting it back first, with ``reset``). In a
    live session (the clock has a session file) the whole session moves: the file's offset,
    which every process of the session watches. A registry on its own moves its own offset,
    kept in its store for every worker. Either is bounded: past ``MAX_CLOCK_OFFSET`` in all,
    the move is refused (422) and nothing moves."""
    if isinstance(registry.clock, SessionClock):
        if move.reset:
            return field_error(
                ["reset"], "this registry runs on a live session's clock: move it with cabine clock"
            )
        ahead = registry.clock.offset + timedelta(seconds=move.advance_seconds)
        if ahead > MAX_CLOCK_OFFSET:
            return field_error(
                ["advance_seconds"],
                f"advance_seconds {move.advance_seconds:g} would put the session's clock "
                f"{ahead.days} days ahead; at most {MAX_CLOCK_OFFSET.days} days in all",
            )
        registry.clock.advance(timedelta(seconds=move.advance_seconds))
        moved, session = "session", registry.clock.offset
    else:
        try:
            registry.store.advance_clock(move.advance_seconds, reset=move.reset)
        except ClockOutOfBounds as exc:
            refusal: JSONResponse = field_error(["advance_seconds"], str(exc))
            return refusal
        moved, session = "registry", timedelta(0)
    now = registry.store.now(registry.registry_clock)
    offset = registry.registry_clock.offset + session
    return {"now": now, "offset_seconds": offset.total_seconds(), "moved": moved}


@router.post("/faults", responses=unauthorised)
def admin_faults(faults: FaultsIn, registry: Registry) -> FaultsIn:
    registry.store.set_faults(Faults(**faults.model_dump()))
    return faults


@router.get("/stats", responses=unauthorised)
def admin_stats(registry: Registry) -> dict[str, Any]:
    now = registry.store.now(registry.registry_clock)
    stats = registry.store.stats(now)
    oldest = stats.oldest_pending_received_at
    return {
        "now": now,
        "by_state": stats.by_state,
        "backlog": stats.backlog,
        "oldest_pending_age_seconds": (now - oldest).total_seconds() if oldest else None,
        "queue_tail": stats.queue_tail,
    }
