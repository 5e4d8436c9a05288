"""The support desk over HTTP: a JSON API and the accessible "I have a problem to report" form.

``POST /v1/reports`` takes ``{"code", "sale_id"}`` and answers the decision with its message in
French and English; ``GET /`` is the form (French by default, ``?lang=en``), ``POST /`` its
submission. The desk is synchronous (SQLite, httpx), so the routes are plain functions that
FastAPI runs in its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from ephoto.assets import asset
from ephoto.texts import DEFAULT_LANGUAGE, LANGUAGES, texts
from support.desk import RegistryUnavailable, ReportResult, SupportDesk
from support.rules import Report, explain


class ReportIn(BaseModel):
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


def create_app(desk: SupportDesk) -> FastAPI:
    app = FastAPI(
        title="cabine support desk",
        description="Problem reports about ePhoto numbers: checks, decisions, refunds.",
    )
    env = _templates()

    def page(lang: str, status: int = 200, **values: Any) -> HTMLResponse:
        other = "en" if lang == "fr" else "fr"
        html = env.get_template("support/report.html").render(
            lang=lang,
            other=other,
            t=texts("support", lang),
            prefix=" / ".join(desk.prefixes),
            **values,
        )
        return HTMLResponse(html, status_code=status)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/fonts/mono.ttf", include_in_schema=False)
    def mono_font() -> Response:
        return FileResponse(asset("fonts", "DejaVuSansMono.ttf"), media_type="font/ttf")

    @app.post("/v1/reports")
    def post_report(body: ReportIn) -> JSONResponse:
        """Decide on a report; the same report again returns the same answer and reference."""
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
        return JSONResponse(result_json(result))

    @app.get("/", response_class=HTMLResponse)
    def form(request: Request, lang: str | None = None) -> HTMLResponse:
        return page(_lang(request, lang), code="", sale_id="")

    @app.post("/", response_class=HTMLResponse)
    def submit_form(
        request: Request,
        code: Annotated[str, Form(max_length=80)] = "",
        sale_id: Annotated[str, Form(max_length=80)] = "",
        lang: Annotated[str | None, Form()] = None,
    ) -> HTMLResponse:
        chosen = _lang(request, lang)
        t = texts("support", chosen)
        try:
            report = Report(code, sale_id)
        except ValueError:
            return page(chosen, 422, code=code, sale_id=sale_id, error=t("form.empty"))
        try:
            result = desk.submit(report)
        except RegistryUnavailable:
            return page(chosen, 503, code=code, sale_id=sale_id, error=t("form.unavailable"))
        decision = result.decision
        return page(
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
