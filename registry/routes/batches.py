"""Booth uploads: ``POST /v1/batches``, a signed batch of codes, stored once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ephoto.clock import clock_scale, ensure_utc
from ephoto.code import normalize
from ephoto.httpguard import error_entries
from ephoto.validity import ISSUED_AT_MAX_AGE, accepted_issue_times, issue_time_problem
from ephoto.wire import BATCH_PATH, SIGNATURE_WINDOW, BoothKey, SignatureRejected, verify_request
from registry.citizen import code_problems, is_wire_code
from registry.routes.shared import Detail, RegistryState, field_error, problem, registry_state
from registry.store import BatchIdReused, ControlChanged, Faults, IncomingCode, ReplayedRequest

router = APIRouter()
log = logging.getLogger("registry.batches")


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64, description="The ePhoto number, 22 characters.")
    issued_at: AwareDatetime = Field(description="When the booth issued it (with offset).")
    product: str = Field(min_length=1, max_length=40, description="The product sold.")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Idempotency key chosen by the booth."
    )
    booth_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The signing booth.")
    codes: list[CodeIn] = Field(min_length=1, max_length=5000)


class BatchOut(BaseModel):
    accepted: int = Field(description="Codes stored by this batch.")
    duplicates: int = Field(description="Codes already stored, left unchanged.")


def code_refusal(
    registry: RegistryState,
    index: int,
    entry: CodeIn,
    booth: BoothKey,
    now: datetime,
    assumed_offset: float | None,
) -> JSONResponse:
    """Why a batch's code is refused, the first rule it breaks, naming the field."""
    text = entry.code
    if normalize(text) != text or code_problems(text, None):
        rules = ", ".join(p.detail for p in code_problems(text, None)) or (
            "spaces or dashes are not allowed on the wire"
        )
        return field_error(["codes", index, "code"], f"code {text!r}: {rules}")
    if text[:4] != booth.operator:
        return problem(
            403,
            f"codes[{index}].code {text!r} starts with {text[:4]!r}, but booth "
            f"{booth.booth_id!r} belongs to operator {booth.operator!r}",
        )
    if entry.product not in registry.products:
        known = ", ".join(sorted(registry.products))
        return field_error(
            ["codes", index, "product"],
            f"product {entry.product!r} issues no ePhoto number; expected one of {known}",
        )
    try:
        issued_at = ensure_utc(entry.issued_at)
    except OverflowError:
        return field_error(
            ["codes", index, "issued_at"],
            f"issued_at {entry.issued_at.isoformat()} is outside the calendar once in UTC",
        )
    # The bounds are ephoto.validity's, shared with the collector, which refuses at upload the
    # files whose numbers would be refused here.
    too_far = issue_time_problem(issued_at, now)
    if too_far is not None:
        if assumed_offset is not None:
            raise ControlChanged()  # judged on a clock not read afresh: read it, judge again
        if too_far == "ahead":
            return field_error(
                ["codes", index, "issued_at"],
                f"issued_at {issued_at.isoformat()} is in the future of the registry's "
                f"clock ({now.isoformat()})",
            )
        return field_error(
            ["codes", index, "issued_at"],
            f"issued_at {issued_at.isoformat()} is more than {ISSUED_AT_MAX_AGE.days} days "
            f"before the registry's clock ({now.isoformat()})",
        )
    raise AssertionError(f"codes[{index}] breaks no rule, yet was refused")


def apply_batch(
    registry: RegistryState,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: datetime,
    assumed_offset: float | None = None,
) -> tuple[JSONResponse, Faults | None]:
    """The answer to a batch, and the fault knobs read while storing it (None when it was
    refused before). ``assumed_offset``: see ``receive_batch``."""
    keyring, store, products = registry.keyring, registry.store, registry.products
    keyring.refresh()
    # Freshness is a transport matter: judged on the clock the booths share (without the
    # QA offset, which moves only the registry), over 300 real seconds. At a demo's scale
    # of 3600, 300 domain seconds would be 83 ms and a busy machine would see stale
    # signatures everywhere.
    window = SIGNATURE_WINDOW * clock_scale(registry.clock)
    try:
        verified = verify_request(
            method, url, headers, body, keyring.secrets(), registry.clock.now(), window
        )
    except SignatureRejected as exc:
        return problem(401, exc.reason), None
    # Remember the nonce for the whole window, counted from receipt in registry time.
    forget_after = max(verified.created, now) + window

    def refuse(response: JSONResponse) -> JSONResponse:
        try:
            store.remember_nonce(verified.nonce, verified.booth_id, forget_after)
        except ReplayedRequest as exc:
            return problem(401, str(exc))
        return response

    try:
        batch = BatchIn.model_validate_json(body)
    except ValidationError as exc:
        found = exc.errors(include_url=False, include_context=False, include_input=False)
        errors = error_entries(
            ({**e, "loc": ("body", *e["loc"])} for e in found[:20]), with_input=False
        )
        return refuse(problem(422, errors)), None
    if batch.booth_id != verified.booth_id:
        refusal = problem(
            403,
            f"booth_id {batch.booth_id!r} is not the booth that signed the request "
            f"({verified.booth_id!r})",
        )
        return refuse(refusal), None
    booth = keyring.get(verified.booth_id)
    assert booth is not None  # verify_request only accepts known booths
    # Every code is checked; the usual one (canonical, the booth's prefix, a known product,
    # not from the future) passes one combined test, and only a refused one is looked at
    # again rule by rule to say what is wrong with it.
    operator = booth.operator
    earliest, latest = accepted_issue_times(now)
    items: list[IncomingCode] = []
    for index, entry in enumerate(batch.codes):
        text = entry.code
        try:
            issued_at = ensure_utc(entry.issued_at)
        except OverflowError:  # an offset that takes it past the calendar's edge
            refusal = code_refusal(registry, index, entry, booth, now, assumed_offset)
            return refuse(refusal), None
        if not (
            is_wire_code(text, operator)
            and entry.product in products
            and earliest <= issued_at <= latest
        ):
            refusal = code_refusal(registry, index, entry, booth, now, assumed_offset)
            return refuse(refusal), None
        items.append(IncomingCode(text, issued_at, entry.product))
    try:
        result = store.ingest(
            batch.batch_id,
            batch.booth_id,
            items,
            received_at=now,
            nonce=verified.nonce,
            nonce_forget_after=forget_after,
            assumed_offset=assumed_offset,
        )
    except ReplayedRequest as exc:
        return problem(401, str(exc)), None
    except BatchIdReused as exc:
        return refuse(field_error(["batch_id"], str(exc))), None
    answer = JSONResponse({"accepted": result.accepted, "duplicates": result.duplicates})
    return answer, result.faults


def receive_batch(
    registry: RegistryState, method: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[JSONResponse | None, datetime, Faults]:
    """Handle a batch in one trip to the thread pool, unless a fault acts first.

    The clock offset and fault knobs are needed before storing. When this process last
    saw no fault acting first, the batch is handled on the offset it saw, and the store
    checks under the queue's lock that both are unchanged (reading them cost a query
    and a connection per batch); otherwise, or if they changed, they are read first.
    """
    store = registry.store
    known = store.known_control()
    if known is not None and not known[1].before_apply:
        now = registry.registry_clock.now()
        try:
            response, seen = apply_batch(registry, method, url, headers, body, now, known[0])
            return response, now, seen or known[1]
        except ControlChanged:
            pass
    now, faults = store.control(registry.registry_clock)
    if faults.before_apply:
        return None, now, faults
    return apply_batch(registry, method, url, headers, body, now)[0], now, faults


@router.post(
    BATCH_PATH,
    response_model=BatchOut,
    summary="Upload a signed batch of codes (booths only)",
    responses={
        401: {"model": Detail, "description": "Signature missing, wrong, stale or replayed."},
        403: {"model": Detail, "description": "A code's prefix is not the booth operator's."},
        422: {"model": Detail, "description": "Malformed body or code; names the field."},
        503: {"model": Detail, "description": "Injected fault (QA)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
        }
    },
)
async def post_batch(request: Request) -> Response:
    # The state is taken from the request rather than through Depends: this handler reads
    # the raw body to verify its signature, and stays off FastAPI's parameter machinery.
    registry = registry_state(request)
    try:
        body = await request.body()
    except ClientDisconnect:
        # Booths lose their network all the time: nothing was stored, the booth will retry.
        client = request.client.host if request.client else "unknown"
        log.info("a booth at %s disconnected while sending a batch; nothing stored", client)
        return Response(status_code=400)
    method, url, headers = request.method, str(request.url), list(request.headers.items())
    response, now, faults = await run_in_threadpool(
        receive_batch, registry, method, url, headers, body
    )
    if response is None:
        if faults.extra_latency_ms > 0:
            await asyncio.sleep(faults.extra_latency_ms / 1000)
        if faults.p_error_5xx > 0 and registry.rng.random() < faults.p_error_5xx:
            return problem(503, "injected fault: the registry is unavailable, retry later")
        applied = await run_in_threadpool(apply_batch, registry, method, url, headers, body, now)
        response = applied[0]
    if (
        response.status_code == 200
        and faults.p_timeout_after_apply > 0
        and registry.rng.random() < faults.p_timeout_after_apply
    ):
        # The batch is stored; the booth does not hear it in time and will retry.
        await asyncio.sleep(registry.settings.fault_hold_seconds)
    return response
