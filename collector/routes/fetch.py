"""The state's fetch: ``GET /v1/files/{code}``, answered only to a request signed with the
state's key. 200 the sealed file; 401 unsigned, wrongly signed or replayed; 404 unknown number;
410 deleted at the end of retention; 422 a malformed number."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from collector.routes.shared import (
    CollectorState,
    Detail,
    collector_state,
    field_error,
    problem,
    signed_url,
    unavailable,
)
from collector.store import Faults, ReplayedRequest
from ephoto.clock import clock_scale
from ephoto.code import problems_in
from ephoto.statefetch import FetchedFile, verify_fetch
from ephoto.wire import SIGNATURE_WINDOW, SignatureRejected

router = APIRouter()

STATE_SIGNER = "state"


def corrupted(photo: bytes) -> bytes:
    """The photo with one byte of its middle changed: it no longer matches its seal."""
    middle = len(photo) // 2
    return photo[:middle] + bytes([photo[middle] ^ 0xFF]) + photo[middle + 1 :]


def receive_fetch(
    collector: CollectorState, code: str, url: str, headers: list[tuple[str, str]]
) -> tuple[JSONResponse, Faults]:
    """The answer to a fetch and the faults read first, in one trip to the thread pool."""
    _, faults = collector.store.control(collector.clock)
    if faults.down:
        return unavailable(), faults
    return answer_fetch(collector, code, url, headers, faults), faults


def answer_fetch(
    collector: CollectorState,
    code: str,
    url: str,
    headers: list[tuple[str, str]],
    faults: Faults,
) -> JSONResponse:
    store = collector.store
    window = SIGNATURE_WINDOW * clock_scale(collector.clock)
    shared_now = collector.clock.now()
    try:
        verified = verify_fetch(url, headers, collector.state_keys, shared_now, window)
    except SignatureRejected as exc:
        return problem(401, exc.reason, {"WWW-Authenticate": "Signature"})
    try:
        store.remember_nonce(
            verified.nonce,
            STATE_SIGNER,
            max(verified.created, shared_now) + window,
            durable=False,
        )
    except ReplayedRequest as exc:
        return problem(401, str(exc), {"WWW-Authenticate": "Signature"})
    rules = problems_in(code, None)
    if rules or len(code) != 22:
        detail = "; ".join(p.detail for p in rules) or "the number must be 22 characters A-Z 0-9"
        return field_error(["path", "code"], f"number {code!r}: {detail}")
    stored = store.images(code)
    if stored is None:
        return problem(404, f"number {code} is not known to this collector")
    if stored.deleted_at is not None or stored.photo_jpeg is None or stored.signature_png is None:
        return problem(
            410,
            f"the file of number {code} was deleted at the end of its retention "
            f"({stored.deleted_at.isoformat() if stored.deleted_at else 'unknown time'})",
        )
    photo = corrupted(stored.photo_jpeg) if faults.corrupt_files else stored.photo_jpeg
    return JSONResponse(FetchedFile(code, stored.seal, photo, stored.signature_png).to_json_dict())


@router.get(
    "/v1/files/{code:path}",
    summary="The sealed file of a number (the state only, signed)",
    responses={
        401: {"model": Detail, "description": "Not signed with the state's key, or replayed."},
        404: {"model": Detail, "description": "Unknown number."},
        410: {"model": Detail, "description": "Deleted at the end of retention."},
        422: {"model": Detail, "description": "Malformed number."},
        503: {"model": Detail, "description": "Injected fault (QA): retry after Retry-After."},
    },
)
async def get_file(code: str, request: Request) -> JSONResponse:
    collector = collector_state(request)
    headers = list(request.headers.items())
    response, faults = await run_in_threadpool(
        receive_fetch, collector, code, signed_url(request), headers
    )
    if faults.extra_latency_ms > 0:
        # The answer is held back, the way a slow collector would keep the state waiting.
        await asyncio.sleep(faults.extra_latency_ms / 1000)
    return response
