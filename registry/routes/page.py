"""The citizen's check page (HTML form at ``/``), in French or English."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ephoto.assets import asset
from ephoto.code import group, normalize
from ephoto.texts import texts
from ephoto.vocabulary import PROCEDURES, CodeState, Procedure
from registry.citizen import language_from
from registry.collectors import Fetched, Unavailable
from registry.ratelimit import Refusal
from registry.routes.citizen import check
from registry.routes.fetching import fetch_checked, fetches_file, file_json
from registry.routes.shared import Registry, client_of

router = APIRouter()

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


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def check_page(
    lang: str | None = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    chosen = page_lang(lang, accept_language)
    return HTMLResponse(render(chosen, code="", procedure=Procedure.PERMIS.value, result=None))


@router.post("/", response_class=HTMLResponse, include_in_schema=False)
# Async like the API check: both run on the event loop's thread, which keeps the one
# read connection the store holds for checks.
async def check_page_submit(
    request: Request,
    registry: Registry,
    code: Annotated[str, Form(max_length=200)] = "",
    procedure: Annotated[str, Form()] = Procedure.PERMIS.value,
    lang: Annotated[str | None, Form()] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    chosen = page_lang(lang, accept_language)
    if procedure not in PROCEDURES:
        procedure = Procedure.PERMIS.value
    outcome = check(registry, code, procedure, client_of(request), chosen)
    t = texts("registry", chosen)
    if isinstance(outcome, Refusal):
        minutes = max(1, -(-outcome.retry_after // 60))
        refused = {
            "status": "rate_limited",
            "title": t.get("page.status_rate_limited"),
            "message": t.get("error.rate_limited", minutes=minutes)
            if outcome.scope == "client"
            else t.get("error.busy"),
        }
        body = render(chosen, code=code, procedure=procedure, result=refused)
        return HTMLResponse(
            body, status_code=429, headers={"Retry-After": str(outcome.retry_after)}
        )
    result: dict[str, Any] = {
        "status": outcome.status,
        "title": t.get(f"page.status_{outcome.status}"),
        "message": outcome.message,
        "candidates": [(c, group(c)) for c in outcome.candidates],
    }
    text = normalize(code)
    if outcome.status == CodeState.ACTIVE and fetches_file(registry, text):
        # "Is this you?": the file the number will hand over, fetched and checked as at use,
        # off the event loop (the fetch waits on the network).
        fetched = await run_in_threadpool(fetch_checked, registry, text)
        if isinstance(fetched, Fetched):
            images = file_json(fetched)
            result["photo"] = "data:image/jpeg;base64," + images["photo_jpeg"]
            result["signature"] = "data:image/png;base64," + images["signature_png"]
        elif isinstance(fetched, Unavailable):
            result["file_note"] = t.get("page.file_unavailable")
        else:
            result["file_note"] = t.get("page.file_refused")
    return HTMLResponse(render(chosen, code=code, procedure=procedure, result=result))
