"""The registry's HTTP service: booth uploads, the citizen API and page, and the QA admin API.

``create_app(settings, clock, store)`` builds the FastAPI app; ``app_from_environment`` is the
factory uvicorn workers call (``cabine registry`` puts the resolved settings in the environment).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from ephoto.assets import asset
from ephoto.clock import Clock, OffsetClock, clock_scale, ensure_utc
from ephoto.code import DEFAULT_PREFIX, normalize
from ephoto.gcwork import freeze_startup_objects
from ephoto.texts import texts
from ephoto.wire import (
    BATCH_PATH,
    SIGNATURE_WINDOW,
    BoothKey,
    SignatureRejected,
    load_booth_keys,
    verify_request,
)
from registry.citizen import (
    MALFORMED,
    NOT_FOUND,
    PROCEDURES,
    Answer,
    check_answer,
    code_problems,
    is_wire_code,
    language_from,
    malformed_answer,
)
from registry.ratelimit import CitizenLimits, Refusal
from registry.settings import RegistryRuntime, RegistrySettings
from registry.store import (
    ACTIVE,
    EXPIRED,
    USED,
    BatchIdReused,
    ControlChanged,
    Faults,
    IncomingCode,
    RegistryStore,
    ReplayedRequest,
    state_of,
)

Procedure = Literal["permis", "titre-sejour"]
RUNTIME_ENV = "CABINE_REGISTRY_RUNTIME"


# --- wire models ---------------------------------------------------------------------------


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


class CheckOut(BaseModel):
    status: Literal["malformed", "not_found", "active", "used", "expired"]
    message: str


class RedeemIn(BaseModel):
    procedure: Procedure


class RedeemOut(BaseModel):
    status: Literal["redeemed", "malformed", "not_found", "used", "expired"]
    message: str


class ClockIn(BaseModel):
    advance_seconds: float = Field(ge=0, le=10 * 366 * 24 * 3600)


class FaultsIn(BaseModel):
    p_error_5xx: float = Field(default=0.0, ge=0, le=1)
    p_timeout_after_apply: float = Field(default=0.0, ge=0, le=1)
    extra_latency_ms: float = Field(default=0.0, ge=0, le=60_000)


class Detail(BaseModel):
    detail: Any


# --- booth keys ----------------------------------------------------------------------------


class KeyRing:
    """Booth keys from the keys file, re-read when the file changes (a booth added while the
    registry runs can upload at once)."""

    def __init__(self, path: Path | None, keys: Mapping[str, BoothKey] | None = None):
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, BoothKey] = dict(keys or {})
        self._secrets: dict[str, bytes] = {}
        self.refresh()

    def refresh(self) -> None:
        if self.path is None:
            self._secrets = {k: v.secret for k, v in self._keys.items()}
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._keys, self._secrets, self._stamp = {}, {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._keys = load_booth_keys(self.path)
            self._secrets = {k: v.secret for k, v in self._keys.items()}
            self._stamp = stamp

    def secrets(self) -> dict[str, bytes]:
        return self._secrets

    def get(self, booth_id: str) -> BoothKey | None:
        return self._keys.get(booth_id)

    def operators(self) -> set[str]:
        return {k.operator for k in self._keys.values()}


# --- the app -------------------------------------------------------------------------------


def _problem(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _field_error(loc: list[Any], message: str, kind: str = "value_error") -> JSONResponse:
    return _problem(422, [{"loc": ["body", *loc], "msg": message, "type": kind}])


def create_app(
    settings: RegistrySettings,
    clock: Clock,
    store: RegistryStore,
    *,
    keys: Mapping[str, BoothKey] | None = None,
    operator_prefix: str = DEFAULT_PREFIX,
) -> FastAPI:
    """The registry app. ``keys`` replaces the keys file (tests); the accepted code prefixes
    for citizens are ``operator_prefix`` and every booth operator in the keys."""
    if settings.admin_enabled and not settings.admin_token:
        raise ValueError("registry admin_enabled needs admin_token: the /admin API is protected")
    registry_clock = OffsetClock(clock)
    keyring = KeyRing(None if keys is not None else settings.keys_file, keys)
    limits = CitizenLimits(
        settings.rate_limit_failed_per_client,
        settings.rate_limit_global,
        settings.rate_limit_storage,
    )
    products = dict(settings.products)
    rng = random.Random()

    app = FastAPI(
        title="cabine registry (mock ANTS / ANEF)",
        version="1",
        description="Booth uploads, citizen checks and redemption of ePhoto numbers. "
        "A simulation for testing, not the official service.",
    )
    app.state.store = store
    app.state.clock = registry_clock
    app.state.limits = limits
    app.state.keyring = keyring

    def prefixes() -> tuple[str, ...]:
        return tuple(sorted({operator_prefix} | keyring.operators()))

    # --- booth uploads -------------------------------------------------------------------

    def code_refusal(
        index: int, entry: CodeIn, booth: BoothKey, now: datetime, assumed_offset: float | None
    ) -> JSONResponse:
        """Why a batch's code is refused, the first rule it breaks, naming the field."""
        text = entry.code
        if normalize(text) != text or code_problems(text, None):
            rules = ", ".join(p.detail for p in code_problems(text, None)) or (
                "spaces or dashes are not allowed on the wire"
            )
            return _field_error(["codes", index, "code"], f"code {text!r}: {rules}")
        if text[:4] != booth.operator:
            return _problem(
                403,
                f"codes[{index}].code {text!r} starts with {text[:4]!r}, but booth "
                f"{booth.booth_id!r} belongs to operator {booth.operator!r}",
            )
        if entry.product not in products:
            known = ", ".join(sorted(products))
            return _field_error(
                ["codes", index, "product"],
                f"product {entry.product!r} issues no ePhoto number; expected one of {known}",
            )
        issued_at = ensure_utc(entry.issued_at)
        if issued_at > now + SIGNATURE_WINDOW:
            if assumed_offset is not None:
                raise ControlChanged()  # judged on a clock not read afresh: read it, judge again
            return _field_error(
                ["codes", index, "issued_at"],
                f"issued_at {issued_at.isoformat()} is in the future of the registry's "
                f"clock ({now.isoformat()})",
            )
        raise AssertionError(f"codes[{index}] breaks no rule, yet was refused")

    def apply_batch(
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        now: datetime,
        assumed_offset: float | None = None,
    ) -> tuple[JSONResponse, Faults | None]:
        """The answer to a batch, and the fault knobs read while storing it (None when it was
        refused before). ``assumed_offset``: see ``receive_batch``."""
        keyring.refresh()
        # Freshness is a transport matter: judged on the clock the booths share (without the
        # QA offset, which moves only the registry), over 300 real seconds. At a demo's scale
        # of 3600, 300 domain seconds would be 83 ms and a busy machine would see stale
        # signatures everywhere.
        window = SIGNATURE_WINDOW * clock_scale(clock)
        try:
            verified = verify_request(
                method, url, headers, body, keyring.secrets(), clock.now(), window
            )
        except SignatureRejected as exc:
            return _problem(401, exc.reason), None
        # Remember the nonce for the whole window, counted from receipt in registry time.
        forget_after = max(verified.created, now) + window

        def refuse(response: JSONResponse) -> JSONResponse:
            try:
                store.remember_nonce(verified.nonce, verified.booth_id, forget_after)
            except ReplayedRequest as exc:
                return _problem(401, str(exc))
            return response

        try:
            batch = BatchIn.model_validate_json(body)
        except ValidationError as exc:
            errors = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
            return refuse(_problem(422, errors)), None
        if batch.booth_id != verified.booth_id:
            refusal = _problem(
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
        operator, latest = booth.operator, now + SIGNATURE_WINDOW
        items: list[IncomingCode] = []
        for index, entry in enumerate(batch.codes):
            text, issued_at = entry.code, ensure_utc(entry.issued_at)
            if not (
                is_wire_code(text, operator) and entry.product in products and issued_at <= latest
            ):
                return refuse(code_refusal(index, entry, booth, now, assumed_offset)), None
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
            return _problem(401, str(exc)), None
        except BatchIdReused as exc:
            return refuse(_field_error(["batch_id"], str(exc))), None
        answer = JSONResponse({"accepted": result.accepted, "duplicates": result.duplicates})
        return answer, result.faults

    batch_schema = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch_schema.pop("$defs", None)

    def receive_batch(
        method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[JSONResponse | None, datetime, Faults]:
        """Handle a batch in one trip to the thread pool, unless a fault acts first.

        The clock offset and fault knobs are needed before storing. When this process last
        saw no fault acting first, the batch is handled on the offset it saw, and the store
        checks under the queue's lock that both are unchanged (reading them cost a query
        and a connection per batch); otherwise, or if they changed, they are read first.
        """
        known = store.known_control()
        if known is not None and not known[1].before_apply:
            now = registry_clock.now()
            try:
                response, seen = apply_batch(method, url, headers, body, now, known[0])
                return response, now, seen or known[1]
            except ControlChanged:
                pass
        now, faults = store.control(registry_clock)
        if faults.before_apply:
            return None, now, faults
        return apply_batch(method, url, headers, body, now)[0], now, faults

    @app.post(
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
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}
                },
            }
        },
    )
    async def post_batch(request: Request) -> JSONResponse:
        body = await request.body()
        method, url, headers = request.method, str(request.url), list(request.headers.items())
        response, now, faults = await run_in_threadpool(receive_batch, method, url, headers, body)
        if response is None:
            if faults.extra_latency_ms > 0:
                await asyncio.sleep(faults.extra_latency_ms / 1000)
            if faults.p_error_5xx > 0 and rng.random() < faults.p_error_5xx:
                return _problem(503, "injected fault: the registry is unavailable, retry later")
            applied = await run_in_threadpool(apply_batch, method, url, headers, body, now)
            response = applied[0]
        if (
            response.status_code == 200
            and faults.p_timeout_after_apply > 0
            and rng.random() < faults.p_timeout_after_apply
        ):
            # The batch is stored; the booth does not hear it in time and will retry.
            await asyncio.sleep(settings.fault_hold_seconds)
        return response

    # --- citizens ------------------------------------------------------------------------

    def client_of(request: Request) -> str:
        return request.client.host if request.client else "unknown"

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

    def check(code: str, procedure: str, client: str, lang: str) -> Answer | Refusal:
        refusal = limits.admit(client)
        if refusal is not None:
            return refusal
        text = normalize(code)
        answer = malformed_answer(text, prefixes(), lang)
        if answer is None:
            stored, now = store.check_lookup(text, registry_clock)
            answer = check_answer(stored, procedure, now, lang, products)
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

    @app.get(
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
        # The hottest endpoint, so the query and header are read by hand rather than through
        # FastAPI's parameter machinery (a third of a check's CPU), and it runs inline rather
        # than on the thread pool: a check is one indexed read, shorter than the thread hop.
        procedure = request.query_params.get("procedure")
        if procedure not in PROCEDURES:
            return _problem(
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
        outcome = check(code, procedure, client_of(request), lang)
        if isinstance(outcome, Refusal):
            return refused(outcome, lang)
        return JSONResponse({"status": outcome.status, "message": outcome.message})

    @app.post(
        "/v1/codes/{code}/redeem",
        response_model=RedeemOut,
        summary="Use an ePhoto number once",
        responses={
            404: {"model": RedeemOut, "description": "Not found (or not active yet)."},
            409: {"model": RedeemOut, "description": "Already used."},
            410: {"model": RedeemOut, "description": "Expired."},
            422: {"model": RedeemOut, "description": "Malformed code or body."},
            **rate_limited,
        },
    )
    def redeem_code(
        code: str,
        redemption: RedeemIn,
        request: Request,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Any:
        lang = language_from(accept_language)
        client = client_of(request)
        refusal = limits.admit(client)
        if refusal is not None:
            return refused(refusal, lang)
        t = texts("registry", lang)
        text = normalize(code)
        malformed = malformed_answer(text, prefixes(), lang)
        if malformed is not None:
            limits.record_failure(client)
            return JSONResponse({"status": MALFORMED, "message": malformed.message}, 422)
        won, stored, now = store.redeem(text, redemption.procedure, registry_clock)
        procedure_name = t.get(f"procedure.{redemption.procedure}")
        if won:
            return {"status": "redeemed", "message": t.get("redeem.ok", procedure=procedure_name)}
        state = state_of(stored, now) if stored is not None else None
        if state == USED:
            assert stored is not None and stored.redeemed_at is not None
            when = _format(stored.redeemed_at, lang)
            return JSONResponse({"status": USED, "message": t.get("redeem.used", when=when)}, 409)
        if state == EXPIRED:
            assert stored is not None
            since = _format(stored.expires_at, lang)
            return JSONResponse(
                {"status": EXPIRED, "message": t.get("redeem.expired", since=since)}, 410
            )
        if state == ACTIVE:  # pragma: no cover - the conditional UPDATE would have won
            raise HTTPException(500, "active code could not be redeemed")
        limits.record_failure(client)
        message = t.get("redeem.not_found", wait=t.get("advice.wait"))
        return JSONResponse({"status": NOT_FOUND, "message": message}, 404)

    # --- the citizen page ----------------------------------------------------------------

    pages = Environment(
        loader=FileSystemLoader(str(asset("templates"))),
        autoescape=select_autoescape(["html"]),
    )

    def page_lang(explicit: str | None, accept_language: str | None) -> str:
        return explicit if explicit in ("fr", "en") else language_from(accept_language)

    def render(lang: str, **context: Any) -> str:
        return pages.get_template("registry/check.html").render(
            t=texts("registry", lang), lang=lang, **context
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def check_page(
        lang: str | None = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> HTMLResponse:
        chosen = page_lang(lang, accept_language)
        return HTMLResponse(render(chosen, code="", procedure="permis", result=None))

    @app.post("/", response_class=HTMLResponse, include_in_schema=False)
    # Async like the API check: both run on the event loop's thread, which keeps the one
    # read connection the store holds for checks.
    async def check_page_submit(
        request: Request,
        code: Annotated[str, Form(max_length=200)] = "",
        procedure: Annotated[str, Form()] = "permis",
        lang: Annotated[str | None, Form()] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> HTMLResponse:
        chosen = page_lang(lang, accept_language)
        if procedure not in ("permis", "titre-sejour"):
            procedure = "permis"
        outcome = check(code, procedure, client_of(request), chosen)
        t = texts("registry", chosen)
        if isinstance(outcome, Refusal):
            minutes = max(1, -(-outcome.retry_after // 60))
            result = {
                "status": "rate_limited",
                "title": t.get("page.status_rate_limited"),
                "message": t.get("error.rate_limited", minutes=minutes)
                if outcome.scope == "client"
                else t.get("error.busy"),
            }
            body = render(chosen, code=code, procedure=procedure, result=result)
            return HTMLResponse(
                body, status_code=429, headers={"Retry-After": str(outcome.retry_after)}
            )
        result = {
            "status": outcome.status,
            "title": t.get(f"page.status_{outcome.status}"),
            "message": outcome.message,
        }
        return HTMLResponse(render(chosen, code=code, procedure=procedure, result=result))

    # --- QA admin ------------------------------------------------------------------------

    if settings.admin_enabled:
        app.include_router(_admin_router(settings, store, registry_clock, products))
    return app


def _format(value: datetime, lang: str) -> str:
    from ephoto.clock import format_paris

    return format_paris(value, lang)


def _admin_router(
    settings: RegistrySettings, store: RegistryStore, clock: OffsetClock, products: dict[str, str]
) -> APIRouter:
    token = (settings.admin_token or "").encode()

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), token):
            raise HTTPException(
                401,
                "admin API needs 'Authorization: Bearer <admin_token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(authorised)])
    unauthorised: dict[int | str, dict[str, Any]] = {
        401: {"model": Detail, "description": "Missing or wrong bearer token."}
    }

    @router.get("/codes/{code}", responses={404: {"model": Detail}, **unauthorised})
    def admin_code(code: str) -> dict[str, Any]:
        stored, now = store.lookup(normalize(code), clock)
        if stored is None:
            raise HTTPException(404, f"code {code!r} is not stored")
        return {
            "code": stored.code,
            "state": state_of(stored, now),
            "now": now,
            "booth_id": stored.booth_id,
            "batch_id": stored.batch_id,
            "product": stored.product,
            "procedure": products.get(stored.product),
            "issued_at": stored.issued_at,
            "received_at": stored.received_at,
            "processing_end": stored.processing_end,
            "base_delay_hours": stored.base_delay_hours,
            "active_at": stored.active_at,
            "expires_at": stored.expires_at,
            "redeemed_at": stored.redeemed_at,
            "redeemed_procedure": stored.redeemed_procedure,
        }

    @router.post("/clock", responses=unauthorised)
    def admin_clock(move: ClockIn) -> dict[str, Any]:
        offset = store.advance_clock(move.advance_seconds)
        now = store.now(clock)
        return {"now": now, "offset_seconds": offset.total_seconds()}

    @router.post("/faults", responses=unauthorised)
    def admin_faults(faults: FaultsIn) -> FaultsIn:
        store.set_faults(Faults(**faults.model_dump()))
        return faults

    @router.get("/stats", responses=unauthorised)
    def admin_stats() -> dict[str, Any]:
        now = store.now(clock)
        stats = store.stats(now)
        oldest = stats.oldest_pending_received_at
        return {
            "now": now,
            "by_state": stats.by_state,
            "backlog": stats.backlog,
            "oldest_pending_age_seconds": (now - oldest).total_seconds() if oldest else None,
            "queue_tail": stats.queue_tail,
        }

    return router


def app_from_runtime(runtime: RegistryRuntime) -> FastAPI:
    settings = runtime.registry
    if settings.db_url is None:
        raise ValueError("the registry runtime needs a resolved db_url")
    store = RegistryStore.from_url(settings.db_url, settings.ingestion_model())
    return create_app(
        settings, runtime.clock.make(), store, operator_prefix=runtime.operator_prefix
    )


def app_from_environment() -> FastAPI:
    """The factory uvicorn workers call: settings come as JSON in ``CABINE_REGISTRY_RUNTIME``."""
    raw = os.environ.get(RUNTIME_ENV)
    if not raw:
        raise RuntimeError(f"{RUNTIME_ENV} is not set; start the registry with `cabine registry`")
    app = app_from_runtime(RegistryRuntime.model_validate_json(raw))
    freeze_startup_objects()
    return app
