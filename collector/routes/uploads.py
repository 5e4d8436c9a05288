"""Booth uploads: ``POST /v1/files``, a signed upload of ePhoto files, each checked, sealed and
stored once, with its number queued for registration with the state."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from collector.routes.shared import (
    CollectorState,
    Detail,
    collector_state,
    field_error,
    problem,
    signed_url,
    unavailable,
)
from collector.store import NumberTaken, ReplayedRequest, SealedFile
from ephoto.clock import clock_scale
from ephoto.epfile import (
    FILES_PATH,
    MAX_FILES_PER_UPLOAD,
    EphotoFile,
    FileRejected,
    file_problems,
)
from ephoto.seal import seal_file
from ephoto.validity import (
    ISSUED_AT_MAX_AGE,
    ISSUED_AT_MAX_AHEAD,
    IssueTimeProblem,
    expires_at,
    issue_time_problem,
)
from ephoto.wire import SIGNATURE_WINDOW, SignatureRejected, verify_request

router = APIRouter()


class UploadIn(BaseModel):
    """The upload's envelope; each file is checked apart so a refusal names it."""

    model_config = ConfigDict(extra="forbid")
    upload_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Idempotency key chosen by the booth."
    )
    booth_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The signing booth.")
    files: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_FILES_PER_UPLOAD)


class UploadOut(BaseModel):
    accepted: int = Field(description="Files stored by this upload.")
    duplicates: list[str] = Field(description="Numbers whose same file was already stored.")


def check_one(
    index: int, data: dict[str, Any], operator: str, signer: str, now: datetime
) -> JSONResponse | EphotoFile:
    """One file decoded and checked: the file, or the answer refusing the upload because of it
    (403 for a number of another operator, else 422 naming ``files[i].field``). ``now`` is the
    collector's clock: a file issued at a time the state will refuse is refused here."""
    try:
        file = EphotoFile.from_wire(data)
    except FileRejected as exc:
        first = exc.problems[0]
        return field_error(["files", index, first.field], first.message, first.rule)
    if file.meta.booth_id != signer:
        return field_error(
            ["files", index, "booth_id"],
            f"booth_id {file.meta.booth_id!r} is not the booth that signed the upload ({signer!r})",
            "signer",
        )
    problems = file_problems(file, (operator,))
    if problems:
        first = problems[0]
        if first.field == "code" and first.rule == "prefix":
            return problem(
                403,
                f"files[{index}].code {file.code!r} starts with {file.code[:4]!r}, but booth "
                f"{signer!r} belongs to operator {operator!r}",
            )
        return field_error(["files", index, first.field], first.message, first.rule)
    off = issue_time_problem(file.meta.issued_at, now)
    if off is not None:
        return field_error(
            ["files", index, "issued_at"], issue_time_message(file, now, off), "issue_time"
        )
    return file


def issue_time_message(file: EphotoFile, now: datetime, off: IssueTimeProblem) -> str:
    """Why a file's issue time is refused: the booth's clock is far off, a fault to fix there."""
    issued = file.meta.issued_at
    if off == "ahead":
        gap, bound = issued - now, f"more than {ISSUED_AT_MAX_AHEAD.total_seconds():.0f} s ahead"
        where = "ahead of"
    else:
        gap, bound = now - issued, f"more than {ISSUED_AT_MAX_AGE.days} days behind"
        where = "behind"
    return (
        f"issued_at {issued.isoformat()} of number {file.code} is {_span(gap)} {where} the "
        f"collector's clock ({now.isoformat()}): booth {file.meta.booth_id!r} has a clock far "
        f"off, set it right. The state refuses a number issued {bound} its clock, so this file "
        "was not stored and will not be"
    )


def _span(gap: timedelta) -> str:
    seconds = gap.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds:.0f} s"


def check_files(
    upload: UploadIn, operator: str, signer: str, now: datetime
) -> tuple[list[EphotoFile], JSONResponse | None]:
    """Every file decoded and checked, several at once (the image decoders release the GIL);
    the first refused file, in upload order, gives the answer."""
    items = upload.files
    if len(items) == 1:
        outcomes = [check_one(0, items[0], operator, signer, now)]
    else:
        outcomes = list(
            _CHECKERS.map(
                check_one,
                range(len(items)),
                items,
                [operator] * len(items),
                [signer] * len(items),
                [now] * len(items),
            )
        )
    checked: list[EphotoFile] = []
    for outcome in outcomes:
        if isinstance(outcome, JSONResponse):
            return [], outcome
        checked.append(outcome)
    return checked, None


_CHECKERS = ThreadPoolExecutor(max(2, os.cpu_count() or 1), thread_name_prefix="file-check")


def receive_upload(
    collector: CollectorState,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> JSONResponse:
    """Verify, check, seal and store an upload; the answer for the booth."""
    store, keyring = collector.store, collector.keyring
    keyring.refresh()
    # Freshness is judged on the clock booths share (without the QA offset), over 300 real
    # seconds, like the registry does.
    window = SIGNATURE_WINDOW * clock_scale(collector.clock)
    shared_now = collector.clock.now()
    try:
        verified = verify_request(method, url, headers, body, keyring.secrets(), shared_now, window)
    except SignatureRejected as exc:
        return problem(401, exc.reason)
    now, _ = store.control(collector.clock)
    forget_after = max(verified.created, shared_now) + window

    def refuse(response: JSONResponse) -> JSONResponse:
        try:
            store.remember_nonce(verified.nonce, verified.booth_id, forget_after)
        except ReplayedRequest as exc:
            return problem(401, str(exc))
        return response

    try:
        upload = UploadIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        return refuse(problem(422, errors))
    if upload.booth_id != verified.booth_id:
        return refuse(
            problem(
                403,
                f"booth_id {upload.booth_id!r} is not the booth that signed the request "
                f"({verified.booth_id!r})",
            )
        )
    booth = keyring.get(verified.booth_id)
    assert booth is not None  # verify_request accepts known booths only
    files, refusal = check_files(upload, booth.operator, verified.booth_id, now)
    if refusal is not None:
        return refuse(refusal)
    sealed = [seal_one(collector, file, now) for file in files]
    try:
        result = store.store_upload(
            upload.upload_id,
            sealed,
            received_at=now,
            nonce=verified.nonce,
            signer=verified.booth_id,
            nonce_forget_after=forget_after,
            registration_booth_id=collector.collector_id,
            # The batching window counts on the shared clock the registration is sent on.
            registration_not_before=shared_now + registration_window(collector),
        )
    except ReplayedRequest as exc:
        return problem(401, str(exc))
    except NumberTaken as exc:
        return refuse(problem(409, str(exc)))
    return JSONResponse({"accepted": result.accepted, "duplicates": result.duplicates})


def registration_window(collector: CollectorState) -> timedelta:
    return timedelta(minutes=collector.settings.registration_window_minutes)


def seal_one(collector: CollectorState, file: EphotoFile, now: datetime) -> SealedFile:
    return SealedFile(
        file=file,
        seal=seal_file(file.meta, collector.seal_key, now, collector.collector_id),
        sealed_at=now,
        delete_after=expires_at(file.meta.issued_at) + collector.retention_margin,
    )


@router.post(
    FILES_PATH,
    response_model=UploadOut,
    summary="Upload signed ePhoto files (booths only)",
    responses={
        401: {"model": Detail, "description": "Signature missing, wrong, stale or replayed."},
        403: {"model": Detail, "description": "A number of another operator, or another booth."},
        409: {"model": Detail, "description": "A different file for a stored number."},
        413: {"model": Detail, "description": "Request body over the bound."},
        422: {"model": Detail, "description": "A file breaks a rule; names files[i].field."},
        503: {"model": Detail, "description": "Injected fault (QA): retry after Retry-After."},
    },
)
async def post_files(request: Request) -> JSONResponse:
    collector = collector_state(request)
    _, faults = await run_in_threadpool(collector.store.control, collector.clock)
    if faults.extra_latency_ms > 0:
        await asyncio.sleep(faults.extra_latency_ms / 1000)
    if faults.down:
        return unavailable()
    try:
        body = await request.body()
    except ClientDisconnect:
        return problem(400, "the client left before its upload was read")
    method, url, headers = request.method, signed_url(request), list(request.headers.items())
    return await run_in_threadpool(receive_upload, collector, method, url, headers, body)
