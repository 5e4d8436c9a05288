"""Guards every cabine HTTP service puts in front of its routes.

- ``BodyLimit``, an ASGI middleware: a request body larger than the service's limit is refused
  with 413, from its ``Content-Length`` before a byte of it is read, and while it streams (a
  chunked body, or a client that sends more than it announced) as soon as it passes the limit;
  a body that stops arriving for ``body_timeout`` seconds is refused with 408. Nothing beyond the
  limit is ever held in memory.
- ``validation_problem``, the answer to a request that fails validation (422): each error's
  location, message and type, with at most a short excerpt of the input, always JSON (a NaN or
  an Infinity in the body is shown as text, instead of making the answer itself fail with 500).
- ``install`` puts both on a FastAPI app.

Header deadlines (a client that never finishes its request line and headers) are the server's
business, before any ASGI app runs: see ``ephoto.serving``.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXCERPT_CHARS = 80
"""The most of a client's input an error answer repeats (per value)."""


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than {limit} bytes, this service's limit")


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float):
        super().__init__(408, f"request body did not arrive within {seconds:g} s")


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` (413) and bodies that stall (408)."""

    def __init__(self, app: ASGIApp, max_bytes: int, body_timeout: float | None = 30.0):
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _answer(send, BodyTooLarge(self.max_bytes))
            return
        received = 0
        complete = scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE")
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal received, complete, refused
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):  # no task per message
                    message = await receive()
            except TimeoutError:
                refused = True
                raise BodyTooSlow(self.body_timeout or 0) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise BodyTooLarge(self.max_bytes)
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if refused:  # the rest of the body is not wanted: end the connection
                    headers = [h for h in message.get("headers", ()) if h[0] != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLarge, BodyTooSlow) as exc:
            # Raised outside a route (a framework's own body parsing) and not answered yet.
            if not started:
                await _answer(send, exc)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, exc: HTTPException) -> None:
    body = json.dumps({"detail": exc.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def excerpt(value: Any) -> Any:
    """A short, JSON-safe rendering of a client's value for an error answer."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        text = str(value)
        return value if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= EXCERPT_CHARS else value[:EXCERPT_CHARS] + "…"
    try:
        text = json.dumps(value, default=str, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def error_entries(errors: Iterable[Any], *, with_input: bool = True) -> list[dict[str, Any]]:
    """Validation errors as answered: location, message and type, and a short input excerpt."""
    entries = []
    for error in errors:
        entry: dict[str, Any] = {
            "loc": [excerpt(part) for part in error.get("loc", ())],
            "msg": excerpt(str(error.get("msg", ""))),
            "type": error.get("type", "value_error"),
        }
        if with_input and "input" in error:
            entry["input"] = excerpt(error["input"])
        entries.append(entry)
    return entries


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": error_entries(exc.errors())}, status_code=422)


def install(app: FastAPI, *, max_body_bytes: int, body_timeout: float | None = 30.0) -> None:
    """Put the body limit and the short validation answers on ``app``."""
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, body_timeout=body_timeout)
    app.add_exception_handler(RequestValidationError, validation_problem)


def require_bearer(authorization: str | None, token: str | None) -> None:
    """The QA admin APIs' check: ``Authorization: Bearer <token>``, compared in constant time.

    A service with no token configured refuses every caller."""
    import secrets

    expected = (token or "").encode()
    scheme, _, given = (authorization or "").partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not secrets.compare_digest(given.encode(), expected)
    ):
        raise HTTPException(
            401,
            "admin API needs 'Authorization: Bearer <admin_token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
