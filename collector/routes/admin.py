"""The QA admin API under ``/admin``: a file's record, stats, fault knobs and the clock. Served
only when the settings enable it, behind the admin bearer token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from collector.routes.shared import Collector, Detail
from collector.store import Faults
from ephoto.httpguard import require_bearer

MAX_ADVANCE_SECONDS = 2 * 366 * 24 * 3600  # two years: past any number's retention


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance_seconds: float = Field(default=0.0, ge=0, le=MAX_ADVANCE_SECONDS)
    reset: bool = Field(default=False, description="Back to the shared clock (offset 0).")

    @model_validator(mode="after")
    def _one(self) -> ClockIn:
        if self.reset and self.advance_seconds:
            raise ValueError("give either advance_seconds or reset, not both")
        return self


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    down: bool = Field(default=False, description="Uploads and fetches answer 503.")
    extra_latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    corrupt_files: bool = Field(
        default=False, description="Fetches answer a photo that no longer matches its seal."
    )


class FileOut(BaseModel):
    code: str
    received_at: Any
    sealed_at: Any
    registered_at: Any
    deleted_at: Any
    photo_sha256: str
    signature_sha256: str


def authorised(collector: Collector, authorization: Annotated[str | None, Header()] = None) -> None:
    require_bearer(authorization, collector.settings.admin_token)


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(authorised)])
unauthorised: dict[int | str, dict[str, Any]] = {
    401: {"model": Detail, "description": "Missing or wrong bearer token."}
}


@router.get("/files/{code}", responses={404: {"model": Detail}, **unauthorised})
def admin_file(code: str, collector: Collector) -> dict[str, Any]:
    record = collector.store.record(code)
    if record is None:
        raise HTTPException(404, f"number {code!r} is not known to this collector")
    return {
        "code": record.code,
        "received_at": record.received_at,
        "sealed_at": record.sealed_at,
        "registered_at": record.registered_at,
        "deleted_at": record.deleted_at,
        "photo_sha256": record.photo_sha256,
        "signature_sha256": record.signature_sha256,
        "booth_id": record.booth_id,
        "product": record.product,
        "procedure": record.procedure,
        "issued_at": record.issued_at,
        "delete_after": record.delete_after,
        "size_bytes": record.size_bytes,
        # pending, sent or rejected; rejected: the state refused the number for good, it is
        # parked and never sent again on its own: the operator must act.
        "registration": record.registration,
        "registration_refusal": record.registration_refusal,
        "registration_refused_at": record.registration_refused_at,
    }


@router.get("/stats", responses=unauthorised)
def admin_stats(collector: Collector) -> dict[str, Any]:
    now, _ = collector.store.control(collector.clock)
    stats = collector.store.stats(now)
    return {
        "now": now,
        "files_received": stats.files_received,
        "files_sealed": stats.files_sealed,
        "registered": stats.registered,
        "pending_registration": stats.pending_registration,
        "rejected_registration": stats.rejected_registration,
        # By name, newest first: each needs the operator (the state will not take it as it is).
        "refused_registration": [
            {"code": r.code, "reason": r.reason, "refused_at": r.refused_at} for r in stats.refused
        ],
        "deleted": stats.deleted,
        "bytes_stored": stats.bytes_stored,
    }


@router.post("/faults", responses=unauthorised)
def admin_faults(faults: FaultsIn, collector: Collector) -> FaultsIn:
    collector.store.set_faults(Faults(**faults.model_dump()))
    return faults


@router.post("/clock", responses=unauthorised)
def admin_clock(move: ClockIn, collector: Collector) -> dict[str, Any]:
    if move.reset:
        collector.store.reset_clock()
        offset = 0.0
    else:
        offset = collector.store.advance_clock(move.advance_seconds).total_seconds()
    now, _ = collector.store.control(collector.clock)
    return {"now": now, "offset_seconds": offset}
