"""The citizen API: check an ePhoto number for a procedure, and use it once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ephoto.code import normalize
from ephoto.texts import texts
from ephoto.vocabulary import PROCEDURES, CodeState, Procedure
from registry.citizen import (
    MALFORMED,
    NOT_FOUND,
    Answer,
    check_answer,
    language_from,
    malformed_answer,
)
from registry.collectors import Fetched, Refused, Unavailable
from registry.ratelimit import Refusal
from registry.routes.fetching import fetch_checked, fetches_file, file_json
from registry.routes.shared import (
    Detail,
    Registry,
    RegistryState,
    client_of,
    problem,
    registry_state,
)
from registry.store import StoredCode, state_of

router = APIRouter()


class CheckOut(BaseModel):
    status: Literal["malformed", "not_found", "active", "used", "expired"]
    message: str
    candidates: list[str] = []
    """For a mistyped number: the numbers the citizen probably meant (the message names them)."""


class RedeemIn(BaseModel):
    procedure: Procedure


class RedeemedFile(BaseModel):
    """The file the state fetched from the operator's collector and checked (seal, digests)."""

    photo_jpeg: str
    signature_png: str
    photo_sha256: str
    signature_sha256: str
    seal: str
    sealed_at: datetime
    collector: str


class RedeemOut(BaseModel):
    status: Literal[
        "redeemed",
        "malformed",
        "not_found",
        "used",
        "expired",
        "file_unavailable",
        "file_refused",
    ]
    message: str
    file: RedeemedFile | None = None
    reason: str | None = None


def refused(refusal: Refusal, lang: str) -> JSONResponse:
    t = texts("registry", lang)
    message = (
        t.get("error.rate_limited", minutes=max(1, -(-refusal.retry_after // 60)))
        if refusal.scope == "client"
        else t.get("error.busy")
    )
    return JSONResponse(
        {"detail": message},
        status_code=429,
        headers={"Retry-After": str(refusal.retry_after)},
    )


def check(
    registry: RegistryState, code: str, procedure: str, client: str, lang: str
) -> Answer | Refusal:
    """A citizen's check, counted against the rate limits (a failed one against the client's)."""
    limits = registry.limits
    refusal = limits.admit(client)
    if refusal is not None:
        return refusal
    text = normalize(code)
    answer = malformed_answer(text, registry.prefixes(), lang)
    if answer is None:
        stored, now = registry.store.check_lookup(text, registry.registry_clock)
        answer = check_answer(stored, procedure, now, lang, registry.products)
    if answer.status in (MALFORMED, NOT_FOUND):
        limits.record_failure(client)
    return answer


rate_limited: dict[int | str, dict[str, Any]] = {
    429: {"model": Detail, "description": "Too many failed checks; see Retry-After."}
}

check_parameters = [
    {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "procedure",
        "in": "query",
        "required": True,
        "description": "permis (ANTS) or titre-sejour (ANEF)",
        "schema": {"type": "string", "enum": list(PROCEDURES)},
    },
    {
        "name": "accept-language",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
    },
]


@router.get(
    "/v1/codes/{code}",
    response_model=CheckOut,
    summary="Check an ePhoto number for a procedure",
    responses={
        422: {"model": Detail, "description": "Missing or unknown procedure."},
        **rate_limited,
    },
    openapi_extra={"parameters": check_parameters},
)
async def get_code(code: str, request: Request) -> Any:
    # The hottest endpoint, so the query, header and state are read by hand rather than
    # through FastAPI's parameter machinery (a third of a check's CPU), and it runs inline
    # rather than on the thread pool: a check is one indexed read, shorter than the thread hop.
    procedure = request.query_params.get("procedure")
    if procedure not in PROCEDURES:
        return problem(
            422,
            [
                {
                    "loc": ["query", "procedure"],
                    "msg": f"procedure {procedure!r} must be one of {', '.join(PROCEDURES)}",
                    "type": "enum",
                }
            ],
        )
    lang = language_from(request.headers.get("accept-language"))
    outcome = check(registry_state(request), code, procedure, client_of(request), lang)
    if isinstance(outcome, Refusal):
        return refused(outcome, lang)
    body: dict[str, Any] = {"status": outcome.status, "message": outcome.message}
    if outcome.candidates:
        body["candidates"] = list(outcome.candidates)
    return JSONResponse(body)


@router.post(
    "/v1/codes/{code}/redeem",
    response_model=RedeemOut,
    summary="Use an ePhoto number once",
    responses={
        404: {"model": RedeemOut, "description": "Not found (or not active yet)."},
        409: {"model": RedeemOut, "description": "Already used."},
        410: {"model": RedeemOut, "description": "Expired."},
        422: {"model": RedeemOut, "description": "Malformed code or body."},
        502: {
            "model": RedeemOut,
            "description": "The operator's collector gave no usable file (seal or digest "
            "wrong, file missing, state's signature refused); not used; recorded.",
        },
        503: {
            "model": RedeemOut,
            "description": "The operator's collector is unreachable or slow; not used; "
            "see Retry-After.",
        },
        **rate_limited,
    },
)
def redeem_code(
    code: str,
    redemption: RedeemIn,
    request: Request,
    registry: Registry,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    lang = language_from(accept_language)
    client = client_of(request)
    limits = registry.limits
    refusal = limits.admit(client)
    if refusal is not None:
        return refused(refusal, lang)
    t = texts("registry", lang)
    text = normalize(code)
    malformed = malformed_answer(text, registry.prefixes(), lang)
    if malformed is not None:
        limits.record_failure(client)
        return JSONResponse({"status": MALFORMED, "message": malformed.message}, 422)
    procedure_name = t.get(f"procedure.{redemption.procedure}")
    fetched: Fetched | None = None
    if fetches_file(registry, text):
        # The file first, then the one conditional UPDATE that decides. A number whose file
        # was not fetched is never marked used here: it is answered from this read.
        stored, now = registry.store.lookup(text, registry.registry_clock)
        if stored is None or state_of(stored, now) != CodeState.ACTIVE:
            return _not_redeemed(registry, client, stored, now, lang)
        outcome = fetch_checked(registry, text)
        if isinstance(outcome, Unavailable):
            return JSONResponse(
                {"status": "file_unavailable", "message": t.get("redeem.file_unavailable")},
                503,
                headers={"Retry-After": str(outcome.retry_after)},
            )
        if isinstance(outcome, Refused):
            return JSONResponse(
                {
                    "status": "file_refused",
                    "message": t.get("redeem.file_refused"),
                    "reason": outcome.kind,
                },
                502,
            )
        fetched = outcome
    won, stored, now = registry.store.redeem(
        text,
        redemption.procedure,
        registry.registry_clock,
        fetched.file.meta.photo_sha256 if fetched else None,
        fetched.file.meta.signature_sha256 if fetched else None,
    )
    if won:
        return {
            "status": "redeemed",
            "message": t.get("redeem.ok", procedure=procedure_name),
            "file": file_json(fetched) if fetched else None,
        }
    return _not_redeemed(registry, client, stored, now, lang)


def _not_redeemed(
    registry: RegistryState,
    client: str,
    stored: StoredCode | None,
    now: datetime,
    lang: str,
) -> JSONResponse:
    """The answer for a number that was not marked used: used, expired or not found."""
    t = texts("registry", lang)
    state = state_of(stored, now) if stored is not None else None
    if state == CodeState.USED:
        assert stored is not None and stored.redeemed_at is not None
        when = _format(stored.redeemed_at, lang)
        return JSONResponse(
            {"status": CodeState.USED, "message": t.get("redeem.used", when=when)}, 409
        )
    if state == CodeState.EXPIRED:
        assert stored is not None
        since = _format(stored.expires_at, lang)
        return JSONResponse(
            {"status": CodeState.EXPIRED, "message": t.get("redeem.expired", since=since)}, 410
        )
    if state == CodeState.ACTIVE:  # pragma: no cover - the conditional UPDATE would have won
        raise HTTPException(500, "active code could not be redeemed")
    registry.limits.record_failure(client)
    message = t.get("redeem.not_found", wait=t.get("advice.wait"))
    return JSONResponse({"status": NOT_FOUND, "message": message}, 404)


def _format(value: datetime, lang: str) -> str:
    from ephoto.clock import format_paris

    return format_paris(value, lang)
