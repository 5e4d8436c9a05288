"""The support desk over HTTP: a JSON API and the accessible "I have a problem to report" form.

``POST /v1/reports`` takes ``{"code", "sale_id"}`` and answers the decision with its message in
French and English; ``GET /`` is the form (French by default, ``?lang=en``), ``POST /`` its
submission. The desk is synchronous (SQLite, httpx), so the routes are plain functions that
FastAPI runs in its thread pool.

Against abuse: the form carries a token that must match its ``SameSite=Strict`` cookie, and a
state-changing request whose ``Origin`` is another site is refused (403), so a page elsewhere
cannot make a visitor's browser file a report; reports that prove nothing (no sale found, or a
sale named without its ePhoto number) are counted per client address and refused past
``rate_limit_failed_per_client`` (429); bodies are bounded and error answers echo only short
excerpts (``ephoto.httpguard``).
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field

from ephoto.assets import asset
from ephoto.httpguard import install as install_guards
from ephoto.texts import DEFAULT_LANGUAGE, LANGUAGES, texts
from support.desk import RegistryUnavailable, ReportResult, SupportDesk
from support.rules import Outcome, Report, explain
from support.settings import SupportSettings

FORM_COOKIE = "cabine_support_form"
"""The cookie holding the form's token; the form repeats it in a hidden field."""


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(
        default=None, max_length=80, description="The ePhoto number as the customer typed it."
    )
    sale_id: str | None = Field(
        default=None, max_length=80, description="The sale number printed on the photo sheet."
    )


def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(asset("templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _lang(request: Request, explicit: str | None) -> str:
    if explicit in LANGUAGES:
        return explicit  # type: ignore[return-value]
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()[:2]
    return first if first in LANGUAGES else DEFAULT_LANGUAGE


def result_json(result: ReportResult) -> dict[str, Any]:
    return result.to_json(explain(result.decision, "fr"), explain(result.decision, "en"))


def proves_nothing(result: ReportResult) -> bool:
    """A report that neither found a sale nor showed the sheet's number: what someone walking
    through sale numbers, or guessing numbers, makes."""
    decision = result.decision
    return (
        decision.typed is None
        or decision.code_hidden
        or decision.outcome in (Outcome.UNKNOWN_CODE, Outcome.PROOF_NEEDED)
    )


class FailedReports:
    """Reports that prove nothing, counted per client address on the wall clock (they guard
    the real service against real traffic, as the registry's failed checks are)."""

    def __init__(self, limit: str):
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._limit = parse(limit)

    def retry_after(self, client: str) -> int | None:
        """None if ``client`` may report now; else the seconds to wait."""
        if self._limiter.test(self._limit, "failed", client):
            return None
        reset = self._limiter.get_window_stats(self._limit, "failed", client).reset_time
        return max(1, math.ceil(reset - time.time()))

    def record(self, client: str) -> None:
        self._limiter.hit(self._limit, "failed", client)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    """False when the browser says the request comes from a page of another origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or a same-origin navigation that omits it
    host = request.headers.get("host", "")
    return origin in (f"{request.url.scheme}://{host}",)


def _rate_limited(retry_after: int) -> dict[str, str]:
    return {"Retry-After": str(retry_after)}


def create_app(desk: SupportDesk, settings: SupportSettings | None = None) -> FastAPI:
    settings = settings or SupportSettings()
    app = FastAPI(
        title="cabine support desk",
        description="Problem reports about ePhoto numbers: checks, decisions, refunds.",
    )
    install_guards(app, max_body_bytes=settings.max_body_bytes)
    env = _templates()
    failed = FailedReports(settings.rate_limit_failed_per_client)

    def page(
        request: Request,
        lang: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        other = "en" if lang == "fr" else "fr"
        token = request.cookies.get(FORM_COOKIE) or ""
        if len(token) != 43:
            token = secrets.token_urlsafe(32)
        html = env.get_template("support/report.html").render(
            lang=lang,
            other=other,
            t=texts("support", lang),
            prefix=" / ".join(desk.prefixes),
            form_token=token,
            **values,
        )
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/fonts/mono.ttf", include_in_schema=False)
    def mono_font() -> Response:
        return FileResponse(asset("fonts", "DejaVuSansMono.ttf"), media_type="font/ttf")

    @app.post(
        "/v1/reports",
        responses={
            403: {"description": "Sent from a page of another site."},
            422: {"description": "Malformed body, or neither number given."},
            429: {"description": "Too many reports that proved nothing; see Retry-After."},
            503: {"description": "The registry cannot be asked; nothing was recorded."},
        },
    )
    def post_report(body: ReportIn, request: Request) -> JSONResponse:
        """Decide on a report; the same report again returns the same answer and reference,
        while the facts it rests on are unchanged."""
        if not _same_origin(request):
            return JSONResponse({"detail": "reports are taken from this site only"}, 403)
        client = _client(request)
        wait = failed.retry_after(client)
        if wait is not None:
            t = texts("support", _lang(request, None))
            message = t("form.rate_limited", minutes=max(1, -(-wait // 60)))
            return JSONResponse({"detail": message}, 429, headers=_rate_limited(wait))
        try:
            report = Report(body.code, body.sale_id)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        try:
            result = desk.submit(report)
        except RegistryUnavailable as exc:
            return JSONResponse(
                {"detail": f"the registry cannot be asked now, nothing was recorded: {exc}"},
                status_code=503,
                headers={"Retry-After": "60"},
            )
        if proves_nothing(result):
            failed.record(client)
        return JSONResponse(result_json(result))

    @app.get("/", response_class=HTMLResponse)
    def form(request: Request, lang: str | None = None) -> HTMLResponse:
        return page(request, _lang(request, lang), code="", sale_id="")

    @app.post(
        "/",
        response_class=HTMLResponse,
        responses={
            403: {"description": "The form's token is missing or wrong, or another site sent it."},
            422: {"description": "Neither number given, or a field too long."},
            429: {"description": "Too many reports that proved nothing; see Retry-After."},
            503: {"description": "The registry cannot be asked; nothing was recorded."},
        },
    )
    def submit_form(
        request: Request,
        code: Annotated[str, Form(max_length=80)] = "",
        sale_id: Annotated[str, Form(max_length=80)] = "",
        lang: Annotated[str | None, Form(max_length=8)] = None,
        form_token: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        chosen = _lang(request, lang)
        t = texts("support", chosen)
        cookie = request.cookies.get(FORM_COOKIE, "")
        genuine = bool(cookie) and secrets.compare_digest(cookie.encode(), form_token.encode())
        if not genuine or not _same_origin(request):
            # Another site's page, or a form older than its cookie: nothing is recorded.
            return page(request, chosen, 403, code="", sale_id="", error=t("form.form_expired"))
        client = _client(request)
        wait = failed.retry_after(client)
        if wait is not None:
            message = t("form.rate_limited", minutes=max(1, -(-wait // 60)))
            return page(
                request,
                chosen,
                429,
                _rate_limited(wait),
                code=code,
                sale_id=sale_id,
                error=message,
            )
        try:
            report = Report(code, sale_id)
        except ValueError:
            return page(request, chosen, 422, code=code, sale_id=sale_id, error=t("form.empty"))
        try:
            result = desk.submit(report)
        except RegistryUnavailable:
            return page(
                request, chosen, 503, code=code, sale_id=sale_id, error=t("form.unavailable")
            )
        if proves_nothing(result):
            failed.record(client)
        decision = result.decision
        return page(
            request,
            chosen,
            code=code,
            sale_id=sale_id,
            result={
                "outcome": decision.outcome.value,
                "title": t(f"outcome.{decision.outcome.value}"),
                "message": explain(decision, chosen),
                "code": decision.shown_code(),
                "reference": t("form.reference", reference=result.reference),
            },
        )

    return app
